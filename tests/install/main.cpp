// SPDX-License-Identifier: Apache-2.0
// Install-tree consumer: the cpu plugin must be found next to the installed libpolyglot (no
// environment, no --plugin-dir), create must reach it, and embedding must work when the
// lid.176.ftz asset is available.
#include <cstdio>
#include <filesystem>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/plugin/host.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;

#define CHECK(cond, ...)                                 \
    do {                                                 \
        if (!(cond)) {                                   \
            std::fprintf(stderr, "FAILED: %s: ", #cond); \
            std::fprintf(stderr, __VA_ARGS__);           \
            std::fprintf(stderr, "\n");                  \
            return 1;                                    \
        }                                                \
    } while (0)

int main(int argc, char** argv) {
    CHECK(argc == 2, "usage: consumer PREFIX");
    const std::string prefix = fs::canonical(argv[1]).string();
    polyglot::plugin::search_options only_install;
    only_install.use_env = false;
    only_install.use_exe_dir = false;

    auto cands = polyglot::plugin::select_backends("cpu", POLYGLOT_CAP_EMBED, only_install);
    const std::string file = fs::canonical(cands.at(0)->file()).string();
    CHECK(file.rfind(prefix, 0) == 0, "cpu plugin %s is not under the install prefix %s",
          file.c_str(), prefix.c_str());
    std::printf("cpu plugin: %s (abi %u)\n", file.c_str(), cands[0]->abi_version());

    try {
        (void)polyglot::plugin::open_model("cpu", POLYGLOT_CAP_EMBED,
                                           "{\"model\": \"/nonexistent/model.bin\"}", only_install);
        CHECK(false, "opened a missing model");
    } catch (const polyglot::io_error& e) {
        CHECK(std::string(e.what()).find("no such file") != std::string::npos, "%s", e.what());
    }

    fs::path lid;
    try {
        lid = polyglot::resolve_asset("lid.176.ftz");
    } catch (const polyglot::error& e) {  // a missing asset fails (tests/support/require_asset.hpp)
        std::fprintf(stderr, "missing test asset: %s\n", e.what());
        return 1;
    }
    polyglot::backend_options opts;
    opts.backend = "auto";
    auto emb = polyglot::open_embedder("fasttext:" + lid.string(), opts);
    std::vector<std::string_view> texts = {"Hallo Welt", "hello world"};
    std::vector<float> out(texts.size() * emb->dim());
    emb->embed(texts, out.data());
    double norm = 0;
    for (float v : out) norm += static_cast<double>(v) * v;
    CHECK(emb->dim() == 16 && norm > 0, "dim %zu norm %g", emb->dim(), norm);
    std::printf("embedded %zu texts with %s on backend %s\n", texts.size(), emb->id().c_str(),
                emb->backend().c_str());
    return 0;
}
