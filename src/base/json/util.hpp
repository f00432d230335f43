// SPDX-License-Identifier: Apache-2.0
/// @file Small helpers over simdjson's DOM for the model loaders: typed optional lookups whose
/// errors name the file and the key.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <polyglot/core/error.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

/// A parsed JSON document that owns its parser (simdjson elements borrow from it).
class json_document {
  public:
    /// Reads and parses @p path; io_error when unreadable, format_error when malformed.
    explicit json_document(const std::filesystem::path& path);
    /// Parses @p text; @p origin names it in errors.
    json_document(std::string_view text, std::filesystem::path origin);
    json_document(const json_document&) = delete;
    json_document& operator=(const json_document&) = delete;

    [[nodiscard]] simdjson::dom::element root() const { return root_; }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    /// "FILE: what" as a format_error.
    [[noreturn]] void fail(const std::string& what) const;

  private:
    void parse(const simdjson::padded_string& text);

    std::filesystem::path path_;
    simdjson::dom::parser parser_;
    simdjson::dom::element root_;
};

/// Field @p key of object @p obj, or nullopt when absent or JSON null.
std::optional<simdjson::dom::element> field(simdjson::dom::element obj, std::string_view key);
std::optional<double> get_number(simdjson::dom::element obj, std::string_view key);
std::optional<std::int64_t> get_int(simdjson::dom::element obj, std::string_view key);
std::optional<bool> get_bool(simdjson::dom::element obj, std::string_view key);
std::optional<std::string> get_string(simdjson::dom::element obj, std::string_view key);
/// A number of any JSON numeric type as double; nullopt for other types.
std::optional<double> as_number(simdjson::dom::element e);

}  // namespace model
POLYGLOT_END_NAMESPACE
