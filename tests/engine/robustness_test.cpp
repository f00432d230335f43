// SPDX-License-Identifier: Apache-2.0
// Batch invariance, thread-count invariance, sharded checkpoints and corrupted model files.
#define BOOST_TEST_MODULE engine_robustness
#include <oneapi/tbb/task_arena.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <polyglot/core/error.hpp>
#include <sstream>

#include "common/safetensors.hpp"
#include "cpu_runtime.hpp"
#include "fixtures.hpp"

using namespace engine_test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> texts_of(const fs::path& dir, const char* field) {
    polyglot::model::json_document doc(dir / "expected.json");
    simdjson::dom::array cases = doc.root()["cases"].get_array();
    std::vector<std::string> out;
    for (auto c : cases) out.push_back(str_of(c, field));
    return out;
}

/// A scratch copy of a fixture directory, removed at the end of the test.
struct scratch {
    fs::path dir;
    explicit scratch(const std::string& fixture_name) {
        dir = fs::temp_directory_path() /
              ("polyglot_engine_" + fixture_name + "_" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::copy(fixture(fixture_name), dir, fs::copy_options::recursive);
        for (auto& e : fs::recursive_directory_iterator(dir))
            fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    }
    ~scratch() { fs::remove_all(dir); }
    std::string read(const std::string& name) const {
        std::ifstream in(dir / name, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    void write(const std::string& name, const std::string& content) const {
        std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << content;
    }
};

/// Expects @p f to throw E whose message contains every one of @p parts.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        BOOST_FAIL("no error");
    } catch (const E& e) {
        const std::string msg = e.what();
        BOOST_TEST_MESSAGE(msg);
        for (auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, msg << " lacks " << p);
    }
}

}  // namespace

// On every vector path the CPU has: each path has its own rounding, and each must be exact
// across batches, thread counts and pass sizes.
BOOST_AUTO_TEST_CASE(batch_and_thread_invariance) {
    on_every_path([] {
        for (std::string name : {"tiny-llama", "tiny-llama-bf16", "tiny-gemma3", "tiny-qwen3"}) {
            auto dir = fixture(name);
            auto rt = open_cpu(dir, {.pooling = "", .pass_tokens = 100000});
            auto ps = texts_of(dir, "prompt"), rs = texts_of(dir, "response");
            // 32 records of mixed lengths: the cases, then concatenations of them.
            std::vector<std::string> P, R;
            for (std::size_t i = 0; i < 32; ++i) {
                P.push_back(ps[i % ps.size()] +
                            (i >= ps.size() ? " " + ps[(i * 7) % ps.size()] : ""));
                R.push_back(rs[i % rs.size()] + std::string(i % 3, '!'));
            }
            std::vector<std::string_view> pv(P.begin(), P.end()), rv(R.begin(), R.end());
            auto batch = rt->score(pv, rv, {}, true);
            std::vector<float> emb_batch(32 * rt->dim());
            rt->embed(rv, emb_batch.data());
            for (std::size_t i : {0, 5, 17, 31}) {
                auto alone =
                    rt->score(std::span(pv).subspan(i, 1), std::span(rv).subspan(i, 1), {}, true);
                BOOST_TEST_CONTEXT(name << " record " << i) {
                    BOOST_TEST(alone[0].logprobs == batch[i].logprobs,
                               boost::test_tools::per_element());
                    BOOST_TEST(alone[0].sum_nll == batch[i].sum_nll);
                    std::vector<float> e(rt->dim());
                    rt->embed(std::span(rv).subspan(i, 1), e.data());
                    BOOST_TEST(std::memcmp(e.data(), emb_batch.data() + i * rt->dim(),
                                           e.size() * sizeof(float)) == 0);
                }
            }
            // Thread counts and small forward passes (batch_tokens) give identical values.
            for (std::size_t threads : {1, 2}) {
                auto small = open_cpu(dir, {.pooling = "", .pass_tokens = 40}, threads);
                auto res = small->score(pv, rv, {}, true);
                for (std::size_t i = 0; i < res.size(); ++i)
                    BOOST_TEST_CONTEXT(name << " threads " << threads << " record " << i) {
                        BOOST_TEST(res[i].logprobs == batch[i].logprobs,
                                   boost::test_tools::per_element());
                    }
            }
        }
    });
}

namespace {

/// Log-probs of ids[from..] given their prefix, from the runtime's SCORE_IDS (token ids in, no
/// text and no truncation): the oracle for what score() must return once it has truncated.
std::vector<float> net_logprobs(rt::lm_runtime& r, const std::vector<std::uint32_t>& ids,
                                std::size_t from) {
    const std::vector<std::int32_t> seq(ids.begin(), ids.end());
    std::vector<float> lp(ids.size(), 0.0f);
    const std::span<const std::int32_t> seqs[] = {seq};
    const std::size_t froms[] = {from};
    float* const outs[] = {lp.data()};
    r.score_ids(seqs, froms, outs, {});
    return std::vector<float>(lp.begin() + std::ptrdiff_t(std::max<std::size_t>(from, 1)),
                              lp.end());
}

/// max |a[i] − b[i]|; infinity when the sizes differ.
double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
    return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(truncation_keeps_bos_and_counts) {
    for (std::string name : {"tiny-llama", "tiny-gemma3"}) {
        BOOST_TEST_CONTEXT(name) {
            const auto dir = fixture(name);
            const auto declared = declared_bos_id(dir);
            BOOST_REQUIRE(declared.has_value());
            const std::uint32_t bos = *declared;
            // expected.json case 1: 14 prompt ids (BOS first, as transformers adds it) and 13
            // response ids.
            polyglot::model::json_document doc(dir / "expected.json");
            simdjson::dom::array cases = doc.root()["cases"].get_array();
            auto c = cases.at(1).value();
            const auto pids = ids_of(c["prompt_ids"]), rids = ids_of(c["response_ids"]);
            BOOST_REQUIRE(pids.size() == 14u);
            BOOST_REQUIRE(rids.size() == 13u);
            BOOST_TEST(pids[0] == bos);
            const std::string prompt = str_of(c, "prompt"), response = str_of(c, "response");
            std::vector<std::string_view> p{prompt}, r{response};

            // score() with max_tokens = @p max must keep @p kept (BOS + the prompt's tail +
            // the response's head) and give the network's log-probs of exactly those ids.
            auto truncated = [&](std::size_t max, std::vector<std::uint32_t> kept,
                                 std::size_t prompt_tokens) {
                auto run = open_cpu(dir, {.pooling = "", .max_tokens = max});
                auto res = run->score(p, r, {}, true)[0];
                BOOST_TEST(res.truncated);
                BOOST_TEST(res.prompt_tokens == prompt_tokens);
                BOOST_TEST(res.response_tokens == kept.size() - prompt_tokens);
                BOOST_TEST(res.n_scored == kept.size() - prompt_tokens);
                // score_ids runs another path (shared prefixes, KV cache): float rounding only.
                BOOST_TEST(max_diff(res.logprobs, net_logprobs(*run, kept, prompt_tokens)) <= 2e-5);
                return std::pair(std::move(run), res.logprobs);
            };
            // 16 tokens: BOS, the last 2 prompt tokens, all 13 response tokens.
            std::vector<std::uint32_t> want{bos, pids[12], pids[13]};
            want.insert(want.end(), rids.begin(), rids.end());
            auto [rt16, lp16] = truncated(16, want, 3);
            // Dropping BOS instead would give other values (the check can fail).
            std::vector<std::uint32_t> no_bos{pids[11], pids[12], pids[13]};
            no_bos.insert(no_bos.end(), rids.begin(), rids.end());
            BOOST_TEST(max_diff(lp16, net_logprobs(*rt16, no_bos, 3)) > 1e-2);
            // 8 tokens: BOS is all that is left of the prompt; the response loses its tail.
            std::vector<std::uint32_t> want8{bos};
            want8.insert(want8.end(), rids.begin(), rids.begin() + 7);
            auto [rt8, lp8] = truncated(8, want8, 1);

            // An empty prompt is just BOS (expected.json's last case: prompt_ids == [BOS]).
            std::vector<std::string_view> e{""};
            auto empty = rt8->score(e, e, {}, true)[0];
            BOOST_TEST(empty.n_scored == 0u);
            BOOST_TEST(empty.prompt_tokens == 1u);
            simdjson::dom::array all = doc.root()["cases"].get_array();
            const auto last = ids_of(all.at(all.size() - 1).value()["prompt_ids"]);
            BOOST_TEST(last == std::vector<std::uint32_t>{bos}, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(sharded_checkpoint_equals_single_file) {
    scratch s("tiny-llama");
    // Split model.safetensors into two shards + index, by hand (the format is tiny).
    const std::string blob = s.read("model.safetensors");
    polyglot::model::safetensors_file f(s.dir / "model.safetensors");
    std::vector<std::string> names;
    for (auto& [n, t] : f.tensors()) names.push_back(n);
    std::string index = R"({"metadata": {}, "weight_map": {)";
    for (int shard = 0; shard < 2; ++shard) {
        std::string header = "{", data;
        bool first = true;
        for (std::size_t i = shard; i < names.size(); i += 2) {
            const auto& t = f.tensors().at(names[i]);
            std::string shape;
            for (auto d : t.shape) {
                if (!shape.empty()) shape += ',';
                shape += std::to_string(d);
            }
            header += std::string(first ? "" : ",") + "\"" + names[i] + "\":{\"dtype\":\"F32\"," +
                      "\"shape\":[" + shape + "],\"data_offsets\":[" + std::to_string(data.size()) +
                      "," + std::to_string(data.size() + t.nbytes) + "]}";
            data.append(reinterpret_cast<const char*>(t.data), t.nbytes);
            first = false;
            index += std::string(index.back() == '{' ? "" : ",") + "\"" + names[i] +
                     "\": \"model-0000" + std::to_string(shard + 1) + "-of-00002.safetensors\"";
        }
        header += "}";
        std::string file(8, '\0');
        std::uint64_t n = header.size();
        std::memcpy(file.data(), &n, 8);
        s.write("model-0000" + std::to_string(shard + 1) + "-of-00002.safetensors",
                file + header + data);
    }
    s.write("model.safetensors.index.json", index + "}}");
    fs::remove(s.dir / "model.safetensors");
    auto sharded = open_cpu(s.dir, {.pooling = "", .need_lm_head = true});
    auto single = open_cpu(fixture("tiny-llama"), {.pooling = "", .need_lm_head = true});
    std::vector<std::string_view> p{"Iceland"}, r{"Island"};
    BOOST_TEST(
        sharded->score(p, r, {}, true)[0].logprobs == single->score(p, r, {}, true)[0].logprobs,
        boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(corrupted_files_name_the_file) {
    using polyglot::format_error;
    using polyglot::unsupported_error;
    auto open = [](const fs::path& d) {
        return [d] { (void)open_cpu(d, {.pooling = "", .need_lm_head = true}); };
    };
    {  // truncated safetensors
        scratch s("tiny-llama");
        auto blob = s.read("model.safetensors");
        s.write("model.safetensors", blob.substr(0, blob.size() / 2));
        expect_error<format_error>(open(s.dir),
                                   {(s.dir / "model.safetensors").string(), "truncated"});
        s.write("model.safetensors", blob.substr(0, 5));
        expect_error<format_error>(open(s.dir), {(s.dir / "model.safetensors").string()});
    }
    {  // header shape disagrees with the byte size
        scratch s("tiny-llama");
        auto blob = s.read("model.safetensors");
        auto at = blob.find("\"model.norm.weight\"");
        BOOST_REQUIRE(at != std::string::npos);
        auto sh = blob.find("[64]", at);
        BOOST_REQUIRE(sh != std::string::npos);
        blob.replace(sh, 4, "[65]");
        s.write("model.safetensors", blob);
        expect_error<format_error>(open(s.dir),
                                   {"model.safetensors", "model.norm.weight", "needs"});
    }
    {  // a missing tensor
        scratch s("tiny-llama");
        auto blob = s.read("model.safetensors");
        auto at = blob.find("\"model.layers.1.mlp.up_proj.weight\"");
        BOOST_REQUIRE(at != std::string::npos);
        blob[at + 20] = 'X';  // model.layers.1.mlp.Xp_proj.weight
        s.write("model.safetensors", blob);
        expect_error<format_error>(open(s.dir),
                                   {s.dir.string(), "model.layers.1.mlp.up_proj.weight"});
    }
    {  // config shape disagrees with the weights
        scratch s("tiny-llama");
        auto cfg = s.read("config.json");
        cfg.replace(cfg.find("\"intermediate_size\": 128"), 24, "\"intermediate_size\": 256");
        s.write("config.json", cfg);
        expect_error<format_error>(open(s.dir), {"model.safetensors", "gate_proj", "[256, 64]"});
    }
    {  // unknown architecture
        scratch s("tiny-llama");
        auto cfg = s.read("config.json");
        cfg.replace(cfg.find("\"model_type\": \"llama\""), 21, "\"model_type\": \"bert\"");
        s.write("config.json", cfg);
        expect_error<unsupported_error>(open(s.dir), {(s.dir / "config.json").string(), "bert"});
    }
    {  // tokenizer.json of an unsupported model type
        scratch s("tiny-qwen3");
        auto tok = s.read("tokenizer.json");
        auto at = tok.find("\"type\": \"BPE\"");
        BOOST_REQUIRE(at != std::string::npos);
        tok.replace(at, 13, "\"type\": \"Morfessor\"");  // (Unigram and WordPiece are supported)
        s.write("tokenizer.json", tok);
        expect_error<unsupported_error>(open(s.dir),
                                        {(s.dir / "tokenizer.json").string(), "Morfessor"});
    }
    {  // malformed config.json
        scratch s("tiny-gemma3");
        s.write("config.json", "{\"model_type\": ");
        expect_error<format_error>(open(s.dir), {(s.dir / "config.json").string()});
    }
}

BOOST_AUTO_TEST_CASE(module_paths_stay_inside_the_model_directory) {
    using polyglot::format_error;
    scratch s("tiny-embeddinggemma");
    const fs::path modules = s.dir / "modules.json";
    const std::string orig = s.read("modules.json");
    auto with_dense_path = [&](const std::string& path) {
        std::string m = orig;
        m.replace(m.find("\"2_Dense\""), 9, "\"" + path + "\"");
        s.write("modules.json", m);
    };
    auto open = [&] { return open_cpu(s.dir, {.pooling = ""}); };
    const fs::path outside =
        fs::temp_directory_path() / ("polyglot_engine_outside_" + std::to_string(::getpid()));
    fs::remove_all(outside);
    fs::copy(s.dir / "2_Dense", outside, fs::copy_options::recursive);
    const std::string out_name = outside.filename().string();
    // An absolute path, "..", and ".." behind a real directory.
    for (const std::string& p : {outside.string(), "../" + out_name, "2_Dense/../../" + out_name}) {
        with_dense_path(p);
        expect_error<format_error>([&] { (void)open(); },
                                   {modules.string(), "'" + p + "'", "model directory"});
    }
    // A symlinked module directory that leads out of the model directory.
    fs::create_directory_symlink(outside, s.dir / "escape");
    with_dense_path("escape");
    expect_error<format_error>([&] { (void)open(); },
                               {modules.string(), "'escape'", "outside the model directory"});
    // Symlinks that stay inside are fine, and so are symlinked files inside a module directory
    // (the Hugging Face cache links every file to its blob store): same embeddings as before.
    const std::vector<std::string_view> texts{"Iceland", "Grüße aus Berlin"};
    std::vector<float> want(2 * 64), got(2 * 64);
    s.write("modules.json", orig);
    open()->embed(texts, want.data());
    fs::create_directory_symlink("2_Dense", s.dir / "dense_link");
    with_dense_path("dense_link");
    fs::remove(s.dir / "3_Dense" / "model.safetensors");
    fs::copy_file(fixture("tiny-embeddinggemma") / "3_Dense" / "model.safetensors",
                  outside / "blob.safetensors");
    fs::create_symlink(outside / "blob.safetensors", s.dir / "3_Dense" / "model.safetensors");
    auto rt = open();
    BOOST_REQUIRE_EQUAL(rt->dim(), 64u);
    rt->embed(texts, got.data());
    BOOST_TEST(got == want, boost::test_tools::per_element());
    fs::remove_all(outside);
}

BOOST_AUTO_TEST_CASE(sentence_transformers_files_name_the_file) {
    using polyglot::format_error;
    using polyglot::unsupported_error;
    auto open = [](const fs::path& d) { return [d] { (void)open_cpu(d, {.pooling = ""}); }; };
    {
        scratch s("tiny-embeddinggemma");
        s.write("modules.json", "[{\"path\": ");
        expect_error<format_error>(open(s.dir), {(s.dir / "modules.json").string(), "malformed"});
        s.write("modules.json", "{\"not\": \"a list\"}");
        expect_error<format_error>(open(s.dir), {(s.dir / "modules.json").string(), "array"});
    }
    {
        scratch s("tiny-embeddinggemma");
        s.write("1_Pooling/config.json", "{\"pooling_mode_mean_tokens\": tru");
        expect_error<format_error>(open(s.dir), {(s.dir / "1_Pooling/config.json").string()});
        s.write("1_Pooling/config.json", "{\"pooling_mode\": \"weird\"}");
        expect_error<unsupported_error>(open(s.dir),
                                        {(s.dir / "1_Pooling/config.json").string(), "weird"});
    }
    {
        scratch s("tiny-embeddinggemma");
        auto cfg = s.read("2_Dense/config.json");
        const std::string identity = "torch.nn.modules.linear.Identity";
        auto at = cfg.find(identity);
        BOOST_REQUIRE(at != std::string::npos);
        cfg.replace(at, identity.size(), "torch.nn.modules.activation.ReLU");
        s.write("2_Dense/config.json", cfg);
        expect_error<unsupported_error>(open(s.dir),
                                        {(s.dir / "2_Dense/config.json").string(), "ReLU"});
    }
    {
        scratch s("tiny-embeddinggemma");
        auto blob = s.read("3_Dense/model.safetensors");
        s.write("3_Dense/model.safetensors", blob.substr(0, blob.size() - 7));
        expect_error<format_error>(open(s.dir),
                                   {(s.dir / "3_Dense/model.safetensors").string(), "truncated"});
    }
}
