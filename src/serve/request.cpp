// SPDX-License-Identifier: Apache-2.0
// polyglot serve: OpenAI request parsing (vLLM's field names and defaults).
#include "serve/request.hpp"

#include <cmath>

POLYGLOT_BEGIN_NAMESPACE
namespace serve {

[[noreturn]] void bad_request(const std::string& msg) { throw http_error{400, msg}; }

void write_json(io::json_writer& w, const json_value& v) {
    if (v.is_null()) {
        w.value(nullptr);
    } else if (v.is_bool()) {
        w.value(v.as_bool());
    } else if (v.is_number()) {
        w.value(v.as_number());
    } else if (v.is_string()) {
        w.value(v.as_string());
    } else if (v.is_array()) {
        w.begin_array();
        for (const auto& x : v.as_array()) write_json(w, x);
        w.end_array();
    } else {
        w.begin_object();
        for (const auto& m : v.as_object()) {
            w.key(m.key);
            write_json(w, m.value);
        }
        w.end_object();
    }
}

std::string error_json(int status, const std::string& message) {
    io::json_writer w;
    w.begin_object();
    w.key("error").begin_object();
    w.kv("message", message);
    w.kv("type", status == 401   ? "AuthenticationError"
                 : status == 404 ? "NotFoundError"
                 : status >= 500 ? "InternalServerError"
                                 : "BadRequestError");
    w.kv("code", status);
    w.end_object();
    w.end_object();
    return w.take();
}

// ---- request fields -------------------------------------------------------------------------

const json_value* field(const json_value& body, std::string_view key) {
    const json_value* v = body.find(key);
    return v && !v->is_null() ? v : nullptr;
}

bool get_bool(const json_value& b, std::string_view key, bool fallback) {
    const auto* v = field(b, key);
    if (!v) return fallback;
    if (!v->is_bool()) bad_request("'" + std::string(key) + "' must be a boolean");
    return v->as_bool();
}

double get_number(const json_value& b, std::string_view key, double fallback) {
    const auto* v = field(b, key);
    if (!v) return fallback;
    if (!v->is_number()) bad_request("'" + std::string(key) + "' must be a number");
    return v->as_number();
}

std::int64_t get_int(const json_value& b, std::string_view key, std::int64_t fallback) {
    const double d = get_number(b, key, double(fallback));
    if (std::floor(d) != d || std::abs(d) > 9e15)
        bad_request("'" + std::string(key) + "' must be an integer");
    return std::int64_t(d);
}

std::vector<std::int32_t> token_ids(const json_value& v, std::string_view what) {
    std::vector<std::int32_t> ids;
    for (const auto& x : v.as_array()) {
        if (!x.is_number() || x.as_number() < 0 || x.as_number() > 2147483647.0 ||
            std::floor(x.as_number()) != x.as_number())
            bad_request(std::string(what) + ": token ids must be non-negative integers");
        ids.push_back(std::int32_t(x.as_number()));
    }
    return ids;
}

namespace {

bool is_id_list(const json_value& v) {
    return v.is_array() && !v.as_array().empty() && v.as_array().front().is_number();
}

}  // namespace

std::vector<prompt_item> parse_prompts(const json_value& body) {
    const auto* p = field(body, "prompt");
    if (!p) bad_request("'prompt' is required");
    std::vector<prompt_item> out;
    if (p->is_string()) {
        out.push_back({false, p->as_string(), {}});
    } else if (is_id_list(*p)) {
        out.push_back({true, {}, token_ids(*p, "prompt")});
    } else if (p->is_array() && !p->as_array().empty()) {
        for (const auto& x : p->as_array()) {
            if (x.is_string())
                out.push_back({false, x.as_string(), {}});
            else if (is_id_list(x))
                out.push_back({true, {}, token_ids(x, "prompt")});
            else
                bad_request(
                    "'prompt' must be a string, a list of strings, token ids or lists "
                    "of token ids");
        }
    } else {
        bad_request("'prompt' must be a non-empty string, list of strings or token ids");
    }
    return out;
}

generate_params sampling_of(const json_value& b, bool chat) {
    generate_params g;
    const double max_tokens = chat && field(b, "max_completion_tokens")
                                  ? get_number(b, "max_completion_tokens", 16)
                                  : get_number(b, "max_tokens", chat ? 256 : 16);
    if (max_tokens < 0 || max_tokens > 1e7) bad_request("'max_tokens' is out of range");
    g.max_new_tokens = std::uint32_t(max_tokens);
    g.temperature = float(get_number(b, "temperature", 1.0));
    g.top_p = float(get_number(b, "top_p", 1.0));
    g.top_k = std::int32_t(get_int(b, "top_k", 0));
    if (g.top_k < 0) g.top_k = 0;  // vLLM's -1 = off
    g.min_p = float(get_number(b, "min_p", 0.0));
    g.repetition_penalty = float(get_number(b, "repetition_penalty", 1.0));
    // Seeds are 64-bit; JSON numbers reach us as doubles, so seeds above 2^53 are rounded
    // (deterministically: the same request always gets the same seed).
    const double seed = get_number(b, "seed", 0);
    if (std::floor(seed) != seed || seed < -9.3e18 || seed > 1.85e19)
        bad_request("'seed' must be a 64-bit integer");
    g.seed = seed < 0 ? std::uint64_t(std::int64_t(seed)) : std::uint64_t(seed);
    if (const auto* s = field(b, "stop")) {
        if (s->is_string()) {
            g.stop.push_back(s->as_string());
        } else if (s->is_array()) {
            for (const auto& x : s->as_array()) {
                if (!x.is_string()) bad_request("'stop' must hold strings");
                g.stop.push_back(x.as_string());
            }
        } else {
            bad_request("'stop' must be a string or a list of strings");
        }
    }
    if (const auto* s = field(b, "stop_token_ids")) g.stop_ids = token_ids(*s, "stop_token_ids");
    g.ignore_eos = get_bool(b, "ignore_eos", false);
    g.keep_special = !get_bool(b, "skip_special_tokens", true);
    g.add_special = get_bool(b, "add_special_tokens", !chat);
    g.parse_special = true;  // as Hugging Face tokenizers and vLLM do
    g.add_generation_prompt = get_bool(b, "add_generation_prompt", true);
    if (const auto* rf = field(b, "response_format")) {
        const auto* type = rf->find("type");
        if (!type || !type->is_string()) bad_request("response_format.type is required");
        if (type->as_string() == "json_schema") {
            const auto* js = rf->find("json_schema");
            const auto* schema = js ? js->find("schema") : nullptr;
            if (!schema) bad_request("response_format.json_schema.schema is required");
            io::json_writer w;
            write_json(w, *schema);
            g.json_schema = w.take();
        } else if (type->as_string() != "text") {
            bad_request("response_format type '" + type->as_string() +
                        "' is not supported (json_schema or text)");
        }
    }
    if (get_bool(b, "stream", false)) bad_request("streaming is not supported");
    if (get_int(b, "n", 1) != 1) bad_request("'n' must be 1");
    if (field(b, "guided_json") || field(b, "guided_regex") || field(b, "guided_choice"))
        bad_request("guided_* fields are not supported: use response_format json_schema");
    return g;
}

}  // namespace serve
POLYGLOT_END_NAMESPACE
