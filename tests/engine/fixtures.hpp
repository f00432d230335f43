// SPDX-License-Identifier: Apache-2.0
/// @file Shared helpers of the engine tests: the fixture models and their expected.json.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "../fixture_models.hpp"
#include "common/json_util.hpp"

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

}  // namespace engine_test
