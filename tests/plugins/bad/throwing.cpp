// SPDX-License-Identifier: Apache-2.0
// A plugin whose model throws from inside every operation (std::runtime_error, a non-standard
// type, std::bad_alloc): POLYGLOT_PLUGIN_GUARD must turn each into a status + message.
#include <new>
#include <polyglot/plugin/plugin.hpp>
#include <stdexcept>

namespace {

class throwing_model final : public polyglot::plugin_sdk::model {
  public:
    [[nodiscard]] bool supports(polyglot_op op) const override {
        return op == POLYGLOT_OP_EMBED || op == POLYGLOT_OP_TOKENIZE || op == POLYGLOT_OP_SCORE;
    }
    [[nodiscard]] std::uint32_t dim() const override { return 4; }
    void embed(const polyglot::plugin_sdk::text_batch_view&, float*) const override {
        throw std::runtime_error("throwing plugin: embed exploded");
    }
    void tokenize(std::string_view, std::uint32_t, std::vector<std::int32_t>&) const override {
        throw 42;  // not even an exception class
    }
    void score(const polyglot::plugin_sdk::text_batch_view&,
               const polyglot::plugin_sdk::text_batch_view&, polyglot_score_result*) override {
        throw std::bad_alloc();
    }
};

const polyglot::plugin_sdk::plugin_description& describe() {
    static const polyglot::plugin_sdk::plugin_description d{
        .name = "throwing",
        .version = "0.0.1",
        .description = "test plugin: every operation throws",
        .caps = POLYGLOT_CAP_EMBED | POLYGLOT_CAP_TOKENIZE | POLYGLOT_CAP_SCORE,
        .create = [](std::string_view) -> std::unique_ptr<polyglot::plugin_sdk::model> {
            return std::make_unique<throwing_model>();
        },
    };
    return d;
}

}  // namespace

POLYGLOT_PLUGIN(describe);
