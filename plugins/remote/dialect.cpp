// SPDX-License-Identifier: Apache-2.0
// Request bodies and reply parsers per serving engine (shared/docs/generation.md §2).
#include "dialect.hpp"

#include <openssl/evp.h>
#include <polyglot/plugin/abi.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <polyglot/io/json_writer.hpp>

#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace remote {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// Parses @p body (padded by the client) into @p doc; the reason when it is not JSON.
std::string parse_body(simdjson::dom::parser& p, const std::string& body, element& doc) {
    if (auto err = p.parse(body).get(doc))
        return std::string("not valid JSON (") + simdjson::error_message(err) + ")";
    return {};
}

using ::polyglot::model::as_number;
/// A number of any JSON numeric type; nullopt otherwise.
std::optional<double> number(element e) { return as_number(e); }

std::optional<std::int64_t> integer(element e) {
    std::int64_t i;
    if (!e.get(i)) return i;
    std::uint64_t u;
    if (!e.get(u) && u <= std::uint64_t(std::numeric_limits<std::int64_t>::max()))
        return std::int64_t(u);
    return std::nullopt;
}

/// The first choice of an OpenAI-style reply.
std::string first_choice(element doc, object& choice) {
    array choices;
    if (doc["choices"].get(choices)) return "no 'choices' array";
    if (choices.size() == 0) return "empty 'choices'";
    if ((*choices.begin()).get(choice)) return "choices[0] is not an object";
    return {};
}

void ids_value(io::json_writer& w, std::span<const std::int32_t> ids) {
    w.begin_array();
    for (auto id : ids) w.value(id);
    w.end_array();
}

bool is_openai_like(server_kind k) { return k == server_kind::openai || k == server_kind::tgi; }

}  // namespace

std::optional<server_kind> parse_server_kind(std::string_view n) {
    if (n == "vllm") return server_kind::vllm;
    if (n == "sglang") return server_kind::sglang;
    if (n == "tgi") return server_kind::tgi;
    if (n == "llamacpp" || n == "llama.cpp") return server_kind::llamacpp;
    if (n == "openai") return server_kind::openai;
    if (n == "polyglot") return server_kind::polyglot;
    return std::nullopt;
}

const char* kind_name(server_kind k) noexcept {
    switch (k) {
        case server_kind::vllm:
            return "vllm";
        case server_kind::sglang:
            return "sglang";
        case server_kind::tgi:
            return "tgi";
        case server_kind::llamacpp:
            return "llamacpp";
        case server_kind::openai:
            return "openai";
        case server_kind::polyglot:
            return "polyglot";
    }
    return "?";
}

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
    if (owned_by == "vllm") return server_kind::vllm;
    if (owned_by == "sglang") return server_kind::sglang;
    if (owned_by == "llamacpp") return server_kind::llamacpp;
    if (owned_by == "polyglot") return server_kind::polyglot;
    return std::nullopt;
}

bool looks_like_tgi_info(const std::string& body) {
    simdjson::dom::parser p;
    element doc;
    if (!parse_body(p, body, doc).empty()) return false;
    return !doc["model_id"].error() && (!doc["router"].error() || !doc["version"].error());
}

bool looks_like_llamacpp_props(const std::string& body) {
    simdjson::dom::parser p;
    element doc;
    if (!parse_body(p, body, doc).empty()) return false;
    return !doc["default_generation_settings"].error();
}

// ---- TOKENIZE ---------------------------------------------------------------------------------

bool has_tokenize(server_kind k) noexcept {
    return k == server_kind::vllm || k == server_kind::sglang || k == server_kind::llamacpp ||
           k == server_kind::polyglot;
}

std::string tokenize_url(server_kind, const endpoints& ep) { return ep.root + "/tokenize"; }

std::string tokenize_body(server_kind k, std::string_view model, std::string_view text,
                          bool add_special, bool parse_special) {
    io::json_writer w;
    w.begin_object();
    if (k == server_kind::llamacpp) {
        // llama.cpp's own names; its add_special defaults to false.
        w.kv("content", text);
        w.kv("add_special", add_special);
        w.kv("parse_special", parse_special);
    } else {
        w.kv("model", model);
        w.kv("prompt", text);
        w.kv("add_special_tokens", add_special);  // vLLM's default is true: always say it
        if (k == server_kind::polyglot) w.kv("parse_special", parse_special);
    }
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
    if (k != server_kind::llamacpp) w.kv("model", model);
    w.key("tokens");
    ids_value(w, ids);
    if (k == server_kind::polyglot) w.kv("skip_special_tokens", skip_special);
    w.end_object();
    return w.take();
}

std::string parse_detokenize(server_kind k, const std::string& body, std::string& out) {
    simdjson::dom::parser p;
    element doc;
    if (auto why = parse_body(p, body, doc); !why.empty()) return why;
    const char* field = k == server_kind::llamacpp ? "content" : "prompt";
    std::string_view s;
    if (doc[field].get(s)) return std::string("no '") + field + "' string";
    out.assign(s);
    return {};
}

// ---- SCORE --------------------------------------------------------------------------------------

std::string score_refusal(server_kind k) {
    switch (k) {
        case server_kind::llamacpp:
            return "llama.cpp's server returns log-probabilities of generated tokens only, never "
                   "of prompt tokens (ggml-org/llama.cpp issue #27174), so it cannot score: "
                   "perplexity from generated-token log-probs would be wrong. Serve the model "
                   "with vLLM, SGLang, TGI or `polyglot serve` to score";
        case server_kind::openai:
            return "hosted OpenAI-compatible APIs return no log-probabilities of prompt tokens, "
                   "so they cannot score";
        default:
            return {};
    }
}

std::string score_url(server_kind k, const endpoints& ep) {
    if (k == server_kind::sglang || k == server_kind::tgi) return ep.root + "/generate";
    return ep.openai + "/completions";
}

std::string score_ids_body(server_kind k, std::string_view model,
                           std::span<const std::int32_t> ids) {
    io::json_writer w;
    w.begin_object();
    if (k == server_kind::sglang) {
        w.key("input_ids");
        ids_value(w, ids);
        w.key("sampling_params").begin_object();
        w.kv("max_new_tokens", 1);
        w.kv("temperature", 0);
        w.end_object();
        w.kv("return_logprob", true);
        w.kv("logprob_start_len", 0);
        w.kv("top_logprobs_num", 1);
    } else {
        // vLLM (and polyglot serve): the ids are the prompt, echoed with one log-prob map per
        // position. max_tokens 1 works on every vLLM version (0 needs a recent one); polyglot
        // serve scores without generating.
        w.kv("model", model);
        w.key("prompt");
        ids_value(w, ids);
        w.kv("max_tokens", k == server_kind::polyglot ? 0 : 1);
        w.kv("temperature", 0);
        w.kv("echo", true);
        w.kv("prompt_logprobs", 1);
        w.kv("add_special_tokens", false);
    }
    w.end_object();
    return w.take();
}

std::string tgi_score_body(std::string_view text) {
    io::json_writer w;
    w.begin_object();
    w.kv("inputs", text);
    w.key("parameters").begin_object();
    w.kv("details", true);
    w.kv("decoder_input_details", true);
    w.kv("max_new_tokens", 1);
    w.kv("do_sample", false);
    w.end_object();
    w.end_object();
    return w.take();
}

std::string parse_prompt_logprobs(server_kind k, const std::string& body,
                                  std::span<const std::int32_t> ids, std::vector<double>& lp,
                                  std::vector<std::uint8_t>& greedy) {
    simdjson::dom::parser p;
    element doc;
    if (auto why = parse_body(p, body, doc); !why.empty()) return why;
    const std::size_t n = ids.size();
    lp.assign(n, nan);
    greedy.assign(n, 0);

    if (k == server_kind::sglang) {
        array lps;
        if (doc["meta_info"]["input_token_logprobs"].get(lps))
            return "no meta_info.input_token_logprobs";
        if (lps.size() != n)
            return "input_token_logprobs has " + std::to_string(lps.size()) + " entries for " +
                   std::to_string(n) + " prompt tokens";
        array tops;
        const bool have_tops =
            !doc["meta_info"]["input_top_logprobs"].get(tops) && tops.size() == n;
        auto top_it = have_tops ? tops.begin() : array::iterator();
        std::size_t pos = 0;
        for (element e : lps) {
            array t;  // [logprob | null, token_id, text | null]
            if (e.get(t) || t.size() < 2) return "an input_token_logprobs entry is not a tuple";
            auto it = t.begin();
            element v = *it;
            ++it;
            auto id = integer(*it);
            if (!id || *id != ids[pos])
                return "input_token_logprobs[" + std::to_string(pos) + "] is for token " +
                       (id ? std::to_string(*id) : "?") + ", not " + std::to_string(ids[pos]);
            if (pos > 0) {
                auto x = number(v);
                if (!x) return "no log-prob at position " + std::to_string(pos);
                lp[pos] = *x;
                if (have_tops) {
                    array cands;
                    bool best = true;
                    if (!(*top_it).get(cands))
                        for (element c : cands) {
                            array ct;
                            if (c.get(ct) || ct.size() < 1) continue;
                            auto cv = number(*ct.begin());
                            if (cv && *cv > *x) best = false;
                        }
                    greedy[pos] = best ? 1 : 0;
                }
            }
            if (have_tops) ++top_it;
            ++pos;
        }
        return {};
    }

    if (k == server_kind::tgi) {
        element d = doc;
        array top;
        if (!doc.get(top)) {  // some deployments wrap the reply in a list
            if (top.size() != 1)
                return "a list reply with " + std::to_string(top.size()) + " items";
            d = *top.begin();
        }
        array prefill;
        if (d["details"]["prefill"].get(prefill))
            return "no details.prefill (is decoder_input_details supported?)";
        if (prefill.size() != n)
            return "TGI tokenized the text into " + std::to_string(prefill.size()) +
                   " tokens, not the " + std::to_string(n) + " expected";
        std::size_t pos = 0;
        for (element t : prefill) {
            auto id = integer(t["id"].value_unsafe());
            if (t["id"].error() || !id) return "a prefill token without an id";
            if (*id != ids[pos])
                return "TGI tokenized the text differently at position " + std::to_string(pos) +
                       " (token " + std::to_string(*id) + ", expected " + std::to_string(ids[pos]) +
                       ")";
            if (pos > 0) {
                auto x = t["logprob"].error() ? std::nullopt : number(t["logprob"].value_unsafe());
                if (!x) return "no log-prob at position " + std::to_string(pos);
                lp[pos] = *x;
            }
            ++pos;
        }
        return {};
    }

    // vLLM / polyglot: choices[0].prompt_logprobs = [null, {"<id>": {logprob, rank, ...}}, ...]
    object choice;
    if (auto why = first_choice(doc, choice); !why.empty()) return why;
    array plp;
    if (choice["prompt_logprobs"].get(plp))
        return "no choices[0].prompt_logprobs (does the server support prompt_logprobs?)";
    if (plp.size() != n)
        return "prompt_logprobs has " + std::to_string(plp.size()) + " entries for " +
               std::to_string(n) + " prompt tokens";
    std::size_t pos = 0;
    char key[16];
    for (element e : plp) {
        if (pos == 0) {
            ++pos;
            continue;  // null: the first token has no context
        }
        object m;
        if (e.get(m)) return "prompt_logprobs[" + std::to_string(pos) + "] is not a map";
        auto r = std::to_chars(key, key + sizeof key, ids[pos]);
        const std::string_view want(key, std::size_t(r.ptr - key));
        std::optional<double> mine;
        std::optional<std::int64_t> rank;
        double best = -std::numeric_limits<double>::infinity();
        for (auto [k2, v] : m) {
            auto x = v.is_object() && !v["logprob"].error() ? number(v["logprob"].value_unsafe())
                                                            : number(v);
            if (!x) return "prompt_logprobs[" + std::to_string(pos) + "] has no logprob";
            best = std::max(best, *x);
            if (k2 == want) {
                mine = x;
                if (v.is_object() && !v["rank"].error()) rank = integer(v["rank"].value_unsafe());
            }
        }
        if (!mine)
            return "prompt_logprobs[" + std::to_string(pos) + "] has no entry for token " +
                   std::string(want);
        lp[pos] = *mine;
        greedy[pos] = rank ? (*rank == 1 ? 1 : 0) : (*mine >= best ? 1 : 0);
        ++pos;
    }
    return {};
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
    const bool b64 =
        k == server_kind::vllm || k == server_kind::openai || k == server_kind::polyglot;
    w.kv("encoding_format", b64 ? "base64" : "float");
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
    if (!is_openai_like(k)) return {};
    std::string out;
    auto add = [&](const char* what) { out += out.empty() ? what : std::string(", ") + what; };
    if (s.top_k > 0) add("top_k");
    if (s.min_p > 0) add("min_p");
    if (s.repetition_penalty != 1.0f) add("repetition_penalty");
    if (!s.stop_ids.empty()) add("stop token ids");
    if (s.ignore_eos) add("ignore_eos");
    return out;
}

std::string completions_url(const endpoints& ep) { return ep.openai + "/completions"; }
std::string chat_url(const endpoints& ep) { return ep.openai + "/chat/completions"; }

namespace {

void sampling_fields(io::json_writer& w, server_kind k, const sampling& s, bool chat) {
    if (chat && k == server_kind::openai)
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
    if (k == server_kind::llamacpp) {
        if (s.top_k > 0) w.kv("top_k", s.top_k);
        if (s.min_p > 0) w.kv("min_p", double(s.min_p));
        if (s.repetition_penalty != 1.0f) w.kv("repeat_penalty", double(s.repetition_penalty));
        if (s.ignore_eos) w.kv("ignore_eos", true);
    } else if (!is_openai_like(k)) {
        // vLLM's SamplingParams names (SGLang and polyglot serve take the same).
        if (s.top_k > 0) w.kv("top_k", s.top_k);
        if (s.min_p > 0) w.kv("min_p", double(s.min_p));
        if (s.repetition_penalty != 1.0f) w.kv("repetition_penalty", double(s.repetition_penalty));
        if (!s.stop_ids.empty()) {
            w.key("stop_token_ids");
            ids_value(w, s.stop_ids);
        }
        if (s.ignore_eos) w.kv("ignore_eos", true);
        w.kv("skip_special_tokens", !s.keep_special);
    }
    if (k == server_kind::vllm || k == server_kind::polyglot) w.kv("return_token_ids", true);
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
    if (!is_openai_like(k) && k != server_kind::llamacpp)
        w.kv("add_special_tokens", use_ids ? false : s.add_special);
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
    if (!s.add_generation_prompt && (k == server_kind::vllm || k == server_kind::polyglot))
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
