// SPDX-License-Identifier: Apache-2.0
// PG-Score, teacher ranking and z-scores: the reference's committed results
// (../shared/reference) and sklearn goldens for the z-score pools.
#define BOOST_TEST_MODULE pgscore
#include <algorithm>
#include <polyglot/core/error.hpp>

#include "support/reference.hpp"

using namespace reference_test;

namespace {
const std::string data = "tests/data/analysis/";

/// ../shared/reference (the paper repository's committed results); fails the test when absent.
void require_reference() {
    polyglot::testing::require_shared("reference/pg_scores_base_olmo3.jsonl");
}

std::vector<double> numbers(const json_value* v) {
    BOOST_REQUIRE(v && v->is_array());
    std::vector<double> out;
    for (const auto& x : v->as_array()) out.push_back(x.as_number());
    return out;
}

std::vector<intrinsic_report> example_reports(const json_value& g) {
    std::vector<std::string> paths;
    for (const auto& r : g.find("reports")->as_array())
        paths.push_back(data + "reports/" + r.find("file")->as_string());
    return load_reports(paths);
}
}  // namespace

BOOST_AUTO_TEST_CASE(pg_score_recomputed_on_every_reference_row) {
    require_reference();
    std::size_t checked = 0;
    for (const char* f : {"pg_scores_base_olmo3.jsonl", "pg_scores_base_gemma3-4b.jsonl",
                          "pg_scores_base_qwen3-8b.jsonl", "pg_scores_base_llama3-8b.jsonl"}) {
        auto rows = pg_rows_from_table(read_table(ref_dir + "/" + f));
        auto warnings = recompute_pg(rows);
        BOOST_TEST(warnings.empty());
        for (const auto& r : rows) {
            BOOST_TEST(r.pg_source == "recomputed");
            BOOST_TEST(std::fabs(r.pg_score - r.pg_score_given) < 1e-9, r.where);
            ++checked;
        }
    }
    BOOST_TEST(checked == 150u);
}

BOOST_AUTO_TEST_CASE(olmo_teacher_ranking_matches_reference_section_11) {
    require_reference();
    auto rows = pg_rows_from_table(read_table(ref_dir + "/pg_scores_base_olmo3.jsonl"));
    recompute_pg(rows);
    auto rk = rank_teachers(rows);
    struct expect {
        const char* teacher;
        double pg, pgr, z, result;
    };
    // reference.md §11 (4 decimals)
    const expect want[] = {
        {"gemma-3-27b-it", 0.7264, 0.9520, 0.5009, 0.4028},
        {"aya-expanse-32b", 0.7055, 1.1003, 0.3108, 0.3920},
        {"gemma-3-12b-it", 0.5952, 0.7203, 0.4701, 0.3993},
        {"cohere-command-a", 0.5458, 0.8509, 0.2406, 0.3878},
        {"gemma-3-4b-it", 0.4691, 0.5404, 0.3978, 0.4026},
        {"gpt-4o-mini", 0.4607, 0.8450, 0.0765, 0.3903},
        {"granite-4.0-1b", 0.3121, 1.1359, -0.5117, 0.4058},
        {"granite-4.0-micro", 0.3045, 0.4523, 0.1567, 0.4055},
        {"Llama-3.1-70B", 0.1396, 0.4489, -0.1697, 0.4035},
        {"Llama-3.1-8B", -0.3558, 0.7604, -1.4719, 0.4030},
    };
    BOOST_REQUIRE(rk.size() == 10u);
    auto r4 = [](double v) { return std::round(v * 1e4) / 1e4; };
    for (std::size_t i = 0; i < 10; ++i) {
        BOOST_TEST_CONTEXT(want[i].teacher) {
            BOOST_TEST(rk[i].teacher.rfind(want[i].teacher, 0) == 0u);  // ids may carry suffixes
            BOOST_TEST(r4(rk[i].pg_score) == want[i].pg, tt::tolerance(1e-12));
            BOOST_TEST(r4(rk[i].pgr) == want[i].pgr, tt::tolerance(1e-12));
            BOOST_TEST(r4(rk[i].z_score) == want[i].z, tt::tolerance(1e-12));
            BOOST_TEST(r4(rk[i].result) == want[i].result, tt::tolerance(1e-12));
            BOOST_TEST(rk[i].n_languages == 6u);
        }
    }
    // z over the 60-row pool has mean 0 (reference.md §5)
    double zsum = 0;
    for (const auto& r : rows) zsum += r.z_score;
    BOOST_TEST(std::fabs(zsum / 60) < 1e-9);
    // restricting languages
    auto sub = rank_teachers(rows, {"ar", "id", "de"});
    for (const auto& s : sub) BOOST_TEST(s.n_languages == 3u);
}

BOOST_AUTO_TEST_CASE(pg_alpha_and_mismatch_warning) {
    BOOST_TEST(pg_alpha(1.0, 3.0, 0.5) == 2.0);
    BOOST_TEST(pg_alpha(1.0, 3.0, 0.0) == 3.0);
    BOOST_TEST(pg_alpha(1.0, 3.0, 1.0) == 1.0);
    std::vector<pg_row> rows(2);
    rows[0].pgr = -0.0737199415;  // reference.md §7 worked example
    rows[0].z_score = 0.3636420059;
    rows[0].pg_score_given = 0.1449610322;
    rows[0].where = "w:1";
    rows[1].pg_score_given = 0.9;  // no pgr/z: kept as given
    rows[1].where = "w:2";
    auto w = recompute_pg(rows);
    BOOST_TEST(w.empty());
    BOOST_TEST(rows[0].pg_score == 0.1449610322, tt::tolerance(1e-9));
    BOOST_TEST(rows[1].pg_score == 0.9);
    BOOST_TEST(rows[1].pg_source == "input");
    rows[0].pg_score_given = 0.2;
    w = recompute_pg(rows);
    BOOST_REQUIRE(w.size() == 1u);
    BOOST_TEST(w[0].find("w:1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(anchor_warnings_name_language_and_values) {
    // the reference's implied OLMo anchors (reference.md §6.3)
    auto inverted = check_anchor("cs", anchor{0.529360, 0.508955});
    BOOST_REQUIRE(inverted.has_value());
    BOOST_TEST(inverted->find("'cs'") != std::string::npos);
    BOOST_TEST(inverted->find("0.508955") != std::string::npos);
    BOOST_TEST(inverted->find("0.52936") != std::string::npos);
    BOOST_TEST(inverted->find("≤ 0") != std::string::npos);
    auto noisy = check_anchor("ar", anchor{0.423472, 0.438404, 0.0126, 0.0120});
    BOOST_REQUIRE(noisy.has_value());
    BOOST_TEST(noisy->find("twice the combined stderr") != std::string::npos);
    BOOST_TEST(!check_anchor("ar", anchor{0.423472, 0.438404}).has_value());
    BOOST_TEST(!check_anchor("ar", anchor{0.40, 0.50, 0.01, 0.01}).has_value());
    BOOST_TEST(pgr(0.45, anchor{0.40, 0.50}) == 0.5, tt::tolerance(1e-12));

    auto t = parse_csv("teacher_model,target_lang,result\nA,ar,0.43\nA,cs,0.52\n", "s.csv");
    auto rows = pg_rows_from_table(t);
    std::map<std::string, anchor> a{{"ar", anchor{0.423472, 0.438404}},
                                    {"cs", anchor{0.529360, 0.508955}}};
    auto w = compute_pgr(rows, a);
    BOOST_REQUIRE(w.size() == 1u);
    BOOST_TEST(w[0].find("'cs'") != std::string::npos);
    BOOST_TEST(rows[0].pgr == (0.43 - 0.423472) / (0.438404 - 0.423472), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(reference_anchors_reproduce_committed_pgr) {
    require_reference();
    // within ar/cs/de/es/id PGR is an affine function of result with the §6.3 anchors (6 decimals)
    auto rows = pg_rows_from_table(read_table(ref_dir + "/pg_scores_base_olmo3.jsonl"));
    std::map<std::string, anchor> a{{"ar", {0.423472, 0.438404}},
                                    {"cs", {0.529360, 0.508955}},
                                    {"de", {0.379639, 0.360626}},
                                    {"es", {0.421388, 0.378387}},
                                    {"id", {0.470596, 0.455795}}};
    std::erase_if(rows, [](const pg_row& r) { return r.lang == "ja"; });
    auto given = rows;
    auto w = compute_pgr(rows, a);
    BOOST_TEST(w.size() == 4u);  // cs, de, es, id are inverted
    // How far apart the two can be, from error propagation. The reference computed
    // pgr = (r − a)/(b − a) from exact anchors a, b; we use a', b' rounded to 6 decimals
    // (|δa|, |δb| ≤ ea = 5e-7) and the result r as committed (10 decimals, |δr| ≤ er = 5e-11).
    // Exactly: (r'−a')(b−a) − (r−a)(b'−a') = δr·D + δa·(r−b) − δb·(r−a), with D = b − a, so
    //   |pgr' − pgr| ≤ (er·|D| + ea·(|r−a| + |r−b|)) / (|D|·|D'|),
    // and with the known D' = b'−a', |r−a| ≤ |r−a'| + ea, |D| ≥ |D'| − 2·ea. The committed pgr
    // carries 10 decimals (+5e-11). The old bound 2e-3·(1+|pgr|) was 20-300× looser than this.
    const double ea = 5e-7, er = 5e-11;
    double worst = 0;  // largest |Δ| / bound
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& an = a.at(rows[i].lang);
        const double r = rows[i].result, d = std::fabs(an.ref - an.base);
        const double bound =
            (er * (d + 2 * ea) + ea * (std::fabs(r - an.base) + std::fabs(r - an.ref) + 2 * ea)) /
                (d * (d - 2 * ea)) +
            5e-11;
        const double diff = std::fabs(rows[i].pgr - given[i].pgr);
        BOOST_TEST(diff <= bound, rows[i].where << ": |Δ pgr| " << diff << " > " << bound);
        worst = std::max(worst, diff / bound);
    }
    BOOST_TEST_MESSAGE("largest |Δ pgr| / bound: " << worst);  // 0.77 on the reference rows
}

BOOST_AUTO_TEST_CASE(zscores_match_standard_scaler) {
    auto g = read_json_file(data + "golden/zscore.json");
    auto reports = example_reports(g);
    BOOST_REQUIRE(reports.size() == 6u);
    auto check = [&](const std::vector<double>& z, const char* key) {
        auto want = numbers(g.find(key));
        BOOST_REQUIRE(z.size() == want.size());
        for (std::size_t i = 0; i < z.size(); ++i) BOOST_TEST(z[i] == want[i], tt::tolerance(1e-8));
    };
    auto global = compute_zscores(reports);
    check(global.z, "z_global");
    BOOST_TEST(global.pool.features.size() == 4u);
    zscore_options per;
    per.pool = pool_kind::per_language;
    auto pl = compute_zscores(reports, per);
    check(pl.z, "z_per_language");
    BOOST_TEST(pl.pool.groups.size() == 2u);
    zscore_options weighted;
    weighted.weights = {{"average_rubric_score", 2.0}, {"perplexity", 2.0}};
    check(compute_zscores(reports, weighted).z, "z_weighted_1_1_2_2");
    // a saved pool scores a new teacher without moving the others
    std::vector<intrinsic_report> first4(reports.begin(), reports.begin() + 4);
    auto fitted = compute_zscores(first4);
    auto saved = zscore_pool_to_json(fitted.pool);
    auto loaded = zscore_pool_from_json(parse_json(saved, "pool.json"), "pool.json");
    check(apply_zscore_pool(loaded, reports), "z_pool_first4");
    zscore_options badw;
    badw.weights = {{"nonsense", 1.0}};
    BOOST_CHECK_THROW(compute_zscores(reports, badw), argument_error);
    BOOST_CHECK_THROW(zscore_pool_from_json(parse_json("{\"format\": \"x\"}", "p.json"), "p.json"),
                      format_error);
}

BOOST_AUTO_TEST_CASE(bootstrap_is_seeded) {
    require_reference();
    auto rows = pg_rows_from_table(read_table(ref_dir + "/pg_scores_base_olmo3.jsonl"));
    recompute_pg(rows);
    auto a = rank_teachers(rows), b = rank_teachers(rows);
    bootstrap_teachers(a, rows, 500, 7);
    bootstrap_teachers(b, rows, 500, 7);
    double first = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        BOOST_TEST(a[i].pg_lo == b[i].pg_lo);
        BOOST_TEST(a[i].pg_hi == b[i].pg_hi);
        BOOST_TEST(a[i].pg_lo <= a[i].pg_hi);
        first += a[i].p_first;
    }
    BOOST_TEST(first == 1.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(cli_rows_json_interface) {
    require_reference();
    int rc;
    auto out = cli_stdout("pgscore --rows " + ref_dir + "/pg_scores_base_olmo3.jsonl --json", &rc);
    BOOST_REQUIRE(rc == 0);
    auto j = parse_json(out, "pgscore --json");
    BOOST_TEST(j.find("rows")->as_array().size() == 60u);
    const auto& t = j.find("teachers")->as_array();
    BOOST_REQUIRE(t.size() == 10u);
    BOOST_TEST(t[0].find("teacher_model")->as_string() == "gemma-3-27b-it");
    for (const char* k : {"teacher_model", "pg_score", "pgr", "z_score", "result"})
        BOOST_TEST(t[0].find(k) != nullptr);
    for (std::size_t i = 1; i < t.size(); ++i)
        BOOST_TEST(t[i - 1].find("pg_score")->as_number() >= t[i].find("pg_score")->as_number());
    // z-scores from the example reports through the CLI, and a saved pool
    std::string reps;
    auto g = read_json_file(data + "golden/zscore.json");
    for (const auto& r : g.find("reports")->as_array())
        reps += " " + data + "reports/" + r.find("file")->as_string();
    out = cli_stdout("pgscore --reports" + reps + " --json", &rc);
    BOOST_REQUIRE(rc == 0);
    auto jz = parse_json(out, "pgscore --reports --json");
    auto want = numbers(g.find("z_global"));
    const auto& rows = jz.find("rows")->as_array();
    BOOST_REQUIRE(rows.size() == 6u);
    for (std::size_t i = 0; i < 6; ++i)
        BOOST_TEST(rows[i].find("z_score")->as_number() == want[i], tt::tolerance(1e-8));
    // a language with no anchors is one clear error (exit 1)
    cli_stdout("pgscore --rows " + ref_dir + "/pg_scores_base_olmo3.jsonl --anchors " + data +
                   "anchors_ar_only.csv",
               &rc);
    BOOST_TEST(rc == 1);
}
