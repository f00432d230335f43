// SPDX-License-Identifier: Apache-2.0
// `polyglot synthesize` and `polyglot score --metrics rubric` ($POLYGLOT_CLI) with a local
// random-weight fixture model on the cpu plugin, through the chat template: records of all three
// strategies in the paper's schema; the same seed gives a byte-identical file for any --threads
// and --batch; kill -9 mid-run and the same command again gives the file an uninterrupted run
// gives (no duplicates); the length filter and failures are counted; every judgement of the
// constrained judge is valid and the report's counts add up.
#define BOOST_TEST_MODULE local_cli
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <polyglot/json/value.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace an = polyglot::analysis;
namespace fs = std::filesystem;

namespace {

std::string cli() {
    const char* c = std::getenv("POLYGLOT_CLI");
    BOOST_REQUIRE_MESSAGE(c && *c, "POLYGLOT_CLI is not set (ctest sets it to the built CLI)");
    return c;
}

const fs::path work =
    fs::temp_directory_path() / ("polyglot_local_cli_" + std::to_string(::getpid()));

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

/// A fixture model with room for the paper's prompts: its files linked, the context widened
/// (the fixtures' configs say 512 tokens; the GENERATE prompt has ~1,000).
fs::path wide_model(const std::string& name) {
    const fs::path src = fs::absolute(fs::path("../shared/fixtures/models") / name);
    if (!fs::exists(src / "config.json"))
        BOOST_FAIL("fixture " + src.string() +
                   " is missing: run from the project root with "
                   "../shared present");
    const fs::path dst = work / ("model-" + name);
    fs::create_directories(dst);
    for (const char* f :
         {"model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
        if (fs::exists(src / f) && !fs::exists(dst / f)) fs::create_symlink(src / f, dst / f);
    std::string cfg = slurp(src / "config.json");
    const auto k = cfg.find("\"max_position_embeddings\": 512");
    BOOST_REQUIRE(k != std::string::npos);
    cfg.replace(k, std::strlen("\"max_position_embeddings\": 512"),
                "\"max_position_embeddings\": 4096");
    std::ofstream(dst / "config.json") << cfg;
    return dst;
}

const std::string chat_template = "examples/chatml.jinja";

/// Seeds: German rows for generate/respond, English rows for translate, one over-long prompt.
fs::path seeds() {
    const fs::path p = work / "seeds.jsonl";
    if (fs::exists(p)) return p;
    std::ofstream f(p, std::ios::binary);
    for (int i = 0; i < 24; ++i)
        f << R"({"id":"de)" << i << R"(","source":"aya","source_id":)" << i
          << R"(,"language":"de","strategy":["generate","respond"],"prompt":"Wie heißt die )" << i
          << R"(. Hauptstadt?","response":"Berlin )" << i << "\"}\n";
    for (int i = 0; i < 10; ++i)
        f << R"({"id":"en)" << i
          << R"(","source":"gsm8k","language":"en","strategy":["translate"],)"
          << R"("prompt":"What is )" << i << R"( plus 2?","response":")" << i + 2 << "\"}\n";
    std::string big;
    for (int i = 0; i < 900; ++i) big += "Wort ";
    f << R"({"id":"long","language":"de","strategy":["respond"],"prompt":")" << big
      << R"(","response":"x"})"
      << "\n";
    return p;
}

int run(const std::string& args) {
    const std::string cmd = cli() + " " + args + " 2>>" + (work / "stderr.txt").string();
    const int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string synth_args(const fs::path& model, const std::string& strategy, const fs::path& out,
                       int seed = 3) {
    return "synthesize --strategy " + strategy + " --teacher " + model.string() + " --seeds " +
           seeds().string() + " --lang de --model-name tiny --backend cpu --chat-template " +
           chat_template + " --seed " + std::to_string(seed) + " -q -o " + out.string();
}

std::vector<an::json_value> records(const fs::path& p) {
    std::vector<an::json_value> out;
    for (auto& [line, v] : an::parse_json_lines(slurp(p), p.string())) out.push_back(std::move(v));
    return out;
}

void check_schema(const an::json_value& r, const std::string& strategy) {
    static const std::vector<std::string> keys = {
        "id",    "source", "language", "strategy", "source_id",    "synth_prompt",
        "model", "prompt", "response", "messages", "prompt_input", "response_input"};
    std::vector<std::string> got;
    for (const auto& m : r.as_object()) got.push_back(m.key);
    BOOST_TEST(got == keys, boost::test_tools::per_element());
    BOOST_TEST(r.find("strategy")->as_string() == strategy);
    BOOST_TEST(r.find("language")->as_string() == "de");
    BOOST_TEST(r.find("model")->as_string() == "tiny");
    BOOST_TEST(!r.find("response")->as_string().empty());
    const auto& m = r.find("messages")->as_array();
    BOOST_REQUIRE_EQUAL(m.size(), 2u);
    BOOST_TEST(m[0].find("content")->as_string() == r.find("prompt")->as_string());
    BOOST_TEST(m[1].find("content")->as_string() == r.find("response")->as_string());
}

struct setup {
    setup() { fs::create_directories(work); }
    ~setup() { fs::remove_all(work); }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(setup);

BOOST_AUTO_TEST_CASE(three_strategies_in_the_papers_schema) {
    const auto model = wide_model("tiny-qwen3");
    for (const std::string strategy : {"generate", "translate", "respond"}) {
        const fs::path out = work / (strategy + ".jsonl");
        const fs::path rep = work / (strategy + ".report.json");
        std::string extra = " --max-new-tokens 40 --report " + rep.string();
        if (strategy == "respond") extra += " --keep-truncated --max-model-len 1200";
        BOOST_REQUIRE_EQUAL(run(synth_args(model, strategy, out) + extra), 0);
        const auto recs = records(out);
        const auto r = an::read_json_file(rep.string());
        const double rows = strategy == "translate" ? 10 : strategy == "respond" ? 25 : 24;
        BOOST_TEST(r.find("rows")->as_number() == rows);
        double failed = 0;
        for (const auto& m : r.find("failed")->as_object()) failed += m.value.as_number();
        BOOST_TEST(r.find("written")->as_number() + failed +
                       r.find("skipped_too_long")->as_number() ==
                   rows);
        BOOST_TEST(r.find("written")->as_number() == static_cast<double>(recs.size()));
        // Byte-level random models rarely close a string at once: nearly every row is written.
        BOOST_TEST(recs.size() >= rows - 3, strategy << ": " << recs.size() << " records");
        std::set<std::string> ids;
        for (const auto& rec : recs) {
            check_schema(rec, strategy);
            ids.insert(rec.find("id")->as_string());
        }
        BOOST_TEST(ids.size() == recs.size());
        if (strategy == "respond") {  // the over-long seed prompt is the one row filtered out
            BOOST_TEST(r.find("skipped_too_long")->as_number() == 1);
            BOOST_TEST(!ids.count("long"));
            BOOST_TEST(recs[0].find("prompt")->as_string() == "Wie heißt die 0. Hauptstadt?");
        }
        for (const auto& rec : recs)  // the seed row the record came from
            if (strategy == "translate")
                BOOST_TEST(rec.find("prompt_input")->as_string() ==
                           "What is " + rec.find("id")->as_string().substr(2) + " plus 2?");
    }
}

BOOST_AUTO_TEST_CASE(same_file_for_any_threads_and_batch) {
    const auto model = wide_model("tiny-qwen3");
    const fs::path a = work / "a.jsonl", b = work / "b.jsonl";
    BOOST_REQUIRE_EQUAL(
        run(synth_args(model, "generate", a) + " --max-new-tokens 40 --threads 1 --batch 3"), 0);
    BOOST_REQUIRE_EQUAL(
        run(synth_args(model, "generate", b) + " --max-new-tokens 40 --threads 2 --batch 64"), 0);
    BOOST_TEST(!slurp(a).empty());
    BOOST_TEST((slurp(a) == slurp(b)));
    // Another seed: another file.
    const fs::path c = work / "c.jsonl";
    BOOST_REQUIRE_EQUAL(run(synth_args(model, "generate", c, 4) + " --max-new-tokens 40 --batch 3"),
                        0);
    BOOST_TEST((slurp(a) != slurp(c)));
}

BOOST_AUTO_TEST_CASE(kill_9_and_rerun_completes_without_duplicates) {
    const auto model = wide_model("tiny-qwen3");
    const fs::path clean = work / "clean.jsonl", crashed = work / "crashed.jsonl";
    const std::string opts = " --max-new-tokens 40 --batch 2 --threads 1";
    BOOST_REQUIRE_EQUAL(run(synth_args(model, "generate", clean) + opts), 0);
    const std::string want = slurp(clean);
    // Start, wait for a few records, kill -9.
    const fs::path pidfile = work / "pid";
    const std::string cmd = cli() + " " + synth_args(model, "generate", crashed) + opts +
                            " 2>/dev/null & echo $! > " + pidfile.string();
    BOOST_REQUIRE_EQUAL(std::system(cmd.c_str()), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const pid_t pid = std::stoi(slurp(pidfile));
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t lines = 0;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120)) {
        const std::string s = fs::exists(crashed) ? slurp(crashed) : std::string();
        lines = static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
        if (lines >= 4) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGKILL);
    BOOST_REQUIRE_MESSAGE(lines >= 4, "the run wrote no records in time");
    const std::string partial = slurp(crashed);
    BOOST_TEST(partial.size() < want.size(), "killed before the end");
    BOOST_TEST(want.compare(0, partial.rfind('\n') + 1, partial, 0, partial.rfind('\n') + 1) == 0);
    BOOST_REQUIRE_EQUAL(run(synth_args(model, "generate", crashed) + opts), 0);
    BOOST_TEST((slurp(crashed) == want));
    // Again: nothing to do, nothing added.
    BOOST_REQUIRE_EQUAL(run(synth_args(model, "generate", crashed) + opts), 0);
    BOOST_TEST((slurp(crashed) == want));
}

BOOST_AUTO_TEST_CASE(length_filter_and_failures_counted) {
    const auto model = wide_model("tiny-qwen3");
    // The GENERATE prompt (~420 cl100k tokens) + system (~45) + 500 exceeds 900: every row skipped.
    const fs::path out = work / "filtered.jsonl", rep = work / "filtered.json";
    BOOST_REQUIRE_EQUAL(
        run(synth_args(model, "generate", out) + " --max-model-len 900 --report " + rep.string()),
        0);
    auto r = an::read_json_file(rep.string());
    BOOST_TEST(r.find("skipped_too_long")->as_number() == 24);
    BOOST_TEST(r.find("written")->as_number() == 0);
    BOOST_TEST(slurp(out).empty());
    // 20 tokens cannot hold {"prompt":"","response":""}: every row fails, counted, none written.
    const fs::path out2 = work / "short.jsonl", rep2 = work / "short.json";
    BOOST_REQUIRE_EQUAL(
        run(synth_args(model, "generate", out2) + " --max-new-tokens 20 --report " + rep2.string()),
        0);
    r = an::read_json_file(rep2.string());
    BOOST_TEST(r.find("failed")->find("truncated")->as_number() == 24);
    BOOST_TEST(r.find("written")->as_number() == 0);
    BOOST_TEST(slurp(out2).empty());
    // respond without --keep-truncated: a random model never stops by itself within 8 tokens.
    const fs::path out3 = work / "cut.jsonl", rep3 = work / "cut.json";
    BOOST_REQUIRE_EQUAL(run(synth_args(model, "respond", out3) +
                            " --max-new-tokens 8 --limit 6 --report " + rep3.string()),
                        0);
    r = an::read_json_file(rep3.string());
    BOOST_TEST(r.find("failed")->find("truncated")->as_number() + r.find("written")->as_number() ==
               6);
}

BOOST_AUTO_TEST_CASE(rubric_with_a_local_constrained_judge) {
    const auto judge = wide_model("tiny-llama");
    const fs::path rep = work / "rubric.json", inst = work / "rubric.jsonl";
    BOOST_REQUIRE_EQUAL(run("score examples/sft/beta_es.jsonl --metrics rubric --judge " +
                            judge.string() + " --chat-template " + chat_template +
                            " --backend cpu --judge-max-new-tokens 32 --limit 30 -q -o " +
                            rep.string() + " --per-instance " + inst.string()),
                        0);
    const auto r = an::read_json_file(rep.string());
    const auto* s = r.find("reward_model");
    BOOST_REQUIRE(s);
    BOOST_TEST(s->find("num_valid")->as_number() == 30);
    BOOST_TEST(s->find("num_invalid")->as_number() == 0);
    BOOST_TEST(s->find("num_retries")->as_number() == 0);
    double n = 0, sum = 0;
    for (const auto& [line, v] : an::parse_json_lines(slurp(inst), "per-instance")) {
        const double score = v.find("rubric_score")->as_number();
        BOOST_TEST((score >= 1 && score <= 5));
        BOOST_TEST(v.find("rubric_attempts")->as_number() == 1);
        sum += score;
        ++n;
    }
    BOOST_TEST(n == 30);
    double hist = 0;
    for (const auto& m : s->find("score_histogram")->as_object())
        hist += std::stod(m.key) * m.value.as_number();
    BOOST_TEST(hist == sum);
    BOOST_TEST(s->find("average_rubric_score")->as_number() == sum / n,
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(s->find("metadata")->find("format")->as_string() == "json");
    BOOST_TEST(r.find("metadata")->find("judge_model")->as_string().find("model-tiny-llama") !=
               std::string::npos);
}
