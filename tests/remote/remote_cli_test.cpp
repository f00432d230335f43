// SPDX-License-Identifier: Apache-2.0
// `polyglot score --lm URL#MODEL` end to end against the scripted server: failed model calls
// are counted by reason in the report, named (file:line) on stderr and in the per-instance
// output, never given a value; `kill -9` at random points and the same command again scores
// every record exactly once (the server's log proves it) and gives the report of an
// uninterrupted run; the API key appears in no report, journal or log.
#define BOOST_TEST_MODULE remote_cli
#include <boost/test/unit_test.hpp>
#include <map>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <random>
#include <set>

#include "remote_test_util.hpp"

using namespace remote_test;
using polyglot::analysis::json_value;

namespace {

/// A JSONL dataset of @p n records with varied multilingual text.
void write_dataset(const fs::path& file, std::size_t n) {
    static const char* words[] = {"water", "Wasser", "eau",   "agua",  "水",   "ماء",  "voda",
                                  "air",   "λόγος",  "škola", "kniha", "東京", "buku", "Buch"};
    std::mt19937 rng(12345);
    std::ofstream out(file);
    for (std::size_t i = 0; i < n; ++i) {
        std::string p = "Q" + std::to_string(i) + ":", r;
        for (int k = 0; k < 3 + int(rng() % 5); ++k) p += std::string(" ") + words[rng() % 14];
        for (int k = 0; k < 2 + int(rng() % 8); ++k) r += std::string(" ") + words[rng() % 14];
        out << R"({"id":"r)" << i << R"(","prompt":")" << p << R"(","response":")" << r << "\"}\n";
    }
}

/// The tiktoken table for the length metric, from the data directory the tests started with
/// (each test points POLYGLOT_DATA_DIR at its own directory for the journal).
std::string cl100k() {
    static const std::string path = [] {
        try {
            return polyglot::resolve_asset("cl100k_base.json").string();
        } catch (const polyglot::error& e) {
            BOOST_FAIL(std::string(e.what()));
            return std::string();
        }
    }();
    return path;
}

json_value read_json(const fs::path& p) {
    return polyglot::analysis::parse_json(slurp(p), p.string());
}

/// The report without the fields that differ between runs by nature.
std::string stable_report(const fs::path& p) {
    std::string s = slurp(p), out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);)
        if (line.find("\"elapsed_seconds\"") == std::string::npos) out += line + "\n";
    return out;
}

std::size_t count_lines(const fs::path& p) {
    if (!fs::exists(p)) return 0;
    std::size_t n = 0;
    for (char c : slurp(p)) n += c == '\n';
    return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(failed_records_are_counted_named_and_never_scored) {
    tmpdir t("remote_cli_fail");
    const std::string tok = cl100k();
    scoped_env data("POLYGLOT_DATA_DIR", (t.dir / "data").string());
    write_dataset(t.dir / "in.jsonl", 12);
    // Record r4 always fails (503), whatever the retries.
    fake_server s(
        "vllm", t.dir, {"--model", "tiny"},
        R"([{"path":"/v1/completions","fault":"503","match":"[1,91,62,68,","times":-1}])");
    // Which line fails: the one whose prompt starts with "Q4:" (tokens 1, 'Q'+10, '4'+10, ...).
    const auto rc =
        run_cli({"score", (t.dir / "in.jsonl").string(), "--metrics", "length,perplexity",
                 "--tokenizer", tok, "--lm", s.url("tiny"), "--max-retries", "1", "--per-instance",
                 (t.dir / "pi.jsonl").string(), "-o", (t.dir / "r.json").string()},
                t.dir / "out.txt", t.dir / "err.txt");
    BOOST_REQUIRE_MESSAGE(rc == 0, slurp(t.dir / "err.txt"));
    const auto rep = read_json(t.dir / "r.json");
    BOOST_TEST(num(rep.find_path("metadata.num_samples")) == 12.0);
    BOOST_TEST(num(rep.find_path("metadata.failed.model_call_failed")) == 1.0);
    BOOST_TEST(num(rep.find_path("perplexity.num_failed")) == 1.0);
    BOOST_TEST(num(rep.find_path("perplexity.num_valid_samples")) == 11.0);
    BOOST_TEST(num(rep.find_path("length.prompts_average_length")) > 3.0);  // the others ran
    const std::string err = slurp(t.dir / "err.txt");
    BOOST_TEST(
        err.find("in.jsonl:5: model_call_failed: score: failed after 2 attempts: HTTP 503") !=
            std::string::npos,
        err);
    std::size_t lines = 0, with_error = 0;
    for (const auto& [n, v] :
         polyglot::analysis::parse_json_lines(slurp(t.dir / "pi.jsonl"), "pi")) {
        ++lines;
        if (const auto* e = v.find("error")) {
            ++with_error;
            BOOST_TEST(num(v.find("line")) == 5.0);
            BOOST_TEST(
                e->as_string().rfind("model_call_failed: score: failed after 2 attempts", 0) == 0);
            BOOST_TEST(!v.find("perplexity"));  // no made-up value
        } else {
            BOOST_TEST(v.find("perplexity"));
        }
    }
    BOOST_TEST(lines == 12u);
    BOOST_TEST(with_error == 1u);

    // --strict stops at the failed record with a non-zero exit naming it.
    const auto rc2 = run_cli(
        {"score", (t.dir / "in.jsonl").string(), "--metrics", "perplexity", "--lm", s.url("tiny"),
         "--max-retries", "0", "--strict", "-o", (t.dir / "r2.json").string()},
        t.dir / "out2.txt", t.dir / "err2.txt");
    BOOST_TEST(rc2 != 0);
    BOOST_TEST(slurp(t.dir / "err2.txt").find("in.jsonl:5: model_call_failed") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(kill_9_then_rerun_scores_every_record_exactly_once) {
    // CI size; benchmarks/remote_kill9.sh runs the same protocol on 2,000 records.
    const std::size_t n = std::getenv("POLYGLOT_KILL9_RECORDS")
                              ? std::stoul(std::getenv("POLYGLOT_KILL9_RECORDS"))
                              : 200;
    tmpdir t("remote_cli_kill9");
    const std::string tok = cl100k();
    write_dataset(t.dir / "in.jsonl", n);
    fake_server s("vllm", t.dir,
                  {"--model", "tiny", "--delay", "0.03", "--delay-path", "/v1/completions"});
    const fs::path data = t.dir / "data";
    auto args = [&](const std::string& tag) {
        return std::vector<std::string>{"score",
                                        (t.dir / "in.jsonl").string(),
                                        "--metrics",
                                        "length,lexical,perplexity",
                                        "--tokenizer",
                                        tok,
                                        "--lm",
                                        s.url("tiny"),
                                        "--concurrency",
                                        "8",
                                        "--per-instance",
                                        (t.dir / (tag + ".pi.jsonl")).string(),
                                        "-o",
                                        (t.dir / (tag + ".json")).string()};
    };
    // An uninterrupted run first (its own data directory): the reference, and how long a run
    // takes, so that the kills below land anywhere in it.
    const auto t0 = std::chrono::steady_clock::now();
    {
        scoped_env fresh("POLYGLOT_DATA_DIR", (t.dir / "fresh").string());
        BOOST_REQUIRE_EQUAL(run_cli(args("clean"), t.dir / "c.out", t.dir / "c.err"), 0);
    }
    const double full =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::size_t clean_requests = s.requests("/v1/completions").size();
    BOOST_TEST(clean_requests == n);

    scoped_env d("POLYGLOT_DATA_DIR", data.string());
    auto journal_lines = [&] {
        std::size_t k = 0;
        if (fs::exists(data / "remote"))
            for (const auto& f : fs::directory_iterator(data / "remote"))
                k += count_lines(f.path());
        return k;
    };
    // The server logs a request when it answers it: requests in flight when a client is killed
    // are logged a moment later (seconds on a loaded machine). Wait until the log is quiet
    // before counting, so that they are not taken for the next run's.
    auto settle = [&] {
        std::size_t last = s.requests("/v1/completions").size();
        for (int quiet = 0, waited = 0; quiet < 10 && waited < 300; ++waited) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const std::size_t now = s.requests("/v1/completions").size();
            quiet = now == last ? quiet + 1 : 0;
            last = now;
        }
    };
    std::mt19937 rng(std::random_device{}());
    std::size_t kills = 0;
    for (int round = 0; round < 4; ++round) {
        const std::size_t before = journal_lines();
        const std::size_t sent_before = s.requests("/v1/completions").size();
        std::vector<std::string> argv = {cli()};
        auto a = args("killed");
        argv.insert(argv.end(), a.begin(), a.end());
        child c(argv, (t.dir / "k.out").string(), (t.dir / "k.err").string());
        const double left = full * double(n - before) / double(n);
        std::uniform_real_distribution<double> when(0.2 * left, 0.9 * left);
        std::this_thread::sleep_for(std::chrono::duration<double>(when(rng)));
        if (c.exited()) continue;  // finished before the kill
        c.signal(SIGKILL);
        BOOST_TEST(c.wait() == 128 + SIGKILL);
        ++kills;
        settle();
        // A killed run sends only what was not journaled before it.
        const std::size_t sent = s.requests("/v1/completions").size() - sent_before;
        BOOST_TEST(sent <= n - before);
        BOOST_TEST_MESSAGE("round " << round << ": " << before << " journaled before, " << sent
                                    << " sent, " << journal_lines() << " journaled after");
    }
    BOOST_TEST(kills >= 2u);
    const std::size_t journaled = journal_lines();
    const std::size_t sent_before = s.requests("/v1/completions").size();
    BOOST_REQUIRE_EQUAL(run_cli(args("resumed"), t.dir / "r.out", t.dir / "r.err"), 0);
    // The rerun sent exactly the records that were not journaled, each once.
    const auto all_requests = s.requests("/v1/completions");
    BOOST_TEST(all_requests.size() - sent_before == n - journaled);
    // Over the interrupted runs and the rerun, every record was answered at least once; twice
    // only when it was in flight at a kill (at most --concurrency per kill).
    std::map<std::string, int> answered;
    for (std::size_t i = clean_requests; i < all_requests.size(); ++i) {
        const auto& e = all_requests[i];
        if (!e.find("status")->is_number() || e.find("status")->as_number() != 200) continue;
        std::string key;
        for (const auto& x : e.find("ids")->as_array())
            key += std::to_string(int(x.as_number())) + ",";
        ++answered[key];
    }
    BOOST_TEST(answered.size() == n);
    std::size_t twice = 0;
    for (auto& [k, c] : answered) twice += std::size_t(c - 1);
    BOOST_TEST(twice <= 8 * kills);

    // The report and per-instance output equal the uninterrupted run's.
    BOOST_TEST(stable_report(t.dir / "resumed.json") == stable_report(t.dir / "clean.json"));
    BOOST_TEST(slurp(t.dir / "resumed.pi.jsonl") == slurp(t.dir / "clean.pi.jsonl"));
    BOOST_TEST(count_lines(t.dir / "resumed.pi.jsonl") == n);
}

BOOST_AUTO_TEST_CASE(the_api_key_appears_nowhere) {
    tmpdir t("remote_cli_key");
    const std::string key = "sk-proj-Zq81VbXw0c7T3Lmn5Rk2";
    scoped_env data("POLYGLOT_DATA_DIR", (t.dir / "data").string());
    write_dataset(t.dir / "in.jsonl", 10);
    fake_server s("vllm", t.dir, {"--model", "tiny", "--api-key", key, "--echo-auth", "--dim", "6"},
                  R"([{"path":"/v1/completions","fault":"500","times":2}])");
    {
        scoped_env k("POLYGLOT_REMOTE_TEST_KEY", key);
        const auto rc =
            run_cli({"score", (t.dir / "in.jsonl").string(), "--metrics", "perplexity,distinct_ri",
                     "--lm", s.url("tiny"), "--embedder", s.url("tiny"), "--api-key-env",
                     "POLYGLOT_REMOTE_TEST_KEY", "--per-instance", (t.dir / "pi.jsonl").string(),
                     "-o", (t.dir / "r.json").string()},
                    t.dir / "out.txt", t.dir / "err.txt");
        BOOST_REQUIRE_MESSAGE(rc == 0, slurp(t.dir / "err.txt"));
    }
    {
        // A wrong key: the server echoes what it got into its error message.
        scoped_env k("POLYGLOT_REMOTE_TEST_KEY", key + "-old");
        const auto rc = run_cli({"score", (t.dir / "in.jsonl").string(), "--metrics", "perplexity",
                                 "--lm", s.url("tiny"), "--api-key-env", "POLYGLOT_REMOTE_TEST_KEY",
                                 "-o", (t.dir / "r2.json").string()},
                                t.dir / "out2.txt", t.dir / "err2.txt");
        BOOST_TEST(rc != 0);
        BOOST_TEST(slurp(t.dir / "err2.txt").find("HTTP 401") != std::string::npos);
    }
    // The server got the key (it answered the first run); nothing we wrote holds it.
    BOOST_TEST(num(read_json(t.dir / "r.json").find_path("perplexity.num_valid_samples")) == 10.0);
    std::size_t files = 0;
    for (const auto& f : fs::recursive_directory_iterator(t.dir)) {
        if (!f.is_regular_file() || f.path() == s.log_path() ||
            f.path().string().find(".faults.json") != std::string::npos)
            continue;
        ++files;
        BOOST_TEST(slurp(f.path()).find(key) == std::string::npos, f.path());
    }
    BOOST_TEST(files >= 7u);  // reports, per-instance, journal, stdout and stderr of both runs
}
