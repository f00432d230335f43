// SPDX-License-Identifier: Apache-2.0
/// @file The python3-jsonschema oracle (tests/oracles/json_schema_oracle.py) for the constrained
/// decoding tests.
#pragma once

#include <simdjson.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <polyglot/io/json_writer.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace constrained_test {

struct oracle_result {
    bool valid = false;  ///< strict JSON that the schema accepts
    bool json = false;   ///< strict JSON
};

/// Runs the oracle over (schema JSON, text) pairs.
inline std::vector<oracle_result> oracle(
    const std::vector<std::pair<std::string, std::string>>& cases) {
    namespace fs = std::filesystem;
    const fs::path in = fs::temp_directory_path() /
                        ("polyglot_json_schema_" + std::to_string(::getpid()) + ".jsonl");
    {
        std::ofstream f(in, std::ios::binary);
        for (const auto& [schema, text] : cases) {
            polyglot::io::json_writer w;
            w.begin_object().key("schema").raw(schema).kv("text", text).end_object();
            f << w.str() << "\n";
        }
    }
    const std::string cmd = "/usr/bin/python3 tests/oracles/json_schema_oracle.py " + in.string();
    std::FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_REQUIRE_MESSAGE(p, "cannot run " + cmd);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int st = ::pclose(p);
    fs::remove(in);
    BOOST_REQUIRE_MESSAGE(st == 0, cmd +
                                       " failed (python3-jsonschema is installed by "
                                       "scripts/bootstrap)");
    std::vector<oracle_result> res;
    std::istringstream lines(out);
    std::string line;
    simdjson::dom::parser parser;
    while (std::getline(lines, line)) {
        simdjson::dom::element e = parser.parse(line);
        res.push_back({bool(e["valid"]), bool(e["json"])});
    }
    BOOST_REQUIRE_EQUAL(res.size(), cases.size());
    return res;
}

}  // namespace constrained_test
