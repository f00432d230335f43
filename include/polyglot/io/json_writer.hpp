// SPDX-License-Identifier: Apache-2.0
/// @file A small streaming JSON writer (reports, per-instance lines, --json outputs).
/// Hand-written because simdjson only parses, and the output side needs nothing more than
/// correct escaping and round-trip doubles. Not thread-safe; one writer per output.
#pragma once

#include <polyglot/version.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

/// The double whose shortest form equals @p f's shortest float form (0.9f → 0.9, not
/// 0.8999999761581421): for reporting float settings as the user wrote them.
inline double float_as_written(float f) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, f);
    double d = 0;
    std::from_chars(buf, r.ptr, d);
    return d;
}

class json_writer {
public:
    /// @param indent 0 writes compact JSON on one line; >0 pretty-prints with that many spaces.
    explicit json_writer(int indent = 0) : indent_(indent) {}

    json_writer& begin_object() { return open('{'); }
    json_writer& end_object() { return close('}'); }
    json_writer& begin_array() { return open('['); }
    json_writer& end_array() { return close(']'); }

    /// Writes an object key; the next call writes its value.
    json_writer& key(std::string_view k) {
        separator();
        append_string(k);
        out_ += indent_ ? ": " : ":";
        after_key_ = true;
        return *this;
    }

    json_writer& value(std::string_view s) {
        separator();
        append_string(s);
        return *this;
    }
    json_writer& value(const char* s) { return value(std::string_view(s)); }
    json_writer& value(bool b) {
        separator();
        out_ += b ? "true" : "false";
        return *this;
    }
    json_writer& value(std::nullptr_t) {
        separator();
        out_ += "null";
        return *this;
    }
    /// Doubles are written in the shortest form that round-trips; NaN and infinities (not
    /// representable in JSON) are written as null.
    json_writer& value(double d) {
        separator();
        if (!std::isfinite(d)) {
            out_ += "null";
            return *this;
        }
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, d);
        out_.append(buf, r.ptr);
        return *this;
    }
    json_writer& value(float f) { return value(static_cast<double>(f)); }
    template <class Int>
        requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool>)
    json_writer& value(Int i) {
        separator();
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, i);
        out_.append(buf, r.ptr);
        return *this;
    }
    /// Inserts an already-serialized JSON value verbatim.
    json_writer& raw(std::string_view json) {
        separator();
        out_ += json;
        return *this;
    }

    template <class T>
    json_writer& kv(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }

    /// `"k": {...}` from a map of names to values (the counters reports keep by reason).
    template <class Map>
    json_writer& kv_object(std::string_view k, const Map& m) {
        key(k).begin_object();
        for (const auto& [name, v] : m) kv(name, v);
        return end_object();
    }

    [[nodiscard]] const std::string& str() const noexcept { return out_; }
    std::string take() { return std::move(out_); }
    void clear() {
        out_.clear();
        stack_.clear();
        after_key_ = false;
    }

    static void escape_to(std::string& out, std::string_view s) {
        static constexpr char hex[] = "0123456789abcdef";
        for (unsigned char c : s) {
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default:
                    if (c < 0x20) {
                        out += "\\u00";
                        out += hex[c >> 4];
                        out += hex[c & 15];
                    } else {
                        out += static_cast<char>(c);
                    }
            }
        }
    }

private:
    struct level {
        char close;
        bool first = true;
    };

    json_writer& open(char c) {
        separator();
        out_ += c;
        stack_.push_back({c == '{' ? '}' : ']'});
        return *this;
    }
    json_writer& close(char c) {
        bool empty = stack_.back().first;
        stack_.pop_back();
        if (!empty) newline();
        out_ += c;
        return *this;
    }
    void separator() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (stack_.empty()) return;
        if (!stack_.back().first) out_ += ',';
        stack_.back().first = false;
        newline();
    }
    void newline() {
        if (!indent_) return;
        out_ += '\n';
        out_.append(stack_.size() * static_cast<std::size_t>(indent_), ' ');
    }
    void append_string(std::string_view s) {
        out_ += '"';
        escape_to(out_, s);
        out_ += '"';
    }

    std::string out_;
    std::vector<level> stack_;
    int indent_;
    bool after_key_ = false;
};

}  // namespace io
POLYGLOT_END_NAMESPACE
