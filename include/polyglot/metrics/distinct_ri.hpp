// SPDX-License-Identifier: Apache-2.0
/// @file distinct-RI (semantic diversity, product.md §3, reference.md §4.1): an exact O(N·d)
/// accumulator, the O(N²·d) definition for tests, and the `distinct_ri` metric.
///
///   distinct_ri = 1 − (1 / (N(N−1))) · Σ_{i≠j} cos(e_i, e_j)
///               = 1 − (‖s‖² − n₊) / (N(N−1)),   s = Σ_i u_i,  u_i = e_i / ‖e_i‖ (0 if e_i = 0)
///
/// N counts every vector; n₊ the non-zero ones (a zero vector has cosine 0 with everything,
/// as the reference's nan_to_num). A vector with a NaN or infinite component is treated as a
/// zero vector too (the reference's cosine row for it is NaN, replaced by 0) and counted in
/// `nonfinite`. N < 2 has no pairs: the value is NaN (written as null in reports).
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/core/record.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/json_writer.hpp>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

namespace detail {

/// Squared L2 norm in double, in 8 independent lanes (a fixed summation order, so results do
/// not depend on the compiler's vectorisation; the lanes let it use SIMD without -ffast-math).
template <class T>
inline double distinct_ri_norm2(const T* v, std::size_t d) noexcept {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        for (std::size_t k = 0; k < 8; ++k) {
            const double x = static_cast<double>(v[j + k]);
            acc[k] += x * x;
        }
    }
    double tail = 0;
    for (; j < d; ++j) {
        const double x = static_cast<double>(v[j]);
        tail += x * x;
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

/// s[j] += round(v[j] · scale) for |v[j] · scale| < 2^51: rounding to the nearest integer by
/// adding 1.5·2^52 (the sum's last mantissa bit is then the units digit), which vectorises
/// with SSE2 where a double→int64 conversion instruction does not exist.
template <class T>
inline void distinct_ri_add_fixed(std::int64_t* s, const T* v, std::size_t d,
                                  double scale) noexcept {
    constexpr double magic = 6755399441055744.0;  // 1.5 · 2^52
    constexpr std::int64_t magic_bits = std::bit_cast<std::int64_t>(magic);
    for (std::size_t j = 0; j < d; ++j) {
        const double x = static_cast<double>(v[j]) * scale + magic;
        s[j] += std::bit_cast<std::int64_t>(x) - magic_bits;
    }
}

}  // namespace detail

/// The exact O(N·d) distinct-RI state: Σ of unit vectors, N and n₊. Mergeable: merging shard
/// states gives bit for bit the state of one pass over all rows, in any order.
///
/// The sum is kept in fixed point (int64, units of 2^-fixed_bits), not in double: integer
/// addition is associative, so merges and thread counts never change the result, and it is
/// more accurate than a double sum for large N. Each unit-vector component is rounded to
/// 2^-37 (error ≤ 7.3e-12); the final value matches the double-precision N×N definition to
/// ~1e-10 or better. Capacity: max_vectors (2^27 − 16 ≈ 134M) vectors per accumulator (so |Σ| <
/// 2^63), beyond which add/merge throw numerical_error rather than overflow.
struct distinct_ri_accumulator {
    static constexpr int fixed_bits = 36;
    static constexpr std::uint64_t max_vectors = (std::uint64_t{1} << 27) - 16;

    std::size_t dim = 0;            ///< embedding dimension (0 until set)
    std::vector<std::int64_t> sum;  ///< Σ u_i in units of 2^-fixed_bits, dim entries
    std::uint64_t n = 0;            ///< all vectors added (N)
    std::uint64_t nonzero = 0;      ///< non-zero finite vectors (n₊)
    std::uint64_t nonfinite = 0;    ///< vectors with a NaN/inf component (counted as zero)

    distinct_ri_accumulator() = default;
    explicit distinct_ri_accumulator(std::size_t d) : dim(d), sum(d, 0) {}

    /// Sets the dimension of an empty accumulator, or checks it. Throws argument_error on a
    /// mismatch.
    void ensure_dim(std::size_t d) {
        if (dim == d) return;
        if (dim == 0 && n == 0) {
            dim = d;
            sum.assign(d, 0);
            return;
        }
        throw argument_error("distinct_ri: embedding dimension " + std::to_string(d) +
                             " differs from the " + std::to_string(dim) + " seen before");
    }

    /// Adds one row of dim values (float or double).
    template <class T>
    void add(const T* v) {
        static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                      "distinct_ri_accumulator: rows are float or double (convert f16 first)");
        if (n >= max_vectors) throw_capacity();
        ++n;
        const double norm2 = detail::distinct_ri_norm2(v, dim);
        if (norm2 == 0) return;  // zero vector
        if (!std::isfinite(norm2)) {
            ++nonfinite;
            return;
        }
        ++nonzero;
        const double scale = std::ldexp(1.0, fixed_bits) / std::sqrt(norm2);
        detail::distinct_ri_add_fixed(sum.data(), v, dim, scale);
    }

    /// Adds @p n_rows contiguous rows of dim values each (row-major).
    template <class T>
    void add_rows(const T* rows, std::size_t n_rows) {
        for (std::size_t i = 0; i < n_rows; ++i) add(rows + i * dim);
    }

    /// this = this ∪ other (exact; order-independent).
    void merge(const distinct_ri_accumulator& other) {
        if (other.n == 0 && other.dim == 0) return;
        ensure_dim(other.dim);
        if (n + other.n > max_vectors) throw_capacity();
        for (std::size_t j = 0; j < dim; ++j) sum[j] += other.sum[j];
        n += other.n;
        nonzero += other.nonzero;
        nonfinite += other.nonfinite;
    }

    /// ‖s‖² in double (unit-vector units).
    [[nodiscard]] double sum_norm2() const noexcept {
        const double unit = std::ldexp(1.0, -fixed_bits);
        double acc[4] = {0, 0, 0, 0};
        std::size_t j = 0;
        for (; j + 4 <= dim; j += 4) {
            for (std::size_t k = 0; k < 4; ++k) {
                const double x = static_cast<double>(sum[j + k]) * unit;
                acc[k] += x * x;
            }
        }
        for (; j < dim; ++j) {
            const double x = static_cast<double>(sum[j]) * unit;
            acc[0] += x * x;
        }
        return (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }

    /// Mean cosine similarity over ordered pairs i≠j; NaN when N < 2.
    [[nodiscard]] double mean_pairwise_cosine() const noexcept {
        if (n < 2) return std::numeric_limits<double>::quiet_NaN();
        const double nn = static_cast<double>(n);
        return (sum_norm2() - static_cast<double>(nonzero)) / (nn * (nn - 1.0));
    }

    /// distinct-RI = 1 − mean pairwise cosine; NaN when N < 2.
    [[nodiscard]] double value() const noexcept { return 1.0 - mean_pairwise_cosine(); }

    /// dim, N, n₊, non-finite count and the fixed-point sum (zigzag varints).
    void save(io::binary_writer& w) const {
        w.varint(dim);
        w.varint(n);
        w.varint(nonzero);
        w.varint(nonfinite);
        for (std::int64_t v : sum) w.svarint(v);
    }
    void load(io::binary_reader& r) {
        const std::uint64_t d = r.count(1, "distinct_ri dimension");
        n = r.varint("distinct_ri count");
        nonzero = r.varint("distinct_ri count");
        nonfinite = r.varint("distinct_ri count");
        if (nonzero + nonfinite > n || n > max_vectors) r.fail("distinct_ri counts");
        dim = static_cast<std::size_t>(d);
        sum.assign(dim, 0);
        for (auto& v : sum) v = r.svarint("distinct_ri sum");
    }

    /// Σ u_i as doubles.
    [[nodiscard]] std::vector<double> unit_sum() const {
        std::vector<double> out(dim);
        for (std::size_t j = 0; j < dim; ++j) {
            out[j] = std::ldexp(static_cast<double>(sum[j]), -fixed_bits);
        }
        return out;
    }

  private:
    [[noreturn]] static void throw_capacity() {
        throw numerical_error("distinct_ri: more than " + std::to_string(max_vectors) +
                              " vectors in one accumulator");
    }
};

/// The N×N definition, in double, O(N²·d): for tests. Zero and non-finite vectors have cosine
/// 0 with everything; N < 2 gives NaN.
inline double distinct_ri_brute_force(const float* data, std::size_t n, std::size_t dim) {
    if (n < 2) return std::numeric_limits<double>::quiet_NaN();
    std::vector<double> norms(n);
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t k = 0; k < dim; ++k) {
            const double x = data[i * dim + k];
            s += x * x;
        }
        norms[i] = std::isfinite(s) ? std::sqrt(s) : 0.0;
    }
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j || norms[i] == 0 || norms[j] == 0) continue;
            double dot = 0;
            for (std::size_t k = 0; k < dim; ++k) {
                dot += static_cast<double>(data[i * dim + k]) * data[j * dim + k];
            }
            total += dot / (norms[i] * norms[j]);
        }
    }
    const double nn = static_cast<double>(n);
    return 1.0 - total / (nn * (nn - 1.0));
}

/// The `distinct_ri` report section from the embeddings the pipeline attached to each record
/// (record.prompt_embedding / response_embedding, record.embedding_dim).
///
/// Keys: prompts_distinct_ri, responses_distinct_ri (null when fewer than 2 vectors),
/// embedding_dim, num_prompt_vectors, nonzero_prompt_vectors, nonfinite_prompt_vectors,
/// num_response_vectors, nonzero_response_vectors, nonfinite_response_vectors,
/// records_without_prompt_embedding, records_without_response_embedding. A record without an
/// embedding is not counted as a vector (it is counted in records_without_*). No per-record
/// values.
class distinct_ri_metric {
  public:
    static constexpr std::string_view name = "distinct_ri";

    struct state {
        distinct_ri_accumulator prompts;
        distinct_ri_accumulator responses;
        std::uint64_t records_without_prompt_embedding = 0;
        std::uint64_t records_without_response_embedding = 0;
    };

    [[nodiscard]] state make_state() const { return {}; }

    void accumulate(state& s, const record& r, instance_values& /*values*/) const {
        add_one(s.prompts, r.prompt_embedding, r.embedding_dim, s.records_without_prompt_embedding);
        add_one(s.responses, r.response_embedding, r.embedding_dim,
                s.records_without_response_embedding);
    }

    void merge(state& left, const state& right) const {
        left.prompts.merge(right.prompts);
        left.responses.merge(right.responses);
        left.records_without_prompt_embedding += right.records_without_prompt_embedding;
        left.records_without_response_embedding += right.records_without_response_embedding;
    }

    void finalize(const state& s, io::json_writer& w) const {
        w.kv("prompts_distinct_ri", s.prompts.value());
        w.kv("responses_distinct_ri", s.responses.value());
        w.kv("embedding_dim",
             static_cast<std::uint64_t>(s.prompts.dim ? s.prompts.dim : s.responses.dim));
        w.kv("num_prompt_vectors", s.prompts.n);
        w.kv("nonzero_prompt_vectors", s.prompts.nonzero);
        w.kv("nonfinite_prompt_vectors", s.prompts.nonfinite);
        w.kv("num_response_vectors", s.responses.n);
        w.kv("nonzero_response_vectors", s.responses.nonzero);
        w.kv("nonfinite_response_vectors", s.responses.nonfinite);
        w.kv("records_without_prompt_embedding", s.records_without_prompt_embedding);
        w.kv("records_without_response_embedding", s.records_without_response_embedding);
    }

    void save(const state& s, io::binary_writer& w) const {
        s.prompts.save(w);
        s.responses.save(w);
        w.varint(s.records_without_prompt_embedding);
        w.varint(s.records_without_response_embedding);
    }

    void load(state& s, io::binary_reader& r) const {
        s.prompts.load(r);
        s.responses.load(r);
        s.records_without_prompt_embedding = r.varint("distinct_ri counter");
        s.records_without_response_embedding = r.varint("distinct_ri counter");
    }

  private:
    static void add_one(distinct_ri_accumulator& acc, const float* v, std::uint32_t dim,
                        std::uint64_t& missing) {
        if (v == nullptr || dim == 0) {
            ++missing;
            return;
        }
        acc.ensure_dim(dim);
        acc.add(v);
    }
};

}  // namespace metrics
POLYGLOT_END_NAMESPACE
