// SPDX-License-Identifier: Apache-2.0
// The remote plugin against scripted servers (tests/remote/fake_server.py) that answer in vLLM's,
// SGLang's, TGI's, llama.cpp's and OpenAI's shapes. The oracle is the server's own request log:
// every number a reply carried is logged, and the plugin must return exactly those numbers for
// exactly the records they belong to, survive every injected fault, and fail records only when
// the server keeps failing them, naming them.
#define BOOST_TEST_MODULE remote_plugin
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <map>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/services.hpp>
#include <set>

#include "remote_model.hpp"
#include "remote_test_util.hpp"

using namespace remote_test;
using polyglot::analysis::json_value;
namespace plugin = polyglot::plugin;

namespace {

const std::vector<std::pair<std::string, std::string>> records = {
    {"Iceland", "آيسلندا"},
    {"Translate to German: the cat", " Die Katze sitzt auf der Matte."},
    {"", "An empty prompt is a valid record."},
    {"日本の首都は？", "東京です。"},
    {"Empty response:", ""},
    {"Česká republika", " je stát ve střední Evropě."},
    {"x", "y"},
    {"Long context " + std::string(300, 'a'), " and a reply"},
};

/// A config JSON for the remote plugin with fast retries (tests only).
/// Keys of @p extra override the defaults.
std::string config(const std::string& spec, const fs::path& journal_dir,
                   const std::string& extra = {}) {
    std::string c = "{" + extra;
    auto add = [&](const std::string& key, const std::string& value) {
        if (extra.find("\"" + key + "\"") != std::string::npos) return;
        if (c.size() > 1) c += ",";
        c += "\"" + key + "\":" + value;
    };
    add("model", "\"" + spec + "\"");
    add("journal_dir", "\"" + journal_dir.string() + "\"");
    add("max_retries", "4");
    add("backoff_base", "0.02");
    add("backoff_max", "0.2");
    add("request_timeout", "3");
    add("concurrency", "4");
    return c + "}";
}

plugin::model open_remote(const std::string& spec, const fs::path& dir,
                          const std::string& extra = {}) {
    return plugin::open_model("remote", 0, config(spec, dir / "journal", extra), {});
}

std::vector<std::string_view> prompts() {
    std::vector<std::string_view> v;
    for (const auto& r : records) v.push_back(r.first);
    return v;
}
std::vector<std::string_view> responses() {
    std::vector<std::string_view> v;
    for (const auto& r : records) v.push_back(r.second);
    return v;
}

std::vector<std::int32_t> ints(const json_value* v) {
    std::vector<std::int32_t> out;
    BOOST_REQUIRE(v && v->is_array());
    for (const auto& x : v->as_array()) out.push_back(std::int32_t(x.as_number()));
    return out;
}

/// The tokens a /tokenize reply of the log gave for @p text with or without special tokens.
std::vector<std::int32_t> logged_tokens(const fake_server& s, const std::string& text, bool special,
                                        bool llamacpp = false) {
    for (const auto& e : s.requests("/tokenize")) {
        const auto* b = e.find("body");
        const auto* t = b->find(llamacpp ? "content" : "prompt");
        const auto* sp = b->find(llamacpp ? "add_special" : "add_special_tokens");
        if (t && t->as_string() == text && sp && sp->as_bool() == special && e.find("tokens"))
            return ints(e.find("tokens"));
    }
    BOOST_FAIL("no /tokenize of '" + text + "' in the log");
    return {};
}

/// The log-probs a scoring reply of the log carried for exactly @p ids (lp[0] = NaN).
std::vector<double> logged_logprobs(const fake_server& s, const std::string& path,
                                    const std::vector<std::int32_t>& ids) {
    for (const auto& e : s.requests(path)) {
        const auto* i = e.find("ids");
        if (!i || ints(i) != ids) continue;
        std::vector<double> lp;
        for (const auto& x : e.find("logprobs")->as_array())
            lp.push_back(x.is_null() ? std::nan("") : x.as_number());
        return lp;
    }
    BOOST_FAIL("no scoring reply for these ids in the log");
    return {};
}

/// Per-item failures of a call, by index (call hooks that record them).
struct failures : std::map<std::uint64_t, std::string> {
    polyglot::call_hooks hooks;
    failures() {
        hooks.item_error = [this](std::uint64_t i, polyglot_status, std::string_view msg) {
            (*this)[i] = std::string(msg);
        };
    }
    failures(const failures&) = delete;
    failures& operator=(const failures&) = delete;
};

/// Scores the test records on @p m, the failed records' messages going to @p failed.
std::vector<polyglot::lm_score> score_records(plugin::model& m, failures& failed) {
    const auto p = prompts(), r = responses();
    std::vector<polyglot::lm_score> out(p.size());
    m.score(p, r, out, &failed.hooks);
    return out;
}

/// Scores the test records and checks each against the server's logged numbers.
void check_scores(const fake_server& s, plugin::model& m, const std::string& score_path) {
    const auto p = prompts(), r = responses();
    std::vector<polyglot::lm_score> out(p.size());
    m.score(p, r, out);
    for (std::size_t i = 0; i < p.size(); ++i) {
        BOOST_TEST_CONTEXT("record " << i) {
            BOOST_TEST(!out[i].failed);
            auto pi = logged_tokens(s, records[i].first, true);
            auto ri = logged_tokens(s, records[i].second, false);
            BOOST_TEST(out[i].prompt_tokens == pi.size());
            BOOST_TEST(out[i].response_tokens == ri.size());
            BOOST_TEST(!out[i].truncated);
            std::vector<std::int32_t> ids = pi;
            ids.insert(ids.end(), ri.begin(), ri.end());
            const std::size_t from = std::max<std::size_t>(pi.size(), 1);
            if (ids.size() <= from) {
                BOOST_TEST(out[i].n_scored == 0u);
                continue;
            }
            const auto lp = logged_logprobs(s, score_path, ids);
            double want = 0;
            for (std::size_t k = from; k < ids.size(); ++k) want -= lp[k];
            BOOST_TEST(out[i].n_scored == ids.size() - from);
            BOOST_TEST(out[i].sum_nll == want, boost::test_tools::tolerance(1e-12));
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(vllm_score_tokenize_embed) {
    tmpdir t("remote_vllm");
    fake_server s("vllm", t.dir, {"--model", "tiny", "--dim", "16"});
    auto m = open_remote(s.url("tiny"), t.dir);
    BOOST_TEST(m.plugin().name() == "remote");
    BOOST_TEST(m.supports(POLYGLOT_OP_SCORE));
    BOOST_TEST(m.info_json().find(R"("server_kind":"vllm")") != std::string::npos);
    check_scores(s, m, "/v1/completions");
    // Every scoring request sent ids without special tokens added again, echo, prompt log-probs.
    for (const auto& e : s.requests("/v1/completions")) {
        const auto* b = e.find("body");
        BOOST_TEST(b->find("add_special_tokens")->as_bool() == false);
        BOOST_TEST(b->find("echo")->as_bool() == true);
        BOOST_TEST(b->find("prompt_logprobs") != nullptr);
    }

    // TOKENIZE is the server's.
    const std::string_view texts[] = {"Hello", "Ünïcödé ✓"};
    auto toks = m.tokenize(texts, POLYGLOT_TOKENIZE_ADD_SPECIAL);
    BOOST_TEST(toks[0] == logged_tokens(s, "Hello", true), boost::test_tools::per_element());
    BOOST_TEST(toks[1] == logged_tokens(s, "Ünïcödé ✓", true), boost::test_tools::per_element());

    // EMBED, base64 on the wire, rows placed by index (the server shuffles them).
    BOOST_TEST(m.dim() == 16u);
    std::vector<std::string_view> et = {"alpha", "βήτα", "", "gamma", "alpha"};
    std::vector<float> e(et.size() * 16);
    m.embed(et, e.data());
    std::map<std::string, std::vector<float>> logged;
    for (const auto& r : s.requests("/v1/embeddings")) {
        BOOST_TEST(r.find("body")->find("encoding_format")->as_string() == "base64");
        const auto& in = r.find("body")->find("input")->as_array();
        for (const auto& m2 : r.find("embeddings")->as_object()) {
            std::vector<float> v;
            for (const auto& x : m2.value.as_array()) v.push_back(float(x.as_number()));
            logged[in[std::stoul(m2.key)].as_string()] = v;
        }
    }
    for (std::size_t i = 0; i < et.size(); ++i) {
        std::vector<float> got(e.begin() + long(i * 16), e.begin() + long((i + 1) * 16));
        BOOST_TEST(got == logged.at(std::string(et[i])), boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(vllm_score_ids_and_greedy) {
    tmpdir t("remote_ids");
    fake_server s("vllm", t.dir, {"--model", "tiny"});
    auto m = open_remote(s.url("tiny"), t.dir);
    const std::vector<std::int32_t> ids = {1, 20, 35, 40, 55, 61, 70, 15, 100, 105};
    const std::vector<std::int32_t> ids2 = {1, 25, 50};
    std::vector<std::int32_t> flat = ids;
    flat.insert(flat.end(), ids2.begin(), ids2.end());
    const std::vector<std::uint64_t> offsets = {0, ids.size(), ids.size() + ids2.size()};
    const std::vector<std::uint64_t> from = {4, 0};
    std::vector<float> lp(flat.size());
    std::vector<std::uint8_t> g(flat.size());
    m.score_ids(flat, offsets, from, lp, g);
    const auto want = logged_logprobs(s, "/v1/completions", ids);
    json_value greedy;
    for (const auto& e : s.requests("/v1/completions"))
        if (ints(e.find("ids")) == ids) greedy = *e.find("greedy");
    for (std::size_t p = 0; p < ids.size(); ++p) {
        if (p < 4) {
            BOOST_TEST(std::isnan(lp[p]));
            continue;
        }
        BOOST_TEST(lp[p] == float(want[p]));
        BOOST_TEST(g[p] == std::uint8_t(greedy.as_array()[p].as_number()));
    }
    const auto want2 = logged_logprobs(s, "/v1/completions", ids2);
    BOOST_TEST(std::isnan(lp[ids.size()]));  // position 0 is never scored
    BOOST_TEST(lp[ids.size() + 1] == float(want2[1]));
    BOOST_TEST(lp[ids.size() + 2] == float(want2[2]));
}

BOOST_AUTO_TEST_CASE(sglang_score_and_embed_floats) {
    tmpdir t("remote_sglang");
    fake_server s("sglang", t.dir, {"--model", "sg", "--dim", "5"});
    auto m = open_remote(s.url("sg"), t.dir);
    BOOST_TEST(m.info_json().find(R"("server_kind":"sglang")") != std::string::npos);
    check_scores(s, m, "/generate");
    std::vector<std::string_view> et = {"one", "two"};
    std::vector<float> e(10);
    m.embed(et, e.data());
    for (const auto& r : s.requests("/v1/embeddings"))
        BOOST_TEST(r.find("body")->find("encoding_format")->as_string() == "float");
    BOOST_TEST(std::isfinite(e[9]));
}

BOOST_AUTO_TEST_CASE(tgi_scores_text_and_checks_its_tokenization) {
    tmpdir t("remote_tgi");
    // A tokenizer.json that tokenizes as the scripted TGI does: UTF-8 bytes (+10), BOS = 1.
    std::string vocab = R"("<s>":1)";
    for (int b = 0; b < 256; ++b) {
        char name[16];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        vocab += ",\"" + std::string(name) + "\":" + std::to_string(b + 10);
    }
    fs::create_directories(t.dir / "tok");
    spit(
        t.dir / "tok" / "tokenizer.json",
        R"({"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":1,)"
        R"("content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,)"
        R"("special":true}],"normalizer":null,"pre_tokenizer":null,"post_processor":{"type":)"
        R"("TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":)"
        R"({"id":"A","type_id":0}}],"pair":[{"Sequence":{"id":"A","type_id":0}}],"special_tokens":)"
        R"({"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},"decoder":null,"model":{"type":"BPE",)"
        R"("dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":)"
        R"(null,"fuse_unk":false,"byte_fallback":true,"vocab":{)" +
            vocab + R"(},"merges":[]}})");
    fake_server s(
        "tgi", t.dir, {"--model", "tgi-model"},
        R"([{"path":"/generate","fault":"tgi_retokenize","match":"Iceland","times":-1}])");
    {
        // Without a local tokenizer SCORE is refused with the reason.
        auto m = open_remote(s.url("tgi-model"), t.dir);
        BOOST_TEST(!m.supports(POLYGLOT_OP_SCORE));
        BOOST_TEST(m.info_json().find("--remote-tokenizer") != std::string::npos);
    }
    auto m = open_remote(s.url("tgi-model"), t.dir,
                         R"("tokenizer":")" + (t.dir / "tok").string() + R"(")");
    BOOST_TEST(m.info_json().find(R"("server_kind":"tgi")") != std::string::npos);
    const auto p = prompts();
    failures failed;
    auto out = score_records(m, failed);
    // TGI tokenized record 0's text differently (scripted): a counted failure, never a number.
    BOOST_REQUIRE_EQUAL(failed.size(), 1u);
    BOOST_TEST(failed.begin()->first == 0u);
    BOOST_TEST(failed.begin()->second.find("tokenized the text differently") != std::string::npos);
    BOOST_TEST(out[0].failed);
    for (std::size_t i = 1; i < p.size(); ++i) {
        BOOST_TEST_CONTEXT("record " << i) {
            BOOST_TEST(!out[i].failed);
            std::string text = records[i].first + records[i].second;
            for (const auto& e : s.requests("/generate")) {
                if (e.find("body")->find("inputs")->as_string() != text) continue;
                BOOST_TEST(
                    e.find("body")->find("parameters")->find("decoder_input_details")->as_bool());
                const auto lp = e.find("logprobs")->as_array();
                double want = 0;
                for (std::size_t k = std::max<std::size_t>(out[i].prompt_tokens, 1); k < lp.size();
                     ++k)
                    want -= lp[k].as_number();
                BOOST_TEST(out[i].sum_nll == want, boost::test_tools::tolerance(1e-12));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(llamacpp_refuses_to_score_and_tokenizes_its_way) {
    tmpdir t("remote_llamacpp");
    fake_server s("llamacpp", t.dir, {"--model", "gguf", "--dim", "4"});
    auto m = open_remote(s.url("gguf"), t.dir);
    BOOST_TEST(m.info_json().find(R"("server_kind":"llamacpp")") != std::string::npos);
    BOOST_TEST(!m.supports(POLYGLOT_OP_SCORE));
    BOOST_TEST(!m.supports(POLYGLOT_OP_SCORE_IDS));
    const auto p = prompts(), r = responses();
    std::vector<polyglot::lm_score> out(p.size());
    BOOST_CHECK_EXCEPTION(m.score(p, r, out), polyglot::unsupported_error,
                          [](const polyglot::error& e) {
                              return std::string(e.what()).find("27174") != std::string::npos;
                          });
    // Through the service layer (what `polyglot score --lm URL` does): refused with the reason.
    {
        scoped_env data("POLYGLOT_DATA_DIR", (t.dir / "data").string());
        polyglot::backend_options o;
        BOOST_CHECK_EXCEPTION((void)polyglot::open_scorer(s.url("gguf"), o),
                              polyglot::unsupported_error, [](const polyglot::error& e) {
                                  const std::string w = e.what();
                                  return w.find("generated tokens only") != std::string::npos &&
                                         w.find("27174") != std::string::npos;
                              });
    }
    const std::string_view texts[] = {"abc"};
    auto toks = m.tokenize(texts, POLYGLOT_TOKENIZE_ADD_SPECIAL | POLYGLOT_TOKENIZE_PARSE_SPECIAL);
    BOOST_TEST(toks[0] == logged_tokens(s, "abc", true, true), boost::test_tools::per_element());
    std::vector<float> e(4);
    m.embed(texts, e.data());
    // No completion request was ever sent: nothing was computed from generated-token log-probs.
    BOOST_TEST(s.requests("/v1/completions").empty());
    BOOST_TEST(s.requests("/completion").empty());
}

BOOST_AUTO_TEST_CASE(faults_are_retried_until_they_succeed) {
    tmpdir t("remote_faults");
    // One of each fault on the scoring route, a wrong dimension and a rate limit on embeddings.
    const std::string faults = R"([
      {"path":"/v1/completions","fault":"429","retry_after":1,"times":1},
      {"path":"/v1/completions","fault":"503","times":2},
      {"path":"/v1/completions","fault":"500","times":1},
      {"path":"/v1/completions","fault":"hang","times":1},
      {"path":"/v1/completions","fault":"reset","times":1},
      {"path":"/v1/completions","fault":"truncate","times":1},
      {"path":"/v1/completions","fault":"badjson","times":1},
      {"path":"/tokenize","fault":"502","times":2},
      {"path":"/v1/embeddings","fault":"ratelimit","reset":"1s","times":1},
      {"path":"/v1/embeddings","fault":"wrongdim","times":1}])";
    fake_server s("vllm", t.dir, {"--model", "tiny", "--dim", "8"}, faults);
    auto m = open_remote(s.url("tiny"), t.dir, R"("max_retries":9,"request_timeout":1.5)");
    check_scores(s, m, "/v1/completions");
    std::vector<std::string_view> et = {"a1", "b2", "c3"};
    std::vector<float> e(3 * 8);
    polyglot::call_hooks h;
    std::size_t failures = 0;
    h.item_error = [&](std::uint64_t, polyglot_status, std::string_view) { ++failures; };
    m.embed(et, e.data(), &h);
    BOOST_TEST(failures == 0u);
    for (float x : e) BOOST_TEST(std::isfinite(x));

    // Every scripted fault happened.
    std::set<std::string> seen;
    double t429 = 0, t_after429 = 1e300, t_rl = 0, t_after_rl = 1e300;
    for (const auto& x : s.log()) {
        const auto* f = x.find("fault");
        const double ts = x.find("t")->as_number();
        const std::string path = x.find("path")->as_string();
        if (f && f->is_string()) {
            seen.insert(f->as_string());
            if (f->as_string() == "429") t429 = ts;
            if (f->as_string() == "ratelimit") t_rl = ts;
        } else {
            if (t429 > 0 && path == "/v1/completions") t_after429 = std::min(t_after429, ts);
            if (t_rl > 0 && path == "/v1/embeddings") t_after_rl = std::min(t_after_rl, ts);
        }
    }
    for (const char* f : {"429", "503", "500", "hang", "reset", "truncate", "badjson", "502",
                          "ratelimit", "wrongdim"})
        BOOST_TEST(seen.count(f) == 1u, "fault " << f << " was injected");
    // Retry-After: 1 and x-ratelimit-reset-requests: 1s paused every request for about a second.
    BOOST_TEST(t_after429 - t429 >= 0.9);
    BOOST_TEST(t_after_rl - t_rl >= 0.9);
    BOOST_TEST(m.info_json().find(R"("failed":0)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(persistent_failures_are_counted_and_name_the_record) {
    tmpdir t("remote_fail");
    // Record 3 always gets 503; record 1 is refused with 400 (retrying cannot help).
    const std::string faults = R"([
      {"path":"/v1/completions","fault":"503","match":"[1,240,161,175,240,","times":-1},
      {"path":"/v1/completions","fault":"400","match":"[1,94,124,107,120,125,","times":-1}])";
    fake_server s("vllm", t.dir, {"--model", "tiny"}, faults);
    auto m = open_remote(s.url("tiny"), t.dir, R"("max_retries":3)");
    const auto p = prompts(), r = responses();
    failures failed;
    auto out = score_records(m, failed);
    BOOST_REQUIRE_EQUAL(failed.size(), 2u);
    BOOST_TEST(failed.count(3) == 1u);
    BOOST_TEST(failed[3].find("failed after 4 attempts") != std::string::npos);
    BOOST_TEST(failed[3].find("HTTP 503") != std::string::npos);
    BOOST_TEST(failed.count(1) == 1u);
    BOOST_TEST(failed[1].find("HTTP 400") != std::string::npos);
    BOOST_TEST(out[3].failed);
    BOOST_TEST(out[1].failed);
    BOOST_TEST(out[3].error == failed[3]);
    std::size_t n503 = 0, n400 = 0;
    for (const auto& x : s.log()) {
        const auto* f = x.find("fault");
        if (f && f->is_string()) (f->as_string() == "503" ? n503 : n400) += 1;
    }
    BOOST_TEST(n503 == 4u);  // the first attempt and max_retries = 3 retries
    BOOST_TEST(n400 == 1u);  // a 4xx is not retried
    for (std::size_t i : {0, 2, 4, 5, 6, 7}) BOOST_TEST(!out[i].failed);
    // Without per-item hooks, the first failed record fails the whole call, naming it.
    std::vector<polyglot::lm_score> out2(p.size());
    auto m2 = open_remote(s.url("tiny"), t.dir, R"("max_retries":0,"no_cache":true)");
    BOOST_CHECK_EXCEPTION(m2.score(p, r, out2), polyglot::error, [](const polyglot::error& e) {
        return std::string(e.what()).find("item ") != std::string::npos;
    });
}

BOOST_AUTO_TEST_CASE(journal_makes_a_rerun_send_nothing) {
    tmpdir t("remote_journal");
    fake_server s("vllm", t.dir, {"--model", "tiny"});
    const auto p = prompts(), r = responses();
    std::vector<polyglot::lm_score> a(p.size()), b(p.size());
    {
        auto m = open_remote(s.url("tiny"), t.dir);
        m.score(p, r, a);
    }
    const std::size_t sent = s.requests("/v1/completions").size();
    const std::size_t tokenized = s.requests("/tokenize").size();
    BOOST_TEST(sent == p.size() - 1);  // the record with an empty response needs no request
    {
        auto m = open_remote(s.url("tiny"), t.dir);
        m.score(p, r, b);
        BOOST_TEST(m.info_json().find(R"("cached":)" + std::to_string(p.size())) !=
                   std::string::npos);
    }
    BOOST_TEST(s.requests("/v1/completions").size() == sent);
    BOOST_TEST(s.requests("/tokenize").size() == tokenized);
    for (std::size_t i = 0; i < p.size(); ++i) {
        BOOST_TEST(a[i].sum_nll == b[i].sum_nll);
        BOOST_TEST(a[i].n_scored == b[i].n_scored);
        BOOST_TEST(a[i].prompt_tokens == b[i].prompt_tokens);
    }
    // --no-cache neither reads nor writes it.
    {
        auto m = open_remote(s.url("tiny"), t.dir, R"("no_cache":true)");
        m.score(p, r, b);
    }
    BOOST_TEST(s.requests("/v1/completions").size() == 2 * sent);
}

BOOST_AUTO_TEST_CASE(generation_seeds_schema_and_finish_reasons) {
    tmpdir t("remote_gen");
    fake_server s(
        "vllm", t.dir, {"--model", "tiny"},
        R"([{"path":"/v1/chat/completions","fault":"badschema","match":"bad one","times":-1}])");
    auto m = open_remote(s.url("tiny"), t.dir, R"("no_cache":true)");
    BOOST_TEST(m.supports(POLYGLOT_OP_GENERATE));
    BOOST_TEST(m.supports(POLYGLOT_OP_CHAT));
    const std::vector<std::string_view> prompts4 = {"p0", "p1", "p2", "p3"};
    polyglot::generate_params gp;
    gp.max_new_tokens = 6;
    gp.temperature = 0.8f;
    gp.seed = 7;
    std::vector<polyglot::generation> one(4), split(4);
    m.generate(polyglot::prompt_kind::text, prompts4, {}, 0, gp, one);
    m.generate(polyglot::prompt_kind::text, std::span(prompts4).subspan(0, 2), {}, 0, gp,
               std::span(split).subspan(0, 2));
    m.generate(polyglot::prompt_kind::text, std::span(prompts4).subspan(2, 2), {}, 2, gp,
               std::span(split).subspan(2, 2));
    std::map<std::string, std::set<double>> seeds;  // prompt -> seeds sent
    for (const auto& e : s.requests("/v1/completions"))
        seeds[e.find("body")->find("prompt")->as_string()].insert(
            e.find("body")->find("seed")->as_number());
    for (std::size_t i = 0; i < 4; ++i) {
        BOOST_TEST(one[i].ok());
        BOOST_TEST(one[i].text == split[i].text);  // batching does not change a sequence
        BOOST_TEST(one[i].ids == split[i].ids, boost::test_tools::per_element());
        BOOST_TEST(seeds[std::string(prompts4[i])].size() == 1u);
        BOOST_TEST(one[i].ids.size() == one[i].text.size());  // vLLM's token_ids came back
    }
    std::set<double> all;
    for (auto& [k, v] : seeds) all.insert(*v.begin());
    BOOST_TEST(all.size() == 4u);  // a different seed per sequence

    // Stop strings end a sequence with FINISH_STOP; max tokens with FINISH_LENGTH.
    gp.stop = {"q"};
    gp.max_new_tokens = 64;
    std::vector<polyglot::generation> st(4);
    m.generate(polyglot::prompt_kind::text, prompts4, {}, 10, gp, st);
    for (const auto& g : st)
        BOOST_TEST(
            (g.finish_reason == POLYGLOT_FINISH_STOP || g.finish_reason == POLYGLOT_FINISH_EOS));
    bool any_stop = false;
    for (const auto& e : s.requests("/v1/completions")) {
        const auto* sr = e.find("text");
        if (sr && e.find("body")->find("stop")) any_stop = true;
    }
    BOOST_TEST(any_stop);

    // Structured output: response_format json_schema, validated here.
    gp = {};
    gp.max_new_tokens = 64;
    gp.json_schema =
        R"({"type":"object","properties":{"score":{"type":"integer","minimum":1,)"
        R"("maximum":5},"feedback":{"type":"string"}},"required":["score","feedback"]})";
    const std::vector<std::string_view> chats = {R"([{"role":"user","content":"judge this"}])",
                                                 R"([{"role":"user","content":"the bad one"}])",
                                                 R"(not json)"};
    std::vector<polyglot::generation> js(3);
    failures failed;
    polyglot::call_hooks& h = failed.hooks;
    m.generate(polyglot::prompt_kind::messages, chats, {}, 0, gp, js, &h);
    BOOST_TEST(js[0].ok());
    BOOST_TEST(js[0].text.find("\"score\"") != std::string::npos);
    BOOST_TEST(!js[1].ok());
    BOOST_TEST(failed[1].find("does not follow the JSON schema: /score: 9 is greater than the "
                              "maximum 5") != std::string::npos);
    BOOST_TEST(!js[2].ok());
    BOOST_TEST(failed[2].find("not a JSON array") != std::string::npos);
    for (const auto& e : s.requests("/v1/chat/completions")) {
        const auto* b = e.find("body");
        BOOST_TEST(!b->find("guided_json"));
        BOOST_TEST(b->find("response_format")->find("type")->as_string() == "json_schema");
    }
}

BOOST_AUTO_TEST_CASE(api_key_is_sent_and_never_shown) {
    tmpdir t("remote_key");
    const std::string key = "sk-test-7f3a9c1e5d2b8f4a6c0e";
    fake_server s("vllm", t.dir, {"--model", "tiny", "--api-key", key, "--echo-auth"});
    {
        // Without the key the server refuses: a clear error, no key in it.
        scoped_env k("POLYGLOT_TEST_KEY", "sk-wrong-0000");
        try {
            (void)open_remote(s.url("tiny"), t.dir, R"("api_key_env":"POLYGLOT_TEST_KEY")");
            BOOST_FAIL("a wrong key was accepted");
        } catch (const polyglot::error& e) {
            const std::string w = e.what();
            BOOST_TEST(w.find("HTTP 401") != std::string::npos);
            BOOST_TEST(w.find("sk-wrong-0000") == std::string::npos);  // the server echoed it
            BOOST_TEST(w.find("[redacted]") != std::string::npos);
        }
    }
    scoped_env k("POLYGLOT_TEST_KEY", key);
    auto m = open_remote(s.url("tiny"), t.dir, R"("api_key_env":"POLYGLOT_TEST_KEY")");
    check_scores(s, m, "/v1/completions");
    BOOST_TEST(m.info_json().find(key) == std::string::npos);
    BOOST_TEST(m.info_json().find("POLYGLOT_TEST_KEY") != std::string::npos);
    for (const auto& f : fs::recursive_directory_iterator(t.dir / "journal"))
        if (f.is_regular_file()) BOOST_TEST(slurp(f.path()).find(key) == std::string::npos);
}
