// SPDX-License-Identifier: Apache-2.0
// The vocabulary reader the models share (see model.hpp).
#include "base/tokenizers/hf/models/model.hpp"

#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

void read_vocab_object(element v, const json_document& doc, string_table& vocab,
                       std::size_t& id_bound) {
    simdjson::dom::object obj;
    if (v.get_object().get(obj)) doc.fail("model.vocab is not an object");
    vocab.reserve(obj.size());
    std::uint64_t max_id = 0;
    for (auto [tok, idv] : obj) {
        std::uint64_t id = 0;
        if (idv.get_uint64().get(id) || id > max_token_id)
            doc.fail("model.vocab[\"" + std::string(tok) + "\"] is not a valid id");
        vocab.insert(tok, token_id(id));
        max_id = std::max(max_id, id);
    }
    if (obj.size() > 0 && max_id >= 4 * std::uint64_t(obj.size()) + 1024)
        doc.fail("model.vocab ids are sparse (max id " + std::to_string(max_id) + " for " +
                 std::to_string(obj.size()) + " tokens)");
    id_bound = obj.size() ? std::size_t(max_id) + 1 : 0;
}

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
