// SPDX-License-Identifier: Apache-2.0
#include <cstring>
#include <polyglot/core/error.hpp>
#include <polyglot/io/npy.hpp>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace io {
namespace {

std::string header_value(const std::string& h, const std::string& key, const std::string& file) {
    auto k = h.find("'" + key + "'");
    if (k == std::string::npos) k = h.find("\"" + key + "\"");
    if (k == std::string::npos)
        throw format_error(file + ": .npy header has no '" + key + "' (header: " + h + ")");
    auto colon = h.find(':', k);
    if (colon == std::string::npos) throw format_error(file + ": malformed .npy header: " + h);
    std::size_t b = h.find_first_not_of(" \t", colon + 1);
    if (b == std::string::npos) throw format_error(file + ": malformed .npy header: " + h);
    std::size_t e;
    if (h[b] == '(') {
        e = h.find(')', b);
        if (e == std::string::npos) throw format_error(file + ": malformed .npy shape: " + h);
        return h.substr(b, e - b + 1);
    }
    if (h[b] == '\'' || h[b] == '"') {
        e = h.find(h[b], b + 1);
        if (e == std::string::npos) throw format_error(file + ": malformed .npy header: " + h);
        return h.substr(b + 1, e - b - 1);
    }
    e = h.find_first_of(",}", b);
    if (e == std::string::npos) e = h.size();
    std::string v = h.substr(b, e - b);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    return v;
}

}  // namespace

npy_info parse_npy_header(const unsigned char* p, std::uint64_t size, const std::string& file) {
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (size < 10 || std::memcmp(p, magic, 6) != 0)
        throw format_error(file + ": not a .npy file (bad magic)");
    const unsigned major = p[6];
    std::uint64_t hlen, hstart;
    if (major == 1) {
        hlen = p[8] | (std::uint64_t{p[9]} << 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) throw format_error(file + ": truncated .npy header");
        hlen = p[8] | (std::uint64_t{p[9]} << 8) | (std::uint64_t{p[10]} << 16) |
               (std::uint64_t{p[11]} << 24);
        hstart = 12;
    } else {
        throw format_error(file + ": unsupported .npy format version " + std::to_string(major) +
                           " (1, 2 and 3 are supported)");
    }
    if (hstart + hlen > size) throw format_error(file + ": truncated .npy header");
    std::string h(reinterpret_cast<const char*>(p + hstart), static_cast<std::size_t>(hlen));

    npy_info info;
    info.data_offset = hstart + hlen;
    const std::string descr = header_value(h, "descr", file);
    if (descr == "<f4" || descr == "=f4" || descr == "f4") {
        info.item = 4;
    } else if (descr == "<f2" || descr == "=f2" || descr == "f2") {
        info.item = 2;
    } else {
        throw format_error(file + ": dtype '" + descr +
                           "' is not supported; expected little-endian float32 ('<f4') or "
                           "float16 ('<f2') (convert with arr.astype('<f4'))");
    }
    const std::string fortran = header_value(h, "fortran_order", file);
    if (fortran != "False")
        throw format_error(file +
                           ": Fortran-order arrays are not supported; save a C-order "
                           "array (np.ascontiguousarray)");
    std::string shape = header_value(h, "shape", file);  // "(N, D)"
    std::vector<std::uint64_t> dims;
    std::size_t i = 1;
    while (i < shape.size()) {
        while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
        if (i >= shape.size() || shape[i] == ')') break;
        std::size_t j = i;
        std::uint64_t v = 0;
        while (j < shape.size() && shape[j] >= '0' && shape[j] <= '9') {
            if (v > (std::uint64_t{1} << 48))
                throw format_error(file + ": .npy shape " + shape + " is too large");
            v = v * 10 + static_cast<std::uint64_t>(shape[j] - '0');
            ++j;
        }
        if (j == i) throw format_error(file + ": malformed .npy shape " + shape);
        dims.push_back(v);
        i = j;
    }
    if (dims.size() != 2)
        throw format_error(file + ": expected a 2-D array (N vectors x dim), got shape " + shape);
    info.rows = dims[0];
    info.cols = dims[1];
    if (info.cols == 0 && info.rows > 0) throw format_error(file + ": embedding dim is 0");
    if (info.rows > 0 && info.cols > (std::uint64_t{1} << 60) / info.rows)
        throw format_error(file + ": .npy shape " + shape + " is too large");
    const std::uint64_t need = info.data_offset + info.rows * info.cols * info.item;
    if (size < need)
        throw format_error(file + ": truncated: shape " + shape + " needs " + std::to_string(need) +
                           " bytes, the file has " + std::to_string(size));
    return info;
}

/// The .npy v1.0 header of a C-order float32 [rows, cols] matrix (numpy/lib/format.py).
std::string npy_f32_header(std::uint64_t rows, std::uint64_t cols) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
    std::string h = "\x93NUMPY";
    h += '\x01';
    h += '\x00';
    const std::size_t len = npy_f32_header_size - 10;
    h += char(len & 0xff);
    h += char(len >> 8);
    dict.resize(len - 1, ' ');
    return h + dict + "\n";
}

}  // namespace io
POLYGLOT_END_NAMESPACE
