// SPDX-License-Identifier: Apache-2.0
/// @file Deterministic parallel reduction: the only place (with pipeline.hpp) that uses TBB.
#pragma once

#include <polyglot/version.hpp>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/parallel_reduce.h>
#include <oneapi/tbb/partitioner.h>

#include <cstddef>

POLYGLOT_BEGIN_NAMESPACE
namespace parallel {

/// Reduces [0, n): each leaf starts from @p identity, applies `map(state&, begin, end)` over
/// its block, and leaves are joined with `merge(state&, const state&)` in index order.
/// The split tree depends only on n and @p grain (simple partitioner, deterministic reduce),
/// so the result is bit-identical for any number of threads.
/// @param grain block size (> 0); choose it by cost, never by thread count.
template <class State, class Map, class Merge>
State map_reduce(std::size_t n, std::size_t grain, const State& identity, Map&& map,
                 Merge&& merge) {
    if (n == 0) return identity;
    using range = oneapi::tbb::blocked_range<std::size_t>;
    return oneapi::tbb::parallel_deterministic_reduce(
        range(0, n, grain ? grain : 1), identity,
        [&](const range& r, State s) {
            map(s, r.begin(), r.end());
            return s;
        },
        [&](State a, const State& b) {
            merge(a, b);
            return a;
        },
        oneapi::tbb::simple_partitioner());
}

/// Runs `body(begin, end)` over [0, n) in blocks of at least @p grain, in parallel.
template <class Body>
void for_blocks(std::size_t n, std::size_t grain, Body&& body) {
    if (n == 0) return;
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::size_t>(0, n, grain ? grain : 1),
                              [&](const oneapi::tbb::blocked_range<std::size_t>& r) {
                                  body(r.begin(), r.end());
                              });
}

}  // namespace parallel
POLYGLOT_END_NAMESPACE
