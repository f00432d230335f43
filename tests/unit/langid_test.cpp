// SPDX-License-Identifier: Apache-2.0
#define BOOST_TEST_MODULE langid
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/text/langid.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/require_asset.hpp"

namespace fs = std::filesystem;
namespace pt = polyglot::text;

namespace {

/// lid.176.ftz from the data directory (scripts/bootstrap fetches it); fails the test when absent.
std::shared_ptr<const pt::langid> model() {
    static const std::shared_ptr<const pt::langid> m =
        pt::langid::open(polyglot::testing::require_data_asset("lid.176.ftz"));
    return m;
}

struct sample {
    const char* text;
    const char* label;
    float prob;  // the `fasttext predict-prob lid.176.ftz - 1` CLI's output (6 digits)
};

// Same sentence in 13 languages; golden labels and probabilities from the fastText 0.9.2 CLI.
const sample k_samples[] = {
    {"The weather is nice today, so we are going for a walk in the park.", "en", 0.989583f},
    {"Das Wetter ist heute schön, deshalb gehen wir im Park spazieren.", "de", 0.999471f},
    {"الطقس جميل اليوم، لذلك سنذهب في نزهة في الحديقة.", "ar", 0.998164f},
    {"今日は天気がいいので、公園に散歩に行きます。", "ja", 0.999678f},
    {"Cuacanya bagus hari ini, jadi kami akan berjalan-jalan di taman.", "id", 0.747696f},
    {"Hali ya hewa ni nzuri leo, kwa hivyo tutaenda kutembea kwenye bustani.", "sw", 0.800176f},
    {"Maganda ang panahon ngayon, kaya maglalakad kami sa parke.", "tl", 0.897745f},
    {"Počasí je dnes pěkné, takže se jdeme projít do parku.", "cs", 0.929836f},
    {"Hoy hace buen tiempo, así que vamos a dar un paseo por el parque.", "es", 0.991342f},
    {"Il fait beau aujourd'hui, alors nous allons nous promener dans le parc.", "fr", 0.998616f},
    {"Сегодня хорошая погода, поэтому мы идём гулять в парк.", "ru", 0.997965f},
    {"今天天气很好，所以我们去公园散步。", "zh", 0.991855f},
    {"오늘은 날씨가 좋아서 공원에 산책하러 갑니다.", "ko", 1.00002f},
};

fs::path temp_dir() {
    static const fs::path dir = [] {
        std::random_device rd;
        fs::path d = fs::temp_directory_path() /
                     ("polyglot-langid-test-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path write_file(const std::string& name, const std::string& bytes) {
    const fs::path p = temp_dir() / name;
    std::ofstream(p, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
}

template <class Error>
void expect_error(const fs::path& p, const std::string& fragment) {
    try {
        (void)pt::langid::open(p);
        BOOST_ERROR("no error for " << p);
    } catch (const Error& e) {
        const std::string what = e.what();
        BOOST_TEST_INFO(what);
        BOOST_TEST(what.find(p.string()) != std::string::npos);
        BOOST_TEST(what.find(fragment) != std::string::npos);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(known_sentences) {
    auto m = model();
    BOOST_TEST(m->labels().size() == 176u);
    BOOST_TEST(m->name() == "fasttext:lid.176.ftz");
    for (const sample& s : k_samples) {
        const auto p = m->top1(s.text);
        BOOST_TEST_INFO(s.text);
        BOOST_TEST(p.label == s.label);
        BOOST_TEST(std::abs(p.prob - s.prob) < 3e-6f);  // CLI prints 6 significant digits
        const auto preds = m->predict(s.text, 3);
        BOOST_TEST_REQUIRE(preds.size() == 3u);
        BOOST_TEST(preds[0].label == p.label);
        BOOST_TEST(preds[0].prob == p.prob);
        BOOST_TEST(preds[0].prob >= preds[1].prob);
        BOOST_TEST(preds[1].prob >= preds[2].prob);
    }
    // k larger than the label set: at most every label once, most probable first (fastText's
    // hierarchical softmax drops labels with p < 1e-5).
    const auto all = m->predict(k_samples[0].text, 1000);
    BOOST_TEST(all.size() > 3u);
    BOOST_TEST(all.size() <= 176u);
    for (std::size_t i = 1; i < all.size(); ++i) BOOST_TEST(all[i - 1].prob >= all[i].prob);
    BOOST_CHECK_THROW((void)m->predict("text", 0), polyglot::argument_error);
}

BOOST_AUTO_TEST_CASE(newlines_and_empty_text) {
    auto m = model();
    // Newlines are folded: the whole text is one line, as one space-separated line would be.
    const auto folded = m->top1("Das Wetter ist heute schön, deshalb gehen wir im Park spazieren.");
    const auto multi =
        m->top1("Das Wetter ist heute schön,\ndeshalb gehen wir\r\nim Park spazieren.");
    BOOST_TEST(multi.label == folded.label);
    BOOST_TEST(multi.prob == folded.prob);
    // A second line must influence the result (it would be ignored without folding).
    const auto en_then_de =
        m->top1("Hello\nDas Wetter ist heute schön, deshalb gehen wir im Park.");
    BOOST_TEST(en_then_de.label == "de");
    for (const char* blank : {"", " ", "\n", " \t\r\n \v\f "}) {
        BOOST_TEST(m->predict(blank, 3).empty());
        const auto p = m->top1(blank);
        BOOST_TEST(p.label.empty());
        BOOST_TEST(p.prob == 0.0f);
    }
    // Invalid UTF-8 does not crash.
    BOOST_CHECK_NO_THROW((void)m->top1("\xFF\xFE\xC3 abc \x80"));
}

BOOST_AUTO_TEST_CASE(thread_safe_predictions) {
    auto m = model();
    std::vector<pt::langid::prediction> serial;
    for (const sample& s : k_samples) serial.push_back(m->top1(s.text));
    constexpr int n_threads = 4;
    std::vector<int> mismatches(n_threads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < n_threads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 300; ++i) {
                const std::size_t k = static_cast<std::size_t>(i * 7 + t) % std::size(k_samples);
                const auto p = m->top1(k_samples[k].text);
                const auto top3 = m->predict(k_samples[k].text, 3);
                if (p.label != serial[k].label || p.prob != serial[k].prob ||
                    top3.front().prob != serial[k].prob) {
                    ++mismatches[static_cast<std::size_t>(t)];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int v : mismatches) BOOST_TEST(v == 0);
}

BOOST_AUTO_TEST_CASE(open_by_asset_name) {
    (void)model();  // fails the test when lid.176.ftz is missing
    auto m = pt::open_langid();
    BOOST_TEST(m->path() == polyglot::data_dir() / "lid.176.ftz");
    BOOST_TEST(m->top1(k_samples[1].text).label == "de");
}

BOOST_AUTO_TEST_CASE(missing_and_corrupt_models) {
    expect_error<polyglot::io_error>(temp_dir() / "does-not-exist.ftz", "not found");
    expect_error<polyglot::io_error>(temp_dir(), "directory");
    expect_error<polyglot::format_error>(write_file("empty.ftz", ""), "truncated");
    expect_error<polyglot::format_error>(write_file("text.ftz", "this is not a model at all"),
                                         "bad magic");
    // Right magic, future version.
    std::string header(8, '\0');
    const std::int32_t magic = 793712314, version = 99;
    std::memcpy(header.data(), &magic, 4);
    std::memcpy(header.data() + 4, &version, 4);
    expect_error<polyglot::format_error>(write_file("version.ftz", header), "version 99");

    const std::string good = read_all(polyglot::testing::require_data_asset("lid.176.ftz"));
    BOOST_TEST_REQUIRE(good.size() > 100000u);
    // Truncated anywhere (header, args, dictionary, matrices, the last byte) -> format_error.
    for (std::size_t cut :
         {std::size_t{6}, std::size_t{30}, std::size_t{70}, std::size_t{200}, std::size_t{5000},
          good.size() / 2, good.size() - 1000, good.size() - 1}) {
        BOOST_TEST_INFO("cut at " << cut);
        expect_error<polyglot::format_error>(write_file("cut.ftz", good.substr(0, cut)),
                                             "truncated");
    }
    // A word-vector (unsupervised) model cannot predict labels: args.model is the 8th int32
    // of the args, after magic and version.
    std::string unsupervised = good;
    const std::int32_t cbow = 1;
    std::memcpy(unsupervised.data() + 8 + 7 * 4, &cbow, 4);
    expect_error<polyglot::format_error>(write_file("cbow.ftz", unsupervised), "not a supervised");
    // A corrupted dictionary size.
    std::string bad_dict = good;
    const std::int32_t huge = 2000000000;
    std::memcpy(bad_dict.data() + 8 + 56, &huge, 4);
    expect_error<polyglot::format_error>(write_file("dict.ftz", bad_dict), "dictionary");
    // The intact copy still loads.
    BOOST_TEST(pt::langid::open(write_file("copy.ftz", good))->top1(k_samples[2].text).label ==
               "ar");
    fs::remove_all(temp_dir());
}

BOOST_AUTO_TEST_CASE(language_codes) {
    const std::pair<const char*, const char*> cases[] = {
        {"de", "de"},       {"DE", "de"},           {"deu", "de"},         {"ger", "de"},
        {"de_DE", "de"},    {"de-DE", "de"},        {"de_DE.UTF-8", "de"}, {"German", "de"},
        {" german ", "de"}, {"deu_Latn", "de"},     {"arb_Arab", "ar"},    {"ara", "ar"},
        {"Arabic", "ar"},   {"ar-EG", "ar"},        {"ces", "cs"},         {"cze", "cs"},
        {"Czech", "cs"},    {"spa", "es"},          {"es-419", "es"},      {"ind", "id"},
        {"in", "id"},       {"Indonesian", "id"},   {"jpn", "ja"},         {"ja_JP", "ja"},
        {"Japanese", "ja"}, {"fil", "tl"},          {"tgl", "tl"},         {"Filipino", "tl"},
        {"Tagalog", "tl"},  {"swa", "sw"},          {"swh", "sw"},         {"zh-Hant-TW", "zh"},
        {"cmn", "zh"},      {"iw", "he"},           {"nb", "no"},          {"zsm", "ms"},
        {"sr@latin", "sr"}, {"ceb", "ceb"},         {"und", ""},           {"", ""},
        {"xx", "xx"},       {"Klingon", "klingon"},
    };
    for (const auto& [in, want] : cases) {
        BOOST_TEST_INFO(in);
        BOOST_TEST(pt::normalize_lang_code(in) == want);
    }
    // Every normalised paper language is a lid.176 label.
    const auto m = model();
    for (const char* code : {"ar", "cs", "de", "es", "id", "ja", "tl", "sw", "he", "no", "zh"})
        BOOST_TEST(std::count(m->labels().begin(), m->labels().end(), code) == 1);
}

// top1() reads its input ids through a flat pruned-dictionary index instead of fastText's
// Dictionary::getLine (src/text/langid.cpp line_encoder): the labels and probabilities must be
// the fastText 0.9.2 CLI's on real multilingual text (the system's .mo translations, with
// punctuation, format strings and mixed scripts), thousands of lines.
BOOST_AUTO_TEST_CASE(agrees_with_the_fasttext_cli_on_real_text) {
    const fs::path lid = polyglot::testing::require_data_asset("lid.176.ftz");
    const fs::path dir = temp_dir();  // an earlier case removes it when done
    fs::create_directories(dir);
    const fs::path lines = dir / "mo_lines.txt", out = dir / "cli_predictions.txt";
    const std::string make =
        "/usr/bin/python3 scripts/mo_corpus.py lines --langs ar,cs,de,es,id,ja "
        "| awk 'NR % 7 == 0' | head -4000 > " +
        lines.string();
    BOOST_REQUIRE(std::system(make.c_str()) == 0);
    const std::string cli =
        "fasttext predict-prob " + lid.string() + " " + lines.string() + " 1 > " + out.string();
    BOOST_REQUIRE_MESSAGE(std::system(cli.c_str()) == 0,
                          "the fasttext CLI (Debian package fasttext, scripts/bootstrap) failed");
    std::ifstream text_in(lines), pred_in(out);
    auto m = pt::langid::open(lid);
    std::string text, pred;
    std::size_t n = 0, labelled = 0;
    while (std::getline(text_in, text)) {
        BOOST_REQUIRE(std::getline(pred_in, pred));
        const auto r = m->top1(text);
        ++n;
        if (r.label.empty()) continue;  // whitespace only: the CLI predicts from </s> alone
        ++labelled;
        const auto sp = pred.find(' ');
        BOOST_REQUIRE(sp != std::string::npos);
        BOOST_TEST(pred.substr(0, sp) == "__label__" + r.label, "line " << n << ": " << text);
        BOOST_TEST(std::stof(pred.substr(sp + 1)) == r.prob, boost::test_tools::tolerance(2e-5f));
    }
    BOOST_TEST(n >= 3000u);
    BOOST_TEST(labelled + 5 >= n);
    fs::remove_all(dir);
}
