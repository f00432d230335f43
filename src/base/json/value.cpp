// SPDX-License-Identifier: Apache-2.0
// json::json_value trees (include/polyglot/json/value.hpp), parsed with simdjson's DOM API.
#include <simdjson.h>

#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace json {
namespace {

json_value convert(simdjson::dom::element e) {
    using simdjson::dom::element_type;
    switch (e.type()) {
        case element_type::ARRAY: {
            json_value::array a;
            for (auto child : e.get_array()) a.push_back(convert(child));
            return json_value(std::move(a));
        }
        case element_type::OBJECT: {
            json_value::object o;
            for (auto field : e.get_object())
                o.push_back(json_member{std::string(field.key), convert(field.value)});
            return json_value(std::move(o));
        }
        case element_type::INT64:
            return json_value(static_cast<double>(int64_t(e)));
        case element_type::UINT64:
            return json_value(static_cast<double>(uint64_t(e)));
        case element_type::DOUBLE:
            return json_value(double(e));
        case element_type::STRING:
            return json_value(std::string(std::string_view(e)));
        case element_type::BOOL:
            return json_value(bool(e));
        case element_type::NULL_VALUE:
            return json_value();
    }
    return json_value();
}

json_value parse_one(simdjson::dom::parser& parser, std::string_view text,
                     const std::string& where) {
    simdjson::padded_string padded(text);
    simdjson::dom::element root;
    auto err = parser.parse(padded).get(root);
    if (err) throw format_error(where + ": invalid JSON: " + simdjson::error_message(err));
    return convert(root);
}

std::string_view strip_bom(std::string_view text) {
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    return text;
}

}  // namespace

json_value parse_json(std::string_view text, const std::string& source) {
    simdjson::dom::parser parser;
    return parse_one(parser, strip_bom(text), source);
}

void for_each_json_line(std::string_view text, const std::string& source,
                        const std::function<void(std::size_t line, json_value&& value)>& on_value,
                        const std::function<void(std::size_t line, std::string_view text,
                                                 const format_error& e)>& on_error) {
    text = strip_bom(text);
    simdjson::dom::parser parser;
    std::size_t line = 0, pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view l = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line;
        while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t'))
            l.remove_suffix(1);
        while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
        if (l.empty()) continue;
        json_value v;
        try {
            v = parse_one(parser, l, source + ":" + std::to_string(line));
        } catch (const format_error& e) {
            if (!on_error) throw;
            on_error(line, l, e);
            continue;
        }
        on_value(line, std::move(v));
    }
}

std::vector<std::pair<std::size_t, json_value>> parse_json_lines(std::string_view text,
                                                                 const std::string& source) {
    std::vector<std::pair<std::size_t, json_value>> out;
    for_each_json_line(text, source, [&](std::size_t line, json_value&& v) {
        out.emplace_back(line, std::move(v));
    });
    return out;
}

json_value read_json_file(const std::string& path) { return parse_json(io::read_file(path), path); }

}  // namespace json
POLYGLOT_END_NAMESPACE
