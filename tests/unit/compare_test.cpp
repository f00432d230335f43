// SPDX-License-Identifier: Apache-2.0
// `polyglot compare` ($POLYGLOT_CLI): the z column equals scikit-learn's (golden/zscore.json
// from tests/oracles/analysis_oracle.py), rows are ranked by it, CSV/JSON/SVG outputs agree,
// column selection and the reasons for a missing z.
#define BOOST_TEST_MODULE compare
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <polyglot/json/value.hpp>
#include <sstream>
#include <string>

namespace an = polyglot::analysis;
namespace fs = std::filesystem;
namespace tt = boost::test_tools;

namespace {

const std::string data = "tests/data/analysis/";

std::string cli() {
    const char* c = std::getenv("POLYGLOT_CLI");
    BOOST_REQUIRE_MESSAGE(c && *c, "POLYGLOT_CLI is not set (ctest sets it to the built CLI)");
    return c;
}

/// Runs the CLI; returns (exit status, stdout); stderr goes to @p err_file when given.
std::pair<int, std::string> run(const std::string& args, const std::string& err_file = "") {
    const std::string cmd =
        cli() + " compare " + args + (err_file.empty() ? " 2>/dev/null" : " 2>" + err_file);
    std::FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_REQUIRE(p);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int st = ::pclose(p);
    return {WEXITSTATUS(st), out};
}

std::string reports() {
    std::string s;
    for (const auto& e : fs::directory_iterator(data + "reports"))
        if (e.path().extension() == ".json") s += " " + e.path().string();
    return s;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(z_equals_sklearn_and_ranks_rows) {
    const auto golden = an::read_json_file(data + "golden/zscore.json");
    std::map<std::string, double> want;  // file name → z
    const auto& reps = golden.find("reports")->as_array();
    const auto& z = golden.find("z_global")->as_array();
    for (std::size_t i = 0; i < reps.size(); ++i)
        want[reps[i].find("file")->as_string()] = z[i].as_number();
    const fs::path svg =
        fs::temp_directory_path() / ("compare_" + std::to_string(::getpid()) + ".svg");
    auto [st, out] = run("--format json --svg " + svg.string() + reports());
    BOOST_REQUIRE_EQUAL(st, 0);
    const auto j = an::parse_json(out, "compare --format json");
    const auto& rows = j.find("rows")->as_array();
    BOOST_REQUIRE_EQUAL(rows.size(), want.size());
    double prev = 1e9;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        const std::string file = fs::path(r.find("source")->as_string()).filename().string();
        BOOST_TEST_INFO(file);
        BOOST_TEST(r.find("z")->as_number() == want.at(file), tt::tolerance(1e-9));
        BOOST_TEST(r.find("rank")->as_number() == static_cast<double>(i + 1));
        BOOST_TEST(r.find("z")->as_number() <= prev);
        prev = r.find("z")->as_number();
    }
    BOOST_TEST(j.find("z_features")->as_array().size() == 4u);
    const std::string s = slurp(svg);
    BOOST_TEST(s.rfind("<svg", 0) == 0u);
    BOOST_TEST(s.find("gemma-3-27b-it · de") != std::string::npos);
    fs::remove(svg);
    // The table and the CSV show the same ranking.
    auto [st2, csv] = run("--format csv" + reports());
    BOOST_REQUIRE_EQUAL(st2, 0);
    std::istringstream lines(csv);
    std::string line;
    std::getline(lines, line);
    BOOST_TEST(line.rfind("rank,teacher,lang,records,", 0) == 0u);
    std::getline(lines, line);
    BOOST_TEST(line.rfind("1," + rows[0].find("teacher")->as_string() + "," +
                              rows[0].find("lang")->as_string() + ",",
                          0) == 0u);
    auto [st3, table] = run(reports());
    BOOST_REQUIRE_EQUAL(st3, 0);
    BOOST_TEST(table.find("| rank | teacher") == 0u);
}

BOOST_AUTO_TEST_CASE(columns_and_missing_z) {
    auto [st, out] =
        run("--format csv --columns prompts_average_length,average_rubric_score --sort "
            "average_rubric_score" +
            reports());
    BOOST_REQUIRE_EQUAL(st, 0);
    std::istringstream lines(out);
    std::string header;
    std::getline(lines, header);
    BOOST_TEST(header == "rank,teacher,lang,prompts_average_length,average_rubric_score,z");
    std::string first;
    std::getline(lines, first);
    BOOST_TEST(first.find(",aya-expanse-32b,de,") != std::string::npos);  // highest rubric
    // Without perplexity in every report there is no z (and a warning says why).
    const fs::path err = fs::temp_directory_path() / ("compare_err_" + std::to_string(::getpid()));
    const fs::path only =
        fs::temp_directory_path() / ("compare_nopp_" + std::to_string(::getpid()) + ".json");
    {
        std::ofstream f(only);
        f << R"({"metadata":{"teacher":"t","target_lang":"de","num_samples":3},)"
          << R"("length":{"prompts_average_length":5,"responses_average_length":7}})";
    }
    auto [st2, out2] = run("--format csv " + only.string() + reports(), err.string());
    BOOST_REQUIRE_EQUAL(st2, 0);
    BOOST_TEST(out2.rfind("rank,teacher,lang,records,prompt_tokens", 0) == 0u);
    BOOST_TEST(out2.find(",z\n") == std::string::npos);
    BOOST_TEST(slurp(err).find("no z-score") != std::string::npos);
    auto [st3, out3] = run("--columns no_such_key" + reports());
    BOOST_TEST(st3 == 2);
    (void)out3;
    fs::remove(err);
    fs::remove(only);
}
