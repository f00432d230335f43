// SPDX-License-Identifier: Apache-2.0
// The cuda plugin (plugins/cuda). Two kinds of checks:
//  - CPU-side (run everywhere, CTest `cuda_plugin_test`): the host-side index math the kernels
//    use (plugins/cuda/plan.hpp): cu_seqlens and attention tiles, the attention mask and key
//    ranges against what the reference forward pass (checked against transformers) lets each
//    query see, budget properties, logit chunking; and the plugin as a file: it loads,
//    reports its ABI, capabilities and self-test verdict, and without a GPU reports itself
//    unusable with the reason; `polyglot backends` shows the reason, `--backend cuda` fails
//    with it and `--backend auto` falls back to cpu.
//  - GPU (Boost.Test label `gpu`, CTest `cuda_plugin_gpu_test` with LABELS gpu): parity with
//    the fixtures' expected.json (HF transformers, f32): f32 log-probs within 1e-4, bf16
//    per-record perplexity within 1%, embeddings. Each has a precondition that skips it cleanly
//    when the plugin reports no usable device.
#include <polyglot/plugin/abi.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <polyglot/core/record.hpp>
#include <polyglot/plugin/host.hpp>
#include <string>
#include <vector>

#include "../fixture_models.hpp"
#include "common/runtime/reference_device.hpp"
#include "common/runtime/self_test.hpp"
#include "plan.hpp"
#include "support/require_asset.hpp"

namespace fs = std::filesystem;
namespace utf = boost::unit_test;
namespace plan = polyglot::cuda::plan;

namespace {

using fixture_models::fixture;

// ---- helpers --------------------------------------------------------------------------------

/// The built plugin, or "" when this build has no cuda plugin (POLYGLOT_CUDA=OFF). The
/// environment's POLYGLOT_TEST_CUDA_PLUGIN wins (scripts/gpu-check runs a relocated bundle).
std::string plugin_file() {
    if (const char* e = std::getenv("POLYGLOT_TEST_CUDA_PLUGIN"); e && *e) return e;
#ifdef POLYGLOT_TEST_CUDA_PLUGIN
    return POLYGLOT_TEST_CUDA_PLUGIN;
#else
    return {};
#endif
}

/// Whether this machine shows any sign of an NVIDIA driver (device nodes). Independent of the
/// plugin, so "no driver ⇒ the plugin must say unusable" is a real check.
bool driver_present() {
    std::error_code ec;
    return fs::exists("/dev/nvidiactl", ec) || fs::exists("/dev/nvidia0", ec) ||
           fs::exists("/proc/driver/nvidia/version", ec);
}

polyglot::plugin::plugin_ptr load_cuda() {
    return polyglot::plugin::load_plugin(fs::path(plugin_file()));
}

/// Precondition of the GPU tests: the plugin is built and reports a usable device.
boost::test_tools::assertion_result gpu_available(utf::test_unit_id) {
    if (plugin_file().empty()) {
        boost::test_tools::assertion_result r(false);
        r.message() << "the cuda plugin is not built (POLYGLOT_CUDA=OFF)";
        return r;
    }
    try {
        auto p = load_cuda();
        boost::test_tools::assertion_result r(p->usable());
        if (!p->usable()) r.message() << "no usable GPU: " << p->unusable_reason();
        return r;
    } catch (const std::exception& e) {
        boost::test_tools::assertion_result r(false);
        r.message() << "the cuda plugin does not load: " << e.what();
        return r;
    }
}

/// Precondition of the plugin-file checks: this build has the cuda plugin (POLYGLOT_CUDA=ON).
/// Without it they are reported as skipped by Boost.Test, with the reason, never passed.
boost::test_tools::assertion_result cuda_plugin_built(utf::test_unit_id) {
    boost::test_tools::assertion_result r(!plugin_file().empty());
    if (plugin_file().empty()) r.message() << "this build has no cuda plugin (POLYGLOT_CUDA=OFF)";
    return r;
}

/// Precondition of the checks of the driver-less behaviour: no NVIDIA driver on this machine.
boost::test_tools::assertion_result no_driver(utf::test_unit_id) {
    boost::test_tools::assertion_result r(!driver_present());
    if (driver_present()) r.message() << "an NVIDIA driver is present on this machine";
    return r;
}

struct run_result {
    int rc = -1;
    std::string output;  // stdout + stderr
};

/// Runs the CLI ($POLYGLOT_CLI) with @p args (shell words), capturing both streams.
run_result run_cli(const std::string& args) {
    const std::string cmd = "'" + polyglot::testing::require_cli() + "' " + args + " 2>&1";
    run_result r;
    FILE* f = ::popen(cmd.c_str(), "r");
    BOOST_REQUIRE(f);
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) r.output.append(buf.data(), n);
    const int st = ::pclose(f);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

fs::path temp_dir() {
    fs::path d = fs::temp_directory_path() / ("polyglot-cuda-test-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

std::string json_string_field(const std::string& text, const std::string& key) {
    const auto p = text.find("\"" + key + "\"");
    if (p == std::string::npos) return {};
    const auto c = text.find(':', p);
    const auto e = text.find_first_of(",}\n", c);
    return text.substr(c + 1, e - c - 1);
}

}  // namespace

// ---- plan.hpp: packing and budgets
// -------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(batching)

BOOST_AUTO_TEST_CASE(packed_offsets_and_positions) {
    const std::vector<std::size_t> lens = {3, 1, 4};
    const auto cu = plan::cu_seqlens(lens);
    const std::vector<std::int32_t> want_cu = {0, 3, 4, 8};
    BOOST_TEST(cu == want_cu, boost::test_tools::per_element());
    const auto pos = plan::positions(cu);
    const std::vector<std::int32_t> want_pos = {0, 1, 2, 0, 0, 1, 2, 3};
    BOOST_TEST(pos == want_pos, boost::test_tools::per_element());
}

/// The token budget spends at most the given fraction of the free memory left after the
/// reserve, and one token more would not fit (a property of the planner, not its formula).
BOOST_AUTO_TEST_CASE(memory_budget_fills_the_fraction_and_no_more) {
    const plan::shape s{2048, 32, 8, 64, 8192, 128256};  // Llama-3.2-1B's config.json
    const std::size_t gib = std::size_t(1) << 30;
    for (std::size_t elem : {2u, 4u}) {
        const std::size_t bpt = plan::bytes_per_token(s, elem);
        // At least the f32 residual, q/k/v and the gate/up pair of one token.
        BOOST_TEST(bpt > s.hidden * 4 + (s.heads + 2 * s.kv_heads) * s.head_dim * elem +
                             2 * s.inter * elem);
        for (std::size_t free_b : {3 * gib, 40 * gib, 80 * gib})
            for (double fraction : {0.5, 0.7}) {
                const std::size_t reserve = 2 * gib;
                const std::size_t n =
                    plan::token_budget(free_b, reserve, bpt, fraction, 1, std::size_t(1) << 40);
                const double usable = double(free_b - reserve) * fraction;
                BOOST_TEST(double(n * bpt) <= usable);
                BOOST_TEST(double((n + 1) * bpt) > usable);
            }
    }
    // Clamped: never below the floor (even without free memory), never above the cap.
    BOOST_TEST(plan::token_budget(gib, 2 * gib, 1000, 0.5, 256, 32768) == 256u);
    BOOST_TEST(plan::token_budget(80 * gib, 0, 100, 1.0, 256, 32768) == 32768u);
}

BOOST_AUTO_TEST_CASE(logit_chunks) {
    BOOST_TEST(plan::logit_rows_per_chunk(262208, std::size_t(256) << 20, 8192) == 255u);
    BOOST_TEST(plan::logit_rows_per_chunk(1000, std::size_t(1) << 30, 8192) == 8192u);
    BOOST_TEST(plan::logit_rows_per_chunk(1 << 20, 16, 8192) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- plan.hpp: attention ------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(attention_plan)

/// Which keys each query of a sequence of @p n tokens sees in one attention layer, observed on
/// the double-precision reference forward pass (runtime/reference_device.hpp, itself checked
/// against transformers' outputs in tests/engine/reference_test.cpp): a one-layer model, token j
/// changed, and every row whose hidden state moved sees j. seen[i][j].
std::vector<std::vector<bool>> observed_mask(int n, bool bidirectional, int window) {
    namespace st = polyglot::runtime::self_test;
    const auto m = st::make_model(
        bidirectional ? st::arch_path::gemma3_bidirectional : st::arch_path::gemma3_sliding_softcap,
        16, polyglot::model::dtype::f32);
    auto cfg = m.config;
    cfg.num_layers = 1;
    cfg.layer_types = {window > 0 ? polyglot::model::attention_kind::sliding
                                  : polyglot::model::attention_kind::full};
    cfg.sliding_window = window;
    const auto ref = polyglot::runtime::reference_device::create(cfg, m.weights);
    std::vector<polyglot::runtime::token_id> ids(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) ids[std::size_t(i)] = polyglot::runtime::token_id(7 + 13 * i);
    const auto base = ref->run(ids);
    const std::size_t d = std::size_t(cfg.hidden_size);
    const auto un = static_cast<std::size_t>(n);
    std::vector<std::vector<bool>> seen(un, std::vector<bool>(un));
    for (int j = 0; j < n; ++j) {
        auto changed = ids;
        changed[std::size_t(j)] = polyglot::runtime::token_id(1000 - j);
        const auto out = ref->run(changed);
        for (int i = 0; i < n; ++i)
            for (std::size_t k = 0; k < d && !seen[std::size_t(i)][std::size_t(j)]; ++k)
                if (out.hidden[std::size_t(i) * d + k] != base.hidden[std::size_t(i) * d + k])
                    seen[std::size_t(i)][std::size_t(j)] = true;
    }
    return seen;
}

BOOST_AUTO_TEST_CASE(tiles_cover_every_query_once) {
    const std::vector<std::size_t> lens = {1, 16, 17, 40};
    const auto cu = plan::cu_seqlens(lens);
    const auto tiles = plan::attention_tiles(cu, 16);
    BOOST_TEST(tiles.size() == 1u + 1u + 2u + 3u);
    std::vector<int> hit(std::size_t(cu.back()), 0);
    for (const auto& t : tiles) {
        const int n = cu[std::size_t(t.seq) + 1] - cu[std::size_t(t.seq)];
        BOOST_TEST(t.q0 < n);
        for (int q = t.q0; q < std::min(n, t.q0 + 16); ++q)
            ++hit[std::size_t(cu[std::size_t(t.seq)] + q)];
    }
    for (int h : hit) BOOST_TEST(h == 1);
}

/// The mask the kernel applies (plan::attends) and the key range of each query tile
/// (plan::keys_for) against what the reference forward pass lets each query see: causal and
/// bidirectional, without and with sliding windows (narrower, equal to and wider than a tile).
BOOST_AUTO_TEST_CASE(mask_and_key_range_match_the_reference_forward_pass) {
    const int n = 40;
    for (bool bidir : {false, true})
        for (int w : {0, 1, 4, 16, 24, 100}) {
            const auto seen = observed_mask(n, bidir, w);
            int visible = 0;
            for (int q0 = 0; q0 < n; q0 += 16) {
                const int q1 = std::min(n, q0 + 16);
                const auto kr = plan::keys_for(q0, q1, n, bidir, w);
                BOOST_TEST(kr.lo >= 0);
                BOOST_TEST(kr.hi <= n);
                for (int i = q0; i < q1; ++i)
                    for (int j = 0; j < n; ++j) {
                        const bool want = seen[std::size_t(i)][std::size_t(j)];
                        visible += want;
                        BOOST_TEST(
                            plan::attends(i, j, bidir, w) == want,
                            "bidir=" << bidir << " window=" << w << " i=" << i << " j=" << j);
                        if (want) BOOST_TEST((j >= kr.lo && j < kr.hi));
                    }
            }
            // The oracle is not vacuous: a causal full mask sees n(n+1)/2 pairs.
            if (!bidir && w == 0) BOOST_TEST(visible == n * (n + 1) / 2);
            if (bidir && w == 0) BOOST_TEST(visible == n * n);
        }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the plugin as a file (no GPU needed) -----------------------------------------------------

BOOST_AUTO_TEST_SUITE(plugin_without_gpu)

BOOST_AUTO_TEST_CASE(loads_and_describes_itself, *utf::precondition(cuda_plugin_built)) {
    BOOST_REQUIRE_MESSAGE(fs::exists(plugin_file()),
                          "POLYGLOT_CUDA is ON but " << plugin_file() << " was not built");
    auto p = load_cuda();
    BOOST_TEST(p->name() == "cuda");
    BOOST_TEST(p->abi_version() == POLYGLOT_PLUGIN_ABI_VERSION);
    BOOST_TEST(p->table().struct_size == sizeof(polyglot_plugin_v1));
    BOOST_TEST(p->caps() == (POLYGLOT_CAP_EMBED | POLYGLOT_CAP_TOKENIZE | POLYGLOT_CAP_SCORE));
    BOOST_TEST(!p->description().empty());
    BOOST_REQUIRE(p->table().get_proc_address);
    BOOST_TEST(p->table().get_proc_address("polyglot_cuda_score_ids_v1") != nullptr);
    BOOST_TEST(p->table().get_proc_address("no_such_extension") == nullptr);
    BOOST_REQUIRE(p->table().unusable_reason);
    BOOST_TEST(p->table().get_proc_address(POLYGLOT_SELF_TEST_PROC) != nullptr);
    const std::string verdict = p->self_test();
    if (p->usable()) {
        BOOST_TEST(p->unusable_reason().empty());
        BOOST_TEST(!p->devices().empty());
        BOOST_TEST(verdict.find("\"status\":\"passed\"") != std::string::npos, verdict);
    } else {
        BOOST_TEST(std::string(p->table().unusable_reason()) == p->unusable_reason());
        if (driver_present()) {
            // A device that failed its self-test: the reason is the verdict, with the numbers.
            BOOST_TEST(verdict.find("\"status\":\"failed\"") != std::string::npos, verdict);
        } else {
            BOOST_TEST(p->devices().empty());
            BOOST_TEST(verdict.find("\"status\":\"skipped\"") != std::string::npos, verdict);
            BOOST_TEST(verdict.find(p->unusable_reason()) != std::string::npos, verdict);
        }
    }
}

BOOST_AUTO_TEST_CASE(unusable_without_a_driver,
                     *utf::precondition(cuda_plugin_built) * utf::precondition(no_driver)) {
    auto p = load_cuda();
    BOOST_TEST(!p->usable());
    BOOST_TEST(p->score() == 0);
    const std::string r = p->unusable_reason();
    BOOST_TEST(r.rfind("no CUDA device: ", 0) == 0u, "reason: " << r);
    BOOST_TEST(r.size() > std::string("no CUDA device: ").size());
    // create() refuses with DEVICE_ERROR and the same reason (no crash, no exception across).
    polyglot_model_t m = nullptr;
    char err[512] = {};
    const std::string cfg = "{\"model\": \"" + fixture("tiny-llama").string() + "\"}";
    const polyglot_status st = p->table().create(cfg.c_str(), &m, err, sizeof err);
    BOOST_TEST(st == POLYGLOT_STATUS_DEVICE_ERROR);
    BOOST_TEST(m == nullptr);
    BOOST_TEST(std::string(err).find(r) != std::string::npos, "error: " << err);
}

BOOST_AUTO_TEST_CASE(cli_backends_backend_cuda_and_auto,
                     *utf::precondition(cuda_plugin_built) * utf::precondition(no_driver)) {
    const std::string dir = fs::path(plugin_file()).parent_path().string();
    const std::string reason = load_cuda()->unusable_reason();

    const auto b = run_cli("backends --plugin-dir '" + dir + "'");
    BOOST_TEST(b.rc == 0);
    BOOST_TEST(b.output.find("- cuda ") != std::string::npos, b.output);
    BOOST_TEST(b.output.find("[unusable: " + reason + "]") != std::string::npos, b.output);
    BOOST_TEST(b.output.find("self-test: skipped: " + reason) != std::string::npos, b.output);
    const auto bj = run_cli("backends --json --plugin-dir '" + dir + "'");
    BOOST_TEST(bj.rc == 0);
    BOOST_TEST(bj.output.find("\"error\": \"" + reason + "\"") != std::string::npos, bj.output);

    const fs::path tmp = temp_dir();
    const fs::path data = tmp / "pairs.jsonl";
    {
        std::ofstream out(data);
        out << "{\"prompt\": \"Iceland\", \"response\": \"Reykjavik is the capital.\"}\n"
               "{\"prompt\": \"Hello\", \"response\": \"Hallo Welt\"}\n";
    }
    const std::string lm = fixture("tiny-llama").string();
    const std::string common = "score '" + data.string() + "' --metrics perplexity --lm '" + lm +
                               "' --plugin-dir '" + dir + "'";
    const auto c = run_cli(common + " --backend cuda -o '" + (tmp / "cuda.json").string() + "'");
    BOOST_TEST(c.rc == 1);
    BOOST_TEST(c.output.find("unusable here: " + reason) != std::string::npos, c.output);
    BOOST_TEST(!fs::exists(tmp / "cuda.json"));

    const auto a = run_cli(common + " --backend auto -o '" + (tmp / "auto.json").string() + "'");
    const auto cpu = run_cli(common + " --backend cpu -o '" + (tmp / "cpu.json").string() + "'");
    BOOST_TEST(cpu.rc == 0, cpu.output);
    BOOST_TEST(a.rc == cpu.rc, a.output);
    if (a.rc == 0 && cpu.rc == 0) {
        auto slurp = [](const fs::path& p) {
            std::ifstream in(p);
            return std::string(std::istreambuf_iterator<char>(in), {});
        };
        const std::string va = json_string_field(slurp(tmp / "auto.json"), "average_perplexity");
        const std::string vc = json_string_field(slurp(tmp / "cpu.json"), "average_perplexity");
        BOOST_TEST(!vc.empty());
        BOOST_TEST(va == vc);  // auto ran on the cpu plugin: identical numbers
    }
    fs::remove_all(tmp);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- GPU parity (label gpu; skipped without a usable device) ------------------------------------

BOOST_AUTO_TEST_SUITE(gpu_parity)

namespace {

using score_ids_fn = polyglot_status (*)(polyglot_model_t, const std::int32_t*,
                                         const std::uint64_t*, const std::uint64_t*, std::uint64_t,
                                         double*);

struct lm_case {
    std::string prompt, response;
    std::vector<std::int32_t> prompt_ids, response_ids;
    std::vector<double> logprobs;
    double mean_nll = 0, perplexity = 0;
};

std::vector<std::int32_t> ints(simdjson::dom::element e) {
    std::vector<std::int32_t> v;
    for (auto x : e.get_array()) v.push_back(std::int32_t(std::int64_t(x.get_int64())));
    return v;
}
std::vector<double> doubles(simdjson::dom::element e) {
    std::vector<double> v;
    for (auto x : e.get_array()) v.push_back(double(x.get_double()));
    return v;
}

std::vector<lm_case> lm_cases(const fs::path& dir) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.load((dir / "expected.json").string());
    std::vector<lm_case> out;
    for (auto c : doc["cases"].get_array()) {
        lm_case k;
        k.prompt = std::string(std::string_view(c["prompt"].get_string()));
        k.response = std::string(std::string_view(c["response"].get_string()));
        k.prompt_ids = ints(c["prompt_ids"]);
        k.response_ids = ints(c["response_ids"]);
        k.logprobs = doubles(c["response_logprobs"]);
        k.mean_nll = double(c["mean_nll"].get_double());
        k.perplexity = double(c["perplexity"].get_double());
        out.push_back(std::move(k));
    }
    return out;
}

/// The scores of the cases' prompt/response texts (the text path: tokenizer, truncation and
/// scoring).
std::vector<polyglot::lm_score> score_texts(polyglot::plugin::model& m,
                                            const std::vector<lm_case>& cases) {
    std::vector<std::string_view> prompts, responses;
    for (const auto& c : cases) {
        prompts.push_back(c.prompt);
        responses.push_back(c.response);
    }
    std::vector<polyglot::lm_score> out(cases.size());
    m.score(prompts, responses, out);
    return out;
}

polyglot::plugin::model open(const fs::path& dir, const std::string& extra = "") {
    const std::string cfg = "{\"model\": \"" + dir.string() + "\"" + extra + "}";
    return load_cuda()->create(cfg);
}

/// Per-token log-probs through the ids extension, compared with expected.json.
void check_lm_f32(const std::string& name) {
    const fs::path dir = fixture(name);
    auto m = open(dir);
    BOOST_TEST(m.info_json().find("\"dtype\": \"f32\"") != std::string::npos, m.info_json());
    // The self-test run at load for this architecture passed, and the report will say so.
    BOOST_TEST(m.info_json().find("\"self_test\": \"passed: ") != std::string::npos, m.info_json());
    const auto cases = lm_cases(dir);
    auto fn = reinterpret_cast<score_ids_fn>(
        m.plugin().table().get_proc_address("polyglot_cuda_score_ids_v1"));
    BOOST_REQUIRE(fn);
    std::vector<std::int32_t> ids;
    std::vector<std::uint64_t> offsets{0}, from;
    for (const auto& c : cases) {
        from.push_back(c.prompt_ids.size());
        ids.insert(ids.end(), c.prompt_ids.begin(), c.prompt_ids.end());
        ids.insert(ids.end(), c.response_ids.begin(), c.response_ids.end());
        offsets.push_back(ids.size());
    }
    std::vector<double> lp(ids.size());
    BOOST_REQUIRE(fn(m.handle(), ids.data(), offsets.data(), from.data(), cases.size(),
                     lp.data()) == POLYGLOT_STATUS_OK);
    double worst = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        const std::size_t f = std::max<std::size_t>(c.prompt_ids.size(), 1);
        const std::size_t skip = f - c.prompt_ids.size();  // response token at position 0
        BOOST_REQUIRE(c.logprobs.size() + skip == c.response_ids.size());
        for (std::size_t t = 0; t < c.logprobs.size(); ++t)
            worst = std::max(worst, std::abs(lp[offsets[i] + f + t] - c.logprobs[t]));
    }
    BOOST_TEST(worst < 1e-4, name << ": max |Δ log-prob| = " << worst);

    // The text path (tokenizer + truncation + scoring) gives the same mean NLL.
    const auto out = score_texts(m, cases);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        BOOST_TEST(out[i].n_scored == cases[i].logprobs.size());
        if (out[i].n_scored > 0)
            BOOST_TEST(std::abs(out[i].sum_nll / out[i].n_scored - cases[i].mean_nll) < 1e-4);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(llama_f32, *utf::label("gpu") * utf::precondition(gpu_available)) {
    check_lm_f32("tiny-llama");
}
BOOST_AUTO_TEST_CASE(qwen3_f32, *utf::label("gpu") * utf::precondition(gpu_available)) {
    check_lm_f32("tiny-qwen3");
}
BOOST_AUTO_TEST_CASE(gemma3_f32, *utf::label("gpu") * utf::precondition(gpu_available)) {
    check_lm_f32("tiny-gemma3");
}

BOOST_AUTO_TEST_CASE(llama_bf16_perplexity_within_1_percent,
                     *utf::label("gpu") * utf::precondition(gpu_available)) {
    const fs::path dir = fixture("tiny-llama-bf16");
    auto m = open(dir);
    BOOST_TEST(m.info_json().find("\"dtype\": \"bf16\"") != std::string::npos, m.info_json());
    const auto cases = lm_cases(dir);
    const auto out = score_texts(m, cases);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        if (out[i].n_scored == 0) continue;
        const double ppl = std::exp(out[i].sum_nll / out[i].n_scored);
        BOOST_TEST(std::abs(ppl / cases[i].perplexity - 1.0) < 0.01,
                   "record " << i << ": " << ppl << " vs " << cases[i].perplexity);
    }
}

BOOST_AUTO_TEST_CASE(llama_pooled_embeddings,
                     *utf::label("gpu") * utf::precondition(gpu_available)) {
    const fs::path dir = fixture("tiny-llama");
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.load((dir / "expected.json").string());
    for (const char* mode : {"mean", "last"}) {
        auto m = open(dir, std::string(", \"pooling\": \"") + mode + "\"");
        const std::uint32_t d = m.dim();
        double worst = 0;
        for (auto e : doc["embeddings"].get_array()) {
            const std::string text(std::string_view(e["text"].get_string()));
            const auto want =
                doubles(e[std::string(mode) == "mean" ? "mean_pooled" : "last_token"]);
            BOOST_REQUIRE(want.size() == d);
            std::vector<float> got(d);
            const std::string_view tv = text;
            m.embed(std::span<const std::string_view>(&tv, 1), got.data());
            for (std::uint32_t i = 0; i < d; ++i)
                worst = std::max(worst, std::abs(double(got[i]) - want[i]));
        }
        BOOST_TEST(worst < 1e-4, mode << ": max |Δ| = " << worst);
    }
}

BOOST_AUTO_TEST_CASE(embeddinggemma_pipeline,
                     *utf::label("gpu") * utf::precondition(gpu_available)) {
    const fs::path dir = fixture("tiny-embeddinggemma");
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.load((dir / "expected.json").string());
    std::vector<std::string> texts;
    for (auto t : doc["texts"].get_array()) texts.emplace_back(std::string_view(t.get_string()));
    std::vector<std::vector<double>> want;
    for (auto e : doc["embeddings"].get_array()) want.push_back(doubles(e));
    auto m = open(dir);
    const std::uint32_t d = m.dim();
    BOOST_REQUIRE(want.size() == texts.size());
    BOOST_REQUIRE(want[0].size() == d);
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<float> got(texts.size() * d);
    m.embed(views, got.data());
    double worst = 0;
    for (std::size_t i = 0; i < texts.size(); ++i)
        for (std::uint32_t k = 0; k < d; ++k)
            worst = std::max(worst, std::abs(double(got[i * d + k]) - want[i][k]));
    BOOST_TEST(worst < 1e-4, "max |Δ| = " << worst);
}

BOOST_AUTO_TEST_SUITE_END()
