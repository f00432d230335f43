// SPDX-License-Identifier: Apache-2.0
// The `tokenizers` post-processors (see processors.hpp).
#include "base/tokenizers/hf/processors.hpp"

#include <polyglot/core/error.hpp>
#include <string>

#include "base/json/util.hpp"
#include "base/tokenizers/hf/tokenizer_impl.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

void parse_post_processor(element e, hf_tokenizer::impl& m,
                          const std::function<std::optional<token_id>(std::string_view)>& id_of) {
    const auto& file = m.file;
    const std::string type = get_string(e, "type").value_or("");
    if (type == "ByteLevel") return;  // only trims offsets
    if (type == "TemplateProcessing") {
        simdjson::dom::array single;
        auto s = field(e, "single");
        if (!s || s->get_array().get(single))
            throw format_error(file.string() + ": TemplateProcessing without \"single\"");
        std::vector<std::pair<std::string, std::vector<token_id>>> specials;
        if (auto sp = field(e, "special_tokens")) {
            simdjson::dom::object obj;
            if (!sp->get_object().get(obj))
                for (auto [k, v] : obj) {
                    std::vector<token_id> ids;
                    simdjson::dom::array arr;
                    if (auto a = field(v, "ids"); a && !a->get_array().get(arr))
                        for (auto x : arr) {
                            std::uint64_t id = 0;
                            if (x.get_uint64().get(id) || id > max_token_id)
                                throw format_error(file.string() + ": bad special token id");
                            ids.push_back(token_id(id));
                        }
                    specials.emplace_back(std::string(k), std::move(ids));
                }
        }
        bool seen_a = false;
        for (auto item : single) {
            if (auto st = field(item, "SpecialToken")) {
                const std::string id = get_string(*st, "id").value_or("");
                std::vector<token_id> ids;
                auto it = std::find_if(specials.begin(), specials.end(),
                                       [&](const auto& x) { return x.first == id; });
                if (it != specials.end()) {
                    ids = it->second;
                } else if (auto x = id_of(id)) {
                    ids.push_back(*x);
                } else {
                    throw format_error(file.string() +
                                       ": post-processor names the unknown token '" + id + "'");
                }
                auto& dst = seen_a ? m.suffix : m.prefix;
                dst.insert(dst.end(), ids.begin(), ids.end());
            } else if (field(item, "Sequence")) {
                seen_a = true;
            }
        }
        return;
    }
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        auto pair_token = [&](std::string_view key) -> token_id {
            simdjson::dom::array arr;
            auto f = field(e, key);
            std::uint64_t id = 0;
            if (!f || f->get_array().get(arr) || arr.size() != 2 ||
                arr.at(1).get_uint64().get(id) || id > max_token_id)
                throw format_error(file.string() + ": " + type + " without \"" + std::string(key) +
                                   "\"");
            return token_id(id);
        };
        m.prefix.push_back(pair_token("cls"));
        m.suffix.push_back(pair_token("sep"));
        return;
    }
    if (type == "Sequence") {
        simdjson::dom::array arr;
        auto items = field(e, "processors");
        if (!items || items->get_array().get(arr))
            throw format_error(file.string() + ": Sequence post-processor without \"processors\"");
        for (auto x : arr) parse_post_processor(x, m, id_of);
        return;
    }
    unsupported(file, "post-processor type '" + type +
                          "' is not supported (TemplateProcessing, ByteLevel, RobertaProcessing, "
                          "BertProcessing, Sequence)");
}

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
