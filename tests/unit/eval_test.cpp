// SPDX-License-Identifier: Apache-2.0
// polyglot eval's library against the goldens of tests/oracles/eval_oracle.py (lighteval's
// rules transcribed in Python, literals read from lighteval's own file): per-language literals,
// rendered queries/continuations of every task and language, metrics and standard errors
// (1e-12), CPython's random, numeric extraction, and whole results of a deterministic fake
// model (tests/unit/eval_fake_model.hpp, defined identically in the oracle).
#define BOOST_TEST_MODULE eval
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/eval/extract.hpp>
#include <polyglot/eval/metrics.hpp>
#include <polyglot/eval/python_random.hpp>
#include <polyglot/eval/results.hpp>
#include <polyglot/eval/runner.hpp>
#include <polyglot/eval/tasks.hpp>
#include <polyglot/eval/template.hpp>
#include <string>
#include <vector>

#include "eval_fake_model.hpp"

using namespace polyglot;
using namespace polyglot::eval;
using analysis::json_value;
namespace fs = std::filesystem;

namespace {

const std::string data_dir = "tests/data/eval";
const std::string gold_dir = "tests/data/eval/golden/";

const json_value& golden(const std::string& name) {
    static std::map<std::string, json_value> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        if (!fs::exists(gold_dir + name))
            BOOST_FAIL(gold_dir + name +
                       " is missing: run the tests from the project root "
                       "(the goldens are committed; tests/oracles/eval_oracle.py writes them)");
        it = cache.emplace(name, analysis::read_json_file(gold_dir + name)).first;
    }
    return it->second;
}

std::vector<std::string> strings(const json_value* v) {
    BOOST_REQUIRE(v && v->is_array());
    std::vector<std::string> out;
    for (const auto& x : v->as_array()) out.push_back(x.as_string());
    return out;
}

std::vector<std::size_t> indices(const json_value* v) {
    BOOST_REQUIRE(v && v->is_array());
    std::vector<std::size_t> out;
    for (const auto& x : v->as_array()) out.push_back(static_cast<std::size_t>(x.as_number()));
    return out;
}

std::vector<double> numbers(const json_value* v) {
    BOOST_REQUIRE(v && v->is_array());
    std::vector<double> out;
    for (const auto& x : v->as_array()) out.push_back(x.as_number());
    return out;
}

std::uint64_t golden_seed() {
    return static_cast<std::uint64_t>(golden("templates.json").find("seed")->as_number());
}

task load(const std::string& spec, std::uint64_t seed) {
    load_options o;
    o.data = data_dir;
    o.seed = seed;
    o.strict = true;
    if (spec == "task_file") return load_task(parse_task_file(data_dir + "/task_file.jsonl"), o);
    return load_task(parse_task(spec), o);
}

/// A temporary directory removed at scope exit.
struct temp_dir {
    fs::path path = fs::temp_directory_path() / ("polyglot_eval_" + std::to_string(::getpid()));
    temp_dir() { fs::create_directories(path); }
    ~temp_dir() { fs::remove_all(path); }
    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories((path / rel).parent_path());
        std::ofstream(path / rel, std::ios::binary) << text;
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(literals_equal_lighteval_translation_literals) {
    const auto& g = golden("literals.json");
    BOOST_TEST(all_literals().size() == g.as_object().size());
    for (const auto& lit : all_literals()) {
        BOOST_TEST_CONTEXT(lit.lang) {
            const json_value* l = g.find(lit.lang);
            BOOST_REQUIRE(l);
            BOOST_TEST(lit.question_word == l->find("question_word")->as_string());
            BOOST_TEST(lit.answer == l->find("answer")->as_string());
            BOOST_TEST(lit.full_stop == l->find("full_stop")->as_string());
            BOOST_TEST(lit.comma == l->find("comma")->as_string());
            BOOST_TEST(lit.question_mark == l->find("question_mark")->as_string());
            BOOST_TEST(lit.exclamation_mark == l->find("exclamation_mark")->as_string());
            BOOST_TEST(lit.word_space == l->find("word_space")->as_string());
            BOOST_TEST(lit.sentence_space == l->find("sentence_space")->as_string());
            BOOST_TEST(lit.colon == l->find("colon")->as_string());
            BOOST_TEST(lit.semicolon == l->find("semicolon")->as_string());
        }
    }
    BOOST_CHECK_THROW((void)literals_for("xx"), argument_error);
}

BOOST_AUTO_TEST_CASE(rendered_items_equal_lighteval_templates) {
    const auto& g = golden("templates.json");
    const auto seed = golden_seed();
    std::size_t checked = 0;
    for (const auto& m : g.find("tasks")->as_object()) {
        BOOST_TEST_CONTEXT(m.key) {
            const task t = load(m.key, seed);
            if (m.key != "task_file") BOOST_TEST(t.key == m.key);
            const auto& want = m.value.as_array();
            BOOST_REQUIRE_EQUAL(t.items.size(), want.size());
            BOOST_TEST(t.skipped.empty());
            for (std::size_t i = 0; i < want.size(); ++i) {
                BOOST_TEST_CONTEXT("item " << i) {
                    const auto& w = want[i];
                    const auto& it = t.items[i];
                    BOOST_TEST(it.context == w.find("context")->as_string());
                    BOOST_TEST(it.where.ends_with(
                        ":" + std::to_string(static_cast<int>(w.find("line")->as_number()))));
                    if (t.kind == task_kind::generative) {
                        BOOST_TEST(it.gold_text == w.find("gold")->as_string());
                        ++checked;
                        continue;
                    }
                    BOOST_TEST(it.choices == strings(w.find("choices")),
                               boost::test_tools::per_element());
                    BOOST_TEST(it.gold == indices(w.find("gold")),
                               boost::test_tools::per_element());
                    if (const auto* s = w.find("source")) BOOST_TEST(it.source == s->as_string());
                    // tok_encode_pair's string step
                    const auto split = move_trailing_space(it.context, it.choices);
                    if (const auto* sc = w.find("split_context")) {
                        BOOST_TEST(split.context == sc->as_string());
                        BOOST_TEST(split.continuations == strings(w.find("continuations")),
                                   boost::test_tools::per_element());
                    } else {
                        BOOST_TEST(split.context == it.context);
                        BOOST_TEST(split.continuations == it.choices,
                                   boost::test_tools::per_element());
                    }
                    ++checked;
                }
            }
        }
    }
    // 8 + 6 MC languages and 4 MGSM languages × 20 items, and the 12-row task file
    BOOST_TEST(checked == 18 * 20 + 12);
}

BOOST_AUTO_TEST_CASE(template_rules) {
    const auto& de = literals_for("de");
    const auto& ja = literals_for("ja");
    const auto& ar = literals_for("ar");
    BOOST_TEST(capitalize("ßtraße") == "SStraße");  // full case mapping, as Python's upper()
    BOOST_TEST(capitalize("élan") == "Élan");
    BOOST_TEST(capitalize("ǆ") == "Ǆ");
    BOOST_TEST(capitalize("") == "");
    BOOST_TEST(capitalize("1a") == "1a");
    BOOST_TEST(fix_ending_punct("Was ist das?  \n", de) == "Was ist das?");
    BOOST_TEST(fix_ending_punct("これは何?", ja) == "これは何？");
    BOOST_TEST(fix_ending_punct("ما هذا?", ar) == "ما هذا؟");
    BOOST_TEST(fix_ending_punct("a:", ja) == "a：");
    BOOST_TEST(fix_ending_punct("a,", ar) == "a،");
    BOOST_TEST(rstrip("x \u3000\u00a0\t") == "x");  // Python's str.isspace() set
    BOOST_TEST(rstrip("x\u200b") == "x\u200b");     // ZERO WIDTH SPACE is not whitespace
    const std::vector<std::string> opts = {"eins.", "zwei"};
    const auto p = render_mcf(de, "wie viele?", opts);
    BOOST_TEST(p.query == "Frage: Wie viele?\n A. Eins.\n B. Zwei\nAntwort:");
    BOOST_TEST(p.choices == (std::vector<std::string>{" A", " B"}),
               boost::test_tools::per_element());
    const auto s = move_trailing_space("Answer: \n", p.choices);
    BOOST_TEST(s.context == "Answer:");
    BOOST_TEST(s.continuations[0] == " \n A");
    const std::vector<std::pair<std::string, std::string>> fs = {{"Q1", " 7 "}};
    BOOST_TEST(join_fewshot(fs, "Q2") == "Q1 7\n\nQ2");
}

BOOST_AUTO_TEST_CASE(token_split_follows_tok_encode_pair) {
    BOOST_TEST(continuation_start(5, 7) == 5u);
    BOOST_TEST(continuation_start(5, 5) == 4u);  // lighteval backs off one token
    BOOST_TEST(continuation_start(0, 3) == 0u);
    // Through score_task with a tokenizer that merges the continuation into the context's last
    // token: "ab" + "c" encodes like "ab" (3 ids with BOS), so the last context token is scored.
    struct merging final : eval_test::fake_scorer {
        std::vector<std::vector<std::int32_t>> tokenize(std::span<const std::string_view> texts,
                                                        bool add_special) override {
            std::vector<std::vector<std::int32_t>> out;
            for (auto t : texts) {
                std::vector<std::int32_t> ids;
                if (add_special) ids.push_back(1);
                for (std::size_t i = 0; i < t.size(); ++i)
                    if (t[i] != 'c') ids.push_back(3 + static_cast<unsigned char>(t[i]));
                out.push_back(ids);
            }
            return out;
        }
    } model;
    task t;
    t.key = "split|0";
    t.metrics = {"acc"};
    t.items.push_back({"ab", {"c", "cd"}, {0}, "", "", "x:1"});
    task_result r;
    score_task(model, t, {}, r);
    BOOST_REQUIRE(!r.items[0].failed);
    const std::vector<std::int32_t> ab = {1, 3 + 'a', 3 + 'b'};
    BOOST_TEST(r.items[0].tokens[0] == 1u);  // backed off: "b" is the continuation
    BOOST_TEST(r.items[0].logprobs[0] == double(eval_test::fake_scorer::logprob(ab, 2)));
    BOOST_TEST(r.items[0].tokens[1] == 1u);  // "d"
}

BOOST_AUTO_TEST_CASE(metrics_equal_python_oracle) {
    const auto& g = golden("metrics.json");
    for (const auto& c : g.find("cases")->as_array()) {
        const std::string name = c.find("name")->as_string();
        const bool mrb = c.find("mrb")->as_bool();
        BOOST_TEST_CONTEXT(name) {
            task t;
            t.key = name + "|0";
            t.metrics = {"acc", "acc_norm", "acc_norm_token"};
            if (mrb) t.metrics.push_back("weighted_acc");
            task_result r;
            for (const auto& it : c.find("items")->as_array()) {
                eval_item e;
                e.choices = strings(it.find("choices"));
                e.gold = indices(it.find("gold"));
                if (const auto* s = it.find("source")) e.source = s->as_string();
                t.items.push_back(e);
                item_result ir;
                ir.logprobs = numbers(it.find("logprobs"));
                for (double x : numbers(it.find("tokens")))
                    ir.tokens.push_back(static_cast<std::size_t>(x));
                r.items.push_back(ir);
            }
            compute_metrics(t, r);
            const auto items = c.find("items")->as_array();
            for (std::size_t i = 0; i < items.size(); ++i)
                for (const auto& [k, v] : r.items[i].metrics)
                    BOOST_TEST(v == items[i].find("expected")->find(k)->as_number(),
                               k << " of item " << i);
            const auto& want = c.find("expected")->as_object();
            std::size_t n = 0;
            for (const auto& m : r.metrics) {
                for (const auto& [k, v] :
                     {std::pair{m.name, m.value}, std::pair{m.name + "_stderr", m.stderr_}}) {
                    const json_value* w = c.find("expected")->find(k);
                    BOOST_REQUIRE_MESSAGE(w, "the oracle has no " << k);
                    BOOST_TEST(std::fabs(v - w->as_number()) <= 1e-12,
                               k << ": " << v << " vs " << w->as_number());
                    ++n;
                }
            }
            BOOST_TEST(n == want.size());  // every expected metric (and no other) is reported
        }
    }
}

BOOST_AUTO_TEST_CASE(python_random_replays_cpython) {
    const auto& g = golden("metrics.json").find("python_random");
    python_random r0(0);
    for (double want : numbers(g->find("seed0_random"))) BOOST_TEST(r0.random() == want);
    python_random r1(0);
    for (double want : numbers(g->find("seed0_choices37")))
        BOOST_TEST(r1.choice_index(37) == static_cast<std::size_t>(want));
    python_random r2(12345);
    for (double want : numbers(g->find("seed12345_random"))) BOOST_TEST(r2.random() == want);
}

BOOST_AUTO_TEST_CASE(extraction_equals_lighteval_regexes) {
    for (const auto& c : golden("metrics.json").find("extraction")->as_array()) {
        const std::string lang = c.find("lang")->as_string(), text = c.find("text")->as_string();
        const auto* w = c.find("expected");
        BOOST_TEST_CONTEXT(lang << " '" << text << "'") {
            const auto got = extract_number(text, literals_for(lang));
            BOOST_TEST(got.found == w->find("found")->as_bool());
            BOOST_TEST(got.text == w->find("text")->as_string());
            if (got.found) {
                BOOST_TEST(got.value == w->find("value")->as_number());
                BOOST_TEST(got.inexact == w->find("inexact")->as_bool());
            }
        }
    }
    const auto& en = literals_for("en");
    BOOST_TEST(numbers_match(extract_number("135", en), extract_number(" 27 + 108 = 135", en)));
    BOOST_TEST(numbers_match(extract_number("0.33", en), extract_number(" 1/3", en)));
    BOOST_TEST(!numbers_match(extract_number("135", en), extract_number(" 134", en)));
    BOOST_TEST(!numbers_match(extract_number("135", en), extract_number(" none", en)));
}

BOOST_AUTO_TEST_CASE(fake_model_results_equal_oracle) {
    const auto& g = golden("fake_model.json");
    const auto seed = static_cast<std::uint64_t>(g.find("seed")->as_number());
    std::vector<task> tasks;
    for (const auto& m : g.find("results")->as_object())
        if (m.key != "all" && m.key.find(":_average") == std::string::npos)
            tasks.push_back(load(m.key, seed));
    BOOST_REQUIRE_EQUAL(tasks.size(), 14u);
    // Any batching gives the same numbers: whole items by a token budget, one item per call,
    // and one sequence per call (no shared contexts).
    std::vector<std::string> outputs;
    for (int mode = 0; mode < 3; ++mode) {
        eval_test::fake_scorer model;
        run_options o;
        o.batch_tokens = mode == 0 ? 4096 : 1;
        o.share_prefix = mode != 2;
        std::vector<task_result> results(tasks.size());
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            score_task(model, tasks[i], o, results[i]);
            compute_metrics(tasks[i], results[i]);
            for (auto& r : results[i].items) r.metrics.clear();
            results[i].seconds = 0;
        }
        if (mode == 0) BOOST_TEST(model.max_batch > 4u);   // several items per call
        if (mode == 1) BOOST_TEST(model.max_batch == 4u);  // one 4-choice item per call
        if (mode == 2) BOOST_TEST(model.max_batch == 1u);
        run_info info;
        info.model_name = "fake";
        const auto js = analysis::parse_json(results_json(tasks, results, info), "results");
        // every number of the oracle's results (metrics, stderr, averages, "all")
        std::size_t n = 0;
        for (const auto& m : g.find("results")->as_object()) {
            const json_value* got = js.find("results")->find(m.key);
            BOOST_REQUIRE_MESSAGE(got, "no results entry " << m.key);
            BOOST_TEST(got->as_object().size() == m.value.as_object().size(), m.key);
            for (const auto& mm : m.value.as_object()) {
                const json_value* v = got->find(mm.key);
                BOOST_REQUIRE_MESSAGE(v, m.key << " lacks " << mm.key);
                BOOST_TEST(std::fabs(v->as_number() - mm.value.as_number()) <= 1e-12,
                           m.key << " " << mm.key);
                ++n;
            }
        }
        BOOST_TEST(n >= 130u);  // 14 tasks' metrics and stderr, the averages and "all"
        // per-item log-likelihoods and token counts
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            const auto& want = g.find("details")->find(tasks[i].key)->as_array();
            for (std::size_t k = 0; k < want.size(); ++k) {
                BOOST_TEST(results[i].items[k].logprobs == numbers(want[k].find("logprobs")),
                           boost::test_tools::per_element());
                const auto tok = numbers(want[k].find("tokens"));
                for (std::size_t c = 0; c < tok.size(); ++c)
                    BOOST_TEST(results[i].items[k].tokens[c] == static_cast<std::size_t>(tok[c]));
            }
        }
        outputs.push_back(results_json(tasks, results, info));
    }
    BOOST_TEST(outputs[0] == outputs[1]);
    BOOST_TEST(outputs[0] == outputs[2]);
}

BOOST_AUTO_TEST_CASE(results_layout_is_read_by_pgscore_inputs) {
    auto t = load("global_mmlu_lite:de|0", golden_seed());
    auto m = load("mrewardbench_mcf:de|0", golden_seed());
    eval_test::fake_scorer model;
    std::vector<task> tasks = {t, m};
    std::vector<task_result> results(2);
    for (std::size_t i = 0; i < 2; ++i) {
        score_task(model, tasks[i], {}, results[i]);
        compute_metrics(tasks[i], results[i]);
    }
    run_info info;
    info.model_name = "student";
    info.seed = 7;
    const auto js = analysis::parse_json(results_json(tasks, results, info), "r");
    for (const char* k : {"config_general", "results", "versions", "config_tasks", "summary_tasks",
                          "summary_general"})
        BOOST_TEST(js.find(k) != nullptr, k);
    BOOST_TEST(js.find_path("config_general.model_name")->as_string() == "student");
    BOOST_TEST(js.find_path("config_general.seed")->as_number() == 7);
    BOOST_TEST(js.find("config_tasks")
                   ->find("global_mmlu_lite:de")
                   ->find("effective_num_docs")
                   ->as_number() == 20);
}

BOOST_AUTO_TEST_CASE(bad_rows_are_counted_or_stop_under_strict) {
    temp_dir d;
    d.write("global_mmlu_lite/de/test.jsonl",
            "{\"question\": \"q1\", \"option_a\": \"a\", \"option_b\": \"b\", \"option_c\": \"c\", "
            "\"option_d\": \"d\", \"answer\": \"A\"}\n"
            "not json\n"
            "\n"
            "[1, 2]\n"
            "{\"question\": \"q2\", \"option_a\": \"a\", \"option_b\": \"b\", \"option_c\": \"c\", "
            "\"answer\": \"B\"}\n"
            "{\"question\": null, \"option_a\": \"a\", \"option_b\": \"b\", \"option_c\": \"c\", "
            "\"option_d\": \"d\", \"answer\": \"B\"}\n"
            "{\"question\": \"q3\", \"option_a\": \"a\", \"option_b\": \"b\", \"option_c\": \"c\", "
            "\"option_d\": \"d\", \"answer\": \"E\"}\n"
            "{\"question\": \"q4\", \"option_a\": [1], \"option_b\": \"b\", \"option_c\": \"c\", "
            "\"option_d\": \"d\", \"answer\": \"C\"}\n");
    load_options o;
    o.data = d.path.string();
    std::vector<std::string> msgs;
    o.on_skip = [&](const std::string& s) { msgs.push_back(s); };
    auto t = load_task(parse_task("global_mmlu_lite:de"), o);
    BOOST_TEST(t.items.size() == 1u);
    BOOST_TEST(t.rows_read == 7u);  // every non-blank line is a row
    BOOST_TEST(t.skipped["malformed_json"] == 1u);
    BOOST_TEST(t.skipped["not_an_object"] == 1u);
    BOOST_TEST(t.skipped["missing_field:option_d"] == 1u);
    BOOST_TEST(t.skipped["null_field:question"] == 1u);
    BOOST_TEST(t.skipped["bad_answer"] == 1u);
    BOOST_TEST(t.skipped["non_string_field:option_a"] == 1u);
    BOOST_REQUIRE_EQUAL(msgs.size(), 6u);
    BOOST_TEST(msgs[2].find("test.jsonl:5: missing field 'option_d'") != std::string::npos);
    o.strict = true;
    try {
        (void)load_task(parse_task("global_mmlu_lite:de"), o);
        BOOST_FAIL("no error under --strict");
    } catch (const format_error& e) {
        BOOST_TEST(std::string(e.what()).find("test.jsonl:2") != std::string::npos, e.what());
    }
    // a missing data file names the paths looked at
    try {
        (void)load_task(parse_task("mrewardbench_mcf:cs"), o);
        BOOST_FAIL("no error for missing data");
    } catch (const io_error& e) {
        BOOST_TEST(std::string(e.what()).find("mrewardbench/cs/test.jsonl") != std::string::npos);
        BOOST_TEST(std::string(e.what()).find("ces_Latn") != std::string::npos);
    }
    BOOST_CHECK_THROW((void)load_task(parse_task("global_mmlu_lite"), o), argument_error);
    BOOST_CHECK_THROW((void)load_task(parse_task("no_such_task:de"), o), argument_error);
}

BOOST_AUTO_TEST_CASE(model_failures_are_counted_never_scored) {
    auto t = load("global_mmlu_lite:de|0", golden_seed());
    eval_test::fake_scorer model;
    // items whose text has the letter fail (a letter some items have and others not)
    std::size_t expect_failed = 0;
    for (char letter : std::string("zZkqxyjwv")) {
        expect_failed = 0;
        for (const auto& it : t.items) {
            bool has = false;
            for (const auto& c : it.choices)
                has = has || (it.context + c).find(letter) != std::string::npos;
            expect_failed += has;
        }
        model.poison = 3 + letter;
        if (expect_failed > 0 && expect_failed < t.items.size()) break;
    }
    BOOST_REQUIRE(expect_failed > 0 && expect_failed < t.items.size());
    task_result r;
    score_task(model, t, {}, r);
    compute_metrics(t, r);
    BOOST_TEST(r.failed == expect_failed);
    std::vector<double> acc;
    for (std::size_t i = 0; i < r.items.size(); ++i) {
        if (r.items[i].failed) {
            BOOST_TEST(r.items[i].metrics.empty());
            BOOST_TEST(r.items[i].error.find("poisoned") != std::string::npos);
        } else {
            acc.push_back(r.items[i].metrics.at(0).second);
        }
    }
    BOOST_TEST(r.metrics.at(0).value == mean_with_stderr(acc).mean);
    BOOST_TEST(!r.warnings.empty());
    run_options strict;
    strict.strict = true;
    task_result r2;
    BOOST_CHECK_THROW(score_task(model, t, strict, r2), plugin_error);
}

BOOST_AUTO_TEST_CASE(truncation_keeps_the_continuation) {
    auto t = load("global_mmlu_lite:ja|0", golden_seed());
    eval_test::fake_scorer model;
    model.max_context = 64;
    run_options o;
    task_result without;
    score_task(model, t, o, without);
    BOOST_TEST(without.failed == t.items.size());  // every item is longer than the "context"
    o.max_length = 64;
    task_result with;
    score_task(model, t, o, with);
    BOOST_TEST(with.failed == 0u);
    BOOST_TEST(with.truncated == t.items.size());
    for (std::size_t i = 0; i < with.items.size(); ++i)  // the continuation ("A") is whole
        BOOST_TEST(with.items[i].tokens[0] == t.items[i].choices[0].size());
}

BOOST_AUTO_TEST_CASE(task_specs) {
    auto r = parse_task("global_mmlu_lite:de|0");
    BOOST_TEST(r.name == "global_mmlu_lite");
    BOOST_TEST(r.lang == "de");
    BOOST_TEST(r.shots == 0);
    r = parse_task("lighteval|mgsm_custom:ja|5");
    BOOST_TEST(r.name == "mgsm");
    BOOST_TEST(r.lang == "ja");
    BOOST_TEST(r.shots == 5);
    r = parse_task("mrewardbench_mcf:ar");
    BOOST_TEST(r.shots == -1);
    BOOST_CHECK_THROW(parse_task("global_mmlu_lite:de|x"), argument_error);
    BOOST_CHECK_THROW(parse_task(":de"), argument_error);
    r = parse_task_file("mine:de=/tmp/x.jsonl");
    BOOST_TEST(r.name == "mine");
    BOOST_TEST(r.lang == "de");
    BOOST_TEST(r.file == "/tmp/x.jsonl");
    r = parse_task_file("/data/my_task.jsonl");
    BOOST_TEST(r.name == "my_task");
}

BOOST_AUTO_TEST_CASE(mrb_order_is_a_seeded_coin) {
    // per row: the same for the same seed, different rows and seeds mix both orders
    std::size_t first = 0;
    for (int i = 0; i < 200; ++i) {
        const std::string p = "prompt " + std::to_string(i);
        BOOST_TEST(mrb_chosen_first(3, p, "c", "r") == mrb_chosen_first(3, p, "c", "r"));
        first += mrb_chosen_first(3, p, "c", "r");
    }
    BOOST_TEST(first > 70u);
    BOOST_TEST(first < 130u);
}

BOOST_AUTO_TEST_CASE(mgsm_generation_and_extractive_match) {
    auto t = load("mgsm:de|5", golden_seed());
    BOOST_REQUIRE_EQUAL(t.items.size(), 20u);
    eval_test::fake_generator model;
    // right answers in three forms, a wrong one, nothing, and a failed call
    model.reply = [&](std::size_t i) -> std::string {
        const std::string& g = t.items[i].gold_text;
        switch (i % 6) {
            case 0:
                return " " + g;
            case 1:
                return " Die Antwort ist " + g + ".";
            case 2:
                return " " + g + ",00 Euro";
            case 3:
                return " " + g + "1";
            case 4:
                return " keine Ahnung";
            default:
                return i == 5 ? "FAIL" : " " + g;
        }
    };
    run_options o;
    o.batch_items = 7;  // several calls; first_index keeps counting across them
    task_result r;
    generate_task(model, t, o, r);
    compute_metrics(t, r);
    BOOST_TEST(model.last.temperature == 0.0f);
    BOOST_TEST(model.last.max_new_tokens == 50u);
    BOOST_TEST(model.last.stop == std::vector<std::string>{"\n"}, boost::test_tools::per_element());
    BOOST_REQUIRE_EQUAL(model.prompts.size(), 20u);
    eval_test::fake_scorer tok;
    const std::string_view ctx[] = {t.items[3].context};
    BOOST_TEST(model.prompts[3] == tok.tokenize(ctx, true).front(),
               boost::test_tools::per_element());
    BOOST_TEST(r.failed == 1u);
    std::vector<double> hits;
    for (std::size_t i = 0; i < 20; ++i)
        if (i != 5) hits.push_back(i % 6 <= 2 || i % 6 == 5 ? 1.0 : 0.0);
    const auto want = mean_with_stderr(hits);
    BOOST_REQUIRE_EQUAL(r.metrics.size(), 1u);
    BOOST_TEST(r.metrics[0].name == "extractive_match");
    BOOST_TEST(r.metrics[0].value == want.mean);
    BOOST_TEST(r.metrics[0].stderr_ == want.stderr_);
    BOOST_TEST(r.items[1].extracted_pred == t.items[1].gold_text);
    // prompts are cut from the left to max_length - max_new_tokens
    eval_test::fake_generator small;
    small.reply = [](std::size_t) { return std::string(" 1"); };
    run_options cut;
    cut.max_length = 120;
    cut.max_new_tokens = 20;
    task_result r2;
    generate_task(small, t, cut, r2);
    BOOST_TEST(r2.truncated == 20u);
    for (const auto& p : small.prompts) BOOST_TEST(p.size() == 100u);
}
