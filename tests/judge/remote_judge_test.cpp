// SPDX-License-Identifier: Apache-2.0
// The rubric judge and synthesis against a scripted OpenAI-compatible server on loopback
// (tests/judge/scripted_chat_server.py, Python aiohttp), end to end through the CLI and the
// remote backend: known judgements (valid JSON, prometheus format, trailing text, scores
// 0 / 6 / "4", garbage, timeouts) give the average, histogram, invalid and re-ask counts computed
// by hand, with and without --invalid-as 1; synthesize writes the paper's records for all three
// strategies, counts each failure by reason, gives the same file for any --concurrency, and
// completes after kill -9 without duplicates or resending journaled requests.
#define BOOST_TEST_MODULE remote_judge
#include <boost/test/unit_test.hpp>
#include <map>
#include <polyglot/core/paths.hpp>
#include <polyglot/io/json_writer.hpp>
#include <set>
#include <string>
#include <vector>

#include "remote_test_util.hpp"
#include "support/synth_records.hpp"

namespace an = polyglot::analysis;
using namespace remote_test;

namespace {

/// tests/judge/scripted_chat_server.py with @p script (JSON) on a free loopback port.
class scripted_server {
  public:
    scripted_server(const fs::path& dir, const std::string& script, double delay = 0)
        : log_(dir / ("scripted-" + std::to_string(n_++) + ".log")) {
        const fs::path s = log_.string() + ".script.json";
        spit(s, script);
        std::vector<std::string> argv = {
            python(),   (source_dir() / "tests/judge/scripted_chat_server.py").string(),
            "--script", s.string(),
            "--log",    log_.string()};
        if (delay > 0) {
            argv.push_back("--delay");
            argv.push_back(std::to_string(delay));
        }
        proc_ = std::make_unique<child>(argv);
        const std::string line = proc_->read_line();
        BOOST_REQUIRE_MESSAGE(line.rfind("PORT ", 0) == 0,
                              "the scripted server did not start (got '" + line + "')");
        url_ = "http://127.0.0.1:" + line.substr(5) + "/v1#scripted";
    }
    [[nodiscard]] const std::string& url() const { return url_; }
    [[nodiscard]] std::vector<an::json_value> log() const {
        std::vector<an::json_value> out;
        if (!fs::exists(log_)) return out;
        for (auto& [n, v] : an::parse_json_lines(slurp(log_), log_.string()))
            out.push_back(std::move(v));
        return out;
    }

  private:
    static inline int n_ = 0;
    fs::path log_;
    std::unique_ptr<child> proc_;
    std::string url_;
};

/// A data directory of our own (the remote journal lives there) with the tiktoken tables.
struct data_dir_env {
    tmpdir dir{"remote_judge_data"};
    std::unique_ptr<scoped_env> env;
    data_dir_env() {
        const fs::path real = polyglot::data_dir();
        for (const char* f : {"cl100k_base.json", "cl100k_base.tiktoken.bin"})
            if (fs::exists(real / f)) fs::create_symlink(real / f, dir.dir / f);
        env = std::make_unique<scoped_env>("POLYGLOT_DATA_DIR", dir.dir.string());
    }
};

const std::string valid5 = R"({"feedback":"Sehr gut.","score":5})";

std::string reply(const std::string& content) {
    polyglot::io::json_writer w;
    w.begin_object().kv("content", content).end_object();
    return w.take();
}

const std::string timeout = R"({"timeout":true})";

std::string script_of(const std::map<std::string, std::vector<std::string>>& s) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, replies] : s) {
        if (!first) out += ",";
        first = false;
        out += "\"" + k + "\":[";
        for (std::size_t i = 0; i < replies.size(); ++i) out += (i ? "," : "") + replies[i];
        out += "]";
    }
    return out + "}";
}

fs::path records(const fs::path& dir, const std::string& prefix, int n) {
    const fs::path p = dir / (prefix + ".jsonl");
    std::string s;
    for (int i = 0; i < n; ++i)
        s += R"({"id":")" + prefix + std::to_string(i) + R"(","prompt":"Frage )" + prefix +
             std::to_string(i) + R"(: Wie spät ist es?","response":"Es ist )" + std::to_string(i) +
             R"( Uhr.","language":"de"})" + "\n";
    spit(p, s);
    return p;
}

an::json_value rubric(const scripted_server& srv, const fs::path& in, const fs::path& dir,
                      const std::vector<std::string>& extra, const std::string& tag) {
    const fs::path out = dir / (tag + ".json"), err = dir / (tag + ".err");
    std::vector<std::string> args = {"score",
                                     in.string(),
                                     "--metrics",
                                     "rubric",
                                     "--judge",
                                     srv.url(),
                                     "--server-kind",
                                     "openai",
                                     "--max-retries",
                                     "0",
                                     "--request-timeout",
                                     "1",
                                     "--no-cache",
                                     "--judge-retries",
                                     "2",
                                     "--concurrency",
                                     "4",
                                     "-q",
                                     "-o",
                                     out.string(),
                                     "--per-instance",
                                     (dir / (tag + ".inst.jsonl")).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const int rc = run_cli(args, dir / (tag + ".stdout"), err);
    BOOST_REQUIRE_MESSAGE(rc == 0, "polyglot score failed: " + slurp(err));
    const auto r = an::read_json_file(out.string());
    const auto* s = r.find("reward_model");
    BOOST_REQUIRE(s);
    return *s;
}

void check_histogram(const an::json_value& s, std::map<int, double> want) {
    for (int k = 1; k <= 5; ++k)
        BOOST_TEST(num(s.find("score_histogram")->find(std::to_string(k))) == want[k],
                   "score " << k);
}

}  // namespace

BOOST_AUTO_TEST_CASE(json_judgements_counted_as_by_hand) {
    tmpdir dir("remote_judge_json");
    const std::string quoted4 = reply(R"({"feedback":"x","score":"4"})");
    const std::string script = script_of(
        {{"R0", {reply(valid5)}},
         {"R1", {reply("garbage"), reply(R"({"feedback":"ok","score":4})")}},
         {"R2",
          {reply(R"({"feedback":"x","score":0})"), reply(R"({"feedback":"x","score":6})"),
           quoted4}},
         {"R3",
          {reply(R"({"feedback":"x","score":3} Danke!)"), reply(R"({"feedback":"x","score":3})")}},
         {"R4", {timeout, reply(R"({"feedback":"x","score":2})")}},
         {"R5", {timeout, timeout, timeout}},
         {"R6", {reply("Gut. [RESULT] 4")}},
         {"R7", {reply(R"({"score":4,"feedback":"erst die Zahl"})")}}});
    scripted_server srv(dir.dir, script);
    const fs::path in = records(dir.dir, "R", 8);
    // Valid: 5, 4, 3, 2, 4 → 18 / 5; invalid: R2, R5, R6. Re-asks: R1 1, R2 2, R3 1, R4 1,
    // R5 2, R6 2 = 9 (17 attempts).
    auto s = rubric(srv, in, dir.dir, {}, "json");
    BOOST_TEST(num(s.find("average_rubric_score")) == 18.0 / 5,
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(num(s.find("num_valid")) == 5);
    BOOST_TEST(num(s.find("num_invalid")) == 3);
    BOOST_TEST(num(s.find("num_retries")) == 9);
    BOOST_TEST(num(s.find("num_attempts")) == 17);
    check_histogram(s, {{2, 1}, {3, 1}, {4, 2}, {5, 1}});
    BOOST_TEST(s.find("invalid_as")->is_null());
    const auto* why = s.find("invalid_reasons");
    BOOST_TEST(num(why->find("call_failed")) == 1);       // R5
    BOOST_TEST(num(why->find("schema_violation")) == 2);  // R2 ("4"), R6 (not JSON)
    const auto* fails = s.find("attempt_failures");
    BOOST_TEST(num(fails->find("call_failed")) == 4);       // R4 once, R5 three times
    BOOST_TEST(num(fails->find("schema_violation")) == 8);  // R1, R2 ×3, R3, R6 ×3
    // The server got the feedback-first schema as response_format, and every attempt a seed of
    // its own.
    std::map<std::string, std::set<double>> seeds;
    for (const auto& e : srv.log()) {
        const auto* rf = e.find("response_format");
        BOOST_REQUIRE(rf && rf->is_object());
        BOOST_TEST(rf->find("type")->as_string() == "json_schema");
        seeds[e.find("key")->as_string()].insert(num(e.find("seed")));
    }
    BOOST_TEST(seeds["R2"].size() == 3u);
    BOOST_TEST(seeds["R0"].size() == 1u);
    // With the paper's averaging the invalid ones score 1: (18 + 3) / 8.
    scripted_server srv2(dir.dir, script);  // its request counts start afresh
    s = rubric(srv2, in, dir.dir, {"--invalid-as", "1"}, "json1");
    BOOST_TEST(num(s.find("average_rubric_score")) == 21.0 / 8,
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(num(s.find("invalid_as")) == 1);
    BOOST_TEST(num(s.find("num_invalid")) == 3);
    BOOST_TEST(num(s.find("num_retries")) == 9);
    // Per instance: score, feedback, attempts.
    const auto rows = an::parse_json_lines(slurp(dir.dir / "json1.inst.jsonl"), "inst");
    BOOST_REQUIRE_EQUAL(rows.size(), 8u);
    BOOST_TEST(num(rows[1].second.find("rubric_score")) == 4);
    BOOST_TEST(rows[1].second.find("rubric_feedback")->as_string() == "ok");
    BOOST_TEST(num(rows[1].second.find("rubric_attempts")) == 2);
    BOOST_TEST(rows[5].second.find("rubric_invalid")->as_string() == "call_failed");
}

BOOST_AUTO_TEST_CASE(prometheus_judgements_counted_as_by_hand) {
    tmpdir dir("remote_judge_prometheus");
    const std::string script = script_of(
        {{"P0", {reply("Feedback: gut. [RESULT] 4")}},
         {"P1", {reply("Feedback: ok [RESULT] 6"), reply("[RESULT] 2")}},
         {"P2", {reply("Feedback: x [RESULT] 3 Thank you"), reply("Feedback [RESULT] 3")}},
         {"P3", {reply("garbage"), reply("garbage"), reply("garbage")}},
         {"P4", {reply(valid5)}},
         {"P5", {timeout, reply("x [RESULT] 5")}},
         {"P6", {reply("Score: 0"), reply("[RESULT] \"4\""), reply("score of 1")}}});
    scripted_server srv(dir.dir, script);
    const fs::path in = records(dir.dir, "P", 7);
    // Valid: 4, 2, 3, 5, 1 → 15 / 5; invalid P3, P4. Re-asks: P1 1, P2 1, P3 2, P4 2, P5 1,
    // P6 2 = 9.
    auto s = rubric(srv, in, dir.dir, {"--judge-format", "prometheus"}, "pro");
    BOOST_TEST(num(s.find("average_rubric_score")) == 3.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(num(s.find("num_valid")) == 5);
    BOOST_TEST(num(s.find("num_invalid")) == 2);
    BOOST_TEST(num(s.find("num_retries")) == 9);
    check_histogram(s, {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}});
    BOOST_TEST(num(s.find("invalid_reasons")->find("unparsable")) == 2);
    BOOST_TEST(num(s.find("attempt_failures")->find("out_of_range")) == 2);  // 6, 0
    for (const auto& e : srv.log()) BOOST_TEST(e.find("response_format")->is_null());
    scripted_server srv2(dir.dir, script);
    s = rubric(srv2, in, dir.dir, {"--judge-format", "prometheus", "--invalid-as", "1"}, "pro1");
    BOOST_TEST(num(s.find("average_rubric_score")) == 17.0 / 7,
               boost::test_tools::tolerance(1e-12));
}

namespace {

fs::path synth_seeds(const fs::path& dir) {
    const fs::path p = dir / "seeds.jsonl";
    std::string s;
    for (int i = 0; i < 12; ++i)
        s += R"({"id":"s)" + std::to_string(i) +
             R"(","source":"aya","language":"de",)"
             R"("strategy":["generate","respond"],"prompt":"Frage S)" +
             std::to_string(i) + R"(: Nenne eine Stadt.","response":"Berlin"})" + "\n";
    for (int i = 0; i < 5; ++i)
        s += R"({"id":"t)" + std::to_string(i) +
             R"(","source":"gsm8k","language":"en",)"
             R"("strategy":["translate"],"prompt":"Frage T)" +
             std::to_string(i) + R"(: What is 2 + 2?","response":"4"})" + "\n";
    std::string big;
    for (int i = 0; i < 5000; ++i) big += "Wort ";
    s += R"({"id":"long","language":"de","strategy":["respond"],"prompt":")" + big +
         R"(","response":"x"})" + "\n";
    spit(p, s);
    return p;
}

an::json_value synthesize(const scripted_server& srv, const fs::path& dir,
                          const std::string& strategy, const fs::path& out,
                          std::vector<std::string> extra, const std::string& tag) {
    const fs::path rep = dir / (tag + ".report.json"), err = dir / (tag + ".err");
    std::vector<std::string> args = {"synthesize",
                                     "--strategy",
                                     strategy,
                                     "--teacher",
                                     srv.url(),
                                     "--server-kind",
                                     "openai",
                                     "--seeds",
                                     synth_seeds(dir).string(),
                                     "--lang",
                                     "de",
                                     "--max-retries",
                                     "0",
                                     "--request-timeout",
                                     "1",
                                     "--report",
                                     rep.string(),
                                     "-q",
                                     "-o",
                                     out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const int rc = run_cli(args, dir / (tag + ".stdout"), err);
    BOOST_REQUIRE_MESSAGE(rc == 0, "polyglot synthesize failed: " + slurp(err));
    return an::read_json_file(rep.string());
}

void check_records(const fs::path& out, const std::string& strategy, std::size_t n) {
    const auto rows = an::parse_json_lines(slurp(out), out.string());
    BOOST_REQUIRE_EQUAL(rows.size(), n);
    std::set<std::string> ids;
    for (const auto& [line, r] : rows) {
        polyglot::testing::check_record_keys(r);
        BOOST_TEST(r.find("strategy")->as_string() == strategy);
        BOOST_TEST(r.find("model")->as_string() == "scripted");
        BOOST_TEST(r.find("language")->as_string() == "de");
        ids.insert(r.find("id")->as_string());
    }
    BOOST_TEST(ids.size() == n);
}

}  // namespace

BOOST_AUTO_TEST_CASE(synthesize_three_strategies_and_failures) {
    tmpdir dir("remote_synth");
    data_dir_env data;
    scripted_server srv(
        dir.dir,
        script_of(
            {{"T1", {reply("{\"prompt\": \"nur die Hälfte\"")}},
             {"T2", {timeout}},
             {"T3",
              {R"({"content":"{\"prompt\":\"abgeschnitten\",\"response\":\"x\"}","finish":"length"})"}},
             {"S2", {R"({"content":"","finish":"content_filter"})"}},
             {"S3", {reply("   ")}}}));
    // generate: every row answered with valid JSON (a server of its own: its prompts quote
    // other rows' seeds as examples, which would match the script's keys).
    scripted_server plain(dir.dir, "{}");
    auto r = synthesize(plain, dir.dir, "generate", dir.dir / "gen.jsonl", {"--no-cache"}, "gen");
    BOOST_TEST(num(r.find("rows")) == 12);
    BOOST_TEST(num(r.find("written")) == 12);
    check_records(dir.dir / "gen.jsonl", "generate", 12);
    // translate: invalid JSON, a timeout and a cut reply counted by reason.
    r = synthesize(srv, dir.dir, "translate", dir.dir / "tr.jsonl", {"--no-cache"}, "tr");
    BOOST_TEST(num(r.find("rows")) == 5);
    BOOST_TEST(num(r.find("written")) == 2);
    BOOST_TEST(num(r.find("failed")->find("invalid_json")) == 1);
    BOOST_TEST(num(r.find("failed")->find("call_failed")) == 1);
    BOOST_TEST(num(r.find("failed")->find("truncated")) == 1);
    check_records(dir.dir / "tr.jsonl", "translate", 2);
    // respond: a refusal and an empty answer counted; the over-long seed filtered out.
    r = synthesize(srv, dir.dir, "respond", dir.dir / "re.jsonl", {"--no-cache"}, "re");
    BOOST_TEST(num(r.find("rows")) == 13);
    BOOST_TEST(num(r.find("skipped_too_long")) == 1);
    BOOST_TEST(num(r.find("failed")->find("call_failed")) == 1);
    BOOST_TEST(num(r.find("failed")->find("empty_response")) == 1);
    BOOST_TEST(num(r.find("written")) == 10);
    check_records(dir.dir / "re.jsonl", "respond", 10);
    // Generation requests carried the strategy's schema; respond's none.
    std::size_t with_schema = 0, without = 0;
    for (const auto& e : srv.log())
        (e.find("response_format")->is_null() ? without : with_schema)++;
    BOOST_TEST(with_schema == 5u);
    BOOST_TEST(without == 12u);
    for (const auto& e : plain.log()) BOOST_TEST(e.find("response_format")->is_object());
}

BOOST_AUTO_TEST_CASE(synthesize_same_file_for_any_concurrency) {
    tmpdir dir("remote_synth_conc");
    data_dir_env data;
    scripted_server srv(dir.dir, "{}");
    synthesize(srv, dir.dir, "respond", dir.dir / "c1.jsonl",
               {"--no-cache", "--concurrency", "1", "--batch", "3"}, "c1");
    synthesize(srv, dir.dir, "respond", dir.dir / "c8.jsonl",
               {"--no-cache", "--concurrency", "8", "--batch", "64"}, "c8");
    BOOST_TEST(!slurp(dir.dir / "c1.jsonl").empty());
    BOOST_TEST((slurp(dir.dir / "c1.jsonl") == slurp(dir.dir / "c8.jsonl")));
}

BOOST_AUTO_TEST_CASE(synthesize_kill_9_resumes_from_the_file_and_the_journal) {
    tmpdir dir("remote_synth_kill");
    data_dir_env data;
    scripted_server clean_srv(dir.dir, "{}");
    const std::vector<std::string> opts = {"--concurrency", "2", "--batch", "2", "--seed", "5"};
    auto clean_opts = opts;
    clean_opts.push_back("--no-cache");  // the journal stays empty for the interrupted run
    synthesize(clean_srv, dir.dir, "respond", dir.dir / "clean.jsonl", clean_opts, "clean");
    const std::string want = slurp(dir.dir / "clean.jsonl");
    // A slow server: kill -9 once a few records are on disk, then run the same command again.
    scripted_server srv(dir.dir, "{}", 0.3);
    const fs::path out = dir.dir / "crashed.jsonl";
    std::vector<std::string> argv = {cli(),
                                     "synthesize",
                                     "--strategy",
                                     "respond",
                                     "--teacher",
                                     srv.url(),
                                     "--server-kind",
                                     "openai",
                                     "--seeds",
                                     synth_seeds(dir.dir).string(),
                                     "--lang",
                                     "de",
                                     "-q",
                                     "-o",
                                     out.string()};
    argv.insert(argv.end(), opts.begin(), opts.end());
    {
        child c(argv, (dir.dir / "k.out").string(), (dir.dir / "k.err").string());
        const auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
            const std::string s = fs::exists(out) ? slurp(out) : std::string();
            if (std::count(s.begin(), s.end(), '\n') >= 3) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        c.signal(SIGKILL);
        BOOST_TEST(c.wait() == 128 + SIGKILL);
    }
    const std::string partial = slurp(out);
    BOOST_TEST(std::count(partial.begin(), partial.end(), '\n') >= 3);
    BOOST_TEST(partial.size() < want.size());
    const std::size_t asked_before = srv.log().size();
    synthesize(srv, dir.dir, "respond", out, opts, "rerun");
    BOOST_TEST((slurp(out) == want));
    // Every row was asked once, apart from the requests in flight at the kill (≤ concurrency).
    std::map<std::string, int> per_key;
    for (const auto& e : srv.log()) ++per_key[e.find("key")->as_string()];
    BOOST_TEST(per_key.size() == 12u);
    BOOST_TEST(srv.log().size() <= 12u + 2u);
    BOOST_TEST(asked_before >= 3u);
}
