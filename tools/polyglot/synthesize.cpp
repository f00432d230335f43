// SPDX-License-Identifier: Apache-2.0
// polyglot synthesize: SFT data from a teacher model with the paper's three strategies
// (include/polyglot/synth/synthesize.hpp), appended to a resumable JSONL file.
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/synth/synthesize.hpp>
#include <polyglot/text/language_names.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

volatile std::int32_t g_cancel = 0;
extern "C" void on_signal(int) { g_cancel = 1; }

/// The records' `model` for a teacher spec: the model after '#' of URL#MODEL, else the
/// directory's name.
std::string default_model_name(const std::string& spec) {
    if (auto h = spec.rfind('#'); h != std::string::npos) return spec.substr(h + 1);
    std::filesystem::path p(spec);
    if (p.filename().empty()) p = p.parent_path();
    return p.filename().string();
}

struct pricing {
    double in = 0, out = 0;  ///< per million tokens
    [[nodiscard]] bool any() const { return in > 0 || out > 0; }
    [[nodiscard]] double cost(const synth::stats& s) const {
        return (static_cast<double>(s.tokens_in) * in + static_cast<double>(s.tokens_out) * out) /
               1e6;
    }
};

std::string progress_line(const synth::stats& s, const pricing& price, double seconds) {
    char buf[512];
    const std::uint64_t done = s.processed();
    const double frac = s.rows ? static_cast<double>(done) / static_cast<double>(s.rows) : 1;
    // Rows asked this run (not already done) drive the rate and the projections.
    const std::uint64_t asked = done - s.already_done;
    const std::uint64_t left = s.rows - done;
    const double eta = asked ? seconds / static_cast<double>(asked) * static_cast<double>(left) : 0;
    int n = std::snprintf(
        buf, sizeof buf,
        "%llu/%llu rows (%.0f%%) written %llu failed %llu skipped %llu | tokens "
        "in %llu out %llu",
        static_cast<unsigned long long>(done), static_cast<unsigned long long>(s.rows), frac * 100,
        static_cast<unsigned long long>(s.written),
        static_cast<unsigned long long>(s.failed_total()),
        static_cast<unsigned long long>(s.too_long), static_cast<unsigned long long>(s.tokens_in),
        static_cast<unsigned long long>(s.tokens_out));
    std::string line(buf, static_cast<std::size_t>(n));
    if (price.any()) {
        const double c = price.cost(s);
        const double projected =
            asked ? c / static_cast<double>(asked) * static_cast<double>(asked + left) : 0;
        n = std::snprintf(buf, sizeof buf, " | cost $%.4f (projected $%.4f)", c, projected);
        line.append(buf, static_cast<std::size_t>(n));
    }
    n = std::snprintf(buf, sizeof buf, " | ETA %d:%02d", static_cast<int>(eta) / 60,
                      static_cast<int>(eta) % 60);
    line.append(buf, static_cast<std::size_t>(n));
    return line;
}

/// The command line of `polyglot synthesize`.
struct synth_args {
    synth::options o;
    std::string teacher, seeds, out, report_path;
    backend_options bo;
    pricing price;
    bool strict = false, quiet = false;
    std::size_t threads = 0;
};

/// Parses and checks the command line; nullopt where it asked for --help.
std::optional<synth_args> parse_synth_args(int argc, char** argv) {
    synth_args a;
    auto& o = a.o;
    std::string strategy, categories = "drawn", model_name;
    std::uint64_t shuffle = 0;
    bool no_filter = false;
    po::options_description desc(
        "polyglot synthesize --strategy generate|translate|respond --teacher SPEC --seeds FILE "
        "--lang L -o OUT.jsonl [options]\n\n"
        "Synthesizes SFT records with a teacher model, with the paper's prompts: generate (a new "
        "prompt and response from three in-context examples of the seeds), translate (an "
        "English seed prompt into L, with a response) or respond (a response to a seed prompt "
        "in L). Records are appended to OUT in the paper's schema (id, source, language, "
        "strategy, source_id, synth_prompt, model, prompt, response, messages, prompt_input, "
        "response_input); rerunning the same command after an interruption completes OUT "
        "without repeating rows. The same seed gives the same file for any --threads, "
        "--concurrency or --batch.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("strategy", po::value(&strategy)->required(), "generate, translate or respond")
        ("teacher", po::value(&a.teacher)->required(), "the teacher: a model directory or URL#MODEL")
        ("seeds", po::value(&a.seeds)->required(), "seed JSONL (prompt, response, id, source, "
            "source_id, language, strategy)")
        ("lang", po::value(&o.lang)->required(), "target language code (de, ja, ...)")
        ("output,o", po::value(&a.out)->required(), "output JSONL (appended to; resumable)")
        ("model-name", po::value(&model_name), "the records' `model` (default: the model after "
            "'#' of URL#MODEL, else the directory name)")
        ("seed", po::value(&o.seed)->default_value(0), "sampling and drawing seed")
        ("temperature", po::value(&o.temperature)->default_value(o.temperature, "0.8"),
            "sampling temperature (the paper: 0.8)")
        ("top-p", po::value(&o.top_p)->default_value(o.top_p, "0.9"), "nucleus sampling (the "
            "paper: 0.9)")
        ("max-new-tokens", po::value(&o.max_new_tokens)->default_value(o.max_new_tokens),
            "token budget per record (a record that reaches it is counted as truncated)")
        ("max-model-len", po::value(&o.max_model_len)->default_value(o.max_model_len),
            "skip rows whose cl100k tokens of system + synth prompt + 500 exceed this (the "
            "paper's filter; 0 = off)")
        ("keep-truncated", po::bool_switch(&o.keep_truncated), "respond: keep responses cut "
            "by --max-new-tokens (default: count them as failed)")
        ("categories", po::value(&categories)->default_value(categories), "generate: drawn (one "
            "of the ten task categories drawn per row and named in the prompt) or paper (the "
            "model picks one)")
        ("shuffle", po::value(&shuffle), "shuffle the selected seed rows with this seed")
        ("limit", po::value(&o.limit)->default_value(0), "synthesize at most N rows (0 = all)")
        ("no-filter", po::bool_switch(&no_filter), "use every seed row (default: rows whose "
            "strategy field names the strategy and, except for translate, whose language is L)")
        ("batch", po::value(&o.batch)->default_value(o.batch), "rows per round of model calls")
        ("threads", po::value(&a.threads)->default_value(0), "worker threads (0 = all cores)")
        ("chat-template", po::value(&a.bo.chat_template), "a Jinja chat template file (default: "
            "the model's own)")
        ("price-in", po::value(&a.price.in)->default_value(0), "price per million input tokens "
            "(progress shows the cost so far and projected)")
        ("price-out", po::value(&a.price.out)->default_value(0), "price per million output tokens")
        ("report", po::value(&a.report_path), "write a JSON summary (counts, tokens, cost, "
            "settings) here")
        ("strict", po::bool_switch(&a.strict), "stop at the first bad seed line")
        ("quiet,q", po::bool_switch(&a.quiet), "no progress or summary on stderr");
    // clang-format on
    backend_cli bcli;
    bcli.add(desc, a.bo);
    po::variables_map vm;
    std::vector<std::string> positional;
    if (!parse_command_line(argc, argv, desc, po::value(&positional), vm)) return std::nullopt;
    if (!positional.empty())
        throw argument_error("unexpected argument '" + positional.front() +
                             "' (the seeds are given with --seeds)");
    o.strat = synth::parse_strategy(strategy);
    if (categories == "drawn")
        o.categories = synth::category_mode::drawn;
    else if (categories == "paper")
        o.categories = synth::category_mode::paper;
    else
        throw argument_error("--categories must be drawn or paper");
    if (o.max_new_tokens == 0) throw argument_error("--max-new-tokens must be > 0");
    if (o.batch == 0) throw argument_error("--batch must be > 0");
    if (a.price.in < 0 || a.price.out < 0) throw argument_error("prices must be >= 0");
    o.language_name = text::language_name(o.lang);
    o.model_name = model_name.empty() ? default_model_name(a.teacher) : model_name;
    o.filter = !no_filter;
    if (vm.count("shuffle")) o.shuffle = shuffle;
    bcli.finish(a.bo);
    a.bo.threads = a.threads;
    return a;
}

/// Reads the seeds and selects the job's rows, warning of the first skipped lines.
synth::plan make_plan(const synth_args& a) {
    std::size_t n_skip = 0;
    auto plan = synth::make_plan(
        a.seeds, a.o,
        [&](const std::string& m) {
            if (!a.quiet && n_skip++ < 5)
                std::fprintf(stderr, "polyglot synthesize: warning: skipped %s\n", m.c_str());
        },
        a.strict);
    if (plan.rows.empty()) {
        std::string why;
        for (const auto& [k, v] : plan.skipped) why += " " + k + " " + std::to_string(v);
        throw argument_error(a.seeds + ": no seed row to synthesize from (" +
                             std::to_string(plan.lines_read) + " lines read;" + why + ")");
    }
    if (a.o.strat == synth::strategy::generate && plan.rows.size() < 3 && !a.quiet)
        std::fprintf(stderr,
                     "polyglot synthesize: warning: fewer than 3 seed rows; generate uses %zu "
                     "in-context examples\n",
                     plan.rows.size());
    return plan;
}

/// The run's hooks: failures (the first five) and progress on stderr, and Ctrl-C.
synth::run_hooks make_hooks(const synth_args& a, std::size_t& n_fail) {
    synth::run_hooks hooks;
    hooks.cancel = &g_cancel;
    hooks.on_failure = [&a, &n_fail](const std::string& m) {
        if (!a.quiet && n_fail++ < 5)
            std::fprintf(stderr, "%spolyglot synthesize: %s\n", stderr_is_tty() ? "\r\033[K" : "",
                         m.c_str());
    };
    const bool tty = stderr_is_tty();
    hooks.on_progress = [&a, tty,
                         last = std::chrono::steady_clock::now()](const synth::stats& s) mutable {
        if (a.quiet) return;
        const auto now = std::chrono::steady_clock::now();
        if (!tty && now - last < std::chrono::seconds(10)) return;
        last = now;
        const std::string l = progress_line(s, a.price, s.elapsed_seconds);
        std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", l.c_str());
        std::fflush(stderr);
    };
    return hooks;
}

/// The closing lines on stderr: what was written, failed and skipped.
void print_summary(const synth_args& a, const synth::plan& plan, const synth::stats& st,
                   std::size_t n_fail) {
    if (stderr_is_tty()) std::fprintf(stderr, "\r\033[K");
    if (n_fail > 5)
        std::fprintf(stderr, "polyglot synthesize: ... and %zu more failed rows\n", n_fail - 5);
    std::string failed;
    for (const auto& [k, v] : st.failed) failed += " " + k + " " + std::to_string(v);
    std::string skipped;
    for (const auto& [k, v] : plan.skipped) skipped += " " + k + " " + std::to_string(v);
    std::fprintf(stderr,
                 "polyglot synthesize: %s: %llu records written to %s (%llu rows in the job, "
                 "%llu already done, %llu over --max-model-len, %llu failed%s%s) in %.1f s; "
                 "tokens in %llu out %llu",
                 std::string(synth::strategy_name(a.o.strat)).c_str(),
                 static_cast<unsigned long long>(st.written), a.out.c_str(),
                 static_cast<unsigned long long>(st.rows),
                 static_cast<unsigned long long>(st.already_done),
                 static_cast<unsigned long long>(st.too_long),
                 static_cast<unsigned long long>(st.failed_total()), failed.empty() ? "" : ":",
                 failed.c_str(), st.elapsed_seconds, static_cast<unsigned long long>(st.tokens_in),
                 static_cast<unsigned long long>(st.tokens_out));
    if (a.price.any()) std::fprintf(stderr, "; cost $%.4f", a.price.cost(st));
    std::fprintf(stderr, "\n");
    if (!skipped.empty())
        std::fprintf(stderr, "polyglot synthesize: seed lines skipped:%s\n", skipped.c_str());
}

int run_synthesize(int argc, char** argv) {
    auto parsed = parse_synth_args(argc, argv);
    if (!parsed) return 0;
    const auto& a = *parsed;
    parallel::thread_limit limit_threads(a.threads);
    const auto plan = make_plan(a);
    auto gen = open_generator(a.teacher, a.bo);

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::size_t n_fail = 0;
    const auto st = synth::run(*gen, plan, a.o, a.out, make_hooks(a, n_fail));
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);

    if (!a.report_path.empty())
        write_output(
            a.report_path,
            synth::report_json(plan, a.o, st, a.seeds, a.out, gen->id(),
                               a.price.any() ? std::optional(a.price.cost(st)) : std::nullopt));
    if (!a.quiet) print_summary(a, plan, st, n_fail);
    if (st.cancelled) {
        if (!a.quiet)
            std::fprintf(stderr,
                         "polyglot synthesize: interrupted; run the same command again to "
                         "finish %s\n",
                         a.out.c_str());
        return 130;
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("synthesize",
                          "SFT data from a teacher model: generate, translate or respond",
                          run_synthesize);

}  // namespace polyglot::cli
