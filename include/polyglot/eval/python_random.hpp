// SPDX-License-Identifier: Apache-2.0
/// @file CPython's random.Random for integer seeds (MT19937 seeded by init_by_array over the
/// seed's 32-bit words, random() from two draws with 53 bits), so that lighteval's seeded
/// choices can be replayed exactly: its bootstrap standard errors resample with
/// `random.Random(seed).choices(population, k=n)`. Hand-written because std::mt19937's
/// seed_seq seeding differs from CPython's init_by_array. Not thread-safe (one per thread).
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <polyglot/version.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {

class python_random {
  public:
    /// random.Random(seed) for a non-negative integer seed below 2^64.
    explicit python_random(std::uint64_t seed) {
        std::uint32_t key[2] = {static_cast<std::uint32_t>(seed),
                                static_cast<std::uint32_t>(seed >> 32)};
        init_by_array(key, (seed >> 32) ? 2 : 1);
    }

    /// random.random(): a double in [0, 1) with 53 random bits.
    double random() noexcept {
        const std::uint32_t a = next() >> 5, b = next() >> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /// One index of random.choices(population, k=...) without weights:
    /// floor(random() * n).
    std::size_t choice_index(std::size_t n) noexcept {
        return static_cast<std::size_t>(std::floor(random() * static_cast<double>(n)));
    }

    /// The next raw 32-bit output (genrand_uint32).
    std::uint32_t next() noexcept {
        if (pos_ >= n_) twist();
        std::uint32_t y = mt_[pos_++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

  private:
    static constexpr std::size_t n_ = 624, m_ = 397;

    void init_genrand(std::uint32_t s) noexcept {
        mt_[0] = s;
        for (std::size_t i = 1; i < n_; ++i)
            mt_[i] =
                1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
        pos_ = n_;
    }

    void init_by_array(const std::uint32_t* key, std::size_t len) noexcept {
        init_genrand(19650218u);
        std::size_t i = 1, j = 0;
        for (std::size_t k = (n_ > len ? n_ : len); k; --k) {
            mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] +
                     static_cast<std::uint32_t>(j);
            ++i, ++j;
            if (i >= n_) mt_[0] = mt_[n_ - 1], i = 1;
            if (j >= len) j = 0;
        }
        for (std::size_t k = n_ - 1; k; --k) {
            mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) -
                     static_cast<std::uint32_t>(i);
            ++i;
            if (i >= n_) mt_[0] = mt_[n_ - 1], i = 1;
        }
        mt_[0] = 0x80000000u;
    }

    void twist() noexcept {
        for (std::size_t k = 0; k < n_; ++k) {
            const std::uint32_t y = (mt_[k] & 0x80000000u) | (mt_[(k + 1) % n_] & 0x7fffffffu);
            mt_[k] = mt_[(k + m_) % n_] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        pos_ = 0;
    }

    std::array<std::uint32_t, n_> mt_{};
    std::size_t pos_ = n_;
};

}  // namespace eval
POLYGLOT_END_NAMESPACE
