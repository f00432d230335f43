// SPDX-License-Identifier: Apache-2.0
// text::tiktoken_tokenizer: the pre-tokenizer (hand-written splitters for the cl100k_base and
// o200k_base `pat_str`) and the byte-pair merge.
//
// Why hand-written: tiktoken runs its `pat_str` through the Rust fancy-regex crate; a general
// regex engine (ICU regex, Boost.Regex) in the inner loop would cost several times the whole
// tokenizer, and none of them reproduces fancy-regex's exact semantics for free anyway. Each
// splitter below is a direct transcription of the alternation, with the backtracking of the
// greedy quantifiers resolved by hand (see the comments at each alternative). Code point
// classes come from ICU (u_charType, u_isUWhiteSpace = Unicode White_Space, which is what the
// Rust regex crate means by \s), precomputed once for the BMP.
#include <unicode/uchar.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "base/tokenizers/tiktoken/tiktoken_internal.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text {

namespace td = tiktoken_detail;

namespace {

// ---- code point classes ---------------------------------------------------------------------

enum cp_class : std::uint8_t {
    c_other = 0,    ///< everything else (punctuation, symbols, emoji, controls, invalid bytes)
    c_upper = 1,    ///< Lu, Lt
    c_lower = 2,    ///< Ll
    c_oletter = 3,  ///< Lm, Lo
    c_mark = 4,     ///< Mn, Mc, Me
    c_number = 5,   ///< Nd, Nl, No
    c_space = 6,    ///< White_Space except \r and \n
    c_crlf = 7,     ///< \r, \n
};
constexpr unsigned bit(unsigned c) { return 1u << c; }
constexpr unsigned m_letter = bit(c_upper) | bit(c_lower) | bit(c_oletter);  // \p{L}
constexpr unsigned m_ws = bit(c_space) | bit(c_crlf);                        // \s
constexpr unsigned m_prefix = bit(c_other) | bit(c_mark) | bit(c_space);     // [^\r\n\p{L}\p{N}]
constexpr unsigned m_punct = bit(c_other) | bit(c_mark);                     // [^\s\p{L}\p{N}]
constexpr unsigned m_up =
    bit(c_upper) | bit(c_oletter) | bit(c_mark);  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
constexpr unsigned m_low =
    bit(c_lower) | bit(c_oletter) | bit(c_mark);  // [\p{Ll}\p{Lm}\p{Lo}\p{M}]

std::uint8_t classify(UChar32 c) {
    if (c == '\r' || c == '\n') return c_crlf;
    if (u_isUWhiteSpace(c)) return c_space;
    switch (u_charType(c)) {
        case U_UPPERCASE_LETTER:
        case U_TITLECASE_LETTER:
            return c_upper;
        case U_LOWERCASE_LETTER:
            return c_lower;
        case U_MODIFIER_LETTER:
        case U_OTHER_LETTER:
            return c_oletter;
        case U_NON_SPACING_MARK:
        case U_ENCLOSING_MARK:
        case U_COMBINING_SPACING_MARK:
            return c_mark;
        case U_DECIMAL_DIGIT_NUMBER:
        case U_LETTER_NUMBER:
        case U_OTHER_NUMBER:
            return c_number;
        default:
            return c_other;
    }
}

/// Classes of U+0000..U+FFFF (64 KiB, built once from ICU; immutable afterwards).
const std::uint8_t* bmp_classes() {
    static const std::unique_ptr<std::uint8_t[]> table = [] {
        std::unique_ptr<std::uint8_t[]> t(new std::uint8_t[0x10000]);
        for (UChar32 c = 0; c < 0x10000; ++c) t[c] = classify(c);
        return t;
    }();
    return table.get();
}

// ---- per-thread scratch ---------------------------------------------------------------------

template <class T>
struct raw_buffer {
    std::unique_ptr<T[]> data;
    std::size_t cap = 0;
    T* ensure(std::size_t n) {
        if (n > cap) {
            data.reset(new T[n]);  // uninitialised on purpose: every element is written first
            cap = n;
        }
        return data.get();
    }
    void release_if_larger(std::size_t n) {
        if (cap > n) {
            data.reset();
            cap = 0;
        }
    }
};

struct scratch {
    raw_buffer<std::uint8_t> cls;    ///< class of each code point
    raw_buffer<std::uint32_t> off;   ///< byte offset of each code point (+ end)
    raw_buffer<std::uint32_t> node;  ///< long-piece merge: id, rank, prev, next per byte
    std::vector<std::uint64_t> heap;
};
scratch& tls_scratch() {
    thread_local scratch s;
    return s;
}
/// Scratch above this many elements is freed after the call (a huge text should not pin
/// hundreds of MB per thread).
constexpr std::size_t keep_scratch = std::size_t{1} << 24;

/// Decodes UTF-8 into per-code-point classes and offsets; returns the number of code points.
/// A byte that does not start a well-formed sequence (overlong, surrogate, > U+10FFFF,
/// truncated) counts as one c_other code point.
std::size_t decode_utf8(const unsigned char* p, std::size_t n, scratch& s) {
    std::uint8_t* cls = s.cls.ensure(n + 1);
    std::uint32_t* off = s.off.ensure(n + 1);
    const std::uint8_t* bmp = bmp_classes();
    auto cont = [&](std::size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
    std::size_t i = 0, k = 0;
    while (i < n) {
        const unsigned b = p[i];
        if (b < 0x80) {
            cls[k] = bmp[b];
            off[k++] = static_cast<std::uint32_t>(i++);
            continue;
        }
        std::uint32_t c = 0;
        std::size_t len = 0;
        if (b >= 0xC2 && b <= 0xDF && cont(i + 1)) {
            c = ((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF && cont(i + 1) && cont(i + 2)) {
            c = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) len = 3;
        } else if (b >= 0xF0 && b <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
            c = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) |
                (p[i + 3] & 0x3Fu);
            if (c >= 0x10000 && c <= 0x10FFFF) len = 4;
        }
        off[k] = static_cast<std::uint32_t>(i);
        if (len == 0) {
            cls[k++] = c_other;
            ++i;
            continue;
        }
        cls[k++] = c < 0x10000 ? bmp[c] : classify(static_cast<UChar32>(c));
        i += len;
    }
    off[k] = static_cast<std::uint32_t>(n);
    return k;
}

// ---- the splitters ------------------------------------------------------------------------

/// Code points as the splitters see them.
struct cps {
    const unsigned char* p;
    const std::uint8_t* cls;
    const std::uint32_t* off;
    std::size_t n;

    [[nodiscard]] bool in(std::size_t j, unsigned mask) const { return (bit(cls[j]) & mask) != 0; }
    /// First index >= j whose class is not in @p mask.
    [[nodiscard]] std::size_t run(std::size_t j, unsigned mask) const {
        while (j < n && in(j, mask)) ++j;
        return j;
    }
    /// Lower-cased ASCII letter at code point k (ſ U+017F counts as 's': (?i) in Rust regex uses
    /// Unicode simple case folding, where s, S and ſ are one class); 0 otherwise.
    [[nodiscard]] char folded(std::size_t k) const {
        const std::uint32_t b = off[k], len = off[k + 1] - b;
        if (len == 1) return static_cast<char>(p[b] | 0x20);
        if (len == 2 && p[b] == 0xC5 && p[b + 1] == 0xBF) return 's';
        return 0;
    }
    /// Length in code points of `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at j, or 0.
    [[nodiscard]] std::size_t contraction(std::size_t j) const {
        if (j + 1 >= n || p[off[j]] != '\'') return 0;
        switch (folded(j + 1)) {
            case 's':
            case 't':
            case 'm':
            case 'd':
                return 2;
            case 'r':
            case 'v':
                return j + 2 < n && folded(j + 2) == 'e' ? 3 : 0;
            case 'l':
                return j + 2 < n && folded(j + 2) == 'l' ? 3 : 0;
            default:
                return 0;
        }
    }
    /// `\p{N}{1,3}` at i (cls[i] is a number).
    [[nodiscard]] std::size_t digits(std::size_t i) const {
        std::size_t e = i + 1;
        while (e < n && e < i + 3 && cls[e] == c_number) ++e;
        return e;
    }
    /// ` ?[^\s\p{L}\p{N}]+` at i followed by a run of @p tail; 0 if it does not match.
    [[nodiscard]] std::size_t punct(std::size_t i, unsigned tail, bool slash) const {
        std::size_t j = i;
        if (p[off[i]] == ' ' && i + 1 < n && in(i + 1, m_punct)) j = i + 1;
        if (!in(j, m_punct)) return 0;
        std::size_t e = run(j + 1, m_punct);
        while (e < n && (in(e, tail) || (slash && p[off[e]] == '/'))) ++e;
        return e;
    }
    /// `\s*[\r\n]+|\s+(?!\S)|\s+` at i (cls[i] is white space):
    ///  - \s*[\r\n]+ : \s* backtracks from the end of the white-space run to its last \r or \n;
    ///  - \s+(?!\S)  : the run minus its last code point when a non-space follows (a run at the
    ///                 end of the text is taken whole);
    ///  - \s+        : a single white-space code point before a non-space.
    [[nodiscard]] std::size_t whitespace(std::size_t i) const {
        if (!in(i, m_ws)) return i + 1;  // unreachable for valid classes; keeps progress
        const std::size_t e = run(i + 1, m_ws);
        for (std::size_t k = e; k > i; --k)
            if (cls[k - 1] == c_crlf) return k;
        if (e == n || e - i == 1) return e;
        return e - 1;
    }
};

/// cl100k_base:
///   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} |
///   ' '?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
template <class Emit>
void split_cl100k(const cps& c, Emit&& emit) {
    std::size_t i = 0;
    while (i < c.n) {
        const unsigned ci = bit(c.cls[i]);
        std::size_t e;
        if (ci & m_letter) {
            e = c.run(i + 1, m_letter);  // a letter cannot start a contraction
        } else if (std::size_t k = c.contraction(i)) {
            e = i + k;
        } else if ((ci & m_prefix) && i + 1 < c.n && c.in(i + 1, m_letter)) {
            e = c.run(i + 2, m_letter);
        } else if (ci & bit(c_number)) {
            e = c.digits(i);
        } else if (std::size_t pe = c.punct(i, bit(c_crlf), false)) {
            e = pe;
        } else {
            e = c.whitespace(i);
        }
        emit(c.off[i], c.off[e]);
        i = e;
    }
}

/// o200k_base:
///   A: [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
///   B: [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?
///   \p{N}{1,3} | ' '?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
template <class Emit>
void split_o200k(const cps& c, Emit&& emit) {
    // A from s (prefix already decided): the upper-class run U* is greedy; the lower-class run
    // L+ needs one code point, so U* gives back code points until one of them (Lm, Lo, M are in
    // both classes) starts L+, or the code point after the run is Ll. The optional contraction
    // never fails, so it never forces more backtracking.
    auto match_a = [&](std::size_t s) -> std::size_t {
        const std::size_t u = c.run(s, m_up);
        if (u < c.n && c.cls[u] == c_lower) return c.run(u + 1, m_low);
        for (std::size_t j = u; j > s; --j)
            if (c.cls[j - 1] != c_upper) return j;  // in the U run and in the L class
        return 0;
    };
    auto match_b = [&](std::size_t s) -> std::size_t {
        const std::size_t u = c.run(s, m_up);
        return u == s ? 0 : c.run(u, m_low);
    };
    std::size_t i = 0;
    while (i < c.n) {
        const unsigned ci = bit(c.cls[i]);
        std::size_t e = 0;
        if (ci & bit(c_number)) {
            e = c.digits(i);  // no letter alternative can start at a number
        } else if (c.cls[i] != c_crlf) {
            // The optional prefix is tried consumed first, then empty; A before B.
            const bool pre = (ci & m_prefix) && i + 1 < c.n;
            if (pre) e = match_a(i + 1);
            if (!e) e = match_a(i);
            if (!e && pre) e = match_b(i + 1);
            if (!e) e = match_b(i);
            if (e) e += c.contraction(e);
        }
        if (!e) e = c.punct(i, bit(c_crlf), true);
        if (!e) e = c.whitespace(i);
        emit(c.off[i], c.off[e]);
        i = e;
    }
}

template <class Emit>
void split_text(const tiktoken_tokenizer::tables& t, const cps& c, Emit&& emit) {
    if (t.pat == td::pattern::o200k)
        split_o200k(c, emit);
    else
        split_cl100k(c, emit);
}

// ---- byte-pair merge ------------------------------------------------------------------------

/// Pieces up to this many bytes merge with tiktoken's own loop (scan for the lowest rank,
/// merge, update the two neighbours): fastest for the short pieces of real text. Longer
/// pieces use a heap, O(n log n) instead of O(n^2).
constexpr std::size_t small_piece = 64;

/// tiktoken's merge on a short piece: repeatedly merges the leftmost pair of lowest rank.
template <class Sink>
void merge_small(const tiktoken_tokenizer::tables& t, const unsigned char* p, std::size_t len,
                 Sink& sink) {
    std::uint32_t id[small_piece];
    std::uint32_t rank[small_piece];  // rank[k]: id of (part k + part k+1), or no_id
    std::size_t n = len;
    const std::uint32_t* byte_pair = t.byte_pair.data();
    for (std::size_t k = 0; k < n; ++k) id[k] = t.byte_token[p[k]];
    for (std::size_t k = 0; k + 1 < n; ++k) rank[k] = byte_pair[(p[k] << 8) | p[k + 1]];
    rank[n - 1] = td::no_id;
    while (n > 1) {
        std::uint32_t best = td::no_id;
        std::size_t at = 0;
        for (std::size_t k = 0; k + 1 < n; ++k)
            if (rank[k] < best) {
                best = rank[k];
                at = k;
            }
        if (best == td::no_id) break;
        id[at] = best;
        // Remove part at+1 (short arrays: a plain loop beats a memmove call).
        for (std::size_t k = at + 1; k + 1 < n; ++k) {
            id[k] = id[k + 1];
            rank[k] = rank[k + 1];
        }
        --n;
        rank[at] = at + 1 < n ? t.pair(id[at], id[at + 1]) : td::no_id;
        if (at > 0) rank[at - 1] = t.pair(id[at - 1], id[at]);
    }
    for (std::size_t k = 0; k < n; ++k) sink(id[k]);
}

/// The same merge order on a long piece: a doubly linked list of parts and a min-heap of
/// (rank, position); stale heap entries are skipped (a part's current rank no longer matches).
/// Equal ranks pop leftmost first, exactly as tiktoken's scan picks them.
template <class Sink>
void merge_large(const tiktoken_tokenizer::tables& t, const unsigned char* p, std::size_t len,
                 Sink& sink) {
    scratch& s = tls_scratch();
    std::uint32_t* mem = s.node.ensure(4 * len);
    std::uint32_t* id = mem;
    std::uint32_t* rank = mem + len;
    std::uint32_t* prev = mem + 2 * len;
    std::uint32_t* next = mem + 3 * len;
    constexpr std::uint32_t end = td::no_id;
    auto& heap = s.heap;
    heap.clear();
    for (std::size_t k = 0; k < len; ++k) {
        id[k] = t.byte_token[p[k]];
        prev[k] = k == 0 ? end : static_cast<std::uint32_t>(k - 1);
        next[k] = k + 1 == len ? end : static_cast<std::uint32_t>(k + 1);
    }
    for (std::size_t k = 0; k < len; ++k) {
        rank[k] = k + 1 < len ? t.pair(id[k], id[k + 1]) : td::no_id;
        if (rank[k] != td::no_id) heap.push_back((std::uint64_t{rank[k]} << 32) | k);
    }
    const std::greater<> cmp;
    std::make_heap(heap.begin(), heap.end(), cmp);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), cmp);
        const std::uint64_t top = heap.back();
        heap.pop_back();
        const auto r = static_cast<std::uint32_t>(top >> 32);
        const auto k = static_cast<std::uint32_t>(top);
        if (rank[k] != r) continue;  // stale
        const std::uint32_t nx = next[k];
        id[k] = r;
        rank[nx] = td::no_id;  // nx is absorbed into k
        const std::uint32_t nn = next[nx];
        next[k] = nn;
        if (nn != end) prev[nn] = k;
        rank[k] = nn != end ? t.pair(id[k], id[nn]) : td::no_id;
        if (rank[k] != td::no_id) {
            heap.push_back((std::uint64_t{rank[k]} << 32) | k);
            std::push_heap(heap.begin(), heap.end(), cmp);
        }
        if (const std::uint32_t pv = prev[k]; pv != end) {
            rank[pv] = t.pair(id[pv], id[k]);
            if (rank[pv] != td::no_id) {
                heap.push_back((std::uint64_t{rank[pv]} << 32) | pv);
                std::push_heap(heap.begin(), heap.end(), cmp);
            }
        }
    }
    for (std::uint32_t k = 0; k != end; k = next[k]) sink(id[k]);
    if (s.node.cap > keep_scratch) s.node.release_if_larger(keep_scratch);
    if (heap.capacity() > keep_scratch) std::vector<std::uint64_t>().swap(heap);
}

/// A small per-thread, direct-mapped cache of merged pieces. Real text repeats its words
/// (Zipf), and a piece that is not itself a token costs a dozen merge-table lookups, so most of
/// the merge work is served from here. Keyed by the tables' serial number and the piece bytes
/// (compared in full), so a hit is always exact.
struct piece_cache {
    static constexpr std::size_t max_bytes = 32;
    static constexpr std::size_t max_ids = 12;
    static constexpr std::size_t slots = 4096;
    struct entry {
        std::uint64_t hash = 0;
        std::uint64_t serial = 0;  ///< 0 = empty
        std::uint8_t len = 0;
        std::uint8_t n = 0;
        unsigned char bytes[max_bytes];
        std::uint32_t ids[max_ids];
    };
    std::unique_ptr<entry[]> e{new entry[slots]};
};
piece_cache& tls_piece_cache() {
    thread_local piece_cache c;
    return c;
}

template <class Sink>
void encode_piece(const tiktoken_tokenizer::tables& t, piece_cache& cache, const unsigned char* p,
                  std::size_t len, Sink& sink) {
    if (len == 1) {
        sink(t.byte_token[p[0]]);
        return;
    }
    if (len > small_piece) {
        if (len <= t.max_token_len)
            if (const std::uint32_t id = t.find(p, len); id != td::no_id) return sink(id);
        return merge_large(t, p, len, sink);
    }
    const std::uint64_t h = td::hash_bytes(p, len);
    // The cache first: a repeated piece that is not a token then costs no table miss at all.
    piece_cache::entry* e = nullptr;
    if (len <= piece_cache::max_bytes) {
        e = &cache.e[(h >> 20) & (piece_cache::slots - 1)];
        if (e->serial == t.serial && e->hash == h && e->len == len &&
            std::memcmp(e->bytes, p, len) == 0) {
            for (std::size_t k = 0; k < e->n; ++k) sink(e->ids[k]);
            return;
        }
    }
    if (len <= t.max_token_len)
        if (const std::uint32_t id = t.find(p, len, h); id != td::no_id) return sink(id);
    if (!e) return merge_small(t, p, len, sink);
    std::uint32_t ids[small_piece];
    std::size_t n = 0;
    auto collect = [&](std::uint32_t id) { ids[n++] = id; };
    merge_small(t, p, len, collect);
    if (n <= piece_cache::max_ids) {
        e->serial = t.serial;
        e->hash = h;
        e->len = static_cast<std::uint8_t>(len);
        e->n = static_cast<std::uint8_t>(n);
        std::memcpy(e->bytes, p, len);
        std::memcpy(e->ids, ids, n * sizeof ids[0]);
    }
    for (std::size_t k = 0; k < n; ++k) sink(ids[k]);
}

template <class Sink>
void encode_text(const tiktoken_tokenizer::tables& t, std::string_view text, Sink& sink) {
    if (text.empty()) return;
    scratch& s = tls_scratch();
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = decode_utf8(p, text.size(), s);
    const cps cp{p, s.cls.data.get(), s.off.data.get(), n};
    piece_cache& cache = tls_piece_cache();
    split_text(t, cp, [&](std::uint32_t b, std::uint32_t e) {
        encode_piece(t, cache, p + b, e - b, sink);
    });
    s.cls.release_if_larger(keep_scratch);
    s.off.release_if_larger(keep_scratch);
}

}  // namespace

void tiktoken_tokenizer::encode(std::string_view text, std::vector<token_id>& out) const {
    auto sink = [&out](std::uint32_t id) { out.push_back(id); };
    encode_text(*t_, text, sink);
}

std::size_t tiktoken_tokenizer::count(std::string_view text) const {
    std::size_t n = 0;
    auto sink = [&n](std::uint32_t) { ++n; };
    encode_text(*t_, text, sink);
    return n;
}

void tiktoken_tokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
    if (text.empty()) return;
    scratch& s = tls_scratch();
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = decode_utf8(p, text.size(), s);
    const cps cp{p, s.cls.data.get(), s.off.data.get(), n};
    split_text(*t_, cp,
               [&](std::uint32_t b, std::uint32_t e) { pieces.push_back(text.substr(b, e - b)); });
}

}  // namespace text
POLYGLOT_END_NAMESPACE
