// SPDX-License-Identifier: Apache-2.0
// JSONL ingest: block reader + simdjson DOM parsing of each line into a record.
#include <simdjson.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/io/jsonl.hpp>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

namespace {
constexpr std::size_t padding = 64;
static_assert(padding >= simdjson::SIMDJSON_PADDING);

void ensure_padding(std::string& s) {
    if (s.capacity() < s.size() + padding) s.reserve(s.size() + padding);
}
}  // namespace

// ---- line_reader --------------------------------------------------------------------------

line_reader::line_reader(std::string path, std::uint32_t file_index, const jsonl_options& opts)
    : path_(std::move(path)), file_(file_index), opts_(opts) {
    if (opts_.read_block_bytes == 0) opts_.read_block_bytes = std::size_t{1} << 20;
    if (opts_.chunk_lines == 0) opts_.chunk_lines = 1;
    src_ = open_source(path_);
    struct stat st {};
    if (path_ != "-" && ::stat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode))
        size_hint_ = static_cast<std::uint64_t>(st.st_size);
}

line_reader::~line_reader() = default;

void line_reader::fill() {
    auto read_block = [&] {
        const std::size_t old = buf_.size();
        buf_.resize(old + opts_.read_block_bytes);
        std::size_t n = 0;
        try {
            n = src_->read(buf_.data() + old, opts_.read_block_bytes);
        } catch (const io_error& e) {
            // Name the line the bad data falls in: lines counted so far, plus whole lines
            // buffered.
            const std::uint64_t line = line_no_ + 1 +
                                       static_cast<std::uint64_t>(std::count(
                                           buf_.begin() + static_cast<std::ptrdiff_t>(cur_),
                                           buf_.begin() + static_cast<std::ptrdiff_t>(old), '\n'));
            throw io_error(path_ + ":" + std::to_string(line) + ": " + e.what());
        }
        buf_.resize(old + n);
        if (n == 0) eof_ = true;
        read_ += n;
    };
    const std::size_t old = buf_.size();
    read_block();
    if (!started_) {
        started_ = true;
        // A UTF-8 byte order mark at the start of the file is not part of the first record.
        // Its bytes may come in over several reads (small blocks): read on until three are in
        // or the input ends, so that what is stripped never depends on the block size.
        while (!eof_ && buf_.size() - old < 3) read_block();
        if (buf_.size() - old >= 3 && std::memcmp(buf_.data() + old, "\xEF\xBB\xBF", 3) == 0)
            buf_.erase(old, 3);
    }
}

void line_reader::push_line(line_chunk& out, std::size_t begin, std::size_t end) {
    line_chunk::line l;
    l.number = ++line_no_;
    if (end > begin && buf_[end - 1] == '\r') --end;
    l.offset = begin;
    l.size = end - begin;
    if (l.size > opts_.max_line_bytes) {
        l.too_long = true;
        l.size = 0;
    }
    out.lines.push_back(l);
}

void line_reader::skip_long_line(line_chunk& out) {
    line_chunk::line l;
    l.number = ++line_no_;
    l.offset = cur_;
    l.too_long = true;
    out.lines.push_back(l);
    // Drop what we hold of the line and stream past the rest, one block at a time.
    buf_.resize(cur_);
    for (;;) {
        if (eof_) return;
        const std::size_t before = buf_.size();
        fill();
        const char* p =
            static_cast<const char*>(std::memchr(buf_.data() + before, '\n', buf_.size() - before));
        if (p) {
            buf_.erase(before, static_cast<std::size_t>(p - buf_.data()) + 1 - before);
            return;
        }
        buf_.resize(before);
    }
}

bool line_reader::next(line_chunk& out, std::uint64_t max_lines) {
    out.lines.clear();
    out.bytes.clear();
    out.file = file_;
    if (!started_) fill();
    scan_ = std::max(scan_, cur_);
    const std::uint64_t want = std::min<std::uint64_t>(opts_.chunk_lines, max_lines);
    while (out.lines.size() < want) {
        const char* base = buf_.data();
        const char* nl =
            static_cast<const char*>(std::memchr(base + scan_, '\n', buf_.size() - scan_));
        if (nl) {
            const auto e = static_cast<std::size_t>(nl - base);
            push_line(out, cur_, e);
            cur_ = scan_ = e + 1;
            continue;
        }
        scan_ = buf_.size();
        // Too long already? A '\r' at the end of what we hold may be the one push_line strips
        // before the '\n': it does not count (so the verdict never depends on the block size).
        const std::size_t held = buf_.size() - cur_;
        if (held > opts_.max_line_bytes + (held > 0 && buf_.back() == '\r' ? 1 : 0)) {
            skip_long_line(out);
            scan_ = cur_;
            continue;
        }
        if (eof_) {
            if (cur_ < buf_.size()) push_line(out, cur_, buf_.size());
            cur_ = scan_ = buf_.size();
            break;
        }
        fill();
    }
    out.input_bytes_end = src_->raw_position();
    if (out.lines.empty()) return false;
    // Hand the consumed bytes to the chunk; keep the unconsumed tail for the next one.
    std::string tail = buf_.substr(cur_);
    out.bytes.swap(buf_);
    out.bytes.resize(cur_);
    ensure_padding(out.bytes);
    buf_ = std::move(tail);
    scan_ -= cur_;
    cur_ = 0;
    return true;
}

std::uint64_t line_reader::skip_lines(std::uint64_t n) {
    if (!started_) fill();
    std::uint64_t done = 0;
    bool partial = false;  // bytes of the current line were dropped to bound memory
    while (done < n) {
        const char* base = buf_.data();
        const char* nl =
            static_cast<const char*>(std::memchr(base + cur_, '\n', buf_.size() - cur_));
        if (nl) {
            cur_ = static_cast<std::size_t>(nl - base) + 1;
            ++done;
            ++line_no_;
            partial = false;
            continue;
        }
        if (eof_) {
            if (cur_ < buf_.size() || partial) {  // a last line without '\n'
                ++done;
                ++line_no_;
                cur_ = buf_.size();
            }
            break;
        }
        partial = partial || cur_ < buf_.size();
        buf_.clear();
        cur_ = 0;
        fill();
    }
    buf_.erase(0, cur_);
    cur_ = scan_ = 0;
    return done;
}

// ---- parse_chunk ----------------------------------------------------------------------------

namespace {

struct span_ref {
    std::size_t off = 0, len = 0;
    bool external = false;  ///< points into opts.lang, not the arena
};

struct pending {
    span_ref prompt, response, lang, id;
    std::uint64_t line = 0;
};

class line_parser {
  public:
    line_parser(const jsonl_options& opts, parsed_chunk& out) : opts_(opts), out_(out) {}

    void parse(std::string_view text, std::uint64_t line) {
        line_ = line;
        simdjson::dom::element doc;
        auto err = parser().parse(text.data(), text.size(), false).get(doc);
        if (err) {
            if (err == simdjson::UTF8_ERROR)
                return skip("invalid_utf8", "the line is not valid UTF-8");
            return skip("malformed_json", simdjson::error_message(err));
        }
        simdjson::dom::object obj;
        if (doc.get_object().get(obj)) return skip("not_an_object", type_name(doc));
        pending p;
        p.line = line;
        simdjson::dom::element pe;
        const bool has_prompt = !obj.at_key(opts_.prompt_field).get(pe);
        simdjson::dom::element msgs;
        if (!has_prompt && !obj.at_key("messages").get(msgs)) {
            if (!from_messages(msgs, p)) return;
        } else {
            if (!string_field(obj, opts_.prompt_field, p.prompt)) return;
            if (!string_field(obj, opts_.response_field, p.response)) return;
        }
        if (!opts_.lang.empty()) {
            p.lang = {0, opts_.lang.size(), true};
        } else {
            for (const char* k : {"language", "target_lang"}) {
                std::string_view s;
                if (!obj.at_key(k).get_string().get(s)) {
                    p.lang = store(s);
                    break;
                }
            }
        }
        simdjson::dom::element id;
        if (!obj.at_key("id").get(id)) {
            std::string_view s;
            std::int64_t i = 0;
            std::uint64_t u = 0;
            if (!id.get_string().get(s)) {
                p.id = store(s);
            } else if (!id.get_int64().get(i)) {
                p.id = store_number(i);
            } else if (!id.get_uint64().get(u)) {
                p.id = store_number(u);
            }
        }
        pending_.push_back(p);
    }

    void skip(std::string reason, std::string detail = {}) {
        out_.skips.push_back({line_, std::move(reason), std::move(detail)});
    }

    void finish() {
        const std::string_view arena(out_.arena);
        auto view = [&](const span_ref& r) {
            return r.external ? std::string_view(opts_.lang) : arena.substr(r.off, r.len);
        };
        out_.records.reserve(pending_.size());
        for (const pending& p : pending_) {
            record r;
            r.prompt = view(p.prompt);
            r.response = view(p.response);
            r.lang = view(p.lang);
            r.id = view(p.id);
            r.line = p.line;
            r.file = out_.file;
            out_.records.push_back(r);
        }
    }

  private:
    static simdjson::dom::parser& parser() {
        // simdjson parsers are not thread-safe; one per thread, reused across chunks.
        thread_local simdjson::dom::parser p;
        return p;
    }

    static std::string type_name(simdjson::dom::element e) {
        switch (e.type()) {
            case simdjson::dom::element_type::ARRAY:
                return "the line is a JSON array";
            case simdjson::dom::element_type::STRING:
                return "the line is a JSON string";
            case simdjson::dom::element_type::NULL_VALUE:
                return "the line is JSON null";
            case simdjson::dom::element_type::BOOL:
                return "the line is a JSON boolean";
            default:
                return "the line is a JSON number";
        }
    }

    span_ref store(std::string_view s) {
        span_ref r{out_.arena.size(), s.size(), false};
        out_.arena.append(s);
        return r;
    }
    template <class Int>
    span_ref store_number(Int v) {
        char buf[32];
        auto res = std::to_chars(buf, buf + sizeof buf, v);
        return store(std::string_view(buf, static_cast<std::size_t>(res.ptr - buf)));
    }

    /// A required string field; on failure records the skip and returns false.
    bool string_field(simdjson::dom::object obj, const std::string& key, span_ref& to) {
        simdjson::dom::element e;
        if (obj.at_key(key).get(e)) {
            skip("missing_field:" + key);
            return false;
        }
        return string_value(e, key, to);
    }

    bool string_value(simdjson::dom::element e, const std::string& key, span_ref& to) {
        if (e.is_null()) {
            skip("null_field:" + key);
            return false;
        }
        std::string_view s;
        if (e.get_string().get(s)) {
            skip("non_string_field:" + key);
            return false;
        }
        to = store(s);
        return true;
    }

    /// A message's content: a string or a list of parts with "text" strings (concatenated).
    bool content(simdjson::dom::object msg, span_ref& to) {
        simdjson::dom::element c;
        if (msg.at_key("content").get(c)) {
            skip("missing_field:content");
            return false;
        }
        simdjson::dom::array parts;
        if (!c.get_array().get(parts)) {
            to = {out_.arena.size(), 0, false};
            for (simdjson::dom::element part : parts) {
                std::string_view s;
                if (part.get_string().get(s) && part.at_key("text").get_string().get(s)) continue;
                out_.arena.append(s);
                to.len += s.size();
            }
            return true;
        }
        return string_value(c, "content", to);
    }

    bool from_messages(simdjson::dom::element msgs, pending& p) {
        simdjson::dom::array arr;
        if (msgs.get_array().get(arr)) {
            skip("non_array_field:messages", "\"messages\" must be a list of {role, content}");
            return false;
        }
        bool have_user = false;
        for (simdjson::dom::element m : arr) {
            simdjson::dom::object msg;
            if (m.get_object().get(msg)) {
                skip("bad_message", "a \"messages\" entry is not an object");
                return false;
            }
            std::string_view role;
            if (msg.at_key("role").get_string().get(role)) continue;
            if (!have_user && role == "user") {
                if (!content(msg, p.prompt)) return false;
                have_user = true;
            } else if (have_user && role == "assistant") {
                return content(msg, p.response);
            }
        }
        if (!have_user) {
            skip("no_user_turn", "\"messages\" has no user turn");
        } else {
            skip("no_assistant_turn", "no assistant turn follows the first user turn");
        }
        return false;
    }

    const jsonl_options& opts_;
    parsed_chunk& out_;
    std::vector<pending> pending_;
    std::uint64_t line_ = 0;
};

bool is_blank(std::string_view s) {
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v') return false;
    return true;
}

}  // namespace

void parse_chunk(const line_chunk& chunk, const jsonl_options& opts, parsed_chunk& out) {
    out.file = chunk.file;
    out.records.clear();
    out.skips.clear();
    out.blank_lines.clear();
    out.arena.clear();
    out.arena.reserve(chunk.bytes.size());
    line_parser p(opts, out);
    for (const auto& l : chunk.lines) {
        if (l.too_long) {
            out.skips.push_back({l.number, "line_too_long",
                                 "longer than " + std::to_string(opts.max_line_bytes) + " bytes"});
            continue;
        }
        std::string_view text = chunk.text(l);
        if (is_blank(text)) {
            out.blank_lines.push_back(l.number);
            continue;
        }
        // The line lives inside chunk.bytes, whose allocation extends >= 64 bytes past its
        // end: simdjson may read (not use) up to 64 bytes past the line.
        p.parse(text, l.number);
    }
    p.finish();
}

parsed_chunk read_all(const std::string& path, const jsonl_options& opts) {
    jsonl_options o = opts;
    o.chunk_lines = std::numeric_limits<std::size_t>::max();
    line_reader reader(path, 0, o);
    line_chunk chunk;
    parsed_chunk out;
    if (reader.next(chunk)) parse_chunk(chunk, o, out);
    return out;
}

}  // namespace io
POLYGLOT_END_NAMESPACE
