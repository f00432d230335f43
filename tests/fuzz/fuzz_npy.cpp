// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: .npy headers (src/io/npy.cpp, behind `polyglot distinct-ri`). A header that
// parses must describe data that lies inside the file: distinct-ri maps the file and reads
// rows × cols items from data_offset without further checks.
#include <cstdint>
#include <polyglot/core/error.hpp>
#include <polyglot/io/npy.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const auto info = polyglot::io::parse_npy_header(data, size, "fuzz.npy");
        if (info.item != 2 && info.item != 4) polyglot_fuzz::invariant_failed();
        if (info.rows > 0 && info.cols == 0) polyglot_fuzz::invariant_failed();
        if (info.data_offset > size) polyglot_fuzz::invariant_failed();
        const unsigned __int128 bytes =
            static_cast<unsigned __int128>(info.rows) * info.cols * info.item;
        if (bytes > size - info.data_offset) polyglot_fuzz::invariant_failed();
        // Touch the last data byte (ASan: inside the input buffer).
        if (bytes > 0) {
            volatile std::uint8_t last =
                data[info.data_offset + static_cast<std::size_t>(bytes) - 1];
            (void)last;
        }
    } catch (const polyglot::format_error&) {
    }
    return 0;
}
