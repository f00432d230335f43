// SPDX-License-Identifier: Apache-2.0
// End to end: `polyglot eval` on the fixture models (two students, a base and a reference
// model, all on the cpu plugin) over the benchmark files of tests/data/eval (built from the
// gettext translations by tests/oracles/eval_data.py), then `polyglot pgscore` on its results
// files; PGR, PG-Score, the teacher scores and the anchors' warnings must equal
// tests/oracles/pgscore_oracle.py (the paper's get_scores.py rules) on the same files. Also:
// the results do not change with --threads or --batch-tokens, an interrupted run resumes from
// its journal, the remote backend (through `polyglot serve`) gives the cpu backend's numbers,
// and bad arguments are errors.
#define BOOST_TEST_MODULE eval_e2e
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <polyglot/json/value.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../remote/remote_test_util.hpp"
#include "eval_fixtures.hpp"

namespace fs = std::filesystem;
using eval_test::fixture;
using polyglot::analysis::json_value;

namespace {

std::string cli() {
    const char* c = std::getenv("POLYGLOT_CLI");
    if (!c || !fs::exists(c)) BOOST_FAIL("POLYGLOT_CLI is not set to the polyglot binary (ctest)");
    return c;
}

std::string python() {
    for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3"})
        if (fs::exists(p)) return p;
    BOOST_FAIL("python3 is missing (scripts/bootstrap installs it with the oracle packages)");
    return {};
}

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string t = (fs::temp_directory_path() / "polyglot-eval-XXXXXX").string();
        if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
        path = t;
    }
    ~temp_dir() { fs::remove_all(path); }
};

/// Runs @p cmd; returns its exit status and fills @p out with its standard output.
int run(const std::string& cmd, std::string* out = nullptr) {
    BOOST_TEST_MESSAGE(cmd);
    std::FILE* p = popen(cmd.c_str(), "r");
    if (!p) return -1;
    std::string s;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) s.append(buf, n);
    const int st = pclose(p);
    if (out) *out = s;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const std::vector<std::string> langs = {"ar", "cs", "de", "es", "id", "ja"};

std::string tasks_arg() {
    std::string t;
    for (const char* l : {"ar", "de", "es", "id", "ja"}) t += ",global_mmlu_lite:" + std::string(l);
    for (const auto& l : langs) t += ",mrewardbench_mcf:" + l;
    for (const char* l : {"de", "es", "ja"}) t += ",mgsm:" + std::string(l);
    return "'" + t.substr(1) + "'";
}

std::string eval_cmd(const std::string& model, const fs::path& out, const std::string& extra) {
    return cli() + " eval --backend cpu --model " + fixture(model).string() + " --task " +
           tasks_arg() + " --data tests/data/eval -q -o " + out.string() + " " + extra;
}

json_value read(const fs::path& p) { return polyglot::analysis::read_json_file(p.string()); }

}  // namespace

BOOST_AUTO_TEST_CASE(eval_then_pgscore_equals_oracle) {
    temp_dir d;
    const std::string py = python();
    struct run_spec {
        std::string name, model;
    };
    const std::vector<run_spec> runs = {{"studentA", "tiny-llama"},
                                        {"studentB", "tiny-llama-bf16"},
                                        {"base", "tiny-qwen3"},
                                        {"ref", "tiny-gemma3"}};
    for (const auto& r : runs)
        BOOST_REQUIRE_EQUAL(run(eval_cmd(r.model, d.path / (r.name + ".json"),
                                         "--details " + (d.path / (r.name + ".jsonl")).string())),
                            0);
    // the results files have lighteval's layout and every task
    for (const auto& r : runs) {
        const auto js = read(d.path / (r.name + ".json"));
        const auto* res = js.find("results");
        BOOST_REQUIRE(res);
        BOOST_TEST(res->find("global_mmlu_lite:de|0")->find("acc"));
        BOOST_TEST(res->find("mrewardbench_mcf:cs|0")->find("weighted_acc_stderr"));
        BOOST_TEST(res->find("mgsm:ja|5")->find("extractive_match"));
        BOOST_TEST(res->find("global_mmlu_lite:_average|0"));
        BOOST_TEST(res->find("all"));
        BOOST_TEST(js.find_path("config_general.model_config.backend")->as_string() == "cpu");
        std::ifstream det(d.path / (r.name + ".jsonl"));
        std::size_t lines = 0;
        for (std::string l; std::getline(det, l);) ++lines;
        BOOST_TEST(lines == (5u + 6u + 3u) * 20u);
    }
    // intrinsic z-scores of the two teachers (made up: PG-Score needs one per row)
    const fs::path rows = d.path / "z.csv";
    {
        std::ofstream z(rows);
        z << "teacher_model,target_lang,z_score\n";
        double v = -0.75;
        for (const char* t : {"studentA", "studentB"})
            for (const auto& l : langs) z << t << "," << l << "," << (v += 0.125) << "\n";
    }
    std::string students, ostudents;
    for (const char* t : {"studentA", "studentB"}) {
        const std::string f = (d.path / (std::string(t) + ".json")).string();
        for (const auto& l : langs) students += " --student " + std::string(t) + ":" + l + "=" + f;
        ostudents += " --student " + std::string(t) + "=" + f;
    }
    const std::string base = (d.path / "base.json").string(), ref = (d.path / "ref.json").string();
    std::string got_text, want_text;
    BOOST_REQUIRE_EQUAL(run(cli() + " pgscore " + rows.string() + students + " --base " + base +
                                " --ref " + ref + " --json 2>" + (d.path / "pg.err").string(),
                            &got_text),
                        0);
    BOOST_REQUIRE_EQUAL(run(py + " tests/oracles/pgscore_oracle.py" + ostudents + " --base " +
                                base + " --ref " + ref + " --z " + rows.string(),
                            &want_text),
                        0);
    const auto got = polyglot::analysis::parse_json(got_text, "pgscore --json");
    const auto want = polyglot::analysis::parse_json(want_text, "pgscore_oracle.py");
    std::size_t matched = 0;
    for (const auto& w : want.find("rows")->as_array()) {
        const std::string t = w.find("teacher_model")->as_string(),
                          l = w.find("target_lang")->as_string();
        bool found = false;
        for (const auto& g : got.find("rows")->as_array()) {
            if (g.find("teacher_model")->as_string() != t ||
                g.find("target_lang")->as_string() != l)
                continue;
            found = true;
            for (const char* k : {"result", "result_stderr", "pgr", "z_score", "pg_score"}) {
                const double a = g.find(k)->as_number(), b = w.find(k)->as_number();
                BOOST_TEST(std::fabs(a - b) <= 1e-12 * std::max(1.0, std::fabs(b)),
                           t << " " << l << " " << k << ": " << a << " vs oracle " << b);
            }
        }
        BOOST_TEST(found, t << " " << l);
        matched += found;
    }
    BOOST_TEST(matched == 12u);
    for (const auto& g : got.find("teachers")->as_array()) {
        const double w =
            want.find("teachers")->find(g.find("teacher_model")->as_string())->as_number();
        BOOST_TEST(std::fabs(g.find("pg_score")->as_number() - w) <= 1e-12);
    }
    // the anchors' warnings: one per language the oracle flags, naming it and the problem
    const auto& gw = got.find("warnings")->as_array();
    std::size_t flagged = 0;
    for (const auto& w : want.find("warnings")->as_array()) {
        const std::string lang = w.as_array()[0].as_string(), kind = w.as_array()[1].as_string();
        const std::string needle = kind == "inverted" ? "is inverted" : "mostly noise";
        bool seen = false;
        for (const auto& s : gw)
            seen = seen || (s.as_string().find("'" + lang + "'") != std::string::npos &&
                            s.as_string().find(needle) != std::string::npos);
        BOOST_TEST(seen, "no " << kind << " warning for " << lang);
        ++flagged;
    }
    std::size_t anchor_warnings = 0;
    for (const auto& s : gw)
        anchor_warnings += s.as_string().find("ref − base") != std::string::npos;
    BOOST_TEST(anchor_warnings == flagged);
    BOOST_TEST_MESSAGE(flagged << " anchor warnings");
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_threads_or_batching) {
    temp_dir d;
    const std::string t = "--task global_mmlu_lite:ja,mrewardbench_mcf:de --data tests/data/eval";
    const std::string m = " eval --backend cpu -q --model " + fixture("tiny-qwen3").string() + " ";
    BOOST_REQUIRE_EQUAL(run(cli() + m + t + " --threads 1 -o " + (d.path / "a.json").string()), 0);
    BOOST_REQUIRE_EQUAL(
        run(cli() + m + t + " --threads 2 --batch-tokens 300 -o " + (d.path / "b.json").string()),
        0);
    const auto a = read(d.path / "a.json"), b = read(d.path / "b.json");
    std::size_t n = 0;
    for (const auto& task : a.find("results")->as_object())
        for (const auto& m2 : task.value.as_object()) {
            BOOST_TEST(m2.value.as_number() ==
                           b.find("results")->find(task.key)->find(m2.key)->as_number(),
                       task.key << " " << m2.key);
            ++n;
        }
    BOOST_TEST(n > 10u);
}

BOOST_AUTO_TEST_CASE(usage_errors) {
    const std::string m = cli() + " eval --backend cpu --model " + fixture("tiny-llama").string();
    BOOST_TEST(run(m + " --data tests/data/eval 2>/dev/null") == 2);  // no task
    BOOST_TEST(run(m + " --task global_mmlu_lite --data tests/data/eval 2>/dev/null") != 0);
    BOOST_TEST(run(m + " --task global_mmlu_lite:xx --data tests/data/eval 2>/dev/null") != 0);
    BOOST_TEST(run(m + " --task global_mmlu_lite:fr --data tests/data/eval 2>/dev/null") ==
               1);  // no data
}

BOOST_AUTO_TEST_CASE(interrupted_run_resumes_without_repeating_work) {
    temp_dir d;
    const std::string m = cli() + " eval --backend cpu --model " + fixture("tiny-llama").string() +
                          " --task global_mmlu_lite:de,mrewardbench_mcf:de --data tests/data/eval"
                          " --max-length 100000";
    const fs::path out = d.path / "r.json", journal = d.path / "r.json.journal";
    // --strict stops at the first item longer than the model's context (in mrewardbench_mcf:de):
    // the finished Global-MMLU-Lite items stay in the journal
    BOOST_REQUIRE_EQUAL(run(m + " --strict -q -o " + out.string() + " 2>/dev/null"), 1);
    BOOST_REQUIRE(fs::exists(journal));
    BOOST_TEST(!fs::exists(out));
    // a journal item whose log-likelihoods were changed shows they are reused, not recomputed
    std::string text;
    {
        std::ifstream in(journal);
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    std::size_t lines = 0;
    for (char c : text) lines += c == '\n';
    BOOST_TEST(lines == 21u);  // the header and 20 items
    const auto at = text.find("\"logprobs\":[", text.find("\"index\":0,"));
    BOOST_REQUIRE(at != std::string::npos);
    const auto end = text.find(']', at);
    const std::string gold_first = "\"logprobs\":[0,-50,-50,-50]";  // choice A best
    text.replace(at, end + 1 - at, gold_first);
    std::ofstream(journal, std::ios::trunc) << text;
    BOOST_TEST(run(m + " -q -o " + out.string() + " 2>/dev/null") == 2);  // needs --resume
    BOOST_TEST(run(cli() + " eval --backend cpu --model " + fixture("tiny-qwen3").string() +
                   " --task global_mmlu_lite:de,mrewardbench_mcf:de --data tests/data/eval "
                   "--max-length 100000 --resume -q -o " +
                   out.string() + " 2>/dev/null") == 2);
    std::string err;
    BOOST_REQUIRE_EQUAL(run(m + " --resume -q -o " + out.string() + " --details " +
                                (d.path / "det.jsonl").string() + " 2>&1",
                            &err),
                        0);
    BOOST_TEST(!fs::exists(journal));  // removed once the outputs are written
    std::ifstream det(d.path / "det.jsonl");
    std::string first;
    std::getline(det, first);
    BOOST_TEST(first.find(gold_first) != std::string::npos, first);
    // the rest equals a fresh run's
    BOOST_REQUIRE_EQUAL(run(m + " -q -o " + (d.path / "fresh.json").string()), 0);
    const auto a = read(out), b = read(d.path / "fresh.json");
    const auto& ra = a.find("results")->find("mrewardbench_mcf:de|0")->as_object();
    for (const auto& x : ra)
        BOOST_TEST(x.value.as_number() ==
                   b.find("results")->find("mrewardbench_mcf:de|0")->find(x.key)->as_number());
    BOOST_TEST(
        a.find_path("summary_tasks")->find("mrewardbench_mcf:de|0")->find("failed")->as_number() ==
        3);
}

BOOST_AUTO_TEST_CASE(remote_backend_through_serve_equals_cpu) {
    // "any backend": the same evaluation through `polyglot serve` and the remote backend
    // (score_ids as echo + prompt log-probs, generation over HTTP) gives the cpu backend's
    // per-choice log-likelihoods, generations and results.
    temp_dir d;
    remote_test::child srv({cli(), "serve", "--model", fixture("tiny-llama").string(), "--port",
                            "0", "--backend", "cpu", "-q"},
                           std::string(), std::string());
    const std::string line = srv.read_line(120), tag = "listening on ";
    BOOST_REQUIRE_MESSAGE(line.find(tag) != std::string::npos, "serve did not start: " + line);
    const std::string url = line.substr(line.find(tag) + tag.size());
    const std::string t =
        " --task global_mmlu_lite:ja,mrewardbench_mcf:ar,mgsm:es --data tests/data/eval -q";
    BOOST_REQUIRE_EQUAL(
        run(cli() + " eval --backend remote --no-cache --model '" + url + "'" + t + " -o " +
            (d.path / "r.json").string() + " --details " + (d.path / "r.jsonl").string()),
        0);
    srv.signal(SIGTERM);
    BOOST_TEST(srv.wait() == 0);
    BOOST_REQUIRE_EQUAL(
        run(cli() + " eval --backend cpu --model " + fixture("tiny-llama").string() + t + " -o " +
            (d.path / "c.json").string() + " --details " + (d.path / "c.jsonl").string()),
        0);
    std::ifstream rd(d.path / "r.jsonl"), cd(d.path / "c.jsonl");
    std::size_t items = 0;
    double worst = 0;
    for (std::string a, b; std::getline(rd, a) && std::getline(cd, b); ++items) {
        const auto x = polyglot::analysis::parse_json(a, "remote"),
                   y = polyglot::analysis::parse_json(b, "cpu");
        BOOST_REQUIRE(x.find("error") == nullptr);
        if (const auto* g = y.find("generation")) {
            BOOST_TEST(x.find("generation")->as_string() == g->as_string());
            continue;
        }
        const auto& la = x.find("logprobs")->as_array();
        const auto& lb = y.find("logprobs")->as_array();
        BOOST_REQUIRE_EQUAL(la.size(), lb.size());
        for (std::size_t c = 0; c < la.size(); ++c) {
            const double n = y.find("tokens")->as_array()[c].as_number();
            worst = std::max(worst, std::fabs(la[c].as_number() - lb[c].as_number()) / n);
        }
    }
    BOOST_TEST(items == 60u);
    BOOST_TEST(worst <= 1e-5, "worst per-token difference " << worst);
    const auto r = read(d.path / "r.json"), c = read(d.path / "c.json");
    BOOST_TEST(r.find_path("config_general.model_config.backend")->as_string() == "remote");
    for (const auto& task : c.find("results")->as_object())
        for (const auto& m : task.value.as_object())
            BOOST_TEST(std::fabs(r.find("results")->find(task.key)->find(m.key)->as_number() -
                                 m.value.as_number()) <= 1e-9,
                       task.key << " " << m.key);
}
