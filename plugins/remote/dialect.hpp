// SPDX-License-Identifier: Apache-2.0
/// @file What each serving engine expects and answers (shared/docs/generation.md §2): request
/// bodies and reply parsers for vLLM, SGLang, TGI, llama.cpp's server, hosted OpenAI-compatible
/// APIs, and `polyglot serve` (vLLM's shapes). Pure functions, no I/O: every parser returns ""
/// when the reply is usable, else the reason it is not (the client then retries the request).
/// Everything that differs between the engines is one server_description per kind (the table
/// in server_kinds.cpp); the functions below read it, none switches on the kind.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/requests.hpp>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace remote {

/// The engines the remote backend speaks to: each has one row in server_kinds.cpp.
enum class server_kind { vllm, sglang, tgi, llamacpp, openai, polyglot };

/// "vllm" → vllm, ...; nullopt for anything else (including "auto").
std::optional<server_kind> parse_server_kind(std::string_view name);
const char* kind_name(server_kind k) noexcept;

/// Where a server's routes live. The OpenAI routes hang off `openai` (".../v1"); vLLM's
/// /tokenize, SGLang's and TGI's /generate, llama.cpp's /props sit at `root`.
struct endpoints {
    std::string openai;  ///< "http://host:8000/v1"
    std::string root;    ///< "http://host:8000"
};
/// From the URL of a spec: "http://h:8000/v1" and "http://h:8000" both give the above.
endpoints endpoints_of(std::string_view url);

/// What `GET /v1/models` says.
struct model_list {
    std::vector<std::string> ids;
    std::string owned_by;           ///< of the first model ("vllm", "llamacpp", "polyglot", ...)
    std::size_t max_model_len = 0;  ///< of the chosen model, 0 = not said
};
std::string parse_models(const std::string& body, model_list& out);
/// max_model_len of model @p id in a /v1/models reply (0 = not said).
std::size_t max_model_len_of(const std::string& body, std::string_view id);
/// A kind from what the server says about itself: owned_by of /v1/models, TGI's /info
/// (`model_id` + `router`/`version`), llama.cpp's /props (`default_generation_settings`).
std::optional<server_kind> kind_from_owner(std::string_view owned_by);
bool looks_like_tgi_info(const std::string& body);
bool looks_like_llamacpp_props(const std::string& body);

// ---- TOKENIZE / DETOKENIZE ------------------------------------------------------------------
/// Whether the server has a tokenizer endpoint (vLLM, SGLang, llama.cpp, polyglot).
bool has_tokenize(server_kind k) noexcept;
std::string tokenize_url(server_kind k, const endpoints& ep);
std::string tokenize_body(server_kind k, std::string_view model, std::string_view text,
                          bool add_special, bool parse_special);
/// `{"tokens": [ids]}` (vLLM/SGLang/polyglot) or llama.cpp's ids or `{id, piece}` objects.
std::string parse_tokenize(const std::string& body, std::vector<std::int32_t>& out);
std::string detokenize_url(server_kind k, const endpoints& ep);
std::string detokenize_body(server_kind k, std::string_view model,
                            std::span<const std::int32_t> ids, bool skip_special);
/// vLLM's `{"prompt": text}`, llama.cpp's `{"content": text}`.
std::string parse_detokenize(server_kind k, const std::string& body, std::string& out);

// ---- SCORE ------------------------------------------------------------------------------------
/// Why a kind cannot return prompt log-probs ("" when it can).
std::string score_refusal(server_kind k);
/// The request whose reply holds a log-prob for every position of @p ids: vLLM / polyglot
/// `/v1/completions` with echo + prompt_logprobs; SGLang `/generate` with input log-probs.
std::string score_url(server_kind k, const endpoints& ep);
std::string score_ids_body(server_kind k, std::string_view model,
                           std::span<const std::int32_t> ids);
/// TGI: `/generate` over text with decoder_input_details (TGI takes no token ids).
std::string tgi_score_body(std::string_view text);

/// Log-probs of @p ids from a SCORE reply: lp[p] = log p(ids[p] | ids[<p]) for p ≥ 1 (lp[0]
/// is NaN), looked up by the token id each position scores (vLLM's maps hold top-k extras in
/// any order). greedy[p] = 1 when ids[p] is the most likely token among those the reply lists
/// (vLLM's rank 1). For TGI, @p ids are the ids the text must tokenize to: a reply whose
/// prefill ids differ fails with a reason that says so.
std::string parse_prompt_logprobs(server_kind k, const std::string& body,
                                  std::span<const std::int32_t> ids, std::vector<double>& lp,
                                  std::vector<std::uint8_t>& greedy);

// ---- EMBED ------------------------------------------------------------------------------------
std::string embed_url(const endpoints& ep);
std::string embed_body(server_kind k, std::string_view model,
                       std::span<const std::string_view> texts);
/// `{"data": [{"index", "embedding": [floats] | "base64"}]}` into out (n rows of dim floats,
/// rows placed by index). @p dim 0: learn it from the reply (every row must agree).
std::string parse_embeddings(const std::string& body, std::size_t n, std::size_t& dim,
                             std::vector<float>& out);

// ---- GENERATE -----------------------------------------------------------------------------------
/// Sampling for one sequence (the host's GENERATE parameters, seed already per sequence).
using sampling = generate_params;
/// Which sampling parameters @p k cannot take ("" when it takes all of @p s).
std::string unsupported_sampling(server_kind k, const sampling& s);
std::string completions_url(const endpoints& ep);
std::string chat_url(const endpoints& ep);
/// `/v1/completions` over a text (@p text) or token ids (@p ids when @p use_ids).
std::string completion_body(server_kind k, std::string_view model, std::string_view text,
                            std::span<const std::int32_t> ids, bool use_ids, const sampling& s);
/// `/v1/chat/completions` over @p messages_json (a JSON array of messages, sent verbatim).
std::string chat_body(server_kind k, std::string_view model, std::string_view messages_json,
                      const sampling& s);

/// One generated sequence as a server reports it.
struct generated {
    std::string text;
    std::vector<std::int32_t> ids;  ///< empty when the server does not return them
    std::vector<float> logprobs;    ///< when asked and returned
    std::int32_t finish = 0;        ///< POLYGLOT_FINISH_*
    std::uint32_t prompt_tokens = 0;
    std::string refusal;  ///< finish_reason the caller must treat as a failure
};
/// A completions (@p chat false) or chat completions reply.
std::string parse_generation(const std::string& body, bool chat, bool want_logprobs,
                             generated& out);

/// Decodes standard base64 into bytes; false on malformed input.
bool base64_decode(std::string_view in, std::string& out);
/// Encodes bytes as standard base64 (padded).
std::string base64_encode(std::string_view in);

// ---- vLLM's shapes: the defaults of a server_description (server_kinds.cpp)
// ----------------------

namespace vllm_shape {
/// {model, prompt, add_special_tokens}
void tokenize_fields(io::json_writer& w, std::string_view model, std::string_view text,
                     bool add_special, bool parse_special);
/// {model, tokens}
void detokenize_fields(io::json_writer& w, std::string_view model,
                       std::span<const std::int32_t> ids, bool skip_special);
/// /v1/completions over the ids with echo + prompt_logprobs, max_tokens 1.
std::string score_ids_body(std::string_view model, std::span<const std::int32_t> ids);
/// choices[0].prompt_logprobs = [null, {"<id>": {logprob, rank, ...}}, ...]
std::string parse_prompt_logprobs(simdjson::dom::element doc, std::span<const std::int32_t> ids,
                                  std::vector<double>& lp, std::vector<std::uint8_t>& greedy);
}  // namespace vllm_shape

// ---- one description per kind -------------------------------------------------------------------

/// Everything that differs between serving engines. Adding an engine is adding a server_kind
/// value and its row in server_kinds.cpp (with the functions only it needs); a row names what
/// differs from the defaults here.
struct server_description {
    server_kind kind;
    const char* name;        ///< --server-kind, info_json's server_kind ("vllm")
    const char* display;     ///< in messages ("vLLM")
    const char* alias = "";  ///< another --server-kind spelling ("" = none)

    // Recognising the kind (--server-kind auto): the owned_by of its /v1/models, else a route at
    // the root that only it answers. A server recognised by neither is a hosted OpenAI API.
    const char* owned_by = "";    ///< "" = its /v1/models does not say
    const char* probe_path = "";  ///< "" = no probe ("/info")
    bool (*probe_looks)(const std::string& body) =
        nullptr;                  ///< whether the probe's reply is this kind's
    bool lists_model_ids = true;  ///< /v1/models lists the served model by the name clients use

    // TOKENIZE / DETOKENIZE (at the root: /tokenize, /detokenize)
    bool has_tokenize = true;
    void (*tokenize_fields)(io::json_writer& w, std::string_view model, std::string_view text,
                            bool add_special, bool parse_special) = vllm_shape::tokenize_fields;
    void (*detokenize_fields)(io::json_writer& w, std::string_view model,
                              std::span<const std::int32_t> ids,
                              bool skip_special) = vllm_shape::detokenize_fields;
    const char* detokenize_text = "prompt";  ///< the reply's member holding the text

    // SCORE: a request whose reply holds a log-prob for every prompt position
    const char* score_refusal = "";      ///< why it cannot return prompt log-probs ("" = it can)
    const char* score_ids_refusal = "";  ///< why it cannot score given ids ("" = it can)
    bool score_at_root = false;          ///< score_path hangs off the root, not off /v1
    const char* score_path = "/completions";
    std::string (*score_ids_body)(std::string_view model,
                                  std::span<const std::int32_t> ids) = vllm_shape::score_ids_body;
    /// nullptr = it takes ids; else the body over text (TGI), whose tokenization the reply
    /// shows and the parser checks against the ids expected.
    std::string (*score_text_body)(std::string_view text) = nullptr;
    /// Why scoring text needs a local tokenizer (score_text_body kinds only).
    const char* score_text_refusal = "";
    std::string (*parse_prompt_logprobs)(
        simdjson::dom::element doc, std::span<const std::int32_t> ids, std::vector<double>& lp,
        std::vector<std::uint8_t>& greedy) = vllm_shape::parse_prompt_logprobs;
    /// Tokens it generates after a scored prompt, which count against its context.
    std::size_t score_room = 1;

    // EMBED (/v1/embeddings)
    const char* embed_refusal = "";  ///< "" = it embeds
    bool embed_base64 = false;       ///< ask for base64 (exact, half the reply) rather than floats

    // GENERATE (/v1/completions, /v1/chat/completions)
    /// The sampling parameters it cannot take ("" = all); nullptr = it takes all.
    std::string (*unsupported_sampling)(const generate_params& s) = nullptr;
    /// Its own sampling members beyond OpenAI's (nullptr = none).
    void (*sampling_fields)(io::json_writer& w, const generate_params& s) = nullptr;
    bool max_completion_tokens = false;  ///< chat: OpenAI's newer name for max_tokens
    bool return_token_ids = false;       ///< asks for the generated ids (vLLM's return_token_ids)
    bool add_special_tokens = false;     ///< completions say whether to add special tokens
    bool add_generation_prompt = false;  ///< chat can turn the generation prompt off
};

/// The row of @p k.
const server_description& describe(server_kind k);
/// Every row, in the order auto-detection probes them.
std::span<const server_description> server_kinds();

}  // namespace remote
POLYGLOT_END_NAMESPACE
