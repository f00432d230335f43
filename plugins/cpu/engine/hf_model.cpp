// SPDX-License-Identifier: Apache-2.0
// polyglot::cpu::make_hf_model: the cpu plugin's Hugging Face models — the shared runtime
// (plugins/common/runtime) over the cpu engine's device part (transformer.hpp). Like the cuda
// plugin, the engine proves itself with the runtime's known-answer self-test
// (common/runtime/self_test.hpp) before a model is used: the kernels are chosen per CPU at run
// time (SSE2, AVX2, AVX-512), so the path a user's machine takes may be one CI never ran.
#include "hf_model.hpp"

#include <memory>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/plugin.hpp>
#include <string>
#include <string_view>

#include "common/cpu_kernels/kernels.hpp"
#include "common/runtime/lm_runtime.hpp"
#include "common/runtime/self_test.hpp"
#include "engine/transformer.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cpu {
namespace {

namespace st = runtime::self_test;
using dtype = ::polyglot::model::dtype;

/// The engine for a known-answer model, with the options of the model under test.
st::device_factory engine_factory(const engine::transformer::options& eo) {
    return [eo](const st::known_model& m) -> std::unique_ptr<runtime::device_model> {
        return engine::transformer::create(m.config, m.weights, eo);
    };
}

/// The engine widens 16-bit weights and computes in f32: the f32 limits hold for every
/// stored dtype (engine_self_test_test).
const st::tolerance& tolerance() {
    static const st::tolerance t = st::tolerance_for(dtype::f32);
    return t;
}

/// `polyglot backends`' verdict: every architecture path with f32 weights (head size 64) and
/// bf16 weights (head size 128) on this process's kernel path. Run on first request only, so
/// that probing the plugin (every `--backend auto`) costs nothing; a model is checked at load.
const char* self_test_json() noexcept {
    try {
        static const st::plugin_verdict v([] {
            auto r = st::run_all(64, dtype::f32, engine_factory({}), tolerance());
            r.append(st::run_all(128, dtype::bf16, engine_factory({}), tolerance()));
            return r;
        });
        return v.json();
    } catch (...) {
        return nullptr;
    }
}

dtype known_weights(dtype stored) {
    return stored == dtype::bf16 || stored == dtype::f16 ? stored : dtype::f32;
}

}  // namespace

std::unique_ptr<model> make_hf_model(const model_request& r) {
    if (!r.dtype.empty() && r.dtype != "f32")
        throw unsupported_error("model '" + r.path.string() + "': dtype '" + r.dtype +
                                "': the cpu engine computes in f32 only");
    const runtime::options o = runtime::parse_options(r.config_json);
    engine::transformer::options eo;
    eo.threads = r.threads;
    eo.pass_tokens = r.batch_tokens;
    auto rt = runtime::lm_runtime::open(r.path, o, [&](const std::filesystem::path& dir) {
        auto dev = engine::transformer::load(dir, eo);
        // The known-answer model closest to this one (architecture path, head size, weight
        // dtype) on the same kernels and threads; a mismatch refuses the model with the numbers.
        const auto res = st::run_for(dev->config(), known_weights(dev->stored_dtype()),
                                     engine_factory(eo), tolerance());
        if (!res.passed())
            throw plugin_sdk::status_error(
                POLYGLOT_STATUS_DEVICE_ERROR,
                "cpu backend: the known-answer self-test for this model's architecture (" +
                    dev->weight_dtype() + " weights, " +
                    std::string(cpu_kernels::isa_name(cpu_kernels::kernels().level)) +
                    " kernels) failed, so its numbers cannot be trusted: " + res.summary() +
                    " (POLYGLOT_CPU_ISA=sse2 selects the baseline kernels)");
        dev->set_self_test(res.summary());
        return dev;
    });
    return runtime::make_plugin_model(std::move(rt));
}

void* hf_model_proc(const char* name) {
    if (std::string_view(name) == POLYGLOT_SELF_TEST_PROC)
        return reinterpret_cast<void*>(&self_test_json);
    return nullptr;
}

}  // namespace cpu
POLYGLOT_END_NAMESPACE
