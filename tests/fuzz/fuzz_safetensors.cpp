// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: safetensors loading (plugins/common/safetensors.cpp). A file that opens must
// hand out tensor views that lie inside the mapping (ASan checks the first and last byte of
// each, and the conversion to float of the small ones); a bad one must end in a
// polyglot::error naming the file.
#include <cstdint>
#include <polyglot/core/error.hpp>
#include <string>
#include <vector>

#include "common/safetensors.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static polyglot_fuzz::mem_file file("model.safetensors");
    const std::string& path = file.write(data, size);
    try {
        const auto w = polyglot::model::weight_set::open(path);
        std::vector<float> buf;
        for (const auto& name : w.names()) {
            const auto* t = w.find(name);
            if (!t) polyglot_fuzz::invariant_failed();
            if (t->nbytes !=
                static_cast<std::uint64_t>(t->numel()) * polyglot::model::dtype_size(t->type))
                polyglot_fuzz::invariant_failed();
            if (t->nbytes > 0) {
                // The mapping is a private copy of the memfd: reads beyond it would fault.
                volatile std::byte first = t->data[0], last = t->data[t->nbytes - 1];
                (void)first;
                (void)last;
            }
            if (t->numel() <= (1 << 16)) {
                buf.resize(static_cast<std::size_t>(t->numel()));
                try {
                    polyglot::model::to_float(*t, buf.data());
                } catch (const polyglot::format_error&) {  // integer dtypes
                }
            }
        }
    } catch (const polyglot::error& e) {
        if (std::string(e.what()).find(path) == std::string::npos)
            polyglot_fuzz::invariant_failed();  // every model-file error names the file
    }
    return 0;
}
