// SPDX-License-Identifier: Apache-2.0
/// @file What a model spec names: a local path, or a serving engine's URL with the model after
/// '#' (`http://gpu-node-3:8000/v1#google/gemma-3-4b-pt`). One place for the rule, shared by the
/// host (a URL selects the remote backend under `--backend auto`) and the remote plugin.
/// Header-only, standard library only (plugins include it).
#pragma once

#include <polyglot/version.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE

/// True when @p spec names a model on a server (http:// or https://), never for a local path.
inline bool is_url_spec(std::string_view spec) noexcept {
    auto starts = [&](std::string_view p) {
        if (spec.size() < p.size()) return false;
        for (std::size_t i = 0; i < p.size(); ++i) {
            char c = spec[i];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (c != p[i]) return false;
        }
        return true;
    };
    return starts("http://") || starts("https://");
}

/// A URL spec split at its last '#': the server URL and the model ("" = the server's only
/// model).
struct url_spec {
    std::string url;
    std::string model;
};

inline url_spec split_url_spec(std::string_view spec) {
    const auto hash = spec.rfind('#');
    if (hash == std::string_view::npos) return {std::string(spec), {}};
    return {std::string(spec.substr(0, hash)), std::string(spec.substr(hash + 1))};
}

/// The URL without credentials, query or fragment (for reports and messages):
/// `http://user:pw@host:8000/v1?x=y` → `http://host:8000/v1`.
inline std::string display_url(std::string_view url) {
    std::string_view u = url;
    if (auto q = u.find_first_of("?#"); q != std::string_view::npos) u = u.substr(0, q);
    const auto scheme = u.find("://");
    if (scheme == std::string_view::npos) return std::string(u);
    const auto host_begin = scheme + 3;
    const auto path = u.find('/', host_begin);
    const auto at = u.rfind('@', path == std::string_view::npos ? u.size() : path);
    if (at != std::string_view::npos && at >= host_begin)
        return std::string(u.substr(0, host_begin)) + std::string(u.substr(at + 1));
    return std::string(u);
}

POLYGLOT_END_NAMESPACE
