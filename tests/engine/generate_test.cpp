// SPDX-License-Identifier: Apache-2.0
// GENERATE on the shared runtime over the cpu engine (KV cache, continuous batching):
//  - greedy decoding reproduces Hugging Face's greedy continuations (expected.json
//    `generation.greedy_ids`) exactly, alone and inside a batch of 32 mixed-length prompts,
//    with 1 and 2 threads, small forward passes (prefill chunks mixed with decode steps) and a
//    KV budget small enough to force preemption;
//  - the log-probs reported while decoding equal full recomputation by score_ids within 1e-5
//    (in fact bit for bit), and the uncached forward pass that text SCORE uses (GEMM attention,
//    another summation order) within 5e-5, for >= 50 sampled continuations of mixed lengths
//    per model;
//  - seeded sampling is reproducible alone, in a batch, across thread counts and call splits,
//    and differs between seeds; splitmix64 matches its published test vector;
//  - stop strings that span two tokens stop at the right byte; bad input gives clear errors
//    or counted item failures.
#define BOOST_TEST_MODULE engine_generate
#include <fstream>
#include <polyglot/core/error.hpp>
#include <random>
#include <set>

#include "common/runtime/sampler.hpp"
#include "cpu_runtime.hpp"
#include "fixtures.hpp"

using namespace engine_test;
namespace fs = std::filesystem;

namespace {

using ids_t = std::vector<std::uint32_t>;

const char* const lms[] = {"tiny-llama", "tiny-llama-bf16", "tiny-qwen3", "tiny-gemma3"};

struct gen_fixture {
    std::vector<ids_t> prompts;  // HF's generation prompts
    std::vector<ids_t> greedy;   // HF's greedy continuations
    std::vector<ids_t> others;   // prompt + response ids of the scoring cases
};

gen_fixture load(const fs::path& dir) {
    polyglot::model::json_document doc(dir / "expected.json");
    gen_fixture f;
    simdjson::dom::array gens = doc.root()["generation"].get_array();
    for (auto g : gens) {
        f.prompts.push_back(ids_of(g["prompt_ids"]));
        f.greedy.push_back(ids_of(g["greedy_ids"]));
    }
    simdjson::dom::array cases = doc.root()["cases"].get_array();
    for (auto c : cases) {
        auto q = ids_of(c["prompt_ids"]);
        auto r = ids_of(c["response_ids"]);
        q.insert(q.end(), r.begin(), r.end());
        f.others.push_back(q);
    }
    return f;
}

/// 32 prompts of mixed lengths: HF's generation prompts at 0, 13 and 31, the scoring cases'
/// ids cut to varied lengths (1 .. 90 tokens) elsewhere.
std::vector<ids_t> batch32(const gen_fixture& f) {
    std::vector<ids_t> b;
    for (std::size_t i = 0; i < 32; ++i) {
        if (i == 0 || i == 13 || i == 31) {
            b.push_back(f.prompts[i == 0 ? 0 : i == 13 ? 1 : 2]);
            continue;
        }
        ids_t q = f.others[i % f.others.size()];
        const std::size_t len = std::min<std::size_t>(q.size(), 1 + (i * 37) % 90);
        q.resize(std::max<std::size_t>(len, 1));
        b.push_back(q);
    }
    return b;
}

bool same(const std::vector<rt::generated>& a, const std::vector<rt::generated>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].ids != b[i].ids || a[i].text != b[i].text ||
            a[i].finish_reason != b[i].finish_reason || a[i].logprobs != b[i].logprobs)
            return false;
    return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(splitmix64_test_vector) {
    // splitmix64 from state 0 (Vigna's reference implementation): the first outputs.
    std::uint64_t state = 0;
    auto next = [&] {
        state += rt::splitmix64::golden;
        return rt::splitmix64::mix(state);
    };
    BOOST_TEST(next() == 0xE220A8397B1DCDAFull);
    BOOST_TEST(next() == 0x6E789E6AA1B965F4ull);
    BOOST_TEST(next() == 0x06C45D188009454Full);
    rt::splitmix64 a(42, 7), b(42, 7), c(42, 8);
    const double u = a.uniform();
    BOOST_TEST(u == b.uniform());
    BOOST_TEST(u != c.uniform());
    BOOST_TEST((u >= 0.0 && u < 1.0));
}

BOOST_AUTO_TEST_CASE(greedy_reproduces_transformers_alone_and_in_a_batch) {
    for (const char* name : lms) {
        const auto dir = fixture(name);
        const auto f = load(dir);
        rt::generate_options o;
        o.max_new_tokens = 8;  // what HF generated
        std::vector<rt::generated> reference;
        struct config {
            std::size_t threads, pass_tokens, kv_tokens;
        };
        // Default passes; 1 and 2 threads; passes of 7 tokens (chunked prefill mixed with
        // decode steps); a KV budget of 128 tokens (sequences are preempted and recomputed).
        for (const config& c : {config{1, 0, 0}, config{2, 0, 0}, config{2, 7, 0},
                                config{1, 7, 128}, config{2, 64, 160}}) {
            auto r = open_cpu(
                dir, {.pooling = "", .pass_tokens = c.pass_tokens, .kv_tokens = c.kv_tokens},
                c.threads);
            BOOST_TEST_CONTEXT(name << " threads " << c.threads << " pass_tokens " << c.pass_tokens
                                    << " kv_tokens " << c.kv_tokens) {
                for (std::size_t k = 0; k < f.prompts.size(); ++k) {
                    const std::vector<ids_t> one{f.prompts[k]};
                    const auto g = r->generate(one, o);
                    BOOST_TEST(g[0].ids == f.greedy[k], boost::test_tools::per_element());
                    BOOST_TEST(g[0].finish_reason == POLYGLOT_FINISH_LENGTH);
                    BOOST_TEST(g[0].prompt_tokens == f.prompts[k].size());
                }
                const auto b = batch32(f);
                auto all = r->generate(b, o);
                BOOST_REQUIRE_EQUAL(all.size(), 32u);
                BOOST_TEST(all[0].ids == f.greedy[0], boost::test_tools::per_element());
                BOOST_TEST(all[13].ids == f.greedy[1], boost::test_tools::per_element());
                BOOST_TEST(all[31].ids == f.greedy[2], boost::test_tools::per_element());
                if (reference.empty())
                    reference = all;
                else
                    BOOST_TEST(same(all, reference), "the batch differs from the first config");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(kv_cache_logprobs_equal_full_recomputation) {
    for (const char* name : lms) {
        const auto dir = fixture(name);
        const auto f = load(dir);
        auto r = open_cpu(dir, {.pooling = "", .pass_tokens = 48});
        std::vector<ids_t> prompts;
        for (std::size_t k = 0; k < f.others.size(); ++k) {
            ids_t q = f.others[k];
            q.resize(std::min<std::size_t>(q.size(), 3 + (k * 11) % 40));
            prompts.push_back(q);
        }
        std::size_t checked = 0, tokens = 0;
        double worst_ids = 0, worst_full = 0;
        for (std::uint32_t max_new : {3u, 17u, 41u}) {
            rt::generate_options o;
            o.max_new_tokens = max_new;
            o.sampling.temperature = 1.0f;
            o.seed = 1234 + max_new;
            o.logprobs = true;
            o.ignore_eos = max_new == 41;
            const auto g = r->generate(prompts, o);
            std::vector<ids_t> full(prompts.size());
            std::vector<std::vector<std::int32_t>> seqs(prompts.size());
            std::vector<std::span<const std::int32_t>> views;
            std::vector<std::size_t> from;
            std::vector<std::vector<float>> lp(prompts.size());
            std::vector<float*> lpp;
            for (std::size_t i = 0; i < prompts.size(); ++i) {
                BOOST_REQUIRE(!g[i].failed);
                BOOST_REQUIRE_EQUAL(g[i].logprobs.size(), g[i].ids.size());
                full[i] = prompts[i];
                full[i].insert(full[i].end(), g[i].ids.begin(), g[i].ids.end());
                seqs[i].assign(full[i].begin(), full[i].end());
                lp[i].assign(full[i].size(), std::nanf(""));
            }
            for (std::size_t i = 0; i < prompts.size(); ++i) {
                views.push_back(seqs[i]);
                from.push_back(prompts[i].size());
                lpp.push_back(lp[i].data());
            }
            r->score_ids(views, from, lpp, {});
            for (std::size_t i = 0; i < prompts.size(); ++i) {
                // The uncached forward pass (SCORE's path) over the whole sequence.
                std::vector<float> ref(full[i].size(), std::nanf(""));
                std::vector<rt::output_request> outs;
                for (std::size_t p = prompts[i].size(); p < full[i].size(); ++p) {
                    rt::output_request q;
                    q.row = std::uint32_t(p - 1);
                    q.target = std::int32_t(full[i][p]);
                    q.logprob = &ref[p];
                    outs.push_back(q);
                }
                rt::forward_seq s;
                s.ids = full[i];
                s.outputs = outs;
                r->device().forward(std::span<const rt::forward_seq>(&s, 1));
                for (std::size_t j = 0; j < g[i].ids.size(); ++j) {
                    const std::size_t p = prompts[i].size() + j;
                    const double a = g[i].logprobs[j];
                    worst_ids = std::max(worst_ids, std::abs(a - lp[i][p]));
                    worst_full = std::max(worst_full, std::abs(a - ref[p]));
                    BOOST_TEST(std::abs(a - lp[i][p]) <= 1e-5,
                               name << " seq " << i << " pos " << p);
                    // The uncached pass attends with GEMMs (another summation order): 5e-5.
                    BOOST_TEST(std::abs(a - ref[p]) <= 5e-5, name << " seq " << i << " pos " << p);
                }
                ++checked;
                tokens += g[i].ids.size();
            }
        }
        BOOST_TEST(checked >= 50u);
        BOOST_TEST_MESSAGE(name << ": " << checked << " continuations, " << tokens
                                << " tokens; max |Δ| vs score_ids " << worst_ids
                                << ", vs uncached forward " << worst_full);
    }
}

BOOST_AUTO_TEST_CASE(seeded_sampling_is_reproducible) {
    for (const char* name : {"tiny-llama", "tiny-gemma3"}) {
        const auto dir = fixture(name);
        const auto f = load(dir);
        const auto b = batch32(f);
        rt::generate_options o;
        o.max_new_tokens = 12;
        o.sampling = {.temperature = 0.8f,
                      .top_k = 50,
                      .top_p = 0.9f,
                      .min_p = 0.02f,
                      .repetition_penalty = 1.1f};
        o.seed = 7;
        auto r1 = open_cpu(dir, {}, 1);
        auto r2 = open_cpu(dir, {.pooling = "", .pass_tokens = 9, .kv_tokens = 160}, 2);
        const auto all = r1->generate(b, o);
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(same(all, r2->generate(b, o)));
            // Alone, with first_index naming the job-wide position.
            for (std::size_t i : {0, 5, 31}) {
                auto oi = o;
                oi.first_index = i;
                const std::vector<ids_t> one{b[i]};
                const auto g = r2->generate(one, oi);
                BOOST_TEST(g[0].ids == all[i].ids, boost::test_tools::per_element());
                BOOST_TEST(g[0].text == all[i].text);
            }
            // A job split into two calls.
            auto o2 = o;
            o2.first_index = 16;
            const std::vector<ids_t> head(b.begin(), b.begin() + 16), tail(b.begin() + 16, b.end());
            auto h = r1->generate(head, o), t = r1->generate(tail, o2);
            h.insert(h.end(), t.begin(), t.end());
            BOOST_TEST(same(h, all));
            // Another seed gives other text.
            auto o3 = o;
            o3.seed = 8;
            const auto other = r1->generate(b, o3);
            std::size_t differ = 0;
            for (std::size_t i = 0; i < 32; ++i) differ += other[i].ids != all[i].ids;
            BOOST_TEST(differ >= 16u, differ << " of 32 sequences differ between seeds 7 and 8");
        }
    }
}

BOOST_AUTO_TEST_CASE(stop_string_spanning_two_tokens) {
    const std::string fffd = "\xEF\xBF\xBD";
    auto ends_with = [](const std::string& s, const std::string& t) {
        return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
    };
    // Byte length of the last / first UTF-8 character of a valid string.
    auto last_char = [](const std::string& s) {
        std::size_t n = 1;
        while (n < s.size() && (static_cast<unsigned char>(s[s.size() - n]) & 0xC0) == 0x80) ++n;
        return n;
    };
    auto first_char = [](const std::string& s) {
        std::size_t n = 1;
        while (n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) ++n;
        return n;
    };
    for (const char* name : {"tiny-llama", "tiny-gemma3", "tiny-qwen3"}) {
        const auto dir = fixture(name);
        const auto f = load(dir);
        auto r = open_cpu(dir);
        rt::generate_options o;
        o.max_new_tokens = 32;
        o.ignore_eos = true;
        o.sampling.temperature = 1.0f;
        o.seed = 3;
        const std::vector<ids_t> one{f.prompts[0]};
        const auto g = r->generate(one, o)[0];
        // Tokens k-1 and k (0-based) with complete text; the stop string is the last character
        // of token k-1's text and the first character of token k's.
        bool found = false;
        for (std::size_t k = 1; k < g.ids.size() && !found; ++k) {
            const std::string a =
                r->detokenize(ids_t(g.ids.begin(), g.ids.begin() + std::ptrdiff_t(k)), true);
            const std::string b =
                r->detokenize(ids_t(g.ids.begin(), g.ids.begin() + std::ptrdiff_t(k + 1)), true);
            if (a.empty() || b.size() <= a.size() || b.compare(0, a.size(), a) != 0) continue;
            if (ends_with(a, fffd) || b.find(fffd, a.size()) != std::string::npos) continue;
            if (g.text.compare(0, b.size(), b) != 0) continue;
            const std::size_t la = last_char(a);
            const std::string stop =
                a.substr(a.size() - la) + b.substr(a.size(), first_char(b.substr(a.size())));
            if (g.text.find(stop) != a.size() - la) continue;  // occurs earlier
            auto os = o;
            os.stop = {"never-occurs-" + stop, stop};
            const auto s = r->generate(one, os)[0];
            BOOST_TEST_CONTEXT(name << " stop '" << stop << "' completed by token " << k) {
                BOOST_TEST(s.finish_reason == POLYGLOT_FINISH_STOP);
                BOOST_TEST(s.text == a.substr(0, a.size() - la));
                BOOST_TEST(s.ids.size() == k + 1);  // up to the token that completed it
            }
            found = true;
        }
        BOOST_TEST(found, name << ": no pair of tokens with text in the continuation");
    }
}

BOOST_AUTO_TEST_CASE(eos_and_stop_ids_end_a_sequence) {
    const auto dir = fixture("tiny-llama");
    const auto f = load(dir);
    auto r = open_cpu(dir);
    rt::generate_options o;
    o.max_new_tokens = 8;
    const std::vector<ids_t> one{f.prompts[0]};
    // HF's 3rd greedy token as a stop id: the sequence ends there, with EOS as the reason.
    o.stop_ids = {f.greedy[0][2]};
    const auto g = r->generate(one, o)[0];
    BOOST_TEST(g.finish_reason == POLYGLOT_FINISH_EOS);
    BOOST_TEST(g.ids == ids_t(f.greedy[0].begin(), f.greedy[0].begin() + 3),
               boost::test_tools::per_element());
    // Its text is left out of the output.
    BOOST_TEST(g.text == r->detokenize(ids_t(f.greedy[0].begin(), f.greedy[0].begin() + 2), true));
}

BOOST_AUTO_TEST_CASE(bad_input_is_an_error_or_an_item_failure) {
    const auto dir = fixture("tiny-qwen3");
    auto r = open_cpu(dir);
    rt::generate_options o;
    o.max_new_tokens = 4;
    // Items: fine, empty, longer than the context, an id outside the vocabulary, fine.
    std::vector<ids_t> p = {{34, 384}, {}, ids_t(600, 5), {34, 99999}, {71}};
    std::vector<std::pair<std::uint64_t, std::string>> failed;
    polyglot_call_context c{};
    c.struct_size = sizeof c;
    c.user = &failed;
    c.item_error = [](void* u, std::uint64_t i, polyglot_status, const char* m) {
        static_cast<decltype(failed)*>(u)->emplace_back(i, m);
    };
    const polyglot::plugin_sdk::call_context ctx(&c);
    const auto g = r->generate(p, o, ctx);
    BOOST_REQUIRE_EQUAL(failed.size(), 3u);
    BOOST_TEST(failed[0].first == 1u);
    BOOST_TEST(failed[0].second.find("empty prompt") != std::string::npos, failed[0].second);
    BOOST_TEST(failed[1].first == 2u);
    BOOST_TEST(failed[1].second.find("context") != std::string::npos, failed[1].second);
    BOOST_TEST(failed[2].first == 3u);
    BOOST_TEST(failed[2].second.find("99999") != std::string::npos, failed[2].second);
    BOOST_TEST(!g[0].failed);
    BOOST_TEST(g[0].ids.size() == 4u);
    BOOST_TEST(g[1].failed);
    BOOST_TEST(g[1].ids.empty());
    BOOST_TEST(g[4].ids.size() == 4u);
    // Without per-item hooks the first failure fails the call, naming the item.
    try {
        (void)r->generate(p, o);
        BOOST_FAIL("no error");
    } catch (const std::exception& e) {
        BOOST_TEST(std::string(e.what()).find("item 1") != std::string::npos, e.what());
    }
    // max_new_tokens 0 is an argument error.
    auto o0 = o;
    o0.max_new_tokens = 0;
    BOOST_CHECK_THROW((void)r->generate(std::vector<ids_t>{{34}}, o0), polyglot::argument_error);
    // A stop list of 1,000 strings (none occurs): generation runs to the length limit.
    auto ok = o;
    for (int i = 0; i < 1000; ++i) ok.stop.push_back("zz-no-such-stop-" + std::to_string(i));
    ok.max_new_tokens = 16;
    ok.ignore_eos = true;
    const auto many = r->generate(std::vector<ids_t>{{34, 384}}, ok);
    BOOST_TEST(many[0].finish_reason == POLYGLOT_FINISH_LENGTH);
    BOOST_TEST(many[0].ids.size() == 16u);
}

BOOST_AUTO_TEST_CASE(malformed_eos_in_generation_config_names_the_file) {
    for (const std::string bad : {R"("</s>")", R"([1, "x"])", "-5", "123456", "{}"}) {
        const fs::path d =
            fs::temp_directory_path() / ("polyglot_gen_eos_" + std::to_string(::getpid()));
        fs::remove_all(d);
        fs::copy(fixture("tiny-llama"), d, fs::copy_options::recursive);
        for (auto& e : fs::recursive_directory_iterator(d))
            fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
        std::ofstream(d / "generation_config.json", std::ios::trunc)
            << "{\"bos_token_id\": 0, \"eos_token_id\": " << bad << "}";
        try {
            (void)open_cpu(d);
            BOOST_FAIL("no error for eos_token_id " << bad);
        } catch (const polyglot::format_error& e) {
            const std::string m = e.what();
            BOOST_TEST(m.find((d / "generation_config.json").string()) != std::string::npos, m);
            BOOST_TEST(m.find("eos_token_id") != std::string::npos, m);
        }
        fs::remove_all(d);
    }
}

BOOST_AUTO_TEST_CASE(tokenizer_model_mismatch_is_an_item_failure) {
    // A tokenizer.json with a token the weights do not have (an added token beyond the 2000
    // ids of the model; `tokenizers` numbers it after the vocabulary): the items
    // whose text produces it fail, with the reason; the others are computed.
    const fs::path d =
        fs::temp_directory_path() / ("polyglot_gen_oov_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::copy(fixture("tiny-llama"), d, fs::copy_options::recursive);
    for (auto& e : fs::recursive_directory_iterator(d))
        fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    std::string tok;
    {
        std::ifstream in(d / "tokenizer.json");
        tok.assign(std::istreambuf_iterator<char>(in), {});
    }
    const auto at = tok.find("\"added_tokens\": [");
    BOOST_REQUIRE(at != std::string::npos);
    tok.insert(at + 17,
               R"({"id": 2500, "content": "<|extra|>", "single_word": false, "lstrip": false, )"
               R"("rstrip": false, "normalized": false, "special": true}, )");
    std::ofstream(d / "tokenizer.json", std::ios::trunc) << tok;
    auto r = open_cpu(d, {.pooling = "", .parse_special = true});
    std::vector<std::pair<std::uint64_t, std::string>> failed;
    polyglot_call_context c{};
    c.struct_size = sizeof c;
    c.user = &failed;
    c.item_error = [](void* u, std::uint64_t i, polyglot_status, const char* m) {
        static_cast<std::vector<std::pair<std::uint64_t, std::string>>*>(u)->emplace_back(i, m);
    };
    const polyglot::plugin_sdk::call_context ctx(&c);
    std::vector<std::string_view> p = {"Iceland", "Ice <|extra|> land"}, q = {"Island", "Island"};
    const auto s = r->score(p, q, ctx);
    BOOST_REQUIRE_EQUAL(failed.size(), 1u);
    BOOST_TEST(failed[0].first == 1u);
    BOOST_TEST(failed[0].second.find("outside the model's vocabulary of 2000") != std::string::npos,
               failed[0].second);
    BOOST_TEST(std::isfinite(s[0].sum_nll));
    BOOST_TEST(std::isnan(s[1].sum_nll));
    failed.clear();
    std::vector<float> e(2 * r->dim());
    r->embed(p, e.data(), ctx);
    BOOST_REQUIRE_EQUAL(failed.size(), 1u);
    BOOST_TEST(std::isfinite(e[0]));
    BOOST_TEST(std::isnan(e[r->dim()]));
    fs::remove_all(d);
}
