// SPDX-License-Identifier: Apache-2.0
// Lexer of the Jinja interpreter: a transcription of jinja2 3.1's lexer.py (with trim_blocks and
// lstrip_blocks on, as transformers configures it) into a hand-written scanner.
#include "text/jinja/lexer.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/pyunicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

void syntax(std::string message, std::size_t pos) {
    fail(jinja_error::kind::syntax, std::move(message), pos);
}

const char* token_name(tt t) {
    switch (t) {
        case tt::data:
            return "template data";
        case tt::variable_begin:
            return "begin of print statement";
        case tt::variable_end:
            return "end of print statement";
        case tt::block_begin:
            return "begin of statement block";
        case tt::block_end:
            return "end of statement block";
        case tt::name:
            return "name";
        case tt::string:
            return "string";
        case tt::integer:
            return "integer";
        case tt::floating:
            return "float";
        case tt::add:
            return "'+'";
        case tt::sub:
            return "'-'";
        case tt::div:
            return "'/'";
        case tt::floordiv:
            return "'//'";
        case tt::mul:
            return "'*'";
        case tt::mod:
            return "'%'";
        case tt::pow:
            return "'**'";
        case tt::tilde:
            return "'~'";
        case tt::lbracket:
            return "'['";
        case tt::rbracket:
            return "']'";
        case tt::lparen:
            return "'('";
        case tt::rparen:
            return "')'";
        case tt::lbrace:
            return "'{'";
        case tt::rbrace:
            return "'}'";
        case tt::eq:
            return "'=='";
        case tt::ne:
            return "'!='";
        case tt::gt:
            return "'>'";
        case tt::gteq:
            return "'>='";
        case tt::lt:
            return "'<'";
        case tt::lteq:
            return "'<='";
        case tt::assign:
            return "'='";
        case tt::dot:
            return "'.'";
        case tt::colon:
            return "':'";
        case tt::pipe:
            return "'|'";
        case tt::comma:
            return "','";
        case tt::semicolon:
            return "';'";
        case tt::eof:
            return "end of template";
    }
    return "?";
}

/// jinja2 normalizes every newline to \n and drops one trailing newline
/// (keep_trailing_newline=False).
std::string normalize_source(std::string_view src) {
    std::string out;
    out.reserve(src.size());
    for (std::size_t i = 0; i < src.size(); ++i) {
        if (src[i] == '\r') {
            out += '\n';
            if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
        } else {
            out += src[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

class lexer {
  public:
    explicit lexer(const std::string& src) : s_(src) {}

    std::vector<token> run() {
        while (pos_ < s_.size()) {
            lex_root();
        }
        toks_.push_back(token{tt::eof, s_.size(), {}, {}});
        return std::move(toks_);
    }

  private:
    const std::string& s_;
    std::size_t pos_ = 0;
    bool line_starting_ = true;
    std::vector<token> toks_;
    std::vector<char> balance_;

    /// Length of the Python-whitespace run at @p i.
    std::size_t space_at(std::size_t i) const {
        return leading_space_bytes(std::string_view(s_).substr(i));
    }
    bool starts(std::size_t i, std::string_view w) const { return s_.compare(i, w.size(), w) == 0; }

    /// The `{%(-|+|)\s*raw\s*(-%}\s*|%})` rule at @p p; returns its end or npos.
    std::size_t raw_begin_end(std::size_t p) const {
        std::size_t j = p + 2;
        if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) ++j;
        j += space_at(j);
        if (!starts(j, "raw")) return std::string::npos;
        j += 3;
        j += space_at(j);
        if (starts(j, "-%}")) return j + 3 + space_at(j + 3);
        if (starts(j, "%}")) return j + 2;
        return std::string::npos;
    }

    void push_data(std::string text, std::size_t pos) {
        if (!text.empty()) toks_.push_back(token{tt::data, pos, std::move(text), {}});
    }

    /// jinja2's OptionalLStrip: text before a tag, with `-` / lstrip_blocks applied.
    std::string strip_before(std::string_view text, char sign, bool is_variable) const {
        if (sign == '-')
            return std::string(text.substr(0, text.size() - trailing_space_bytes(text)));
        if (sign != '+' && !is_variable) {
            const std::size_t nl = text.rfind('\n');
            const std::size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
            if (l_pos > 0 || line_starting_) {
                const std::string_view tail = text.substr(l_pos);
                if (!tail.empty() && leading_space_bytes(tail) == tail.size())
                    return std::string(text.substr(0, l_pos));
            }
        }
        return std::string(text);
    }

    void lex_root() {
        // The earliest `{{`, `{%` or `{#`.
        std::size_t p = pos_;
        for (;;) {
            p = s_.find('{', p);
            if (p == std::string::npos || p + 1 >= s_.size()) {
                push_data(s_.substr(pos_), pos_);
                pos_ = s_.size();
                return;
            }
            const char c = s_[p + 1];
            if (c == '{' || c == '%' || c == '#') break;
            ++p;
        }
        const char c = s_[p + 1];
        char sign = 0;
        if (p + 2 < s_.size() && (s_[p + 2] == '-' || s_[p + 2] == '+')) sign = s_[p + 2];
        const std::string_view text = std::string_view(s_).substr(pos_, p - pos_);
        const std::size_t text_pos = pos_;

        if (c == '%') {
            const std::size_t raw_end = raw_begin_end(p);
            if (raw_end != std::string::npos) {
                push_data(strip_before(text, sign, false), text_pos);
                lex_raw(p, raw_end);
                return;
            }
        }
        push_data(strip_before(text, sign, c == '{'), text_pos);
        const std::size_t after = p + 2 + (sign ? 1 : 0);
        line_starting_ = false;  // the match ends with the tag opener
        pos_ = after;
        if (c == '#') {
            lex_comment(p);
        } else {
            toks_.push_back(token{c == '{' ? tt::variable_begin : tt::block_begin, p, {}, {}});
            lex_tag(c == '{');
        }
    }

    void lex_comment(std::size_t begin) {
        const std::size_t q = s_.find("#}", pos_);
        if (q == std::string::npos) {
            // jinja2's failure rule needs a character to match: `{#` at the very end passes
            if (pos_ >= s_.size()) return;
            syntax("Missing end of comment tag", begin);
        }
        std::size_t end;
        if (q > pos_ && s_[q - 1] == '+') {
            end = q + 2;
        } else if (q > pos_ && s_[q - 1] == '-') {
            end = q + 2 + space_at(q + 2);
        } else {
            end = q + 2;
            if (end < s_.size() && s_[end] == '\n') ++end;
        }
        line_starting_ = end > 0 && s_[end - 1] == '\n';
        pos_ = end;
    }

    void lex_raw(std::size_t begin, std::size_t raw_end) {
        line_starting_ = s_[raw_end - 1] == '\n';
        // (.*?)((?:{%(-|+|))\s*endraw\s*(?:+%}|-%}\s*|%}\n?))
        std::size_t p = raw_end;
        for (;;) {
            p = s_.find("{%", p);
            if (p == std::string::npos) {
                if (raw_end >= s_.size()) {
                    pos_ = s_.size();
                    return;
                }
                syntax("Missing end of raw directive", begin);
            }
            std::size_t j = p + 2;
            char sign = 0;
            if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) sign = s_[j++];
            j += space_at(j);
            if (starts(j, "endraw")) {
                j += 6;
                j += space_at(j);
                std::size_t end = std::string::npos;
                if (starts(j, "+%}")) {
                    end = j + 3;
                } else if (starts(j, "-%}")) {
                    end = j + 3 + space_at(j + 3);
                } else if (starts(j, "%}")) {
                    end = j + 2;
                    if (end < s_.size() && s_[end] == '\n') ++end;
                }
                if (end != std::string::npos) {
                    const std::string_view text = std::string_view(s_).substr(raw_end, p - raw_end);
                    push_data(strip_before(text, sign, false), raw_end);
                    line_starting_ = s_[end - 1] == '\n';
                    pos_ = end;
                    return;
                }
            }
            p += 2;
        }
    }

    void lex_tag(bool variable) {
        for (;;) {
            if (pos_ >= s_.size()) return;  // jinja2 stops; the parser reports the missing end
            if (balance_.empty()) {
                std::size_t end = std::string::npos;
                if (variable) {
                    if (starts(pos_, "-}}")) {
                        end = pos_ + 3 + space_at(pos_ + 3);
                    } else if (starts(pos_, "}}")) {
                        end = pos_ + 2;
                    }
                } else if (starts(pos_, "+%}")) {
                    end = pos_ + 3;
                } else if (starts(pos_, "-%}")) {
                    end = pos_ + 3 + space_at(pos_ + 3);
                } else if (starts(pos_, "%}")) {
                    end = pos_ + 2;
                    if (end < s_.size() && s_[end] == '\n') ++end;
                }
                if (end != std::string::npos) {
                    toks_.push_back(
                        token{variable ? tt::variable_end : tt::block_end, pos_, {}, {}});
                    line_starting_ = s_[end - 1] == '\n';
                    pos_ = end;
                    return;
                }
            }
            const std::size_t ws = space_at(pos_);
            if (ws > 0) {
                line_starting_ = s_[pos_ + ws - 1] == '\n';
                pos_ += ws;
                continue;
            }
            line_starting_ = false;
            if (lex_number() || lex_name() || lex_string() || lex_operator()) continue;
            const auto ch = static_cast<unsigned char>(s_[pos_]);
            if (ch >= 0x80)
                fail(jinja_error::kind::unsupported,
                     "non-ASCII character in a tag (identifiers must be ASCII here)", pos_);
            syntax(std::string("unexpected char '") + s_[pos_] + "'", pos_);
        }
    }

    /// `(\d+_)*\d+` at @p i; returns its end or npos.
    std::size_t digits_at(std::size_t i) const {
        if (i >= s_.size() || !is_digit(s_[i])) return std::string::npos;
        for (;;) {
            while (i < s_.size() && is_digit(s_[i])) ++i;
            if (i + 1 < s_.size() && s_[i] == '_' && is_digit(s_[i + 1])) {
                ++i;
                continue;
            }
            return i;
        }
    }

    bool lex_number() {
        const std::size_t start = pos_;
        if (!is_digit(s_[start])) return false;
        // float_re first: (?<!\.) digits ((\.digits)? e[+-]?digits | \.digits)
        if (start == 0 || s_[start - 1] != '.') {
            const std::size_t d = digits_at(start);
            std::size_t end = std::string::npos;
            auto exponent_at = [&](std::size_t i) -> std::size_t {
                if (i < s_.size() && (s_[i] == 'e' || s_[i] == 'E')) {
                    std::size_t j = i + 1;
                    if (j < s_.size() && (s_[j] == '+' || s_[j] == '-')) ++j;
                    return digits_at(j);
                }
                return std::string::npos;
            };
            if (d < s_.size() && s_[d] == '.') {
                const std::size_t f = digits_at(d + 1);
                if (f != std::string::npos) {
                    const std::size_t e = exponent_at(f);
                    end = e != std::string::npos ? e : f;
                }
            }
            if (end == std::string::npos) end = exponent_at(d);
            if (end != std::string::npos) {
                std::string text;
                for (std::size_t i = start; i < end; ++i)
                    if (s_[i] != '_') text += s_[i];
                errno = 0;
                const double v = std::strtod(text.c_str(), nullptr);
                toks_.push_back(token{tt::floating, start, {}, value::floating(v)});
                pos_ = end;
                return true;
            }
        }
        // integer_re
        std::size_t end = start;
        int base = 10;
        auto run = [&](std::size_t i, auto ok) -> std::size_t {  // (_?[class])+
            std::size_t j = i;
            for (;;) {
                std::size_t k = j;
                if (k < s_.size() && s_[k] == '_') ++k;
                if (k < s_.size() && ok(s_[k])) {
                    j = k + 1;
                } else {
                    return j;
                }
            }
        };
        const char p = start + 1 < s_.size() ? static_cast<char>(s_[start + 1] | 0x20) : 0;
        if (s_[start] == '0' && (p == 'b' || p == 'o' || p == 'x')) {
            auto ok = [p](char ch) {
                if (p == 'b') return ch == '0' || ch == '1';
                if (p == 'o') return ch >= '0' && ch <= '7';
                return is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
            };
            const std::size_t e = run(start + 2, ok);
            if (e > start + 2) {
                end = e;
                base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
            }
        }
        if (end == start) {
            if (s_[start] == '0') {
                end = run(start + 1, [](char ch) { return ch == '0'; });
            } else {
                end = run(start + 1, [](char ch) { return is_digit(ch); });
            }
        }
        std::string text;
        for (std::size_t i = start + (base == 10 ? 0 : 2); i < end; ++i)
            if (s_[i] != '_') text += s_[i];
        errno = 0;
        char* stop = nullptr;
        const unsigned long long v = std::strtoull(text.c_str(), &stop, base);
        if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX))
            fail(jinja_error::kind::unsupported, "integer literal out of the 64-bit range", start);
        toks_.push_back(
            token{tt::integer, start, {}, value::integer(static_cast<std::int64_t>(v))});
        pos_ = end;
        return true;
    }

    bool lex_name() {
        if (!is_name_start(s_[pos_])) return false;
        std::size_t e = pos_ + 1;
        while (e < s_.size() && is_name_char(s_[e])) ++e;
        if (e < s_.size() && static_cast<unsigned char>(s_[e]) >= 0x80)
            fail(jinja_error::kind::unsupported,
                 "non-ASCII character in an identifier is not supported", e);
        toks_.push_back(token{tt::name, pos_, s_.substr(pos_, e - pos_), {}});
        pos_ = e;
        return true;
    }

    bool lex_string() {
        const char q = s_[pos_];
        if (q != '\'' && q != '"') return false;
        std::size_t i = pos_ + 1;
        for (;;) {
            if (i >= s_.size()) return false;  // unterminated: no rule matches
            if (s_[i] == '\\') {
                if (i + 1 >= s_.size()) return false;
                i += 2;
                // a backslash escapes a whole (possibly multi-byte) character
                while (i < s_.size() && (static_cast<unsigned char>(s_[i]) & 0xC0) == 0x80) ++i;
                continue;
            }
            if (s_[i] == q) break;
            ++i;
        }
        const std::string_view body = std::string_view(s_).substr(pos_ + 1, i - pos_ - 1);
        toks_.push_back(token{tt::string, pos_, unescape(body, pos_), {}});
        pos_ = i + 1;
        return true;
    }

    /// Python's .encode("ascii", "backslashreplace").decode("unicode-escape").
    static std::string unescape(std::string_view b, std::size_t pos) {
        std::string out;
        out.reserve(b.size());
        auto hex = [&](std::size_t& i, int n, const char* what) -> char32_t {
            char32_t v = 0;
            for (int k = 0; k < n; ++k, ++i) {
                if (i >= b.size() || !std::isxdigit(static_cast<unsigned char>(b[i])))
                    syntax(std::string("truncated ") + what + " escape", pos);
                const char ch = static_cast<char>(b[i] | 0x20);
                v = v * 16 + static_cast<char32_t>(is_digit(b[i]) ? b[i] - '0' : ch - 'a' + 10);
            }
            return v;
        };
        auto put = [&](char32_t c) {
            if (c > 0x10FFFF) syntax("illegal Unicode character", pos);
            if (c >= 0xD800 && c <= 0xDFFF)
                fail(jinja_error::kind::unsupported, "surrogate code point in a string literal",
                     pos);
            append_utf8(out, c);
        };
        for (std::size_t i = 0; i < b.size();) {
            if (b[i] != '\\') {
                const std::size_t start = i;
                ++i;
                while (i < b.size() && b[i] != '\\') ++i;
                out.append(b.substr(start, i - start));
                continue;
            }
            ++i;
            if (i >= b.size()) syntax("\\ at end of string", pos);
            const char c = b[i];
            if (static_cast<unsigned char>(c) >= 0x80) {
                // backslashreplace turned the character into \xNN, \uNNNN or \UNNNNNNNN text;
                // with the original backslash that is an escaped backslash plus that text.
                std::size_t j = i;
                const char32_t cp = decode_utf8(b, j);
                char buf[16];
                if (cp < 0x100) {
                    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
                } else if (cp < 0x10000) {
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
                } else {
                    std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
                }
                out += buf;
                i = j;
                continue;
            }
            ++i;
            switch (c) {
                case '\n':
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '\'':
                    out += '\'';
                    break;
                case '"':
                    out += '"';
                    break;
                case 'a':
                    out += '\a';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'v':
                    out += '\v';
                    break;
                case 'x':
                    put(hex(i, 2, "\\xXX"));
                    break;
                case 'u':
                    put(hex(i, 4, "\\uXXXX"));
                    break;
                case 'U':
                    put(hex(i, 8, "\\UXXXXXXXX"));
                    break;
                case 'N':
                    fail(jinja_error::kind::unsupported, "\\N{...} escapes are not supported", pos);
                default:
                    if (c >= '0' && c <= '7') {
                        char32_t v = static_cast<char32_t>(c - '0');
                        for (int k = 0; k < 2 && i < b.size() && b[i] >= '0' && b[i] <= '7';
                             ++k, ++i)
                            v = v * 8 + static_cast<char32_t>(b[i] - '0');
                        put(v);
                    } else {
                        out += '\\';
                        out += c;
                    }
            }
        }
        return out;
    }

    bool lex_operator() {
        static constexpr std::pair<std::string_view, tt> two[] = {
            {"**", tt::pow}, {"//", tt::floordiv}, {"==", tt::eq},
            {"!=", tt::ne},  {">=", tt::gteq},     {"<=", tt::lteq}};
        for (const auto& [w, t] : two) {
            if (starts(pos_, w)) {
                toks_.push_back(token{t, pos_, {}, {}});
                pos_ += 2;
                return true;
            }
        }
        tt t;
        const char c = s_[pos_];
        switch (c) {
            case '+':
                t = tt::add;
                break;
            case '-':
                t = tt::sub;
                break;
            case '/':
                t = tt::div;
                break;
            case '*':
                t = tt::mul;
                break;
            case '%':
                t = tt::mod;
                break;
            case '~':
                t = tt::tilde;
                break;
            case '[':
                t = tt::lbracket;
                break;
            case ']':
                t = tt::rbracket;
                break;
            case '(':
                t = tt::lparen;
                break;
            case ')':
                t = tt::rparen;
                break;
            case '{':
                t = tt::lbrace;
                break;
            case '}':
                t = tt::rbrace;
                break;
            case '>':
                t = tt::gt;
                break;
            case '<':
                t = tt::lt;
                break;
            case '=':
                t = tt::assign;
                break;
            case '.':
                t = tt::dot;
                break;
            case ':':
                t = tt::colon;
                break;
            case '|':
                t = tt::pipe;
                break;
            case ',':
                t = tt::comma;
                break;
            case ';':
                t = tt::semicolon;
                break;
            default:
                return false;
        }
        if (c == '{' || c == '(' || c == '[') {
            balance_.push_back(c == '{' ? '}' : c == '(' ? ')' : ']');
        } else if (c == '}' || c == ')' || c == ']') {
            if (balance_.empty()) syntax(std::string("unexpected '") + c + "'", pos_);
            const char want = balance_.back();
            balance_.pop_back();
            if (want != c)
                syntax(std::string("unexpected '") + c + "', expected '" + want + "'", pos_);
        }
        toks_.push_back(token{t, pos_, {}, {}});
        ++pos_;
        return true;
    }
};

}  // namespace

std::vector<token> lex(const std::string& source) { return lexer(source).run(); }

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
