// SPDX-License-Identifier: Apache-2.0
// The generated ABI glue (include/polyglot/plugin/plugin.hpp) refuses malformed calls before
// the model sees them, through the real cpu plugin's C table: offsets beyond the buffer,
// outputs too small, n * dim overflowing, ids_cap below max_new_tokens, struct_size too small;
// BUFFER_TOO_SMALL with `needed` for caller-sized text; and GENERATE through the host (text
// and id prompts, the text-buffer retry) agrees with Hugging Face's greedy continuation.
#define BOOST_TEST_MODULE abi_bounds
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <vector>

#include "../fixture_models.hpp"

namespace fs = std::filesystem;
namespace pp = polyglot::plugin;

namespace {

using fixture_models::fixture;

/// The cpu plugin's table and a tiny-llama model created through it.
struct cpu_model {
    pp::plugin_ptr plugin;
    const polyglot_plugin_v1* t = nullptr;
    polyglot_model_t m = nullptr;
    cpu_model() {
        const fs::path file = fs::path(POLYGLOT_BINARY_DIR) / "plugins" / "libpolyglot-cpu.so";
        BOOST_TEST_REQUIRE(fs::exists(file), "cpu plugin not built: " << file);
        plugin = pp::load_plugin(file);
        t = &plugin->table();
        const std::string cfg = "{\"model\": \"" + fixture("tiny-llama").string() + "\"}";
        char err[512] = {};
        BOOST_TEST_REQUIRE(t->create(cfg.c_str(), &m, err, sizeof err) == POLYGLOT_STATUS_OK, err);
    }
    ~cpu_model() { t->destroy(m); }
    std::string error() const { return t->last_error(m); }
};

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(texts_offsets_and_sizes_are_checked, cpu_model) {
    const char data[] = "Iceland";
    std::uint64_t offsets[2] = {0, 7};
    polyglot_texts texts{sizeof(polyglot_texts), data, 7, offsets, 1};
    std::int32_t ids[16];
    std::uint64_t out_off[2], needed = 0;
    BOOST_TEST(t->tokenize_texts(m, &texts, POLYGLOT_TOKENIZE_ADD_SPECIAL, ids, 16, out_off, 2,
                                 &needed) == POLYGLOT_STATUS_OK);
    BOOST_TEST(needed == 5u);  // <|begin_of_text|> Ice land (HF: [0, 42, 68, 304, 343])
    // An offset beyond data_size.
    offsets[1] = 8;
    BOOST_TEST(t->tokenize_texts(m, &texts, 0, ids, 16, out_off, 2, &needed) ==
               POLYGLOT_STATUS_INVALID_ARGUMENT);
    BOOST_TEST(has(error(), "beyond"), error());
    offsets[1] = 7;
    // Decreasing offsets; offsets[0] not 0.
    std::uint64_t bad[3] = {0, 5, 3};
    polyglot_texts two{sizeof(polyglot_texts), data, 7, bad, 2};
    BOOST_TEST(t->tokenize_texts(m, &two, 0, ids, 16, out_off, 3, &needed) ==
               POLYGLOT_STATUS_INVALID_ARGUMENT);
    BOOST_TEST(has(error(), "decrease"), error());
    bad[0] = 1;
    BOOST_TEST(t->tokenize_texts(m, &two, 0, ids, 16, out_off, 3, &needed) ==
               POLYGLOT_STATUS_INVALID_ARGUMENT);
    // offsets_cap below n + 1.
    BOOST_TEST(t->tokenize_texts(m, &texts, 0, ids, 16, out_off, 1, &needed) ==
               POLYGLOT_STATUS_INVALID_ARGUMENT);
    // ids_cap too small: BUFFER_TOO_SMALL with the size needed.
    BOOST_TEST(t->tokenize_texts(m, &texts, POLYGLOT_TOKENIZE_ADD_SPECIAL, ids, 2, out_off, 2,
                                 &needed) == POLYGLOT_STATUS_BUFFER_TOO_SMALL);
    BOOST_TEST(needed == 5u);
    // struct_size too small (a caller built against a header that never existed).
    polyglot_texts small = texts;
    small.struct_size = 8;
    BOOST_TEST(t->tokenize_texts(m, &small, 0, ids, 16, out_off, 2, &needed) ==
               POLYGLOT_STATUS_INVALID_ARGUMENT);
    BOOST_TEST(has(error(), "struct_size"), error());
}

BOOST_FIXTURE_TEST_CASE(embed_and_score_outputs_are_checked, cpu_model) {
    const char data[] = "IcelandIsland";
    std::uint64_t offsets[3] = {0, 7, 13};
    polyglot_texts texts{sizeof(polyglot_texts), data, 13, offsets, 2};
    std::uint32_t dim = 0;
    BOOST_TEST_REQUIRE(t->get_dim(m, &dim) == POLYGLOT_STATUS_OK);
    BOOST_TEST(dim == 64u);
    std::vector<float> out(2 * dim);
    BOOST_TEST(t->embed_texts(m, &texts, out.data(), out.size(), nullptr) == POLYGLOT_STATUS_OK);
    BOOST_TEST(t->embed_texts(m, &texts, out.data(), out.size() - 1, nullptr) ==
               POLYGLOT_STATUS_INVALID_ARGUMENT);
    BOOST_TEST(has(error(), "n * dim"), error());
    // n * dim overflows 64 bits: refused before the (two-entry) offsets array is read.
    polyglot_texts huge{sizeof(polyglot_texts), data, 13, offsets, std::uint64_t(1) << 60};
    BOOST_TEST(t->embed_texts(m, &huge, out.data(), out.size(), nullptr) ==
               POLYGLOT_STATUS_INVALID_ARGUMENT);
    BOOST_TEST(has(error(), "overflows"), error());
    // SCORE: out_cap below n.
    polyglot_score_result res[2];
    BOOST_TEST(t->score_texts(m, &texts, &texts, res, 2, nullptr) == POLYGLOT_STATUS_OK);
    BOOST_TEST(t->score_texts(m, &texts, &texts, res, 1, nullptr) ==
               POLYGLOT_STATUS_INVALID_ARGUMENT);
    // SCORE_IDS: out_cap below ids_size, ids offsets beyond ids_size.
    std::int32_t ids[5] = {0, 42, 68, 304, 343};
    std::uint64_t ioff[2] = {0, 5}, from[1] = {1};
    polyglot_id_batch seqs{sizeof(polyglot_id_batch), ids, 5, ioff, 1};
    float lp[5];
    polyglot_score_ids_request rq{};
    rq.struct_size = sizeof rq;
    rq.seqs = &seqs;
    rq.score_from = from;
    rq.logprobs = lp;
    rq.out_cap = 5;
    BOOST_TEST(t->score_ids(m, &rq) == POLYGLOT_STATUS_OK);
    BOOST_TEST(std::isnan(lp[0]));
    BOOST_TEST(lp[1] < 0.0f);
    rq.out_cap = 4;
    BOOST_TEST(t->score_ids(m, &rq) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    BOOST_TEST(has(error(), "out_cap"), error());
    rq.out_cap = 5;
    ioff[1] = 6;
    BOOST_TEST(t->score_ids(m, &rq) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    ioff[1] = 5;
    rq.struct_size = 4;
    BOOST_TEST(t->score_ids(m, &rq) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    // DETOKENIZE: text_cap too small → BUFFER_TOO_SMALL and the size needed.
    char text[64];
    std::uint64_t toff[2], needed = 0;
    BOOST_TEST(t->detokenize(m, &seqs, POLYGLOT_DETOKENIZE_SKIP_SPECIAL, text, 3, toff, 2,
                             &needed) == POLYGLOT_STATUS_BUFFER_TOO_SMALL);
    BOOST_TEST(needed == 7u);
    BOOST_TEST(t->detokenize(m, &seqs, POLYGLOT_DETOKENIZE_SKIP_SPECIAL, text, 64, toff, 2,
                             &needed) == POLYGLOT_STATUS_OK);
    BOOST_TEST(std::string(text, toff[1]) == "Iceland");
}

BOOST_FIXTURE_TEST_CASE(generate_buffers_are_checked, cpu_model) {
    std::int32_t ids[5] = {0, 42, 68, 304, 343};
    std::uint64_t ioff[2] = {0, 5};
    polyglot_id_batch prompts{sizeof(polyglot_id_batch), ids, 5, ioff, 1};
    polyglot_generate_request rq{};
    rq.struct_size = sizeof rq;
    rq.prompt_kind = POLYGLOT_PROMPT_IDS;
    rq.prompt_ids = &prompts;
    rq.max_new_tokens = 8;
    rq.top_p = 1.0f;
    rq.repetition_penalty = 1.0f;
    std::int32_t out_ids[8];
    char text[4];
    polyglot_generation item{};
    item.struct_size = sizeof item;
    item.ids = out_ids;
    item.ids_cap = 7;  // < max_new_tokens
    item.text = text;
    item.text_cap = sizeof text;
    polyglot_generate_result res{sizeof(polyglot_generate_result), &item, 1};
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    BOOST_TEST(has(error(), "ids_cap"), error());
    item.ids_cap = 8;
    // Too small a text buffer: the item says BUFFER_TOO_SMALL and how much it needs; the ids
    // are HF's greedy continuation.
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_OK);
    BOOST_TEST(item.status == POLYGLOT_STATUS_BUFFER_TOO_SMALL);
    BOOST_TEST(item.text_len > item.text_cap);
    const std::vector<std::int32_t> want = {798, 1551, 149, 738, 1084, 1475, 1479, 1456};
    BOOST_TEST(std::vector<std::int32_t>(out_ids, out_ids + item.n_ids) == want,
               boost::test_tools::per_element());
    BOOST_TEST(item.finish_reason == POLYGLOT_FINISH_LENGTH);
    BOOST_TEST(item.prompt_tokens == 5u);
    // max_new_tokens 0, result count mismatch, struct sizes, reserved.
    rq.max_new_tokens = 0;
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    rq.max_new_tokens = 8;
    res.n_items = 2;
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    res.n_items = 1;
    item.struct_size = 8;
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    item.struct_size = sizeof item;
    rq.struct_size = 16;
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    rq.struct_size = sizeof rq;
    rq.reserved = 1;
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_INVALID_ARGUMENT);
    rq.reserved = 0;
    // The cpu plugin decodes under a JSON schema (POLYGLOT_OP_JSON_SCHEMA); a schema that is
    // not JSON is refused (a malformed document), never decoded without its constraint.
    rq.json_schema = "{\"type\": ";
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_FORMAT_ERROR);
    BOOST_TEST(has(error(), "JSON schema"), error());
    rq.json_schema = "{\"type\": \"object\"}";
    char big[256];
    item.text = big;
    item.text_cap = sizeof big;
    BOOST_TEST(t->generate(m, &rq, &res) == POLYGLOT_STATUS_OK);
    BOOST_TEST(item.status == POLYGLOT_STATUS_OK);
    BOOST_TEST(std::string(big, item.text_len).front() == '{');
}

BOOST_AUTO_TEST_CASE(generator_service_text_and_ids) {
    polyglot::backend_options o;
    o.backend = "cpu";
    o.plugin_dirs = {fs::path(POLYGLOT_BINARY_DIR) / "plugins"};
    auto g = polyglot::open_generator(fixture("tiny-llama").string(), o);
    BOOST_TEST(g->backend() == "cpu");
    polyglot::generate_params p;
    p.max_new_tokens = 8;
    p.logprobs = true;
    // "Iceland" with BOS is [0, 42, 68, 304, 343]; HF's greedy continuation follows.
    std::vector<std::string_view> texts = {"Iceland", "Bulgarian"};
    std::vector<polyglot::generation> out(2);
    g->generate(polyglot::prompt_kind::text, texts, {}, 0, p, out);
    const std::vector<std::int32_t> ice = {798, 1551, 149, 738, 1084, 1475, 1479, 1456},
                                    bul = {103, 1535, 1822, 118, 781, 1369, 1445, 1915};
    BOOST_TEST(out[0].ok());
    BOOST_TEST(out[0].ids == ice, boost::test_tools::per_element());
    BOOST_TEST(out[1].ids == bul, boost::test_tools::per_element());
    BOOST_TEST(out[0].prompt_tokens == 5u);
    BOOST_TEST(out[0].logprobs.size() == 8u);
    BOOST_TEST(out[0].finish_reason == POLYGLOT_FINISH_LENGTH);
    BOOST_TEST(!out[0].text.empty());
    // The same as ids; the text equals the ids' decoding.
    std::vector<std::vector<std::int32_t>> ids = {{0, 42, 68, 304, 343}};
    std::vector<polyglot::generation> by_ids(1);
    g->generate(polyglot::prompt_kind::ids, {}, ids, 0, p, by_ids);
    BOOST_TEST(by_ids[0].ids == ice, boost::test_tools::per_element());
    BOOST_TEST(by_ids[0].text == out[0].text);
    BOOST_TEST(by_ids[0].logprobs == out[0].logprobs, boost::test_tools::per_element());
    // An empty id prompt fails its item only, with the reason.
    ids.push_back({});
    std::vector<polyglot::generation> two(2);
    polyglot::call_hooks hooks;
    hooks.item_error = [](std::uint64_t, polyglot_status, std::string_view) {};
    g->generate(polyglot::prompt_kind::ids, {}, ids, 0, p, two, &hooks);
    BOOST_TEST(two[0].ok());
    BOOST_TEST(!two[1].ok());
    BOOST_TEST(has(two[1].error, "empty prompt"), two[1].error);
}

BOOST_AUTO_TEST_CASE(cancelled_generation_reports_every_item) {
    polyglot::backend_options o;
    o.backend = "cpu";
    o.plugin_dirs = {fs::path(POLYGLOT_BINARY_DIR) / "plugins"};
    auto g = polyglot::open_generator(fixture("tiny-llama").string(), o);
    polyglot::generate_params p;
    p.max_new_tokens = 8;
    std::vector<std::string_view> texts = {"Iceland", "Bulgarian"};
    std::vector<polyglot::generation> out(2);
    const volatile std::int32_t cancel = 1;
    polyglot::call_hooks hooks;
    hooks.cancel = &cancel;
    g->generate(polyglot::prompt_kind::text, texts, {}, 0, p, out, &hooks);
    for (const auto& x : out) {
        BOOST_TEST(!x.ok());  // never an empty completion that looks finished
        BOOST_TEST(x.status == POLYGLOT_STATUS_CANCELLED);
        BOOST_TEST(x.finish_reason == POLYGLOT_FINISH_NONE);
    }
}
