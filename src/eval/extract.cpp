// SPDX-License-Identifier: Apache-2.0
// Numeric extractive match (include/polyglot/eval/extract.hpp). The patterns follow lighteval's
// lazy_expr_regex (metrics/utils/extractive_match_utils.py) and run on Boost.Regex's ICU
// (UTF-32) engine, whose Perl syntax backtracks like Python's `re` and whose \d and \s are
// Unicode classes as in Python.
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <boost/regex/icu.hpp>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <polyglot/eval/extract.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {
namespace {

/// A pattern and the names of its capturing groups in order (group k + 1 = names[k]).
struct pattern {
    boost::u32regex re;
    std::vector<std::string> groups;
    int priority = 0;
};

/// Builds a pattern while numbering its named groups.
class builder {
  public:
    builder& raw(std::string_view s) {
        text_.append(s);
        return *this;
    }
    builder& open(std::string name) {
        groups_.push_back(std::move(name));
        text_ += "(";
        return *this;
    }
    builder& close() {
        text_ += ")";
        return *this;
    }
    pattern build(int priority) const {
        using namespace boost::regex_constants;
        return {boost::make_u32regex(text_, perl | no_mod_m | no_mod_s), groups_, priority};
    }

  private:
    std::string text_;
    std::vector<std::string> groups_;
};

/// A literal for use inside a character class or a sequence ("\\" before ASCII punctuation).
std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}-").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

// lighteval's currency units (clang-format cannot settle on how to wrap this literal)
// clang-format off
constexpr std::string_view currency = "$€£¥₹₽₪₩₫฿₡₢₣₤₥₦₧₨₩₪₫₭₮₯₰₱₲₳₴₵₶₷₸₹₺₻₼₽₾₿";
// clang-format on
constexpr std::string_view ops = "+\\-*×/^()÷";

void number_re(builder& b) {
    b.raw("(?:");
    b.open("integer1").raw("-?\\d{1,3}(?:[ ,]\\d{3})+").close();
    b.open("decimal1").raw("\\.\\d+").close().raw("?|");
    b.open("integer2").raw("-?\\d+").close();
    b.open("decimal2").raw("[.,]\\d+").close().raw("|");
    b.open("decimal3").raw("\\.\\d+").close().raw("|");
    b.open("integer3").raw("-?\\d+").close();
    b.raw(")");
    b.open("percent").raw("\\s*(?:%|[Pp]ercent|\\s*[Pp]ercentage|\\s*[Pp]ct)").close().raw("?");
}

struct lang_parts {
    std::string space, full_stop, comma, colon;
};

lang_parts parts_of(const translation_literals& lit) {
    return {"(?:\\s|" + escape(lit.sentence_space) + ")", "[" + escape(lit.full_stop) + "\\.]",
            "[" + escape(lit.comma) + "\\,]", "[" + escape(lit.colon) + "\\:]"};
}

void prefix_re(builder& b, const lang_parts& p) {
    b.raw("(?:^|").raw(p.space).raw("|\\=)(?:\\*\\*)?");
}

void expr_with_anchors(builder& b, const lang_parts& p) {
    const std::string all = "[\\d\\.\\s" + std::string(ops) + "]";
    b.raw("(?:");
    prefix_re(b, p);
    b.open("expr")
        .raw("-?\\(?-?\\d")
        .raw(all)
        .raw("*[")
        .raw(ops)
        .raw("]")
        .raw(all)
        .raw("+\\)?")
        .close();
    b.raw("(?:\\*\\*)?(?:").raw(p.full_stop).raw("|").raw(p.comma).raw("|\\s?").raw(p.colon);
    b.raw("|").raw(p.space).raw("|\\)|\\$|$))");
}

void number_with_anchors(builder& b, const lang_parts& p) {
    b.raw("(?:");
    prefix_re(b, p);
    b.raw("[").raw(currency).raw("]?");
    number_re(b);
    b.raw(")");
}

void expr_or_number(builder& b, const lang_parts& p) {
    b.raw("(?:");
    expr_with_anchors(b, p);
    b.raw("|");
    number_with_anchors(b, p);
    b.raw(")");
}

std::vector<pattern> make_patterns(const translation_literals& lit) {
    const lang_parts p = parts_of(lit);
    std::vector<pattern> out;
    const std::string answer = "(?i:" + std::string(lit.answer) + ")";
    if (lit.lang == "en") {
        builder a;
        a.raw("(?i:final answer is)\\:?\\s*");
        expr_or_number(a, p);
        a.raw("\\.?\\s?I hope");
        out.push_back(a.build(0));
        builder b;
        b.raw("(?i:final answer.{0,100}?)\\s+is\\:?");
        expr_or_number(b, p);
        out.push_back(b.build(50));
    }
    builder c;
    c.raw(answer).raw("\\s?").raw(p.colon).raw("(?:.{0,100}=\\s*|.{0,50}?)");
    expr_or_number(c, p);
    c.raw("(?!\\s*=)");
    out.push_back(c.build(100));
    builder d;
    d.raw(answer).raw("(?:.{0,100}=\\s*|.{0,50}?)");
    expr_or_number(d, p);
    d.raw("(?!\\s*=)");
    out.push_back(d.build(200));
    builder e;
    expr_with_anchors(e, p);
    out.push_back(e.build(300));
    builder f;
    number_with_anchors(f, p);
    out.push_back(f.build(300));
    return out;
}

/// The compiled patterns of a language (built once; boost::u32regex is safe to share).
const std::vector<pattern>& patterns_for(const translation_literals& lit) {
    static std::mutex mu;
    static std::map<std::string, std::vector<pattern>, std::less<>> cache;
    std::lock_guard lock(mu);
    auto it = cache.find(lit.lang);
    if (it == cache.end()) it = cache.emplace(std::string(lit.lang), make_patterns(lit)).first;
    return it->second;
}

/// sympy-like evaluation of + - * / ** ( ) over decimal numbers; nullopt when unparsable.
class expr_eval {
  public:
    explicit expr_eval(std::string s) : s_(std::move(s)) {}
    std::optional<double> run() {
        auto v = sum();
        skip();
        if (!v || i_ != s_.size() || !std::isfinite(*v)) return std::nullopt;
        return v;
    }

  private:
    void skip() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
    }
    bool eat(std::string_view t) {
        skip();
        if (s_.compare(i_, t.size(), t) != 0) return false;
        i_ += t.size();
        return true;
    }
    std::optional<double> sum() {
        auto v = product();
        while (v) {
            if (eat("+")) {
                auto r = product();
                if (!r) return std::nullopt;
                *v += *r;
            } else if (eat("-")) {
                auto r = product();
                if (!r) return std::nullopt;
                *v -= *r;
            } else {
                break;
            }
        }
        return v;
    }
    std::optional<double> product() {
        auto v = unary();
        while (v) {
            skip();
            if (s_.compare(i_, 2, "**") == 0) break;  // power binds tighter (handled below)
            if (eat("*")) {
                auto r = unary();
                if (!r) return std::nullopt;
                *v *= *r;
            } else if (eat("/")) {
                auto r = unary();
                if (!r || *r == 0) return std::nullopt;
                *v /= *r;
            } else {
                break;
            }
        }
        return v;
    }
    std::optional<double> unary() {
        if (eat("-")) {
            auto v = unary();
            if (v) *v = -*v;
            return v;
        }
        if (eat("+")) return unary();
        return power();
    }
    std::optional<double> power() {
        auto base = atom();
        if (base && eat("**")) {
            auto e = unary();  // right-associative, as Python
            if (!e) return std::nullopt;
            return std::pow(*base, *e);
        }
        return base;
    }
    std::optional<double> atom() {
        skip();
        if (eat("(")) {
            auto v = sum();
            if (!v || !eat(")")) return std::nullopt;
            return v;
        }
        const std::size_t b = i_;
        bool dot = false;
        while (i_ < s_.size() && ((s_[i_] >= '0' && s_[i_] <= '9') || (s_[i_] == '.' && !dot))) {
            dot = dot || s_[i_] == '.';
            ++i_;
        }
        if (i_ == b || (i_ == b + 1 && dot)) return std::nullopt;
        return std::strtod(s_.substr(b, i_ - b).c_str(), nullptr);
    }

    std::string s_;
    std::size_t i_ = 0;
};

template <class Match>
std::string group(const Match& m, const pattern& p, std::string_view name) {
    for (std::size_t k = 0; k < p.groups.size(); ++k)
        if (p.groups[k] == name && m[static_cast<int>(k + 1)].matched) {
            const auto& g = m[static_cast<int>(k + 1)];
            return std::string(g.first, g.second);
        }
    return {};
}

template <class Match>
std::string first_group(const Match& m, const pattern& p, std::string_view prefix) {
    for (std::size_t k = 0; k < p.groups.size(); ++k)
        if (p.groups[k].starts_with(prefix) && m[static_cast<int>(k + 1)].matched &&
            m[static_cast<int>(k + 1)].length() > 0) {
            const auto& g = m[static_cast<int>(k + 1)];
            return std::string(g.first, g.second);
        }
    return {};
}

/// @p s with every Unicode decimal digit (\d matches them, as in Python) as its ASCII digit.
std::string ascii_digits(std::string_view s) {
    std::string out;
    const auto n = static_cast<std::int32_t>(s.size());
    for (std::int32_t i = 0; i < n;) {
        const std::int32_t b = i;
        UChar32 c;
        U8_NEXT(s.data(), i, n, c);
        if (c >= 0x80 && u_charType(c) == U_DECIMAL_DIGIT_NUMBER)
            out += static_cast<char>('0' + u_charDigitValue(c));
        else
            out.append(s.substr(static_cast<std::size_t>(b), static_cast<std::size_t>(i - b)));
    }
    return out;
}

/// lighteval's extract_expr on one match.
template <class Match>
extracted_number from_match(const Match& m, const pattern& p) {
    extracted_number out;
    std::string integer = first_group(m, p, "integer");
    std::string decimal = first_group(m, p, "decimal");
    if (!integer.empty() || !decimal.empty()) {
        std::erase_if(integer, [](char c) { return c == ',' || c == ' '; });
        integer.erase(0, integer.find_first_not_of('0'));
        if (integer.empty()) integer = "0";
        std::replace(decimal.begin(), decimal.end(), ',', '.');
        out.text = integer + decimal;
        const std::string ascii = ascii_digits(out.text);
        char* end = nullptr;
        out.value = std::strtod(ascii.c_str(), &end);
        if (end != ascii.c_str() + ascii.size()) return out;  // not a number: unparsed
        out.inexact = !decimal.empty();
        if (!group(m, p, "percent").empty()) out.value /= 100, out.inexact = true;
        out.found = true;
        return out;
    }
    std::string expr = group(m, p, "expr");
    out.text = expr;
    std::replace(expr.begin(), expr.end(), '\n', ' ');
    std::string py;
    for (char c : expr) py += c == '^' ? std::string("**") : std::string(1, c);
    if (auto v = expr_eval(py).run()) {
        out.value = *v;
        out.found = true;
    }
    return out;
}

}  // namespace

extracted_number extract_number(std::string_view text, const translation_literals& lit) {
    const auto& pats = patterns_for(lit);
    const std::string s(text);
    // Priorities ascending; within one, every match of every pattern, the one ending last
    // (then starting first) is tried, and only it (extraction_mode="first_match").
    for (std::size_t a = 0; a < pats.size();) {
        std::size_t b = a;
        while (b < pats.size() && pats[b].priority == pats[a].priority) ++b;
        struct cand {
            std::ptrdiff_t start, end;
            std::size_t pat;
            boost::u32regex_iterator<const char*>::value_type m;
        };
        std::vector<cand> cands;
        for (std::size_t k = a; k < b; ++k) {
            boost::u32regex_iterator<const char*> it(s.data(), s.data() + s.size(), pats[k].re),
                end;
            for (; it != end; ++it) {
                const auto& m = *it;
                cands.push_back({m[0].first - s.data(), m[0].second - s.data(), k, m});
            }
        }
        if (!cands.empty()) {
            const auto best = std::min_element(cands.begin(), cands.end(), [](auto& x, auto& y) {
                return x.end != y.end ? x.end > y.end : x.start < y.start;
            });
            return from_match(best->m, pats[best->pat]);
        }
        a = b;
    }
    return {};
}

bool numbers_match(const extracted_number& gold, const extracted_number& pred) noexcept {
    if (!gold.found || !pred.found) return false;
    if (gold.inexact || pred.inexact)
        return std::round(gold.value * 100) == std::round(pred.value * 100);
    return std::fabs(gold.value - pred.value) <= 1e-9 * std::max(1.0, std::fabs(gold.value));
}

}  // namespace eval
POLYGLOT_END_NAMESPACE
