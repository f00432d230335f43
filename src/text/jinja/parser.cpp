// SPDX-License-Identifier: Apache-2.0
// Lexer and parser of the Jinja interpreter: a transcription of jinja2 3.1's lexer.py (with
// trim_blocks and lstrip_blocks on, as transformers configures it) and parser.py into a
// hand-written scanner and recursive-descent parser building the tree of ast.hpp.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/builtins.hpp"
#include "text/jinja/jinja.hpp"
#include "text/jinja/pyunicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

void fail(jinja_error::kind k, std::string message, std::size_t pos) {
    throw jinja_error{k, std::move(message), pos};
}

namespace {

[[noreturn]] void syntax(std::string message, std::size_t pos) {
    fail(jinja_error::kind::syntax, std::move(message), pos);
}

// ---- tokens ----------------------------------------------------------------------------------

enum class tt : std::uint8_t {
    data,
    variable_begin,
    variable_end,
    block_begin,
    block_end,
    name,
    string,
    integer,
    floating,
    add,
    sub,
    div,
    floordiv,
    mul,
    mod,
    pow,
    tilde,
    lbracket,
    rbracket,
    lparen,
    rparen,
    lbrace,
    rbrace,
    eq,
    ne,
    gt,
    gteq,
    lt,
    lteq,
    assign,
    dot,
    colon,
    pipe,
    comma,
    semicolon,
    eof,
};

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

struct token {
    tt type;
    std::size_t pos;
    std::string text;  ///< name, string value, data
    value num;         ///< integer / floating
};

// ---- lexer -----------------------------------------------------------------------------------

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

// ---- parser ----------------------------------------------------------------------------------

constexpr std::size_t max_nesting = 100;  ///< nested expressions / blocks (jinja2 hits Python's
                                          ///< recursion limit somewhere above this)

}  // namespace

struct program::builder {
    program& prog;
    std::vector<token> toks;
    std::size_t i = 0;
    std::unordered_map<std::string, int> symbols;
    int loop_depth = 0;  ///< for loops around the current statement (break/continue)
    std::size_t depth = 0;
    std::vector<std::string> end_stack;

    builder(program& p, std::vector<token> t) : prog(p), toks(std::move(t)) {}

    struct depth_guard {
        builder& b;
        explicit depth_guard(builder& bb, std::size_t pos) : b(bb) {
            if (++b.depth > max_nesting)
                fail(jinja_error::kind::limit, "template nesting is too deep", pos);
        }
        ~depth_guard() { --b.depth; }
    };

    const token& cur() const { return toks[i]; }
    const token& look() const { return toks[std::min(i + 1, toks.size() - 1)]; }
    const token& next() {
        const token& t = toks[i];
        if (i + 1 < toks.size()) ++i;
        return t;
    }
    bool is_name(std::string_view v) const { return cur().type == tt::name && cur().text == v; }
    bool skip_name(std::string_view v) {
        if (!is_name(v)) return false;
        next();
        return true;
    }
    bool skip(tt t) {
        if (cur().type != t) return false;
        next();
        return true;
    }
    [[noreturn]] void unexpected(const char* wanted) const {
        const token& t = cur();
        std::string got = t.type == tt::name ? "'" + t.text + "'" : token_name(t.type);
        if (t.type == tt::eof) {
            std::string m = "unexpected end of template";
            if (!end_stack.empty()) m += ", expected '" + end_stack.back() + "'";
            syntax(m, t.pos);
        }
        syntax(std::string("expected ") + wanted + ", got " + got, t.pos);
    }
    const token& expect(tt t) {
        if (cur().type != t) unexpected(token_name(t));
        return next();
    }
    const token& expect_name() {
        if (cur().type != tt::name) unexpected("name");
        return next();
    }
    void expect_name(std::string_view v) {
        if (!is_name(v)) unexpected(("'" + std::string(v) + "'").c_str());
        next();
    }

    int intern(const std::string& name) {
        auto [it, inserted] = symbols.emplace(name, static_cast<int>(prog.symbols_.size()));
        if (inserted) prog.symbols_.push_back(name);
        return it->second;
    }

    static expr_ptr make(ek k, std::size_t pos) { return std::make_unique<expr>(k, pos); }

    // -- templates and statements

    body subparse(const std::vector<std::string>* end_tokens) {
        body out;
        std::unique_ptr<stmt> data;
        auto flush = [&] {
            if (data) out.push_back(std::move(data));
        };
        for (;;) {
            const token& t = cur();
            if (t.type == tt::eof) break;
            if (t.type == tt::data) {
                if (!data) data = std::make_unique<stmt>(sk::output, t.pos);
                data->parts.push_back(output_part{t.text, nullptr});
                next();
            } else if (t.type == tt::variable_begin) {
                next();
                if (!data) data = std::make_unique<stmt>(sk::output, t.pos);
                data->parts.push_back(output_part{{}, parse_tuple(false, true, {}, false)});
                expect(tt::variable_end);
            } else if (t.type == tt::block_begin) {
                flush();
                next();
                if (end_tokens && cur().type == tt::name) {
                    for (const auto& e : *end_tokens)
                        if (cur().text == e) return out;
                }
                out.push_back(parse_statement());
                expect(tt::block_end);
            } else {
                unexpected("template data or a tag");
            }
        }
        flush();
        return out;
    }

    /// parse_statements: skips an optional colon, expects the block end, parses until one of
    /// @p ends (left as the current token unless @p drop_needle).
    body parse_statements(std::vector<std::string> ends, bool drop_needle) {
        skip(tt::colon);
        expect(tt::block_end);
        std::string joined;
        for (const auto& e : ends) joined += (joined.empty() ? "" : "' or '") + e;
        end_stack.push_back(joined);
        body b = subparse(&ends);
        if (cur().type == tt::eof) unexpected("end tag");
        end_stack.pop_back();
        if (drop_needle) next();
        return b;
    }

    enum class loop_rule { enter, keep, reset };

    /// A body in a new jinja2 frame. break/continue: @p loop enter (a for body),
    /// keep (bodies jinja2 compiles inline: with, filter and set blocks, for-else) or reset
    /// (macro and call-block bodies, which are Python functions).
    body inner_statements(std::vector<std::string> ends, bool drop_needle, loop_rule loop) {
        const int saved_loop = loop_depth;
        if (loop == loop_rule::enter) ++loop_depth;
        if (loop == loop_rule::reset) loop_depth = 0;
        body b = parse_statements(std::move(ends), drop_needle);
        loop_depth = saved_loop;
        return b;
    }

    stmt_ptr parse_statement() {
        const token& t = cur();
        depth_guard g(*this, t.pos);
        if (t.type != tt::name) syntax("tag name expected", t.pos);
        const std::string& n = t.text;
        const std::size_t pos = t.pos;
        if (n == "if") return parse_if();
        if (n == "for") return parse_for();
        if (n == "set") return parse_set();
        if (n == "macro") return parse_macro();
        if (n == "call") return parse_call_block();
        if (n == "filter") return parse_filter_block();
        if (n == "with") return parse_with();
        if (n == "print") {
            next();
            auto s = std::make_unique<stmt>(sk::output, pos);
            while (cur().type != tt::block_end) {
                if (!s->parts.empty()) expect(tt::comma);
                s->parts.push_back(output_part{{}, parse_expression(true)});
            }
            return s;
        }
        if (n == "break" || n == "continue") {
            next();
            if (loop_depth == 0) syntax("'" + n + "' outside of a loop", pos);
            return std::make_unique<stmt>(n == "break" ? sk::break_ : sk::continue_, pos);
        }
        if (n == "generation") {
            // transformers' AssistantTracker: the body, rendered as a call block's caller.
            next();
            auto s = std::make_unique<stmt>(sk::scope, pos);
            s->b = inner_statements({"endgeneration"}, true, loop_rule::reset);
            return s;
        }
        if (n == "block" || n == "extends" || n == "include" || n == "import" || n == "from" ||
            n == "autoescape" || n == "raw")
            fail(jinja_error::kind::unsupported, "the '" + n + "' tag is not supported", pos);
        std::string m = "Encountered unknown tag '" + n + "'.";
        if (!end_stack.empty())
            m += " Jinja was looking for the following tags: '" + end_stack.back() + "'.";
        syntax(m, pos);
    }

    stmt_ptr parse_if() {
        auto s = std::make_unique<stmt>(sk::if_, cur().pos);
        next();
        for (;;) {
            expr_ptr test = parse_tuple(false, false, {}, false);
            body b = parse_statements({"elif", "else", "endif"}, false);
            s->branches.emplace_back(std::move(test), std::move(b));
            const token& t = next();
            if (t.text == "elif") continue;
            if (t.text == "else") s->else_body = parse_statements({"endif"}, true);
            break;
        }
        return s;
    }

    stmt_ptr parse_for() {
        auto s = std::make_unique<stmt>(sk::for_, cur().pos);
        next();
        s->target = parse_assign_target(true, false, {"in"}, false);
        expect_name("in");
        s->iter = parse_tuple(false, false, {"recursive"}, false);
        if (skip_name("if")) {
            s->test = parse_expression(true);
        }
        if (is_name("recursive"))
            fail(jinja_error::kind::unsupported, "recursive loops are not supported", cur().pos);
        s->b = inner_statements({"endfor", "else"}, false, loop_rule::enter);
        if (next().text == "else")
            s->else_body = inner_statements({"endfor"}, true, loop_rule::keep);
        return s;
    }

    stmt_ptr parse_set() {
        const std::size_t pos = cur().pos;
        next();
        expr_ptr target = parse_assign_target(true, false, {}, true);
        if (skip(tt::assign)) {
            auto s = std::make_unique<stmt>(sk::set, pos);
            s->target = std::move(target);
            s->iter = parse_tuple(false, true, {}, false);
            return s;
        }
        auto s = std::make_unique<stmt>(sk::set_block, pos);
        s->target = std::move(target);
        s->filter = parse_filter(nullptr, false);
        s->b = inner_statements({"endset"}, true, loop_rule::keep);
        return s;
    }

    void parse_signature(macro_def& m) {
        expect(tt::lparen);
        while (cur().type != tt::rparen) {
            if (!m.params.empty()) expect(tt::comma);
            const token& n = expect_name();
            check_assignable_name(n.text, n.pos);
            m.param_names.push_back(n.text);
            m.params.push_back(intern(n.text));
            if (skip(tt::assign)) {
                m.defaults.push_back(parse_expression(true));
            } else if (!m.defaults.empty()) {
                syntax("non-default argument follows default argument", n.pos);
            }
        }
        expect(tt::rparen);
    }

    /// jinja2 passes `caller`, `varargs`, `kwargs` only to macros whose body names them.
    static void scan_special(const body& b, macro_def& m);
    static void scan_special(const expr* e, macro_def& m) {
        if (!e) return;
        if (e->kind == ek::name) {
            if (e->name == "caller") m.uses_caller = true;
            if (e->name == "varargs") m.uses_varargs = true;
            if (e->name == "kwargs") m.uses_kwargs = true;
        }
        scan_special(e->a.get(), m);
        scan_special(e->b.get(), m);
        scan_special(e->c.get(), m);
        for (const auto& x : e->items) scan_special(x.get(), m);
        for (const auto& x : e->values) scan_special(x.get(), m);
        for (const auto& [op, x] : e->ops) scan_special(x.get(), m);
        for (const auto& x : e->call.args) scan_special(x.get(), m);
        for (const auto& k : e->call.kwargs) scan_special(k.value.get(), m);
        scan_special(e->call.dyn_args.get(), m);
        scan_special(e->call.dyn_kwargs.get(), m);
    }

    stmt_ptr parse_macro() {
        auto s = std::make_unique<stmt>(sk::macro, cur().pos);
        next();
        auto m = std::make_shared<macro_def>();
        const token& n = expect_name();
        check_assignable_name(n.text, n.pos);
        m->name = n.text;
        m->symbol = intern(n.text);
        parse_signature(*m);
        m->b = inner_statements({"endmacro"}, true, loop_rule::reset);
        scan_special(m->b, *m);
        s->macro = std::move(m);
        return s;
    }

    stmt_ptr parse_call_block() {
        auto s = std::make_unique<stmt>(sk::call_block, cur().pos);
        next();
        auto m = std::make_shared<macro_def>();
        m->name = "caller";
        if (cur().type == tt::lparen) parse_signature(*m);
        expr_ptr call = parse_expression(true);
        if (call->kind != ek::call) syntax("expected call", s->pos);
        s->call = std::move(call);
        m->b = inner_statements({"endcall"}, true, loop_rule::reset);
        scan_special(m->b, *m);
        s->macro = std::move(m);
        return s;
    }

    stmt_ptr parse_filter_block() {
        auto s = std::make_unique<stmt>(sk::filter_block, cur().pos);
        next();
        s->filter = parse_filter(nullptr, true);
        s->b = inner_statements({"endfilter"}, true, loop_rule::keep);
        return s;
    }

    stmt_ptr parse_with() {
        auto s = std::make_unique<stmt>(sk::with, cur().pos);
        next();
        while (cur().type != tt::block_end) {
            if (!s->with_vars.empty()) expect(tt::comma);
            expr_ptr target = parse_assign_target(true, false, {}, false);
            expect(tt::assign);
            s->with_vars.emplace_back(std::move(target), parse_expression(true));
        }
        s->b = inner_statements({"endwith"}, true, loop_rule::keep);
        return s;
    }

    void check_assignable_name(const std::string& n, std::size_t pos) {
        if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" ||
            n == "None")
            syntax("can't assign to '" + n + "'", pos);
    }

    static bool can_assign(const expr& e) {
        if (e.kind == ek::name || e.kind == ek::nsref) return true;
        if (e.kind == ek::tuple) {
            for (const auto& x : e.items)
                if (!can_assign(*x)) return false;
            return true;
        }
        return false;
    }

    expr_ptr parse_assign_target(bool with_tuple, bool name_only,
                                 std::vector<std::string> extra_end, bool with_namespace) {
        const std::size_t pos = cur().pos;
        expr_ptr target;
        if (with_namespace && look().type == tt::dot) {
            const token& ns = expect_name();
            next();
            const token& attr = expect_name();
            target = make(ek::nsref, pos);
            target->name = ns.text;
            target->symbol = intern(ns.text);
            target->attr = attr.text;
        } else if (name_only) {
            const token& n = expect_name();
            target = make(ek::name, pos);
            target->name = n.text;
            target->symbol = intern(n.text);
        } else {
            target =
                with_tuple ? parse_tuple(true, true, std::move(extra_end), false) : parse_primary();
        }
        if (!can_assign(*target)) syntax("can't assign to this expression", pos);
        check_target_names(*target);
        return target;
    }
    void check_target_names(const expr& e) {
        if (e.kind == ek::name) check_assignable_name(e.name, e.pos);
        for (const auto& x : e.items) check_target_names(*x);
    }

    // -- expressions

    expr_ptr parse_expression(bool with_condexpr) {
        return with_condexpr ? parse_condexpr() : parse_or();
    }

    expr_ptr parse_condexpr() {
        depth_guard g(*this, cur().pos);
        const std::size_t pos = cur().pos;
        expr_ptr e1 = parse_or();
        while (is_name("if")) {
            next();
            expr_ptr e2 = parse_or();
            expr_ptr e3;
            if (skip_name("else")) e3 = parse_condexpr();
            auto c = make(ek::condexpr, pos);
            c->a = std::move(e2);
            c->b = std::move(e1);
            c->c = std::move(e3);
            e1 = std::move(c);
        }
        return e1;
    }

    expr_ptr binary(ek k, std::size_t pos, expr_ptr l, expr_ptr r) {
        auto e = make(k, pos);
        e->a = std::move(l);
        e->b = std::move(r);
        return e;
    }

    expr_ptr parse_or() {
        const std::size_t pos = cur().pos;
        expr_ptr l = parse_and();
        while (skip_name("or")) l = binary(ek::or_, pos, std::move(l), parse_and());
        return l;
    }
    expr_ptr parse_and() {
        const std::size_t pos = cur().pos;
        expr_ptr l = parse_not();
        while (skip_name("and")) l = binary(ek::and_, pos, std::move(l), parse_not());
        return l;
    }
    expr_ptr parse_not() {
        if (is_name("not")) {
            depth_guard g(*this, cur().pos);
            auto e = make(ek::not_, next().pos);
            e->a = parse_not();
            return e;
        }
        return parse_compare();
    }
    expr_ptr parse_compare() {
        const std::size_t pos = cur().pos;
        expr_ptr e = parse_math1();
        std::vector<std::pair<cmp_op, expr_ptr>> ops;
        for (;;) {
            const tt t = cur().type;
            cmp_op op;
            if (t == tt::eq) {
                op = cmp_op::eq;
            } else if (t == tt::ne) {
                op = cmp_op::ne;
            } else if (t == tt::lt) {
                op = cmp_op::lt;
            } else if (t == tt::lteq) {
                op = cmp_op::lteq;
            } else if (t == tt::gt) {
                op = cmp_op::gt;
            } else if (t == tt::gteq) {
                op = cmp_op::gteq;
            } else if (is_name("in")) {
                op = cmp_op::in;
            } else if (is_name("not") && look().type == tt::name && look().text == "in") {
                next();
                op = cmp_op::notin;
            } else {
                break;
            }
            next();
            ops.emplace_back(op, parse_math1());
        }
        if (ops.empty()) return e;
        auto c = make(ek::compare, pos);
        c->a = std::move(e);
        c->ops = std::move(ops);
        return c;
    }
    expr_ptr parse_math1() {
        const std::size_t pos = cur().pos;
        expr_ptr l = parse_concat();
        while (cur().type == tt::add || cur().type == tt::sub) {
            const ek k = next().type == tt::add ? ek::add : ek::sub;
            l = binary(k, pos, std::move(l), parse_concat());
        }
        return l;
    }
    expr_ptr parse_concat() {
        const std::size_t pos = cur().pos;
        expr_ptr first = parse_math2();
        if (cur().type != tt::tilde) return first;
        auto c = make(ek::concat, pos);
        c->items.push_back(std::move(first));
        while (skip(tt::tilde)) c->items.push_back(parse_math2());
        return c;
    }
    expr_ptr parse_math2() {
        const std::size_t pos = cur().pos;
        expr_ptr l = parse_pow();
        for (;;) {
            ek k;
            switch (cur().type) {
                case tt::mul:
                    k = ek::mul;
                    break;
                case tt::div:
                    k = ek::div;
                    break;
                case tt::floordiv:
                    k = ek::floordiv;
                    break;
                case tt::mod:
                    k = ek::mod;
                    break;
                default:
                    return l;
            }
            next();
            l = binary(k, pos, std::move(l), parse_pow());
        }
    }
    expr_ptr parse_pow() {
        const std::size_t pos = cur().pos;
        expr_ptr l = parse_unary(true);
        while (skip(tt::pow)) l = binary(ek::pow, pos, std::move(l), parse_unary(true));
        return l;
    }
    expr_ptr parse_unary(bool with_filter) {
        depth_guard g(*this, cur().pos);
        const std::size_t pos = cur().pos;
        expr_ptr node;
        if (cur().type == tt::sub || cur().type == tt::add) {
            const ek k = next().type == tt::sub ? ek::neg : ek::pos;
            node = make(k, pos);
            node->a = parse_unary(false);
        } else {
            node = parse_primary();
        }
        node = parse_postfix(std::move(node));
        if (with_filter) node = parse_filter_expr(std::move(node));
        return node;
    }

    expr_ptr parse_primary() {
        depth_guard g(*this, cur().pos);
        const token& t = cur();
        const std::size_t pos = t.pos;
        if (t.type == tt::name) {
            expr_ptr e;
            if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
                e = make(ek::constant, pos);
                e->constant = value::boolean(t.text[0] == 't' || t.text[0] == 'T');
            } else if (t.text == "none" || t.text == "None") {
                e = make(ek::constant, pos);
                e->constant = value::none();
            } else {
                e = make(ek::name, pos);
                e->name = t.text;
                e->symbol = intern(t.text);
            }
            next();
            return e;
        }
        if (t.type == tt::string) {
            std::string s;
            while (cur().type == tt::string) s += next().text;
            auto e = make(ek::constant, pos);
            e->constant = value::string(std::move(s));
            return e;
        }
        if (t.type == tt::integer || t.type == tt::floating) {
            auto e = make(ek::constant, pos);
            e->constant = t.num;
            next();
            return e;
        }
        if (t.type == tt::lparen) {
            next();
            expr_ptr e = parse_tuple(false, true, {}, true);
            expect(tt::rparen);
            return e;
        }
        if (t.type == tt::lbracket) {
            next();
            auto e = make(ek::list, pos);
            while (cur().type != tt::rbracket) {
                if (!e->items.empty()) expect(tt::comma);
                if (cur().type == tt::rbracket) break;
                e->items.push_back(parse_expression(true));
            }
            expect(tt::rbracket);
            return e;
        }
        if (t.type == tt::lbrace) {
            next();
            auto e = make(ek::dict, pos);
            while (cur().type != tt::rbrace) {
                if (!e->items.empty()) expect(tt::comma);
                if (cur().type == tt::rbrace) break;
                e->items.push_back(parse_expression(true));
                expect(tt::colon);
                e->values.push_back(parse_expression(true));
            }
            expect(tt::rbrace);
            return e;
        }
        if (t.type == tt::eof) unexpected("an expression");
        syntax(std::string("unexpected ") +
                   (t.type == tt::name ? "'" + t.text + "'" : std::string(token_name(t.type))),
               pos);
    }

    bool is_tuple_end(const std::vector<std::string>& extra) const {
        const tt t = cur().type;
        if (t == tt::variable_end || t == tt::block_end || t == tt::rparen) return true;
        if (t == tt::name)
            for (const auto& e : extra)
                if (cur().text == e) return true;
        return false;
    }

    expr_ptr parse_tuple(bool simplified, bool with_condexpr, std::vector<std::string> extra,
                         bool explicit_parens) {
        const std::size_t pos = cur().pos;
        std::vector<expr_ptr> args;
        bool is_tuple = false;
        for (;;) {
            if (!args.empty()) expect(tt::comma);
            if (is_tuple_end(extra)) break;
            args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
            if (cur().type == tt::comma) {
                is_tuple = true;
            } else {
                break;
            }
        }
        if (!is_tuple) {
            if (!args.empty()) return std::move(args[0]);
            if (!explicit_parens) unexpected("an expression");
        }
        auto e = make(ek::tuple, pos);
        e->items = std::move(args);
        return e;
    }

    expr_ptr parse_postfix(expr_ptr node) {
        for (;;) {
            const tt t = cur().type;
            if (t == tt::dot || t == tt::lbracket) {
                node = parse_subscript(std::move(node));
            } else if (t == tt::lparen) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    expr_ptr parse_filter_expr(expr_ptr node) {
        for (;;) {
            if (cur().type == tt::pipe) {
                node = parse_filter(std::move(node), false);
            } else if (is_name("is")) {
                node = parse_test(std::move(node));
            } else if (cur().type == tt::lparen) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    expr_ptr parse_subscript(expr_ptr node) {
        depth_guard g(*this, cur().pos);
        const token& t = next();
        const std::size_t pos = t.pos;
        if (t.type == tt::dot) {
            const token& a = cur();
            if (a.type == tt::name) {
                auto e = make(ek::getattr, pos);
                e->a = std::move(node);
                e->name = a.text;
                next();
                return e;
            }
            if (a.type != tt::integer) syntax("expected name or number", a.pos);
            auto k = make(ek::constant, a.pos);
            k->constant = a.num;
            next();
            auto e = make(ek::getitem, pos);
            e->a = std::move(node);
            e->b = std::move(k);
            return e;
        }
        std::vector<expr_ptr> args;
        while (cur().type != tt::rbracket) {
            if (!args.empty()) expect(tt::comma);
            args.push_back(parse_subscribed());
        }
        expect(tt::rbracket);
        auto e = make(ek::getitem, pos);
        e->a = std::move(node);
        if (args.size() == 1) {
            e->b = std::move(args[0]);
        } else {
            auto tup = make(ek::tuple, pos);
            tup->items = std::move(args);
            e->b = std::move(tup);
        }
        return e;
    }

    expr_ptr parse_subscribed() {
        const std::size_t pos = cur().pos;
        expr_ptr start;
        if (cur().type == tt::colon) {
            next();
        } else {
            expr_ptr n = parse_expression(true);
            if (cur().type != tt::colon) return n;
            next();
            start = std::move(n);
        }
        auto s = make(ek::slice, pos);
        s->a = std::move(start);
        if (cur().type != tt::colon && cur().type != tt::rbracket && cur().type != tt::comma)
            s->b = parse_expression(true);
        if (cur().type == tt::colon) {
            next();
            if (cur().type != tt::rbracket && cur().type != tt::comma)
                s->c = parse_expression(true);
        }
        return s;
    }

    call_args parse_call_args() {
        const std::size_t pos = expect(tt::lparen).pos;
        call_args c;
        bool require_comma = false;
        auto ensure = [&](bool ok) {
            if (!ok) syntax("invalid syntax for function call expression", pos);
        };
        while (cur().type != tt::rparen) {
            if (require_comma) {
                expect(tt::comma);
                if (cur().type == tt::rparen) break;
            }
            if (cur().type == tt::mul) {
                ensure(!c.dyn_args && !c.dyn_kwargs);
                next();
                c.dyn_args = parse_expression(true);
            } else if (cur().type == tt::pow) {
                ensure(!c.dyn_kwargs);
                next();
                c.dyn_kwargs = parse_expression(true);
            } else if (cur().type == tt::name && look().type == tt::assign) {
                ensure(!c.dyn_kwargs);
                std::string key = next().text;
                next();
                c.kwargs.push_back(keyword_arg{std::move(key), parse_expression(true)});
            } else {
                ensure(!c.dyn_args && !c.dyn_kwargs && c.kwargs.empty());
                c.args.push_back(parse_expression(true));
            }
            require_comma = true;
        }
        expect(tt::rparen);
        return c;
    }

    expr_ptr parse_call(expr_ptr node) {
        depth_guard g(*this, cur().pos);
        auto e = make(ek::call, cur().pos);
        e->call = parse_call_args();
        e->a = std::move(node);
        return e;
    }

    expr_ptr parse_filter(expr_ptr node, bool start_inline) {
        while (cur().type == tt::pipe || start_inline) {
            depth_guard g(*this, cur().pos);
            if (!start_inline) next();
            const token& n = expect_name();
            std::string name = n.text;
            while (skip(tt::dot)) name += "." + expect_name().text;
            auto e = make(ek::filter, n.pos);
            if (cur().type == tt::lparen) e->call = parse_call_args();
            e->a = std::move(node);
            e->builtin = filter_id(name);
            e->name = std::move(name);
            node = std::move(e);
            start_inline = false;
        }
        return node;
    }

    expr_ptr parse_test(expr_ptr node) {
        depth_guard g(*this, cur().pos);
        const std::size_t pos = next().pos;
        const bool negated = skip_name("not");
        const token& n = expect_name();
        std::string name = n.text;
        while (skip(tt::dot)) name += "." + expect_name().text;
        auto e = make(ek::test, pos);
        const tt t = cur().type;
        if (t == tt::lparen) {
            e->call = parse_call_args();
        } else if ((t == tt::name || t == tt::string || t == tt::integer || t == tt::floating ||
                    t == tt::lparen || t == tt::lbracket || t == tt::lbrace) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
            if (is_name("is")) syntax("You cannot chain multiple tests with is", cur().pos);
            e->call.args.push_back(parse_postfix(parse_primary()));
        }
        e->a = std::move(node);
        e->builtin = test_id(name);
        e->name = std::move(name);
        if (!negated) return e;
        auto no = make(ek::not_, pos);
        no->a = std::move(e);
        return no;
    }
};

void program::builder::scan_special(const body& b, macro_def& m) {
    for (const auto& s : b) {
        if (!s) continue;
        if (s->kind == sk::macro) continue;  // a nested macro has its own
        for (const auto& p : s->parts) scan_special(p.e.get(), m);
        for (const auto& [t, bb] : s->branches) {
            scan_special(t.get(), m);
            scan_special(bb, m);
        }
        scan_special(s->else_body, m);
        scan_special(s->target.get(), m);
        scan_special(s->iter.get(), m);
        scan_special(s->test.get(), m);
        scan_special(s->b, m);
        scan_special(s->filter.get(), m);
        scan_special(s->call.get(), m);
        for (const auto& [t, v] : s->with_vars) scan_special(v.get(), m);
    }
}

void analyze_symbols(body& root, frame_decls& root_frame, int loop_symbol, int caller_symbol,
                     int varargs_symbol, int kwargs_symbol);

namespace {

/// jinja2 rejects an unknown filter or test when it compiles the template, except inside an
/// if statement or a conditional expression (a "soft" frame), where it fails only when reached.
void check_names(const expr* e, bool soft) {
    if (!e) return;
    if (e->kind == ek::condexpr) soft = true;
    if (e->kind == ek::filter && e->builtin < 0 && !soft)
        syntax("No filter named '" + e->name + "'.", e->pos);
    if (e->kind == ek::test && e->builtin < 0 && !soft)
        syntax("No test named '" + e->name + "'.", e->pos);
    check_names(e->a.get(), soft);
    check_names(e->b.get(), soft);
    check_names(e->c.get(), soft);
    for (const auto& x : e->items) check_names(x.get(), soft);
    for (const auto& x : e->values) check_names(x.get(), soft);
    for (const auto& [op, x] : e->ops) check_names(x.get(), soft);
    for (const auto& x : e->call.args) check_names(x.get(), soft);
    for (const auto& k : e->call.kwargs) check_names(k.value.get(), soft);
    check_names(e->call.dyn_args.get(), soft);
    check_names(e->call.dyn_kwargs.get(), soft);
}

void check_names(const body& b, bool soft) {
    for (const auto& sp : b) {
        const stmt& s = *sp;
        for (const auto& p : s.parts) check_names(p.e.get(), soft);
        switch (s.kind) {
            case sk::if_:
                for (const auto& [t, bb] : s.branches) {
                    check_names(t.get(), true);
                    check_names(bb, true);
                }
                check_names(s.else_body, true);
                break;
            case sk::for_:
                check_names(s.iter.get(), soft);
                check_names(s.test.get(), false);
                check_names(s.b, false);
                check_names(s.else_body, false);
                break;
            case sk::set:
                check_names(s.iter.get(), soft);
                break;
            case sk::set_block:
            case sk::filter_block:
                check_names(s.filter.get(), false);
                check_names(s.b, false);
                break;
            case sk::macro:
            case sk::call_block:
                for (const auto& d : s.macro->defaults) check_names(d.get(), false);
                check_names(s.macro->b, false);
                check_names(s.call.get(), soft);
                break;
            case sk::with:
                for (const auto& [t, v] : s.with_vars) check_names(v.get(), soft);
                check_names(s.b, false);
                break;
            case sk::scope:
                check_names(s.b, false);
                break;
            default:
                break;
        }
    }
}

}  // namespace

std::shared_ptr<const program> program::parse(std::string_view source) {
    auto prog = std::make_shared<program>();
    prog->source_ = normalize_source(source);
    builder b(*prog, lexer(prog->source_).run());
    prog->root_ = b.subparse(nullptr);
    if (b.cur().type != tt::eof) b.unexpected("end of template");
    check_names(prog->root_, false);
    analyze_symbols(prog->root_, prog->root_frame_, prog->symbol("loop"), prog->symbol("caller"),
                    prog->symbol("varargs"), prog->symbol("kwargs"));
    return prog;
}

int program::symbol(std::string_view name) const noexcept {
    for (std::size_t k = 0; k < symbols_.size(); ++k)
        if (symbols_[k] == name) return static_cast<int>(k);
    return -1;
}

namespace {
std::string describe_in(const std::string& source_, std::size_t pos) {
    if (pos == no_pos || pos > source_.size()) return "template";
    std::size_t line = 1, line_start = 0;
    for (std::size_t k = 0; k < pos; ++k)
        if (source_[k] == '\n') {
            ++line;
            line_start = k + 1;
        }
    const std::size_t col =
        count_code_points(std::string_view(source_).substr(line_start, pos - line_start)) + 1;
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}
}  // namespace

std::string program::describe(std::size_t pos) const { return describe_in(source_, pos); }

std::string describe_position(std::string_view raw_source, std::size_t pos) {
    return describe_in(normalize_source(raw_source), pos);
}

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
