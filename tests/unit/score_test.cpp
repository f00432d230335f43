// SPDX-License-Identifier: Apache-2.0
// The scoring driver: in-process (fake models, thread invariance, limit, strict) and the
// `polyglot score` CLI ($POLYGLOT_CLI): identical reports for --threads 1 and 2, skip counts,
// strict exit code and message, per-instance output.
#define BOOST_TEST_MODULE score
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/metrics/length.hpp>
#include <polyglot/metrics/lexical.hpp>
#include <polyglot/metrics/perplexity.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/score/score.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/report.hpp"
#include "test_cli.hpp"
#include "test_tokenizers.hpp"

namespace pg = polyglot;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {
using polyglot::testing::json_number;

/// A deterministic fake LM: sum_nll = 0.01 × bytes(response) + 0.1, n_scored = bytes or 0.
class fake_scorer final : public pg::scorer {
  public:
    int calls = 0;
    [[nodiscard]] std::string id() const override { return "fake-lm"; }
    [[nodiscard]] std::string backend() const override { return "test"; }
    void score(std::span<const std::string_view> prompts,
               std::span<const std::string_view> responses, std::span<pg::lm_score> out,
               const pg::call_hooks*) override {
        ++calls;
        BOOST_REQUIRE(prompts.size() == responses.size() && out.size() == responses.size());
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i].n_scored = static_cast<std::uint32_t>(responses[i].size());
            out[i].sum_nll = 0.01 * static_cast<double>(responses[i].size()) + 0.1;
            out[i].truncated = prompts[i].size() > 40;
        }
    }
};

fs::path temp_path(const std::string& name) {
    return fs::temp_directory_path() /
           ("polyglot_score_test_" + std::to_string(::getpid()) + "_" + name);
}

/// A few thousand records with bad lines sprinkled in (the mix the CLI tests also use).
fs::path make_corpus() {
    static const fs::path p = [] {
        fs::path f = temp_path("corpus.jsonl");
        std::ofstream o(f, std::ios::binary);
        const char* langs[] = {"de", "es", "ja"};
        for (int i = 1; i <= 5000; ++i) {
            if (i % 311 == 0) {
                o << "{\"prompt\": \"broken\n";
                continue;
            }
            if (i % 499 == 0) {
                o << "\n";
                continue;
            }
            if (i % 701 == 0) {
                o << "{\"prompt\": null, \"response\": \"x\"}\n";
                continue;
            }
            o << "{\"id\": \"r" << i << "\", \"prompt\": \"Question number " << i % 97
              << " about topic " << i % 13 << "\", \"response\": \"Antwort " << i * 7919 % 1000
              << (i % 5 ? " mit mehr Text" : "") << " \\u00fcber Dinge\", \"language\": \""
              << langs[i % 3] << "\"}\n";
        }
        return f;
    }();
    return p;
}

pg::score::metric_bundle test_bundle(fake_scorer*& lm) {
    pg::score::metric_bundle b;
    auto tok = pg::testing::bytes();
    b.metrics.push_back(pg::score::erase(pg::metrics::length_metric(tok)));
    b.metrics.push_back(pg::score::erase(pg::metrics::lexical_metric(tok)));
    b.metrics.push_back(pg::score::erase(pg::metrics::perplexity_metric("fake-lm")));
    auto s = std::make_unique<fake_scorer>();
    lm = s.get();
    b.lm = std::move(s);
    return b;
}

struct run_out {
    std::string report, instances;
    std::vector<std::string> skips;
    pg::score::run_result res;
};

run_out run_in_process(std::size_t threads, std::uint64_t limit = 0, std::size_t chunk = 256) {
    pg::parallel::thread_limit tl(threads);
    fake_scorer* lm = nullptr;
    auto b = test_bundle(lm);
    pg::score::run_options o;
    o.inputs = {make_corpus().string()};
    o.jsonl.chunk_lines = chunk;
    o.tokens = 4 * threads;
    o.limit = limit;
    run_out out;
    pg::score::run_hooks h;
    h.on_skip = [&](const std::string& m) { out.skips.push_back(m); };
    h.per_instance = [&](std::string_view s) { out.instances += s; };
    out.res = pg::score::run(o, b, h);
    pg::io::json_writer w(2);
    w.begin_object();
    pg::score::write_sections(w, b, out.res);
    w.end_object();
    out.report = w.take();
    BOOST_TEST(lm->calls > 0);
    return out;
}

// ---- CLI helpers (test_cli.hpp) ----

using pg::testing::cli_result;
using pg::testing::mask_timing;
using pg::testing::slurp;

cli_result run_cli(const std::string& args) {
    return pg::testing::run_cli(args, fs::temp_directory_path());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(in_process)

BOOST_AUTO_TEST_CASE(reports_do_not_depend_on_threads) {
    auto one = run_in_process(1);
    auto two = run_in_process(2);
    BOOST_TEST(one.report == two.report);
    BOOST_TEST(one.instances == two.instances);
    BOOST_TEST(one.skips == two.skips);
    BOOST_TEST(one.res.num_samples == two.res.num_samples);
}

BOOST_AUTO_TEST_CASE(counts_skips_and_values) {
    auto r = run_in_process(2);
    // 5000 lines: 16 broken (311·k), 10 blank (499·k), 7 null prompts (701·k), no overlaps.
    // Blank lines are neither records nor skips.
    BOOST_TEST(r.res.num_records_read == 4990u);
    BOOST_TEST(r.res.skipped.at("malformed_json") == 16u);
    BOOST_TEST(r.res.skipped.at("null_field:prompt") == 7u);
    BOOST_TEST(r.res.skipped.size() == 2u);
    BOOST_TEST(r.res.blank_lines == 10u);
    BOOST_TEST(r.res.num_samples == 5000u - 33u);
    BOOST_TEST(r.skips.size() == 23u);  // blank lines are not reported
    BOOST_TEST(r.skips[0].find(":311: malformed_json") != std::string::npos);
    BOOST_TEST(r.res.languages.size() == 3u);
    // Perplexity from the fake LM: per record mean = 0.01 + 0.1 / bytes.
    std::istringstream in(r.instances);
    std::string line;
    double sum_ppl = 0;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        auto p = line.find("\"response_bytes\":");
        BOOST_REQUIRE(p != std::string::npos);
        const double bytes = std::stod(line.substr(p + 17));
        sum_ppl += std::exp(0.01 + 0.1 / bytes);
        ++n;
    }
    BOOST_TEST(n == r.res.num_samples);
    BOOST_TEST(json_number(r.report, "average_perplexity") == sum_ppl / static_cast<double>(n),
               tt::tolerance(1e-12));
    BOOST_TEST(r.instances.rfind("{\"line\":1,\"id\":\"r1\",\"prompt_tokens\":", 0) == 0);
}

BOOST_AUTO_TEST_CASE(chunk_size_changes_nothing_but_rounding_of_sums) {
    auto a = run_in_process(2, 0, 256);
    auto b = run_in_process(2, 0, 1000);
    BOOST_TEST(a.instances == b.instances);
    BOOST_TEST(json_number(a.report, "prompts_average_length") ==
               json_number(b.report, "prompts_average_length"));
    BOOST_TEST(json_number(a.report, "responses_distinct_2") ==
               json_number(b.report, "responses_distinct_2"));
    BOOST_TEST(
        json_number(a.report, "average_perplexity") == json_number(b.report, "average_perplexity"),
        tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(limit_takes_the_first_records) {
    for (std::uint64_t limit : {1u, 255u, 256u, 1000u, 4967u, 9999u}) {
        auto r = run_in_process(2, limit);
        const std::uint64_t expect = std::min<std::uint64_t>(limit, 4967u);
        BOOST_TEST(r.res.num_samples == expect, "limit " << limit);
        BOOST_TEST(static_cast<std::uint64_t>(
                       std::count(r.instances.begin(), r.instances.end(), '\n')) == expect);
        auto full = run_in_process(1);
        BOOST_TEST(full.instances.substr(0, r.instances.size()) == r.instances);
    }
}

BOOST_AUTO_TEST_CASE(strict_stops_at_the_first_bad_record) {
    fake_scorer* lm = nullptr;
    auto b = test_bundle(lm);
    pg::score::run_options o;
    o.inputs = {make_corpus().string()};
    o.strict = true;
    o.jsonl.chunk_lines = 64;
    try {
        pg::score::run(o, b);
        BOOST_FAIL("expected bad_record");
    } catch (const pg::error& e) {
        BOOST_TEST((e.code() == pg::errc::bad_record));
        BOOST_TEST(std::string(e.what()).find(make_corpus().string() + ":311: malformed_json") ==
                   0u);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(identical_reports_for_1_and_2_threads) {
    const auto corpus = make_corpus().string();
    const auto i1 = temp_path("i1.jsonl"), i2 = temp_path("i2.jsonl");
    // The default metrics: length, lexical, language.
    auto a = run_cli("score " + corpus + " --threads 1 --quiet --per-instance " + i1.string());
    auto b = run_cli("score " + corpus + " --threads 2 --quiet --per-instance " + i2.string());
    BOOST_TEST(a.status == 0);
    BOOST_TEST(b.status == 0);
    BOOST_TEST(mask_timing(a.out) == mask_timing(b.out));
    BOOST_TEST(a.out != mask_timing(a.out));  // the masked fields exist
    BOOST_TEST(slurp(i1) == slurp(i2));
    BOOST_TEST(std::count(a.out.begin(), a.out.end(), '\n') > 20);
    BOOST_TEST(a.out.find("\"num_samples\": 4967") != std::string::npos);
    BOOST_TEST(a.out.find("\"malformed_json\": 16") != std::string::npos);
    BOOST_TEST(a.out.find("\"num_records_read\": 4990") != std::string::npos);
    BOOST_TEST(a.out.find("\"blank_lines\": 10") != std::string::npos);
    BOOST_TEST(a.out.find("\"prompts_average_length\"") != std::string::npos);
    BOOST_TEST(a.out.find("\"responses_distinct_2\"") != std::string::npos);
    BOOST_TEST(a.out.find("\"responses_target_lang_rate\"") != std::string::npos);
    BOOST_TEST(a.out.find("\"lid_model\": \"fasttext:lid.176.ftz\"") != std::string::npos);
    BOOST_TEST(slurp(i1).find("\"response_lang\":") != std::string::npos);
    BOOST_TEST(a.err.empty());  // --quiet
    fs::remove(i1);
    fs::remove(i2);
}

BOOST_AUTO_TEST_CASE(strict_mode_exit_code_and_message) {
    auto r = run_cli("score tests/data/bad/null_response.jsonl --metrics length --strict");
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.find("tests/data/bad/null_response.jsonl:3: null_field:response") !=
               std::string::npos);
    BOOST_TEST(r.out.empty());
    // Without --strict: a warning naming the line, and the record is counted as skipped.
    auto ok = run_cli("score tests/data/bad/null_response.jsonl --metrics length");
    BOOST_TEST(ok.status == 0);
    BOOST_TEST(ok.err.find("tests/data/bad/null_response.jsonl:3: null_field:response") !=
               std::string::npos);
    BOOST_TEST(ok.out.find("\"null_field:response\": 1") != std::string::npos);
    BOOST_TEST(ok.out.find("\"num_samples\": 2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(usage_errors) {
    auto r = run_cli("score tests/data/score/bom.jsonl --metrics distinct_ri");
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.find("--embedder") != std::string::npos);
    r = run_cli("score tests/data/score/bom.jsonl --metrics perplexity");
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.find("--lm") != std::string::npos);
    r = run_cli("score tests/data/score/bom.jsonl --metrics lenght");
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.find("unknown metric 'lenght'") != std::string::npos);
    r = run_cli("score tests/data/score/missing.jsonl --metrics length --quiet");
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.err.find("tests/data/score/missing.jsonl") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(report_file_and_metadata) {
    const auto rep = temp_path("report.json");
    auto r = run_cli(
        "score tests/data/score/blank_lines.jsonl tests/data/score/messages.jsonl "
        "--metrics length --teacher T1 -o " +
        rep.string());
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.empty());
    const std::string js = slurp(rep);
    for (const char* k : {"\"input\"", "\"num_samples\": 4", "\"num_records_read\": 4",
                          "\"skipped\": {}", "\"blank_lines\": 4", "\"teacher\": \"T1\"",
                          "\"target_lang\": \"de\"", "\"tokenizer\": \"tiktoken:cl100k_base\"",
                          "\"tool_version\"", "\"elapsed_seconds\"", "\"length\": {"})
        BOOST_TEST(js.find(k) != std::string::npos, k);
    BOOST_TEST(r.err.find("4 records scored from 2 files") != std::string::npos);
    fs::remove(rep);
}

BOOST_AUTO_TEST_CASE(stdin_multiple_files_and_limit) {
    const auto inst = temp_path("multi.jsonl");
    auto r = run_cli(
        "score - tests/data/score/crlf.jsonl --metrics length --quiet --limit 4 "
        "--per-instance " +
        inst.string() + " < tests/data/score/bom.jsonl");
    BOOST_TEST(r.status == 0);
    BOOST_TEST(r.out.find("\"num_samples\": 4") != std::string::npos);
    const std::string lines = slurp(inst);
    // Two records from stdin, then the first two of crlf.jsonl; "file" names the input.
    BOOST_TEST(std::count(lines.begin(), lines.end(), '\n') == 4);
    BOOST_TEST(lines.find("{\"line\":1,\"id\":\"g1\",\"file\":\"<stdin>\"") == 0u);
    BOOST_TEST(lines.find("\"file\":\"tests/data/score/crlf.jsonl\"") != std::string::npos);
    fs::remove(inst);
}

BOOST_AUTO_TEST_CASE(bundled_example_skips) {
    auto r = run_cli("score examples/sft/gamma_de.jsonl --metrics length --quiet");
    BOOST_TEST(r.status == 0);
    for (const char* k :
         {"\"num_samples\": 200", "\"num_records_read\": 203", "\"invalid_utf8\": 1",
          "\"malformed_json\": 1", "\"null_field:response\": 1", "\"blank_lines\": 1"})
        BOOST_TEST(r.out.find(k) != std::string::npos, k);
}

BOOST_AUTO_TEST_CASE(messy_file_counts_bad_records_and_blank_lines_apart) {
    // tests/data/score/messy.jsonl (make_messy.py): 200 valid records in de/es/ja, 6 bad ones,
    // 2 blank lines. `skipped` sums to the bad records; blank lines are counted on their own.
    const auto rep = temp_path("messy.json");
    auto r =
        run_cli("score tests/data/score/messy.jsonl --metrics length,language -o " + rep.string());
    BOOST_TEST(r.status == 0, r.err);
    const std::string js = slurp(rep);
    for (const char* k :
         {"\"num_samples\": 200", "\"num_records_read\": 206", "\"blank_lines\": 2",
          "\"invalid_utf8\": 1", "\"malformed_json\": 2", "\"missing_field:prompt\": 1",
          "\"not_an_object\": 1", "\"null_field:response\": 1"})
        BOOST_TEST(js.find(k) != std::string::npos, k << " in " << js);
    // Exactly these five reasons, summing to the 6 bad records, under "skipped".
    const auto report = pg::analysis::parse_json(js, rep.string());
    const auto& skipped = report.find("metadata")->find("skipped")->as_object();
    BOOST_TEST(skipped.size() == 5u);
    double bad = 0;
    for (const auto& m : skipped) bad += m.value.as_number();
    BOOST_TEST(bad == 6.0);
    // A warning naming file and line for each of the first five bad lines, then a count of the
    // rest; none for the blank lines 42 and 125.
    for (const char* at : {":11: malformed_json", ":58: invalid_utf8", ":94: null_field:response",
                           ":136: missing_field:prompt", ":167: not_an_object"})
        BOOST_TEST(
            r.err.find(std::string("tests/data/score/messy.jsonl") + at) != std::string::npos,
            at << " in " << r.err);
    BOOST_TEST(r.err.find("... and 1 more skipped lines") != std::string::npos, r.err);
    BOOST_TEST(r.err.find(":42:") == std::string::npos);
    BOOST_TEST(r.err.find(":125:") == std::string::npos);
    BOOST_TEST(r.err.find("200 records scored from 1 file (6 lines skipped") != std::string::npos,
               r.err);
    BOOST_TEST(r.err.find("(2 blank lines)") != std::string::npos, r.err);
    // --strict stops at the first bad record (line 11), never at a blank line.
    auto strict = run_cli("score tests/data/score/messy.jsonl --metrics length --strict");
    BOOST_TEST(strict.status == 1);
    BOOST_TEST(strict.err.find("tests/data/score/messy.jsonl:11: malformed_json") !=
               std::string::npos);
    fs::remove(rep);
}

BOOST_AUTO_TEST_CASE(bench_json) {
    auto r = run_cli(
        "bench examples/sft/alpha_de.jsonl --metrics length,lexical --json "
        "--threads 1");
    BOOST_TEST(r.status == 0);
    for (const char* k : {"\"name\": \"ingest\"", "\"name\": \"length\"", "\"name\": \"lexical\"",
                          "\"name\": \"all selected\"", "\"records\": 200", "\"records_per_s\"",
                          "\"tokens_per_s\""})
        BOOST_TEST(r.out.find(k) != std::string::npos, k);
    // tokens = (mean prompt + mean response tokens) × records, an integer.
    auto score = run_cli("score examples/sft/alpha_de.jsonl --metrics length --quiet");
    const double tokens = (json_number(score.out, "prompts_average_length") +
                           json_number(score.out, "responses_average_length")) *
                          200;
    BOOST_TEST(json_number(r.out, "tokens") == std::round(tokens));
}

BOOST_AUTO_TEST_SUITE_END()
