// SPDX-License-Identifier: Apache-2.0
// Placeholder until the plugin host lands (issue 4): every request fails with a clear error.
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/services.hpp>

POLYGLOT_BEGIN_NAMESPACE

std::unique_ptr<embedder> open_embedder(std::string_view spec, const backend_options&) {
    throw unsupported_error("embedder '" + std::string(spec) + "': no plugin host in this build");
}

std::unique_ptr<scorer> open_scorer(std::string_view model_dir, const backend_options&) {
    throw unsupported_error("scorer '" + std::string(model_dir) +
                            "': no plugin host in this build");
}

POLYGLOT_END_NAMESPACE
