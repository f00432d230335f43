// SPDX-License-Identifier: Apache-2.0
/// @file NumPy `.npy` headers (numpy/lib/format.py): the reader behind `polyglot distinct-ri`
/// and the float32 writer behind `polyglot embed`. Hand-written: the header is a tiny Python
/// dict literal with three fixed keys, and no Debian C++ library reads .npy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <polyglot/version.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

/// A 2-D C-order float32 or float16 little-endian array.
struct npy_info {
    std::uint64_t rows = 0, cols = 0;
    std::size_t item = 0;  ///< 2 (float16) or 4 (float32)
    std::uint64_t data_offset = 0;
};

/// Parses the header of the @p size bytes at @p p (a whole mapped .npy file, format 1, 2 or 3)
/// and checks that the file holds rows × cols items. Throws format_error naming @p file and
/// what is wrong (bad magic, truncated, unsupported dtype or layout, not 2-D, too large).
npy_info parse_npy_header(const unsigned char* p, std::uint64_t size, const std::string& file);

/// Size of what npy_f32_header() writes (magic + version + length + dict, padded to 64).
inline constexpr std::size_t npy_f32_header_size = 128;

/// The .npy v1.0 header of a C-order float32 [rows, cols] matrix, npy_f32_header_size bytes.
std::string npy_f32_header(std::uint64_t rows, std::uint64_t cols);

}  // namespace io
POLYGLOT_END_NAMESPACE
