// SPDX-License-Identifier: Apache-2.0
// The cpu plugin's fastText models: embeddings equal fastText's own sentence vectors bit for bit,
// batched and concurrent calls agree, tokenize, bad model files, and distinct-RI through the
// plugin equal to the brute-force definition over independently computed vectors.
#define BOOST_TEST_MODULE cpu_plugin
#include <cmath>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/metrics/distinct_ri.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/services.hpp>
#include <thread>

#include "plugin_test_util.hpp"

namespace pp = polyglot::plugin;
using namespace plugin_test;

namespace {

polyglot::backend_options cpu_options(const std::string& backend = "cpu") {
    polyglot::backend_options o;
    o.backend = backend;
    o.plugin_dirs = {build_plugin_dir()};
    return o;
}

/// Texts to embed: the training sentences, unseen words, mixed scripts, empty and whitespace
/// strings, newlines, invalid UTF-8.
std::vector<std::string> test_texts() {
    std::vector<std::string> t = sentences();
    t.push_back("completely unseen vocabulary zxqv wobble");
    t.push_back("");
    t.push_back("   \t  ");
    t.push_back("line one\nline two\r\nline three");
    t.push_back(std::string("bad \xff\xfe utf8 \xc3"));
    t.push_back("猫 dog القطة");
    return t;
}

struct fixture {
    temp_dir dir;
    fs::path model = train_tiny_fasttext(dir.path());
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(embeddings_equal_fasttext_sentence_vectors, fixture) {
    fasttext::FastText ft;
    ft.loadModel(model.string());
    auto texts = test_texts();
    std::vector<std::string_view> views(texts.begin(), texts.end());

    auto e = polyglot::open_embedder("fasttext:" + model.string(), cpu_options());
    BOOST_TEST(e->dim() == 16u);
    BOOST_TEST(e->backend() == "cpu");
    BOOST_TEST(e->id() == "fasttext:" + model.string());
    std::vector<float> got(texts.size() * 16, -1.0f);
    e->embed(views, got.data());
    for (std::size_t i = 0; i < texts.size(); ++i) {
        auto want = reference_vector(ft, texts[i]);
        BOOST_TEST(std::memcmp(want.data(), got.data() + i * 16, 16 * sizeof(float)) == 0,
                   "row " << i << " differs from FastText::getSentenceVector");
    }
    // Empty and whitespace-only texts have no words: the zero vector.
    for (std::size_t k = 0; k < 16; ++k) BOOST_TEST(got[(sentences().size() + 1) * 16 + k] == 0.0f);
    // A non-trivial vector for a training sentence.
    double norm = 0;
    for (std::size_t k = 0; k < 16; ++k) norm += got[k] * got[k];
    BOOST_TEST(norm > 1e-6);
}

BOOST_FIXTURE_TEST_CASE(batches_threads_and_single_calls_agree, fixture) {
    auto e = polyglot::open_embedder("fasttext:" + model.string(), cpu_options());
    std::vector<std::string> texts;
    for (int rep = 0; rep < 20; ++rep)
        for (const auto& s : test_texts()) texts.push_back(s + " " + std::to_string(rep));
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<float> all(texts.size() * 16);
    e->embed(views, all.data());
    // One at a time.
    std::vector<float> one(16);
    for (std::size_t i = 0; i < texts.size(); i += 37) {
        e->embed(std::span(views).subspan(i, 1), one.data());
        BOOST_TEST(std::memcmp(one.data(), all.data() + i * 16, 64) == 0);
    }
    // The ABI says embed is thread-safe on one model: two threads, same answers.
    auto m = pp::open_model("cpu", POLYGLOT_CAP_EMBED,
                            "{\"model\": \"" + model.string() + "\", \"threads\": 2}", [] {
                                pp::search_options o;
                                o.plugin_dirs = {build_plugin_dir()};
                                return o;
                            }());
    std::vector<float> a(all.size()), b(all.size());
    std::thread t1([&] { m.embed(views, a.data()); });
    std::thread t2([&] { m.embed(views, b.data()); });
    t1.join();
    t2.join();
    BOOST_TEST(std::memcmp(a.data(), all.data(), all.size() * 4) == 0);
    BOOST_TEST(std::memcmp(b.data(), all.data(), all.size() * 4) == 0);
    // Empty batch.
    e->embed({}, nullptr);
}

BOOST_FIXTURE_TEST_CASE(tokenize_gives_dictionary_ids, fixture) {
    fasttext::FastText ft;
    ft.loadModel(model.string());
    auto dict = ft.getDictionary();
    pp::search_options o;
    o.plugin_dirs = {build_plugin_dir()};
    auto m =
        pp::open_model("cpu", POLYGLOT_CAP_TOKENIZE, "{\"model\": \"" + model.string() + "\"}", o);
    BOOST_TEST(m.supports(POLYGLOT_OP_TOKENIZE));
    BOOST_TEST(m.supports(POLYGLOT_OP_EMBED));
    BOOST_TEST(!m.supports(POLYGLOT_OP_SCORE));
    std::vector<std::string_view> texts = {"the cat  sat\non zxqv", "", "hund"};
    auto ids = m.tokenize(texts);
    BOOST_TEST_REQUIRE(ids.size() == 3u);
    std::vector<std::int32_t> want = {dict->getId("the"), dict->getId("cat"), dict->getId("sat"),
                                      dict->getId("on"), -1};
    BOOST_TEST(ids[0] == want, boost::test_tools::per_element());
    BOOST_TEST(ids[1].empty());
    BOOST_TEST(ids[2] == std::vector<std::int32_t>{dict->getId("hund")},
               boost::test_tools::per_element());
    auto info = m.info_json();
    BOOST_TEST(contains(info, "\"format\":\"fasttext\""), info);
    BOOST_TEST(contains(info, "\"dim\":16"), info);
}

BOOST_FIXTURE_TEST_CASE(distinct_ri_through_the_plugin_equals_brute_force, fixture) {
    // Independent path: fastText directly + the O(N^2 d) definition.
    fasttext::FastText ft;
    ft.loadModel(model.string());
    auto texts = test_texts();
    std::vector<float> ref;
    for (const auto& t : texts) {
        auto v = reference_vector(ft, t);
        ref.insert(ref.end(), v.begin(), v.end());
    }
    const double brute = polyglot::metrics::distinct_ri_brute_force(ref.data(), texts.size(), 16);

    // Plugin path: open_embedder + the streaming accumulator.
    auto e = polyglot::open_embedder("fasttext:" + model.string(), cpu_options("auto"));
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<float> got(texts.size() * 16);
    e->embed(views, got.data());
    polyglot::metrics::distinct_ri_accumulator acc(16);
    acc.add_rows(got.data(), texts.size());
    BOOST_TEST(acc.n == texts.size());
    BOOST_TEST(acc.nonzero == texts.size() - 2);  // "" and whitespace embed to zero
    BOOST_TEST(acc.value() == brute, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(std::isfinite(brute));
}

BOOST_AUTO_TEST_CASE(supervised_ftz_model_embeds) {
    const fs::path lid = polyglot::testing::require_data_asset("lid.176.ftz");
    fasttext::FastText ft;
    ft.loadModel(lid.string());
    auto e = polyglot::open_embedder("fasttext:" + lid.string(), cpu_options());
    BOOST_TEST(e->dim() == 16u);
    std::vector<std::string> texts = {"Das ist ein kleiner Test.", "Ceci est un test.\nDeux"};
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<float> got(texts.size() * e->dim());
    e->embed(views, got.data());
    for (std::size_t i = 0; i < texts.size(); ++i) {
        auto want = reference_vector(ft, texts[i]);
        BOOST_TEST(std::memcmp(want.data(), got.data() + i * 16, 64) == 0);
    }
}

BOOST_AUTO_TEST_CASE(bad_model_files_give_clear_errors) {
    temp_dir d;
    auto o = cpu_options();
    auto expect = [&](const std::string& spec, const std::string& part, auto tag) {
        using E = decltype(tag);
        try {
            (void)polyglot::open_embedder(spec, o);
            BOOST_FAIL("opened " << spec);
        } catch (const E& e) {
            BOOST_TEST(contains(e.what(), part), e.what());
        }
    };
    expect("fasttext:" + (d / "missing.bin").string(), "no such file or directory",
           polyglot::io_error(""));
    write_text(d / "text.bin", "not a model at all, just some text");
    expect("fasttext:" + (d / "text.bin").string(), "is not a fastText model (bad magic)",
           polyglot::format_error(""));
    // A real model cut short.
    const fs::path good = train_tiny_fasttext(d.path());
    std::string bytes = read_text(good);
    write_text(d / "truncated.bin", bytes.substr(0, bytes.size() / 3));
    try {
        (void)polyglot::open_embedder("fasttext:" + (d / "truncated.bin").string(), o);
        BOOST_FAIL("opened a truncated model");
    } catch (const polyglot::error& e) {
        BOOST_TEST(contains(e.what(), "truncated.bin"), e.what());
    }
    // An empty directory: no Hugging Face model there (engine or stub, the path is named).
    fs::create_directory(d / "emptydir");
    try {
        (void)polyglot::open_embedder((d / "emptydir").string(), o);
        BOOST_FAIL("opened an empty directory");
    } catch (const polyglot::error& e) {
        BOOST_TEST(contains(e.what(), "emptydir"), e.what());
    }
    expect("fasttext:", "model path is missing", polyglot::argument_error(""));
}

// ---- end to end through `polyglot score` ------------------------------------------------------

namespace {

/// The report with its one run-dependent line (metadata.elapsed_seconds) removed.
std::string without_elapsed(const std::string& report) {
    std::string out;
    std::istringstream in(report);
    std::string line;
    while (std::getline(in, line))
        if (line.find("\"elapsed_seconds\"") == std::string::npos) out += line + "\n";
    return out;
}

double report_value(const std::string& report, const std::string& key) {
    auto k = report.find("\"" + key + "\":");
    BOOST_TEST_REQUIRE(k != std::string::npos, "no " << key << " in report:\n" << report);
    return std::strtod(report.c_str() + k + key.size() + 3, nullptr);
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {  // \n, \r, \t: escaped as JSON requires
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            out += buf;
            continue;
        }
        out += c;
    }
    return out + "\"";
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(score_cpu_and_auto_reports_are_identical_and_exact, fixture) {
    // Records: prompt i and response i from the test texts (newlines, tabs, CJK, empty and
    // blank strings); invalid UTF-8 is left out because the reader skips such records.
    std::vector<std::string> texts;
    for (const auto& t : test_texts())
        if (t.find("utf8") == std::string::npos) texts.push_back(t);
    std::vector<std::string> prompts, responses;
    std::string jsonl;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        prompts.push_back(texts[i]);
        responses.push_back(texts[(i * 7 + 3) % texts.size()] + " " + texts[i]);
        jsonl += "{\"prompt\": " + json_string(prompts.back()) +
                 ", \"response\": " + json_string(responses.back()) + "}\n";
    }
    write_text(dir / "data.jsonl", jsonl);
    const std::string base = "score " + q(dir / "data.jsonl") +
                             " -q --metrics distinct_ri --embedder fasttext:" + q(model) +
                             " --plugin-dir " + q(build_plugin_dir());
    auto cpu = run_cli(base + " --backend cpu");
    auto aut = run_cli(base + " --backend auto");
    auto path = run_cli(base + " --backend " + q(build_plugin_dir() / "libpolyglot-cpu.so"));
    BOOST_TEST_REQUIRE(cpu.rc == 0, cpu.err);
    BOOST_TEST_REQUIRE(aut.rc == 0, aut.err);
    BOOST_TEST_REQUIRE(path.rc == 0, path.err);
    // Byte-identical apart from the wall-clock time.
    BOOST_TEST(without_elapsed(cpu.out) == without_elapsed(aut.out));
    BOOST_TEST(without_elapsed(cpu.out) == without_elapsed(path.out));
    BOOST_TEST(contains(cpu.out, "\"embedding_model\": \"fasttext:" + model.string() + "\""),
               cpu.out);

    // Oracle: fastText directly + the N x N definition.
    fasttext::FastText ft;
    ft.loadModel(model.string());
    auto brute = [&](const std::vector<std::string>& t) {
        std::vector<float> v;
        for (const auto& s : t) {
            auto r = reference_vector(ft, s);
            v.insert(v.end(), r.begin(), r.end());
        }
        return polyglot::metrics::distinct_ri_brute_force(v.data(), t.size(), 16);
    };
    BOOST_TEST(report_value(cpu.out, "prompts_distinct_ri") == brute(prompts),
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(report_value(cpu.out, "responses_distinct_ri") == brute(responses),
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(report_value(cpu.out, "num_prompt_vectors") == static_cast<double>(prompts.size()));
}
