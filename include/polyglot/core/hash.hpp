// SPDX-License-Identifier: Apache-2.0
/// @file Fast non-cryptographic hashing of byte strings, for lookup tables and checksums
/// (tiktoken tables and their binary cache, the Hugging Face tokenizer's tables). Header-only so
/// that plugins can use it without linking libpolyglot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <polyglot/version.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace core {

/// murmur3's 64-bit finaliser.
inline std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/// A fast 64-bit hash of a byte string (multiply-rotate over 8-byte words, murmur3 finaliser).
/// Not cryptographic. Stable across versions: the tiktoken binary cache stores these values.
inline std::uint64_t hash_bytes(const void* data, std::size_t len,
                                std::uint64_t seed = 0) noexcept {
    constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t h = seed ^ (len * k2);
    while (len >= 8) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        h ^= v * k2;
        h = ((h << 31) | (h >> 33)) * k1;
        p += 8;
        len -= 8;
    }
    if (len) {
        std::uint64_t v = 0;
        std::memcpy(&v, p, len);
        h ^= (v + 1) * k2;
        h = ((h << 31) | (h >> 33)) * k1;
    }
    return mix64(h);
}

}  // namespace core
POLYGLOT_END_NAMESPACE
