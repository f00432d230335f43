// SPDX-License-Identifier: Apache-2.0
// End to end: `polyglot serve` of each fixture model, and polyglot (CLI and services) talking to
// it through the remote backend. Per-record perplexities equal the cpu backend's; tokenization
// equals the cpu backend's and Hugging Face's (the fixtures' ids); embeddings of
// tiny-embeddinggemma equal the cpu backend's and sentence-transformers'; greedy generation
// gives the fixtures' ids; concurrent requests are batched into the engine.
#define BOOST_TEST_MODULE remote_serve
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/services.hpp>

#include "remote_test_util.hpp"

using namespace remote_test;
using polyglot::analysis::json_value;

namespace {

fs::path fixture(const std::string& name) {
    return polyglot::testing::require_path(
               source_dir() / ".." / "shared" / "fixtures" / "models" / name / "expected.json",
               "../shared must sit beside the repository")
        .parent_path();
}

/// `polyglot serve --model DIR --port 0` for the scope.
class served {
  public:
    /// @p log: where serve's stderr goes (its exit summary); "" = quiet.
    explicit served(const fs::path& model, std::vector<std::string> extra = {},
                    const fs::path& log = {}) {
        std::vector<std::string> argv = {cli(), "serve", "--model", model.string(), "--port", "0"};
        if (log.empty()) argv.push_back("-q");
        argv.insert(argv.end(), extra.begin(), extra.end());
        proc_ = std::make_unique<child>(argv, std::string(), log.string());
        const std::string line = proc_->read_line(60);
        const std::string tag = "listening on ";
        const auto at = line.find(tag);
        BOOST_REQUIRE_MESSAGE(at != std::string::npos,
                              "polyglot serve did not start: '" + line + "'");
        url_ = line.substr(at + tag.size());
    }
    ~served() { stop(); }
    void stop() {
        if (stopped_) return;
        stopped_ = true;
        proc_->signal(SIGTERM);
        BOOST_TEST(proc_->wait() == 0);  // a clean shutdown on SIGTERM
    }
    [[nodiscard]] const std::string& url() const noexcept { return url_; }

  private:
    std::unique_ptr<child> proc_;
    std::string url_;
    bool stopped_ = false;
};

std::string quote(const std::string& s) {
    polyglot::io::json_writer w;
    w.value(s);
    return w.take();
}

std::vector<std::int32_t> ints(const json_value& v) {
    std::vector<std::int32_t> out;
    for (const auto& x : v.as_array()) out.push_back(std::int32_t(x.as_number()));
    return out;
}

polyglot::backend_options options(const std::string& backend) {
    polyglot::backend_options o;
    o.backend = backend;
    o.no_cache = true;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(perplexity_tokenization_and_generation_through_serve) {
    for (const std::string name : {"tiny-llama", "tiny-llama-bf16", "tiny-qwen3", "tiny-gemma3"}) {
        BOOST_TEST_CONTEXT(name) {
            const fs::path dir = fixture(name);
            tmpdir t("remote_serve_" + name);
            scoped_env data("POLYGLOT_DATA_DIR", (t.dir / "data").string());
            const json_value ex =
                polyglot::analysis::read_json_file((dir / "expected.json").string());
            {
                std::ofstream jl(t.dir / "in.jsonl");
                for (const auto& c : ex.find("cases")->as_array())
                    jl << "{\"prompt\": " << quote(c.find("prompt")->as_string())
                       << ", \"response\": " << quote(c.find("response")->as_string()) << "}\n";
            }
            served srv(dir);
            BOOST_TEST(srv.url().find("#" + name) != std::string::npos);

            // Perplexity: the remote backend against serve vs the cpu backend in-process.
            for (const auto& [tag, lm, backend] : {std::tuple{"remote", srv.url(), "auto"},
                                                   std::tuple{"cpu", dir.string(), "cpu"}}) {
                const int rc =
                    run_cli({"score", (t.dir / "in.jsonl").string(), "--metrics", "perplexity",
                             "--lm", lm, "--backend", backend, "--no-cache", "--per-instance",
                             (t.dir / (std::string(tag) + ".pi")).string(), "-o",
                             (t.dir / (std::string(tag) + ".json")).string()},
                            t.dir / "out.txt", t.dir / "err.txt");
                BOOST_REQUIRE_MESSAGE(rc == 0, slurp(t.dir / "err.txt"));
            }
            const auto remote =
                polyglot::analysis::parse_json_lines(slurp(t.dir / "remote.pi"), "r");
            const auto cpu = polyglot::analysis::parse_json_lines(slurp(t.dir / "cpu.pi"), "c");
            BOOST_REQUIRE_EQUAL(remote.size(), ex.find("cases")->as_array().size());
            BOOST_REQUIRE_EQUAL(remote.size(), cpu.size());
            double worst_ppl = 0, worst_fixture = 0;
            std::size_t k = 0;
            for (const auto& c : ex.find("cases")->as_array()) {
                const double r = num(remote[k].second.find("perplexity"));
                const double l = num(cpu[k].second.find("perplexity"));
                worst_ppl = std::max(worst_ppl, std::abs(r - l) / l);
                const double want = num(c.find("perplexity"));  // transformers
                worst_fixture = std::max(worst_fixture, std::abs(r - want) / want);
                ++k;
            }
            BOOST_TEST_MESSAGE(name << ": perplexity via serve vs cpu: max relative difference "
                                    << worst_ppl << "; vs transformers " << worst_fixture);
            // The issue's bound. (Measured: 0 — the cpu engine's one attention kernel serves
            // cached and uncached passes, so SCORE and serve's SCORE_IDS agree to the bit.)
            BOOST_TEST(worst_ppl <= 1e-6);
            BOOST_TEST(worst_fixture <= 1e-4);

            // Through serve the remote backend adds no error of its own: its per-record NLL sums
            // are the cpu backend's SCORE_IDS sums on the same ids, to the last bit.
            auto cpu_lm = polyglot::open_scorer(dir.string(), options("cpu"));
            auto rem_lm = polyglot::open_scorer(srv.url(), options("auto"));
            BOOST_TEST(rem_lm->backend() == "remote");
            std::vector<std::string_view> prompts, responses;
            for (const auto& c : ex.find("cases")->as_array()) {
                prompts.push_back(c.find("prompt")->as_string());
                responses.push_back(c.find("response")->as_string());
            }
            // Tokenization: the server's equals the cpu backend's and Hugging Face's.
            const auto pr = rem_lm->tokenize(prompts, true), pc = cpu_lm->tokenize(prompts, true);
            const auto rr = rem_lm->tokenize(responses, false),
                       rc2 = cpu_lm->tokenize(responses, false);
            k = 0;
            std::vector<std::vector<std::int32_t>> seqs;
            std::vector<std::size_t> from;
            for (const auto& c : ex.find("cases")->as_array()) {
                BOOST_TEST(pr[k] == pc[k], boost::test_tools::per_element());
                BOOST_TEST(rr[k] == rc2[k], boost::test_tools::per_element());
                BOOST_TEST(pr[k] == ints(*c.find("prompt_ids")), boost::test_tools::per_element());
                BOOST_TEST(rr[k] == ints(*c.find("response_ids")),
                           boost::test_tools::per_element());
                auto ids = pr[k];
                ids.insert(ids.end(), rr[k].begin(), rr[k].end());
                seqs.push_back(ids);
                from.push_back(pr[k].size());
                ++k;
            }
            std::vector<std::vector<float>> lp;
            cpu_lm->score_ids(seqs, from, lp, nullptr);
            for (std::size_t i = 0; i < seqs.size(); ++i) {
                double sum = 0;
                const std::size_t f = std::max<std::size_t>(from[i], 1);
                for (std::size_t p = f; p < seqs[i].size(); ++p) sum -= double(lp[i][p]);
                const double mean = sum / double(seqs[i].size() - f);
                BOOST_TEST(num(remote[i].second.find("mean_nll")) == mean);
            }

            // Greedy generation through serve gives the fixtures' (transformers') ids.
            auto gen = polyglot::open_generator(srv.url(), options("auto"));
            std::vector<std::vector<std::int32_t>> gprompts, want;
            for (const auto& g : ex.find("generation")->as_array()) {
                gprompts.push_back(ints(*g.find("prompt_ids")));
                want.push_back(ints(*g.find("greedy_ids")));
            }
            polyglot::generate_params gp;
            gp.max_new_tokens = std::uint32_t(want.front().size());
            gp.temperature = 0;
            gp.ignore_eos = true;
            std::vector<polyglot::generation> out(gprompts.size());
            gen->generate(polyglot::prompt_kind::ids, {}, gprompts, 0, gp, out);
            for (std::size_t i = 0; i < out.size(); ++i) {
                BOOST_TEST(out[i].ok(), out[i].error);
                BOOST_TEST(out[i].ids == want[i], boost::test_tools::per_element());
                BOOST_TEST(out[i].finish_reason == POLYGLOT_FINISH_LENGTH);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(embeddings_through_serve) {
    const fs::path dir = fixture("tiny-embeddinggemma");
    tmpdir t("remote_serve_emb");
    scoped_env data("POLYGLOT_DATA_DIR", (t.dir / "data").string());
    const json_value ex = polyglot::analysis::read_json_file((dir / "expected.json").string());
    {
        std::ofstream jl(t.dir / "in.jsonl");
        for (const auto& x : ex.find("texts")->as_array())
            jl << "{\"prompt\": \"p\", \"response\": " << quote(x.as_string()) << "}\n";
    }
    served srv(dir);
    for (const auto& [tag, spec, backend] :
         {std::tuple{"remote", srv.url(), "auto"}, std::tuple{"cpu", dir.string(), "cpu"}}) {
        BOOST_REQUIRE_MESSAGE(run_cli({"embed", "--embedder", spec, "--backend", backend,
                                       "--no-cache", (t.dir / "in.jsonl").string(), "-o",
                                       (t.dir / (std::string(tag) + ".npy")).string()},
                                      t.dir / "out.txt", t.dir / "err.txt") == 0,
                              slurp(t.dir / "err.txt"));
    }
    const std::string a = slurp(t.dir / "remote.npy"), b = slurp(t.dir / "cpu.npy");
    BOOST_REQUIRE_EQUAL(a.size(), b.size());
    const std::size_t hdr =
        10 + (std::size_t(std::uint8_t(a[8])) | std::size_t(std::uint8_t(a[9])) << 8);
    const auto& embs = ex.find("embeddings")->as_array();
    const std::size_t dim = embs.front().as_array().size();
    BOOST_REQUIRE_EQUAL(a.size(), hdr + embs.size() * dim * 4);
    double worst_cpu = 0, worst_st = 0;
    for (std::size_t i = 0; i < embs.size(); ++i)
        for (std::size_t k = 0; k < dim; ++k) {
            float x, y;
            std::memcpy(&x, a.data() + hdr + (i * dim + k) * 4, 4);
            std::memcpy(&y, b.data() + hdr + (i * dim + k) * 4, 4);
            worst_cpu = std::max(worst_cpu, double(std::abs(x - y)));
            worst_st = std::max(worst_st, std::abs(double(x) - embs[i].as_array()[k].as_number()));
        }
    BOOST_TEST_MESSAGE(
        "embeddings via serve vs cpu: " << worst_cpu << ", vs sentence-transformers: " << worst_st);
    BOOST_TEST(worst_cpu <= 1e-6);
    BOOST_TEST(worst_st <= 1e-5);
}

BOOST_AUTO_TEST_CASE(serve_batches_concurrent_requests_and_checks_keys) {
    const fs::path dir = fixture("tiny-qwen3");
    tmpdir t("remote_serve_batch");
    scoped_env data("POLYGLOT_DATA_DIR", (t.dir / "data").string());
    const std::string key = "pg-serve-test-key-93f1";
    scoped_env k("POLYGLOT_SERVE_TEST_KEY", key);
    served srv(dir, {"--api-key-env", "POLYGLOT_SERVE_TEST_KEY", "--batch-window-ms", "20"},
               t.dir / "serve.err");
    // Without the key: refused.
    {
        scoped_env none("POLYGLOT_NO_KEY", "");
        polyglot::backend_options o = options("auto");
        o.api_key_env = "POLYGLOT_NO_KEY";
        o.max_retries = 0;
        BOOST_CHECK_EXCEPTION((void)polyglot::open_scorer(srv.url(), o), polyglot::error,
                              [](const polyglot::error& e) {
                                  return std::string(e.what()).find("HTTP 401") !=
                                         std::string::npos;
                              });
    }
    polyglot::backend_options o = options("auto");
    o.api_key_env = "POLYGLOT_SERVE_TEST_KEY";
    o.concurrency = 16;
    auto lm = polyglot::open_scorer(srv.url(), o);
    std::vector<std::string> texts;
    for (int i = 0; i < 48; ++i) texts.push_back("record " + std::to_string(i) + " says hello");
    std::vector<std::string_view> p(texts.begin(), texts.end()), r(texts.rbegin(), texts.rend());
    std::vector<polyglot::lm_score> out(p.size());
    lm->score(p, r, out);
    for (const auto& s : out) BOOST_TEST((!s.failed && s.n_scored > 0));
    // The same records scored in-process give the same numbers.
    auto cpu = polyglot::open_scorer(dir.string(), options("cpu"));
    std::vector<std::vector<std::int32_t>> seqs;
    std::vector<std::size_t> from;
    const auto tp = cpu->tokenize(p, true), tr = cpu->tokenize(r, false);
    for (std::size_t i = 0; i < p.size(); ++i) {
        auto ids = tp[i];
        ids.insert(ids.end(), tr[i].begin(), tr[i].end());
        seqs.push_back(ids);
        from.push_back(tp[i].size());
    }
    std::vector<std::vector<float>> lp;
    cpu->score_ids(seqs, from, lp, nullptr);
    for (std::size_t i = 0; i < p.size(); ++i) {
        double sum = 0;
        for (std::size_t q = from[i]; q < seqs[i].size(); ++q) sum -= double(lp[i][q]);
        BOOST_TEST(out[i].sum_nll == sum);
    }
    // The 48 scoring requests (16 in flight) reached the engine in fewer calls than requests.
    srv.stop();
    const std::string summary = slurp(t.dir / "serve.err");
    unsigned long long requests = 0, calls = 0, items = 0;
    const auto at = summary.find("stopped after ");
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, summary);
    BOOST_REQUIRE(std::sscanf(summary.c_str() + at,
                              "stopped after %llu requests (%llu engine calls, %llu sequences)",
                              &requests, &calls, &items) == 3);
    BOOST_TEST_MESSAGE("serve: " << requests << " requests, " << calls << " engine calls, " << items
                                 << " sequences");
    BOOST_TEST(items >= 48u + 96u);  // 48 scored + 96 tokenized texts, at least
    BOOST_TEST(calls < items);       // batched
}
