// SPDX-License-Identifier: Apache-2.0
// The engine through the CLI and the cpu plugin: `polyglot embed` reproduces EmbeddingGemma's
// sentence-transformers output (1e-5), `polyglot score --metrics perplexity --lm` gives the
// fixture's mean perplexity and identical reports for --threads 1 and 2, `polyglot tokenize
// --tokenizer DIR` gives HF's ids.
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

}  // namespace

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
    std::string reports[2];
    for (int threads : {1, 2}) {
        auto out = t.dir / ("r" + std::to_string(threads) + ".json");
        BOOST_REQUIRE_EQUAL(run(cli() + " score " + (t.dir / "in.jsonl").string() +
                                " --metrics perplexity --lm " + dir.string() + " --threads " +
                                std::to_string(threads) + " -o " + out.string() + " 2>/dev/null"),
                            0);
        polyglot::model::json_document rep(out);
        double avg =
            polyglot::model::as_number(rep.root()["perplexity"]["average_perplexity"]).value();
        BOOST_TEST(std::abs(avg - mean_ppl) / mean_ppl <= 1e-4);
        // The report without timing / thread-count lines.
        std::istringstream in(slurp(out));
        for (std::string line; std::getline(in, line);)
            if (line.find("elapsed") == std::string::npos &&
                line.find("\"threads\"") == std::string::npos)
                reports[threads - 1] += line + "\n";
    }
    BOOST_TEST(reports[0] == reports[1]);
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
