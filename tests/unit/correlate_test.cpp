// SPDX-License-Identifier: Apache-2.0
// Rank correlations between teacher rankings (reference.md §10.1) and the PG_α robustness matrix
// (§10.2), against the reference's committed results and scipy goldens.
#define BOOST_TEST_MODULE correlate
#include <map>
#include <polyglot/stats/spearman.hpp>

#include "support/reference.hpp"

using namespace reference_test;

namespace {
const std::map<std::string, std::string> families{{"olmo3", "pg_scores_base_olmo3.jsonl"},
                                                  {"gemma3-4b", "pg_scores_base_gemma3-4b.jsonl"},
                                                  {"qwen3-8b", "pg_scores_base_qwen3-8b.jsonl"},
                                                  {"llama3-8b", "pg_scores_base_llama3-8b.jsonl"}};

/// ../shared/reference (the paper repository's committed results); fails the test when absent.
void require_reference() {
    polyglot::testing::require_shared("reference/pg_scores_base_olmo3.jsonl");
}

std::map<std::string, double> means(const std::string& family) {
    auto rows = pg_rows_from_table(read_table(ref_dir + "/" + families.at(family)));
    recompute_pg(rows);
    std::map<std::string, double> out;
    for (const auto& t : rank_teachers(rows, {"ar", "id", "de"})) out[t.teacher] = t.pg_score;
    return out;
}

stats::spearman_result pair(const std::string& a, const std::string& b) {
    auto ma = means(a), mb = means(b);
    std::vector<double> x, y;
    for (const auto& [t, v] : ma) {
        x.push_back(v);
        y.push_back(mb.at(t));
    }
    return stats::spearman(x, y);
}

}  // namespace

BOOST_AUTO_TEST_CASE(olmo_vs_gemma_is_087_double_star) {
    require_reference();
    auto r = pair("olmo3", "gemma3-4b");
    BOOST_TEST(r.n == 10u);
    BOOST_TEST(std::round(r.rho * 100) / 100 == 0.87, tt::tolerance(1e-12));
    BOOST_TEST(r.p == 0.0012, tt::tolerance(0.05));  // "p ≈ 0.0012"
    BOOST_TEST(stats::significance_stars(r.p) == "**");
    BOOST_TEST((r.p_exact > 0.0 && r.p_exact < 0.01));
}

BOOST_AUTO_TEST_CASE(every_pair_equals_scipy) {
    require_reference();
    auto g = read_json_file("tests/data/analysis/golden/spearman.json");
    std::size_t seen = 0;
    for (const auto& c : g.find("cases")->as_array()) {
        const std::string name = c.find("name")->as_string();
        auto bar = name.find('|');
        if (bar == std::string::npos) continue;
        auto r = pair(name.substr(0, bar), name.substr(bar + 1));
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(r.rho == c.find("rho")->as_number(), tt::tolerance(1e-8));
            BOOST_TEST(std::fabs(r.p - c.find("p")->as_number()) < 1e-8);
            BOOST_TEST(std::fabs(r.p_exact - c.find("p_exact")->as_number()) < 1e-12);
        }
        ++seen;
    }
    BOOST_TEST(seen == 6u);
}

BOOST_AUTO_TEST_CASE(alpha_robustness_matrix_matches_section_10_2) {
    require_reference();
    auto rows = pg_rows_from_table(read_table(ref_dir + "/pg_scores_base_olmo3.jsonl"));
    const std::vector<double> alphas{0, 0.25, 0.5, 0.75, 1};
    std::vector<std::vector<double>> pg(5);
    for (std::size_t a = 0; a < 5; ++a)
        for (const auto& r : rows) pg[a].push_back(pg_alpha(r.z_score, r.pgr, alphas[a]));
    // lower triangle, row-major by first α: (0,.25) (0,.5) (0,.75) (0,1) (.25,.5) ...
    const double want[] = {0.97, 0.89, 0.71, 0.41, 0.96, 0.82, 0.55, 0.94, 0.74, 0.91};
    std::size_t k = 0;
    for (std::size_t a = 0; a < 5; ++a)
        for (std::size_t b = a + 1; b < 5; ++b) {
            auto s = stats::spearman(pg[a], pg[b]);
            BOOST_TEST(std::round(s.rho * 100) / 100 == want[k], tt::tolerance(1e-12));
            BOOST_TEST(s.p < 0.01);             // all ** in the committed heatmap
            BOOST_TEST(std::isnan(s.p_exact));  // n = 60: no enumeration
            ++k;
        }
    std::vector<double> z, pgr;
    for (const auto& r : rows) z.push_back(r.z_score), pgr.push_back(r.pgr);
    auto zp = stats::spearman(z, pgr);
    BOOST_TEST(std::round(zp.rho * 1000) / 1000 == 0.407, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(cli_json_interfaces) {
    require_reference();
    int rc;
    std::string args = "correlate --by teacher_model --value pg_score --languages ar,id,de";
    for (const char* f : {"olmo3", "gemma3-4b", "qwen3-8b", "llama3-8b"})
        args += " \"" + std::string(f) + "=" + ref_dir + "/" + families.at(f) + "\"";
    auto out = cli_stdout(args + " --json", &rc);
    BOOST_REQUIRE(rc == 0);
    auto j = parse_json(out, "correlate --json");
    const auto& pairs = j.find("pairs")->as_array();
    BOOST_REQUIRE(pairs.size() == 6u);
    BOOST_TEST(pairs[0].find("a")->as_string() == "olmo3");
    BOOST_TEST(pairs[0].find("b")->as_string() == "gemma3-4b");
    BOOST_TEST(pairs[0].find("n")->as_number() == 10.0);
    BOOST_TEST(pairs[0].find("stars")->as_string() == "**");
    BOOST_TEST(pairs[0].find("rho")->as_number() == pair("olmo3", "gemma3-4b").rho,
               tt::tolerance(1e-12));
    BOOST_TEST(pairs[0].find("p_exact")->is_number());

    out = cli_stdout(
        "correlate --alpha-robustness " + ref_dir + "/pg_scores_base_olmo3.jsonl --json", &rc);
    BOOST_REQUIRE(rc == 0);
    auto r = parse_json(out, "correlate --alpha-robustness --json");
    BOOST_TEST(r.find("alphas")->as_array().size() == 5u);
    const auto& rho = r.find("rho")->as_array();
    BOOST_REQUIRE(rho.size() == 5u);
    BOOST_TEST(std::round(rho[4].as_array()[0].as_number() * 100) / 100 == 0.41,
               tt::tolerance(1e-12));
    BOOST_TEST(rho[2].as_array()[2].as_number() == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(r.find("p")->as_array().size() == 5u);

    // a missing value column is one clear error
    cli_stdout("correlate --value nope a=" + ref_dir + "/pg_scores_base_olmo3.jsonl b=" + ref_dir +
                   "/pg_scores_base_gemma3-4b.jsonl",
               &rc);
    BOOST_TEST(rc == 1);
}
