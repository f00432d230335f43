// SPDX-License-Identifier: Apache-2.0
// polyglot merge: the report (and per-instance file) of a run scored in shards, from the
// shards' saved states — identical to what one `polyglot score` of the whole input writes.
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/io/input.hpp>
#include <polyglot/score/state.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"
#include "score_util.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

/// Appends the shard's per-instance file to @p out, checking its size and CRC-32 against
/// what the shard recorded.
void append_instances(io::atomic_ofstream& out, const score::named_state& s) {
    const std::string& path = s.state.per_instance_path;
    if (path.empty())
        throw argument_error(s.name +
                             ": this shard was scored without --per-instance, so there is no "
                             "per-instance output to merge");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw io_error(s.name + ": its per-instance output " + path + " cannot be opened");
    std::string buf(std::size_t{4} << 20, '\0');
    std::uint64_t bytes = 0;
    std::uint32_t crc = 0;
    for (;;) {
        const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
        if (n == 0) break;
        const std::string_view piece(buf.data(), n);
        out.write(piece);
        crc = io::crc32(crc, piece);
        bytes += n;
    }
    std::fclose(f);
    if (bytes != s.state.per_instance_bytes || crc != s.state.per_instance_crc)
        throw io_error(path + ": not the per-instance output " + s.name + " recorded (" +
                       std::to_string(bytes) + " bytes, recorded " +
                       std::to_string(s.state.per_instance_bytes) +
                       (bytes == s.state.per_instance_bytes ? ", different content" : "") + ")");
}

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
    const std::string version =
        score::header_value(states.front().state.header, "polyglot_version");
    if (version != POLYGLOT_VERSION_STRING)
        throw argument_error(states.front().name + ": written by polyglot " + version +
                             "; this is polyglot " POLYGLOT_VERSION_STRING
                             " (merge with the version that scored the shards)");
    auto bundle = score::make_metrics_from_header(states.front().state.header);
    auto res = score::merge_states(states, bundle);  // sorts states by shard

    if (!per_instance_path.empty()) {
        io::atomic_ofstream out(per_instance_path);
        for (const auto& s : states) append_instances(out, s);
        out.commit();
    }

    const auto& h = states.front().state.header;
    report_info info;
    const std::string inputs_field = score::header_value(h, "inputs");
    const std::uint64_t n_inputs = std::strtoull(inputs_field.c_str(), nullptr, 10);
    for (std::uint64_t i = 0; i < n_inputs; ++i)
        info.inputs.push_back(score::header_value(h, "input." + std::to_string(i)));
    info.teacher = score::header_value(h, "teacher");
    info.lang = score::header_value(h, "lang");
    info.parse_special = score::header_value(h, "parse_special");
    info.tool_version = version;
    for (const auto& s : states) {
        info.threads = std::max<std::size_t>(info.threads, s.state.threads);
        add_backends(info.backends, s.state.backends);
    }
    write_output(report_path, render_report(info, bundle, res));
    if (!quiet)
        std::fprintf(stderr, "polyglot merge: %zu shards, %llu records scored from %llu files\n",
                     states.size(), static_cast<unsigned long long>(res.num_samples),
                     static_cast<unsigned long long>(n_inputs));
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("merge", "merge shard states into one report (score --shard K/N)",
                          run_merge);

}  // namespace polyglot::cli
