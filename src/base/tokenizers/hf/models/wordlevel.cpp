// SPDX-License-Identifier: Apache-2.0
// The WordLevel model (one vocabulary lookup per piece) (see wordlevel.hpp).
#include "base/tokenizers/hf/models/wordlevel.hpp"

#include <polyglot/core/error.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

void wordlevel_model::tokenize(std::string_view w, std::vector<token_id>& out, scratch&) const {
    if (w.empty()) return;
    if (auto id = vocab.find(w)) return out.push_back(*id);
    auto u = vocab.find(unk_token);
    if (!u)
        throw text_error("WordLevel: '" + std::string(w) +
                         "' is unknown and there is no unk token");
    out.push_back(*u);
}

std::unique_ptr<wordlevel_model> load_wordlevel(element model, const json_document& doc) {
    auto m = std::make_unique<wordlevel_model>();
    auto v = field(model, "vocab");
    if (!v) doc.fail("model.vocab is missing");
    read_vocab_object(*v, doc, m->vocab, m->id_bound);
    m->unk_token = get_string(model, "unk_token").value_or("<unk>");
    return m;
}

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
