// SPDX-License-Identifier: Apache-2.0
// The WordPiece model (greedy longest-match-first, BERT) (see wordpiece.hpp).
#include "base/tokenizers/hf/models/wordpiece.hpp"

#include <polyglot/core/error.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

token_id wordpiece_model::unk_id() const {
    auto id = vocab.find(unk_token);
    if (!id)
        throw text_error("WordPiece: the unk token '" + unk_token + "' is not in the vocabulary");
    return *id;
}

void wordpiece_model::tokenize(std::string_view w, std::vector<token_id>& out, scratch&) const {
    if (w.empty()) return;
    std::size_t chars = 0;
    for (std::size_t i = 0; i < w.size(); ++i)
        if ((static_cast<unsigned char>(w[i]) & 0xC0) != 0x80) ++chars;
    if (chars > max_chars) {
        out.push_back(unk_id());
        return;
    }
    thread_local std::string sub;
    const std::size_t before = out.size();
    for (std::size_t start = 0; start < w.size();) {
        std::size_t end = w.size();
        std::optional<token_id> cur;
        while (start < end) {
            sub.clear();
            if (start > 0) sub += prefix;
            sub.append(w.substr(start, end - start));
            if ((cur = vocab.find(sub))) break;
            end = prev_cp(w, end);
        }
        if (!cur) {
            out.resize(before);
            out.push_back(unk_id());
            return;
        }
        out.push_back(*cur);
        start = end;
    }
}

std::unique_ptr<wordpiece_model> load_wordpiece(element model, const json_document& doc) {
    auto m = std::make_unique<wordpiece_model>();
    auto v = field(model, "vocab");
    if (!v) doc.fail("model.vocab is missing");
    read_vocab_object(*v, doc, m->vocab, m->id_bound);
    m->unk_token = get_string(model, "unk_token").value_or("[UNK]");
    m->prefix = get_string(model, "continuing_subword_prefix").value_or("##");
    if (auto x = get_int(model, "max_input_chars_per_word")) {
        if (*x < 0) doc.fail("max_input_chars_per_word is negative");
        m->max_chars = std::size_t(*x);
    }
    return m;
}

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
