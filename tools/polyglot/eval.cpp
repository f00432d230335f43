// SPDX-License-Identifier: Apache-2.0
// polyglot eval --model SPEC --task TASK[:LANG][|SHOTS]... --data DIR_OR_FILE: scores a student
// on the paper's benchmarks (Global-MMLU-Lite, M-RewardBench, MGSM) or a user's task file with
// any backend, and writes lighteval-format results (docs/eval.md) that `polyglot pgscore` reads.
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/eval/results.hpp>
#include <polyglot/eval/runner.hpp>
#include <polyglot/eval/tasks.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace polyglot::cli {
namespace {

constexpr std::size_t max_skip_messages = 5;

volatile std::int32_t cancel_flag = 0;
extern "C" void on_sigint(int) { cancel_flag = 1; }

std::vector<std::string> split_commas(const std::vector<std::string>& in) {
    std::vector<std::string> out;
    for (const auto& s : in) {
        std::size_t b = 0;
        while (b <= s.size()) {
            auto e = s.find(',', b);
            if (e == std::string::npos) e = s.size();
            if (e > b) out.push_back(s.substr(b, e - b));
            b = e + 1;
        }
    }
    return out;
}

/// The model's name in config_general: MODEL of URL#MODEL, else the path as given.
std::string model_name_of(const std::string& spec) {
    if (auto h = spec.find('#'); h != std::string::npos && spec.find("://") != std::string::npos)
        return spec.substr(h + 1);
    std::string s = spec;
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

/// The context length a backend reports in its self-description, or 0.
std::size_t context_of(const std::string& info_json) {
    try {
        auto v = analysis::parse_json(info_json, "backend info");
        for (const char* k : {"max_context", "context_length", "context", "max_position_embeddings",
                              "max_model_len"})
            if (const auto* x = v.find(k); x && x->is_number() && x->as_number() > 0)
                return static_cast<std::size_t>(x->as_number());
    } catch (const error&) {
    }
    return 0;
}

void print_summary(const std::vector<eval::task>& tasks,
                   const std::vector<eval::task_result>& results, double seconds) {
    std::fprintf(stderr, "polyglot eval: %zu task%s in %.1f s\n", tasks.size(),
                 tasks.size() == 1 ? "" : "s", seconds);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const auto& t = tasks[i];
        const auto& r = results[i];
        std::string line = "  " + t.key;
        line.resize(std::max<std::size_t>(line.size() + 1, 28), ' ');
        for (const auto& m : r.metrics) {
            if (m.name.starts_with("weighted_acc_")) continue;
            char buf[96];
            if (std::isfinite(m.stderr_))
                std::snprintf(buf, sizeof buf, " %s %.4f ± %.4f", m.name.c_str(), m.value,
                              m.stderr_);
            else
                std::snprintf(buf, sizeof buf, " %s %.4f", m.name.c_str(), m.value);
            line += buf;
        }
        char tail[128];
        std::snprintf(tail, sizeof tail, "  (%zu item%s", r.items.size(),
                      r.items.size() == 1 ? "" : "s");
        line += tail;
        if (r.failed) line += ", " + std::to_string(r.failed) + " failed";
        if (r.truncated) line += ", " + std::to_string(r.truncated) + " truncated";
        std::uint64_t skipped = 0;
        for (const auto& [k, v] : t.skipped) skipped += v;
        if (skipped) line += ", " + std::to_string(skipped) + " rows skipped";
        line += ")";
        std::fprintf(stderr, "%s\n", line.c_str());
    }
}

int run_eval(int argc, char** argv) {
    std::string model, output = "-", details, fewshot_data;
    std::vector<std::string> task_args, task_files;
    backend_options bopts;
    backend_cli bcli;
    eval::load_options lopts;
    eval::run_options ropts;
    std::size_t threads = 0, max_length = 0;
    bool no_sharing = false, quiet = false, resume = false;

    po::options_description desc(
        "polyglot eval --model SPEC --task TASK[:LANG][|SHOTS]... --data DIR_OR_FILE [options]\n\n"
        "Scores a model on the paper's benchmarks as lighteval does and writes lighteval-format\n"
        "results (read by `polyglot pgscore --student/--base/--ref`). Tasks: global_mmlu_lite\n"
        "(0-shot, acc), mrewardbench_mcf (0-shot, acc, acc_norm_token, weighted_acc), mgsm\n"
        "(5-shot generative, extractive_match); or your own multiple-choice task with\n"
        "--task-file. Data: local JSONL/CSV exports of the Hugging Face datasets, laid out as\n"
        "DIR/<dataset>/<lang>/<split>.jsonl (docs/eval.md); nothing is downloaded.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("model,m", po::value(&model), "model: a Hugging Face model directory or URL#MODEL")
        ("task,t", po::value(&task_args)->composing(),
            "TASK[:LANG][|SHOTS], repeatable or comma-separated (e.g. global_mmlu_lite:de)")
        ("task-file", po::value(&task_files)->composing(),
            "[NAME[:LANG]=]FILE: a JSONL multiple-choice task (query, choices, gold[, fewshot])")
        ("data", po::value(&lopts.data), "benchmark data: a directory (DIR/<dataset>/<lang>/"
            "test.jsonl, ...) or, for a single task, its test file")
        ("fewshot-data", po::value(&fewshot_data), "few-shot split file when --data is a file")
        ("output,o", po::value(&output)->default_value("-"), "results JSON ('-' = stdout)")
        ("details", po::value(&details), "per-item details, JSONL")
        ("limit", po::value(&lopts.limit)->default_value(0), "first N items per task (0 = all)")
        ("seed", po::value(&lopts.seed)->default_value(0),
            "seed of mrewardbench_mcf's per-row A/B order")
        ("dtype", po::value(&bopts.dtype),
            "compute dtype if the backend offers a choice (f32|f16|bf16)")
        ("threads", po::value(&threads)->default_value(0), "backend threads (0 = all cores)")
        ("batch-tokens", po::value(&ropts.batch_tokens)->default_value(ropts.batch_tokens),
            "tokens per scoring call (whole items; an item's choices always go together)")
        ("batch-size", po::value(&ropts.batch_items)->default_value(0),
            "items per scoring/generation call (0 = by --batch-tokens; generation: 64)")
        ("max-length", po::value(&max_length)->default_value(0),
            "cut longer inputs from the left to N tokens (0 = the model's context if the "
            "backend reports it, else no cut)")
        ("max-new-tokens", po::value(&ropts.max_new_tokens)->default_value(0),
            "generative tasks: tokens to generate (0 = the task's, 50 for mgsm)")
        ("details-tokens", po::bool_switch(&ropts.keep_ids),
            "--details also lists the token ids of every context and continuation")
        ("no-prefix-sharing", po::bool_switch(&no_sharing),
            "score each choice in its own call (no shared-context reuse; for checks)")
        ("resume", po::bool_switch(&resume), "continue an interrupted run from its journal "
            "(RESULTS.journal, or DETAILS.journal when the results go to stdout): finished items "
            "are not run again")
        ("strict", po::bool_switch(&lopts.strict), "stop at the first bad row or failed item")
        ("quiet,q", po::bool_switch(&quiet), "no summary, warnings or progress on stderr");
    // clang-format on
    bcli.add(desc, bopts);
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value<std::vector<std::string>>(), vm, 0))
        return 0;
    bcli.finish(bopts);
    if (model.empty()) throw argument_error("no --model (see polyglot eval --help)");
    const auto specs = split_commas(task_args);
    if (specs.empty() && task_files.empty())
        throw argument_error("no --task or --task-file (see polyglot eval --help)");
    if (output == "-" && details == "-")
        throw argument_error("--output and --details cannot both be standard output");
    if (ropts.batch_tokens == 0) throw argument_error("--batch-tokens must be > 0");
    lopts.fewshot_data = fewshot_data;
    ropts.strict = lopts.strict;
    ropts.share_prefix = !no_sharing;

    // Load every task first: data problems show before any model is loaded.
    std::vector<eval::task_request> reqs;
    for (const auto& s : specs) reqs.push_back(eval::parse_task(s));
    for (const auto& f : task_files) reqs.push_back(eval::parse_task_file(f));
    std::size_t n_skip_msgs = 0;
    lopts.on_skip = [&](const std::string& m) {
        if (!quiet && n_skip_msgs < max_skip_messages)
            std::fprintf(stderr, "polyglot eval: warning: skipped %s\n", m.c_str());
        ++n_skip_msgs;
    };
    std::vector<eval::task> tasks;
    for (const auto& r : reqs) {
        tasks.push_back(eval::load_task(r, lopts));
        for (std::size_t i = 0; i + 1 < tasks.size(); ++i)
            if (tasks[i].key == tasks.back().key)
                throw argument_error("task " + tasks.back().key + " is given twice");
    }
    if (!quiet && n_skip_msgs > max_skip_messages)
        std::fprintf(stderr, "polyglot eval: ... and %zu more skipped rows\n",
                     n_skip_msgs - max_skip_messages);

    bopts.threads = threads;
    bopts.batch_tokens = ropts.batch_tokens;
    parallel::thread_limit limit_threads(threads);

    bool need_scorer = false, need_generator = false;
    for (const auto& t : tasks)
        (t.kind == eval::task_kind::generative ? need_generator : need_scorer) = true;
    std::unique_ptr<scorer> sc;
    std::unique_ptr<generator> gen;
    eval::run_info info;
    info.start_time = eval::unix_now();
    if (need_scorer) {
        sc = open_scorer(model, bopts);
        info.backend = sc->backend();
        info.model_info_json = sc->info_json();
    }
    if (need_generator) {
        gen = open_generator(model, bopts);
        if (info.backend.empty()) {
            info.backend = gen->backend();
            info.model_info_json = gen->info_json();
        }
    }
    ropts.max_length = max_length ? max_length : context_of(info.model_info_json);
    ropts.cancel = &cancel_flag;
    std::signal(SIGINT, on_sigint);
    std::signal(SIGTERM, on_sigint);

    // The journal keeps every finished item (a details line) until the outputs are written,
    // so that --resume continues an interrupted run without repeating work.
    const std::string journal_path = output != "-"                        ? output + ".journal"
                                     : !details.empty() && details != "-" ? details + ".journal"
                                                                          : std::string();
    std::map<std::string, std::map<std::size_t, eval::item_result>> done;
    // The journal's first line says which run it belongs to; a different model, backend, seed
    // or length limit would give other numbers, so such a journal is not reused.
    io::json_writer hw;
    hw.begin_object()
        .kv("polyglot_eval_journal", 1)
        .kv("model", model)
        .kv("backend", info.backend)
        .kv("seed", lopts.seed)
        .kv("max_length", ropts.max_length)
        .end_object();
    const std::string header = hw.take() + "\n";
    std::error_code ec;
    const bool have_journal = !journal_path.empty() && fs::file_size(journal_path, ec) > 0 && !ec;
    if (have_journal) {
        if (!resume)
            throw argument_error(journal_path +
                                 " exists: an earlier run was interrupted; rerun with --resume to "
                                 "continue it, or delete the file to start over");
        const std::string text = io::read_file(journal_path);
        if (text.compare(0, header.size(), header) != 0)
            throw argument_error(journal_path +
                                 " belongs to another run (model, backend, seed or "
                                 "--max-length differ: its first line is " +
                                 text.substr(0, text.find('\n')) + "); delete it to start over");
        std::size_t reused = 0, line = 1;
        for (std::size_t pos = header.size(); pos < text.size();) {
            auto nl = text.find('\n', pos);
            if (nl == std::string::npos) break;  // a last line cut by the crash
            const std::string_view l(text.data() + pos, nl - pos);
            pos = nl + 1;
            ++line;
            auto e = eval::parse_details_line(l, journal_path + ":" + std::to_string(line));
            for (const auto& t : tasks)
                if (t.key == e.task && e.index < t.items.size() &&
                    t.items[e.index].context == e.query && !e.result.failed) {
                    done[t.key][e.index] = std::move(e.result);
                    ++reused;
                }
        }
        if (!quiet)
            std::fprintf(stderr, "polyglot eval: resuming: %zu items from %s\n", reused,
                         journal_path.c_str());
    } else if (resume && !quiet) {
        std::fprintf(stderr, "polyglot eval: nothing to resume (no %s)\n",
                     journal_path.empty() ? "journal: give -o FILE" : journal_path.c_str());
    }
    std::FILE* journal = nullptr;
    if (!journal_path.empty()) {
        journal = std::fopen(journal_path.c_str(), have_journal ? "a" : "w");
        if (!journal || (!have_journal &&
                         (std::fwrite(header.data(), 1, header.size(), journal) != header.size() ||
                          std::fflush(journal) != 0)))
            throw io_error(journal_path + ": cannot write the journal");
    }

    const bool show_progress = !quiet && stderr_is_tty();
    std::vector<eval::task_result> results(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const auto& t = tasks[i];
        if (show_progress)
            ropts.progress = [&](std::size_t n, std::size_t total) {
                std::fprintf(stderr, "\r%s: %zu/%zu items ", t.key.c_str(), n, total);
                std::fflush(stderr);
            };
        if (journal)
            ropts.on_item = [&](std::size_t k, const eval::item_result& r) {
                const std::string l = eval::details_line(t, k, r);
                if (std::fwrite(l.data(), 1, l.size(), journal) != l.size() ||
                    std::fflush(journal) != 0)
                    throw io_error(journal_path + ": cannot write the journal");
            };
        eval::run_task(sc.get(), gen.get(), t, ropts, std::move(done[t.key]), results[i]);
        if (show_progress) std::fprintf(stderr, "\r\033[K");
        eval::compute_metrics(t, results[i]);
    }
    info.end_time = eval::unix_now();
    info.model_name = model_name_of(model);
    info.model_spec = model;
    info.seed = lopts.seed;
    info.limit = lopts.limit;
    info.options = ropts;
    info.threads = threads ? threads : parallel::default_concurrency();
    if (const char* j = std::getenv("SLURM_JOB_ID")) info.job_id = j;
    if (!details.empty()) {
        io::atomic_ofstream det(details);
        for (std::size_t i = 0; i < tasks.size(); ++i)
            for (std::size_t k = 0; k < tasks[i].items.size(); ++k)
                det.write(eval::details_line(tasks[i], k, results[i].items[k]));
        det.commit();
    }
    write_output(output, eval::results_json(tasks, results, info));
    if (journal) {
        std::fclose(journal);
        fs::remove(journal_path);
    }

    if (!quiet) {
        for (const auto& r : results)
            for (const auto& w : r.warnings)
                std::fprintf(stderr, "polyglot eval: warning: %s\n", w.c_str());
        print_summary(tasks, results, info.end_time - info.start_time);
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("eval", "score a student on benchmarks (lighteval-format results)",
                          run_eval);

}  // namespace polyglot::cli
