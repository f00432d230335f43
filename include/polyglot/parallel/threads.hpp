// SPDX-License-Identifier: Apache-2.0
/// @file Thread-count control for applications (the CLI's --threads). The library itself never
/// limits threads; it runs in the caller's arena.
#pragma once

#include <polyglot/version.hpp>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>

#include <cstddef>
#include <memory>

POLYGLOT_BEGIN_NAMESPACE
namespace parallel {

/// Number of hardware threads TBB would use by default.
inline std::size_t default_concurrency() {
    return static_cast<std::size_t>(oneapi::tbb::info::default_concurrency());
}

/// Caps the number of worker threads for the lifetime of the object (0 = default).
class thread_limit {
public:
    explicit thread_limit(std::size_t n) {
        if (n > 0)
            ctl_ = std::make_unique<oneapi::tbb::global_control>(
                oneapi::tbb::global_control::max_allowed_parallelism, n);
    }
    [[nodiscard]] static std::size_t active() {
        return oneapi::tbb::global_control::active_value(
            oneapi::tbb::global_control::max_allowed_parallelism);
    }

private:
    std::unique_ptr<oneapi::tbb::global_control> ctl_;
};

}  // namespace parallel
POLYGLOT_END_NAMESPACE
