// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: Hugging Face config.json loading (plugins/common/model_config.cpp). Bad
// input must end in a polyglot::error naming the file, never a crash, a hang or a huge
// allocation.
#include <cstdint>
#include <cstdlib>
#include <polyglot/core/error.hpp>
#include <string>

#include "common/model_config.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static polyglot_fuzz::mem_file file("config.json");
    const std::string& path = file.write(data, size);
    try {
        const auto c = polyglot::model::load_model_config(path);
        if (c.layer_types.size() != static_cast<std::size_t>(c.num_layers))
            polyglot_fuzz::invariant_failed();
        if (c.head_dim <= 0 || c.num_heads % c.num_kv_heads != 0) polyglot_fuzz::invariant_failed();
    } catch (const polyglot::error& e) {
        if (std::string(e.what()).find(path) == std::string::npos)
            polyglot_fuzz::invariant_failed();  // every model-file error names the file
    }
    return 0;
}
