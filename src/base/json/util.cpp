// SPDX-License-Identifier: Apache-2.0
#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// @p text with every integer literal of 20 or more digits (outside strings) turned into a
/// floating-point literal. simdjson (3.0) rejects integers beyond 64 bits as NUMBER_ERROR, and
/// Hugging Face writes such values (tokenizer_config.json's "model_max_length":
/// 1000000000000000019884624838656 means "no limit"); read as a double they lose nothing a
/// model loader uses.
std::string widen_big_integers(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    bool in_string = false;
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < text.size())
                out += text[++i];
            else if (c == '"')
                in_string = false;
            ++i;
        } else if (c == '"') {
            in_string = true;
            out += c;
            ++i;
        } else if (is_digit(c) || (c == '-' && i + 1 < text.size() && is_digit(text[i + 1]))) {
            std::size_t j = i + (c == '-');
            const std::size_t first = j;
            while (j < text.size() && is_digit(text[j])) ++j;
            out.append(text.substr(i, j - i));
            const bool more =
                j < text.size() && (text[j] == '.' || text[j] == 'e' || text[j] == 'E');
            if (!more && j - first >= 20) out += ".0";
            i = j;
        } else {
            out += c;
            ++i;
        }
    }
    return out;
}

}  // namespace

json_document::json_document(const std::filesystem::path& path) : path_(path) {
    simdjson::padded_string text;
    if (auto err = simdjson::padded_string::load(path.string()).get(text); err)
        throw io_error(path.string() + ": cannot read (" + simdjson::error_message(err) + ")");
    parse(text);
}

json_document::json_document(std::string_view text, std::filesystem::path origin)
    : path_(std::move(origin)) {
    parse(simdjson::padded_string(text));
}

void json_document::parse(const simdjson::padded_string& text) {
    auto err = parser_.parse(text).get(root_);
    if (err == simdjson::NUMBER_ERROR)  // perhaps only a >64-bit integer: once more, widened
        err = parser_.parse(simdjson::padded_string(widen_big_integers(text))).get(root_);
    if (err) fail(std::string("malformed JSON: ") + simdjson::error_message(err));
}

void json_document::fail(const std::string& what) const {
    throw format_error(path_.string() + ": " + what);
}

std::optional<simdjson::dom::element> field(simdjson::dom::element obj, std::string_view key) {
    simdjson::dom::object o;
    if (obj.get_object().get(o)) return std::nullopt;
    simdjson::dom::element e;
    if (o.at_key(key).get(e) || e.is_null()) return std::nullopt;
    return e;
}

std::optional<double> as_number(simdjson::dom::element e) {
    switch (e.type()) {
        case simdjson::dom::element_type::DOUBLE:
            return double(e.get_double().value_unsafe());
        case simdjson::dom::element_type::INT64:
            return double(e.get_int64().value_unsafe());
        case simdjson::dom::element_type::UINT64:
            return double(e.get_uint64().value_unsafe());
        default:
            return std::nullopt;
    }
}

std::optional<double> get_number(simdjson::dom::element obj, std::string_view key) {
    auto e = field(obj, key);
    return e ? as_number(*e) : std::nullopt;
}

std::optional<std::int64_t> get_int(simdjson::dom::element obj, std::string_view key) {
    auto e = field(obj, key);
    if (!e) return std::nullopt;
    std::int64_t v;
    if (!e->get_int64().get(v)) return v;
    std::uint64_t u;
    if (!e->get_uint64().get(u)) return static_cast<std::int64_t>(u);
    return std::nullopt;
}

std::optional<bool> get_bool(simdjson::dom::element obj, std::string_view key) {
    auto e = field(obj, key);
    bool v;
    if (!e || e->get_bool().get(v)) return std::nullopt;
    return v;
}

std::optional<std::string> get_string(simdjson::dom::element obj, std::string_view key) {
    auto e = field(obj, key);
    std::string_view v;
    if (!e || e->get_string().get(v)) return std::nullopt;
    return std::string(v);
}

}  // namespace model
POLYGLOT_END_NAMESPACE
