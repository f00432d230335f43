// SPDX-License-Identifier: Apache-2.0
#include "common/runtime/special_tokens.hpp"

#include <algorithm>
#include <polyglot/core/error.hpp>
#include <string>

#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime {
namespace {

using simdjson::dom::element;

/// One id: a non-negative integer below vocab_size.
model::token_id id_of(element e, const model::json_document& doc, const char* key,
                      std::size_t vocab_size) {
    std::int64_t v = -1;
    std::uint64_t u = 0;
    if (!e.get_int64().get(v)) {
    } else if (!e.get_uint64().get(u)) {
        v = u > std::uint64_t(INT64_MAX) ? -1 : std::int64_t(u);
    } else {
        doc.fail(std::string(key) + " must be an integer or a list of integers");
    }
    if (v < 0 || std::uint64_t(v) >= vocab_size)
        doc.fail(std::string(key) + " " + std::to_string(v) + " is not a token id of the model " +
                 "(vocabulary of " + std::to_string(vocab_size) + ")");
    return model::token_id(v);
}

/// The ids under @p key of @p obj (an integer or a list), nullopt when absent or null.
std::optional<std::vector<model::token_id>> ids_at(element obj, const model::json_document& doc,
                                                   const char* key, std::size_t vocab_size) {
    auto e = model::field(obj, key);
    if (!e) return std::nullopt;
    std::vector<model::token_id> out;
    simdjson::dom::array arr;
    if (!e->get_array().get(arr)) {
        for (element x : arr) out.push_back(id_of(x, doc, key, vocab_size));
    } else {
        out.push_back(id_of(*e, doc, key, vocab_size));
    }
    return out;
}

struct from_file {
    std::optional<std::vector<model::token_id>> eos, bos;
};

from_file read(const std::filesystem::path& file, std::size_t vocab_size) {
    from_file r;
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return r;
    model::json_document doc(file);
    element root = doc.root();
    if (!root.is_object()) doc.fail("not a JSON object");
    r.eos = ids_at(root, doc, "eos_token_id", vocab_size);
    r.bos = ids_at(root, doc, "bos_token_id", vocab_size);
    if (auto tc = model::field(root, "text_config"); tc && tc->is_object()) {
        if (!r.eos) r.eos = ids_at(*tc, doc, "eos_token_id", vocab_size);
        if (!r.bos) r.bos = ids_at(*tc, doc, "bos_token_id", vocab_size);
    }
    if (r.bos && r.bos->size() != 1) doc.fail("bos_token_id must be one integer");
    return r;
}

}  // namespace

special_tokens load_special_tokens(const std::filesystem::path& dir, const model::hf_tokenizer& tok,
                                   std::size_t vocab_size) {
    special_tokens s;
    const auto gen = read(dir / "generation_config.json", vocab_size);
    const auto cfg = read(dir / "config.json", vocab_size);
    if (gen.eos) {
        s.eos = *gen.eos;
        s.eos_source = dir / "generation_config.json";
    } else if (cfg.eos) {
        s.eos = *cfg.eos;
        s.eos_source = dir / "config.json";
    }
    if (gen.bos)
        s.bos = gen.bos->front();
    else if (cfg.bos)
        s.bos = cfg.bos->front();
    // Tokenizer names as the last resort (a model directory without the ids in its configs).
    const auto tc_file = dir / "tokenizer_config.json";
    std::error_code ec;
    std::optional<model::json_document> tc;
    if ((s.eos.empty() || !s.bos) && std::filesystem::exists(tc_file, ec)) {
        // Only token names are read from it, as a last resort: a file simdjson cannot parse
        // (transformers writes model_max_length as a 31-digit integer) just gives no names.
        try {
            tc.emplace(tc_file);
        } catch (const format_error&) {
        }
    }
    if (tc) {
        const model::json_document& doc = *tc;
        auto name = [&](const char* key) -> std::optional<model::token_id> {
            auto e = model::field(doc.root(), key);
            if (!e) return std::nullopt;
            std::string_view v;
            if (e->get_string().get(v)) {
                // {"content": "<s>", ...} (older transformers)
                auto c = model::field(*e, "content");
                if (!c || c->get_string().get(v)) return std::nullopt;
            }
            auto id = tok.token_to_id(v);
            if (id && *id < vocab_size) return id;
            return std::nullopt;
        };
        if (s.eos.empty())
            if (auto id = name("eos_token")) {
                s.eos.push_back(*id);
                s.eos_source = tc_file;
            }
        if (!s.bos) s.bos = name("bos_token");
    }
    std::sort(s.eos.begin(), s.eos.end());
    s.eos.erase(std::unique(s.eos.begin(), s.eos.end()), s.eos.end());
    return s;
}

}  // namespace runtime
POLYGLOT_END_NAMESPACE
