// SPDX-License-Identifier: Apache-2.0
#include <polyglot/core/error.hpp>

POLYGLOT_BEGIN_NAMESPACE

namespace {
class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "polyglot"; }
    std::string message(int c) const override {
        switch (static_cast<errc>(c)) {
            case errc::ok: return "ok";
            case errc::io: return "I/O error";
            case errc::format: return "malformed input";
            case errc::invalid_argument: return "invalid argument";
            case errc::plugin: return "plugin error";
            case errc::text: return "text processing error";
            case errc::numerical: return "numerical error";
            case errc::unsupported: return "unsupported";
            case errc::bad_record: return "bad record";
        }
        return "unknown polyglot error";
    }
};
}  // namespace

const std::error_category& error_category() noexcept {
    static const category c;
    return c;
}

POLYGLOT_END_NAMESPACE
