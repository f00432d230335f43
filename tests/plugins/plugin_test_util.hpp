// SPDX-License-Identifier: Apache-2.0
// Shared helpers of the plugin tests: temporary directories, a tiny fastText model trained in
// the test (seeded, one thread, deterministic), running the CLI, writing .npy files.
#pragma once

#include <fasttext/fasttext.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/require_asset.hpp"

namespace plugin_test {

namespace fs = std::filesystem;

/// A fresh directory under $TMPDIR, removed at scope exit.
class temp_dir {
  public:
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "polyglot-plg-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] const fs::path& path() const { return path_; }
    [[nodiscard]] fs::path operator/(const std::string& name) const { return path_ / name; }

  private:
    fs::path path_;
};

/// Whether @p s contains @p part (for checking messages).
inline bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

inline void write_text(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

inline std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Sentences for the tiny corpus (a few KB, several languages and scripts).
inline const std::vector<std::string>& sentences() {
    static const std::vector<std::string> s = {
        "the cat sat on the mat and looked at the dog",
        "a dog ran across the park to find the ball",
        "the quick brown fox jumps over the lazy dog",
        "students read books in the quiet library every morning",
        "the teacher wrote a long question on the board",
        "die katze sitzt auf der matte und schaut den hund an",
        "der hund rennt durch den park um den ball zu finden",
        "die schüler lesen jeden morgen bücher in der bibliothek",
        "el gato está sentado en la alfombra y mira al perro",
        "el perro corre por el parque para encontrar la pelota",
        "los estudiantes leen libros en la biblioteca cada mañana",
        "kucing duduk di atas tikar dan melihat anjing",
        "anjing berlari melintasi taman untuk mencari bola",
        "القطة تجلس على الحصيرة وتنظر إلى الكلب",
        "猫はマットの上に座って犬を見ている",
        "model answers should be helpful honest and short",
        "translate the following sentence into german please",
        "write a short poem about the sea and the wind",
    };
    return s;
}

/// Trains a tiny unsupervised fastText model (dim 16, seeded, one thread) into @p dir and
/// returns the .bin path. Deterministic: same corpus, seed and single thread.
inline fs::path train_tiny_fasttext(const fs::path& dir, const std::string& model = "skipgram") {
    const fs::path corpus = dir / "corpus.txt";
    {
        std::ofstream out(corpus);
        std::uint32_t x = 12345;
        for (int i = 0; i < 400; ++i) {
            x = x * 1664525u + 1013904223u;
            out << sentences()[(x >> 8) % sentences().size()] << "\n";
        }
    }
    fasttext::Args a;
    a.input = corpus.string();
    a.output = (dir / ("tiny_" + model)).string();
    a.model = model == "cbow" ? fasttext::model_name::cbow : fasttext::model_name::sg;
    a.dim = 16;
    a.epoch = 3;
    a.minCount = 1;
    a.thread = 1;
    a.bucket = 2000;
    a.minn = 2;
    a.maxn = 4;
    a.verbose = 0;
    a.seed = 7;
    fasttext::FastText ft;
    ft.train(a);
    ft.saveModel(a.output + ".bin");
    return a.output + ".bin";
}

/// FastText::getSentenceVector of one text as `fasttext print-sentence-vectors` and the Python
/// binding's get_sentence_vector feed it: one line ending in '\n' (a supervised model reads
/// that as the end-of-sentence token </s> and averages it in). Newlines inside the text are
/// folded to spaces first (the binding refuses them). tests/oracles/fasttext_vectors.py checks
/// the plugin against the fastText CLI itself.
inline std::vector<float> reference_vector(fasttext::FastText& ft, std::string text) {
    for (char& c : text)
        if (c == '\n') c = ' ';
    text += '\n';
    std::istringstream in(text);
    fasttext::Vector v(ft.getDimension());
    ft.getSentenceVector(in, v);
    return std::vector<float>(v.data(), v.data() + v.size());
}

struct cli_result {
    int rc = -1;
    std::string out, err;
};

/// The CLI binary ($POLYGLOT_CLI, set by CTest).
inline std::string cli_path() { return polyglot::testing::require_cli(); }

/// Runs `polyglot ARGS` through the shell (args are quoted by the caller).
inline cli_result run_cli(const std::string& args, const std::string& env = {}) {
    temp_dir t;
    const std::string cmd = env + (env.empty() ? "" : " ") + "'" + cli_path() + "' " + args +
                            " >'" + (t / "out").string() + "' 2>'" + (t / "err").string() + "'";
    int st = std::system(cmd.c_str());
    cli_result r;
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    r.out = read_text(t / "out");
    r.err = read_text(t / "err");
    return r;
}

inline std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

/// Writes a 2-D .npy file (format @p version 1, 2 or 3) holding @p bytes of dtype @p descr.
inline void write_npy(const fs::path& p, const std::string& descr, std::uint64_t rows,
                      std::uint64_t cols, const void* data, std::size_t bytes, int version = 1,
                      bool fortran = false, const std::string& shape_override = {}) {
    std::string dict =
        "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
        ", 'shape': " +
        (shape_override.empty() ? "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")"
                                : shape_override) +
        ", }";
    const std::size_t pre = version == 1 ? 10 : 12;
    std::size_t total = pre + dict.size() + 1;
    std::size_t pad = (64 - total % 64) % 64;
    dict += std::string(pad, ' ') + "\n";
    std::ofstream out(p, std::ios::binary);
    out.write("\x93NUMPY", 6);
    out.put(static_cast<char>(version));
    out.put(0);
    const std::uint32_t len = static_cast<std::uint32_t>(dict.size());
    if (version == 1) {
        out.put(static_cast<char>(len & 0xff));
        out.put(static_cast<char>(len >> 8));
    } else {
        for (int i = 0; i < 4; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
    }
    out << dict;
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

/// Directory holding the plugins built on purpose by tests/plugins.cmake.
inline fs::path test_plugin_dir(const std::string& sub) {
    return fs::path(POLYGLOT_BINARY_DIR) / "test-plugins" / sub;
}

/// Directory of the real plugins of this build.
inline fs::path build_plugin_dir() { return fs::path(POLYGLOT_BINARY_DIR) / "plugins"; }

}  // namespace plugin_test
