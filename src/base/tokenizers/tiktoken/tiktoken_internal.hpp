// SPDX-License-Identifier: Apache-2.0
/// @file Private: the lookup tables of text::tiktoken_tokenizer and their binary image.
///
/// The whole table set lives in one 8-byte aligned buffer laid out exactly as the cache file:
///
///     header (128 bytes)
///     offsets    u32[n_tokens + 1]      token t's bytes are blob[offsets[t], offsets[t+1])
///     blob       u8[blob_size]          (padded to 8)
///     str_slots  u32[1 << str_bits]     bytes -> id, open addressing, linear probing;
///                                       slot = (11-bit hash tag << 21) | id, empty = ~0
///     pair_slots u64[1 << pair_bits]    (left id, right id) -> id of their concatenation;
///                                       slot = (value << 42) | (left << 21) | right, empty = ~0
///     byte_token u32[256]               the id of each single byte
///
/// All integers are little-endian (the only byte order we build for). The pair table is the
/// merge table of the BPE: every part of a piece under merging is a token, so tiktoken's lookup
/// of `bytes[part i] + bytes[part i+1]` equals a lookup of the id pair, which is one 64-bit
/// integer hash and compare instead of hashing and comparing a byte string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <polyglot/core/hash.hpp>
#include <polyglot/text/tiktoken.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace text {
namespace tiktoken_detail {

/// Which hand-written splitter reproduces the table's `pat_str`.
enum class pattern : std::uint32_t {
    cl100k = 1,  ///< cl100k_base
    o200k = 2,   ///< o200k_base
};

inline constexpr std::uint32_t no_id = 0xffffffffu;
inline constexpr std::uint32_t id_bits = 21;
inline constexpr std::uint32_t id_mask = (1u << id_bits) - 1;
/// Largest supported vocabulary (ids must fit in 21 bits and never equal id_mask).
inline constexpr std::uint32_t max_tokens = id_mask - 1;
inline constexpr std::uint64_t pair_key_mask = (std::uint64_t{1} << (2 * id_bits)) - 1;
inline constexpr std::uint32_t binary_version = 1;
inline constexpr char binary_magic[8] = {'P', 'G', 'T', 'I', 'K', 'T', 'O', 'K'};

struct file_header {
    char magic[8];
    std::uint32_t version;
    std::uint32_t pattern;
    std::uint32_t n_tokens;
    std::uint32_t max_token_len;
    std::uint32_t str_bits;
    std::uint32_t pair_bits;
    std::uint64_t blob_size;
    std::uint64_t source_size;
    std::uint64_t source_hash;
    std::uint64_t payload_hash;  ///< hash of every byte after the header
    char name[64];               ///< table name, NUL-padded
};
static_assert(sizeof(file_header) == 128);

using core::hash_bytes;

inline std::uint64_t pair_key(std::uint32_t a, std::uint32_t b) {
    return (std::uint64_t{a} << id_bits) | b;
}
inline std::size_t pair_slot_index(std::uint64_t key, std::uint32_t bits) {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

}  // namespace tiktoken_detail

struct tiktoken_tokenizer::tables {
    std::vector<std::uint64_t> storage;  ///< the binary image (8-byte aligned)
    std::size_t size_bytes = 0;          ///< image size in bytes
    std::string name;
    tiktoken_detail::pattern pat = tiktoken_detail::pattern::cl100k;
    std::uint32_t n_tokens = 0;
    std::uint32_t max_token_len = 0;
    const std::uint32_t* offsets = nullptr;
    const unsigned char* blob = nullptr;
    const std::uint32_t* str_slots = nullptr;
    std::size_t str_mask = 0;
    const std::uint64_t* pair_slots = nullptr;
    std::uint32_t pair_bits = 0;
    const std::uint32_t* byte_token = nullptr;
    /// Dense copy of the pair table for two single bytes (256 KiB, L2-resident): the first
    /// round of every merge looks up only such pairs. Filled on load, not stored in the image.
    std::vector<std::uint32_t> byte_pair;
    /// Process-unique serial number (never reused, unlike an address): keys the per-thread
    /// piece cache.
    std::uint64_t serial = 0;

    [[nodiscard]] std::string_view bytes(std::uint32_t id) const {
        return {reinterpret_cast<const char*>(blob) + offsets[id], offsets[id + 1] - offsets[id]};
    }

    /// Id of the token whose bytes are exactly [p, p+len), or no_id.
    [[nodiscard]] std::uint32_t find(const unsigned char* p, std::size_t len) const {
        return find(p, len, tiktoken_detail::hash_bytes(p, len));
    }
    /// find() with the precomputed hash_bytes(p, len).
    [[nodiscard]] std::uint32_t find(const unsigned char* p, std::size_t len,
                                     std::uint64_t h) const {
        using namespace tiktoken_detail;
        const std::uint32_t tag = static_cast<std::uint32_t>(h >> 53);
        for (std::size_t i = h & str_mask;; i = (i + 1) & str_mask) {
            const std::uint32_t s = str_slots[i];
            if (s == no_id) return no_id;
            if ((s >> id_bits) != tag) continue;
            const std::uint32_t id = s & id_mask;
            const std::uint32_t b = offsets[id];
            if (offsets[id + 1] - b == len && std::memcmp(blob + b, p, len) == 0) return id;
        }
    }

    /// Id of the concatenation of tokens @p a and @p b, or no_id.
    [[nodiscard]] std::uint32_t pair(std::uint32_t a, std::uint32_t b) const {
        using namespace tiktoken_detail;
        const std::uint64_t key = pair_key(a, b);
        const std::size_t mask = (std::size_t{1} << pair_bits) - 1;
        for (std::size_t i = pair_slot_index(key, pair_bits);; i = (i + 1) & mask) {
            const std::uint64_t s = pair_slots[i];
            if ((s & pair_key_mask) == key) return static_cast<std::uint32_t>(s >> (2 * id_bits));
            if (s == ~std::uint64_t{0}) return no_id;
        }
    }
};

}  // namespace text
POLYGLOT_END_NAMESPACE
