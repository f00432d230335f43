// SPDX-License-Identifier: Apache-2.0
// hf_tokenizer::load: reads tokenizer.json into the pipeline (model, normalizer, pre-tokenizer,
// decoder, added tokens, post-processor) and the id → token tables.
#include <algorithm>
#include <polyglot/core/error.hpp>
#include <string>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/models/bpe.hpp"
#include "base/tokenizers/hf/models/unigram.hpp"
#include "base/tokenizers/hf/models/wordlevel.hpp"
#include "base/tokenizers/hf/models/wordpiece.hpp"
#include "base/tokenizers/hf/processors.hpp"
#include "base/tokenizers/hf/tokenizer_impl.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

using detail::bpe_model;
using detail::element;
using detail::last_byte_level;
using detail::load_bpe;
using detail::load_unigram;
using detail::load_wordlevel;
using detail::load_wordpiece;
using detail::make_normalizer;
using detail::make_pre_tokenizer;
using detail::parse_post_processor;
using detail::string_table;
using detail::unsupported;

std::shared_ptr<const hf_tokenizer> hf_tokenizer::load(const std::filesystem::path& path) {
    auto file = std::filesystem::is_directory(path) ? path / "tokenizer.json" : path;
    if (!std::filesystem::exists(file))
        throw io_error(file.string() + ": no such file (a Hugging Face tokenizer.json is needed)");
    json_document doc(file);
    auto m = std::make_unique<impl>();
    m->file = file;
    element root = doc.root();
    auto model = field(root, "model");
    if (!model || !model->is_object()) doc.fail("no \"model\" object");
    auto type = get_string(*model, "type");
    if (!type) {  // very old files have no "type" but the model's keys
        if (field(*model, "merges"))
            type = "BPE";
        else if (field(*model, "unk_id") || field(*model, "precompiled_charsmap"))
            type = "Unigram";
    }
    std::size_t model_bound = 0;
    bpe_model* bpe = nullptr;
    if (type == "BPE") {
        auto b = load_bpe(*model, doc);
        bpe = b.get();
        model_bound = b->id_bound;
        m->model = std::move(b);
    } else if (type == "Unigram") {
        auto u = load_unigram(*model, doc);
        model_bound = u->pieces.size();
        m->model = std::move(u);
    } else if (type == "WordPiece") {
        auto w = load_wordpiece(*model, doc);
        model_bound = w->id_bound;
        m->model = std::move(w);
    } else if (type == "WordLevel") {
        auto w = load_wordlevel(*model, doc);
        model_bound = w->id_bound;
        m->model = std::move(w);
    } else {
        unsupported(file, "tokenizer model type '" + type.value_or("?") +
                              "' is not supported (BPE, Unigram, WordPiece, WordLevel)");
    }

    if (auto n = field(root, "normalizer")) m->norm = make_normalizer(*n, file);
    if (auto p = field(root, "pre_tokenizer")) m->pre = make_pre_tokenizer(*p, file);
    auto dec = field(root, "decoder");
    m->decoder = detail::make_decoder(dec ? &*dec : nullptr, file);

    // Byte-level BPE reads raw bytes when ByteLevel is the last pre-tokenizer step.
    if (bpe && !bpe->continuing_prefix && !bpe->end_suffix)
        if (auto* bl = last_byte_level(m->pre.get())) {
            bl->raw = true;
            bpe->enable_raw();
        }

    // Added tokens, numbered as AddedVocabulary::add_tokens numbers them (added_vocabulary.cpp).
    if (auto at = field(root, "added_tokens")) detail::read_added_tokens(*at, doc, *m);
    const std::vector<std::string> patterns = detail::index_added_tokens(*m);

    // id → token for decoding and id_to_token.
    std::size_t bound = model_bound;
    for (const auto& a : m->added) bound = std::max<std::size_t>(bound, std::size_t(a.id) + 1);
    m->id_space = bound;
    m->id_tokens.assign(bound, std::string());
    m->known.assign(bound, 0);
    m->special_id.assign(bound, 0);
    m->model->for_each([&](token_id id, std::string_view t) {
        if (id < bound) {
            m->id_tokens[id] = t;
            m->known[id] = 1;
        }
    });
    for (std::size_t i = 0; i < m->added.size(); ++i) {
        const auto& a = m->added[i];
        m->id_tokens[a.id] = a.normalized && m->norm ? patterns[i] : a.content;
        m->known[a.id] = 1;
    }
    // skip_special_tokens compares the decoded token string with the special contents.
    string_table special_contents;
    for (const auto& a : m->added)
        if (a.special) special_contents.insert(a.content, 1);
    for (std::size_t id = 0; id < bound; ++id)
        if (m->known[id] && special_contents.find(m->id_tokens[id])) m->special_id[id] = 1;

    auto id_of = [&](std::string_view t) -> std::optional<token_id> {
        if (auto id = m->added_by_content.find(t)) return *id;
        return m->model->token_to_id(t);
    };
    if (auto pp = field(root, "post_processor")) parse_post_processor(*pp, *m, id_of);
    return std::shared_ptr<const hf_tokenizer>(new hf_tokenizer(std::move(m)));
}

}  // namespace model
POLYGLOT_END_NAMESPACE
