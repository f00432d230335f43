// SPDX-License-Identifier: Apache-2.0
// The remote backend's wire formats, without a network: replies in each engine's documented
// shape (vLLM protocol.py's prompt_logprobs maps, SGLang's input_token_logprobs tuples, TGI's
// details.prefill, OpenAI's embeddings in float and base64, llama.cpp's /tokenize) parse to
// exactly the numbers they carry; malformed ones are refused with a reason. Also the request
// bodies, the rate-limit header parsers, the journal's crash rules and the JSON Schema checks.
#define BOOST_TEST_MODULE remote_dialect
#include <polyglot/plugin/abi.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <polyglot/plugin/model_spec.hpp>

#include "base/json/schema.hpp"
#include "dialect.hpp"
#include "http_client.hpp"
#include "journal.hpp"
#include "remote_model.hpp"
#include "remote_test_util.hpp"

using namespace polyglot::remote;
namespace fs = std::filesystem;

namespace {

/// A reply body with simdjson's padding (the client guarantees it).
std::string body(std::string s) {
    s.reserve(s.size() + 64);
    return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(vllm_prompt_logprobs_looked_up_by_token_id) {
    // vLLM's CompletionResponseChoice.prompt_logprobs: null first, then maps keyed by token-id
    // strings holding the actual token and top-k alternatives in no particular order.
    const std::string reply = body(R"({"id":"cmpl-1","object":"text_completion","model":"m",
      "choices":[{"index":0,"text":"x","logprobs":null,"finish_reason":"length",
      "stop_reason":null,"prompt_logprobs":[null,
        {"7":{"logprob":-0.25,"rank":1,"decoded_token":"a"},
         "42":{"logprob":-3.5,"rank":4,"decoded_token":"b"}},
        {"11":{"logprob":-0.5,"rank":1,"decoded_token":"c"},
         "9":{"logprob":-1.75,"rank":2,"decoded_token":"d"},
         "13":{"logprob":-2.0,"rank":3,"decoded_token":"e"}}]}],
      "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})");
    const std::vector<std::int32_t> ids = {1, 42, 9};
    std::vector<double> lp;
    std::vector<std::uint8_t> g;
    BOOST_REQUIRE_EQUAL(parse_prompt_logprobs(server_kind::vllm, reply, ids, lp, g), "");
    BOOST_REQUIRE_EQUAL(lp.size(), 3u);
    BOOST_TEST(std::isnan(lp[0]));
    BOOST_TEST(lp[1] == -3.5);  // the actual token, not the top-1 alternative
    BOOST_TEST(lp[2] == -1.75);
    BOOST_TEST(g[1] == 0);  // rank 4
    BOOST_TEST(g[2] == 0);  // rank 2

    const std::vector<std::int32_t> top = {1, 7, 11};
    BOOST_REQUIRE_EQUAL(parse_prompt_logprobs(server_kind::vllm, reply, top, lp, g), "");
    BOOST_TEST(lp[1] == -0.25);
    BOOST_TEST(lp[2] == -0.5);
    BOOST_TEST(g[1] == 1);
    BOOST_TEST(g[2] == 1);

    // A map without the token asked about, and a reply for fewer positions, are unusable.
    const std::vector<std::int32_t> other = {1, 8, 9};
    BOOST_TEST(parse_prompt_logprobs(server_kind::vllm, reply, other, lp, g)
                   .find("no entry for token 8") != std::string::npos);
    const std::vector<std::int32_t> longer = {1, 42, 9, 5};
    BOOST_TEST(!parse_prompt_logprobs(server_kind::vllm, reply, longer, lp, g).empty());
    BOOST_TEST(
        !parse_prompt_logprobs(server_kind::vllm, body(R"({"choices":[{"text":"x"}]})"), ids, lp, g)
             .empty());
    BOOST_TEST(parse_prompt_logprobs(server_kind::vllm,
                                     body(R"({"choices":[{"text":"x","prompt_logpr)"), ids, lp, g)
                   .find("not valid JSON") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sglang_input_token_logprobs) {
    // SGLang's meta_info.input_token_logprobs: (logprob, token_id, text) tuples, None first.
    const std::string reply = body(R"({"text":"x","meta_info":{"id":"r","prompt_tokens":3,
      "input_token_logprobs":[[null,1,null],[-2.5,72,null],[-0.125,105,"i"]],
      "input_top_logprobs":[null,[[-0.5,33,null]],[[-0.125,105,null]]]}})");
    const std::vector<std::int32_t> ids = {1, 72, 105};
    std::vector<double> lp;
    std::vector<std::uint8_t> g;
    BOOST_REQUIRE_EQUAL(parse_prompt_logprobs(server_kind::sglang, reply, ids, lp, g), "");
    BOOST_TEST(std::isnan(lp[0]));
    BOOST_TEST(lp[1] == -2.5);
    BOOST_TEST(lp[2] == -0.125);
    BOOST_TEST(g[1] == 0);
    BOOST_TEST(g[2] == 1);
    const std::vector<std::int32_t> wrong = {1, 72, 106};
    BOOST_TEST(parse_prompt_logprobs(server_kind::sglang, reply, wrong, lp, g).find("not 106") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(tgi_prefill_details) {
    // TGI's /generate with decoder_input_details: details.prefill [{id, text, logprob}], the
    // first logprob null; some deployments wrap the reply in a list.
    const std::string direct = body(R"({"generated_text":"x","details":{"finish_reason":"length",
      "generated_tokens":1,"seed":null,"prefill":[{"id":1,"text":"<s>","logprob":null},
      {"id":15043,"text":"Hello","logprob":-8.25},{"id":3186,"text":"world","logprob":-1.5}],
      "tokens":[{"id":29991,"text":"!","logprob":-0.5,"special":false}]}})");
    const std::string wrapped = body("[" + direct + "]");
    const std::vector<std::int32_t> ids = {1, 15043, 3186};
    for (const auto* reply : {&direct, &wrapped}) {
        std::vector<double> lp;
        std::vector<std::uint8_t> g;
        BOOST_REQUIRE_EQUAL(parse_prompt_logprobs(server_kind::tgi, *reply, ids, lp, g), "");
        BOOST_TEST(lp[1] == -8.25);
        BOOST_TEST(lp[2] == -1.5);
    }
    std::vector<double> lp;
    std::vector<std::uint8_t> g;
    const std::vector<std::int32_t> other = {1, 15043, 3187};
    BOOST_TEST(parse_prompt_logprobs(server_kind::tgi, direct, other, lp, g)
                   .find("tokenized the text differently at position 2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(embeddings_float_and_base64) {
    // base64 of float32 little-endian [1.0, -2.5] and [0.5, 4.0] (OpenAI's encoding_format).
    const std::string b64 = body(R"({"object":"list","data":[
      {"object":"embedding","index":1,"embedding":"AAAAPwAAgEA="},
      {"object":"embedding","index":0,"embedding":"AACAPwAAIMA="}],"model":"m"})");
    std::size_t dim = 0;
    std::vector<float> out;
    BOOST_REQUIRE_EQUAL(parse_embeddings(b64, 2, dim, out), "");
    BOOST_REQUIRE_EQUAL(dim, 2u);
    BOOST_TEST(out == (std::vector<float>{1.0f, -2.5f, 0.5f, 4.0f}),
               boost::test_tools::per_element());
    const std::string floats = body(R"({"data":[{"index":0,"embedding":[0.25,-1,3e-2]}]})");
    dim = 3;
    BOOST_REQUIRE_EQUAL(parse_embeddings(floats, 1, dim, out), "");
    BOOST_TEST(out == (std::vector<float>{0.25f, -1.0f, 0.03f}), boost::test_tools::per_element());
    dim = 4;  // checked on every reply
    BOOST_TEST(parse_embeddings(floats, 1, dim, out).find("dimension 3, expected 4") !=
               std::string::npos);
    dim = 0;
    BOOST_TEST(!parse_embeddings(b64, 3, dim, out).empty());  // fewer rows than inputs
    BOOST_TEST(!parse_embeddings(body(R"({"data":[{"index":0,"embedding":"AAA"}]})"), 1, dim, out)
                    .empty());
}

BOOST_AUTO_TEST_CASE(tokenize_replies_and_bodies) {
    std::vector<std::int32_t> ids;
    BOOST_REQUIRE_EQUAL(
        parse_tokenize(body(R"({"tokens":[128000,9906],"count":2,"max_model_len":8192})"), ids),
        "");
    BOOST_TEST(ids == (std::vector<std::int32_t>{128000, 9906}), boost::test_tools::per_element());
    // llama.cpp with_pieces: {"id", "piece"} objects.
    BOOST_REQUIRE_EQUAL(parse_tokenize(body(R"({"tokens":[{"id":198,"piece":[195]},
      {"id":164,"piece":"a"}]})"),
                                       ids),
                        "");
    BOOST_TEST(ids == (std::vector<std::int32_t>{198, 164}), boost::test_tools::per_element());
    BOOST_TEST(!parse_tokenize(body(R"({"tokens":[1,-2]})"), ids).empty());

    const auto ll = tokenize_body(server_kind::llamacpp, "m", "hi", false, true);
    BOOST_TEST(ll == R"({"content":"hi","add_special":false,"parse_special":true})");
    const auto vl = tokenize_body(server_kind::vllm, "m", "hi", true, true);
    BOOST_TEST(vl == R"({"model":"m","prompt":"hi","add_special_tokens":true})");
    std::string text;
    BOOST_REQUIRE_EQUAL(parse_detokenize(server_kind::llamacpp, body(R"({"content":"hé"})"), text),
                        "");
    BOOST_TEST(text == "hé");
    BOOST_REQUIRE_EQUAL(parse_detokenize(server_kind::vllm, body(R"({"prompt":"x y"})"), text), "");
    BOOST_TEST(text == "x y");
}

BOOST_AUTO_TEST_CASE(score_request_bodies) {
    const std::vector<std::int32_t> ids = {1, 2, 3};
    BOOST_TEST(score_ids_body(server_kind::vllm, "m", ids) ==
               R"({"model":"m","prompt":[1,2,3],"max_tokens":1,"temperature":0,"echo":true,)"
               R"("prompt_logprobs":1,"add_special_tokens":false})");
    BOOST_TEST(score_ids_body(server_kind::polyglot, "m", ids).find("\"max_tokens\":0") !=
               std::string::npos);
    const auto sg = score_ids_body(server_kind::sglang, "m", ids);
    BOOST_TEST(sg.find(R"("input_ids":[1,2,3])") != std::string::npos);
    BOOST_TEST(sg.find(R"("logprob_start_len":0)") != std::string::npos);
    BOOST_TEST(tgi_score_body("ab").find(R"("decoder_input_details":true)") != std::string::npos);
    BOOST_TEST(score_refusal(server_kind::llamacpp).find("27174") != std::string::npos);
    BOOST_TEST(score_refusal(server_kind::vllm).empty());
    BOOST_TEST(score_url(server_kind::sglang, endpoints_of("http://h:1/v1")) ==
               "http://h:1/generate");
}

BOOST_AUTO_TEST_CASE(generation_bodies_and_replies) {
    sampling s;
    s.max_new_tokens = 32;
    s.temperature = 0.7f;
    s.top_k = 20;
    s.seed = 12345;
    s.stop = {"\n"};
    s.json_schema = R"({"type":"object"})";
    const auto b = completion_body(server_kind::vllm, "m", "hello", {}, false, s);
    BOOST_TEST(b.find(R"("top_k":20)") != std::string::npos);
    BOOST_TEST(b.find(R"("seed":12345)") != std::string::npos);
    BOOST_TEST(
        b.find(
            R"("response_format":{"type":"json_schema","json_schema":{"name":"output","schema":{"type":"object"})") !=
        std::string::npos);
    BOOST_TEST(b.find("guided_json") == std::string::npos);
    BOOST_TEST(b.find(R"("return_token_ids":true)") != std::string::npos);
    BOOST_TEST(unsupported_sampling(server_kind::openai, s) == "top_k");
    s.top_k = 0;
    const auto c = chat_body(server_kind::openai, "gpt", R"([{"role":"user","content":"hi"}])", s);
    BOOST_TEST(c.find(R"("max_completion_tokens":32)") != std::string::npos);
    BOOST_TEST(c.find("return_token_ids") == std::string::npos);  // hosted APIs refuse extras

    generated g;
    BOOST_REQUIRE_EQUAL(
        parse_generation(body(R"({"choices":[{"index":0,"text":"abc","finish_reason":"stop",
          "stop_reason":"\n","token_ids":[5,6,7]}],"usage":{"prompt_tokens":4}})"),
                         false, false, g),
        "");
    BOOST_TEST(g.text == "abc");
    BOOST_TEST(g.finish == POLYGLOT_FINISH_STOP);
    BOOST_TEST(g.ids == (std::vector<std::int32_t>{5, 6, 7}), boost::test_tools::per_element());
    BOOST_TEST(g.prompt_tokens == 4u);
    BOOST_REQUIRE_EQUAL(
        parse_generation(body(R"({"choices":[{"index":0,"message":{"role":"assistant",
          "content":"hi"},"finish_reason":"stop","logprobs":{"content":[{"token":"hi",
          "logprob":-0.5,"bytes":[104,105],"top_logprobs":[]}]}}]})"),
                         true, true, g),
        "");
    BOOST_TEST(g.finish == POLYGLOT_FINISH_EOS);
    BOOST_TEST(g.logprobs == (std::vector<float>{-0.5f}), boost::test_tools::per_element());
    BOOST_REQUIRE_EQUAL(
        parse_generation(body(R"({"choices":[{"text":"a","finish_reason":"length"}]})"), false,
                         false, g),
        "");
    BOOST_TEST(g.finish == POLYGLOT_FINISH_LENGTH);
    BOOST_REQUIRE_EQUAL(
        parse_generation(body(R"({"choices":[{"text":"","finish_reason":"content_filter"}]})"),
                         false, false, g),
        "");
    BOOST_TEST(g.refusal == "finish_reason 'content_filter'");
}

BOOST_AUTO_TEST_CASE(rate_limit_headers) {
    BOOST_TEST(parse_retry_after("3") == 3.0);
    BOOST_TEST(parse_retry_after(" 0.5 ") == 0.5);
    BOOST_TEST(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0);  // in the past
    BOOST_TEST(parse_retry_after("soon") < 0);
    BOOST_TEST(parse_reset_duration("6m0s") == 360.0);
    BOOST_TEST(parse_reset_duration("20ms") == 0.02, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(parse_reset_duration("1.5s") == 1.5);
    BOOST_TEST(parse_reset_duration("1h2m3s") == 3723.0);
    BOOST_TEST(parse_reset_duration("x") < 0);
}

BOOST_AUTO_TEST_CASE(model_specs_and_endpoints) {
    BOOST_TEST(polyglot::is_url_spec("http://h:8000/v1#google/gemma-3-4b-pt"));
    BOOST_TEST(polyglot::is_url_spec("HTTPS://api.example.com/v1"));
    BOOST_TEST(!polyglot::is_url_spec("/models/http-model"));
    BOOST_TEST(!polyglot::is_url_spec("fasttext:http.bin"));
    const auto s = polyglot::split_url_spec("http://h:8000/v1#google/gemma-3-4b-pt");
    BOOST_TEST(s.url == "http://h:8000/v1");
    BOOST_TEST(s.model == "google/gemma-3-4b-pt");
    BOOST_TEST(polyglot::split_url_spec("http://h/v1").model.empty());
    BOOST_TEST(polyglot::display_url("https://user:secret@h:1/v1?key=abc") == "https://h:1/v1");
    auto ep = endpoints_of("http://h:8000/v1/");
    BOOST_TEST(ep.openai == "http://h:8000/v1");
    BOOST_TEST(ep.root == "http://h:8000");
    ep = endpoints_of("http://h:8000");
    BOOST_TEST(ep.openai == "http://h:8000/v1");
    BOOST_TEST(embed_url(ep) == "http://h:8000/v1/embeddings");
}

BOOST_AUTO_TEST_CASE(journal_survives_torn_lines) {
    remote_test::tmpdir t("journal");
    const fs::path f = t.dir / "sub" / "j.jsonl";
    const auto k1 = hash_request("one"), k2 = hash_request("two"), k3 = hash_request("three");
    BOOST_TEST(to_hex(k1).size() == 64u);
    {
        journal j(f);
        BOOST_TEST(j.size() == 0u);
        j.append(k1, R"({"x":1})");
        j.append(k2, R"({"x":2})");
        BOOST_TEST(*j.find(k1) == R"({"x":1})");
    }
    // A process killed mid-write leaves a torn last line; junk lines are ignored too.
    {
        std::ofstream out(f, std::ios::app);
        out << "garbage line\n"
            << R"({"k":")" << to_hex(k3).substr(0, 20);
    }
    {
        journal j(f);
        BOOST_TEST(j.size() == 2u);
        BOOST_TEST(j.ignored_lines() == 2u);
        BOOST_TEST(*j.find(k2) == R"({"x":2})");
        BOOST_TEST(!j.find(k3));
        j.append(k3, R"({"x":3})");  // starts on a fresh line
    }
    journal j(f);
    BOOST_TEST(j.size() == 3u);
    BOOST_TEST(*j.find(k3) == R"({"x":3})");
    BOOST_TEST(*j.find(k1) == R"({"x":1})");
}

BOOST_AUTO_TEST_CASE(json_schema_subset) {
    using polyglot::model::validate_json_schema;
    const std::string judge = R"({"type":"object","properties":{
        "score":{"type":"integer","minimum":1,"maximum":5},
        "feedback":{"type":"string","minLength":1}},
      "required":["score","feedback"],"additionalProperties":false})";
    BOOST_TEST(validate_json_schema(judge, R"({"score":3,"feedback":"good"})") == "");
    BOOST_TEST(validate_json_schema(judge, R"({"score":3.0,"feedback":"good"})") == "");
    BOOST_TEST(validate_json_schema(judge, R"({"score":7,"feedback":"x"})") ==
               "/score: 7 is greater than the maximum 5");
    BOOST_TEST(validate_json_schema(judge, R"({"score":2})") ==
               "(root): the required property 'feedback' is missing");
    BOOST_TEST(validate_json_schema(judge, R"({"score":2,"feedback":"x","extra":1})") ==
               "(root): the property 'extra' is not allowed");
    BOOST_TEST(validate_json_schema(judge, R"({"score":"3","feedback":"x"})") ==
               R"(/score: "3" is string, not "integer")");
    BOOST_TEST(validate_json_schema(judge, "score: 3") == "the output is not valid JSON");
    const std::string refs = R"({"$defs":{"l":{"enum":["A","B"]}},"type":"array",
      "items":{"$ref":"#/$defs/l"},"minItems":1})";
    BOOST_TEST(validate_json_schema(refs, R"(["A","B","A"])") == "");
    BOOST_TEST(validate_json_schema(refs, R"(["A","C"])") == R"(/1: "C" is not one of ["A","B"])");
    BOOST_TEST(validate_json_schema(refs, "[]") == "(root): fewer than 1 items");
    BOOST_TEST(
        validate_json_schema(R"({"anyOf":[{"type":"null"},{"type":"string","pattern":"^a+$"}]})",
                             R"("aaa")") == "");
    BOOST_TEST(!validate_json_schema(
                    R"({"anyOf":[{"type":"null"},{"type":"string","pattern":"^a+$"}]})", R"("b")")
                    .empty());
}
