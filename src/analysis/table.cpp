// SPDX-License-Identifier: Apache-2.0
// Table readers: CSV (quoted fields, quoted newlines, CRLF), JSON Lines and JSON.
#include <filesystem>
#include <polyglot/analysis/table.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {
namespace {

cell cell_from_json(const json_value& v) {
    if (v.is_null()) return std::monostate{};
    if (v.is_number()) return v.as_number();
    if (v.is_string()) return v.as_string();
    if (v.is_bool()) return v.as_bool() ? 1.0 : 0.0;
    return std::string("<") + v.type_name() + ">";
}

void add_object_row(table& t, const json_value& obj, std::size_t line, const std::string& where) {
    if (!obj.is_object())
        throw format_error(where + ": expected a JSON object, got " + obj.type_name());
    std::vector<cell> row(t.columns.size());
    for (const auto& m : obj.as_object()) {
        std::size_t c = t.find_column(m.key).value_or(t.columns.size());
        if (c == t.columns.size()) {
            c = t.add_column(m.key);
            row.emplace_back();
        }
        row[c] = cell_from_json(m.value);
    }
    t.rows.push_back(std::move(row));
    t.lines.push_back(line);
}

}  // namespace

table parse_csv(std::string_view text, const std::string& source, char delimiter) {
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    table t;
    t.source = source;
    std::size_t pos = 0, line = 1;
    bool header_done = false;
    while (pos < text.size()) {
        const std::size_t record_line = line;
        std::vector<std::string> fields;
        std::vector<bool> quoted;
        std::string field;
        bool in_quotes = false, was_quoted = false, end_of_record = false;
        while (pos < text.size() && !end_of_record) {
            char ch = text[pos++];
            if (in_quotes) {
                if (ch == '"') {
                    if (pos < text.size() && text[pos] == '"') {
                        field += '"';
                        ++pos;
                    } else {
                        in_quotes = false;
                    }
                } else {
                    if (ch == '\n') ++line;
                    field += ch;
                }
                continue;
            }
            if (ch == '"' && field.empty() && !was_quoted) {
                in_quotes = was_quoted = true;
            } else if (ch == delimiter) {
                fields.push_back(std::move(field));
                quoted.push_back(was_quoted);
                field.clear();
                was_quoted = false;
            } else if (ch == '\n') {
                ++line;
                end_of_record = true;
            } else if (ch == '\r') {
                // CR of CRLF: dropped
            } else if (was_quoted) {
                throw format_error(source + ":" + std::to_string(line) +
                                   ": text after a closing quote in field " +
                                   std::to_string(fields.size() + 1));
            } else {
                field += ch;
            }
        }
        if (in_quotes)
            throw format_error(source + ":" + std::to_string(record_line) +
                               ": unterminated quoted field");
        fields.push_back(std::move(field));
        quoted.push_back(was_quoted);
        if (fields.size() == 1 && fields[0].empty() && !quoted[0]) continue;  // blank line
        if (!header_done) {
            for (auto& f : fields) {
                if (f.empty())
                    throw format_error(source + ":" + std::to_string(record_line) +
                                       ": empty column name in the header");
                if (t.find_column(f))
                    throw format_error(source + ":" + std::to_string(record_line) +
                                       ": duplicate column name '" + f + "' in the header");
                t.columns.push_back(f);
            }
            header_done = true;
            continue;
        }
        if (fields.size() != t.columns.size())
            throw format_error(source + ":" + std::to_string(record_line) + ": " +
                               std::to_string(fields.size()) + " fields but the header has " +
                               std::to_string(t.columns.size()));
        std::vector<cell> row;
        row.reserve(fields.size());
        for (std::size_t i = 0; i < fields.size(); ++i) {
            if (fields[i].empty() && !quoted[i])
                row.emplace_back(std::monostate{});
            else
                row.emplace_back(std::move(fields[i]));
        }
        t.rows.push_back(std::move(row));
        t.lines.push_back(record_line);
    }
    if (!header_done) throw format_error(source + ": empty CSV file (no header)");
    return t;
}

table parse_jsonl_table(std::string_view text, const std::string& source) {
    table t;
    t.source = source;
    for (auto& [line, v] : parse_json_lines(text, source))
        add_object_row(t, v, line, source + ":" + std::to_string(line));
    return t;
}

table table_from_json(const json_value& v, const std::string& source) {
    table t;
    t.source = source;
    const json_value* arr = &v;
    if (v.is_object()) {
        arr = v.find("rows");
        if (!arr)
            throw format_error(source + ": expected a JSON array of objects or {\"rows\": [...]}");
    }
    if (!arr->is_array())
        throw format_error(source + ": expected a JSON array of objects, got " + arr->type_name());
    std::size_t i = 0;
    for (const auto& row : arr->as_array()) {
        ++i;
        add_object_row(t, row, 0, source + ": row " + std::to_string(i));
    }
    return t;
}

table read_table(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string text = io::read_file(path);
    if (ext == ".csv") return parse_csv(text, path, ',');
    if (ext == ".tsv") return parse_csv(text, path, '\t');
    if (ext == ".jsonl" || ext == ".ndjson") return parse_jsonl_table(text, path);
    if (ext == ".json") return table_from_json(parse_json(text, path), path);
    throw format_error(path + ": unknown table format '" + ext +
                       "' (expected .csv, .tsv, .jsonl or .json)");
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
