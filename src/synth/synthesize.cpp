// SPDX-License-Identifier: Apache-2.0
// Teacher synthesis: the seed plan, per-row prompts, the resumable append-only output.
#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <polyglot/core/assert.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/synth/synthesize.hpp>
#include <polyglot/text/language_names.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <set>
#include <unordered_set>

#include "base/json/schema.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace synth {

namespace {

// ---- deterministic randomness ---------------------------------------------------------------
// Our own generator and bounded draws (not <random>'s distributions, whose results differ
// between standard libraries): the same seed gives the same data everywhere.

std::uint64_t mix(std::uint64_t x) {  // splitmix64
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

class rng {
  public:
    rng(std::uint64_t seed, std::uint64_t stream, std::uint64_t row)
        : s_(mix(mix(seed) ^ mix(stream * 0x632BE59BD9B4E019ULL) ^ row)) {}
    std::uint64_t next() { return mix(s_ += 0x9E3779B97F4A7C15ULL); }
    /// Uniform in [0, n) by rejection (no modulo bias).
    std::uint64_t below(std::uint64_t n) {
        POLYGLOT_ASSERT(n > 0);
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        for (;;)
            if (const std::uint64_t x = next(); x < limit) return x % n;
    }

  private:
    std::uint64_t s_;
};

enum : std::uint64_t { stream_shuffle = 1, stream_examples = 2, stream_category = 3 };

std::string strip_cr(std::string s) {
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
}

/// A scalar field as text (strings as they are, numbers as written); nullopt when absent/null.
std::optional<std::string> text_field(simdjson::dom::object o, std::string_view key) {
    simdjson::dom::element e;
    if (o[key].get(e) || e.is_null()) return std::nullopt;
    std::string_view s;
    if (!e.get_string().get(s)) return std::string(s);
    if (e.is_int64()) return std::to_string(std::int64_t(e));
    if (e.is_uint64()) return std::to_string(std::uint64_t(e));
    return simdjson::minify(e);
}

}  // namespace

// ---- plan -------------------------------------------------------------------------------------

plan make_plan(const std::filesystem::path& seeds, const options& o,
               const std::function<void(const std::string&)>& on_skip, bool strict) {
    std::ifstream in(seeds, std::ios::binary);
    if (!in) throw io_error(seeds.string() + ": cannot open the seed file");
    plan p;
    std::unordered_set<std::string> ids;
    simdjson::dom::parser parser;
    std::string line;
    std::uint64_t n = 0;
    const std::string_view want = strategy_name(o.strat);
    auto skip = [&](const std::string& reason, const std::string& detail = {}) {
        ++p.skipped[reason];
        std::string msg = seeds.string() + ":" + std::to_string(n) + ": " + reason;
        if (!detail.empty()) msg += ": " + detail;
        if (strict) throw error(errc::bad_record, msg);
        if (on_skip && reason != "strategy_mismatch" && reason != "language_mismatch") on_skip(msg);
    };
    while (std::getline(in, line)) {
        ++n;
        line = strip_cr(std::move(line));
        if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        ++p.lines_read;
        simdjson::dom::element root;
        if (auto err = parser.parse(line).get(root)) {
            skip("malformed_json", simdjson::error_message(err));
            continue;
        }
        simdjson::dom::object obj;
        if (root.get_object().get(obj)) {
            skip("not_an_object");
            continue;
        }
        seed_row r;
        r.line = n;
        simdjson::dom::element pe;
        std::string_view sv;
        if (obj["prompt"].get(pe) || pe.get_string().get(sv)) {
            skip("missing_prompt", "\"prompt\" must be a string");
            continue;
        }
        r.prompt = std::string(sv);
        simdjson::dom::element re;
        if (!obj["response"].get(re) && !re.is_null()) {
            if (re.get_string().get(sv)) {
                skip("bad_response", "\"response\" must be a string or null");
                continue;
            }
            r.response = std::string(sv);
            r.has_response = true;
        }
        if (o.strat == strategy::generate && !r.has_response) {
            skip("missing_response", "generate's examples need a response");
            continue;
        }
        if (auto v = text_field(obj, "source")) {
            r.source = *v;
            r.has_source = true;
        }
        if (auto v = text_field(obj, "source_id")) {
            r.source_id = *v;
            r.has_source_id = true;
        }
        if (auto v = text_field(obj, "language")) r.language = *v;
        if (o.filter) {
            // The paper's --has_prefilter: the row's strategy list must name ours, and (except
            // for translate) its language must be the target. Rows without the fields pass.
            simdjson::dom::element st;
            if (!obj["strategy"].get(st) && !st.is_null()) {
                bool ok = false;
                simdjson::dom::array arr;
                if (!st.get_string().get(sv))
                    ok = sv == want;
                else if (!st.get_array().get(arr))
                    for (auto x : arr)
                        if (!x.get_string().get(sv) && sv == want) ok = true;
                if (!ok) {
                    skip("strategy_mismatch");
                    continue;
                }
            }
            if (o.strat != strategy::translate && !r.language.empty() && r.language != o.lang) {
                skip("language_mismatch");
                continue;
            }
        }
        if (auto v = text_field(obj, "id"))
            r.id = *v;
        else
            r.id = "line-" + std::to_string(n);
        if (!ids.insert(r.id).second) {
            skip("duplicate_id", "id " + r.id + " already seen");
            continue;
        }
        p.rows.push_back(std::move(r));
    }
    if (in.bad()) throw io_error(seeds.string() + ": read error");
    if (o.shuffle) {  // Fisher–Yates with our generator
        rng g(*o.shuffle, stream_shuffle, 0);
        for (std::size_t i = p.rows.size(); i > 1; --i)
            std::swap(p.rows[i - 1], p.rows[g.below(i)]);
    }
    if (o.limit && p.rows.size() > o.limit) p.rows.resize(o.limit);
    return p;
}

// ---- prompts ----------------------------------------------------------------------------------

namespace {

std::string language_name_of(const options& o) {
    return o.language_name.empty() ? text::language_name(o.lang) : o.language_name;
}

}  // namespace

std::string synth_prompt(const plan& p, std::size_t i, const options& o) {
    const std::string lang = language_name_of(o);
    const seed_row& r = p.rows.at(i);
    switch (o.strat) {
        case strategy::generate: {
            // Three distinct in-context examples drawn by index from the pool (the job's rows,
            // as the paper's), and a category: per row, from the seeded generator.
            const std::size_t n = p.rows.size();
            rng g(o.seed, stream_examples, i);
            std::vector<std::size_t> picked;
            while (picked.size() < std::min<std::size_t>(3, n)) {
                const std::size_t k = g.below(n);
                if (std::find(picked.begin(), picked.end(), k) == picked.end()) picked.push_back(k);
            }
            std::vector<std::pair<std::string_view, std::string_view>> ex;
            for (auto k : picked) ex.emplace_back(p.rows[k].prompt, p.rows[k].response);
            std::optional<std::size_t> cat;
            if (o.categories == category_mode::drawn)
                cat = rng(o.seed, stream_category, i).below(categories.size());
            return generate_prompt(lang, format_examples(ex), cat);
        }
        case strategy::translate:
            return translate_prompt(lang, r.prompt);
        case strategy::respond:
            return respond_prompt(lang, r.prompt);
    }
    return {};
}

// ---- run ----------------------------------------------------------------------------------------

std::uint64_t stats::failed_total() const {
    std::uint64_t n = 0;
    for (const auto& [k, v] : failed) n += v;
    return n;
}

std::uint64_t stats::processed() const {
    return already_done + written + too_long + failed_total();
}

namespace {

/// The output: whole lines appended with one write each, synced per round.
class append_file {
  public:
    explicit append_file(const std::filesystem::path& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd_ < 0)
            throw io_error(path.string() + ": cannot open for appending (" + std::strerror(errno) +
                           ")");
    }
    ~append_file() {
        if (fd_ >= 0) ::close(fd_);
    }
    append_file(const append_file&) = delete;
    append_file& operator=(const append_file&) = delete;
    void write(std::string_view s) {
        while (!s.empty()) {
            const ssize_t k = ::write(fd_, s.data(), s.size());
            if (k < 0) {
                if (errno == EINTR) continue;
                throw io_error(path_.string() + ": write failed (" + std::strerror(errno) + ")");
            }
            s.remove_prefix(static_cast<std::size_t>(k));
        }
    }
    void sync() {
        if (::fsync(fd_) != 0)
            throw io_error(path_.string() + ": fsync failed (" + std::strerror(errno) + ")");
    }

  private:
    std::filesystem::path path_;
    int fd_ = -1;
};

/// Ids already in @p out; cuts an unfinished last line (counted in @p dropped).
std::unordered_set<std::string> read_done(const std::filesystem::path& out,
                                          std::uint64_t& dropped) {
    std::unordered_set<std::string> done;
    if (!std::filesystem::exists(out)) return done;
    std::ifstream in(out, std::ios::binary);
    if (!in) throw io_error(out.string() + ": cannot read the existing output");
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto last_nl = data.rfind('\n');
    const std::size_t keep = last_nl == std::string::npos ? 0 : last_nl + 1;
    if (keep < data.size()) {
        std::error_code ec;
        std::filesystem::resize_file(out, keep, ec);
        if (ec) throw io_error(out.string() + ": cannot cut its unfinished last line");
        ++dropped;
    }
    simdjson::dom::parser parser;
    std::size_t pos = 0, line = 0;
    while (pos < keep) {
        const std::size_t nl = data.find('\n', pos);
        const std::string_view l(data.data() + pos, nl - pos);
        ++line;
        pos = nl + 1;
        if (l.empty()) continue;
        simdjson::dom::element e;
        std::string_view id;
        if (parser.parse(l.data(), l.size()).get(e) || e["id"].get_string().get(id))
            throw format_error(out.string() + ":" + std::to_string(line) +
                               ": not a synthesized record (no string \"id\"); refusing to "
                               "append to it");
        done.emplace(id);
    }
    return done;
}

std::string messages_json(std::string_view system, std::string_view user) {
    io::json_writer w;
    w.begin_array();
    w.begin_object().kv("role", "system").kv("content", system).end_object();
    w.begin_object().kv("role", "user").kv("content", user).end_object();
    w.end_array();
    return w.take();
}

std::string record_json(const seed_row& r, const options& o, std::string_view synth,
                        std::string_view prompt, std::string_view response) {
    io::json_writer w;
    w.begin_object();
    w.kv("id", r.id);
    w.key("source");
    if (r.has_source)
        w.value(r.source);
    else
        w.value(nullptr);
    w.kv("language", o.lang);
    w.kv("strategy", strategy_name(o.strat));
    w.key("source_id");
    if (r.has_source_id)
        w.value(r.source_id);
    else
        w.value(nullptr);
    w.kv("synth_prompt", synth);
    w.kv("model", o.model_name);
    w.kv("prompt", prompt);
    w.kv("response", response);
    w.key("messages").begin_array();
    w.begin_object().kv("role", "user").kv("content", prompt).end_object();
    w.begin_object().kv("role", "assistant").kv("content", response).end_object();
    w.end_array();
    w.kv("prompt_input", r.prompt);
    w.key("response_input");
    if (r.has_response)
        w.value(r.response);
    else
        w.value(nullptr);
    w.end_object();
    return w.take();
}

}  // namespace

stats run(generator& g, const plan& p, const options& o, const std::filesystem::path& out,
          const run_hooks& hooks) {
    const auto t0 = std::chrono::steady_clock::now();
    stats st;
    st.rows = p.rows.size();
    const auto done = read_done(out, st.dropped_partial_lines);
    append_file file(out);
    const std::string lang = language_name_of(o);
    const std::string system = system_prompt(lang);
    std::shared_ptr<const text::tokenizer> len_tok;
    std::size_t system_tokens = 0;
    if (o.max_model_len) {
        len_tok = text::open_tokenizer(o.length_tokenizer);
        system_tokens = len_tok->count(system);
    }
    const std::string_view schema = output_schema(o.strat);
    generate_params params;
    params.temperature = o.temperature;
    params.top_p = o.top_p;
    params.max_new_tokens = o.max_new_tokens;
    params.seed = o.seed;
    params.json_schema = std::string(schema);
    const std::size_t batch = std::max<std::size_t>(1, o.batch);
    auto fail = [&](std::size_t i, const std::string& reason, const std::string& detail) {
        ++st.failed[reason];
        if (hooks.on_failure)
            hooks.on_failure("row " + std::to_string(i) + " (id " + p.rows[i].id + ", line " +
                             std::to_string(p.rows[i].line) + "): " + reason +
                             (detail.empty() ? "" : ": " + detail));
    };

    for (std::size_t start = 0; start < p.rows.size(); start += batch) {
        if (hooks.cancel && *hooks.cancel) {
            st.cancelled = true;
            break;
        }
        const std::size_t end = std::min(p.rows.size(), start + batch);
        std::vector<std::size_t> todo;
        std::vector<std::string> synth(end - start), msgs(end - start);
        for (std::size_t i = start; i < end; ++i) {
            if (done.count(p.rows[i].id)) {
                ++st.already_done;
                continue;
            }
            synth[i - start] = synth_prompt(p, i, o);
            if (len_tok &&
                len_tok->count(synth[i - start]) + system_tokens + 500 > o.max_model_len) {
                ++st.too_long;
                continue;
            }
            msgs[i - start] = messages_json(system, synth[i - start]);
            todo.push_back(i);
        }
        std::vector<generation> gens(end - start);
        std::vector<std::uint8_t> call_failed(end - start, 0);
        std::vector<polyglot_status> call_status(end - start, POLYGLOT_STATUS_OK);
        // Consecutive rows share a call: each row's sampling seed is (seed, row index).
        for (std::size_t a = 0; a < todo.size();) {
            std::size_t b = a + 1;
            while (b < todo.size() && todo[b] == todo[b - 1] + 1) ++b;
            std::vector<std::string_view> views;
            for (std::size_t k = a; k < b; ++k) views.push_back(msgs[todo[k] - start]);
            call_hooks h;
            h.cancel = hooks.cancel;
            const std::size_t base = todo[a] - start;
            h.item_error = [&](std::uint64_t idx, polyglot_status status, std::string_view msg) {
                if (base + idx < call_failed.size()) {
                    call_failed[base + idx] = 1;
                    call_status[base + idx] = status;
                    gens[base + idx].error = std::string(msg);
                }
            };
            try {
                g.generate(prompt_kind::messages, views, {}, todo[a], params,
                           std::span(gens).subspan(base, b - a), &h);
            } catch (const error&) {
                if (!(hooks.cancel && *hooks.cancel)) throw;
            }
            if (hooks.cancel && *hooks.cancel) {
                st.cancelled = true;
                break;
            }
            a = b;
        }
        std::string lines;
        for (std::size_t i : todo) {
            const generation& gen = gens[i - start];
            // Cancelled before it finished: not a failure, the next run asks again.
            if (st.cancelled && gen.finish_reason == POLYGLOT_FINISH_NONE &&
                (gen.ok() || gen.status == POLYGLOT_STATUS_CANCELLED))
                continue;
            st.tokens_in += gen.prompt_tokens;
            st.tokens_out += gen.ids.size();
            if (call_failed[i - start] || !gen.ok()) {
                // A server's reply that broke the schema (the remote backend checks it).
                const auto status = call_failed[i - start] ? call_status[i - start] : gen.status;
                fail(i, status == POLYGLOT_STATUS_FORMAT_ERROR ? "invalid_json" : "call_failed",
                     gen.error);
                continue;
            }
            const bool cut = gen.finish_reason == POLYGLOT_FINISH_LENGTH;
            if (cut && !(o.keep_truncated && o.strat == strategy::respond)) {
                fail(i, "truncated", "reached --max-new-tokens");
                continue;
            }
            std::string prompt, response;
            if (o.strat == strategy::respond) {
                prompt = p.rows[i].prompt;
                response = gen.text;
            } else {
                if (const auto why = model::validate_json_schema(schema, gen.text); !why.empty()) {
                    fail(i, "invalid_json", why);
                    continue;
                }
                simdjson::dom::parser parser;
                simdjson::dom::element e;
                std::string_view a, b;
                if (parser.parse(gen.text).get(e) || e["prompt"].get_string().get(a) ||
                    e["response"].get_string().get(b)) {
                    fail(i, "invalid_json", "no prompt/response strings");
                    continue;
                }
                prompt = std::string(a);
                response = std::string(b);
                if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
                    fail(i, "empty_prompt", {});
                    continue;
                }
            }
            if (response.find_first_not_of(" \t\r\n") == std::string::npos) {
                fail(i, "empty_response", {});
                continue;
            }
            lines += record_json(p.rows[i], o, synth[i - start], prompt, response);
            lines += '\n';
            ++st.written;
            if (cut) ++st.truncated_kept;
        }
        if (!lines.empty()) {
            file.write(lines);
            file.sync();
        }
        st.elapsed_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (hooks.on_progress) hooks.on_progress(st);
        if (st.cancelled) break;
    }
    st.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return st;
}

}  // namespace synth
POLYGLOT_END_NAMESPACE
