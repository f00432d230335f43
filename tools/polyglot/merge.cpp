// SPDX-License-Identifier: Apache-2.0
// polyglot merge: the report (and per-instance file) of a run scored in shards, from the
// shards' saved states — identical to what one `polyglot score` of the whole input writes
// (the library's score::merge_shards and render_report; this file parses and prints).
#include <boost/program_options.hpp>
#include <cstdio>
#include <polyglot/core/error.hpp>
#include <polyglot/score/job.hpp>
#include <polyglot/score/report.hpp>
#include <polyglot/score/state.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

void show(const score::named_state& s) {
    const auto& st = s.state;
    std::printf("%s\n", s.name.c_str());
    std::printf("  shard %u/%u, lines [%llu, %s), %s at line %llu\n", st.shard.index + 1,
                st.shard.count, static_cast<unsigned long long>(st.shard.line_begin),
                st.shard.line_end == UINT64_MAX ? "end" : std::to_string(st.shard.line_end).c_str(),
                st.complete ? "complete" : "checkpoint",
                static_cast<unsigned long long>(st.counters.next_line));
    std::printf("  %llu records scored, %llu records read, %llu blank lines\n",
                static_cast<unsigned long long>(st.counters.num_samples),
                static_cast<unsigned long long>(st.counters.num_records_read),
                static_cast<unsigned long long>(st.counters.blank_lines));
    for (const auto& [k, v] : st.header) std::printf("  %s = %s\n", k.c_str(), v.c_str());
    for (const auto& [name, bytes] : st.metrics)
        std::printf("  state %s: %zu bytes\n", name.c_str(), bytes.size());
}

int run_merge(int argc, char** argv) {
    std::vector<std::string> paths;
    std::string report_path = "-", per_instance_path;
    bool quiet = false, show_only = false;
    po::options_description desc(
        "polyglot merge STATE... [options]\n\n"
        "Merges the states saved by `polyglot score --shard K/N --state-out STATE` (or MPI "
        "ranks) into the report one run over the whole input would have written. Every shard "
        "of the run must be given once; states from different options, models, inputs or "
        "polyglot versions are refused, naming the difference; damaged state files are "
        "refused.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("output,o", po::value(&report_path)->default_value("-"), "report JSON path ('-' = stdout)")
        ("per-instance", po::value(&per_instance_path), "also concatenate the shards' "
            "per-instance files, in input order, into this file")
        ("show", po::bool_switch(&show_only), "print what each state holds and stop")
        ("quiet,q", po::bool_switch(&quiet), "no summary on stderr");
    // clang-format on
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&paths), vm)) return 0;
    if (paths.empty()) throw argument_error("no state file (see polyglot merge --help)");
    if (report_path == "-" && per_instance_path == "-")
        throw argument_error("--output and --per-instance cannot both be standard output");

    std::vector<score::named_state> states;
    for (const auto& p : paths) states.push_back({p, score::read_state(p)});
    if (show_only) {
        for (const auto& s : states) show(s);
        return 0;
    }
    const score::merged_run m = score::merge_shards(states, per_instance_path);
    write_output(report_path, score::render_report(m.info, m.bundle, m.result));
    if (!quiet)
        std::fprintf(stderr, "polyglot merge: %zu shards, %llu records scored from %llu files\n",
                     states.size(), static_cast<unsigned long long>(m.result.num_samples),
                     static_cast<unsigned long long>(m.info.inputs.size()));
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("merge", "merge shard states into one report (score --shard K/N)",
                          run_merge);

}  // namespace polyglot::cli
