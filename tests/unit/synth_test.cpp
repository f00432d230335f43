// SPDX-License-Identifier: Apache-2.0
// Teacher synthesis with a scripted generator: prompts equal the paper's templates (goldens
// from tests/oracles/synth_prompt_oracle.py, which imports them), the seed plan's filters,
// per-row draws, the records' schema, failures and the length filter counted, byte-identical
// output for any batching, and resuming after a crash (an unfinished last line) without
// duplicates.
#define BOOST_TEST_MODULE synth
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/synth/synthesize.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/files.hpp"

namespace pg = polyglot;
namespace an = polyglot::analysis;
namespace sy = polyglot::synth;
namespace fs = std::filesystem;

namespace {

using polyglot::testing::read_file;

fs::path temp_path(const std::string& name) {
    return polyglot::testing::temp_path("synth_test", name);
}

std::uint64_t fnv(std::string_view s) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return h;
}

/// Output = f(prompt, seed, index); rows listed in @p fail_as get that outcome instead.
class scripted_generator final : public pg::generator {
  public:
    std::map<std::uint64_t, std::string> fail_as;  ///< index → call_failed|truncated|bad|empty
    bool structured = true;
    std::size_t calls = 0;
    [[nodiscard]] std::string id() const override { return "scripted-teacher"; }
    [[nodiscard]] std::string backend() const override { return "test"; }
    void generate(pg::prompt_kind kind, std::span<const std::string_view> prompts,
                  std::span<const std::vector<std::int32_t>>, std::uint64_t first_index,
                  const pg::generate_params& p, std::span<pg::generation> out,
                  const pg::call_hooks* hooks) override {
        BOOST_REQUIRE(kind == pg::prompt_kind::messages);
        ++calls;
        for (std::size_t i = 0; i < prompts.size(); ++i) {
            const std::uint64_t idx = first_index + i;
            const std::uint64_t h = fnv(prompts[i]) ^ (p.seed * 31 + idx);
            pg::generation g;
            g.prompt_tokens = static_cast<std::uint32_t>(prompts[i].size() / 4);
            g.ids.assign(7, 1);
            g.finish_reason = POLYGLOT_FINISH_EOS;
            g.text = structured ? "{\"prompt\":\"P" + std::to_string(h % 997) +
                                      " \\\"q\\\"\",\"response\":\"R" + std::to_string(idx) + "\"}"
                                : "Antwort " + std::to_string(h % 997);
            if (auto it = fail_as.find(idx); it != fail_as.end()) {
                if (it->second == "call_failed") {
                    g.status = POLYGLOT_STATUS_UNAVAILABLE;
                    g.error = "server timed out";
                    if (hooks && hooks->item_error) hooks->item_error(i, g.status, g.error);
                } else if (it->second == "truncated") {
                    g.finish_reason = POLYGLOT_FINISH_LENGTH;
                } else if (it->second == "bad") {
                    g.text = "{\"prompt\": \"x\"";
                } else if (it->second == "empty") {
                    g.text = structured ? "{\"prompt\":\"x\",\"response\":\"  \"}" : "";
                }
            }
            out[i] = std::move(g);
        }
    }
    std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string_view>,
                                                    bool) override {
        throw pg::unsupported_error("no tokenizer");
    }
};

/// A seed file: @p n German rows (generate/respond), every 5th an English translate row, plus
/// a Spanish row, a bad line and a duplicate id.
fs::path make_seeds(int n) {
    const fs::path p = temp_path("seeds.jsonl");
    std::ofstream f(p, std::ios::binary);
    for (int i = 0; i < n; ++i) {
        if (i % 5 == 4)
            f << R"({"id":"en)" << i
              << R"(","source":"gsm8k","language":"en","strategy":["translate"],)"
              << R"("source_id":)" << i << R"(,"prompt":"What is )" << i << R"( + 1?","response":")"
              << i + 1 << "\"}\n";
        else
            f << R"({"id":"de)" << i
              << R"(","source":"aya","language":"de","strategy":["generate","respond"],)"
              << R"("source_id":"s)" << i << R"(","prompt":"Frage )" << i
              << R"(","response":"Antwort )" << i << "\"}\n";
    }
    f << R"({"id":"es1","language":"es","strategy":["generate","respond"],"prompt":"p","response":"r"})"
      << "\n";
    f << "{broken\n\n";
    f << R"({"id":"de0","language":"de","strategy":"generate","prompt":"dup","response":"r"})"
      << "\n";
    return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(prompts_equal_the_papers_templates) {
    const auto rows =
        an::parse_json_lines(read_file("tests/data/synth/prompts.jsonl"), "prompts.jsonl");
    for (const auto& [line_no, v] : rows) {
        const auto& lang = v.find("language")->as_string();
        const auto& prompt = v.find("prompt")->as_string();
        std::vector<std::pair<std::string_view, std::string_view>> ex;
        for (const auto& e : v.find("examples")->as_array())
            ex.emplace_back(e.as_array()[0].as_string(), e.as_array()[1].as_string());
        const std::string examples = sy::format_examples(ex);
        BOOST_TEST(examples == v.find("examples_str")->as_string());
        BOOST_TEST(sy::system_prompt(lang) == v.find("system")->as_string());
        BOOST_TEST(sy::generate_prompt(lang, examples, std::nullopt) ==
                   v.find("generate")->as_string());
        BOOST_TEST(sy::translate_prompt(lang, prompt) == v.find("translate")->as_string());
        BOOST_TEST(sy::respond_prompt(lang, prompt) == v.find("respond")->as_string());
        // Drawn category: the paper's text with the list replaced by the one category.
        const std::string drawn = sy::generate_prompt(lang, examples, 3);
        BOOST_TEST(drawn.find("MUST belong to the following category (do NOT mention the "
                              "category): Dialogue or role-play\n") != std::string::npos);
        BOOST_TEST(drawn.find("1. Logical reasoning") == std::string::npos);
        const std::string& paper = v.find("generate")->as_string();
        BOOST_TEST(drawn.substr(drawn.find("\nAdd diversity")) ==
                   paper.substr(paper.find("\nAdd diversity")));
    }
    BOOST_TEST(rows.size() == 2u);
}

BOOST_AUTO_TEST_CASE(plan_filters_shuffles_and_limits) {
    const auto seeds = make_seeds(50);
    sy::options o;
    o.lang = "de";
    o.strat = sy::strategy::generate;
    std::vector<std::string> skips;
    auto p = sy::make_plan(seeds, o, [&](const std::string& m) { skips.push_back(m); });
    BOOST_TEST(p.rows.size() == 40u);
    BOOST_TEST(p.skipped["strategy_mismatch"] == 10u);
    BOOST_TEST(p.skipped["language_mismatch"] == 1u);
    BOOST_TEST(p.skipped["malformed_json"] == 1u);
    BOOST_TEST(p.skipped["duplicate_id"] == 1u);
    BOOST_TEST(p.lines_read == 53u);
    BOOST_REQUIRE(skips.size() == 2u);  // mismatches are selection, not errors
    BOOST_TEST(skips[0].find(seeds.string() + ":52: malformed_json") == 0u);
    o.strat = sy::strategy::translate;
    p = sy::make_plan(seeds, o);
    BOOST_TEST(p.rows.size() == 10u);  // no language filter for translate
    BOOST_TEST(p.rows[0].language == "en");
    o.strat = sy::strategy::respond;
    o.shuffle = 921;
    o.limit = 7;
    auto a = sy::make_plan(seeds, o);
    auto b = sy::make_plan(seeds, o);
    BOOST_TEST(a.rows.size() == 7u);
    std::vector<std::string> ia, ib, plain;
    for (auto& r : a.rows) ia.push_back(r.id);
    for (auto& r : b.rows) ib.push_back(r.id);
    BOOST_TEST(ia == ib, boost::test_tools::per_element());
    o.shuffle.reset();
    for (auto& r : sy::make_plan(seeds, o).rows) plain.push_back(r.id);
    plain.resize(7);
    BOOST_TEST((ia != plain));
    o.filter = false;
    o.limit = 0;
    BOOST_TEST(sy::make_plan(seeds, o).rows.size() == 51u);
    BOOST_CHECK_THROW(sy::make_plan(seeds, o, {}, true), pg::error);
    fs::remove(seeds);
}

BOOST_AUTO_TEST_CASE(generate_draws_examples_and_categories_per_row) {
    const auto seeds = make_seeds(200);
    sy::options o;
    o.lang = "de";
    o.seed = 3;
    const auto p = sy::make_plan(seeds, o);
    std::map<std::string, int> category_counts;
    std::map<std::string, int> example_counts;
    for (std::size_t i = 0; i < p.rows.size(); ++i) {
        const std::string s = sy::synth_prompt(p, i, o);
        BOOST_TEST(s == sy::synth_prompt(p, i, o));  // a pure function of (seed, row)
        for (auto c : sy::categories)
            if (s.find(std::string("(do NOT mention the category): ") + std::string(c) + "\n") !=
                std::string::npos)
                ++category_counts[std::string(c)];
        std::set<std::string> ex;
        for (std::size_t pos = 0; (pos = s.find("Prompt: Frage ", pos)) != std::string::npos;) {
            const auto end = s.find('\n', pos);
            ex.insert(s.substr(pos, end - pos));
            pos = end;
        }
        BOOST_TEST(ex.size() == 3u);  // three distinct pool rows
        for (const auto& e : ex) ++example_counts[e];
    }
    BOOST_TEST(category_counts.size() == 10u);
    int total = 0;
    for (const auto& [c, k] : category_counts) total += k;
    BOOST_TEST(total == static_cast<int>(p.rows.size()));
    BOOST_TEST(example_counts.size() > p.rows.size() * 3 / 4);  // spread over the pool
    o.seed = 4;
    BOOST_TEST(sy::synth_prompt(p, 0, o) != ([&] {
                   sy::options o3 = o;
                   o3.seed = 3;
                   return sy::synth_prompt(p, 0, o3);
               }()));
    fs::remove(seeds);
}

BOOST_AUTO_TEST_CASE(records_failures_and_length_filter) {
    const auto seeds = make_seeds(30);
    const auto out = temp_path("out.jsonl");
    fs::remove(out);
    sy::options o;
    o.lang = "de";
    o.model_name = "teacher-x";
    o.strat = sy::strategy::generate;
    const auto p = sy::make_plan(seeds, o);
    BOOST_REQUIRE_EQUAL(p.rows.size(), 24u);
    scripted_generator g;
    g.fail_as = {{1, "call_failed"}, {2, "truncated"}, {3, "bad"}, {5, "empty"}};
    auto st = sy::run(g, p, o, out);
    BOOST_TEST(st.written == 20u);
    BOOST_TEST(st.failed["call_failed"] == 1u);
    BOOST_TEST(st.failed["truncated"] == 1u);
    BOOST_TEST(st.failed["invalid_json"] == 1u);
    BOOST_TEST(st.failed["empty_response"] == 1u);
    BOOST_TEST(st.tokens_out == 24u * 7u);
    const auto rows = an::parse_json_lines(read_file(out), "out");
    BOOST_REQUIRE_EQUAL(rows.size(), 20u);
    const auto& r0 = rows[0].second;
    const std::vector<std::string> keys = {
        "id",    "source", "language", "strategy", "source_id",    "synth_prompt",
        "model", "prompt", "response", "messages", "prompt_input", "response_input"};
    std::vector<std::string> got;
    for (const auto& m : r0.as_object()) got.push_back(m.key);
    BOOST_TEST(got == keys, boost::test_tools::per_element());
    BOOST_TEST(r0.find("id")->as_string() == p.rows[0].id);
    BOOST_TEST(r0.find("strategy")->as_string() == "generate");
    BOOST_TEST(r0.find("model")->as_string() == "teacher-x");
    BOOST_TEST(r0.find("language")->as_string() == "de");
    BOOST_TEST(r0.find("prompt_input")->as_string() == p.rows[0].prompt);
    BOOST_TEST(r0.find("synth_prompt")->as_string() == sy::synth_prompt(p, 0, o));
    BOOST_TEST(r0.find("response")->as_string() == "R0");
    BOOST_TEST(r0.find("prompt")->as_string().find(" \"q\"") != std::string::npos);
    const auto& msgs = r0.find("messages")->as_array();
    BOOST_TEST(msgs[0].find("role")->as_string() == "user");
    BOOST_TEST(msgs[0].find("content")->as_string() == r0.find("prompt")->as_string());
    BOOST_TEST(msgs[1].find("content")->as_string() == r0.find("response")->as_string());
    // The length filter: a limit just above the system prompt drops every row.
    fs::remove(out);
    o.max_model_len = 600;
    st = sy::run(g, p, o, out);
    BOOST_TEST(st.too_long == 24u);
    BOOST_TEST(st.written == 0u);
    // respond: free text, the seed prompt kept.
    fs::remove(out);
    o.max_model_len = 4096;
    o.strat = sy::strategy::respond;
    g.structured = false;
    g.fail_as = {{0, "empty"}};
    const auto pr = sy::make_plan(seeds, o);
    st = sy::run(g, pr, o, out);
    BOOST_TEST(st.failed["empty_response"] == 1u);
    const auto rr = an::parse_json_lines(read_file(out), "out");
    BOOST_TEST(rr[0].second.find("prompt")->as_string() == pr.rows[1].prompt);
    BOOST_TEST(rr[0].second.find("response")->as_string().rfind("Antwort ", 0) == 0u);
    fs::remove(out);
    fs::remove(seeds);
}

BOOST_AUTO_TEST_CASE(same_output_for_any_batching_and_after_a_crash) {
    const auto seeds = make_seeds(60);
    sy::options o;
    o.lang = "de";
    o.seed = 11;
    const auto p = sy::make_plan(seeds, o);
    std::string reference;
    for (std::size_t batch : {64u, 1u, 7u}) {
        const auto out = temp_path("b" + std::to_string(batch) + ".jsonl");
        fs::remove(out);
        o.batch = batch;
        scripted_generator g;
        g.fail_as = {{9, "bad"}};
        sy::run(g, p, o, out);
        const std::string got = read_file(out);
        if (reference.empty())
            reference = got;
        else
            BOOST_TEST((got == reference), "batch " << batch);
        fs::remove(out);
    }
    // Crash: the first 17 records and half of the 18th are on disk.
    const auto out = temp_path("crash.jsonl");
    std::size_t cut = 0;
    for (int k = 0; k < 17; ++k) cut = reference.find('\n', cut) + 1;
    {
        std::ofstream f(out, std::ios::binary);
        f << reference.substr(0, cut) << reference.substr(cut, 40);
    }
    o.batch = 5;
    scripted_generator g;
    g.fail_as = {{9, "bad"}};
    const auto st = sy::run(g, p, o, out);
    BOOST_TEST(st.dropped_partial_lines == 1u);
    BOOST_TEST(st.already_done == 17u);
    BOOST_TEST((read_file(out) == reference));
    // Run again: nothing left to do; the failed row is asked again and fails again.
    const auto st2 = sy::run(g, p, o, out);
    BOOST_TEST(st2.written == 0u);
    BOOST_TEST(st2.already_done == p.rows.size() - 1);
    BOOST_TEST(st2.failed.at("invalid_json") == 1u);
    BOOST_TEST((read_file(out) == reference));
    // A file that is not ours is refused, not appended to.
    {
        std::ofstream f(out, std::ios::binary);
        f << "{\"x\": 1}\n";
    }
    BOOST_CHECK_THROW(sy::run(g, p, o, out), pg::format_error);
    fs::remove(out);
    fs::remove(seeds);
}

BOOST_AUTO_TEST_CASE(cancel_stops_after_the_round) {
    const auto seeds = make_seeds(40);
    const auto out = temp_path("cancel.jsonl");
    fs::remove(out);
    sy::options o;
    o.lang = "de";
    o.batch = 4;
    const auto p = sy::make_plan(seeds, o);
    scripted_generator g;
    volatile std::int32_t cancel = 0;
    sy::run_hooks h;
    h.cancel = &cancel;
    int rounds = 0;
    h.on_progress = [&](const sy::stats&) {
        if (++rounds == 2) cancel = 1;
    };
    const auto st = sy::run(g, p, o, out, h);
    BOOST_TEST(st.cancelled);
    BOOST_TEST(st.written == 8u);
    cancel = 0;
    h.on_progress = {};
    const auto st2 = sy::run(g, p, o, out, h);
    BOOST_TEST(st2.already_done == 8u);
    BOOST_TEST(st2.written == p.rows.size() - 8);
    fs::remove(out);
    fs::remove(seeds);
}
