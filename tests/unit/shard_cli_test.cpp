// SPDX-License-Identifier: Apache-2.0
// Runs that outgrow one machine or one sitting, through the CLI: `polyglot score --shard K/N`
// + `polyglot merge` and `--checkpoint-every` + `--resume` after kill -9 must give the report
// (timing fields masked) and per-instance file of one uninterrupted run — the oracle — for the
// model-free metrics and for perplexity/distinct-RI with the fixture models on the cpu
// backend; compressed inputs report like plain ones; mismatched or damaged states are refused.
#define BOOST_TEST_MODULE shard_cli
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/score/state.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_cli.hpp"

namespace fs = std::filesystem;
namespace pt = polyglot::testing;
using pt::mask_timing;
using pt::slurp;

namespace {

const fs::path& scratch() {
    static const fs::path d = [] {
        fs::path p =
            fs::temp_directory_path() / ("polyglot_shard_cli_test_" + std::to_string(::getpid()));
        fs::create_directories(p);
        return p;
    }();
    return d;
}

struct remove_scratch {
    ~remove_scratch() {
        std::error_code ec;
        fs::remove_all(scratch(), ec);
    }
};

std::string tmp(const std::string& name) { return (scratch() / name).string(); }

pt::cli_result run_cli(const std::string& args, const std::string& env = {}) {
    return pt::run_cli(args, scratch(), env);
}

void require_ok(const pt::cli_result& r, const std::string& what) {
    BOOST_REQUIRE_MESSAGE(r.status == 0, what << " failed (" << r.status << "): " << r.err);
}

/// The nine bundled teacher files (with their bad lines), in name order.
std::string examples() {
    std::string s;
    for (const char* t : {"alpha", "beta", "gamma"})
        for (const char* l : {"de", "es", "ja"})
            s += " examples/sft/" + std::string(t) + "_" + l + ".jsonl";
    return s;
}

const std::string llama = "../shared/fixtures/models/tiny-llama";
const std::string gemma_emb = "../shared/fixtures/models/tiny-embeddinggemma";

void require_fixtures() {
    polyglot::testing::require_shared("fixtures/models/tiny-llama/expected.json");
    polyglot::testing::require_shared("fixtures/models/tiny-embeddinggemma/expected.json");
    BOOST_REQUIRE(fs::exists("examples/sft/alpha_de.jsonl"));  // in the repository
}

/// Scores @p inputs once, then as @p n shards merged; both reports and per-instance files
/// must be identical (timing masked). Returns the single run's report.
std::string check_shards(const std::string& inputs, const std::string& opts, int n,
                         const std::string& tag) {
    const auto single = tmp(tag + "_single.json"), single_inst = tmp(tag + "_single.jsonl");
    require_ok(run_cli("score" + inputs + " " + opts + " --quiet -o " + single +
                       " --per-instance " + single_inst),
               "single run");
    std::string states, cat;
    for (int k = 1; k <= n; ++k) {
        const std::string st = tmp(tag + "_" + std::to_string(k) + ".state");
        const std::string inst = tmp(tag + "_" + std::to_string(k) + ".jsonl");
        require_ok(
            run_cli("score" + inputs + " " + opts + " --quiet --shard " + std::to_string(k) + "/" +
                    std::to_string(n) + " --state-out " + st + " --per-instance " + inst),
            "shard " + std::to_string(k));
        states += " " + st;
        cat += slurp(inst);
    }
    const auto merged = tmp(tag + "_merged.json"), merged_inst = tmp(tag + "_merged.jsonl");
    require_ok(run_cli("merge" + states + " -o " + merged + " --per-instance " + merged_inst),
               "merge");
    const std::string a = slurp(single), b = slurp(merged);
    BOOST_TEST(a != mask_timing(a));  // the masked fields exist
    BOOST_TEST(mask_timing(a) == mask_timing(b));
    BOOST_TEST(slurp(single_inst) == slurp(merged_inst));
    BOOST_TEST(cat == slurp(single_inst));  // shard outputs are blocks of the whole, in order
    return a;
}

std::uint64_t number_after(const std::string& s, const std::string& key) {
    const auto p = s.find(key);
    BOOST_REQUIRE_MESSAGE(p != std::string::npos, "no " << key);
    return std::stoull(s.substr(p + key.size()));
}

}  // namespace

BOOST_GLOBAL_FIXTURE(remove_scratch);

BOOST_AUTO_TEST_CASE(model_free_metrics_8_shards_equal_one_run) {
    require_fixtures();
    const std::string a = check_shards(examples(), "--threads 2", 8, "free");
    for (const char* k :
         {"\"num_samples\": 1800", "\"blank_lines\": 1", "\"invalid_utf8\": 1",
          "\"prompts_distinct_2\"", "\"responses_top_languages\"", "\"prompts_median_length\""})
        BOOST_TEST(a.find(k) != std::string::npos, k);
}

BOOST_AUTO_TEST_CASE(slurm_array_variables_choose_the_shard) {
    require_fixtures();
    // sbatch --array=1-3: tasks 1, 2, 3 are shards 1/3, 2/3, 3/3.
    std::string states;
    for (int id = 1; id <= 3; ++id) {
        const auto st = tmp("slurm" + std::to_string(id) + ".state");
        require_ok(run_cli("score" + examples() +
                               " --metrics length --quiet --shard slurm "
                               "--state-out " +
                               st,
                           "SLURM_ARRAY_TASK_ID=" + std::to_string(id) +
                               " SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3"),
                   "slurm task");
        states += " " + st;
    }
    auto bad = run_cli("score" + examples() +
                       " --metrics length --quiet --shard slurm "
                       "--state-out " +
                       tmp("x.state"));
    BOOST_TEST(bad.status == 2);
    BOOST_TEST(bad.err.find("SLURM_ARRAY_TASK_ID is not set") != std::string::npos, bad.err);
    const auto merged = run_cli("merge" + states);
    const auto single = run_cli("score" + examples() + " --metrics length --quiet");
    require_ok(merged, "merge");
    BOOST_TEST(mask_timing(merged.out) == mask_timing(single.out));
}

BOOST_AUTO_TEST_CASE(model_metrics_8_shards_equal_one_run) {
    require_fixtures();
    const std::string a =
        check_shards(examples(),
                     "--threads 2 --backend cpu --metrics length,distinct_ri,perplexity --lm " +
                         llama + " --embedder " + gemma_emb,
                     8, "model");
    BOOST_TEST(a.find("\"average_perplexity\": null") == std::string::npos);
    BOOST_TEST(number_after(a, "\"num_valid_samples\": ") == 1800u);
    BOOST_TEST(number_after(a, "\"num_response_vectors\": ") == 1800u);
}

BOOST_AUTO_TEST_CASE(ten_kill_9_then_resume_equal_one_run) {
    require_fixtures();
    // 5400 records of perplexity on the cpu backend: a few seconds, checkpointed every chunk.
    const std::string inputs = examples() + examples() + examples();
    const std::string opts = "--threads 2 --backend cpu --metrics length,perplexity --lm " + llama;
    const auto ref = tmp("ref.json"), ref_inst = tmp("ref.jsonl");
    require_ok(run_cli("score" + inputs + " " + opts + " --quiet -o " + ref + " --per-instance " +
                       ref_inst),
               "uninterrupted run");
    const auto out = tmp("resumed.json"), inst = tmp("resumed.jsonl");
    const std::string ck = out + ".checkpoint";
    const std::string resumable = "score" + inputs + " " + opts + " --quiet -o " + out +
                                  " --per-instance " + inst + " --checkpoint-every 150 --resume";
    std::mt19937 rng(14);
    std::uniform_int_distribution<int> jitter_ms(0, 200);
    // The next line a checkpoint on disk continues from (0 when there is none yet).
    auto checkpointed = [&]() -> std::uint64_t {
        if (!fs::exists(ck)) return 0;
        return polyglot::score::read_state(ck)
            .counters.next_line;  // replaced atomically: never torn
    };
    int kills = 0, mid_run = 0;
    std::uint64_t last_line = 0;
    while (kills < 10 && !fs::exists(out)) {
        const pid_t pid = pt::spawn_cli(resumable);
        int st = 0;
        bool exited = false;
        // The first kill lands early (model loading, before any checkpoint); each later one
        // a random moment after the run has written a new checkpoint, however loaded the
        // machine is.
        if (kills > 0) {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
            while (checkpointed() <= last_line && std::chrono::steady_clock::now() < deadline &&
                   !(exited = ::waitpid(pid, &st, WNOHANG) == pid))
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (!exited) {
            std::this_thread::sleep_for(std::chrono::milliseconds(jitter_ms(rng)));
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &st, 0);
        }
        if (!WIFSIGNALED(st)) break;  // it finished first
        ++kills;
        const std::uint64_t now = checkpointed();
        BOOST_TEST(now >= last_line);  // progress is never lost
        if (fs::exists(ck)) mid_run += !polyglot::score::read_state(ck).complete;
        last_line = now;
    }
    BOOST_TEST_MESSAGE(kills << " kills, " << mid_run << " left a mid-run checkpoint, last at line "
                             << last_line);
    BOOST_TEST(kills == 10);
    BOOST_TEST(mid_run >= 8);
    require_ok(run_cli(resumable), "final --resume");
    BOOST_TEST(mask_timing(slurp(ref)) == mask_timing(slurp(out)));
    BOOST_TEST(slurp(ref_inst) == slurp(inst));
    BOOST_TEST(!fs::exists(ck));
    BOOST_TEST(!fs::exists(inst + ".partial"));
}

BOOST_AUTO_TEST_CASE(states_of_other_runs_or_damaged_states_are_refused) {
    require_fixtures();
    const std::string in = " examples/sft/alpha_de.jsonl examples/sft/beta_de.jsonl";
    const std::string base = "score" + in + " --quiet --backend cpu --metrics length,perplexity";
    auto shard = [&](int k, const std::string& extra, const std::string& name) {
        require_ok(run_cli(base + " --shard " + std::to_string(k) + "/2 --state-out " + tmp(name) +
                           " " + extra),
                   name);
        return tmp(name);
    };
    const auto s1 = shard(1, "--lm " + llama, "a1.state");
    const auto s2 = shard(2, "--lm " + llama, "a2.state");
    require_ok(run_cli("merge " + s1 + " " + s2 + " -o " + tmp("ok.json")), "good merge");

    auto refused = [&](const std::string& args, const std::string& words) {
        const auto r = run_cli("merge " + args);
        BOOST_TEST(r.status != 0, args);
        BOOST_TEST(r.err.find(words) != std::string::npos, r.err);
    };
    // Another model, another option, a missing shard.
    const auto other_model = shard(2, "--lm " + llama + "-bf16", "b2.state");
    refused(s1 + " " + other_model, "they come from different runs (base_model: 'hf:" + llama +
                                        "' vs 'hf:" + llama + "-bf16')");
    const auto other_opt = shard(2, "--lm " + llama + " --max-tokens 64", "c2.state");
    refused(s1 + " " + other_opt, "(max_tokens: '16384' vs '64')");
    const auto other_lang = shard(2, "--lm " + llama + " --lang de", "d2.state");
    refused(s1 + " " + other_lang, "(lang: '' vs 'de')");
    refused(s1, "shard 2/2 is missing");
    // Another polyglot version (the header rewritten as a different build would write it).
    auto st = polyglot::score::read_state(s2);
    for (auto& [k, v] : st.header)
        if (k == "polyglot_version") v = "0.0.9";
    polyglot::score::write_state(tmp("v2.state"), st);
    refused(s1 + " " + tmp("v2.state"),
            "(polyglot_version: '" POLYGLOT_VERSION_STRING "' vs '0.0.9')");
    // Truncated and corrupted files.
    const std::string bytes = slurp(s2);
    polyglot::io::write_file_atomic(tmp("cut.state"), bytes.substr(0, bytes.size() - 9));
    refused(s1 + " " + tmp("cut.state"), "cut.state: truncated or padded state file");
    std::string flipped = bytes;
    flipped[flipped.size() / 2] ^= 0x01;
    polyglot::io::write_file_atomic(tmp("flip.state"), flipped);
    refused(s1 + " " + tmp("flip.state"), "flip.state: corrupt state file (checksum mismatch)");
    refused(s1 + " examples/sft/alpha_de.jsonl", "not a polyglot state file");
    // A resumed run must have the checkpoint's options.
    auto ck = polyglot::score::read_state(s1);
    ck.complete = false;
    polyglot::score::write_state(tmp("r.ck"), ck);
    const auto r = run_cli(base + " --lm " + llama + " --lang de --shard 1/2 --state-out " +
                           tmp("r.state") + " --checkpoint " + tmp("r.ck") + " --resume");
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.err.find("cannot resume from " + tmp("r.ck") +
                          ": it was written by a run with other options or inputs (lang: '' vs "
                          "'de')") != std::string::npos,
               r.err);
}

BOOST_AUTO_TEST_CASE(compressed_directories_globs_and_stdin_report_like_plain) {
    require_fixtures();
    const fs::path d = scratch() / "compressed";
    fs::create_directories(d);
    int i = 0;
    for (const char* t : {"alpha", "beta", "gamma"})
        for (const char* l : {"de", "es", "ja"}) {
            const std::string name = std::string(t) + "_" + l + ".jsonl";
            const std::string tool = i++ % 2 ? "gzip -c " : "zstd -q -c ";
            const std::string ext = i % 2 ? ".zst" : ".gz";
            BOOST_REQUIRE_MESSAGE(
                std::system((tool + "examples/sft/" + name + " > " + (d / (name + ext)).string())
                                .c_str()) == 0,
                "gzip/zstd missing (scripts/bootstrap installs them)");
        }
    auto no_inputs = [](const std::string& r) {
        std::string out;
        bool in_input = false;
        std::istringstream s(mask_timing(r));
        std::string line;
        while (std::getline(s, line)) {
            if (line.find("\"input\": [") != std::string::npos) in_input = true;
            if (!in_input) out += line + "\n";
            if (in_input && line.find(']') != std::string::npos) in_input = false;
        }
        return out;
    };
    const auto plain = run_cli("score" + examples() + " --quiet --per-instance " + tmp("p.jsonl"));
    const auto dir = run_cli("score " + d.string() + " --quiet --per-instance " + tmp("c.jsonl"));
    require_ok(plain, "plain");
    require_ok(dir, "directory");
    BOOST_TEST(no_inputs(plain.out) == no_inputs(dir.out));
    const std::regex file_key("\"file\":\"[^\"]*\"");
    BOOST_TEST(std::regex_replace(slurp(tmp("p.jsonl")), file_key, "") ==
               std::regex_replace(slurp(tmp("c.jsonl")), file_key, ""));
    BOOST_TEST(dir.out.find((d / "alpha_de.jsonl.zst").string()) != std::string::npos);
    // A quoted glob, and compressed standard input.
    const auto glob =
        run_cli("score '" + (d / "*_de.jsonl*").string() + "' --quiet --metrics length");
    const auto de = run_cli(
        "score examples/sft/alpha_de.jsonl examples/sft/beta_de.jsonl "
        "examples/sft/gamma_de.jsonl --quiet --metrics length");
    BOOST_TEST(no_inputs(glob.out) == no_inputs(de.out));
    const auto piped =
        run_cli("score - --quiet --metrics length < " + (d / "beta_de.jsonl.gz").string());
    const auto one = run_cli("score examples/sft/beta_de.jsonl --quiet --metrics length");
    BOOST_TEST(no_inputs(piped.out) == no_inputs(one.out));
    // Shards of compressed inputs merge like the rest.
    check_shards(" " + d.string(), "--metrics length,lexical", 3, "zshards");
}
