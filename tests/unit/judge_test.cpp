// SPDX-License-Identifier: Apache-2.0
// The rubric judge: prompts equal what the paper's code builds and the prometheus parser gives
// what prometheus-eval's parser gives (goldens from tests/oracles/prometheus_parser_oracle.py,
// which imports the originals); re-asking with per-attempt seeds on a scripted generator;
// the reward_model report through the scoring pipeline against hand-computed counts; pgscore's
// z-score uses the column (checked against numpy).
#define BOOST_TEST_MODULE judge
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <polyglot/json/value.hpp>
#include <polyglot/analysis/pgscore.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/judge/rubric.hpp>
#include <polyglot/metrics/rubric.hpp>
#include <polyglot/score/score.hpp>
#include <polyglot/text/language_names.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/files.hpp"

namespace pg = polyglot;
namespace an = polyglot::analysis;
namespace fs = std::filesystem;
using pg::judge::judge_format;

namespace {

using polyglot::testing::read_file;

fs::path temp_path(const std::string& name) {
    return polyglot::testing::temp_path("judge_test", name);
}

/// A generator whose output is a function of (prompt, seed of the call, record index).
class scripted_generator final : public pg::generator {
  public:
    using script = std::function<pg::generation(std::string_view prompt, std::uint64_t seed,
                                                std::uint64_t index)>;
    explicit scripted_generator(script s) : s_(std::move(s)) {}
    std::vector<std::pair<std::uint64_t, std::size_t>> calls;  ///< (first_index, size)
    std::vector<pg::generate_params> params;

    [[nodiscard]] std::string id() const override { return "scripted-judge"; }
    [[nodiscard]] std::string backend() const override { return "test"; }
    void generate(pg::prompt_kind kind, std::span<const std::string_view> prompts,
                  std::span<const std::vector<std::int32_t>>, std::uint64_t first_index,
                  const pg::generate_params& p, std::span<pg::generation> out,
                  const pg::call_hooks* hooks) override {
        BOOST_REQUIRE(kind == pg::prompt_kind::messages);
        BOOST_REQUIRE_EQUAL(prompts.size(), out.size());
        calls.emplace_back(first_index, prompts.size());
        params.push_back(p);
        for (std::size_t i = 0; i < prompts.size(); ++i) {
            out[i] = s_(prompts[i], p.seed, first_index + i);
            if (!out[i].ok() && hooks && hooks->item_error)
                hooks->item_error(i, out[i].status, out[i].error);
        }
    }
    std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string_view>,
                                                    bool) override {
        throw pg::unsupported_error("scripted generator: no tokenizer");
    }

  private:
    script s_;
};

pg::generation text_gen(std::string t, std::int32_t finish = POLYGLOT_FINISH_EOS) {
    pg::generation g;
    g.text = std::move(t);
    g.finish_reason = finish;
    return g;
}

pg::generation failed_gen(std::string why) {
    pg::generation g;
    g.status = POLYGLOT_STATUS_DEVICE_ERROR;
    g.error = std::move(why);
    return g;
}

/// Which attempt a call's seed belongs to.
std::uint32_t attempt_of(std::uint64_t call_seed, std::uint64_t base_seed) {
    for (std::uint32_t k = 0; k < 16; ++k)
        if (pg::judge::attempt_seed(base_seed, k) == call_seed) return k;
    BOOST_FAIL("a call seed that no attempt has");
    return 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(prompts_equal_the_papers_code) {
    const auto rows =
        an::parse_json_lines(read_file("tests/data/judge/prompts.jsonl"), "prompts.jsonl");
    for (const auto& [line_no, v] : rows) {
        const auto fmt = pg::judge::parse_format(v.find("format")->as_string());
        const auto& lang = v.find("language")->as_string();
        const auto& inst = v.find("instruction")->as_string();
        const auto& resp = v.find("response")->as_string();
        BOOST_TEST(pg::judge::rubric(lang) == v.find("rubric")->as_string());
        BOOST_TEST(pg::judge::user_prompt(fmt, lang, inst, resp) == v.find("user")->as_string());
        const auto msgs = an::parse_json(pg::judge::messages(fmt, lang, inst, resp), "messages");
        const auto& arr = msgs.as_array();
        if (fmt == judge_format::prometheus) {
            BOOST_REQUIRE_EQUAL(arr.size(), 2u);
            BOOST_TEST(arr[0].find("role")->as_string() == "system");
            BOOST_TEST(arr[0].find("content")->as_string() == v.find("system")->as_string());
        } else {
            BOOST_REQUIRE_EQUAL(arr.size(), 1u);
        }
        BOOST_TEST(arr.back().find("role")->as_string() == "user");
        BOOST_TEST(arr.back().find("content")->as_string() == v.find("user")->as_string());
    }
    BOOST_TEST(rows.size() == 6u);
}

BOOST_AUTO_TEST_CASE(prometheus_parser_equals_prometheus_eval) {
    const auto rows = an::parse_json_lines(read_file("tests/data/judge/prometheus_cases.jsonl"),
                                           "prometheus_cases.jsonl");
    for (const auto& [line_no, v] : rows) {
        const std::string& text = v.find("text")->as_string();
        const auto* score = v.find("score");
        const auto got = pg::judge::parse_prometheus(text);
        BOOST_TEST_INFO("case: " << text);
        if (score->is_null()) {
            BOOST_TEST((got.why != pg::judge::failure::none));
        } else {
            BOOST_TEST((got.why == pg::judge::failure::none));
            BOOST_TEST(got.score == static_cast<int>(score->as_number()));
        }
    }
    BOOST_TEST(rows.size() == 60u);
    // Feedback is the text before the marker; out-of-range scores are told apart.
    auto v = pg::judge::parse_prometheus("  Sehr gut erklärt.\n[RESULT] 4 ");
    BOOST_TEST(v.feedback == "Sehr gut erklärt.");
    BOOST_TEST(v.score == 4);
    BOOST_TEST(
        (pg::judge::parse_prometheus("ok [RESULT] 6").why == pg::judge::failure::out_of_range));
    BOOST_TEST(
        (pg::judge::parse_prometheus("ok [RESULT] 0").why == pg::judge::failure::out_of_range));
    BOOST_TEST((pg::judge::parse_prometheus("ok").why == pg::judge::failure::unparsable));
}

BOOST_AUTO_TEST_CASE(json_parser) {
    using pg::judge::failure;
    auto v = pg::judge::parse_json(R"({"feedback":"Gut.","score":4})");
    BOOST_TEST((v.why == failure::none));
    BOOST_TEST(v.score == 4);
    BOOST_TEST(v.feedback == "Gut.");
    BOOST_TEST(pg::judge::parse_json(" {\"score\": 2, \"feedback\": \"x\"}\n").score == 2);
    BOOST_TEST(
        (pg::judge::parse_json(R"({"feedback":"x","score":0})").why == failure::out_of_range));
    BOOST_TEST(
        (pg::judge::parse_json(R"({"feedback":"x","score":6})").why == failure::out_of_range));
    BOOST_TEST(
        (pg::judge::parse_json(R"({"feedback":"x","score":"4"})").why == failure::unparsable));
    BOOST_TEST(
        (pg::judge::parse_json(R"({"feedback":"x","score":4} thanks)").why == failure::unparsable));
    BOOST_TEST((pg::judge::parse_json("garbage").why == failure::unparsable));
    BOOST_TEST((pg::judge::parse_json(R"({"feedback":"x"})").why == failure::unparsable));
}

BOOST_AUTO_TEST_CASE(language_names_as_the_paper) {
    // langcodes' display_name() for the paper's languages (docs/reference.md §2).
    const std::map<std::string, std::string> expect = {
        {"ar", "Arabic"},     {"cs", "Czech"},        {"de", "German"},  {"es", "Spanish"},
        {"id", "Indonesian"}, {"ja", "Japanese"},     {"tl", "Tagalog"}, {"fil", "Filipino"},
        {"de-AT", "German"},  {"pt_BR", "Portuguese"}};
    for (const auto& [code, name] : expect) BOOST_TEST(pg::text::language_name(code) == name);
    BOOST_CHECK_THROW(pg::text::language_name("zz"), pg::argument_error);
    BOOST_CHECK_THROW(pg::text::language_name(""), pg::argument_error);
}

BOOST_AUTO_TEST_CASE(reasks_with_new_seeds_until_valid) {
    // index → outputs per attempt
    const std::map<std::uint64_t, std::vector<pg::generation>> script = {
        {10, {text_gen(R"({"feedback":"a","score":3})")}},
        {11, {text_gen("garbage"), text_gen(R"({"feedback":"b","score":5})")}},
        {12,
         {text_gen(R"({"feedback":"c","score":9})"), failed_gen("timeout"),
          text_gen(R"({"feedback":"c","sc)", POLYGLOT_FINISH_LENGTH),
          text_gen(R"({"feedback":"c","score":"4"})")}},
        {14, {failed_gen("timeout"), text_gen(R"({"feedback":"d","score":1})")}},
    };
    pg::judge::options o;
    o.seed = 77;
    o.retries = 3;
    auto make = [&] {
        return scripted_generator([&](std::string_view, std::uint64_t seed, std::uint64_t idx) {
            const auto& outs = script.at(idx);
            const auto k = attempt_of(seed, o.seed);
            return k < outs.size() ? outs[k] : outs.back();
        });
    };
    std::vector<pg::judge::item> items = {{"German", "p", "r", 10},
                                          {"German", "p", "r", 11},
                                          {"German", "p", "r", 12},
                                          {"German", "p", "r", 14}};
    auto g = make();
    std::vector<pg::judgement> out(items.size());
    pg::judge::run(g, o, items, out);
    BOOST_TEST(out[0].score == 3);
    BOOST_TEST(out[0].attempts == 1u);
    BOOST_TEST(out[1].score == 5);
    BOOST_TEST(out[1].attempts == 2u);
    BOOST_TEST(out[1].feedback == "b");
    BOOST_TEST(out[2].score == 0);
    BOOST_TEST(out[2].attempts == 4u);
    const std::vector<std::string> f2 = {"out_of_range", "call_failed", "truncated", "unparsable"};
    BOOST_TEST(out[2].failures == f2, boost::test_tools::per_element());
    BOOST_TEST(out[2].last_output == R"({"feedback":"c","score":"4"})");
    BOOST_TEST(out[3].score == 1);
    BOOST_TEST(out[3].attempts == 2u);
    // Calls: attempt 0 asks 10..12 together and 14 alone (not consecutive); re-asks group runs.
    using call = std::pair<std::uint64_t, std::size_t>;
    const std::vector<call> expect_calls = {{10, 3}, {14, 1}, {11, 2}, {14, 1}, {12, 1}, {12, 1}};
    BOOST_TEST((g.calls == expect_calls));
    BOOST_TEST(g.params.front().json_schema == std::string(pg::judge::json_schema()));
    BOOST_TEST(g.params.front().temperature == 1.0f);
    BOOST_TEST(g.params.front().top_p == 0.9f);
    // Asking one by one gives the same verdicts (seeds follow the record index).
    auto g1 = make();
    for (std::size_t i = 0; i < items.size(); ++i) {
        std::vector<pg::judgement> one(1);
        pg::judge::run(g1, o, std::span(items).subspan(i, 1), one);
        BOOST_TEST(one[0].score == out[i].score);
        BOOST_TEST(one[0].attempts == out[i].attempts);
    }
    // Prometheus format: free text, no schema, the system prompt first.
    o.format = judge_format::prometheus;
    scripted_generator gp([&](std::string_view prompt, std::uint64_t, std::uint64_t) {
        BOOST_TEST(prompt.find("\"role\":\"system\"") != std::string_view::npos);
        return text_gen("Feedback: fine. [RESULT] 2");
    });
    pg::judge::run(gp, o, std::span(items).subspan(0, 1), std::span(out).subspan(0, 1));
    BOOST_TEST(out[0].score == 2);
    BOOST_TEST(out[0].feedback == "Feedback: fine.");
    BOOST_TEST(gp.params.front().json_schema.empty());
}

namespace {

/// Runs the scoring pipeline with a scripted judge over @p lines; returns the report JSON.
std::string score_with_judge(const std::vector<std::string>& lines, scripted_generator::script s,
                             std::optional<int> invalid_as, std::size_t chunk_lines,
                             std::string* per_instance = nullptr) {
    const fs::path in = temp_path("in.jsonl");
    {
        std::ofstream f(in, std::ios::binary);
        for (const auto& l : lines) f << l << "\n";
    }
    pg::score::metric_bundle b;
    b.judge = std::make_unique<scripted_generator>(std::move(s));
    b.judge_options.seed = 5;
    b.judge_options.retries = 2;
    pg::metrics::rubric_metric::info info;
    info.judge = "scripted-judge";
    info.format = "json";
    info.invalid_as = invalid_as;
    b.metrics.push_back(pg::score::erase(pg::metrics::rubric_metric(info)));
    pg::score::run_options ro;
    ro.inputs = {in.string()};
    ro.jsonl.chunk_lines = chunk_lines;
    pg::score::run_hooks hooks;
    if (per_instance) hooks.per_instance = [&](std::string_view t) { per_instance->append(t); };
    auto res = pg::score::run(ro, b, hooks);
    fs::remove(in);
    pg::io::json_writer w;
    w.begin_object();
    pg::score::write_sections(w, b, res);
    w.end_object();
    return w.take();
}

}  // namespace

BOOST_AUTO_TEST_CASE(report_counts_through_the_pipeline) {
    // Record i's judge outputs, per attempt (retries 2 → at most 3 attempts).
    const std::vector<std::vector<std::string>> outputs = {
        {R"({"feedback":"a","score":5})"},             // 5
        {"garbage", R"({"feedback":"b","score":4})"},  // 4, 1 re-ask
        {R"({"feedback":"c","score":0})", R"({"feedback":"c","score":6})",
         R"({"feedback":"c","score":"4"})"},                                          // invalid
        {R"({"feedback":"d","score":4})"},                                            // 4
        {R"({"feedback":"e","score":2} trailing)", R"({"feedback":"e","score":2})"},  // 2
        {"", "", ""},                                                                 // invalid
        {R"({"feedback":"g","score":4})"},                                            // 4
    };
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < outputs.size(); ++i)
        lines.push_back(R"({"prompt":"Frage )" + std::to_string(i) +
                        R"(","response":"Antwort","language":"de"})");
    lines.push_back(R"({"prompt":"q","response":"r"})");  // no language: invalid, never asked
    const std::uint64_t seed = 5;
    auto script = [&](std::string_view prompt, std::uint64_t s, std::uint64_t idx) {
        BOOST_TEST(prompt.find("in German,") != std::string_view::npos);
        // Which record this is, from its text; its index is its place in the input (file 0,
        // 1-based line), which seeds the call.
        const auto at = prompt.find("Frage ");
        BOOST_REQUIRE(at != std::string_view::npos);
        const std::size_t rec = std::size_t(prompt[at + 6] - '0');
        BOOST_TEST(idx == rec + 1);
        const auto& o = outputs.at(rec);
        const auto k = attempt_of(s, seed);
        return text_gen(k < o.size() ? o[k] : o.back());
    };
    // Hand-computed: valid 5,4,4,2,4 → mean 19/5 = 3.8; invalid 3 (out/unparsable, "", no
    // language); with --invalid-as 1: (19 + 3) / 8 = 2.75. Attempts 1+2+3+1+2+3+1 = 13,
    // re-asks 6.
    for (std::size_t chunk : {1u, 3u, 1024u}) {
        std::string inst;
        const auto rep =
            an::parse_json(score_with_judge(lines, script, std::nullopt, chunk, &inst), "report");
        const auto* r = rep.find("reward_model");
        BOOST_REQUIRE(r);
        BOOST_TEST(r->find("average_rubric_score")->as_number() == 3.8);
        BOOST_TEST(r->find("num_valid")->as_number() == 5);
        BOOST_TEST(r->find("num_invalid")->as_number() == 3);
        BOOST_TEST(r->find("num_attempts")->as_number() == 13);
        BOOST_TEST(r->find("num_retries")->as_number() == 6);
        BOOST_TEST(r->find("invalid_as")->is_null());
        const auto* h = r->find("score_histogram");
        const double hist[] = {0, 1, 0, 3, 1};
        for (int s = 1; s <= 5; ++s)
            BOOST_TEST(h->find(std::to_string(s))->as_number() == hist[s - 1]);
        const auto* why = r->find("invalid_reasons");
        BOOST_TEST(why->find("unparsable")->as_number() == 2);
        BOOST_TEST(why->find("no_language")->as_number() == 1);
        const auto* fails = r->find("attempt_failures");
        BOOST_TEST(fails->find("unparsable")->as_number() == 6);  // garbage, "4", trailing, "" ×3
        BOOST_TEST(fails->find("out_of_range")->as_number() == 2);
        BOOST_TEST(fails->find("no_language")->as_number() == 1);
        // per instance: score, feedback, attempts in input order
        const auto rows = an::parse_json_lines(inst, "per-instance");
        BOOST_REQUIRE_EQUAL(rows.size(), 8u);
        BOOST_TEST(rows[1].second.find("rubric_score")->as_number() == 4);
        BOOST_TEST(rows[1].second.find("rubric_feedback")->as_string() == "b");
        BOOST_TEST(rows[1].second.find("rubric_attempts")->as_number() == 2);
        BOOST_TEST(rows[2].second.find("rubric_score")->is_null());
        BOOST_TEST(rows[2].second.find("rubric_invalid")->as_string() == "unparsable");
    }
    const auto rep = an::parse_json(score_with_judge(lines, script, 1, 1024), "report");
    BOOST_TEST(rep.find("reward_model")->find("average_rubric_score")->as_number() == 2.75);
    BOOST_TEST(rep.find("reward_model")->find("invalid_as")->as_number() == 1);
}

BOOST_AUTO_TEST_CASE(pgscore_z_uses_the_rubric_column) {
    // Three teachers' reports with a reward_model section written by the metric itself.
    struct row {
        std::string teacher;
        double p_dri, r_dri, ppl;
        std::vector<int> scores;
    };
    const std::vector<row> rows = {{"t1", 0.61, 0.55, 12.0, {5, 4, 4}},
                                   {"t2", 0.58, 0.60, 9.5, {3, 3, 2, 4}},
                                   {"t3", 0.70, 0.52, 15.0, {5, 5}}};
    std::vector<an::intrinsic_report> reports;
    std::string py_rows;
    for (const auto& r : rows) {
        pg::metrics::rubric_metric m;
        auto st = m.make_state();
        std::vector<pg::judgement> js(r.scores.size());
        for (std::size_t i = 0; i < r.scores.size(); ++i) {
            js[i].score = r.scores[i];
            js[i].attempts = 1;
            pg::record rec;
            rec.judge = &js[i];
            pg::instance_values iv;
            m.accumulate(st, rec, iv);
        }
        pg::io::json_writer w;
        w.begin_object();
        w.key("metadata")
            .begin_object()
            .kv("teacher", r.teacher)
            .kv("target_lang", "de")
            .end_object();
        w.key("distinct_ri")
            .begin_object()
            .kv("prompts_distinct_ri", r.p_dri)
            .kv("responses_distinct_ri", r.r_dri)
            .end_object();
        w.key("perplexity").begin_object().kv("average_perplexity", r.ppl).end_object();
        w.key(pg::metrics::rubric_metric::name).begin_object();
        m.finalize(st, w);
        w.end_object();
        w.end_object();
        reports.push_back(an::intrinsic_report_from_json(an::parse_json(w.str(), r.teacher),
                                                         r.teacher + ".json"));
        double mean = 0;
        for (int s : r.scores) mean += s;
        mean /= static_cast<double>(r.scores.size());
        BOOST_TEST(reports.back().get("average_rubric_score") == mean,
                   boost::test_tools::tolerance(1e-12));
        std::ostringstream py;
        py.precision(17);
        py << "[" << r.p_dri << "," << r.r_dri << "," << mean << ",-math.log1p(" << r.ppl << ")],";
        py_rows += py.str();
    }
    const auto z = an::compute_zscores(reports);
    BOOST_TEST(z.pool.features.size() == 4u);
    // numpy: standardise each column (ddof 0), mean over the four.
    const std::string cmd =
        "/usr/bin/python3 -c 'import math, numpy as np; x = np.array([" + py_rows +
        "]); s = (x - x.mean(0)) / x.std(0); print(\" \".join(repr(v) for v in s.mean(1)))'";
    std::FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_REQUIRE(p);
    char buf[512] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, p);
    BOOST_REQUIRE(::pclose(p) == 0 && n > 0);
    std::istringstream in(buf);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        double expect = 0;
        in >> expect;
        BOOST_TEST(z.z[i] == expect, boost::test_tools::tolerance(1e-9));
    }
}
