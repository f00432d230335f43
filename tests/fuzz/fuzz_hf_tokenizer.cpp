// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: tokenizer.json loading and encoding (src/base/tokenizers/hf/hf_tokenizer.hpp).
// The input is a tokenizer.json, then (after the first NUL byte) a text to encode with and
// without special tokens. Loading must succeed or end in a polyglot::error naming the file; every id
// encode() returns must be inside the tokenizer's id space.
#include <cstdint>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <string>
#include <string_view>

#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static polyglot_fuzz::mem_file file("tokenizer.json");
    const char* p = reinterpret_cast<const char*>(data);
    const char* nul = static_cast<const char*>(std::memchr(p, 0, size));
    const std::size_t json_size = nul ? static_cast<std::size_t>(nul - p) : size;
    const std::string_view text = nul ? std::string_view(nul + 1, size - json_size - 1)
                                      : std::string_view("Hello wörld 12 ☃ <s>x</s>");
    const std::string& path = file.write(p, json_size);
    std::shared_ptr<const polyglot::model::hf_tokenizer> tok;
    try {
        tok = polyglot::model::hf_tokenizer::load(path);
    } catch (const polyglot::error& e) {
        if (std::string(e.what()).find(path) == std::string::npos)
            polyglot_fuzz::invariant_failed();  // every model-file error names the file
        return 0;
    }
    for (bool specials : {false, true}) {
        const auto ids = tok->encode(text, {.add_special_tokens = specials});
        for (auto id : ids)
            if (id >= tok->vocab_size()) polyglot_fuzz::invariant_failed();
    }
    return 0;
}
