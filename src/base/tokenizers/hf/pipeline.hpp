// SPDX-License-Identifier: Apache-2.0
/// @file Private to the Hugging Face tokenizer (src/base/tokenizers/hf): what every stage of the
/// pipeline shares — code point helpers, the pieces a pre-tokenizer splits the text into, and
/// the per-thread scratch space (buffers and the model's word cache).
#pragma once

#include <simdjson.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <polyglot/core/error.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "base/unicode/unicode.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

using simdjson::dom::element;
namespace uc = unicode;

[[noreturn]] inline void unsupported(const std::filesystem::path& file, const std::string& what) {
    throw unsupported_error(file.string() + ": " + what);
}

/// Largest id accepted from a file (ids are dense: a vocabulary of n tokens uses 0..n-1).
inline constexpr std::uint64_t max_token_id = (std::uint64_t{1} << 31) - 1;

/// GPT-2's bytes_to_unicode: byte → code point of its printable stand-in.
inline const std::array<char32_t, 256>& byte_to_char() {
    static const std::array<char32_t, 256> t = [] {
        std::array<char32_t, 256> r{};
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            r[std::size_t(b)] = char32_t(printable ? b : 256 + extra++);
        }
        return r;
    }();
    return t;
}

/// Decodes valid UTF-8 at s[i]; sets len.
inline char32_t cp_at(std::string_view s, std::size_t i, std::size_t& len) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    if (p[i] < 0x80) {
        len = 1;
        return p[i];
    }
    const char32_t c = uc::decode_utf8(p + i, s.size() - i, len);
    return c == uc::invalid_cp ? 0xFFFD : c;
}
/// Start of the code point that ends at s[e) (e > 0).
inline std::size_t prev_cp(std::string_view s, std::size_t e) {
    std::size_t b = e - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    return b;
}

// ---- per-thread scratch ------------------------------------------------------------------------

struct piece {
    std::size_t off, len;
    bool at_start;  ///< starts at offset 0 of the original input (Metaspace "first")
};

struct segment {
    std::size_t b, e;
    std::int64_t id;  ///< added token id, or -1 for text
};

/// Per-thread direct-mapped cache of model results (real text repeats its words; a word that
/// is not itself a token costs a dozen merge lookups). Two tiers: short words, and whole
/// pre-tokenized pieces up to 256 bytes (as `tokenizers` caches words under 256 bytes).
template <std::size_t MaxBytes, std::size_t MaxIds, std::size_t Slots>
struct cache_tier {
    static constexpr std::size_t max_bytes = MaxBytes, max_ids = MaxIds, slots = Slots;
    struct entry {
        std::uint64_t hash = 0;
        std::uint64_t serial = 0;  ///< 0 = empty
        std::uint16_t len = 0, n = 0;
        unsigned char bytes[MaxBytes];
        token_id ids[MaxIds];
    };
    std::unique_ptr<entry[]> e{new entry[Slots]};
};
struct word_cache {
    cache_tier<32, 12, 16384> small;
    cache_tier<256, 96, 2048> large;
};
struct bpe_sym {
    token_id id;
    bool alive;
    std::int64_t prev, next;  ///< 64-bit: a piece may exceed 2^31 bytes
};
struct merge_entry {
    std::uint32_t rank;
    token_id new_id;
    std::uint64_t pos;
    bool operator>(const merge_entry& o) const {
        return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
};

struct scratch {
    std::string sanitized, norm, norm_tmp, arena;
    std::vector<segment> segs1, segs2;
    std::vector<piece> pieces, pieces_tmp;
    std::vector<std::pair<std::size_t, std::size_t>> matches;
    std::vector<std::pair<std::pair<std::size_t, std::size_t>, bool>> splits, splits2;
    word_cache cache;
    std::vector<bpe_sym> syms;
    std::vector<merge_entry> heap;
    std::string tmp;
};
inline scratch& tls_scratch() {
    thread_local scratch s;
    return s;
}

inline std::atomic<std::uint64_t> next_serial{1};

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
