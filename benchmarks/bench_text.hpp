// SPDX-License-Identifier: Apache-2.0
/// @file Text shared by the benchmarks: benchmarks/data/multilingual_sentences.json (sentences in
/// 16 scripts/languages, also read by benchmarks/chat_template_vs_jinja2.py).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <polyglot/json/value.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace polyglot::bench {

inline const std::vector<std::string>& multilingual_sentences() {
    static const std::vector<std::string> out = [] {
        const std::string path =
            std::string(POLYGLOT_SOURCE_DIR) + "/benchmarks/data/multilingual_sentences.json";
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "cannot open %s\n", path.c_str());
            std::exit(1);
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        const auto doc = polyglot::analysis::parse_json(ss.str(), path);
        std::vector<std::string> v;
        for (const auto& s : doc.as_array()) v.push_back(s.as_string());
        return v;
    }();
    return out;
}

}  // namespace polyglot::bench
