// SPDX-License-Identifier: Apache-2.0
/// @file The metric concept: a serial kernel plus a merge.
///
/// A metric M has a nested `state` (copyable, default constructible) and
///   - `static constexpr std::string_view name` : its report section ("length", ...)
///   - `state make_state() const`               : an empty state
///   - `void accumulate(state&, const record&, instance_values&) const`
///   - `void merge(state&, const state&) const`  : left = left ∪ right; callers always merge
///                                                 in input order, so results are independent
///                                                 of how the input was split across threads
///   - `void finalize(const state&, io::json_writer&) const` : writes the members (keys and
///                                                 values) of the report section object
///   - `void save(const state&, io::binary_writer&) const` and
///     `void load(state&, io::binary_reader&) const` : the state as bytes and back, exactly
///                                                 (shards, checkpoints; score/state.hpp frames
///                                                 and checksums them). load() starts from
///                                                 make_state() and throws format_error on
///                                                 bytes that cannot be a state.
/// Metrics are immutable after construction (shared by all threads); all mutation is in state.
#pragma once

#include <polyglot/core/record.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/json_writer.hpp>

#include <concepts>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace metrics {

template <class M>
concept metric = requires(const M& m, typename M::state& s, const typename M::state& cs,
                          const record& r, instance_values& iv, io::json_writer& w,
                          io::binary_writer& bw, io::binary_reader& br) {
    { M::name } -> std::convertible_to<std::string_view>;
    { m.make_state() } -> std::same_as<typename M::state>;
    m.accumulate(s, r, iv);
    m.merge(s, cs);
    m.finalize(cs, w);
    m.save(cs, bw);
    m.load(s, br);
} && std::copy_constructible<typename M::state>;

/// Runs a metric serially over a range of records (reference path for tests).
template <metric M, class Range>
typename M::state run_serial(const M& m, const Range& records) {
    auto s = m.make_state();
    instance_values iv;
    for (const record& r : records) {
        iv.clear();
        m.accumulate(s, r, iv);
    }
    return s;
}

}  // namespace metrics
POLYGLOT_END_NAMESPACE
