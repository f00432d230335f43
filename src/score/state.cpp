// SPDX-License-Identifier: Apache-2.0
// Saved scoring states: header, framing and checksum, capture/restore of run results, merging
// shards, planning shards.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/io/binary.hpp>
#include <polyglot/io/input.hpp>
#include <polyglot/io/jsonl.hpp>
#include <polyglot/plugin/services.hpp>
#include <polyglot/score/metric_registry.hpp>
#include <polyglot/score/state.hpp>
#include <polyglot/version.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

namespace {

constexpr char magic[8] = {'\x89', 'P', 'G', 'S', 'T', '\r', '\n', '\x1a'};
constexpr std::size_t frame_head = sizeof magic + 4 + 8;  // magic, version, payload size
constexpr std::size_t frame_tail = 4;                     // CRC-32

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

void save_counts(io::binary_writer& w, const auto& m) {
    w.varint(m.size());
    for (const auto& [k, v] : m) {
        w.str(k);
        w.varint(v);
    }
}

template <class Map>
void load_counts(io::binary_reader& r, Map& m, const char* what) {
    m.clear();
    const std::uint64_t n = r.count(2, what);
    for (std::uint64_t i = 0; i < n; ++i) {
        std::string k(r.str(what));
        m[std::move(k)] = r.varint(what);
    }
    if (m.size() != n) r.fail(what);
}

}  // namespace

state_header make_header(const metric_config& cfg, const metric_bundle& bundle,
                         const run_options& opts, const std::string& teacher) {
    state_header h;
    auto add = [&](std::string k, std::string v) { h.emplace_back(std::move(k), std::move(v)); };
    add("polyglot_version", POLYGLOT_VERSION_STRING);
    std::vector<std::string> names;
    for (const auto& m : bundle.metrics) names.emplace_back(m->name());
    add("metrics", join(names));
    if (!bundle.tokenizer.empty()) add("tokenizer", bundle.tokenizer);
    if (!bundle.lid_model.empty()) {
        add("lid_model", bundle.lid_model);
        add("lid_model_fingerprint", io::fingerprint(resolve_asset(cfg.lid_model)));
    }
    if (bundle.emb) {
        add("embedding_model", bundle.embedding_model);
        add("embedding_backend", bundle.emb->backend());
        add("embedding_model_fingerprint", io::fingerprint(parse_embedder_spec(cfg.embedder).path));
    }
    if (bundle.lm) {
        add("base_model", bundle.base_model);
        add("lm_backend", bundle.lm->backend());
        add("base_model_fingerprint", io::fingerprint(cfg.lm));
        add("max_tokens", std::to_string(cfg.backend.max_tokens));
    }
    if (bundle.lm || bundle.emb) add("parse_special", cfg.backend.parse_special ? "true" : "false");
    if (bundle.judge) {
        const auto& o = bundle.judge_options;
        add("judge_model", bundle.judge_model);
        add("judge_backend", bundle.judge->backend());
        if (cfg.judge.find('#') == std::string::npos)  // a local model directory
            add("judge_model_fingerprint", io::fingerprint(cfg.judge));
        add("judge_format", std::string(judge::format_name(o.format)));
        add("judge_prompt_version", std::string(judge::prompt_version(o.format)));
        add("judge_retries", std::to_string(o.retries));
        add("judge_max_new_tokens", std::to_string(o.max_new_tokens));
        add("judge_temperature", std::to_string(io::float_as_written(o.temperature)));
        add("judge_top_p", std::to_string(io::float_as_written(o.top_p)));
        add("judge_seed", std::to_string(o.seed));
        add("judge_chat_template", cfg.backend.chat_template);
        add("invalid_as", cfg.invalid_as ? std::to_string(*cfg.invalid_as) : std::string());
    }
    add("prompt_field", opts.jsonl.prompt_field);
    add("response_field", opts.jsonl.response_field);
    add("lang", opts.jsonl.lang);
    add("max_line_bytes", std::to_string(opts.jsonl.max_line_bytes));
    add("limit", std::to_string(opts.limit));
    add("teacher", teacher);
    add("inputs", std::to_string(opts.inputs.size()));
    for (std::size_t i = 0; i < opts.inputs.size(); ++i) {
        const std::string& in = opts.inputs[i];
        const std::string k = "input." + std::to_string(i);
        add(k, in);
        if (in == "-") continue;
        struct stat st {};
        if (::stat(in.c_str(), &st) != 0) throw io_error(in + ": cannot open");
        add(k + ".size", std::to_string(static_cast<std::uint64_t>(st.st_size)));
        add(k + ".fingerprint", io::fingerprint(in));
    }
    return h;
}

metric_bundle make_metrics_from_header(const state_header& h) {
    metric_bundle b;
    b.tokenizer = header_value(h, "tokenizer");
    b.lid_model = header_value(h, "lid_model");
    b.embedding_model = header_value(h, "embedding_model");
    b.base_model = header_value(h, "base_model");
    b.judge_model = header_value(h, "judge_model");
    const std::string list = header_value(h, "metrics");
    std::size_t pos = 0;
    while (pos < list.size()) {
        std::size_t comma = list.find(',', pos);
        if (comma == std::string::npos) comma = list.size();
        const std::string n = list.substr(pos, comma - pos);
        pos = comma + 1;
        const metric_entry* e = find_metric(n);
        if (!e || e->name != n) throw format_error("state header: unknown metric '" + n + "'");
        b.metrics.push_back(e->from_state(h));
    }
    return b;
}

std::string header_value(const state_header& h, std::string_view key) {
    for (const auto& [k, v] : h)
        if (k == key) return v;
    return {};
}

std::string header_difference(const state_header& a, const state_header& b) {
    for (const auto& [k, v] : a) {
        auto it = std::find_if(b.begin(), b.end(),
                               [&key = k](const auto& kv) { return kv.first == key; });
        if (it == b.end()) return k + ": '" + v + "' vs (absent)";
        if (it->second != v) return k + ": '" + v + "' vs '" + it->second + "'";
    }
    for (const auto& [k, v] : b) {
        auto it = std::find_if(a.begin(), a.end(),
                               [&key = k](const auto& kv) { return kv.first == key; });
        if (it == a.end()) return k + ": (absent) vs '" + v + "'";
    }
    return {};
}

std::string encode_state(const saved_state& s) {
    io::binary_writer p;
    p.varint(s.header.size());
    for (const auto& [k, v] : s.header) {
        p.str(k);
        p.str(v);
    }
    p.varint(s.shard.index);
    p.varint(s.shard.count);
    p.varint(s.shard.line_begin);
    p.u64(s.shard.line_end);
    p.u8(s.complete ? 1 : 0);
    p.str(s.per_instance_path);
    p.varint(s.per_instance_bytes);
    p.u32(s.per_instance_crc);
    p.varint(s.threads);
    p.varint(s.backends.size());
    for (const auto& b : s.backends) p.str(b);
    const run_counters& c = s.counters;
    p.varint(c.next_line);
    p.varint(c.num_samples);
    p.varint(c.num_records_read);
    p.varint(c.blank_lines);
    p.varint(c.bytes_read);
    p.f64(c.elapsed_seconds);
    save_counts(p, c.skipped);
    save_counts(p, c.failed);
    save_counts(p, c.languages);
    p.varint(s.metrics.size());
    for (const auto& [name, bytes] : s.metrics) {
        p.str(name);
        p.str(bytes);
    }
    io::binary_writer f;
    f.bytes(std::string_view(magic, sizeof magic));
    f.u32(state_format_version);
    f.u64(p.size());
    f.bytes(p.data());
    f.u32(io::crc32(0, f.data()));
    return f.take();
}

saved_state decode_state(std::string_view bytes, const std::string& what) {
    if (bytes.size() < sizeof magic || std::memcmp(bytes.data(), magic, sizeof magic) != 0)
        throw format_error(what + ": not a polyglot state file");
    io::binary_reader head(bytes, what);
    head.bytes(sizeof magic);
    const std::uint32_t version = head.u32("format version");
    if (version != state_format_version)
        throw format_error(what + ": state format version " + std::to_string(version) +
                           "; this polyglot (" POLYGLOT_VERSION_STRING ") reads version " +
                           std::to_string(state_format_version));
    const std::uint64_t size = head.u64("payload size");
    if (bytes.size() < frame_head + frame_tail || size != bytes.size() - frame_head - frame_tail)
        throw format_error(what + ": truncated or padded state file (" +
                           std::to_string(bytes.size()) + " bytes, the header says " +
                           std::to_string(size + frame_head + frame_tail) + ")");
    io::binary_reader tail(bytes.substr(bytes.size() - frame_tail), what);
    const std::uint32_t stored = tail.u32("checksum");
    if (io::crc32(0, bytes.substr(0, bytes.size() - frame_tail)) != stored)
        throw format_error(what + ": corrupt state file (checksum mismatch)");

    io::binary_reader r(bytes.substr(frame_head, static_cast<std::size_t>(size)), what);
    saved_state s;
    const std::uint64_t nh = r.count(2, "header");
    for (std::uint64_t i = 0; i < nh; ++i) {
        std::string k(r.str("header key"));
        std::string v(r.str("header value"));
        s.header.emplace_back(std::move(k), std::move(v));
    }
    s.shard.index = static_cast<std::uint32_t>(r.varint("shard"));
    s.shard.count = static_cast<std::uint32_t>(r.varint("shard"));
    s.shard.line_begin = r.varint("shard");
    s.shard.line_end = r.u64("shard");
    if (s.shard.count == 0 || s.shard.index >= s.shard.count ||
        s.shard.line_begin > s.shard.line_end)
        r.fail("shard");
    s.complete = r.u8("complete") != 0;
    s.per_instance_path = std::string(r.str("per-instance path"));
    s.per_instance_bytes = r.varint("per-instance size");
    s.per_instance_crc = r.u32("per-instance checksum");
    s.threads = r.varint("threads");
    const std::uint64_t nb = r.count(1, "backends");
    for (std::uint64_t i = 0; i < nb; ++i) s.backends.emplace_back(r.str("backend"));
    run_counters& c = s.counters;
    c.next_line = r.varint("position");
    c.num_samples = r.varint("counter");
    c.num_records_read = r.varint("counter");
    c.blank_lines = r.varint("counter");
    c.bytes_read = r.varint("counter");
    c.elapsed_seconds = r.f64("elapsed");
    load_counts(r, c.skipped, "skip table");
    load_counts(r, c.failed, "failure table");
    load_counts(r, c.languages, "language table");
    const std::uint64_t nm = r.count(2, "metrics");
    for (std::uint64_t i = 0; i < nm; ++i) {
        std::string name(r.str("metric name"));
        std::string b(r.str("metric state"));
        s.metrics.emplace_back(std::move(name), std::move(b));
    }
    if (!r.at_end()) r.fail("end of payload");
    return s;
}

void write_state(const std::filesystem::path& path, const saved_state& s) {
    io::write_file_atomic(path, encode_state(s));
}

saved_state read_state(const std::filesystem::path& path) {
    return decode_state(io::read_file(path), path.string());
}

saved_state capture(const run_result& res, const metric_bundle& bundle) {
    saved_state s;
    s.counters = res;  // the run_counters part
    for (std::size_t k = 0; k < bundle.metrics.size(); ++k) {
        io::binary_writer w;
        bundle.metrics[k]->save(*res.states[k], w);
        s.metrics.emplace_back(std::string(bundle.metrics[k]->name()), w.take());
    }
    return s;
}

run_result restore(const saved_state& s, const metric_bundle& bundle, const std::string& what) {
    if (s.metrics.size() != bundle.metrics.size())
        throw format_error(what + ": holds " + std::to_string(s.metrics.size()) +
                           " metric states, this run has " + std::to_string(bundle.metrics.size()) +
                           " metrics");
    run_result res;
    static_cast<run_counters&>(res) = s.counters;
    for (std::size_t k = 0; k < bundle.metrics.size(); ++k) {
        const auto& m = *bundle.metrics[k];
        if (s.metrics[k].first != m.name())
            throw format_error(what + ": metric " + std::to_string(k) + " is '" +
                               s.metrics[k].first + "', expected '" + std::string(m.name()) + "'");
        auto st = m.make_state();
        io::binary_reader r(s.metrics[k].second, what + " (" + s.metrics[k].first + " state)");
        m.load(*st, r);
        if (!r.at_end()) r.fail("end of the metric state");
        res.states.push_back(std::move(st));
    }
    return res;
}

run_result merge_states(std::vector<named_state>& states, const metric_bundle& bundle) {
    if (states.empty()) throw argument_error("merge: no state given");
    const named_state& first = states.front();
    for (const auto& s : states) {
        if (!s.state.complete)
            throw argument_error(s.name +
                                 ": a checkpoint, not a finished shard (finish it with "
                                 "polyglot score ... --resume)");
        const std::string d = header_difference(first.state.header, s.state.header);
        if (!d.empty())
            throw argument_error("cannot merge " + s.name + " with " + first.name +
                                 ": they come from different runs (" + d + ")");
        if (s.state.shard.count != first.state.shard.count)
            throw argument_error("cannot merge " + s.name + " with " + first.name +
                                 ": shard counts differ (" + std::to_string(s.state.shard.count) +
                                 " vs " + std::to_string(first.state.shard.count) + ")");
    }
    std::sort(states.begin(), states.end(), [](const named_state& a, const named_state& b) {
        return a.state.shard.index < b.state.shard.index;
    });
    const std::uint32_t n = first.state.shard.count;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (i >= states.size() || states[i].state.shard.index != i)
            throw argument_error("merge: shard " + std::to_string(i + 1) + "/" + std::to_string(n) +
                                 " is missing");
        if (i + 1 < states.size() && states[i + 1].state.shard.index == i)
            throw argument_error("merge: shard " + std::to_string(i + 1) + "/" + std::to_string(n) +
                                 " is given twice (" + states[i].name + ", " + states[i + 1].name +
                                 ")");
    }
    if (states.size() > n)
        throw argument_error("merge: more states than shards (" + std::to_string(n) + ")");
    for (std::uint32_t i = 0; i + 1 < n; ++i)
        if (states[i].state.shard.line_end != states[i + 1].state.shard.line_begin)
            throw argument_error("cannot merge " + states[i + 1].name + " with " + states[i].name +
                                 ": their line ranges do not meet");
    run_result res = restore(states[0].state, bundle, states[0].name);
    for (std::size_t i = 1; i < states.size(); ++i) {
        run_result part = restore(states[i].state, bundle, states[i].name);
        res.num_samples += part.num_samples;
        res.num_records_read += part.num_records_read;
        res.blank_lines += part.blank_lines;
        res.bytes_read = std::max(res.bytes_read, part.bytes_read);
        res.elapsed_seconds += part.elapsed_seconds;
        for (const auto& [k, v] : part.skipped) res.skipped[k] += v;
        for (const auto& [k, v] : part.failed) res.failed[k] += v;
        for (const auto& [k, v] : part.languages) res.languages[k] += v;
        res.next_line = part.next_line;
        for (std::size_t k = 0; k < bundle.metrics.size(); ++k)
            bundle.metrics[k]->merge(*res.states[k], *part.states[k]);
    }
    return res;
}

shard_spec plan_shard(const run_options& opts, std::uint32_t index, std::uint32_t count,
                      std::vector<std::uint64_t>& file_lines) {
    if (count == 0 || index >= count) throw argument_error("shard index out of range");
    file_lines.clear();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < opts.inputs.size(); ++i) {
        if (opts.inputs[i] == "-")
            throw argument_error("--shard: standard input ('-') can be read only once; give files");
        io::line_reader r(opts.inputs[i], static_cast<std::uint32_t>(i), opts.jsonl);
        const std::uint64_t n = r.skip_lines(UINT64_MAX);
        file_lines.push_back(n);
        total += n;
    }
    shard_spec s;
    s.index = index;
    s.count = count;
    // Block i = [⌊i·L/N⌋, ⌊(i+1)·L/N⌋): sizes differ by at most one line.
    auto cut = [&](std::uint64_t i) {
        return static_cast<std::uint64_t>(static_cast<unsigned __int128>(total) * i / count);
    };
    s.line_begin = cut(index);
    s.line_end = cut(index + 1u);
    return s;
}

}  // namespace score
POLYGLOT_END_NAMESPACE
