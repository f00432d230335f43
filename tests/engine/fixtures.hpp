// SPDX-License-Identifier: Apache-2.0
/// @file Shared helpers of the engine tests: the fixture models and their expected.json.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "../fixture_models.hpp"
#include "base/json/util.hpp"
#include "support/require_asset.hpp"

namespace engine_test {

using fixture_models::fixture;

inline std::vector<std::uint32_t> ids_of(simdjson::dom::element e) {
    std::vector<std::uint32_t> out;
    simdjson::dom::array arr = e.get_array();
    for (auto x : arr) out.push_back(std::uint32_t(std::uint64_t(x.get_uint64())));
    return out;
}

inline std::vector<double> doubles_of(simdjson::dom::element e) {
    std::vector<double> out;
    simdjson::dom::array arr = e.get_array();
    for (auto x : arr) out.push_back(polyglot::model::as_number(x).value());
    return out;
}

inline std::string str_of(simdjson::dom::element e, const char* key) {
    std::string_view v = e[key].get_string();
    return std::string(v);
}

/// The BOS id as the fixture's own files declare it (independent of our tokenizer code):
/// tokenizer_config.json's "bos_token" looked up among tokenizer.json's "added_tokens";
/// nullopt when the model has none (no bos_token, as Qwen3).
inline std::optional<std::uint32_t> declared_bos_id(const std::filesystem::path& dir) {
    polyglot::model::json_document cfg(dir / "tokenizer_config.json");
    auto b = polyglot::model::field(cfg.root(), "bos_token");
    if (!b) return std::nullopt;
    if (b->is_object()) b = polyglot::model::field(*b, "content");  // {"content": ..., ...}
    BOOST_REQUIRE(b && b->is_string());
    const std::string bos(std::string_view(b->get_string()));
    polyglot::model::json_document tok(dir / "tokenizer.json");
    simdjson::dom::array added = tok.root()["added_tokens"].get_array();
    for (auto t : added)
        if (str_of(t, "content") == bos) return std::uint32_t(std::uint64_t(t["id"].get_uint64()));
    BOOST_FAIL(dir.string() + ": bos_token '" + bos +
               "' is not among tokenizer.json's added_tokens");
    return std::nullopt;
}

}  // namespace engine_test
