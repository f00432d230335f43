// SPDX-License-Identifier: Apache-2.0
// Batch invariance, thread-count invariance, sharded checkpoints and corrupted model files.
#define BOOST_TEST_MODULE engine_robustness
#include <oneapi/tbb/task_arena.h>

#include <cstring>
#include <fstream>
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

BOOST_AUTO_TEST_CASE(batch_and_thread_invariance) {
    for (std::string name : {"tiny-llama", "tiny-gemma3", "tiny-qwen3"}) {
        auto dir = fixture(name);
        auto rt = open_cpu(dir, {.pooling = "", .pass_tokens = 100000});
        auto ps = texts_of(dir, "prompt"), rs = texts_of(dir, "response");
        // 32 records of mixed lengths: the cases, then concatenations of them.
        std::vector<std::string> P, R;
        for (std::size_t i = 0; i < 32; ++i) {
            P.push_back(ps[i % ps.size()] + (i >= ps.size() ? " " + ps[(i * 7) % ps.size()] : ""));
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
}

BOOST_AUTO_TEST_CASE(truncation_keeps_bos_and_counts) {
    auto rt = open_cpu(fixture("tiny-llama"), {.pooling = "", .max_tokens = 8});
    std::vector<std::string_view> p{"a long prompt that surely has more than eight tokens"},
        r{"and a response"};
    auto res = rt->score(p, r, {}, true);
    BOOST_TEST(res[0].truncated);
    BOOST_TEST(res[0].prompt_tokens + res[0].response_tokens == 8u);
    BOOST_TEST(res[0].n_scored == res[0].response_tokens);
    std::vector<std::string_view> e{""};
    auto empty = rt->score(e, e, {}, true);
    BOOST_TEST(empty[0].n_scored == 0u);
    BOOST_TEST(empty[0].prompt_tokens == 1u);  // BOS
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
