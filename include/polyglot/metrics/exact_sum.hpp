// SPDX-License-Identifier: Apache-2.0
/// @file An exact, order-independent sum of doubles (a "superaccumulator"): every finite double
/// is an integer multiple of 2^-1074, so the sum is kept as a wide two's-complement integer in
/// units of 2^-1074, split into 32-bit digits held in int64 slots (the spare bits absorb
/// carries, which are propagated every 2^30 additions). Addition is integer addition, so any
/// split of the inputs into parts summed separately and merged in any order gives the same
/// bits, and value() rounds the exact sum once (round to nearest, ties to even) — the answer
/// Python's math.fsum gives. Used where a metric sums doubles across records (perplexity), so
/// shards and checkpoints merge to exactly the single-pass report.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <polyglot/io/binary.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

class exact_sum {
  public:
    static constexpr int digit_bits = 32;
    static constexpr int min_exp = -1074;  ///< weight of bit 0 of digit 0
    /// Bits -1074 .. 1023 need 66 digits; the 67th holds the sign and overflow headroom.
    static constexpr std::size_t digits = 67;

    /// Adds a finite @p x; NaN and infinities are ignored and counted in nonfinite().
    void add(double x) noexcept {
        const auto bits = std::bit_cast<std::uint64_t>(x);
        const auto biased = static_cast<int>((bits >> 52) & 0x7ff);
        if (biased == 0x7ff) {
            ++nonfinite_;
            return;
        }
        std::uint64_t mant = bits & ((std::uint64_t{1} << 52) - 1);
        if (biased != 0) mant |= std::uint64_t{1} << 52;
        if (mant == 0) return;
        // x = mant · 2^(e - 1075) for normals, mant · 2^-1074 for subnormals.
        const int pos = biased == 0 ? 0 : biased - 1;  // bit offset above 2^-1074
        const auto k = static_cast<std::size_t>(pos / digit_bits);
        const auto wide = static_cast<unsigned __int128>(mant) << (pos % digit_bits);
        const auto d0 = static_cast<std::int64_t>(static_cast<std::uint64_t>(wide) & 0xffffffffu);
        const auto d1 =
            static_cast<std::int64_t>(static_cast<std::uint64_t>(wide >> 32) & 0xffffffffu);
        const auto d2 = static_cast<std::int64_t>(static_cast<std::uint64_t>(wide >> 64));
        if (bits >> 63) {
            d_[k] -= d0;
            d_[k + 1] -= d1;
            d_[k + 2] -= d2;
        } else {
            d_[k] += d0;
            d_[k + 1] += d1;
            d_[k + 2] += d2;
        }
        if (++pending_ >= carry_every) normalize();
    }

    /// this += other (exact).
    void merge(const exact_sum& other) noexcept {
        exact_sum o = other;
        o.normalize();
        normalize();
        for (std::size_t i = 0; i < digits; ++i) d_[i] += o.d_[i];
        nonfinite_ += o.nonfinite_;
        normalize();
    }

    /// The exact sum rounded to the nearest double (ties to even); ±inf beyond DBL_MAX.
    [[nodiscard]] double value() const noexcept {
        exact_sum a = *this;
        a.normalize();
        const bool negative = a.d_[digits - 1] < 0;
        if (negative) {
            for (auto& d : a.d_) d = -d;
            a.normalize();
        }
        // Now every digit is >= 0 (the top one may exceed 32 bits).
        int h = static_cast<int>(digits) - 1;
        while (h >= 0 && a.d_[static_cast<std::size_t>(h)] == 0) --h;
        if (h < 0) return 0.0;
        auto digit = [&](int i) -> unsigned __int128 {
            return i < 0 ? 0 : static_cast<std::uint64_t>(a.d_[static_cast<std::size_t>(i)]);
        };
        const unsigned __int128 acc = (digit(h) << 64) | (digit(h - 1) << 32) | digit(h - 2);
        bool sticky = false;
        for (int i = 0; i < h - 2; ++i) sticky |= a.d_[static_cast<std::size_t>(i)] != 0;
        const int base_exp = min_exp + digit_bits * (h - 2);  // weight of acc's bit 0
        const int bit_len = 128 - count_leading_zeros(acc);
        const int lead_exp = base_exp + bit_len - 1;
        const int lsb_exp = std::max(lead_exp - 52, min_exp);  // 53 bits, fewer if subnormal
        double r = 0;
        if (lsb_exp <= base_exp) {  // fits: exact
            r = std::ldexp(static_cast<double>(static_cast<std::uint64_t>(acc)), base_exp);
        } else {
            const int shift = lsb_exp - base_exp;
            std::uint64_t q = static_cast<std::uint64_t>(acc >> shift);
            const unsigned __int128 rem = acc & ((static_cast<unsigned __int128>(1) << shift) - 1);
            const unsigned __int128 half = static_cast<unsigned __int128>(1) << (shift - 1);
            if (rem > half || (rem == half && (sticky || (q & 1)))) ++q;
            r = std::ldexp(static_cast<double>(q), lsb_exp);  // q <= 2^53: exact
        }
        return negative ? -r : r;
    }

    /// Inputs that were NaN or infinite (not in the sum).
    [[nodiscard]] std::uint64_t nonfinite() const noexcept { return nonfinite_; }

    /// Equal exact sums (and nonfinite counts) compare equal, however they were built.
    friend bool operator==(const exact_sum& a, const exact_sum& b) noexcept {
        exact_sum x = a, y = b;
        x.normalize();
        y.normalize();
        return x.d_ == y.d_ && x.nonfinite_ == y.nonfinite_;
    }

    /// The canonical digits (zigzag varints: mostly zeros, so a few dozen bytes).
    void save(io::binary_writer& w) const {
        exact_sum a = *this;
        a.normalize();
        for (std::int64_t d : a.d_) w.svarint(d);
        w.varint(a.nonfinite_);
    }
    void load(io::binary_reader& r) {
        for (auto& d : d_) {
            d = r.svarint("exact_sum digit");
            if (&d != &d_.back() && (d < 0 || d >= (std::int64_t{1} << digit_bits)))
                r.fail("exact_sum digit");
        }
        nonfinite_ = r.varint("exact_sum nonfinite");
        pending_ = 0;
    }

  private:
    static constexpr std::uint32_t carry_every = std::uint32_t{1} << 30;

    static int count_leading_zeros(unsigned __int128 v) noexcept {
        const auto hi = static_cast<std::uint64_t>(v >> 64);
        return hi ? std::countl_zero(hi) : 64 + std::countl_zero(static_cast<std::uint64_t>(v));
    }

    /// Propagates carries: digits 0..n-2 end in [0, 2^32), the top digit keeps the sign.
    void normalize() noexcept {
        for (std::size_t i = 0; i + 1 < digits; ++i) {
            const std::int64_t carry = d_[i] >> digit_bits;  // floor division
            d_[i] -= carry * (std::int64_t{1} << digit_bits);
            d_[i + 1] += carry;
        }
        pending_ = 0;
    }

    std::array<std::int64_t, digits> d_{};
    std::uint32_t pending_ = 0;
    std::uint64_t nonfinite_ = 0;
};

}  // namespace metrics
POLYGLOT_END_NAMESPACE
