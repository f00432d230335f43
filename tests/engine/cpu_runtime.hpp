// SPDX-License-Identifier: Apache-2.0
/// @file The shared runtime over the cpu engine's device, as the cpu plugin builds it.
#pragma once

#include <filesystem>
#include <memory>

#include "common/runtime/lm_runtime.hpp"
#include "engine/transformer.hpp"

namespace engine_test {

namespace rt = polyglot::runtime;

/// Opens @p dir on the cpu engine with @p threads threads (0 = default).
inline std::unique_ptr<rt::lm_runtime> open_cpu(const std::filesystem::path& dir,
                                                rt::options o = {}, std::size_t threads = 0) {
    return rt::lm_runtime::open(dir, o, [&](const std::filesystem::path& d) {
        return polyglot::engine::transformer::load(
            d, {.need_lm_head = o.need_lm_head, .threads = threads, .pass_tokens = o.pass_tokens});
    });
}

}  // namespace engine_test
