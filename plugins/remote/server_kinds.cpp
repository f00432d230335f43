// SPDX-License-Identifier: Apache-2.0
// One description per serving engine (shared/docs/generation.md §2): what only that engine
// expects and answers, then the table of rows that dialect.cpp and remote_model.cpp read.
#include <algorithm>
#include <charconv>

#include "dialect.hpp"
#include "json_reply.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace remote {

// ---- vLLM's shapes (vLLM, SGLang's OpenAI routes, polyglot serve): the defaults ----------------

namespace vllm_shape {

using namespace reply;

void tokenize_fields(io::json_writer& w, std::string_view model, std::string_view text,
                     bool add_special, bool) {
    w.kv("model", model);
    w.kv("prompt", text);
    w.kv("add_special_tokens", add_special);  // vLLM's default is true: always say it
}

void detokenize_fields(io::json_writer& w, std::string_view model,
                       std::span<const std::int32_t> ids, bool) {
    w.kv("model", model);
    w.key("tokens");
    ids_value(w, ids);
}

/// vLLM: the ids are the prompt, echoed with one log-prob map per position. max_tokens 1 works
/// on every vLLM version (0 needs a recent one); polyglot serve scores without generating.
std::string completions_score_body(std::string_view model, std::span<const std::int32_t> ids,
                                   int max_tokens) {
    io::json_writer w;
    w.begin_object();
    w.kv("model", model);
    w.key("prompt");
    ids_value(w, ids);
    w.kv("max_tokens", max_tokens);
    w.kv("temperature", 0);
    w.kv("echo", true);
    w.kv("prompt_logprobs", 1);
    w.kv("add_special_tokens", false);
    w.end_object();
    return w.take();
}

std::string score_ids_body(std::string_view model, std::span<const std::int32_t> ids) {
    return completions_score_body(model, ids, 1);
}

/// vLLM / polyglot: choices[0].prompt_logprobs = [null, {"<id>": {logprob, rank, ...}}, ...]
std::string parse_prompt_logprobs(element doc, std::span<const std::int32_t> ids,
                                  std::vector<double>& lp, std::vector<std::uint8_t>& greedy) {
    const std::size_t n = ids.size();
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

}  // namespace vllm_shape

namespace {

using namespace reply;

/// vLLM's SamplingParams names (SGLang and polyglot serve take the same).
void vllm_sampling_fields(io::json_writer& w, const generate_params& s) {
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

// ---- polyglot serve: vLLM's shapes plus parse_special / skip_special_tokens ---------------------

void polyglot_tokenize_fields(io::json_writer& w, std::string_view model, std::string_view text,
                              bool add_special, bool parse_special) {
    vllm_shape::tokenize_fields(w, model, text, add_special, parse_special);
    w.kv("parse_special", parse_special);
}

void polyglot_detokenize_fields(io::json_writer& w, std::string_view model,
                                std::span<const std::int32_t> ids, bool skip_special) {
    vllm_shape::detokenize_fields(w, model, ids, skip_special);
    w.kv("skip_special_tokens", skip_special);
}

std::string polyglot_score_ids_body(std::string_view model, std::span<const std::int32_t> ids) {
    return vllm_shape::completions_score_body(model, ids, 0);
}

// ---- SGLang: /generate with input log-probs -----------------------------------------------------

std::string sglang_score_ids_body(std::string_view, std::span<const std::int32_t> ids) {
    io::json_writer w;
    w.begin_object();
    w.key("input_ids");
    ids_value(w, ids);
    w.key("sampling_params").begin_object();
    w.kv("max_new_tokens", 1);
    w.kv("temperature", 0);
    w.end_object();
    w.kv("return_logprob", true);
    w.kv("logprob_start_len", 0);
    w.kv("top_logprobs_num", 1);
    w.end_object();
    return w.take();
}

/// Whether no candidate of SGLang's input_top_logprobs entry @p top beats @p x.
bool sglang_is_best(element top, double x) {
    array cands;
    bool best = true;
    if (!top.get(cands))
        for (element c : cands) {
            array ct;
            if (c.get(ct) || ct.size() < 1) continue;
            auto cv = number(*ct.begin());
            if (cv && *cv > x) best = false;
        }
    return best;
}

std::string parse_sglang_prompt_logprobs(element doc, std::span<const std::int32_t> ids,
                                         std::vector<double>& lp,
                                         std::vector<std::uint8_t>& greedy) {
    const std::size_t n = ids.size();
    array lps;
    if (doc["meta_info"]["input_token_logprobs"].get(lps))
        return "no meta_info.input_token_logprobs";
    if (lps.size() != n)
        return "input_token_logprobs has " + std::to_string(lps.size()) + " entries for " +
               std::to_string(n) + " prompt tokens";
    array tops;
    const bool have_tops = !doc["meta_info"]["input_top_logprobs"].get(tops) && tops.size() == n;
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
            if (have_tops) greedy[pos] = sglang_is_best(*top_it, *x) ? 1 : 0;
        }
        if (have_tops) ++top_it;
        ++pos;
    }
    return {};
}

// ---- TGI: /generate over text with decoder_input_details ----------------------------------------

std::string parse_tgi_prompt_logprobs(element doc, std::span<const std::int32_t> ids,
                                      std::vector<double>& lp,
                                      std::vector<std::uint8_t>& /*greedy: no ranks*/) {
    const std::size_t n = ids.size();
    element d = doc;
    array top;
    if (!doc.get(top)) {  // some deployments wrap the reply in a list
        if (top.size() != 1) return "a list reply with " + std::to_string(top.size()) + " items";
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

/// TGI and hosted APIs take OpenAI's sampling parameters only.
std::string openai_unsupported_sampling(const generate_params& s) {
    std::string out;
    auto add = [&](const char* what) { out += out.empty() ? what : std::string(", ") + what; };
    if (s.top_k > 0) add("top_k");
    if (s.min_p > 0) add("min_p");
    if (s.repetition_penalty != 1.0f) add("repetition_penalty");
    if (!s.stop_ids.empty()) add("stop token ids");
    if (s.ignore_eos) add("ignore_eos");
    return out;
}

// ---- llama.cpp's server: its own names --------------------------------------------------------

void llamacpp_tokenize_fields(io::json_writer& w, std::string_view, std::string_view text,
                              bool add_special, bool parse_special) {
    // llama.cpp's own names; its add_special defaults to false.
    w.kv("content", text);
    w.kv("add_special", add_special);
    w.kv("parse_special", parse_special);
}

void llamacpp_detokenize_fields(io::json_writer& w, std::string_view,
                                std::span<const std::int32_t> ids, bool) {
    w.key("tokens");
    ids_value(w, ids);
}

void llamacpp_sampling_fields(io::json_writer& w, const generate_params& s) {
    if (s.top_k > 0) w.kv("top_k", s.top_k);
    if (s.min_p > 0) w.kv("min_p", double(s.min_p));
    if (s.repetition_penalty != 1.0f) w.kv("repeat_penalty", double(s.repetition_penalty));
    if (s.ignore_eos) w.kv("ignore_eos", true);
}

// ---- the table ----------------------------------------------------------------------------------

// In auto-detection order: the owned_by values first, then the probes (TGI's /info before
// llama.cpp's /props).
const server_description kinds[] = {
    {.kind = server_kind::vllm,
     .name = "vllm",
     .display = "vLLM",
     .owned_by = "vllm",
     .embed_base64 = true,
     .sampling_fields = vllm_sampling_fields,
     .return_token_ids = true,
     .add_special_tokens = true,
     .add_generation_prompt = true},
    {.kind = server_kind::sglang,
     .name = "sglang",
     .display = "SGLang",
     .owned_by = "sglang",
     .score_at_root = true,
     .score_path = "/generate",
     .score_ids_body = sglang_score_ids_body,
     .parse_prompt_logprobs = parse_sglang_prompt_logprobs,
     .embed_base64 = false,  // asked for floats
     .sampling_fields = vllm_sampling_fields,
     .add_special_tokens = true},
    {.kind = server_kind::tgi,
     .name = "tgi",
     .display = "TGI",
     .probe_path = "/info",
     .probe_looks = looks_like_tgi_info,
     .lists_model_ids = false,
     .has_tokenize = false,
     .score_ids_refusal = "TGI's /generate takes text, not token ids, so it cannot score given ids",
     .score_at_root = true,
     .score_path = "/generate",
     .score_text_body = tgi_score_body,
     .score_text_refusal =
         "TGI's /generate takes text, so scoring needs the model's tokenizer on this side to "
         "check TGI's tokenization: give a local tokenizer directory (--remote-tokenizer DIR)",
     .parse_prompt_logprobs = parse_tgi_prompt_logprobs,
     .embed_refusal = "TGI serves no embeddings (use TEI or vLLM)",
     .unsupported_sampling = openai_unsupported_sampling},
    {.kind = server_kind::llamacpp,
     .name = "llamacpp",
     .display = "llama.cpp",
     .alias = "llama.cpp",
     .owned_by = "llamacpp",
     .probe_path = "/props",
     .probe_looks = looks_like_llamacpp_props,
     .tokenize_fields = llamacpp_tokenize_fields,
     .detokenize_fields = llamacpp_detokenize_fields,
     .detokenize_text = "content",
     .score_refusal =
         "llama.cpp's server returns log-probabilities of generated tokens only, never of "
         "prompt tokens (ggml-org/llama.cpp issue #27174), so it cannot score: perplexity from "
         "generated-token log-probs would be wrong. Serve the model with vLLM, SGLang, TGI or "
         "`polyglot serve` to score",
     .embed_base64 = false,  // asked for floats
     .sampling_fields = llamacpp_sampling_fields},
    {.kind = server_kind::openai,
     .name = "openai",
     .display = "OpenAI-compatible API",
     .has_tokenize = false,
     .score_refusal = "hosted OpenAI-compatible APIs return no log-probabilities of prompt "
                      "tokens, so they cannot score",
     .embed_base64 = true,
     .unsupported_sampling = openai_unsupported_sampling,
     .max_completion_tokens = true},  // no return_token_ids: hosted APIs refuse extras
    {.kind = server_kind::polyglot,
     .name = "polyglot",
     .display = "polyglot serve",
     .owned_by = "polyglot",
     .tokenize_fields = polyglot_tokenize_fields,
     .detokenize_fields = polyglot_detokenize_fields,
     .score_ids_body = polyglot_score_ids_body,
     .score_room = 0,  // scores without generating
     .embed_base64 = true,
     .sampling_fields = vllm_sampling_fields,
     .return_token_ids = true,
     .add_special_tokens = true,
     .add_generation_prompt = true},
};

}  // namespace

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

std::span<const server_description> server_kinds() { return kinds; }

const server_description& describe(server_kind k) {
    for (const auto& d : kinds)
        if (d.kind == k) return d;
    return kinds[0];  // unreachable: every kind has a row
}

}  // namespace remote
POLYGLOT_END_NAMESPACE
