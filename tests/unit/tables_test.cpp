// SPDX-License-Identifier: Apache-2.0
// Table, report and lighteval readers: parsing, and errors that name file, row and column.
#define BOOST_TEST_MODULE tables
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <polyglot/analysis/inputs.hpp>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <string>

#include "support/require_asset.hpp"

namespace tt = boost::test_tools;
using namespace polyglot;
using namespace polyglot::analysis;

namespace {
const std::string ref_dir = "../shared/reference";

/// ../shared/reference (the paper repository's committed results); fails the test when absent.
void require_reference() {
    polyglot::testing::require_shared("reference/pg_scores_base_olmo3.jsonl");
}

// Runs @p f, expects a polyglot::error whose message contains every string in @p parts.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        BOOST_TEST(false, "expected an error");
    } catch (const polyglot::error& e) {
        std::string what = e.what();
        for (const auto& p : parts)
            BOOST_TEST(what.find(p) != std::string::npos, "'" << what << "' lacks '" << p << "'");
    }
}
}  // namespace

BOOST_AUTO_TEST_SUITE(csv)

BOOST_AUTO_TEST_CASE(quoting_crlf_bom_blank_lines) {
    std::string text =
        "\xEF\xBB\xBFteacher_model,target_lang,note,result\r\n"
        "\"a, b\",de,\"say \"\"hi\"\"\",0.5\r\n"
        "\r\n"
        "c,ja,\"two\nlines\",\n"
        "d,ar,\"\",1e-3\n";
    auto t = parse_csv(text, "mem.csv");
    BOOST_TEST(t.columns.size() == 4u);
    BOOST_TEST(t.columns[0] == "teacher_model");
    BOOST_REQUIRE(t.size() == 3u);
    BOOST_TEST(t.text(0, 0) == "a, b");
    BOOST_TEST(t.text(0, 2) == "say \"hi\"");
    BOOST_TEST(t.number(0, 3) == 0.5);
    BOOST_TEST(t.text(1, 2) == "two\nlines");
    BOOST_TEST(t.is_missing(1, 3));   // empty unquoted field = missing
    BOOST_TEST(!t.is_missing(2, 2));  // "" is an empty string, not missing
    BOOST_TEST(t.number(2, 3) == 1e-3);
    BOOST_TEST(t.lines[0] == 2u);
    BOOST_TEST(t.lines[1] == 4u);
    BOOST_TEST(t.lines[2] == 6u);  // the quoted newline advanced the line count
    BOOST_TEST(std::isnan(t.number_or_nan(1, 3)));
}

BOOST_AUTO_TEST_CASE(errors_name_file_line_column) {
    expect_error([] { parse_csv("a,b\n1,2,3\n", "x.csv"); },
                 {"x.csv:2", "3 fields", "header has 2"});
    expect_error([] { parse_csv("a,b\n\"1,2\n", "x.csv"); }, {"x.csv:2", "unterminated"});
    expect_error([] { parse_csv("a,a\n1,2\n", "x.csv"); },
                 {"x.csv:1", "duplicate column name 'a'"});
    expect_error([] { parse_csv("", "x.csv"); }, {"x.csv", "empty"});
    auto t = parse_csv("teacher_model,target_lang,pg_score\nA,de,0.1\nB,de,zero\n", "y.csv");
    expect_error([&] { (void)t.number(1, 2); },
                 {"y.csv:3", "column 'pg_score'", "'zero'", "not a number"});
    expect_error([&] { (void)t.require_column("pgr"); },
                 {"y.csv", "missing column 'pgr'", "teacher_model"});
    expect_error([&] { pg_rows_from_table(t); }, {"y.csv:3", "pg_score", "not a number"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(jsonl)

BOOST_AUTO_TEST_CASE(union_of_columns_and_errors) {
    auto t =
        parse_jsonl_table("{\"a\": 1, \"b\": \"x\"}\n\n{\"c\": null, \"a\": 2.5}\r\n", "m.jsonl");
    BOOST_TEST(t.columns.size() == 3u);
    BOOST_TEST(t.number(1, 0) == 2.5);
    BOOST_TEST(t.is_missing(0, 2));
    BOOST_TEST(t.is_missing(1, 1));
    BOOST_TEST(t.lines[1] == 3u);
    expect_error([] { parse_jsonl_table("{\"a\": 1}\n{\"a\": }\n", "m.jsonl"); },
                 {"m.jsonl:2", "invalid JSON"});
    expect_error([] { parse_jsonl_table("[1,2]\n", "m.jsonl"); },
                 {"m.jsonl:1", "expected a JSON object"});
}

BOOST_AUTO_TEST_CASE(pg_rows_checks) {
    auto dup = parse_jsonl_table(
        "{\"teacher_model\": \"A\", \"target_lang\": \"de\", \"pg_score\": 1}\n"
        "{\"teacher_model\": \"B\", \"target_lang\": \"de\", \"pg_score\": 2}\n"
        "{\"teacher_model\": \"A\", \"target_lang\": \"de\", \"pg_score\": 3}\n",
        "d.jsonl");
    expect_error([&] { pg_rows_from_table(dup); },
                 {"d.jsonl:3", "duplicate", "'A'", "'de'", "first at d.jsonl:1"});
    auto nokey = parse_jsonl_table(
        "{\"teacher\": \"A\", \"target_lang\": \"de\", \"pg_score\": 1}\n", "k.jsonl");
    expect_error([&] { pg_rows_from_table(nokey); }, {"k.jsonl", "missing column 'teacher_model'"});
    auto novalue =
        parse_jsonl_table("{\"teacher_model\": \"A\", \"target_lang\": \"de\"}\n", "v.jsonl");
    expect_error([&] { pg_rows_from_table(novalue); }, {"v.jsonl", "missing column 'pg_score'"});
    auto str = parse_jsonl_table(
        "{\"teacher_model\": \"A\", \"target_lang\": \"de\", \"pgr\": \"high\", \"z_score\": 0}\n",
        "s.jsonl");
    expect_error([&] { pg_rows_from_table(str); }, {"s.jsonl:1", "column 'pgr'", "not a number"});
}

BOOST_AUTO_TEST_CASE(language_without_anchors) {
    auto t = parse_jsonl_table(
        "{\"teacher_model\": \"A\", \"target_lang\": \"de\", \"result\": 0.4}\n"
        "{\"teacher_model\": \"A\", \"target_lang\": \"sw\", \"result\": 0.3}\n",
        "r.jsonl");
    auto rows = pg_rows_from_table(t);
    std::map<std::string, anchor> anchors{{"de", anchor{0.3, 0.5}}};
    expect_error([&] { compute_pgr(rows, anchors); },
                 {"r.jsonl:2", "target_lang", "'sw'", "no anchors", "de"});
    auto a = parse_csv("target_lang,base,ref\nde,0.3,0.5\nde,0.3,0.6\n", "a.csv");
    expect_error([&] { anchors_from_table(a); }, {"a.csv:3", "duplicate anchors", "'de'"});
}

BOOST_AUTO_TEST_CASE(reference_pg_files_parse) {
    require_reference();
    for (const char* f : {"pg_scores_base_olmo3.jsonl", "pg_scores_base_gemma3-4b.jsonl",
                          "pg_scores_base_qwen3-8b.jsonl", "pg_scores_base_llama3-8b.jsonl"}) {
        auto rows = pg_rows_from_table(read_table(ref_dir + "/" + f));
        BOOST_TEST(rows.size() == (std::string(f).find("olmo3") != std::string::npos ? 60u : 30u));
    }
    // the translation ablation repeats teacher × language: ranking needs another key column
    auto abl = read_table(ref_dir + "/pg_scores_translate_abl.jsonl");
    expect_error([&] { pg_rows_from_table(abl); },
                 {"pg_scores_translate_abl.jsonl:", "duplicate", "--teacher-column"});
    row_keys keys;
    keys.teacher = "translate_method";
    BOOST_TEST(pg_rows_from_table(abl, keys).size() == 9u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reports)

BOOST_AUTO_TEST_CASE(reference_file_names) {
    auto p =
        parse_reference_report_name("dir/msde-S1-de_google__gemma-3-27b-it_intrinsic_metrics.json");
    BOOST_REQUIRE(p.has_value());
    BOOST_TEST(p->first == "gemma-3-27b-it");
    BOOST_TEST(p->second == "de");
    auto q =
        parse_reference_report_name("msde-T1-ja_CohereLabs__aya-expanse-32b_intrinsic_metrics");
    BOOST_REQUIRE(q.has_value());
    BOOST_TEST(q->first == "aya-expanse-32b");
    BOOST_TEST(q->second == "ja");
    BOOST_TEST(!parse_reference_report_name("report.json").has_value());
}

BOOST_AUTO_TEST_CASE(both_layouts) {
    const std::string d = "tests/data/analysis/reports/";
    auto ref =
        read_intrinsic_report(d + "msde-S1-de_google__gemma-3-27b-it_intrinsic_metrics.json");
    BOOST_TEST(ref.teacher == "gemma-3-27b-it");
    BOOST_TEST(ref.lang == "de");
    BOOST_TEST(std::isfinite(ref.get("prompts_distinct_ri")));
    BOOST_TEST(ref.get("distinct_ri.prompts_distinct_ri") == ref.get("prompts_distinct_ri"));
    BOOST_TEST(std::isnan(ref.get("batch_size")));  // section metadata is not a feature
    auto ours = read_intrinsic_report(d + "ours_granite-4.0-1b_ja.json");
    BOOST_TEST(ours.teacher == "granite-4.0-1b");
    BOOST_TEST(ours.lang == "ja");
    BOOST_TEST(ours.get("responses_target_lang_rate") == 0.97);
    auto named = read_intrinsic_report(d + "ours_granite-4.0-1b_ja.json", "other", "xx");
    BOOST_TEST(named.teacher == "other");
    BOOST_TEST(named.lang == "xx");
    auto t = reports_to_table(
        load_reports({d + "ours_granite-4.0-1b_ja.json", d + "ours_granite-4.0-1b_de.json"}));
    BOOST_TEST(t.size() == 2u);
    BOOST_TEST(t.number(0, t.require_column("average_perplexity")) ==
               ours.get("average_perplexity"));
}

BOOST_AUTO_TEST_CASE(report_errors) {
    auto noname = parse_json("{\"distinct_ri\": {\"prompts_distinct_ri\": 0.5}}", "r.json");
    expect_error([&] { intrinsic_report_from_json(noname, "r.json"); },
                 {"r.json", "teacher", "--name TEACHER:LANG=r.json"});
    auto notreport = parse_json("{\"hello\": 1}", "h.json");
    expect_error([&] { intrinsic_report_from_json(notreport, "h.json"); },
                 {"h.json", "not an intrinsic-metric report"});
    const std::string d = "tests/data/analysis/reports/";
    expect_error(
        [&] {
            load_reports({d + "ours_granite-4.0-1b_ja.json", d + "ours_granite-4.0-1b_ja.json"});
        },
        {"duplicate teacher × language", "granite-4.0-1b"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lighteval)

BOOST_AUTO_TEST_CASE(reference_files) {
    require_reference();
    struct expect {
        const char* file;
        double mean, se, filbench;
    };
    // means / sqrt(Σσ²)/k over the 13 per-task entries (numpy), filbench_score as committed
    const expect cases[] = {
        {"00_initial_10k-Public-tl.json", 0.5608439183677526, 0.01093680043614433,
         47.242047390700435},
        {"01_synth-bigger_10k-GPT-4o.json", 0.5820711188428832, 0.010692028935309152,
         47.672029601999796},
        {"02_better-teacher_10k-AyaExp.json", 0.5329928668996877, 0.01113706854512601,
         48.18953700242025},
        {"03_family-matching_10k-Gemma3.json", 0.621854477163544, 0.01016394136094288,
         49.521289408200964},
        {"04_data-scale_25k-Gemma3.json", 0.6382731304422589, 0.010000359200503016,
         49.73067144290977},
        {"05_model-scale_25k-Gemma3-Big-12B.json", 0.7475427062243232, 0.009268308588793852,
         51.43037929708417},
        {"06_model-scale-v2_25k-Gemma3-Ultra-27B.json", 0.753781568081544, 0.009281820266724479,
         53.02131883327807},
    };
    for (const auto& c : cases) {
        auto r = read_lighteval(ref_dir + "/lighteval/" + c.file);
        BOOST_TEST(r.tasks.size() == 14u);
        BOOST_TEST(r.model_name == "ljvmiranda921/msde-sft-dev");
        std::size_t aggregates = 0;
        for (const auto& t : r.tasks) {
            aggregates += t.aggregate;
            BOOST_TEST(t.metric == "acc");
            BOOST_TEST(std::isfinite(t.stderr_));
            BOOST_TEST(t.lang.empty());  // FilBench keys carry no language code
        }
        BOOST_TEST(aggregates == 1u);  // include_tgl_mcf:_average
        auto [mean, se] = r.average();
        BOOST_TEST(mean == c.mean, tt::tolerance(1e-12));
        BOOST_TEST(se == c.se, tt::tolerance(1e-12));
        double filbench = nan_value;
        for (const auto& [k, v] : r.extras)
            if (k == "filbench_score") filbench = v;
        BOOST_TEST(filbench == c.filbench, tt::tolerance(1e-12));
        // as a student file for Tagalog: tasks without a language count for it
        auto by = results_by_language(r, "tl");
        BOOST_TEST(by.at("tl").first == c.mean, tt::tolerance(1e-12));
    }
    auto r0 = read_lighteval(ref_dir + "/lighteval/00_initial_10k-Public-tl.json");
    BOOST_TEST(r0.tasks[0].task == "belebele_ceb_mcf");
    BOOST_TEST(r0.tasks[0].value == 0.45666666666666667);
}

BOOST_AUTO_TEST_CASE(task_keys_and_metrics) {
    auto v = parse_json(R"({"results": {
        "lighteval|global_mmlu_lite:ar|0": {"acc": 0.5, "acc_stderr": 0.01},
        "mrewardbench_mcf:ar|0": {"acc": 0.9, "weighted_acc": 0.6, "weighted_acc_stderr": 0.02},
        "mgsm_custom:de|5": {"extractive_match": 0.3, "extractive_match_stderr": 0.03},
        "all": {"acc": 0.1}}})",
                        "l.json");
    auto r = lighteval_from_json(v, "l.json");
    BOOST_REQUIRE(r.tasks.size() == 4u);
    BOOST_TEST(r.tasks[0].name == "global_mmlu_lite");
    BOOST_TEST(r.tasks[0].lang == "ar");
    BOOST_TEST(r.tasks[1].metric == "weighted_acc");
    BOOST_TEST(r.tasks[1].value == 0.6);
    BOOST_TEST(r.tasks[2].metric == "extractive_match");
    BOOST_TEST(r.tasks[3].aggregate);
    auto [ar, ar_se] = r.average("ar");
    BOOST_TEST(ar == 0.55, tt::tolerance(1e-15));
    BOOST_TEST(ar_se == std::sqrt(0.01 * 0.01 + 0.02 * 0.02) / 2, tt::tolerance(1e-15));
    auto by = results_by_language(r);
    BOOST_TEST(by.size() == 2u);
    BOOST_TEST(by.at("de").first == 0.3);
    expect_error([&] { results_by_language(r, "ja"); },
                 {"l.json", "no task for language 'ja'", "ar, de"});
    auto bad = parse_json(R"({"results": {"t": {"acc": "high"}}})", "b.json");
    expect_error([&] { lighteval_from_json(bad, "b.json"); },
                 {"b.json", "task 't'", "no numeric metric"});
}

BOOST_AUTO_TEST_SUITE_END()
