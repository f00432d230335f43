// SPDX-License-Identifier: Apache-2.0
// A plugin that reports it cannot run here (score 0) and says why, like a GPU plugin on a
// machine without a GPU.
#include <polyglot/plugin/plugin.hpp>

namespace {

const polyglot::plugin_sdk::plugin_description& describe() {
    static const polyglot::plugin_sdk::plugin_description d{
        .name = "unusable",
        .version = "0.0.1",
        .description = "test plugin: never usable",
        .caps = POLYGLOT_CAP_EMBED,
        .create = [](std::string_view) -> std::unique_ptr<polyglot::plugin_sdk::model> {
            throw polyglot::plugin_sdk::status_error(POLYGLOT_STATUS_DEVICE_ERROR, "no device");
        },
        .score = [] { return std::int32_t{0}; },
        .unusable_reason = [] { return "no test accelerator on this machine"; },
    };
    return d;
}

}  // namespace

POLYGLOT_PLUGIN(describe);
