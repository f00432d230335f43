// SPDX-License-Identifier: Apache-2.0
// Request bodies and reply parsers (shared/docs/generation.md §2): the parts every engine shares,
// with what differs read from the engine's row (server_kinds.cpp).
#include "dialect.hpp"

#include <openssl/evp.h>
#include <polyglot/plugin/abi.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <polyglot/io/json_writer.hpp>

#include "json_reply.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace remote {

using namespace reply;

std::optional<server_kind> parse_server_kind(std::string_view n) {
    for (const auto& d : server_kinds())
        if (n == d.name || (*d.alias && n == d.alias)) return d.kind;
    return std::nullopt;
}

const char* kind_name(server_kind k) noexcept { return describe(k).name; }

endpoints endpoints_of(std::string_view url) {
    std::string u(url);
    while (!u.empty() && u.back() == '/') u.pop_back();
    endpoints ep;
    if (u.size() >= 3 && u.compare(u.size() - 3, 3, "/v1") == 0) {
        ep.openai = u;
        ep.root = u.substr(0, u.size() - 3);
    } else {
        ep.openai = u + "/v1";
        ep.root = u;
    }
    return ep;
}

std::string parse_models(const std::string& body, model_list& out) {
    simdjson::dom::parser p;
    element doc;
    if (auto why = parse_body(p, body, doc); !why.empty()) return why;
    array data;
    if (doc["data"].get(data)) return "no 'data' array";
    out = {};
    for (element m : data) {
        std::string_view id;
        if (m["id"].get(id)) return "a model without an 'id'";
        out.ids.emplace_back(id);
        std::string_view owner;
        if (out.ids.size() == 1 && !m["owned_by"].get(owner)) out.owned_by = std::string(owner);
    }
    return {};
}

std::size_t max_model_len_of(const std::string& body, std::string_view want) {
    simdjson::dom::parser p;
    element doc;
    array data;
    if (!parse_body(p, body, doc).empty() || doc["data"].get(data)) return 0;
    for (element m : data) {
        std::string_view id;
        if (m["id"].get(id) || id != want) continue;
        auto len = m["max_model_len"];
        if (len.error()) continue;
        if (auto v = integer(len.value_unsafe()); v && *v > 0) return std::size_t(*v);
    }
    return 0;
}

std::optional<server_kind> kind_from_owner(std::string_view owned_by) {
    for (const auto& d : server_kinds())
        if (*d.owned_by && owned_by == d.owned_by) return d.kind;
    return std::nullopt;
}

// ---- TOKENIZE ---------------------------------------------------------------------------------

bool has_tokenize(server_kind k) noexcept { return describe(k).has_tokenize; }

std::string tokenize_url(server_kind, const endpoints& ep) { return ep.root + "/tokenize"; }

std::string tokenize_body(server_kind k, std::string_view model, std::string_view text,
                          bool add_special, bool parse_special) {
    io::json_writer w;
    w.begin_object();
    describe(k).tokenize_fields(w, model, text, add_special, parse_special);
    w.end_object();
    return w.take();
}

std::string parse_tokenize(const std::string& body, std::vector<std::int32_t>& out) {
    simdjson::dom::parser p;
    element doc;
    if (auto why = parse_body(p, body, doc); !why.empty()) return why;
    array tokens;
    if (doc["tokens"].get(tokens)) return "no 'tokens' array";
    out.clear();
    out.reserve(tokens.size());
    for (element t : tokens) {
        auto v = integer(t);
        if (!v) {  // llama.cpp with_pieces: {"id", "piece"}
            auto id = t["id"];
            if (!id.error()) v = integer(id.value_unsafe());
        }
        if (!v || *v < 0 || *v > std::numeric_limits<std::int32_t>::max())
            return "a token that is not a non-negative 32-bit integer";
        out.push_back(std::int32_t(*v));
    }
    return {};
}

std::string detokenize_url(server_kind, const endpoints& ep) { return ep.root + "/detokenize"; }

std::string detokenize_body(server_kind k, std::string_view model,
                            std::span<const std::int32_t> ids, bool skip_special) {
    io::json_writer w;
    w.begin_object();
    describe(k).detokenize_fields(w, model, ids, skip_special);
    w.end_object();
    return w.take();
}

std::string parse_detokenize(server_kind k, const std::string& body, std::string& out) {
    simdjson::dom::parser p;
    element doc;
    if (auto why = parse_body(p, body, doc); !why.empty()) return why;
    const char* field = describe(k).detokenize_text;
    std::string_view s;
    if (doc[field].get(s)) return std::string("no '") + field + "' string";
    out.assign(s);
    return {};
}

// ---- SCORE --------------------------------------------------------------------------------------

std::string score_refusal(server_kind k) { return describe(k).score_refusal; }

std::string score_url(server_kind k, const endpoints& ep) {
    const auto& d = describe(k);
    return (d.score_at_root ? ep.root : ep.openai) + d.score_path;
}

std::string score_ids_body(server_kind k, std::string_view model,
                           std::span<const std::int32_t> ids) {
    return describe(k).score_ids_body(model, ids);
}

std::string parse_prompt_logprobs(server_kind k, const std::string& body,
                                  std::span<const std::int32_t> ids, std::vector<double>& lp,
                                  std::vector<std::uint8_t>& greedy) {
    simdjson::dom::parser p;
    element doc;
    if (auto why = parse_body(p, body, doc); !why.empty()) return why;
    lp.assign(ids.size(), nan);
    greedy.assign(ids.size(), 0);
    return describe(k).parse_prompt_logprobs(doc, ids, lp, greedy);
}

// ---- EMBED --------------------------------------------------------------------------------------

std::string embed_url(const endpoints& ep) { return ep.openai + "/embeddings"; }

std::string embed_body(server_kind k, std::string_view model,
                       std::span<const std::string_view> texts) {
    io::json_writer w;
    w.begin_object();
    w.kv("model", model);
    w.key("input").begin_array();
    for (auto t : texts) w.value(t);
    w.end_array();
    // base64 halves the reply and is exact; llama.cpp and SGLang are asked for floats.
    w.kv("encoding_format", describe(k).embed_base64 ? "base64" : "float");
    w.end_object();
    return w.take();
}

std::string parse_embeddings(const std::string& body, std::size_t n, std::size_t& dim,
                             std::vector<float>& out) {
    simdjson::dom::parser p;
    element doc;
    if (auto why = parse_body(p, body, doc); !why.empty()) return why;
    array data;
    if (doc["data"].get(data)) return "no 'data' array";
    if (data.size() != n)
        return "'data' has " + std::to_string(data.size()) + " embeddings for " +
               std::to_string(n) + " inputs";
    std::vector<std::vector<float>> rows(n);
    std::vector<bool> seen(n, false);
    std::size_t pos = 0;
    std::string bytes;
    for (element e : data) {
        auto idx = e["index"].error() ? std::optional<std::int64_t>(std::int64_t(pos))
                                      : integer(e["index"].value_unsafe());
        if (!idx || *idx < 0 || std::size_t(*idx) >= n || seen[std::size_t(*idx)])
            return "an embedding with a missing, repeated or out-of-range index";
        seen[std::size_t(*idx)] = true;
        auto& row = rows[std::size_t(*idx)];
        std::string_view b64;
        array floats;
        if (!e["embedding"].get(b64)) {
            if (!base64_decode(b64, bytes) || bytes.size() % 4 != 0)
                return "an embedding that is not base64 of float32 values";
            row.resize(bytes.size() / 4);
            std::memcpy(row.data(), bytes.data(), bytes.size());  // little-endian float32
        } else if (!e["embedding"].get(floats)) {
            row.reserve(floats.size());
            for (element f : floats) {
                auto x = number(f);
                if (!x) return "an embedding value that is not a number";
                row.push_back(float(*x));
            }
        } else {
            return "an item without an 'embedding'";
        }
        if (dim == 0) dim = row.size();
        if (row.size() != dim)
            return "an embedding of dimension " + std::to_string(row.size()) + ", expected " +
                   std::to_string(dim);
        for (float x : row)
            if (!std::isfinite(x)) return "an embedding with a non-finite value";
        ++pos;
    }
    if (dim == 0) return "empty embeddings";
    out.resize(n * dim);
    for (std::size_t i = 0; i < n; ++i)
        std::copy(rows[i].begin(), rows[i].end(), out.begin() + long(i * dim));
    return {};
}

// ---- GENERATE -----------------------------------------------------------------------------------

std::string unsupported_sampling(server_kind k, const sampling& s) {
    const auto& d = describe(k);
    return d.unsupported_sampling ? d.unsupported_sampling(s) : std::string();
}

std::string completions_url(const endpoints& ep) { return ep.openai + "/completions"; }
std::string chat_url(const endpoints& ep) { return ep.openai + "/chat/completions"; }

namespace {

void sampling_fields(io::json_writer& w, server_kind k, const sampling& s, bool chat) {
    const auto& d = describe(k);
    if (chat && d.max_completion_tokens)
        w.kv("max_completion_tokens", s.max_new_tokens);
    else
        w.kv("max_tokens", s.max_new_tokens);
    w.kv("temperature", s.temperature > 0 ? double(s.temperature) : 0.0);
    if (s.top_p < 1) w.kv("top_p", double(s.top_p));
    // OpenAI's seed is a signed 64-bit integer: keep 63 bits.
    w.kv("seed", s.seed & 0x7fffffffffffffffull);
    if (!s.stop.empty()) {
        w.key("stop").begin_array();
        for (const auto& x : s.stop) w.value(x);
        w.end_array();
    }
    if (d.sampling_fields) d.sampling_fields(w, s);
    if (d.return_token_ids) w.kv("return_token_ids", true);
    if (!s.json_schema.empty()) {
        // Never vLLM's guided_json: vLLM >= 0.12 ignores it silently.
        w.key("response_format").begin_object();
        w.kv("type", "json_schema");
        w.key("json_schema").begin_object();
        w.kv("name", "output");
        w.key("schema").raw(s.json_schema);
        w.kv("strict", true);
        w.end_object();
        w.end_object();
    }
}

}  // namespace

std::string completion_body(server_kind k, std::string_view model, std::string_view text,
                            std::span<const std::int32_t> ids, bool use_ids, const sampling& s) {
    io::json_writer w;
    w.begin_object();
    w.kv("model", model);
    w.key("prompt");
    if (use_ids)
        ids_value(w, ids);
    else
        w.value(text);
    sampling_fields(w, k, s, false);
    if (s.logprobs) w.kv("logprobs", 1);
    if (describe(k).add_special_tokens) w.kv("add_special_tokens", use_ids ? false : s.add_special);
    w.end_object();
    return w.take();
}

std::string chat_body(server_kind k, std::string_view model, std::string_view messages_json,
                      const sampling& s) {
    io::json_writer w;
    w.begin_object();
    w.kv("model", model);
    w.key("messages").raw(messages_json);
    sampling_fields(w, k, s, true);
    if (s.logprobs) w.kv("logprobs", true);
    if (!s.add_generation_prompt && describe(k).add_generation_prompt)
        w.kv("add_generation_prompt", false);
    w.end_object();
    return w.take();
}

std::string parse_generation(const std::string& body, bool chat, bool want_logprobs,
                             generated& out) {
    simdjson::dom::parser p;
    element doc;
    if (auto why = parse_body(p, body, doc); !why.empty()) return why;
    object choice;
    if (auto why = first_choice(doc, choice); !why.empty()) return why;
    out = {};
    std::string_view text;
    if (chat) {
        auto c = choice["message"]["content"];
        if (!c.error() && !c.is_null()) {
            if (c.get(text)) return "choices[0].message.content is not a string";
        }
    } else if (choice["text"].get(text)) {
        return "no choices[0].text";
    }
    out.text.assign(text);
    std::string_view fr;
    if (choice["finish_reason"].get(fr)) return "no finish_reason";
    if (fr == "length") {
        out.finish = POLYGLOT_FINISH_LENGTH;
    } else if (fr == "stop" || fr == "eos" || fr == "tool_calls" || fr == "function_call") {
        // vLLM's stop_reason: a string when a stop string ended the text, an int for a stop
        // token id, null for EOS. Servers without stop_reason: "stop" is reported as EOS.
        auto sr = choice["stop_reason"];
        out.finish = (!sr.error() && sr.is_string()) ? POLYGLOT_FINISH_STOP : POLYGLOT_FINISH_EOS;
    } else {
        out.refusal = "finish_reason '" + std::string(fr) + "'";  // content_filter, abort, ...
    }
    array ids;
    if (!choice["token_ids"].get(ids)) {
        for (element e : ids) {
            auto v = integer(e);
            if (!v || *v < 0 || *v > std::numeric_limits<std::int32_t>::max())
                return "a token id that is not a non-negative 32-bit integer";
            out.ids.push_back(std::int32_t(*v));
        }
    }
    if (want_logprobs) {
        array lps;
        if (chat) {
            if (!choice["logprobs"]["content"].get(lps))
                for (element e : lps) {
                    auto v =
                        e["logprob"].error() ? std::nullopt : number(e["logprob"].value_unsafe());
                    if (!v) return "a generated token without a logprob";
                    out.logprobs.push_back(float(*v));
                }
        } else if (!choice["logprobs"]["token_logprobs"].get(lps)) {
            for (element e : lps) {
                auto v = number(e);
                if (!v) return "a generated token without a logprob";
                out.logprobs.push_back(float(*v));
            }
        }
    }
    if (auto u = doc["usage"]["prompt_tokens"]; !u.error())
        if (auto v = integer(u.value_unsafe()); v && *v >= 0) out.prompt_tokens = std::uint32_t(*v);
    return {};
}

bool base64_decode(std::string_view in, std::string& out) {
    out.clear();
    if (in.size() % 4 != 0) return false;
    if (in.empty()) return true;
    out.resize(in.size() / 4 * 3);
    const int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
    if (n < 0) return false;
    std::size_t pad = 0;  // EVP_DecodeBlock keeps the zero bytes that '=' padding stands for
    if (in.back() == '=') ++pad;
    if (in.size() >= 2 && in[in.size() - 2] == '=') ++pad;
    out.resize(std::size_t(n) - pad);
    return true;
}

std::string base64_encode(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(in.data()), int(in.size()));
    out.resize(std::size_t(n));
    return out;
}

}  // namespace remote
POLYGLOT_END_NAMESPACE
