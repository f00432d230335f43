// SPDX-License-Identifier: Apache-2.0
/// @file The shared runtime over the cpu engine's device, as the cpu plugin builds it.
#pragma once

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <memory>

#include "common/cpu_kernels/kernels.hpp"
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

/// Runs @p f once on every vector path this CPU has (cpu_kernels::force_isa), in the test
/// context "path NAME"; the paths it lacks are named in the log.
template <class F>
void on_every_path(F&& f) {
    namespace ck = polyglot::cpu_kernels;
    const ck::isa before = ck::kernels().level;
    for (ck::isa i : ck::all_isas) {
        if (!ck::isa_supported(i)) {
            BOOST_TEST_MESSAGE("path " << ck::isa_name(i) << " not run: this CPU lacks it ("
                                       << ck::cpu_features() << ")");
            continue;
        }
        ck::force_isa(i);
        BOOST_TEST_CONTEXT("path " << ck::isa_name(i)) { f(); }
    }
    ck::force_isa(before);
}

}  // namespace engine_test
