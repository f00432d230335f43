// SPDX-License-Identifier: Apache-2.0
// A plugin preferred over cpu (score 100, like a GPU plugin) that proves its device with the
// shared known-answer self-test (plugins/common/runtime/self_test.hpp), wired exactly as the
// cuda plugin wires it (runtime::self_test::plugin_verdict: score, unusable_reason and the
// POLYGLOT_SELF_TEST_PROC extension). Its device is the double-precision reference forward
// pass; built with POLYGLOT_TEST_SPOIL (libpolyglot-selftest_bad.so) every log-prob it returns
// is off by 0.01, five times the f32 tolerance, so its self-test fails and `--backend auto` must
// pass it over; built without (libpolyglot-selftest_good.so) it passes and auto prefers it.
// Neither opens models: create declines every one as UNSUPPORTED.
#include "common/runtime/self_test.hpp"

#include <polyglot/plugin/plugin.hpp>

#include "common/runtime/reference_device.hpp"

namespace {

namespace rt = polyglot::runtime;
namespace st = polyglot::runtime::self_test;

#ifdef POLYGLOT_TEST_SPOIL
constexpr float logprob_offset = 0.01f;
constexpr const char* plugin_name = "selftest_bad";
#else
constexpr float logprob_offset = 0.0f;
constexpr const char* plugin_name = "selftest_good";
#endif

/// The reference device, with its log-probs shifted by logprob_offset.
class test_device final : public rt::device_model {
  public:
    explicit test_device(std::unique_ptr<rt::reference_device> inner) : inner_(std::move(inner)) {}
    const polyglot::model::model_config& config() const noexcept override {
        return inner_->config();
    }
    bool has_lm_head() const noexcept override { return inner_->has_lm_head(); }
    std::string describe_json() const override { return inner_->describe_json(); }
    std::size_t pass_tokens() const noexcept override { return inner_->pass_tokens(); }
    void forward(std::span<const rt::forward_seq> batch) override {
        inner_->forward(batch);
        for (const auto& s : batch)
            for (const auto& o : s.outputs)
                if (o.logprob) *o.logprob += logprob_offset;
    }

  private:
    std::unique_ptr<rt::reference_device> inner_;
};

const st::plugin_verdict& verdict() {
    static const st::plugin_verdict v([] {
        return st::run_all(
            64, polyglot::model::dtype::f32,
            [](const st::known_model& m) -> std::unique_ptr<rt::device_model> {
                return std::make_unique<test_device>(
                    rt::reference_device::create(m.config, m.weights));
            },
            st::tolerance_for(polyglot::model::dtype::f32));
    });
    return v;
}

const char* verdict_json() noexcept {
    try {
        return verdict().json();
    } catch (...) {
        return nullptr;
    }
}

const polyglot::plugin_sdk::plugin_description& describe() {
    static const polyglot::plugin_sdk::plugin_description d{
        .name = plugin_name,
        .version = "0.0.1",
        .description = "test plugin: proves its device with the known-answer self-test",
        .caps = POLYGLOT_CAP_EMBED | POLYGLOT_CAP_SCORE,
        .create = [](std::string_view) -> std::unique_ptr<polyglot::plugin_sdk::model> {
            throw polyglot::unsupported_error("self-test plugin: it opens no models");
        },
        .score = [] { return verdict().passed() ? std::int32_t{100} : std::int32_t{0}; },
        .get_proc_address = [](const char* name) -> void* {
            if (std::string_view(name) == POLYGLOT_SELF_TEST_PROC)
                return reinterpret_cast<void*>(&verdict_json);
            return nullptr;
        },
        .unusable_reason = [] { return verdict().reason().c_str(); },
    };
    return d;
}

}  // namespace

POLYGLOT_PLUGIN(describe);
