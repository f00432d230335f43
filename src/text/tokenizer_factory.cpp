// SPDX-License-Identifier: Apache-2.0
// text::open_tokenizer: tiktoken tables by name or path; Hugging Face tokenizers (later).
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/text/tiktoken.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <polyglot/text/hf_tokenizer.hpp>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

namespace {

bool is_builtin_table(std::string_view spec) {
    return spec == "cl100k_base" || spec == "o200k_base";
}

bool has_suffix(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// Loaded tiktoken tables are shared while anyone holds them (several metrics open the same
/// tokenizer; loading costs a few milliseconds and ~10 MB each).
std::shared_ptr<const tokenizer> open_tiktoken_shared(const std::filesystem::path& path) {
    static std::mutex mu;
    static std::map<std::string, std::weak_ptr<const tokenizer>> loaded;
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(path, ec);
    const std::string key = ec ? path.string() : canonical.string();
    std::lock_guard lock(mu);
    if (auto it = loaded.find(key); it != loaded.end())
        if (auto p = it->second.lock()) return p;
    std::shared_ptr<const tokenizer> t = tiktoken_tokenizer::open(path);
    loaded[key] = t;
    return t;
}

}  // namespace

std::shared_ptr<const tokenizer> open_tokenizer(std::string_view spec) {
    if (spec.empty()) throw argument_error("empty tokenizer name");
    if (is_builtin_table(spec)) return open_tiktoken_shared(resolve_asset(std::string(spec) + ".json"));

    const std::filesystem::path path{std::string(spec)};
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec) || path.filename() == "tokenizer.json") {
        // ---- Hugging Face tokenizer branch ----------------------------------------------
        // The bottom library (src/base/tokenizers/hf, polyglot_base) implements it.
        return open_hf_tokenizer(path);
    }
    if (has_suffix(spec, ".json") || has_suffix(spec, ".bin")) {
        if (!std::filesystem::exists(path, ec))
            throw io_error("tokenizer file '" + path.string() + "' not found");
        return open_tiktoken_shared(path);
    }
    throw argument_error("unknown tokenizer '" + std::string(spec) +
                         "': expected cl100k_base, o200k_base, a tiktoken encoder .json (npm "
                         "tiktoken format) or .tiktoken.bin, or a Hugging Face model directory / "
                         "tokenizer.json");
}

}  // namespace text
POLYGLOT_END_NAMESPACE
