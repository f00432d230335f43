// SPDX-License-Identifier: Apache-2.0
/// @file
/// Configuration and I/O errors: polyglot::error and its subclasses, each with an error code.
/// Per-record data problems are never errors (they are values and counters).
#pragma once

#include <polyglot/version.hpp>

#include <stdexcept>
#include <string>
#include <system_error>

POLYGLOT_BEGIN_NAMESPACE

/// Error codes carried by polyglot::error (stable numbers: they appear in messages).
enum class errc : int {
    ok = 0,
    io = 1,                ///< a file could not be opened, read or written
    format = 2,            ///< a file's content is malformed (JSON, safetensors, tables, ...)
    invalid_argument = 3,  ///< a bad option value or combination
    plugin = 4,            ///< a plugin could not be found, loaded or used
    text = 5,              ///< text processing (ICU) failed
    numerical = 6,         ///< a decomposition or statistic could not be computed
    unsupported = 7,       ///< valid input that this build cannot handle
    bad_record = 8,        ///< a bad input record under --strict
};

/// The std::error_category of polyglot::errc.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Base class of every exception the library throws.
class error : public std::runtime_error {
public:
    error(errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
    [[nodiscard]] errc code() const noexcept { return code_; }

private:
    errc code_;
};

class io_error : public error {
public:
    explicit io_error(const std::string& what) : error(errc::io, what) {}
};
class format_error : public error {
public:
    explicit format_error(const std::string& what) : error(errc::format, what) {}
};
class argument_error : public error {
public:
    explicit argument_error(const std::string& what) : error(errc::invalid_argument, what) {}
};
class plugin_error : public error {
public:
    explicit plugin_error(const std::string& what) : error(errc::plugin, what) {}
};
class text_error : public error {
public:
    explicit text_error(const std::string& what) : error(errc::text, what) {}
};
class numerical_error : public error {
public:
    explicit numerical_error(const std::string& what) : error(errc::numerical, what) {}
};
class unsupported_error : public error {
public:
    explicit unsupported_error(const std::string& what) : error(errc::unsupported, what) {}
};

POLYGLOT_END_NAMESPACE

template <>
struct std::is_error_code_enum<polyglot::errc> : std::true_type {};
