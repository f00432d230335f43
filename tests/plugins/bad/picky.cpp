// SPDX-License-Identifier: Apache-2.0
// A usable plugin preferred over cpu (score 50) that declines every model as UNSUPPORTED:
// `--backend auto` must fall back to the next plugin; `--backend picky` must report it.
#include <polyglot/plugin/plugin.hpp>

namespace {

const polyglot::plugin_sdk::plugin_description& describe() {
    static const polyglot::plugin_sdk::plugin_description d{
        .name = "picky",
        .version = "0.0.1",
        .description = "test plugin: preferred, but supports no model",
        .caps = POLYGLOT_CAP_EMBED,
        .create = [](std::string_view) -> std::unique_ptr<polyglot::plugin_sdk::model> {
            throw polyglot::unsupported_error("picky plugin: this model format is not supported");
        },
        .score = [] { return std::int32_t{50}; },
    };
    return d;
}

}  // namespace

POLYGLOT_PLUGIN(describe);
