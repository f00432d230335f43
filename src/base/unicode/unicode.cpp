// SPDX-License-Identifier: Apache-2.0
#include "base/unicode/unicode.hpp"

#include <simdjson.h>

POLYGLOT_BEGIN_NAMESPACE
namespace model::unicode {

bool valid_utf8(std::string_view s) noexcept {
    return simdjson::validate_utf8(s.data(), s.size());  // SIMD; the same rules as decode_utf8
}

void append_lossy_utf8(std::string& out, std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t i = 0, run = 0;
    while (i < s.size()) {
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        if (decode_utf8(p + i, s.size() - i, len) == invalid_cp) {
            out.append(s.data() + run, i - run);
            out += "\xEF\xBF\xBD";
            run = i + len;
        }
        i += len;
    }
    out.append(s.data() + run, s.size() - run);
}

std::size_t complete_prefix(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    // Only the last 3 bytes can start an incomplete sequence.
    const std::size_t from = n > 3 ? n - 3 : 0;
    for (std::size_t i = from; i < n; ++i) {
        const unsigned b = p[i];
        std::size_t need = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 3;
            lo = b == 0xE0 ? 0xA0 : 0x80;
            hi = b == 0xED ? 0x9F : 0xBF;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 4;
            lo = b == 0xF0 ? 0x90 : 0x80;
            hi = b == 0xF4 ? 0x8F : 0xBF;
        } else {
            continue;
        }
        if (i + need <= n) continue;
        bool prefix_ok = true;
        for (std::size_t k = i + 1; k < n; ++k) {
            const unsigned c = p[k];
            const bool ok = k == i + 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
            if (!ok) {
                prefix_ok = false;
                break;
            }
        }
        if (prefix_ok) return i;
    }
    return n;
}

}  // namespace model::unicode
POLYGLOT_END_NAMESPACE
