// SPDX-License-Identifier: Apache-2.0
// The engine through the CLI and the cpu plugin: `polyglot embed` reproduces EmbeddingGemma's
// sentence-transformers output (1e-5), `polyglot score --metrics perplexity --lm` gives the
// fixture's mean perplexity and identical reports for --threads 1 and 2 on every vector path
// (POLYGLOT_CPU_ISA), `polyglot backends` names the cpu plugin's vector path, `polyglot
// tokenize --tokenizer DIR` gives HF's ids.
#define BOOST_TEST_MODULE engine_cli
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "fixtures.hpp"

using namespace engine_test;
namespace fs = std::filesystem;

namespace {

std::string cli() { return polyglot::testing::require_cli(); }

struct tmpdir {
    fs::path dir =
        fs::temp_directory_path() / ("polyglot_engine_cli_" + std::to_string(::getpid()));
    tmpdir() { fs::create_directories(dir); }
    ~tmpdir() { fs::remove_all(dir); }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// JSON string literal of @p s (the fixtures' texts are valid UTF-8).
std::string quote(const std::string& s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            o += '\\', o += c;
        else if (c == '\n')
            o += "\\n";
        else
            o += c;
    }
    return o + "\"";
}

int run(const std::string& cmd) {
    BOOST_TEST_MESSAGE(cmd);
    return std::system(cmd.c_str());
}

/// The vector paths the cpu plugin's device line lists: "kernels P (supported: A B C)".
std::vector<std::string> cpu_paths(const fs::path& dir) {
    const auto out = dir / "backends.txt";
    BOOST_REQUIRE_EQUAL(run(cli() + " backends > " + out.string()), 0);
    const std::string text = slurp(out);
    const auto at = text.find("(supported: ");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no vector paths in:\n" << text);
    std::istringstream in(text.substr(at + 12, text.find(')', at) - at - 12));
    std::vector<std::string> paths;
    for (std::string p; in >> p;) paths.push_back(p);
    BOOST_REQUIRE(!paths.empty());
    BOOST_TEST(paths.front() == "sse2");
    return paths;
}

}  // namespace

BOOST_AUTO_TEST_CASE(backends_names_the_vector_path) {
    tmpdir t;
    for (const auto& p : cpu_paths(t.dir)) {
        const auto out = t.dir / ("b_" + p + ".txt");
        BOOST_REQUIRE_EQUAL(
            run("POLYGLOT_CPU_ISA=" + p + " " + cli() + " backends > " + out.string()), 0);
        BOOST_TEST(slurp(out).find("kernels " + p + " (supported: ") != std::string::npos, p);
    }
    // An unknown path: the device line says why, and loading a model fails naming the variable.
    const auto bad = t.dir / "bad.txt";
    BOOST_REQUIRE_EQUAL(run("POLYGLOT_CPU_ISA=neon " + cli() + " backends > " + bad.string()), 0);
    BOOST_TEST(slurp(bad).find("POLYGLOT_CPU_ISA=neon: unknown") != std::string::npos);
    std::ofstream(t.dir / "in.jsonl") << "{\"prompt\": \"a\", \"response\": \"b\"}\n";
    const auto err = t.dir / "err.txt";
    BOOST_TEST(run("POLYGLOT_CPU_ISA=neon " + cli() + " score " + (t.dir / "in.jsonl").string() +
                   " --metrics perplexity --lm " + fixture("tiny-llama").string() + " -o " +
                   (t.dir / "r.json").string() + " 2> " + err.string()) != 0);
    BOOST_TEST(slurp(err).find("POLYGLOT_CPU_ISA=neon") != std::string::npos, slurp(err));
}

BOOST_AUTO_TEST_CASE(embed_embeddinggemma_npy) {
    auto dir = fixture("tiny-embeddinggemma");
    tmpdir t;
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::array texts = doc.root()["texts"].get_array();
    std::ofstream jl(t.dir / "in.jsonl");
    for (auto x : texts) {
        std::string_view v = x.get_string();
        jl << "{\"prompt\": \"p\", \"response\": " << quote(std::string(v)) << "}\n";
    }
    jl.close();
    auto npy = t.dir / "out.npy";
    BOOST_REQUIRE_EQUAL(run(cli() + " embed --embedder " + dir.string() + " " +
                            (t.dir / "in.jsonl").string() + " -o " + npy.string()),
                        0);
    const std::string blob = slurp(npy);
    BOOST_REQUIRE(blob.size() > 128);
    BOOST_TEST(blob.compare(0, 6, "\x93NUMPY") == 0);
    BOOST_TEST(blob.find("'shape': (13, 64)") != std::string::npos);
    const std::size_t hdr = std::size_t(std::uint8_t(blob[8])) | std::size_t(std::uint8_t(blob[9]))
                                                                     << 8;
    BOOST_REQUIRE_EQUAL(blob.size(), 10 + hdr + 13 * 64 * 4);
    simdjson::dom::array embs = doc.root()["embeddings"].get_array();
    std::size_t i = 0;
    double worst = 0;
    for (auto e : embs) {
        auto want = doubles_of(e);
        for (std::size_t k = 0; k < want.size(); ++k) {
            float v;
            std::memcpy(&v, blob.data() + 10 + hdr + (i * 64 + k) * 4, 4);
            worst = std::max(worst, std::abs(double(v) - want[k]));
        }
        ++i;
    }
    BOOST_TEST(worst <= 1e-5);
}

BOOST_AUTO_TEST_CASE(score_perplexity_report) {
    auto dir = fixture("tiny-gemma3");
    tmpdir t;
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::array cases = doc.root()["cases"].get_array();
    std::ofstream jl(t.dir / "in.jsonl");
    double mean_ppl = 0;
    for (auto c : cases) {
        jl << "{\"prompt\": " << quote(str_of(c, "prompt"))
           << ", \"response\": " << quote(str_of(c, "response")) << "}\n";
        mean_ppl += polyglot::model::as_number(c["perplexity"]).value() / double(cases.size());
    }
    jl.close();
    for (const auto& path : cpu_paths(t.dir)) {
        std::string reports[2];
        for (int threads : {1, 2}) {
            auto out = t.dir / ("r" + std::to_string(threads) + path + ".json");
            BOOST_REQUIRE_EQUAL(run("POLYGLOT_CPU_ISA=" + path + " " + cli() + " score " +
                                    (t.dir / "in.jsonl").string() + " --metrics perplexity --lm " +
                                    dir.string() + " --threads " + std::to_string(threads) +
                                    " -o " + out.string() + " 2>/dev/null"),
                                0);
            polyglot::model::json_document rep(out);
            double avg =
                polyglot::model::as_number(rep.root()["perplexity"]["average_perplexity"]).value();
            BOOST_TEST(std::abs(avg - mean_ppl) / mean_ppl <= 1e-4, path);
            // The report without timing / thread-count lines.
            std::istringstream in(slurp(out));
            for (std::string line; std::getline(in, line);)
                if (line.find("elapsed") == std::string::npos &&
                    line.find("\"threads\"") == std::string::npos)
                    reports[threads - 1] += line + "\n";
        }
        BOOST_TEST(reports[0] == reports[1], path);
    }
}

BOOST_AUTO_TEST_CASE(tokenize_with_hf_directory) {
    // Every single-line prompt and response of expected.json, one per line; the ids transformers
    // gave them (`tokenize` adds no special tokens: prompt_ids without the declared BOS).
    for (std::string name : {"tiny-llama", "tiny-qwen3", "tiny-gemma3"}) {
        BOOST_TEST_CONTEXT(name) {
            auto dir = fixture(name);
            const auto bos = declared_bos_id(dir);
            tmpdir t;
            polyglot::model::json_document doc(dir / "expected.json");
            simdjson::dom::array cases = doc.root()["cases"].get_array();
            std::ofstream in(t.dir / "in.txt");
            std::string want;
            std::size_t lines = 0;
            auto add = [&](const std::string& text, std::vector<std::uint32_t> ids) {
                if (text.find('\n') != std::string::npos) return;  // one text per line
                in << text << "\n";
                std::string row = "[";
                for (std::size_t k = 0; k < ids.size(); ++k)
                    row += (k ? "," : "") + std::to_string(ids[k]);
                want += row + "]\n";
                ++lines;
            };
            for (auto c : cases) {
                auto pids = ids_of(c["prompt_ids"]);
                if (bos) {
                    BOOST_REQUIRE(!pids.empty());
                    BOOST_REQUIRE(pids.front() == *bos);
                    pids.erase(pids.begin());
                }
                add(str_of(c, "prompt"), pids);
                add(str_of(c, "response"), ids_of(c["response_ids"]));
            }
            in.close();
            BOOST_REQUIRE(lines >= 30u);
            auto out = t.dir / "ids.txt";
            BOOST_REQUIRE_EQUAL(run(cli() + " tokenize --tokenizer " + dir.string() + " " +
                                    (t.dir / "in.txt").string() + " > " + out.string()),
                                0);
            BOOST_TEST(slurp(out) == want);
        }
    }
}

BOOST_AUTO_TEST_CASE(complete_jsonl) {
    // HF's greedy continuations (expected.json) for text and id prompts, one output line per
    // input line in order, bad lines and failed items reported with their reason, identical
    // sampled output for --threads 1 and 2 and any --batch, -o written atomically.
    auto dir = fixture("tiny-llama");
    tmpdir t;
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::array gens = doc.root()["generation"].get_array();
    std::ofstream jl(t.dir / "in.jsonl");
    std::vector<std::string> want;
    for (auto g : gens) {
        jl << "{\"id\": " << quote(str_of(g, "prompt"))
           << ", \"prompt\": " << quote(str_of(g, "prompt")) << "}\n";
        std::string ids = "[";
        for (auto x : ids_of(g["greedy_ids"]))
            ids += (ids.size() > 1 ? "," : "") + std::to_string(x);
        want.push_back(ids + "]");
        std::string p = "[";
        for (auto x : ids_of(g["prompt_ids"])) p += (p.size() > 1 ? ", " : "") + std::to_string(x);
        jl << "{\"id\": 7, \"prompt_ids\": " << p << "]}\n";
    }
    jl << "not json\n"
       << "\n"
       << "{\"prompt_ids\": [0, 5000]}\n"
       << "{\"prompt\": \"x\", \"prompt_ids\": [1]}\n";
    jl.close();
    const auto in = (t.dir / "in.jsonl").string();
    const auto out = t.dir / "out.jsonl";
    BOOST_REQUIRE_EQUAL(
        run(cli() + " complete --backend cpu --model " + dir.string() + " --max-new-tokens 8 " +
            in + " -o " + out.string() + " 2>" + (t.dir / "err.txt").string()),
        0);
    std::istringstream lines(slurp(out));
    std::vector<std::string> got;
    for (std::string l; std::getline(lines, l);) got.push_back(l);
    BOOST_REQUIRE_EQUAL(got.size(), 10u);
    for (std::size_t k = 0; k < 3; ++k) {
        for (std::size_t v = 0; v < 2; ++v) {
            const std::string& l = got[2 * k + v];
            BOOST_TEST_CONTEXT(l) {
                BOOST_TEST(l.find("\"line\":" + std::to_string(2 * k + v + 1) + ",") == 1u);
                BOOST_TEST(l.find("\"token_ids\":" + want[k]) != std::string::npos);
                BOOST_TEST(l.find("\"finish_reason\":\"length\"") != std::string::npos);
                BOOST_TEST(l.find("\"completion_tokens\":8") != std::string::npos);
                BOOST_TEST(l.find("\"error\"") == std::string::npos);
            }
        }
        BOOST_TEST(got[2 * k + 1].find("\"id\":7,") != std::string::npos);
    }
    BOOST_TEST(got[6].find("\"line\":7,\"id\":null,\"error\":\"malformed JSON") == 1u, got[6]);
    BOOST_TEST(got[7].find("\"error\":\"empty line\"") != std::string::npos, got[7]);
    BOOST_TEST(got[8].find("outside the vocabulary") != std::string::npos, got[8]);
    BOOST_TEST(got[9].find("exactly one of") != std::string::npos, got[9]);
    const std::string err = slurp(t.dir / "err.txt");
    BOOST_TEST(err.find(in + ":7: malformed JSON") != std::string::npos, err);
    BOOST_TEST(err.find("6 completions") != std::string::npos, err);
    BOOST_TEST(err.find("1 failed") != std::string::npos, err);
    BOOST_TEST(err.find("3 lines skipped") != std::string::npos, err);
    // --strict stops at the first bad line, and -o is not written.
    const auto strict_out = t.dir / "strict.jsonl";
    BOOST_TEST(run(cli() + " complete --backend cpu --model " + dir.string() + " --strict " + in +
                   " -o " + strict_out.string() + " 2>/dev/null") != 0);
    BOOST_TEST(!fs::exists(strict_out));
    // Sampling: the same output for --threads 1 and 2 and for any --batch.
    std::string sampled[3];
    const char* extra[3] = {" --threads 1 --batch 64", " --threads 2 --batch 2",
                            " --threads 2 --batch 1"};
    for (int i = 0; i < 3; ++i) {
        const auto o = t.dir / ("s" + std::to_string(i) + ".jsonl");
        BOOST_REQUIRE_EQUAL(run(cli() + " complete --backend cpu --model " + dir.string() +
                                " --max-new-tokens 12 --temperature 0.9 --top-p 0.95 --top-k 40 "
                                "--seed 11 --logprobs --stop ' a'" +
                                extra[i] + " " + in + " -o " + o.string() + " 2>/dev/null"),
                            0);
        sampled[i] = slurp(o);
    }
    BOOST_TEST(sampled[0] == sampled[1]);
    BOOST_TEST(sampled[0] == sampled[2]);
    BOOST_TEST(sampled[0].find("\"logprobs\":[") != std::string::npos);
    // Chat messages rendered with a chat template (BOS + the user's text): the same ids as the
    // text prompt, so HF's greedy continuation.
    std::ofstream(t.dir / "t.jinja") << "{{ bos_token }}{% for m in messages %}{{ m['content'] }}"
                                        "{% endfor %}";
    std::ofstream(t.dir / "m.jsonl")
        << "{\"messages\": [{\"role\": \"user\", \"content\": \"Iceland\"}]}\n";
    const auto mo = t.dir / "m.out";
    BOOST_REQUIRE_EQUAL(
        run(cli() + " complete --backend cpu --model " + dir.string() +
            " --max-new-tokens 8 --chat-template " + (t.dir / "t.jinja").string() + " " +
            (t.dir / "m.jsonl").string() + " -o " + mo.string() + " 2>/dev/null"),
        0);
    BOOST_TEST(slurp(mo).find("\"token_ids\":" + want[0]) != std::string::npos, slurp(mo));
}

BOOST_AUTO_TEST_CASE(score_parse_special_is_a_choice_the_report_names) {
    // A literal special token written in a response is text by default (SFT data may quote
    // "<|end_of_text|>"); --parse-special reads it as the control token. Oracle: the response's
    // ids from transformers (expected.json) — recognised, the literal adds exactly one token
    // (Hugging Face splits on added tokens before the model runs); as text, several.
    auto dir = fixture("tiny-llama");
    tmpdir t;
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::element c0 = doc.root()["cases"].at(0);
    const std::string response = str_of(c0, "response");
    const std::size_t n_response = ids_of(c0["response_ids"]).size();
    {
        std::ofstream jl(t.dir / "special.jsonl");
        jl << "{\"prompt\": " << quote(str_of(c0, "prompt"))
           << ", \"response\": " << quote(response + "<|end_of_text|>") << "}\n";
    }
    double tokens[2] = {0, 0};
    for (int parse : {0, 1}) {
        const auto out = t.dir / ("special" + std::to_string(parse) + ".json");
        BOOST_REQUIRE_EQUAL(
            run(cli() + " score " + (t.dir / "special.jsonl").string() +
                " --metrics perplexity --lm " + dir.string() + (parse ? " --parse-special" : "") +
                " -o " + out.string() + " 2>/dev/null"),
            0);
        polyglot::model::json_document rep(out);
        tokens[parse] =
            polyglot::model::as_number(rep.root()["perplexity"]["scored_tokens"]).value();
        bool said = false;
        BOOST_REQUIRE(!rep.root()["metadata"]["parse_special"].get(said));
        BOOST_TEST(said == bool(parse));
    }
    BOOST_TEST(tokens[1] == double(n_response + 1));
    BOOST_TEST(tokens[0] > double(n_response + 2));
}
