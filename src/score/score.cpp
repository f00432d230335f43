// SPDX-License-Identifier: Apache-2.0
// The scoring driver: chunked TBB pipeline, in-order merge.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <polyglot/core/assert.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/parallel/pipeline.hpp>
#include <polyglot/score/score.hpp>
#include <polyglot/text/language_names.hpp>
#include <map>
#include <variant>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

// ---- the pipeline ----------------------------------------------------------------------------

namespace {

struct work {
    io::line_chunk lines;
    std::uint64_t global_begin = 0;  ///< global index of the chunk's first line
    io::parsed_chunk parsed;
    std::vector<float> prompt_emb, response_emb;
    std::vector<lm_score> lm;
    std::vector<judgement> judgements;
    std::vector<std::string> judge_languages;
    std::vector<std::unique_ptr<any_metric::state>> states;
    std::vector<std::string> failures;       ///< per record: why its model call failed, or ""
    std::string instances;                   ///< per-instance JSONL of the chunk
    std::vector<std::size_t> instance_ends;  ///< end offset of each record's line
    bool empty = false;                      ///< produced after the limit was reached
};

void write_instance(io::json_writer& w, const record& r, const instance_values& iv,
                    const std::string* file, const std::string& failure) {
    w.clear();
    w.begin_object();
    w.kv("line", r.line);
    if (!r.id.empty()) w.kv("id", r.id);
    if (file) w.kv("file", *file);
    for (const auto& [k, v] : iv.items()) {
        w.key(k);
        std::visit([&](const auto& x) { w.value(x); }, v);
    }
    if (!failure.empty()) w.kv("error", failure);
    w.end_object();
}

constexpr const char* model_call_failed = "model_call_failed";

std::string skip_message(const std::string& file, const io::skip_info& s) {
    std::string m = file + ":" + std::to_string(s.line) + ": " + s.reason;
    if (!s.detail.empty()) m += ": " + s.detail;
    return m;
}

}  // namespace

std::string run_result::target_lang() const {
    std::string best;
    std::uint64_t n = 0;
    for (const auto& [lang, c] : languages)
        if (!lang.empty() && c > n) {
            best = lang;
            n = c;
        }
    return best;
}

run_result run(const run_options& opts, metric_bundle& bundle, const run_hooks& hooks,
               run_result* resume) {
    const auto t0 = std::chrono::steady_clock::now();
    if (opts.inputs.empty()) throw argument_error("no input file");
    const auto& metrics = bundle.metrics;
    run_result res;
    if (resume) {
        res = std::move(*resume);
        POLYGLOT_ASSERT(res.states.size() == metrics.size());
    } else {
        for (const auto& m : metrics) res.states.push_back(m->make_state());
    }
    const double elapsed_before = res.elapsed_seconds;
    res.next_line = opts.first_line;

    std::vector<std::string> names;  // for messages
    std::vector<std::uint64_t> file_start;
    std::uint64_t total_bytes = 0;
    for (const auto& in : opts.inputs) {
        names.push_back(in == "-" ? "<stdin>" : in);
        file_start.push_back(total_bytes);
        struct stat st {};
        if (in != "-" && ::stat(in.c_str(), &st) == 0 && S_ISREG(st.st_mode))
            total_bytes += static_cast<std::uint64_t>(st.st_size);
    }
    const bool multi = opts.inputs.size() > 1;

    std::atomic<bool> stop{false};
    std::size_t file_i = 0;
    std::unique_ptr<io::line_reader> reader;
    std::uint64_t next_index = res.num_samples;
    std::uint64_t global = 0;  // global index of the next line the reader yields

    auto source = [&](work& w) -> bool {
        for (;;) {
            if (stop.load(std::memory_order_relaxed) || global >= opts.end_line) return false;
            if (!reader) {
                if (file_i >= opts.inputs.size()) return false;
                if (file_i < opts.file_lines.size() &&
                    global + opts.file_lines[file_i] <= opts.first_line) {
                    global += opts.file_lines[file_i++];  // wholly before the range
                    continue;
                }
                reader = std::make_unique<io::line_reader>(
                    opts.inputs[file_i], static_cast<std::uint32_t>(file_i), opts.jsonl);
                if (global < opts.first_line)
                    global += reader->skip_lines(opts.first_line - global);
            }
            if (global >= opts.first_line && reader->next(w.lines, opts.end_line - global)) {
                w.global_begin = global;
                global += w.lines.lines.size();
                return true;
            }
            reader.reset();
            ++file_i;
        }
    };

    auto parse = [&](work& w) { io::parse_chunk(w.lines, opts.jsonl, w.parsed); };

    // The judge's prompts name the record's language; codes are resolved once per run.
    std::map<std::string, std::string, std::less<>> language_names;
    auto language_name = [&](std::string_view code) -> const std::string* {
        auto it = language_names.find(code);
        if (it == language_names.end()) {
            std::string name;
            try {
                name = text::language_name(code);
            } catch (const argument_error&) {
            }
            it = language_names.emplace(std::string(code), std::move(name)).first;
        }
        return it->second.empty() ? nullptr : &it->second;
    };
    auto judge_index = [](const record& r) {
        return (static_cast<std::uint64_t>(r.file) << 40) | r.line;
    };
    auto judge_chunk = [&](work& w) {
        auto& recs = w.parsed.records;
        w.judgements.assign(recs.size(), judgement{});
        std::vector<judge::item> items;
        std::vector<std::size_t> where;
        for (std::size_t i = 0; i < recs.size(); ++i) {
            const record& r = recs[i];
            const std::string* name = r.lang.empty() ? nullptr : language_name(r.lang);
            if (!name) {  // the prompt needs the language: a counted invalid verdict
                w.judgements[i].failures.emplace_back(r.lang.empty() ? "no_language"
                                                                     : "unknown_language");
                continue;
            }
            // Seeded by the record's place in the input (file, line), never by its index in
            // this run: shards and resumed runs ask exactly what one whole run asks.
            items.push_back({*name, r.prompt, r.response, judge_index(r)});
            where.push_back(i);
        }
        std::vector<judgement> got(items.size());
        call_hooks jh;  // a failed call is a failed attempt (counted by the metric), not a skip
        if (hooks.on_model_progress) jh.progress = hooks.on_model_progress;
        judge::run(*bundle.judge, bundle.judge_options, items, got, &jh);
        for (std::size_t k = 0; k < where.size(); ++k) w.judgements[where[k]] = std::move(got[k]);
        for (std::size_t i = 0; i < recs.size(); ++i) recs[i].judge = &w.judgements[i];
    };

    // Model calls are not thread-safe: one serial stage, one batch per chunk. A record whose
    // model (server) call fails after its retries is marked, counted and left out by the
    // metrics that needed the model; it never gets a made-up value.
    auto models = [&](work& w) {
        auto& recs = w.parsed.records;
        for (record& r : recs) r.index = next_index++;
        w.failures.assign(recs.size(), {});
        if (recs.empty()) return;
        auto fail = [&](std::size_t i, std::string_view what, std::string_view why) {
            if (!w.failures[i].empty()) return;
            w.failures[i] =
                std::string(model_call_failed) + ": " + std::string(what) + ": " + std::string(why);
        };
        call_hooks ch;
        if (hooks.on_model_progress) ch.progress = hooks.on_model_progress;
        if (bundle.emb) {
            std::vector<std::string_view> texts;
            texts.reserve(recs.size() * 2);
            for (const record& r : recs) texts.push_back(r.prompt);
            for (const record& r : recs) texts.push_back(r.response);
            const std::size_t dim = bundle.emb->dim();
            std::vector<float> all(texts.size() * dim);
            std::vector<std::uint8_t> bad(texts.size(), 0);
            std::vector<std::string> why(texts.size());
            ch.item_error = [&](std::uint64_t k, polyglot_status, std::string_view m) {
                if (k < bad.size()) bad[k] = 1, why[k] = std::string(m);
            };
            bundle.emb->embed(texts, all.data(), &ch);
            w.prompt_emb.assign(all.begin(),
                                all.begin() + static_cast<std::ptrdiff_t>(recs.size() * dim));
            w.response_emb.assign(all.begin() + static_cast<std::ptrdiff_t>(recs.size() * dim),
                                  all.end());
            for (std::size_t i = 0; i < recs.size(); ++i) {
                const std::size_t j = recs.size() + i;
                recs[i].prompt_embedding = bad[i] ? nullptr : w.prompt_emb.data() + i * dim;
                recs[i].response_embedding = bad[j] ? nullptr : w.response_emb.data() + i * dim;
                recs[i].embedding_dim = static_cast<std::uint32_t>(dim);
                if (bad[i]) fail(i, "embed prompt", why[i]);
                if (bad[j]) fail(i, "embed response", why[j]);
            }
        }
        if (bundle.lm) {
            std::vector<std::string_view> p, q;
            p.reserve(recs.size());
            q.reserve(recs.size());
            for (const record& r : recs) {
                p.push_back(r.prompt);
                q.push_back(r.response);
            }
            w.lm.assign(recs.size(), lm_score{});
            ch.item_error = [](std::uint64_t, polyglot_status, std::string_view) {};
            bundle.lm->score(p, q, w.lm, &ch);
            for (std::size_t i = 0; i < recs.size(); ++i) {
                recs[i].lm = &w.lm[i];
                if (w.lm[i].failed) fail(i, "score", w.lm[i].error);
            }
        }
        if (bundle.judge) judge_chunk(w);
    };

    const bool want_instances = static_cast<bool>(hooks.per_instance);
    auto accumulate_range = [&](work& w, std::size_t n_records) {
        w.states.clear();
        for (const auto& m : metrics) w.states.push_back(m->make_state());
        w.instances.clear();
        w.instance_ends.clear();
        instance_values iv;
        io::json_writer jw;
        for (std::size_t i = 0; i < n_records; ++i) {
            const record& r = w.parsed.records[i];
            iv.clear();
            for (std::size_t k = 0; k < metrics.size(); ++k)
                metrics[k]->accumulate(*w.states[k], r, iv);
            if (want_instances) {
                write_instance(jw, r, iv, multi ? &names[r.file] : nullptr,
                               i < w.failures.size() ? w.failures[i] : std::string());
                w.instances += jw.str();
                w.instances += '\n';
                w.instance_ends.push_back(w.instances.size());
            }
        }
    };
    auto compute = [&](work& w) { accumulate_range(w, w.parsed.records.size()); };

    std::uint64_t reported = 0;
    std::uint64_t checkpointed = res.num_samples;
    auto last_checkpoint = t0;
    auto merge = [&](work& w) {
        if (stop.load(std::memory_order_relaxed)) return;  // past the limit
        auto& recs = w.parsed.records;
        const std::string& fname = names[w.parsed.file];
        std::size_t keep = recs.size();
        std::uint64_t last_line = std::numeric_limits<std::uint64_t>::max();
        if (opts.limit && res.num_samples + keep >= opts.limit) {
            keep = static_cast<std::size_t>(opts.limit - res.num_samples);
            if (keep < recs.size()) {
                accumulate_range(w, keep);  // the limit falls inside this chunk
                if (want_instances) w.instances.resize(keep ? w.instance_ends[keep - 1] : 0);
            }
            last_line = keep ? recs[keep - 1].line : 0;
            stop = true;
        }
        res.next_line = w.global_begin + w.lines.lines.size();
        if (last_line != std::numeric_limits<std::uint64_t>::max())
            res.next_line =
                w.global_begin + (last_line ? last_line - w.lines.lines.front().number + 1 : 0);
        for (const auto& s : w.parsed.skips) {
            if (s.line > last_line) break;
            ++res.num_records_read;
            ++res.skipped[s.reason];
            std::string msg = skip_message(fname, s);
            if (opts.strict) throw error(errc::bad_record, msg);
            if (hooks.on_skip) hooks.on_skip(msg);
        }
        for (const std::uint64_t line : w.parsed.blank_lines) {
            if (line > last_line) break;
            ++res.blank_lines;
        }
        for (std::size_t i = 0; i < keep && i < w.failures.size(); ++i) {
            if (w.failures[i].empty()) continue;
            ++res.failed[model_call_failed];
            std::string msg = fname + ":" + std::to_string(recs[i].line) + ": " + w.failures[i];
            if (opts.strict) throw error(errc::bad_record, msg);
            if (hooks.on_failure) hooks.on_failure(msg);
        }
        for (std::size_t i = 0; i < keep; ++i) {
            auto it = res.languages.find(recs[i].lang);
            if (it == res.languages.end())
                res.languages.emplace(std::string(recs[i].lang), 1);
            else
                ++it->second;
        }
        res.num_samples += keep;
        res.num_records_read += keep;
        for (std::size_t k = 0; k < metrics.size(); ++k)
            metrics[k]->merge(*res.states[k], *w.states[k]);
        if (want_instances && !w.instances.empty()) hooks.per_instance(w.instances);
        res.bytes_read = file_start[w.lines.file] + w.lines.input_bytes_end;
        if (hooks.on_progress && res.num_samples - reported >= 1) {
            reported = res.num_samples;
            hooks.on_progress({res.bytes_read, total_bytes, res.num_samples});
        }
        if (hooks.on_checkpoint && !stop.load(std::memory_order_relaxed)) {
            const auto now = std::chrono::steady_clock::now();
            const bool by_records = opts.checkpoint_records &&
                                    res.num_samples - checkpointed >= opts.checkpoint_records;
            const bool by_time = opts.checkpoint_seconds > 0 &&
                                 std::chrono::duration<double>(now - last_checkpoint).count() >=
                                     opts.checkpoint_seconds;
            if (by_records || by_time) {
                res.elapsed_seconds =
                    elapsed_before + std::chrono::duration<double>(now - t0).count();
                hooks.on_checkpoint(res, res.next_line);
                checkpointed = res.num_samples;
                last_checkpoint = now;
            }
        }
    };

    parallel::run_pipeline<work>(opts.tokens, source, parallel::parallel_stage(parse),
                                 parallel::serial_stage(models), parallel::parallel_stage(compute),
                                 parallel::serial_stage(merge));
    if (!stop.load(std::memory_order_relaxed)) res.next_line = std::max(res.next_line, global);
    res.elapsed_seconds =
        elapsed_before +
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

}  // namespace score
POLYGLOT_END_NAMESPACE
