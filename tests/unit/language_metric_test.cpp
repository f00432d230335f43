// SPDX-License-Identifier: Apache-2.0
#define BOOST_TEST_MODULE language_metric
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <polyglot/core/paths.hpp>
#include <polyglot/metrics/language.hpp>
#include <polyglot/metrics/metric.hpp>
#include <string>
#include <vector>

#include "support/report.hpp"
#include "support/require_asset.hpp"

namespace pm = polyglot::metrics;
namespace pt = polyglot::text;

static_assert(pm::metric<pm::language_metric>);

namespace {
using polyglot::testing::finalize_json;

/// lid.176.ftz from the data directory (scripts/bootstrap fetches it); fails the test when absent.
std::shared_ptr<const pt::langid> model() {
    static const auto m = pt::langid::open(polyglot::testing::require_data_asset("lid.176.ftz"));
    return m;
}

const char* const k_de = "Das Wetter ist heute schön, deshalb gehen wir im Park spazieren.";
const char* const k_de2 = "Ich habe gestern ein interessantes Buch über Geschichte gelesen.";
const char* const k_en = "The weather is nice today, so we are going for a walk in the park.";
const char* const k_ja = "今日は天気がいいので、公園に散歩に行きます。";
const char* const k_ar = "الطقس جميل اليوم، لذلك سنذهب في نزهة في الحديقة.";
const char* const k_id = "Cuacanya bagus hari ini, jadi kami akan berjalan-jalan di taman.";

std::vector<polyglot::record> make_records() {
    auto rec = [](const char* p, const char* r, const char* lang) {
        polyglot::record x;
        x.prompt = p;
        x.response = r;
        x.lang = lang;
        return x;
    };
    return {
        rec(k_de, k_de2, "de"),    // both in the target
        rec(k_en, k_de, "deu"),    // response only; prompt/response disagree
        rec(k_ja, k_ja, "ja-JP"),  // both
        rec(k_ar, k_en, ""),       // no target: excluded from the rates
        rec("", k_ar, "Arabic"),   // empty prompt: never a match, no agreement pair
        rec(k_id, k_id, "xx"),     // a target lid.176 cannot output
    };
}

}  // namespace

BOOST_AUTO_TEST_CASE(rates_on_hand_built_records) {
    auto lid = model();
    const pm::language_metric metric(lid);
    const auto records = make_records();
    const auto s = pm::run_serial(metric, records);
    const std::string json = finalize_json(metric, s);
    BOOST_TEST_INFO(json);
    BOOST_TEST(s.records == 6u);
    BOOST_TEST(s.with_target == 5u);
    BOOST_TEST(s.responses.target_matches == 4u);  // r1 r2 r3 r5
    BOOST_TEST(s.prompts.target_matches == 2u);    // r1 r3
    BOOST_TEST(s.agreement_records == 5u);         // all but r5 (empty prompt)
    BOOST_TEST(s.agreements == 3u);                // r1 r3 r6
    BOOST_TEST(json.find("\"responses_target_lang_rate\":0.8,") != std::string::npos);
    BOOST_TEST(json.find("\"prompts_target_lang_rate\":0.4,") != std::string::npos);
    BOOST_TEST(json.find("\"prompt_response_agreement\":0.6,") != std::string::npos);
    // Responses: de ×2, then ties (count 1) by label: ar, en, id, ja. Shares of 6.
    BOOST_TEST(json.find("\"responses_top_languages\":[{\"lang\":\"de\",\"count\":2,\"share\":"
                         "0.3333333333333333},{\"lang\":\"ar\",\"count\":1,") != std::string::npos);
    BOOST_TEST(json.find("{\"lang\":\"id\",\"count\":1,\"share\":0.16666666666666666},{\"lang\":"
                         "\"ja\",\"count\":1,\"share\":0.16666666666666666}],"
                         "\"prompts_top_languages\"") != std::string::npos);
    // Prompts: 5 labelled (one empty), each label once: ar de en id ja, share 0.2.
    BOOST_TEST(json.find("\"prompts_top_languages\":[{\"lang\":\"ar\",\"count\":1,\"share\":0.2},"
                         "{\"lang\":\"de\"") != std::string::npos);
    BOOST_TEST(json.find("\"records_without_target_lang\":1,") != std::string::npos);
    BOOST_TEST(json.find("\"records_target_not_in_model\":1,") != std::string::npos);
    BOOST_TEST(json.find("\"empty_prompts\":1,\"empty_responses\":0,") != std::string::npos);
    BOOST_TEST(json.find("\"target_languages\":{\"ar\":1,\"de\":2,\"ja\":1,\"xx\":1}") !=
               std::string::npos);
    BOOST_TEST(json.find("\"model\":\"fasttext:lid.176.ftz\"") != std::string::npos);

    // Mean top-1 probability over labelled texts.
    double sum = 0;
    for (const auto& r : records) sum += lid->top1(r.response).prob;
    BOOST_TEST(std::ldexp(static_cast<double>(s.responses.prob_sum_fixed), -32) / 6.0 == sum / 6.0,
               boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(per_record_values) {
    auto lid = model();
    const pm::language_metric metric(lid);
    auto s = metric.make_state();
    polyglot::instance_values iv;
    const auto records = make_records();
    metric.accumulate(s, records[4], iv);  // empty prompt, Arabic response
    const auto& items = iv.items();
    BOOST_TEST_REQUIRE(items.size() == 4u);
    BOOST_TEST(items[0].first == "prompt_lang");
    BOOST_TEST(std::get<std::string>(items[0].second) == "");
    BOOST_TEST(std::get<double>(items[1].second) == 0.0);
    BOOST_TEST(items[2].first == "response_lang");
    BOOST_TEST(std::get<std::string>(items[2].second) == "ar");
    BOOST_TEST(items[3].first == "response_lang_prob");
    BOOST_TEST(std::get<double>(items[3].second) == static_cast<double>(lid->top1(k_ar).prob));
}

BOOST_AUTO_TEST_CASE(merge_of_splits_equals_single_pass) {
    auto lid = model();
    const pm::language_metric metric(lid);
    const auto records = make_records();
    const std::string single = finalize_json(metric, pm::run_serial(metric, records));
    for (std::size_t cut = 0; cut <= records.size(); ++cut) {
        auto left = pm::run_serial(
            metric, std::vector<polyglot::record>(records.begin(), records.begin() + cut));
        const auto right = pm::run_serial(
            metric, std::vector<polyglot::record>(records.begin() + cut, records.end()));
        metric.merge(left, right);
        BOOST_TEST(finalize_json(metric, left) == single);
    }
}

BOOST_AUTO_TEST_CASE(no_records_and_no_targets) {
    auto lid = model();
    const pm::language_metric metric(lid);
    const std::string empty = finalize_json(metric, metric.make_state());
    BOOST_TEST(empty.find("\"responses_target_lang_rate\":null") != std::string::npos);
    BOOST_TEST(empty.find("\"responses_top_languages\":[]") != std::string::npos);
    BOOST_TEST(empty.find("\"responses_mean_top1_prob\":null") != std::string::npos);
    BOOST_CHECK_THROW(pm::language_metric(nullptr), polyglot::argument_error);
}
