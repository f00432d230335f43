// SPDX-License-Identifier: Apache-2.0
// Plugins that are broken on purpose (tests/plugins/bad/, built by tests/plugins.cmake): each
// gives one clear message and none crashes the host.
#define BOOST_TEST_MODULE bad_plugins
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/host.hpp>

#include "plugin_test_util.hpp"

namespace pp = polyglot::plugin;
using namespace plugin_test;

namespace {

fs::path bad(const std::string& name) {
    return test_plugin_dir("bad") / ("libpolyglot-" + name + ".so");
}

/// load_plugin must fail without throwing (error_code overload) and with the throwing overload
/// raise plugin_error carrying the same message.
std::string load_error(const std::string& name) {
    std::error_code ec;
    std::string msg;
    auto p = pp::load_plugin(bad(name), ec, msg);
    BOOST_TEST(!p);
    BOOST_TEST(ec == polyglot::errc::plugin);
    BOOST_TEST(!msg.empty());
    try {
        (void)pp::load_plugin(bad(name));
        BOOST_FAIL("load_plugin(" << name << ") did not throw");
    } catch (const polyglot::plugin_error& e) {
        BOOST_TEST(std::string(e.what()) == msg);
    }
    return msg;
}

pp::search_options bad_only() {
    pp::search_options o;
    o.plugin_dirs = {test_plugin_dir("bad")};
    o.use_env = o.use_install_dir = o.use_exe_dir = false;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(wrong_abi_version) {
    auto msg = load_error("badabi");
    BOOST_TEST(contains(msg,
                        "('badabi' 9.9.9) was built for plugin ABI 2, but this host speaks "
                        "ABI 1: rebuild the plugin"),
               msg);
}

BOOST_AUTO_TEST_CASE(shared_library_that_is_not_a_plugin) {
    auto msg = load_error("notplugin");
    BOOST_TEST(
        contains(msg, "is not a polyglot plugin: it does not export polyglot_plugin_entry()"), msg);
}

BOOST_AUTO_TEST_CASE(file_that_is_not_a_shared_library) {
    auto msg = load_error("garbage");
    BOOST_TEST(contains(msg, "cannot load plugin '" + bad("garbage").string() + "'"), msg);
    // The loader's own reason is passed on.
    BOOST_TEST((contains(msg, "invalid ELF header") || contains(msg, "file too short")), msg);
}

BOOST_AUTO_TEST_CASE(unresolved_symbol_fails_at_load_time) {
    auto msg = load_error("undefsym");
    BOOST_TEST(contains(msg, "undefined symbol: polyglot_test_symbol_that_does_not_exist"), msg);
}

BOOST_AUTO_TEST_CASE(entry_point_returns_null) {
    auto msg = load_error("nullentry");
    BOOST_TEST(contains(msg,
                        "polyglot_plugin_entry() returned NULL: the plugin failed to "
                        "initialise or cannot serve a host speaking plugin ABI 1"),
               msg);
}

BOOST_AUTO_TEST_CASE(missing_plugin_file) {
    auto msg = load_error("doesnotexist");
    BOOST_TEST(contains(msg, "does not exist"), msg);
}

BOOST_AUTO_TEST_CASE(create_fails_with_the_plugins_message) {
    auto p = pp::load_plugin(bad("failing"));
    BOOST_TEST(p->usable());
    try {
        (void)p->create("{\"model\": \"x\"}");
        BOOST_FAIL("create did not throw");
    } catch (const polyglot::io_error& e) {  // the plugin's io_error keeps its category
        BOOST_TEST(contains(e.what(), "backend 'failing': failing plugin: cannot open model"),
                   e.what());
    }
}

BOOST_AUTO_TEST_CASE(exceptions_inside_a_plugin_become_statuses) {
    auto p = pp::load_plugin(bad("throwing"));
    pp::model m = p->create("{}");
    BOOST_TEST(m.dim() == 4u);
    std::vector<std::string_view> texts = {"a", "b"};
    std::vector<float> out(8);
    try {
        m.embed(texts, out.data());
        BOOST_FAIL("embed did not throw");
    } catch (const polyglot::plugin_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "backend 'throwing': embed: throwing plugin: embed exploded");
    }
    try {
        (void)m.tokenize(texts);
        BOOST_FAIL("tokenize did not throw");
    } catch (const polyglot::plugin_error& e) {
        BOOST_TEST(std::string(e.what()) == "backend 'throwing': tokenize: unknown exception");
    }
    std::vector<polyglot::lm_score> scores(2);
    try {
        m.score(texts, texts, scores);
        BOOST_FAIL("score did not throw");
    } catch (const polyglot::plugin_error& e) {
        BOOST_TEST(std::string(e.what()) == "backend 'throwing': score: out of memory");
    }
    // The boundary still validates arguments: a wrong output size is refused, not written.
    pp::text_batch b(texts);
    try {
        m.embed(b.view(), out.data(), 7);
        BOOST_FAIL("embed with a short buffer did not throw");
    } catch (const polyglot::argument_error& e) {
        BOOST_TEST(contains(e.what(), "out has 7 floats, need 8"), e.what());
    }
}

BOOST_AUTO_TEST_CASE(unusable_plugin_says_why) {
    auto p = pp::load_plugin(bad("unusable"));
    BOOST_TEST(!p->usable());
    BOOST_TEST(p->unusable_reason() == "no test accelerator on this machine");
    try {
        (void)pp::select_backends("unusable", POLYGLOT_CAP_EMBED, bad_only());
        BOOST_FAIL("an unusable backend was selected");
    } catch (const polyglot::plugin_error& e) {
        BOOST_TEST(contains(e.what(), "is unusable here: no test accelerator on this machine"),
                   e.what());
    }
}

BOOST_AUTO_TEST_CASE(auto_skips_every_bad_plugin_and_explains) {
    // Only the plugins that load and are usable are candidates (in search order at equal
    // score); the broken ones are skipped.
    auto cands = pp::select_backends("auto", POLYGLOT_CAP_EMBED, bad_only());
    std::vector<std::string> names;
    for (const auto& c : cands) names.push_back(c->name());
    BOOST_TEST(names == (std::vector<std::string>{"failing", "throwing"}),
               boost::test_tools::per_element());
    // auto moves on when the preferred plugin cannot open the model ('failing' throws an
    // io_error from create; 'throwing' creates its model fine).
    auto m = pp::open_model("auto", POLYGLOT_CAP_EMBED, "{}", bad_only());
    BOOST_TEST(m.plugin().name() == "throwing");
    // Named, the failing plugin's own error comes back with its category.
    try {
        (void)pp::open_model("failing", POLYGLOT_CAP_EMBED, "{}", bad_only());
        BOOST_FAIL("opened a model on the failing plugin");
    } catch (const polyglot::io_error& e) {
        BOOST_TEST(contains(e.what(), "failing plugin: cannot open model"), e.what());
    }
    // When nothing fits, the message lists why each plugin was passed over.
    try {
        (void)pp::select_backends("auto", POLYGLOT_CAP_GENERATE, bad_only());
        BOOST_FAIL("auto found a GENERATE plugin among the bad ones");
    } catch (const polyglot::plugin_error& e) {
        std::string msg = e.what();
        BOOST_TEST(contains(msg, "no usable plugin that can do generate"), msg);
        BOOST_TEST(contains(msg, "was built for plugin ABI 2"), msg);
        BOOST_TEST(contains(msg, "not a polyglot plugin"), msg);
        BOOST_TEST(contains(msg, "returned NULL"), msg);
        BOOST_TEST(contains(msg, "undefined symbol"), msg);
        BOOST_TEST(contains(msg, "unusable here: no test accelerator"), msg);
        BOOST_TEST(contains(msg, "throwing ("), msg);
    }
}

BOOST_AUTO_TEST_CASE(cli_reports_bad_plugins_without_crashing) {
    auto r = run_cli("backends --plugin-dir " + q(test_plugin_dir("bad")));
    BOOST_TEST_REQUIRE(r.rc == 0, r.err);
    BOOST_TEST(contains(r.out, "built for plugin ABI 2"), r.out);
    BOOST_TEST(contains(r.out, "not a polyglot plugin"), r.out);
    BOOST_TEST(contains(r.out, "[unusable: no test accelerator on this machine]"), r.out);
    BOOST_TEST(contains(r.out, "* cpu "), r.out);  // the good one is still listed
    r = run_cli("backends --json --plugin-dir " + q(test_plugin_dir("bad")));
    BOOST_TEST_REQUIRE(r.rc == 0, r.err);
    BOOST_TEST(contains(r.out, "\"loaded\": false"), r.out);

    // Selecting a bad plugin by path through `polyglot score`: one line, exit 1, no crash.
    temp_dir d;
    write_text(d / "in.jsonl", "{\"prompt\": \"a b\", \"response\": \"c d\"}\n");
    r = run_cli("score " + q(d / "in.jsonl") + " -q --metrics distinct_ri --embedder fasttext:" +
                q(d / "none.bin") + " --backend " + q(bad("badabi")));
    BOOST_TEST(r.rc == 1, r.err);
    BOOST_TEST(contains(r.err, "was built for plugin ABI 2"), r.err);
    r = run_cli("score " + q(d / "in.jsonl") + " -q --metrics distinct_ri --embedder fasttext:" +
                q(d / "none.bin") + " --backend nosuchbackend");
    BOOST_TEST(r.rc == 1, r.err);
    BOOST_TEST(contains(r.err, "backend 'nosuchbackend': no plugin found"), r.err);
}
