// SPDX-License-Identifier: Apache-2.0
// Plugin discovery and backend selection: search order, file patterns, auto vs named vs path,
// and fallback when the preferred plugin declines a model.
#define BOOST_TEST_MODULE registry
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/host.hpp>

#include "plugin_test_util.hpp"

namespace pp = polyglot::plugin;
using namespace plugin_test;

namespace {

template <class E>
std::string message_of(auto&& fn) {
    try {
        fn();
    } catch (const E& e) {
        return e.what();
    }
    BOOST_FAIL("expected an exception");
    return {};
}

/// Whether this host has an NVIDIA GPU the cuda plugin can use, asked of the driver's own tool
/// (nvidia-smi), not of the plugin: a built cuda plugin must then rank first, else cpu does.
bool usable_cuda_device_here() {
    if (!fs::exists(build_plugin_dir() / "libpolyglot-cuda.so")) return false;
    FILE* f = ::popen("nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null", "r");
    if (!f) return false;
    char line[64];
    bool usable = false;
    while (std::fgets(line, sizeof line, f))
        if (std::atof(line) >= 8.0) usable = true;
    ::pclose(f);
    return usable;
}

pp::search_options only(std::vector<fs::path> dirs) {
    pp::search_options o;
    o.plugin_dirs = std::move(dirs);
    o.use_env = false;
    o.use_install_dir = false;
    o.use_exe_dir = false;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(search_order_is_flag_env_install_exe) {
    temp_dir a, b;
    ::setenv("POLYGLOT_PLUGIN_PATH", (b.path().string() + "::" + a.path().string()).c_str(), 1);
    pp::search_options o;
    o.plugin_dirs = {a.path()};
    auto dirs = pp::search_path(o);
    BOOST_TEST_REQUIRE(dirs.size() >= 3u);
    BOOST_TEST(dirs[0] == fs::canonical(a.path()));  // --plugin-dir first
    BOOST_TEST(dirs[1] == fs::canonical(b.path()));  // then the environment (a: deduplicated)
    // The install dir (configured) comes before the executable's directory.
    auto pos = [&](const fs::path& p) {
        return std::find(dirs.begin(), dirs.end(), fs::weakly_canonical(p)) - dirs.begin();
    };
    auto install = pos(POLYGLOT_PLUGIN_TEST_INSTALL_DIR);
    BOOST_TEST(install < static_cast<std::ptrdiff_t>(dirs.size()));
    BOOST_TEST(install > 1);
    ::setenv("POLYGLOT_PLUGIN_PATH", build_plugin_dir().c_str(), 1);
}

BOOST_AUTO_TEST_CASE(files_follow_the_naming_pattern) {
    temp_dir d;
    for (const char* f : {"libpolyglot-cpu.so", "polyglot-cuda-sm90.so", "libpolyglot.so",
                          "libpolyglot-Bad Name.so", "libpolyglot-cpu.txt", "libfoo.so"})
        write_text(d / f, "x");
    auto files = pp::find_plugin_files(only({d.path()}));
    std::vector<std::string> names;
    for (auto& f : files) names.push_back(f.filename().string());
    BOOST_TEST(names == (std::vector<std::string>{"libpolyglot-cpu.so", "polyglot-cuda-sm90.so"}),
               boost::test_tools::per_element());
    auto cuda = pp::find_plugin_files(only({d.path()}), "cuda");
    BOOST_TEST_REQUIRE(cuda.size() == 1u);
    BOOST_TEST(cuda[0].filename() == "polyglot-cuda-sm90.so");
}

BOOST_AUTO_TEST_CASE(scan_finds_the_cpu_plugin) {
    auto entries = pp::scan(only({build_plugin_dir()}));
    auto it = std::find_if(entries.begin(), entries.end(), [](const pp::scan_entry& e) {
        return e.plugin && e.plugin->name() == "cpu";
    });
    BOOST_TEST_REQUIRE((it != entries.end()), "no cpu plugin in " << build_plugin_dir());
    const auto& p = *it->plugin;
    BOOST_TEST(p.usable());
    BOOST_TEST(p.score() == 1);
    BOOST_TEST(p.abi_version() == POLYGLOT_PLUGIN_ABI_VERSION);
    auto caps = pp::capability_names(p.caps());
    BOOST_TEST((std::find(caps.begin(), caps.end(), "embed") != caps.end()));
    BOOST_TEST((std::find(caps.begin(), caps.end(), "tokenize") != caps.end()));
    auto devs = p.devices();
    BOOST_TEST_REQUIRE(devs.size() == 1u);
    BOOST_TEST(devs[0].name == "cpu");
    BOOST_TEST(devs[0].type == POLYGLOT_DEVICE_CPU);
    BOOST_TEST(devs[0].memory_total > 0u);
    // Loading the same file again gives the same (never unloaded) plugin.
    BOOST_TEST(pp::load_plugin(p.file()).get() == it->plugin.get());
}

BOOST_AUTO_TEST_CASE(named_auto_and_path_backends) {
    auto o = only({build_plugin_dir()});
    auto named = pp::select_backends("cpu", POLYGLOT_CAP_EMBED, o);
    BOOST_TEST_REQUIRE(named.size() == 1u);
    BOOST_TEST(named[0]->name() == "cpu");
    auto autos = pp::select_backends("auto", POLYGLOT_CAP_EMBED, o);
    BOOST_TEST_REQUIRE(!autos.empty());
    // With a usable GPU the cuda plugin (score 100, self-test passed) ranks first; cpu last.
    BOOST_TEST(autos[0]->name() == (usable_cuda_device_here() ? "cuda" : "cpu"));
    BOOST_TEST(autos.back()->name() == "cpu");
    auto by_path = pp::select_backends((build_plugin_dir() / "libpolyglot-cpu.so").string(),
                                       POLYGLOT_CAP_EMBED, o);
    BOOST_TEST(by_path[0].get() == named[0].get());
    // The cpu plugin generates; a capability it lacks is refused by name.
    BOOST_TEST(pp::select_backends("cpu", POLYGLOT_CAP_GENERATE, o).size() == 1u);
    auto msg = message_of<polyglot::plugin_error>(
        [&] { (void)pp::select_backends("cpu", std::uint64_t(1) << 40, o); });
    BOOST_TEST(contains(msg, "cannot do bit40"), msg);
}

BOOST_AUTO_TEST_CASE(missing_backend_says_where_it_looked) {
    auto o = only({build_plugin_dir()});
    auto msg = message_of<polyglot::plugin_error>(
        [&] { (void)pp::select_backends("metal", POLYGLOT_CAP_EMBED, o); });
    BOOST_TEST(contains(msg, "backend 'metal': no plugin found"), msg);
    BOOST_TEST(contains(msg, build_plugin_dir().string()), msg);
    BOOST_TEST(contains(msg, "--plugin-dir"), msg);
    msg = message_of<polyglot::plugin_error>(
        [&] { (void)pp::select_backends("/no/such/libpolyglot-x.so", POLYGLOT_CAP_EMBED, o); });
    BOOST_TEST(contains(msg, "'/no/such/libpolyglot-x.so' does not exist"), msg);
    temp_dir empty;
    msg = message_of<polyglot::plugin_error>(
        [&] { (void)pp::select_backends("auto", POLYGLOT_CAP_EMBED, only({empty.path()})); });
    BOOST_TEST(contains(msg, "no usable plugin"), msg);
    msg = message_of<polyglot::argument_error>(
        [&] { (void)pp::select_backends("CPU!", POLYGLOT_CAP_EMBED, o); });
    BOOST_TEST(contains(msg, "expected cpu, cuda, metal, auto"), msg);
}

BOOST_AUTO_TEST_CASE(auto_prefers_the_higher_score_and_falls_back_on_unsupported) {
    temp_dir d;
    const fs::path model = train_tiny_fasttext(d.path());
    auto o = only({test_plugin_dir("auto"), build_plugin_dir()});
    auto cands = pp::select_backends("auto", POLYGLOT_CAP_EMBED, o);
    BOOST_TEST_REQUIRE(cands.size() >= 2u);
    BOOST_TEST(cands[0]->name() == "picky");  // score 50 beats cpu's 1
    BOOST_TEST(cands[1]->name() == "cpu");
    const std::string cfg = "{\"model\": \"" + model.string() + "\"}";
    auto m = pp::open_model("auto", POLYGLOT_CAP_EMBED, cfg, o);
    BOOST_TEST(m.plugin().name() == "cpu");
    BOOST_TEST(m.dim() == 16u);
    // When every plugin fails, auto raises the last one's error (the cpu reference) and says
    // what the others answered.
    auto missing = message_of<polyglot::io_error>([&] {
        (void)pp::open_model("auto", POLYGLOT_CAP_EMBED, "{\"model\": \"/no/such/model.bin\"}", o);
    });
    BOOST_TEST(contains(missing, "backend 'cpu': model '/no/such/model.bin': no such file"),
               missing);
    BOOST_TEST(contains(missing, "(also tried) backend 'picky'"), missing);
    auto msg = message_of<polyglot::unsupported_error>(
        [&] { (void)pp::open_model("picky", POLYGLOT_CAP_EMBED, cfg, o); });
    BOOST_TEST(contains(msg, "backend 'picky': picky plugin: this model format is not supported"),
               msg);
}

BOOST_AUTO_TEST_CASE(text_batch_layout) {
    std::vector<std::string_view> texts = {"ab", "", "çé"};
    pp::text_batch b(texts);
    auto v = b.view();
    BOOST_TEST(v.n == 3u);
    BOOST_TEST(v.offsets[0] == 0u);
    BOOST_TEST(v.offsets[1] == 2u);
    BOOST_TEST(v.offsets[2] == 2u);
    BOOST_TEST(v.offsets[3] == 6u);
    BOOST_TEST(std::string(v.data, 6) == "abçé");
}

BOOST_AUTO_TEST_CASE(backends_command_lists_plugins) {
    auto r = run_cli("backends --json --plugin-dir " + q(test_plugin_dir("auto")));
    BOOST_TEST_REQUIRE(r.rc == 0, r.err);
    BOOST_TEST(contains(r.out, "\"name\": \"cpu\""), r.out);
    BOOST_TEST(contains(r.out, "\"name\": \"picky\""), r.out);
    BOOST_TEST(contains(r.out, "\"abi\": 1"), r.out);
    BOOST_TEST(contains(r.out, "\"capabilities\": ["), r.out);
    BOOST_TEST(contains(r.out, "\"devices\": ["), r.out);
    r = run_cli("backends");
    BOOST_TEST_REQUIRE(r.rc == 0, r.err);
    BOOST_TEST(contains(r.out, "* cpu "), r.out);
    BOOST_TEST(contains(r.out, "capabilities: embed, tokenize"), r.out);
}

// The known-answer self-test gate: a plugin preferred over cpu (score 100) whose device fails
// its self-test is unusable, says why with the numbers, and auto never picks it; its twin that
// passes is picked (so the gate, not the directory, decides).
BOOST_AUTO_TEST_CASE(auto_never_picks_a_plugin_that_failed_its_self_test) {
    auto bad_dir = test_plugin_dir("selftest"), good_dir = test_plugin_dir("selftest_good");
    BOOST_TEST_REQUIRE(fs::exists(bad_dir / "libpolyglot-selftest_bad.so"),
                       "not built: " << bad_dir << " (tests/plugins.cmake)");
    auto bad = pp::load_plugin(bad_dir / "libpolyglot-selftest_bad.so");
    BOOST_TEST(!bad->usable());
    BOOST_TEST(bad->score() == 0);
    // The reason names the failed check with its error and limit (the offset is 0.01, the f32
    // limit 0.002).
    BOOST_TEST(contains(bad->unusable_reason(), "self-test FAILED:"), bad->unusable_reason());
    BOOST_TEST(
        contains(bad->unusable_reason(), "log-probs (packed pass): error 0.01 > limit 0.002"),
        bad->unusable_reason());
    BOOST_TEST(contains(bad->self_test(), "\"status\":\"failed\""), bad->self_test());

    auto o = only({bad_dir, build_plugin_dir()});
    auto cands = pp::select_backends("auto", POLYGLOT_CAP_SCORE, o);
    BOOST_TEST_REQUIRE(!cands.empty());
    for (const auto& c : cands) BOOST_TEST(c->name() != "selftest_bad");
    BOOST_TEST(cands[0]->name() == (usable_cuda_device_here() ? "cuda" : "cpu"));
    auto msg = message_of<polyglot::plugin_error>(
        [&] { (void)pp::select_backends("selftest_bad", POLYGLOT_CAP_SCORE, o); });
    BOOST_TEST(contains(msg, "is unusable here: self-test FAILED:"), msg);

    auto good = pp::load_plugin(good_dir / "libpolyglot-selftest_good.so");
    BOOST_TEST(good->usable());
    BOOST_TEST(good->score() == 100);
    BOOST_TEST(contains(good->self_test(), "\"status\":\"passed\""), good->self_test());
    cands = pp::select_backends("auto", POLYGLOT_CAP_SCORE, only({good_dir, build_plugin_dir()}));
    BOOST_TEST_REQUIRE(!cands.empty());
    BOOST_TEST(cands[0]->name() == "selftest_good");

    // `polyglot backends` shows the verdict: the failure with its numbers, and the pass.
    auto r = run_cli("backends --plugin-dir " + q(bad_dir) + " --plugin-dir " + q(good_dir));
    BOOST_TEST_REQUIRE(r.rc == 0, r.err);
    BOOST_TEST(contains(r.out, "- selftest_bad 0.0.1  [unusable: self-test FAILED:"), r.out);
    BOOST_TEST(contains(r.out, "self-test: FAILED:"), r.out);
    BOOST_TEST(contains(r.out, "self-test: passed: 4 models"), r.out);
    r = run_cli("backends --json --plugin-dir " + q(bad_dir));
    BOOST_TEST_REQUIRE(r.rc == 0, r.err);
    BOOST_TEST(contains(r.out, "\"self_test\": {"), r.out);
    BOOST_TEST(contains(r.out, "\"status\":\"failed\""), r.out);
}
