// SPDX-License-Identifier: Apache-2.0
// polyglot complete --model SPEC [sampling options] FILE.jsonl|-: one completion per input
// line, in input order, from whichever backend plugin serves the model (GENERATE).
//
// Input lines: {"prompt": "text"} (tokenized with the model's special tokens),
// {"prompt_ids": [ids]} (used as given) or {"messages": [chat messages]} (rendered with the
// model's chat template or --chat-template FILE, ending with the assistant header), optionally
// with "id" (a string or an integer, echoed).
// Output: one JSON line per input line, in order:
//   {"line", "id", "text", "token_ids", "finish_reason", "prompt_tokens", "completion_tokens"
//    [, "logprobs"]}
// or, for a bad line or a failed item, {"line", "id", "error": reason} — never an empty
// completion. Bad lines are also reported on stderr as FILE:LINE: reason and counted; --strict
// stops at the first. Sampling is seeded per line (seed, line index), so the output does not
// depend on --batch, --threads or the backend's batching.
#include <simdjson.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/io/jsonl.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

constexpr std::size_t max_messages = 5;

/// One input line, parsed.
struct item {
    std::uint64_t line = 0;   // 1-based line number
    std::uint64_t index = 0;  // 0-based line index in the job (seeds the sampler)
    std::string id_json = "null";
    prompt_kind kind = prompt_kind::text;
    std::string text;
    std::vector<std::int32_t> ids;
    std::string error;  // non-empty: a bad line
};

void parse_line(simdjson::dom::parser& parser, std::string_view line, item& it) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
        it.error = "empty line";
        return;
    }
    simdjson::dom::element doc;
    if (auto err = parser.parse(line.data(), line.size()).get(doc)) {
        it.error = std::string("malformed JSON (") + simdjson::error_message(err) + ")";
        return;
    }
    simdjson::dom::object obj;
    if (doc.get(obj)) {
        it.error = "not a JSON object";
        return;
    }
    if (auto id = obj["id"]; !id.error()) {
        std::string_view s;
        std::int64_t i = 0;
        if (!id.get(s))
            it.id_json = simdjson::to_string(id.value_unsafe());
        else if (!id.get(i))
            it.id_json = std::to_string(i);
        else if (!id.is_null()) {
            it.error = "\"id\" must be a string or an integer";
            return;
        }
    }
    const bool has_prompt = !obj["prompt"].error(), has_ids = !obj["prompt_ids"].error(),
               has_messages = !obj["messages"].error();
    if (int(has_prompt) + int(has_ids) + int(has_messages) != 1) {
        it.error = has_prompt || has_ids || has_messages
                       ? "give exactly one of \"prompt\", \"prompt_ids\" and \"messages\""
                       : "no \"prompt\", \"prompt_ids\" or \"messages\" field";
        return;
    }
    if (has_messages) {
        simdjson::dom::array msgs;
        if (obj["messages"].get(msgs)) {
            it.error = "\"messages\" must be an array of chat messages";
            return;
        }
        // Rendered by the generator with the model's chat template (or sent to a server
        // that renders chat itself).
        it.kind = prompt_kind::messages;
        it.text = simdjson::to_string(msgs);
        return;
    }
    if (has_prompt) {
        std::string_view s;
        if (obj["prompt"].get(s)) {
            it.error = "\"prompt\" must be a string";
            return;
        }
        it.kind = prompt_kind::text;
        it.text.assign(s);
        return;
    }
    simdjson::dom::array arr;
    if (obj["prompt_ids"].get(arr)) {
        it.error = "\"prompt_ids\" must be an array of token ids";
        return;
    }
    it.kind = prompt_kind::ids;
    for (auto v : arr) {
        std::int64_t x = 0;
        if (v.get(x) || x < 0 || x > INT32_MAX) {
            it.error = "\"prompt_ids\" must hold non-negative integers (token ids)";
            return;
        }
        it.ids.push_back(std::int32_t(x));
    }
}

struct options {
    std::string model, output = "-", backend = "auto", chat_template;
    std::vector<std::string> plugin_dirs, stop;
    std::size_t threads = 0, batch = 64;
    generate_params params;
    bool strict = false, quiet = false;
};

class runner {
  public:
    runner(const options& o, generator& gen, io::atomic_ofstream& out)
        : o_(o), gen_(gen), out_(out), t0_(std::chrono::steady_clock::now()) {}

    void add(item it, const std::string& file) {
        if (!it.error.empty()) {
            if (o_.strict)
                throw format_error(file + ":" + std::to_string(it.line) + ": " + it.error);
            ++bad_[it.error];
            if (n_bad_msgs_++ < max_messages && !o_.quiet)
                std::fprintf(stderr, "polyglot complete: %s:%llu: %s\n", file.c_str(),
                             static_cast<unsigned long long>(it.line), it.error.c_str());
        }
        pending_.push_back(std::move(it));
        if (pending_.size() >= o_.batch) flush();
    }

    /// Generates the pending items: each run of consecutive good lines of one kind is one
    /// call, its first_index the line index of its first item.
    void flush() {
        std::size_t i = 0;
        while (i < pending_.size()) {
            if (!pending_[i].error.empty()) {
                write_error(pending_[i], pending_[i].error);
                ++i;
                continue;
            }
            std::size_t j = i;
            while (j < pending_.size() && pending_[j].error.empty() &&
                   pending_[j].kind == pending_[i].kind &&
                   pending_[j].index == pending_[i].index + (j - i))
                ++j;
            run(i, j);
            i = j;
        }
        pending_.clear();
    }

    void finish() {
        flush();
        if (progress_shown_) std::fprintf(stderr, "\r\033[K");
        if (o_.quiet) return;
        std::uint64_t nbad = 0;
        std::string reasons;
        for (const auto& [k, v] : bad_) {
            nbad += v;
            reasons += (reasons.empty() ? "" : "; ") + k + " " + std::to_string(v);
        }
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        std::fprintf(stderr, "polyglot complete: %llu completions, %llu tokens in %.2f s",
                     static_cast<unsigned long long>(done_),
                     static_cast<unsigned long long>(tokens_), secs);
        if (failed_)
            std::fprintf(stderr, "; %llu failed", static_cast<unsigned long long>(failed_));
        if (nbad)
            std::fprintf(stderr, "; %llu lines skipped (%s)", static_cast<unsigned long long>(nbad),
                         reasons.c_str());
        std::fprintf(stderr, "\n");
        for (const auto& [k, v] : failures_)
            std::fprintf(stderr, "  failed: %s (%llu)\n", k.c_str(),
                         static_cast<unsigned long long>(v));
    }

    [[nodiscard]] bool any_failure() const { return failed_ > 0; }

  private:
    void run(std::size_t a, std::size_t b) {
        const auto kind = pending_[a].kind;
        std::vector<std::string_view> texts;
        std::vector<std::vector<std::int32_t>> ids;
        for (std::size_t k = a; k < b; ++k) {
            if (kind == prompt_kind::ids)
                ids.push_back(pending_[k].ids);
            else
                texts.push_back(pending_[k].text);
        }
        std::vector<generation> out(b - a);
        call_hooks hooks;
        std::vector<std::string> errors(b - a);
        hooks.item_error = [&](std::uint64_t i, polyglot_status, std::string_view m) {
            if (i < errors.size()) errors[i] = m;
        };
        const bool tty = !o_.quiet && stderr_is_tty();
        const std::uint64_t base_done = done_ + failed_;
        if (tty)
            hooks.progress = [&](std::uint64_t d, std::uint64_t, std::uint64_t tok) {
                show_progress(base_done + d, tok);
            };
        gen_.generate(kind, texts, ids, pending_[a].index, o_.params, out, &hooks);
        for (std::size_t k = a; k < b; ++k) {
            const generation& g = out[k - a];
            if (!g.ok()) {
                std::string why = !g.error.empty() ? g.error : errors[k - a];
                if (why.empty()) why = "generation failed";
                if (o_.strict)
                    throw error(errc::bad_record,
                                "line " + std::to_string(pending_[k].line) + ": " + why);
                ++failed_;
                ++failures_[why.substr(0, 120)];
                write_error(pending_[k], why);
                continue;
            }
            ++done_;
            tokens_ += g.ids.size();
            io::json_writer w;
            w.begin_object();
            w.kv("line", pending_[k].line);
            w.key("id").raw(pending_[k].id_json);
            w.kv("text", g.text);
            w.key("token_ids").begin_array();
            for (auto t : g.ids) w.value(t);
            w.end_array();
            w.kv("finish_reason", finish_reason_name(g.finish_reason));
            w.kv("prompt_tokens", g.prompt_tokens);
            w.kv("completion_tokens", g.ids.size());
            if (o_.params.logprobs) {
                w.key("logprobs").begin_array();
                for (float v : g.logprobs) w.value(v);
                w.end_array();
            }
            w.end_object();
            std::string s = w.take();
            s += '\n';
            out_.write(s);
        }
    }

    void write_error(const item& it, const std::string& why) {
        io::json_writer w;
        w.begin_object();
        w.kv("line", it.line);
        w.key("id").raw(it.id_json);
        w.kv("error", why);
        w.end_object();
        std::string s = w.take();
        s += '\n';
        out_.write(s);
    }

    /// A bar on stderr: lines finished of the lines read so far, scaled by the share of the
    /// input read (exact for a whole file in memory, an estimate while streaming).
    void show_progress(std::uint64_t done, std::uint64_t batch_tokens) {
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        const std::uint64_t tokens = tokens_ + batch_tokens;
        double frac = lines_read_ ? double(done + skipped_lines()) / double(lines_read_) : 0.0;
        if (input_size_) frac *= std::min(1.0, double(input_read_) / double(input_size_));
        frac = std::clamp(frac, 0.0, 1.0);
        const int width = 30, fill = int(frac * width);
        std::fprintf(stderr, "\r[%.*s%*s] %3.0f%% %llu completions %llu tokens %.1f tokens/s ",
                     fill, "##############################", width - fill, "", frac * 100,
                     static_cast<unsigned long long>(done), static_cast<unsigned long long>(tokens),
                     secs > 0 ? double(tokens) / secs : 0.0);
        std::fflush(stderr);
        progress_shown_ = true;
    }

  public:
    /// What the reader has consumed (for the progress bar).
    void input_read(std::uint64_t lines, std::uint64_t bytes, std::uint64_t size) {
        lines_read_ = lines;
        input_read_ = bytes;
        input_size_ = size;
    }

  private:
    [[nodiscard]] std::uint64_t skipped_lines() const {
        std::uint64_t n = 0;
        for (const auto& [k, v] : bad_) n += v;
        return n;
    }

    const options& o_;
    generator& gen_;
    io::atomic_ofstream& out_;
    std::vector<item> pending_;
    std::map<std::string, std::uint64_t> bad_, failures_;
    std::uint64_t done_ = 0, failed_ = 0, tokens_ = 0, n_bad_msgs_ = 0;
    bool progress_shown_ = false;
    std::uint64_t lines_read_ = 0, input_read_ = 0, input_size_ = 0;
    std::chrono::steady_clock::time_point t0_;
};

int run_complete(int argc, char** argv) {
    options o;
    std::vector<std::string> inputs;
    auto& p = o.params;
    p.max_new_tokens = 256;
    po::options_description desc(
        "polyglot complete --model SPEC [options] FILE.jsonl|-\n\n"
        "One completion per input line ({\"prompt\": text}, {\"prompt_ids\": [ids]} or "
        "{\"messages\": [...]}, optional \"id\"), written as JSON lines in input order. Bad lines "
        "and failed items get an "
        "{\"error\": ...} line and are counted on stderr; --strict stops at the first.\n\n"
        "Options");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("model", po::value(&o.model)->required(), "model: a Hugging Face directory or URL#MODEL")
        ("max-new-tokens", po::value(&p.max_new_tokens)->default_value(p.max_new_tokens),
            "tokens to generate at most per line")
        ("temperature", po::value(&p.temperature)->default_value(p.temperature),
            "sampling temperature (0 = greedy)")
        ("top-p", po::value(&p.top_p)->default_value(p.top_p), "nucleus sampling mass (1 = off)")
        ("top-k", po::value(&p.top_k)->default_value(p.top_k), "sample among the k likeliest (0 = off)")
        ("min-p", po::value(&p.min_p)->default_value(p.min_p),
            "drop tokens less likely than min-p times the likeliest (0 = off)")
        ("repetition-penalty", po::value(&p.repetition_penalty)->default_value(p.repetition_penalty),
            "divide the logits of tokens already seen (1 = off)")
        ("seed", po::value(&p.seed)->default_value(p.seed), "sampling seed (per line: seed, line index)")
        ("stop", po::value(&o.stop), "stop string, not part of the output (repeatable)")
        ("logprobs", po::bool_switch(&p.logprobs), "add each generated token's log-probability")
        ("ignore-eos", po::bool_switch(&p.ignore_eos), "do not stop at the model's EOS tokens")
        ("chat-template", po::value(&o.chat_template),
            "a .jinja file rendering \"messages\" lines instead of the model's chat template")
        ("threads", po::value(&o.threads)->default_value(0), "worker threads (0 = all cores)")
        ("backend", po::value(&o.backend)->default_value(o.backend),
            "cpu, cuda, metal, remote, auto, or a plugin path")
        ("plugin-dir", po::value(&o.plugin_dirs), "extra directory to search for plugins (repeatable)")
        ("batch", po::value(&o.batch)->default_value(o.batch), "lines per backend call")
        ("output,o", po::value(&o.output)->default_value(o.output), "output JSONL ('-' = stdout)")
        ("strict", po::bool_switch(&o.strict), "stop with an error at the first bad line or failed item")
        ("quiet,q", po::bool_switch(&o.quiet), "no summary, warnings or progress on stderr");
    // clang-format on
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&inputs), vm, 1)) return 0;
    if (inputs.size() != 1) throw argument_error("complete: give one input FILE.jsonl (or -)");
    if (p.max_new_tokens == 0) throw argument_error("--max-new-tokens must be at least 1");
    if (o.batch == 0) throw argument_error("--batch must be positive");
    if (!(p.repetition_penalty > 0)) throw argument_error("--repetition-penalty must be positive");
    p.stop = o.stop;

    parallel::thread_limit limit(o.threads);
    backend_options bo;
    bo.backend = o.backend;
    for (const auto& d : o.plugin_dirs) bo.plugin_dirs.emplace_back(d);
    bo.threads = o.threads;
    bo.chat_template = o.chat_template;
    auto gen = open_generator(o.model, bo);

    io::atomic_ofstream out(o.output);
    runner run(o, *gen, out);
    io::jsonl_options jo;
    io::line_reader reader(inputs[0], 0, jo);
    io::line_chunk chunk;
    simdjson::dom::parser parser;
    std::uint64_t index = 0;
    while (reader.next(chunk)) {
        run.input_read(index + chunk.lines.size(), chunk.input_bytes_end, reader.size_hint());
        for (const auto& l : chunk.lines) {
            item it;
            it.line = l.number;
            it.index = index++;
            if (l.too_long)
                it.error = "line longer than " + std::to_string(jo.max_line_bytes) + " bytes";
            else
                parse_line(parser, chunk.text(l), it);
            run.add(std::move(it), inputs[0]);
        }
    }
    run.finish();
    out.commit();
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("complete", "text generation: one completion per JSONL line",
                          run_complete);

}  // namespace polyglot::cli
