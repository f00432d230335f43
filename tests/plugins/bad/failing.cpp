// SPDX-License-Identifier: Apache-2.0
// A plugin built with the SDK whose create always fails (with an io_error naming the model).
#include <polyglot/plugin/plugin.hpp>

namespace {

const polyglot::plugin_sdk::plugin_description& describe() {
    static const polyglot::plugin_sdk::plugin_description d{
        .name = "failing",
        .version = "0.0.1",
        .description = "test plugin: create fails",
        .caps = POLYGLOT_CAP_EMBED,
        .create = [](std::string_view cfg) -> std::unique_ptr<polyglot::plugin_sdk::model> {
            throw polyglot::io_error("failing plugin: cannot open model (config " +
                                     std::string(cfg) + ")");
        },
    };
    return d;
}

}  // namespace

POLYGLOT_PLUGIN(describe);
