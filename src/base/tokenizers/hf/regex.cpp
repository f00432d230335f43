// SPDX-License-Identifier: Apache-2.0
// The backtracking matcher of regex.hpp: parser → AST → a small instruction program.
#include "base/tokenizers/hf/regex.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "base/unicode/unicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

namespace {

namespace uc = unicode;

constexpr std::uint32_t inf = std::numeric_limits<std::uint32_t>::max();

/// One member test of a character class.
struct class_item {
    enum kind : std::uint8_t { gc_mask, white_space, range, word } k = range;
    bool neg = false;
    std::uint32_t mask = 0;  ///< gc_mask: bit per general category
    char32_t lo = 0, hi = 0;

    [[nodiscard]] bool test(char32_t c, std::uint16_t p) const {
        bool r = false;
        switch (k) {
            case gc_mask:
                r = (mask >> uc::category_of(p)) & 1u;
                break;
            case white_space:
                r = (p & uc::p_white_space) != 0;
                break;
            case range:
                r = c >= lo && c <= hi;
                break;
            case word:
                r = uc::is_word(c);
                break;
        }
        return r != neg;
    }
};

/// A character class: a union of items, optionally negated, with a bitmap of the BMP.
struct char_class {
    std::vector<class_item> items;
    bool negated = false;
    std::vector<std::uint64_t> bmp;  ///< 1024 words, filled by finish()

    [[nodiscard]] bool eval(char32_t c) const {
        const std::uint16_t p = uc::props(c);
        bool in = false;
        for (const auto& it : items)
            if (it.test(c, p)) {
                in = true;
                break;
            }
        return in != negated;
    }
    void finish() {
        bmp.assign(1024, 0);
        for (char32_t c = 0; c < 0x10000; ++c)
            if (c < 0xD800 || c > 0xDFFF)
                if (eval(c)) bmp[c >> 6] |= std::uint64_t{1} << (c & 63);
    }
    [[nodiscard]] bool test(char32_t c) const {
        if (c < 0x10000) return (bmp[c >> 6] >> (c & 63)) & 1u;
        return eval(c);
    }
};

// ---- AST --------------------------------------------------------------------------------------

struct node {
    enum kind : std::uint8_t { empty, cls, seq, alt, repeat, look, anchor } k = empty;
    std::uint32_t cls_index = 0;
    std::vector<node> kids;
    std::uint32_t min = 0, max = 0;
    bool greedy = true;
    bool neg = false;      ///< look: (?!..)
    char anchor_kind = 0;  ///< '^', '$', 'A', 'z', 'Z'
};

struct parse_error {
    std::string why;
};

class parser {
  public:
    parser(std::string_view s, std::vector<char_class>& classes) : s_(s), classes_(classes) {}

    node parse() {
        node n = parse_alt(false);
        if (i_ != s_.size()) fail("unbalanced ')'");
        return n;
    }

  private:
    std::string_view s_;
    std::size_t i_ = 0;
    std::vector<char_class>& classes_;
    bool icase_ = false;

    [[noreturn]] void fail(const std::string& why) { throw parse_error{why}; }
    bool eof() const { return i_ >= s_.size(); }
    char peek() const { return s_[i_]; }

    /// Next code point of the pattern (patterns are UTF-8).
    char32_t next_cp() {
        std::size_t len = 0;
        const char32_t c = uc::decode_utf8(reinterpret_cast<const unsigned char*>(s_.data()) + i_,
                                           s_.size() - i_, len);
        if (c == uc::invalid_cp) fail("invalid UTF-8 in the pattern");
        i_ += len;
        return c;
    }

    node parse_alt(bool in_group) {
        std::vector<node> alts;
        alts.push_back(parse_seq());
        while (!eof() && peek() == '|') {
            ++i_;
            alts.push_back(parse_seq());
        }
        if (in_group && (eof() || peek() != ')')) fail("missing ')'");
        if (alts.size() == 1) return std::move(alts[0]);
        node n;
        n.k = node::alt;
        n.kids = std::move(alts);
        return n;
    }

    node parse_seq() {
        node n;
        n.k = node::seq;
        const bool saved_icase = icase_;
        while (!eof() && peek() != '|' && peek() != ')') {
            node atom;
            if (!parse_atom(atom)) continue;  // an inline flag group
            parse_quantifier(atom);
            n.kids.push_back(std::move(atom));
        }
        icase_ = saved_icase;  // (?i) lasts to the end of the enclosing group
        if (n.kids.size() == 1) return std::move(n.kids[0]);
        return n;
    }

    std::uint32_t parse_number() {
        std::uint64_t v = 0;
        const std::size_t b = i_;
        while (!eof() && peek() >= '0' && peek() <= '9') {
            v = v * 10 + std::uint64_t(peek() - '0');
            if (v > 100000) fail("repetition count too large");
            ++i_;
        }
        if (i_ == b) fail("expected a number");
        return std::uint32_t(v);
    }

    void parse_quantifier(node& atom) {
        if (eof()) return;
        std::uint32_t mn = 0, mx = 0;
        const char c = peek();
        if (c == '?') {
            mn = 0, mx = 1;
            ++i_;
        } else if (c == '*') {
            mn = 0, mx = inf;
            ++i_;
        } else if (c == '+') {
            mn = 1, mx = inf;
            ++i_;
        } else if (c == '{') {
            // {n}, {n,}, {n,m}, {,m}; anything else is a literal '{' in Oniguruma.
            const std::size_t save = i_;
            ++i_;
            bool ok = true;
            if (!eof() && peek() == ',') {
                mn = 0;
            } else if (!eof() && peek() >= '0' && peek() <= '9') {
                mn = parse_number();
            } else {
                ok = false;
            }
            if (ok) {
                if (!eof() && peek() == ',') {
                    ++i_;
                    mx = (!eof() && peek() >= '0' && peek() <= '9') ? parse_number() : inf;
                } else {
                    mx = mn;
                }
                ok = !eof() && peek() == '}';
            }
            if (!ok) {
                i_ = save;
                return;
            }
            ++i_;
            if (mx < mn) fail("bad repetition bounds");
        } else {
            return;
        }
        if (atom.k == node::anchor || atom.k == node::look) fail("quantified assertion");
        bool greedy = true;
        if (!eof() && peek() == '?') {
            greedy = false;
            ++i_;
        } else if (!eof() && peek() == '+') {
            fail("possessive quantifier");
        }
        node r;
        r.k = node::repeat;
        r.min = mn;
        r.max = mx;
        r.greedy = greedy;
        r.kids.push_back(std::move(atom));
        atom = std::move(r);
    }

    node class_node(char_class&& cc) {
        cc.finish();
        classes_.push_back(std::move(cc));
        node n;
        n.k = node::cls;
        n.cls_index = std::uint32_t(classes_.size() - 1);
        return n;
    }

    /// Adds @p c (with its case variants under (?i)) to @p cc.
    void add_char(char_class& cc, char32_t c) {
        auto add = [&](char32_t x) {
            class_item it;
            it.k = class_item::range;
            it.lo = it.hi = x;
            cc.items.push_back(it);
        };
        add(c);
        if (!icase_) return;
        if (c < 0x80) {
            if (c >= 'a' && c <= 'z') add(c - 32);
            if (c >= 'A' && c <= 'Z') add(c + 32);
            if (c == 's' || c == 'S') add(0x017F);  // ſ folds to s
            if (c == 'k' || c == 'K') add(0x212A);  // Kelvin sign folds to k
            return;
        }
        const char32_t lower = uc::simple_lower(c);
        if (lower != c) add(lower);
        for (const auto& pr : uc::lower_pairs)
            if (pr[1] == lower && pr[0] != c) add(pr[0]);
    }

    /// \p{NAME} / \P{NAME} body → item (general categories only).
    class_item property(std::string name, bool neg) {
        if (!name.empty() && name[0] == '^') {
            neg = !neg;
            name.erase(0, 1);
        }
        std::string key;
        for (char ch : name)
            if (ch != '_' && ch != ' ' && ch != '-') key += char(std::tolower((unsigned char)ch));
        struct entry {
            const char* name;
            std::uint32_t mask;
        };
        auto b = [](std::initializer_list<uc::gc> l) {
            std::uint32_t m = 0;
            for (auto g : l) m |= 1u << g;
            return m;
        };
        using namespace uc;
        const entry table[] = {
            {"l", b({Lu, Ll, Lt, Lm, Lo})},
            {"letter", b({Lu, Ll, Lt, Lm, Lo})},
            {"lu", b({Lu})},
            {"uppercaseletter", b({Lu})},
            {"ll", b({Ll})},
            {"lowercaseletter", b({Ll})},
            {"lt", b({Lt})},
            {"titlecaseletter", b({Lt})},
            {"lm", b({Lm})},
            {"modifierletter", b({Lm})},
            {"lo", b({Lo})},
            {"otherletter", b({Lo})},
            {"lc", b({Lu, Ll, Lt})},
            {"casedletter", b({Lu, Ll, Lt})},
            {"m", b({Mn, Mc, Me})},
            {"mark", b({Mn, Mc, Me})},
            {"combiningmark", b({Mn, Mc, Me})},
            {"mn", b({Mn})},
            {"nonspacingmark", b({Mn})},
            {"mc", b({Mc})},
            {"spacingmark", b({Mc})},
            {"me", b({Me})},
            {"enclosingmark", b({Me})},
            {"n", b({Nd, Nl, No})},
            {"number", b({Nd, Nl, No})},
            {"nd", b({Nd})},
            {"decimalnumber", b({Nd})},
            {"digit", b({Nd})},
            {"nl", b({Nl})},
            {"letternumber", b({Nl})},
            {"no", b({No})},
            {"othernumber", b({No})},
            {"p", b({Pc, Pd, Ps, Pe, Pi, Pf, Po})},
            {"punctuation", b({Pc, Pd, Ps, Pe, Pi, Pf, Po})},
            {"punct", b({Pc, Pd, Ps, Pe, Pi, Pf, Po})},
            {"pc", b({Pc})},
            {"connectorpunctuation", b({Pc})},
            {"pd", b({Pd})},
            {"dashpunctuation", b({Pd})},
            {"ps", b({Ps})},
            {"openpunctuation", b({Ps})},
            {"pe", b({Pe})},
            {"closepunctuation", b({Pe})},
            {"pi", b({Pi})},
            {"initialpunctuation", b({Pi})},
            {"pf", b({Pf})},
            {"finalpunctuation", b({Pf})},
            {"po", b({Po})},
            {"otherpunctuation", b({Po})},
            {"s", b({Sm, Sc, Sk, So})},
            {"symbol", b({Sm, Sc, Sk, So})},
            {"sm", b({Sm})},
            {"mathsymbol", b({Sm})},
            {"sc", b({Sc})},
            {"currencysymbol", b({Sc})},
            {"sk", b({Sk})},
            {"modifiersymbol", b({Sk})},
            {"so", b({So})},
            {"othersymbol", b({So})},
            {"z", b({Zs, Zl, Zp})},
            {"separator", b({Zs, Zl, Zp})},
            {"zs", b({Zs})},
            {"spaceseparator", b({Zs})},
            {"zl", b({Zl})},
            {"lineseparator", b({Zl})},
            {"zp", b({Zp})},
            {"paragraphseparator", b({Zp})},
            {"c", b({Cc, Cf, Cs, Co, Cn})},
            {"other", b({Cc, Cf, Cs, Co, Cn})},
            {"cc", b({Cc})},
            {"control", b({Cc})},
            {"cntrl", b({Cc})},
            {"cf", b({Cf})},
            {"format", b({Cf})},
            {"cs", b({Cs})},
            {"surrogate", b({Cs})},
            {"co", b({Co})},
            {"privateuse", b({Co})},
            {"cn", b({Cn})},
            {"unassigned", b({Cn})},
        };
        class_item it;
        it.neg = neg;
        if (key == "whitespace" || key == "space") {
            it.k = class_item::white_space;
            return it;
        }
        for (const auto& e : table)
            if (key == e.name) {
                it.k = class_item::gc_mask;
                it.mask = e.mask;
                return it;
            }
        fail("unsupported property \\p{" + name + "}");
    }

    std::uint32_t hex(std::size_t max_digits, bool braced) {
        std::uint32_t v = 0;
        std::size_t n = 0;
        while (!eof() && n < max_digits && std::isxdigit((unsigned char)peek())) {
            v = v * 16 + std::uint32_t(std::isdigit((unsigned char)peek())
                                           ? peek() - '0'
                                           : std::tolower((unsigned char)peek()) - 'a' + 10);
            ++i_;
            ++n;
            if (v > 0x10FFFF) fail("code point out of range");
        }
        if (n == 0) fail("bad hex escape");
        if (braced) {
            if (eof() || peek() != '}') fail("bad \\x{..} escape");
            ++i_;
        }
        return v;
    }

    /// An escape after '\'. Returns true and fills @p items for a class escape (\s, \p{..},
    /// ...), or false and sets @p literal.
    bool parse_escape(std::vector<class_item>& items, char32_t& literal) {
        if (eof()) fail("trailing backslash");
        const char c = peek();
        ++i_;
        class_item it;
        switch (c) {
            case 's':
            case 'S':
                it.k = class_item::white_space;
                it.neg = c == 'S';
                items.push_back(it);
                return true;
            case 'd':
            case 'D':
                it.k = class_item::gc_mask;
                it.mask = 1u << uc::Nd;
                it.neg = c == 'D';
                items.push_back(it);
                return true;
            case 'w':
            case 'W':
                it.k = class_item::word;
                it.neg = c == 'W';
                items.push_back(it);
                return true;
            case 'p':
            case 'P': {
                if (eof() || peek() != '{') fail("bad \\p escape");
                const std::size_t close = s_.find('}', i_);
                if (close == std::string_view::npos) fail("unterminated \\p{");
                std::string name(s_.substr(i_ + 1, close - i_ - 1));
                i_ = close + 1;
                items.push_back(property(name, c == 'P'));
                return true;
            }
            case 'n':
                literal = '\n';
                return false;
            case 'r':
                literal = '\r';
                return false;
            case 't':
                literal = '\t';
                return false;
            case 'f':
                literal = '\f';
                return false;
            case 'v':
                literal = '\v';
                return false;
            case 'a':
                literal = 7;
                return false;
            case 'e':
                literal = 27;
                return false;
            case 'x':
                if (!eof() && peek() == '{') {
                    ++i_;
                    literal = hex(8, true);
                } else {
                    literal = hex(2, false);
                }
                return false;
            case 'u':
                literal = hex(4, false);
                return false;
            default:
                if (std::isalnum((unsigned char)c)) fail(std::string("unsupported escape \\") + c);
                --i_;
                literal = next_cp();
                return false;
        }
    }

    node parse_bracket() {
        // after '['
        char_class cc;
        if (!eof() && peek() == '^') {
            cc.negated = true;
            ++i_;
        }
        bool first = true;
        while (true) {
            if (eof()) fail("unterminated '['");
            if (peek() == ']' && !first) {
                ++i_;
                break;
            }
            first = false;
            if (peek() == '[') fail("nested class");
            if (s_.compare(i_, 2, "&&") == 0) fail("class intersection");
            char32_t lo;
            if (peek() == '\\') {
                ++i_;
                if (parse_escape(cc.items, lo)) {
                    if (icase_) fail("property class under (?i)");
                    continue;
                }
            } else {
                lo = next_cp();
            }
            if (!eof() && peek() == '-' && i_ + 1 < s_.size() && s_[i_ + 1] != ']') {
                ++i_;
                char32_t hi;
                if (peek() == '\\') {
                    ++i_;
                    std::vector<class_item> dummy;
                    if (parse_escape(dummy, hi)) fail("class escape as a range end");
                } else {
                    hi = next_cp();
                }
                if (hi < lo) fail("bad class range");
                if (icase_ && (lo < 0x80 || hi < 0x80)) {
                    for (char32_t x = lo; x <= hi && x < 0x80; ++x) add_char(cc, x);
                    if (hi >= 0x80) fail("non-ASCII range under (?i)");
                } else if (icase_) {
                    fail("non-ASCII range under (?i)");
                } else {
                    class_item it;
                    it.k = class_item::range;
                    it.lo = lo;
                    it.hi = hi;
                    cc.items.push_back(it);
                }
            } else {
                add_char(cc, lo);
            }
        }
        return class_node(std::move(cc));
    }

    /// Parses one atom into @p out; false for an inline flag group such as (?i).
    bool parse_atom(node& out) {
        const char c = peek();
        if (c == '(') {
            ++i_;
            bool look = false, neg = false;
            const bool saved = icase_;
            if (!eof() && peek() == '?') {
                ++i_;
                if (eof()) fail("bad group");
                const char g = peek();
                if (g == ':') {
                    ++i_;
                } else if (g == '=' || g == '!') {
                    look = true;
                    neg = g == '!';
                    ++i_;
                } else if (g == '<' && i_ + 1 < s_.size() && s_[i_ + 1] != '=' &&
                           s_[i_ + 1] != '!') {
                    const std::size_t close = s_.find('>', i_);
                    if (close == std::string_view::npos) fail("bad named group");
                    i_ = close + 1;
                } else if (g == 'i' || g == '-') {
                    bool on = true;
                    while (!eof() && peek() != ':' && peek() != ')') {
                        if (peek() == '-')
                            on = false;
                        else if (peek() == 'i')
                            icase_ = on;
                        else
                            fail(std::string("unsupported group flag '") + peek() + "'");
                        ++i_;
                    }
                    if (eof()) fail("bad flag group");
                    if (peek() == ')') {  // (?i) — applies to the rest of the enclosing group
                        ++i_;
                        return false;
                    }
                    ++i_;
                } else {
                    fail(std::string("unsupported group (?") + g);
                }
            }
            node inner = parse_alt(true);
            ++i_;  // ')'
            icase_ = saved;
            if (look) {
                node l;
                l.k = node::look;
                l.neg = neg;
                l.kids.push_back(std::move(inner));
                out = std::move(l);
            } else {
                out = std::move(inner);
            }
            return true;
        }
        if (c == '[') {
            ++i_;
            out = parse_bracket();
            return true;
        }
        if (c == '.') {
            ++i_;
            char_class cc;
            cc.negated = true;
            add_char(cc, '\n');
            out = class_node(std::move(cc));
            return true;
        }
        if (c == '^' || c == '$') {
            ++i_;
            out.k = node::anchor;
            out.anchor_kind = c;
            return true;
        }
        if (c == '*' || c == '+' || c == '?') fail("nothing to repeat");
        char_class cc;
        char32_t lit;
        if (c == '\\') {
            ++i_;
            if (!eof() && (peek() == 'A' || peek() == 'z' || peek() == 'Z')) {
                out.k = node::anchor;
                out.anchor_kind = peek();
                ++i_;
                return true;
            }
            if (!eof() && (peek() == 'b' || peek() == 'B' || peek() == 'G' || peek() == 'K'))
                fail(std::string("unsupported assertion \\") + peek());
            if (parse_escape(cc.items, lit)) {
                if (icase_) fail("property class under (?i)");
                out = class_node(std::move(cc));
                return true;
            }
        } else {
            lit = next_cp();
        }
        add_char(cc, lit);
        out = class_node(std::move(cc));
        return true;
    }
};

// ---- program ----------------------------------------------------------------------------------

enum class op : std::uint8_t { cls, run, split, jmp, look, anchor, match };

struct inst {
    op o = op::match;
    bool greedy = true;
    bool neg = false;
    char anchor = 0;
    std::uint32_t cls = 0;
    std::uint32_t x = 0, y = 0;  ///< split: first, second; jmp: x; look: sub-program entry
    std::uint32_t min = 0, max = 0;
};

/// FIRST set of an alternative: the classes whose union contains every possible first
/// code point, with the union's BMP bitmap.
struct first_set {
    std::vector<std::uint32_t> classes;
    std::vector<std::uint64_t> bmp;
    bool nullable = false;
};

}  // namespace

struct tok_regex::program {
    std::vector<char_class> classes;
    std::vector<inst> code;
    struct alternative {
        std::uint32_t entry;
        first_set first;
    };
    std::vector<alternative> alts;

    [[nodiscard]] bool first_ok(const first_set& f, char32_t c) const {
        if (f.nullable) return true;
        if (c < 0x10000) return (f.bmp[c >> 6] >> (c & 63)) & 1u;
        for (auto ci : f.classes)
            if (classes[ci].test(c)) return true;
        return false;
    }
};

namespace {

struct compiler {
    tok_regex::program& p;

    std::uint32_t emit(inst i) {
        p.code.push_back(i);
        return std::uint32_t(p.code.size() - 1);
    }

    static bool nullable(const node& n) {
        switch (n.k) {
            case node::empty:
            case node::look:
            case node::anchor:
                return true;
            case node::cls:
                return false;
            case node::seq:
                return std::all_of(n.kids.begin(), n.kids.end(), nullable);
            case node::alt:
                return std::any_of(n.kids.begin(), n.kids.end(), nullable);
            case node::repeat:
                return n.min == 0 || nullable(n.kids[0]);
        }
        return true;
    }

    void first(const node& n, first_set& f) {
        switch (n.k) {
            case node::cls:
                f.classes.push_back(n.cls_index);
                break;
            case node::seq:
                for (const auto& k : n.kids) {
                    first(k, f);
                    if (!nullable(k)) break;
                }
                break;
            case node::alt:
                for (const auto& k : n.kids) first(k, f);
                break;
            case node::repeat:
                first(n.kids[0], f);
                break;
            default:
                break;
        }
    }

    void gen(const node& n) {
        switch (n.k) {
            case node::empty:
                break;
            case node::cls: {
                inst i;
                i.o = op::cls;
                i.cls = n.cls_index;
                emit(i);
                break;
            }
            case node::seq:
                for (const auto& k : n.kids) gen(k);
                break;
            case node::alt: {
                std::vector<std::uint32_t> jumps;
                for (std::size_t a = 0; a < n.kids.size(); ++a) {
                    if (a + 1 < n.kids.size()) {
                        inst s;
                        s.o = op::split;
                        const std::uint32_t at = emit(s);
                        p.code[at].x = at + 1;
                        gen(n.kids[a]);
                        inst j;
                        j.o = op::jmp;
                        jumps.push_back(emit(j));
                        p.code[at].y = std::uint32_t(p.code.size());
                    } else {
                        gen(n.kids[a]);
                    }
                }
                for (auto j : jumps) p.code[j].x = std::uint32_t(p.code.size());
                break;
            }
            case node::repeat: {
                const node& body = n.kids[0];
                if (body.k == node::cls) {
                    inst i;
                    i.o = op::run;
                    i.cls = body.cls_index;
                    i.min = n.min;
                    i.max = n.max;
                    i.greedy = n.greedy;
                    emit(i);
                    break;
                }
                if (nullable(body)) throw parse_error{"repetition of a nullable group"};
                if (n.min > 64 || (n.max != inf && n.max > 64))
                    throw parse_error{"large repetition of a group"};
                for (std::uint32_t r = 0; r < n.min; ++r) gen(body);
                if (n.max == inf) {
                    inst s;
                    s.o = op::split;
                    const std::uint32_t at = emit(s);
                    gen(body);
                    inst j;
                    j.o = op::jmp;
                    j.x = at;
                    emit(j);
                    const auto out = std::uint32_t(p.code.size());
                    p.code[at].x = n.greedy ? at + 1 : out;
                    p.code[at].y = n.greedy ? out : at + 1;
                } else {
                    std::vector<std::uint32_t> splits;
                    for (std::uint32_t r = n.min; r < n.max; ++r) {
                        inst s;
                        s.o = op::split;
                        splits.push_back(emit(s));
                        gen(body);
                    }
                    const auto out = std::uint32_t(p.code.size());
                    for (auto at : splits) {
                        p.code[at].x = n.greedy ? at + 1 : out;
                        p.code[at].y = n.greedy ? out : at + 1;
                    }
                }
                break;
            }
            case node::look: {
                // The sub-program is emitted out of line: jump over it.
                inst j;
                j.o = op::jmp;
                const std::uint32_t jat = emit(j);
                const auto entry = std::uint32_t(p.code.size());
                gen(n.kids[0]);
                emit(inst{});  // match
                p.code[jat].x = std::uint32_t(p.code.size());
                inst l;
                l.o = op::look;
                l.neg = n.neg;
                l.x = entry;
                emit(l);
                break;
            }
            case node::anchor: {
                inst a;
                a.o = op::anchor;
                a.anchor = n.anchor_kind;
                emit(a);
                break;
            }
        }
    }
};

/// Decoded input and the backtracking stacks of one thread.
struct vm_scratch {
    std::vector<char32_t> cps;
    std::vector<std::size_t> offs;
    struct frame {
        std::uint32_t pc;
        std::uint32_t kind;  ///< 0 split alternative, 1 greedy run, 2 lazy run
        std::size_t pos;
        std::size_t base;
        std::size_t count;
    };
    std::array<std::vector<frame>, 8> stacks;  ///< one per lookahead depth
};
vm_scratch& tls_vm() {
    thread_local vm_scratch s;
    return s;
}

constexpr std::size_t no_match = ~std::size_t{0};

struct vm {
    const tok_regex::program& p;
    const char32_t* cps;
    std::size_t n;
    vm_scratch& s;

    bool test(std::uint32_t cls, std::size_t pos) const {
        return pos < n && p.classes[cls].test(cps[pos]);
    }

    bool anchor_ok(char a, std::size_t pos) const {
        switch (a) {
            case '^':
                return pos == 0 || cps[pos - 1] == '\n';
            case '$':
                return pos == n || cps[pos] == '\n';
            case 'A':
                return pos == 0;
            case 'z':
                return pos == n;
            case 'Z':
                return pos == n || (pos + 1 == n && cps[pos] == '\n');
        }
        return false;
    }

    /// End of the match of the program from @p pc at @p pos, or no_match.
    std::size_t run(std::uint32_t pc, std::size_t pos, unsigned depth) {
        if (depth >= s.stacks.size()) return no_match;  // compile() bounds nesting; defensive
        auto& stk = s.stacks[depth];
        const std::size_t floor = stk.size();
        for (;;) {
            const inst& i = p.code[pc];
            bool ok = true;
            switch (i.o) {
                case op::cls:
                    if (test(i.cls, pos)) {
                        ++pos;
                        ++pc;
                    } else {
                        ok = false;
                    }
                    break;
                case op::run: {
                    const char_class& cc = p.classes[i.cls];
                    if (i.greedy) {
                        std::size_t k = 0;
                        const std::size_t lim =
                            i.max == inf ? n - pos : std::min<std::size_t>(i.max, n - pos);
                        while (k < lim && cc.test(cps[pos + k])) ++k;
                        if (k < i.min) {
                            ok = false;
                            break;
                        }
                        if (k > i.min) stk.push_back({pc, 1, pos + k - 1, pos, k - 1});
                        pos += k;
                        ++pc;
                    } else {
                        std::size_t k = 0;
                        while (k < i.min && pos + k < n && cc.test(cps[pos + k])) ++k;
                        if (k < i.min) {
                            ok = false;
                            break;
                        }
                        pos += k;
                        stk.push_back({pc, 2, pos, pos, k});
                        ++pc;
                    }
                    break;
                }
                case op::split:
                    stk.push_back({i.y, 0, pos, 0, 0});
                    pc = i.x;
                    break;
                case op::jmp:
                    pc = i.x;
                    break;
                case op::look: {
                    const bool m = run(i.x, pos, depth + 1) != no_match;
                    if (m == i.neg)
                        ok = false;
                    else
                        ++pc;
                    break;
                }
                case op::anchor:
                    if (anchor_ok(i.anchor, pos))
                        ++pc;
                    else
                        ok = false;
                    break;
                case op::match:
                    stk.resize(floor);
                    return pos;
            }
            if (ok) continue;
            // backtrack
            for (;;) {
                if (stk.size() == floor) return no_match;
                auto f = stk.back();
                stk.pop_back();
                if (f.kind == 0) {
                    pc = f.pc;
                    pos = f.pos;
                    break;
                }
                const inst& r = p.code[f.pc];
                if (f.kind == 1) {  // greedy run: give back one
                    pos = f.pos;
                    if (f.count > r.min) stk.push_back({f.pc, 1, f.pos - 1, f.base, f.count - 1});
                    pc = f.pc + 1;
                    break;
                }
                // lazy run: take one more
                if ((r.max == inf || f.count < r.max) && test(r.cls, f.pos)) {
                    pos = f.pos + 1;
                    stk.push_back({f.pc, 2, pos, f.base, f.count + 1});
                    pc = f.pc + 1;
                    break;
                }
            }
        }
    }
};

}  // namespace

tok_regex::tok_regex(std::unique_ptr<program> p) : p_(std::move(p)) {}
tok_regex::~tok_regex() = default;

std::unique_ptr<tok_regex> tok_regex::compile(std::string_view pattern, std::string& why) {
    auto prog = std::make_unique<program>();
    try {
        parser ps(pattern, prog->classes);
        node root = ps.parse();
        compiler c{*prog};
        // Lookahead nesting bound (the VM has one stack per depth).
        std::vector<const node*> todo{&root};
        std::vector<unsigned> depth{0};
        while (!todo.empty()) {
            const node* n = todo.back();
            const unsigned d = depth.back();
            todo.pop_back();
            depth.pop_back();
            if (d >= 7) throw parse_error{"lookaheads nested too deeply"};
            for (const auto& k : n->kids) {
                todo.push_back(&k);
                depth.push_back(d + (n->k == node::look ? 1 : 0));
            }
        }
        std::vector<const node*> alts;
        if (root.k == node::alt)
            for (const auto& k : root.kids) alts.push_back(&k);
        else
            alts.push_back(&root);
        for (const node* a : alts) {
            program::alternative alt;
            alt.entry = std::uint32_t(prog->code.size());
            c.gen(*a);
            prog->code.push_back(inst{});  // match
            alt.first.nullable = compiler::nullable(*a);
            c.first(*a, alt.first);
            alt.first.bmp.assign(1024, 0);
            for (auto ci : alt.first.classes)
                for (std::size_t w = 0; w < 1024; ++w) alt.first.bmp[w] |= prog->classes[ci].bmp[w];
            prog->alts.push_back(std::move(alt));
        }
    } catch (const parse_error& e) {
        why = e.why;
        return nullptr;
    }
    return std::unique_ptr<tok_regex>(new tok_regex(std::move(prog)));
}

void tok_regex::find_all(std::string_view s,
                         std::vector<std::pair<std::size_t, std::size_t>>& out) const {
    out.clear();
    if (s.empty()) return;
    vm_scratch& sc = tls_vm();
    if (sc.cps.size() < s.size() + 1) {
        sc.cps.resize(s.size() + 1);
        sc.offs.resize(s.size() + 1);
    }
    const auto* b = reinterpret_cast<const unsigned char*>(s.data());
    char32_t* cps = sc.cps.data();
    std::size_t* offs = sc.offs.data();
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len = 1;
        char32_t c = b[i];
        if (c >= 0x80) {
            c = unicode::decode_utf8(b + i, s.size() - i, len);
            if (c == unicode::invalid_cp) c = 0xFFFD;
        }
        cps[n] = c;
        offs[n++] = i;
        i += len;
    }
    offs[n] = s.size();
    vm m{*p_, sc.cps.data(), n, sc};
    const program& p = *p_;
    std::size_t pos = 0;
    std::size_t last_end = no_match;
    while (pos <= n) {
        std::size_t start = pos, end = no_match;
        for (; start <= n; ++start) {
            for (const auto& a : p.alts) {
                if (start < n ? !p.first_ok(a.first, sc.cps[start]) : !a.first.nullable) continue;
                end = m.run(a.entry, start, 0);
                if (end != no_match) break;
            }
            if (end != no_match) break;
        }
        if (end == no_match) break;
        if (end == start && last_end == start) {  // no empty match right after a match
            pos = start + 1;
            continue;
        }
        out.emplace_back(sc.offs[start], sc.offs[end]);
        last_end = end;
        pos = end;
    }
    if (sc.cps.size() > (std::size_t{1} << 22)) {
        std::vector<char32_t>().swap(sc.cps);
        std::vector<std::size_t>().swap(sc.offs);
    }
}

}  // namespace model
POLYGLOT_END_NAMESPACE
