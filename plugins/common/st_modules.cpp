// SPDX-License-Identifier: Apache-2.0
#include "common/st_modules.hpp"

#include <algorithm>
#include <polyglot/core/error.hpp>

#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

pooling_mode read_pooling(const std::filesystem::path& cfg_file) {
    json_document doc(cfg_file);
    auto root = doc.root();
    if (auto mode = get_string(root, "pooling_mode")) {  // sentence-transformers ≥ 6
        if (*mode == "mean") return pooling_mode::mean;
        if (*mode == "lasttoken") return pooling_mode::last;
        if (*mode == "cls") return pooling_mode::cls;
        if (*mode == "max") return pooling_mode::max;
        throw unsupported_error(cfg_file.string() + ": pooling_mode '" + *mode +
                                "' is not supported (mean, lasttoken, cls, max)");
    }
    int n = 0;
    pooling_mode m = pooling_mode::mean;
    if (get_bool(root, "pooling_mode_mean_tokens").value_or(false)) m = pooling_mode::mean, ++n;
    if (get_bool(root, "pooling_mode_lasttoken").value_or(false)) m = pooling_mode::last, ++n;
    if (get_bool(root, "pooling_mode_cls_token").value_or(false)) m = pooling_mode::cls, ++n;
    if (get_bool(root, "pooling_mode_max_tokens").value_or(false)) m = pooling_mode::max, ++n;
    if (get_bool(root, "pooling_mode_mean_sqrt_len_tokens").value_or(false) ||
        get_bool(root, "pooling_mode_weightedmean_tokens").value_or(false))
        throw unsupported_error(cfg_file.string() +
                                ": sqrt-length and weighted-mean pooling are not supported");
    if (n != 1)
        throw unsupported_error(cfg_file.string() +
                                ": exactly one pooling mode must be enabled (concatenated "
                                "poolings are not supported)");
    if (get_bool(root, "include_prompt") == false)
        throw unsupported_error(cfg_file.string() + ": include_prompt=false is not supported");
    return m;
}

/// The directory a module's "path" names, which must lie inside the model directory @p dir:
/// relative, without "..", and (symlinks followed) still under @p dir once resolved, so that a
/// downloaded modules.json cannot make us read files elsewhere on the machine. Only the module
/// directories are confined: files inside them may be symlinks (the Hugging Face cache links
/// every file of a snapshot to its shared blob store).
std::filesystem::path module_dir(const json_document& doc, const std::filesystem::path& dir,
                                 const std::string& rel) {
    namespace fs = std::filesystem;
    const fs::path p(rel);
    if (p.empty() || p == ".") return dir;
    if (p.is_absolute())
        doc.fail("module path '" + rel + "' is absolute; it must lie inside the model directory");
    for (const auto& part : p)
        if (part == "..") doc.fail("module path '" + rel + "' leaves the model directory");
    std::error_code ec_dir, ec_sub;
    fs::path real_dir = fs::weakly_canonical(dir, ec_dir);
    const fs::path real_sub = fs::weakly_canonical(dir / p, ec_sub);
    if (ec_dir || ec_sub)
        doc.fail("module path '" + rel + "' cannot be resolved (" +
                 (ec_dir ? ec_dir : ec_sub).message() + ")");
    if (real_dir.filename().empty()) real_dir = real_dir.parent_path();  // "dir/" -> "dir"
    if (std::mismatch(real_dir.begin(), real_dir.end(), real_sub.begin(), real_sub.end()).first !=
        real_dir.end())
        doc.fail("module path '" + rel + "' resolves to " + real_sub.string() +
                 ", outside the model directory " + real_dir.string());
    return dir / p;
}

}  // namespace

std::optional<st_pipeline> load_st_pipeline(const std::filesystem::path& dir) {
    const auto file = dir / "modules.json";
    if (!std::filesystem::exists(file)) return std::nullopt;
    json_document doc(file);
    simdjson::dom::array mods;
    if (doc.root().get_array().get(mods)) doc.fail("not a JSON array of modules");
    st_pipeline p;
    bool have_transformer = false, have_pooling = false;
    for (auto m : mods) {
        auto type = get_string(m, "type").value_or("");
        const auto sub = module_dir(doc, dir, get_string(m, "path").value_or(""));
        if (ends_with(type, "Transformer")) {
            if (have_transformer) doc.fail("more than one Transformer module");
            have_transformer = true;
            p.transformer_dir = sub;
            if (auto cfg = sub / "sentence_bert_config.json"; std::filesystem::exists(cfg)) {
                json_document sb(cfg);
                p.max_seq_length = get_int(sb.root(), "max_seq_length");
            }
        } else if (ends_with(type, "Pooling")) {
            if (!have_transformer) doc.fail("Pooling before the Transformer module");
            have_pooling = true;
            p.pooling = read_pooling(sub / "config.json");
        } else if (ends_with(type, "Dense")) {
            if (!have_pooling) doc.fail("Dense before the Pooling module");
            json_document cfg(sub / "config.json");
            st_dense d;
            d.in_features = get_int(cfg.root(), "in_features").value_or(0);
            d.out_features = get_int(cfg.root(), "out_features").value_or(0);
            d.bias = get_bool(cfg.root(), "bias").value_or(true);
            auto act = get_string(cfg.root(), "activation_function")
                           .value_or("torch.nn.modules.activation.Tanh");
            if (ends_with(act, "Identity"))
                d.act = dense_activation::identity;
            else if (ends_with(act, "Tanh"))
                d.act = dense_activation::tanh;
            else
                throw unsupported_error(cfg.path().string() + ": Dense activation '" + act +
                                        "' is not supported (Identity, Tanh)");
            if (d.in_features <= 0 || d.out_features <= 0)
                cfg.fail("in_features and out_features must be positive");
            d.dir = sub;
            p.dense.push_back(std::move(d));
        } else if (ends_with(type, "Normalize")) {
            p.normalize = true;
        } else {
            throw unsupported_error(file.string() + ": module type '" + type +
                                    "' is not supported (Transformer, Pooling, Dense, Normalize)");
        }
    }
    if (!have_transformer) doc.fail("no Transformer module");
    if (!have_pooling) doc.fail("no Pooling module");
    return p;
}

}  // namespace model
POLYGLOT_END_NAMESPACE
