// SPDX-License-Identifier: Apache-2.0
/// @file A thin wrapper over oneapi::tbb::parallel_pipeline (with reduce.hpp, the only place
/// that includes TBB). Shape: a serial in-order source, then any number of stages, each either
/// serial in order or parallel; each item is a fresh Item, owned here until the last stage.
#pragma once

#include <oneapi/tbb/parallel_pipeline.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <polyglot/version.hpp>
#include <unordered_map>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace parallel {

enum class stage_mode {
    serial_in_order,  ///< one item at a time, in the order the source produced them
    parallel,         ///< any number of items at once
};

template <class F>
struct stage {
    stage_mode mode;
    F fn;  ///< void(Item&)
};

template <class F>
stage<std::decay_t<F>> serial_stage(F&& f) {
    return {stage_mode::serial_in_order, std::forward<F>(f)};
}
template <class F>
stage<std::decay_t<F>> parallel_stage(F&& f) {
    return {stage_mode::parallel, std::forward<F>(f)};
}

/// Runs `source(Item&) -> bool` (false = end; called serially, in order) and then @p stages on
/// every item, with at most @p tokens items in flight (use about 4 × threads). Runs in the
/// caller's arena (the thread count is set by the application). An exception in any stage
/// cancels the pipeline and is rethrown here. Items are freed after the last stage.
template <class Item, class Source, class... Stages>
void run_pipeline(std::size_t tokens, Source&& source, Stages&&... stages) {
    namespace tbb = oneapi::tbb;
    // Items travel between filters as raw pointers owned here, not by TBB: oneTBB destroys no
    // item in flight when an exception cancels the pipeline (its old API had filter::finalize
    // for that), so shared_ptr items leaked there (LeakSanitizer, score_test's --strict runs).
    std::mutex mu;
    std::unordered_map<Item*, std::unique_ptr<Item>> live;  // at most `tokens` entries
    auto mode = [](stage_mode m) {
        return m == stage_mode::parallel ? tbb::filter_mode::parallel
                                         : tbb::filter_mode::serial_in_order;
    };
    auto chain = tbb::make_filter<void, Item*>(tbb::filter_mode::serial_in_order,
                                               [&](tbb::flow_control& fc) -> Item* {
                                                   auto item = std::make_unique<Item>();
                                                   if (!source(*item)) {
                                                       fc.stop();
                                                       return nullptr;
                                                   }
                                                   Item* p = item.get();
                                                   std::lock_guard lock(mu);
                                                   live.emplace(p, std::move(item));
                                                   return p;
                                               });
    (
        [&] {
            auto& st = stages;
            chain = chain & tbb::make_filter<Item*, Item*>(mode(st.mode), [&st](Item* item) {
                        st.fn(*item);
                        return item;
                    });
        }(),
        ...);
    tbb::parallel_pipeline(
        tokens ? tokens : 1,
        chain & tbb::make_filter<Item*, void>(tbb::filter_mode::parallel, [&](Item* item) {
            std::unique_ptr<Item> done;  // freed outside the lock
            std::lock_guard lock(mu);
            auto it = live.find(item);
            done = std::move(it->second);
            live.erase(it);
        }));
}

}  // namespace parallel
POLYGLOT_END_NAMESPACE
