// SPDX-License-Identifier: Apache-2.0
// polyglot tokenize: token ids (or counts) of each input line, in input order.
#include <sys/resource.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <polyglot/parallel/reduce.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <polyglot/text/unicode.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

constexpr std::size_t lines_per_chunk = 256;      // one parallel task
constexpr std::size_t window_bytes = 16u << 20;   // input processed per parallel round
constexpr std::size_t max_reported_invalid = 20;  // stderr lines about invalid UTF-8

void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    out.append(buf, p);
}

/// CPU seconds used by the whole process so far (all threads, user + system).
double process_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

void write_stdout(std::string_view s) {
    if (!s.empty() && std::fwrite(s.data(), 1, s.size(), stdout) != s.size())
        throw io_error(std::string("cannot write stdout: ") + std::strerror(errno));
}

int run_tokenize(int argc, char** argv) {
    std::string spec = "cl100k_base";
    std::string input = "-";
    std::size_t threads = 0;
    bool count_only = false, timing = false;

    po::options_description desc(
        "polyglot tokenize [options] [FILE|-]\n\n"
        "Tokenizes each line of FILE (default: standard input) and prints one JSON array of "
        "token ids per line, in input order for any --threads. Lines are split on '\\n' only; "
        "everything else, including a '\\r' before the '\\n', is part of the line as tiktoken "
        "would see it. A last line without '\\n' counts; an empty input has no lines. A line "
        "that is not valid UTF-8 prints `null` and is reported on stderr with its line number. "
        "No special tokens are recognised (tiktoken's encode_ordinary).\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("tokenizer,t", po::value(&spec)->default_value(spec),
            "cl100k_base, o200k_base, or a path to a tiktoken encoder .json / .tiktoken.bin")
        ("threads", po::value(&threads)->default_value(0), "worker threads (0 = all cores)")
        ("count", po::bool_switch(&count_only), "print only the number of tokens of each line");
    // clang-format on
    po::options_description hidden;
    hidden.add_options()("input", po::value(&input))(
        "timing", po::bool_switch(&timing),
        "print the wall-clock seconds spent tokenizing (excluding input, output and table "
        "loading) to stderr as 'tokenize_seconds <s>', and the CPU seconds of that phase (all "
        "threads) as 'tokenize_cpu_seconds <s>'");
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, hidden, "input", 1, vm)) return 0;

    parallel::thread_limit limit(threads);
    const auto tok = text::open_tokenizer(spec);
    const std::string data = read_input(input);
    const std::string label = input == "-" ? std::string("<stdin>") : input;

    // Line boundaries: [starts[k], ends[k]).
    std::vector<std::size_t> starts, ends;
    for (std::size_t pos = 0; pos < data.size();) {
        const std::size_t nl = data.find('\n', pos);
        const std::size_t end = nl == std::string::npos ? data.size() : nl;
        starts.push_back(pos);
        ends.push_back(end);
        pos = nl == std::string::npos ? data.size() : nl + 1;
    }
    const std::size_t n_lines = starts.size();

    double seconds = 0, cpu_seconds = 0;
    std::size_t invalid = 0;
    std::vector<std::int64_t> counts;                 // --count: tokens per line, -1 = invalid
    std::vector<std::string> chunk_out;               // ids mode: formatted output per chunk
    std::vector<std::vector<std::size_t>> chunk_bad;  // invalid lines per chunk
    std::string out;
    for (std::size_t first = 0; first < n_lines;) {
        // A window of whole lines of about window_bytes, processed in parallel chunks.
        std::size_t last = first;
        while (last < n_lines && (last == first || ends[last] - starts[first] < window_bytes))
            ++last;
        const std::size_t n = last - first;
        const std::size_t n_chunks = (n + lines_per_chunk - 1) / lines_per_chunk;
        chunk_bad.assign(n_chunks, {});
        if (count_only)
            counts.assign(n, 0);
        else
            chunk_out.assign(n_chunks, {});
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = timing ? process_cpu_seconds() : 0;
        parallel::for_blocks(n_chunks, 1, [&](std::size_t cb, std::size_t ce) {
            std::vector<text::token_id> ids;
            for (std::size_t c = cb; c < ce; ++c) {
                const std::size_t lb = first + c * lines_per_chunk;
                const std::size_t le = std::min(last, lb + lines_per_chunk);
                for (std::size_t l = lb; l < le; ++l) {
                    const std::string_view line(data.data() + starts[l], ends[l] - starts[l]);
                    const bool ok = text::is_valid_utf8(line);
                    if (!ok) chunk_bad[c].push_back(l);
                    if (count_only) {
                        counts[l - first] = ok ? static_cast<std::int64_t>(tok->count(line)) : -1;
                        continue;
                    }
                    std::string& o = chunk_out[c];
                    if (!ok) {
                        o += "null\n";
                        continue;
                    }
                    ids.clear();
                    tok->encode(line, ids);
                    o += '[';
                    for (std::size_t k = 0; k < ids.size(); ++k) {
                        if (k) o += ',';
                        append_number(o, ids[k]);
                    }
                    o += "]\n";
                }
            }
        });
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (timing) cpu_seconds += process_cpu_seconds() - c0;

        for (const auto& bad : chunk_bad)
            for (std::size_t l : bad) {
                if (invalid++ < max_reported_invalid)
                    std::fprintf(stderr, "polyglot tokenize: %s:%zu: invalid UTF-8; wrote null\n",
                                 label.c_str(), l + 1);
            }
        if (count_only) {
            out.clear();
            for (std::int64_t c : counts) {
                if (c < 0)
                    out += "null";
                else
                    append_number(out, static_cast<std::uint64_t>(c));
                out += '\n';
            }
            write_stdout(out);
        } else {
            for (const auto& s : chunk_out) write_stdout(s);
        }
        first = last;
    }
    if (std::fflush(stdout) != 0)
        throw io_error(std::string("cannot write stdout: ") + std::strerror(errno));
    if (invalid > max_reported_invalid)
        std::fprintf(stderr, "polyglot tokenize: %s: %zu lines with invalid UTF-8 in all\n",
                     label.c_str(), invalid);
    if (timing)
        std::fprintf(stderr, "tokenize_seconds %.6f\ntokenize_cpu_seconds %.6f\n", seconds,
                     cpu_seconds);
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("tokenize", "token ids or counts of each line (tiktoken tables)",
                          run_tokenize);

}  // namespace polyglot::cli
