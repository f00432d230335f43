// SPDX-License-Identifier: Apache-2.0
#include "common/model_config.hpp"

#include <cmath>
#include <polyglot/core/error.hpp>

#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

namespace {

using simdjson::dom::element;

constexpr std::int64_t max_layers = 1 << 16;

rope_params parse_rope(const json_document& doc, element obj, double default_theta) {
    rope_params r;
    r.theta = get_number(obj, "rope_theta").value_or(default_theta);
    auto type = get_string(obj, "rope_type");
    if (!type) type = get_string(obj, "type");  // older rope_scaling spelling
    r.type = type.value_or("default");
    r.factor = get_number(obj, "factor").value_or(1.0);
    r.low_freq_factor = get_number(obj, "low_freq_factor").value_or(1.0);
    r.high_freq_factor = get_number(obj, "high_freq_factor").value_or(4.0);
    r.original_max_position = get_number(obj, "original_max_position_embeddings").value_or(8192);
    if (r.type != "default" && r.type != "linear" && r.type != "llama3")
        throw unsupported_error(doc.path().string() + ": RoPE type '" + r.type +
                                "' is not supported (supported: default, linear, llama3)");
    if (r.theta <= 0 || r.factor <= 0) doc.fail("rope_theta and the RoPE factor must be positive");
    return r;
}

}  // namespace

model_config load_model_config(const std::filesystem::path& path) {
    const auto file = std::filesystem::is_directory(path) ? path / "config.json" : path;
    json_document doc(file);
    return parse_model_config(doc);
}

model_config parse_model_config(std::string_view json, const std::filesystem::path& origin) {
    json_document doc(json, origin);
    return parse_model_config(doc);
}

model_config parse_model_config(const json_document& doc) {
    const auto& file = doc.path();
    model_config c;
    c.file = file;
    element root = doc.root();
    if (!root.is_object()) doc.fail("not a JSON object");
    auto top_type = get_string(root, "model_type").value_or("");
    element cfg = root;
    if (auto text = field(root, "text_config")) {  // Gemma3ForConditionalGeneration and kin
        if (!text->is_object()) doc.fail("\"text_config\" is not an object");
        cfg = *text;
        c.multimodal_wrapper = true;
    }
    c.model_type =
        get_string(cfg, "model_type").value_or(top_type == "gemma3" ? "gemma3_text" : top_type);
    if (c.model_type == "llama")
        c.arch = architecture::llama;
    else if (c.model_type == "qwen2")
        c.arch = architecture::qwen2;
    else if (c.model_type == "qwen3")
        c.arch = architecture::qwen3;
    else if (c.model_type == "gemma3_text" || c.model_type == "gemma3") {
        c.arch = architecture::gemma3;
        c.model_type = "gemma3_text";
    } else
        throw unsupported_error(file.string() + ": model_type '" + c.model_type +
                                "' is not supported (supported: llama, qwen2, qwen3, gemma3_text, "
                                "gemma3)");
    const bool gemma = c.arch == architecture::gemma3;
    const bool qwen = c.arch == architecture::qwen2 || c.arch == architecture::qwen3;

    // Defaults of transformers' LlamaConfig / Qwen2Config / Qwen3Config / Gemma3TextConfig.
    auto i64 = [&](std::string_view key, std::int64_t def) {
        auto v = get_int(cfg, key);
        if (v && *v < 0) doc.fail(std::string(key) + " must not be negative");
        return v.value_or(def);
    };
    c.vocab_size = i64("vocab_size", gemma ? 262208 : qwen ? 151936 : 32000);
    c.hidden_size = i64("hidden_size", gemma ? 2304 : 4096);
    c.intermediate_size = i64("intermediate_size", gemma ? 9216 : qwen ? 22016 : 11008);
    c.num_layers = i64("num_hidden_layers", gemma ? 26 : 32);
    c.num_heads = i64("num_attention_heads", gemma ? 8 : 32);
    c.num_kv_heads = i64("num_key_value_heads", gemma ? 4 : c.num_heads);
    c.max_position_embeddings = i64("max_position_embeddings", gemma ? 131072 : 2048);
    if (c.num_heads <= 0 || c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
        doc.fail("num_attention_heads must be a positive multiple of num_key_value_heads");
    if (c.hidden_size <= 0 || c.num_layers <= 0 || c.vocab_size <= 0 || c.intermediate_size <= 0)
        doc.fail(
            "hidden_size, intermediate_size, num_hidden_layers and vocab_size must be positive");
    // Sizes are checked against the weights later, but per-layer tables are allocated from the
    // config alone: a corrupt layer count must not ask for gigabytes first.
    if (c.num_layers > max_layers)
        doc.fail("num_hidden_layers " + std::to_string(c.num_layers) +
                 " is implausible (more than " + std::to_string(max_layers) + ")");
    const std::int64_t head_default = gemma                           ? 256
                                      : c.arch == architecture::qwen3 ? 128
                                                                      : c.hidden_size / c.num_heads;
    c.head_dim = i64("head_dim", head_default);
    if (c.head_dim <= 0 || c.head_dim % 2) doc.fail("head_dim must be positive and even");
    c.rms_norm_eps = get_number(cfg, "rms_norm_eps").value_or(1e-6);
    c.tie_word_embeddings = get_bool(cfg, "tie_word_embeddings")
                                .value_or(get_bool(root, "tie_word_embeddings").value_or(gemma));
    c.bidirectional = get_bool(cfg, "use_bidirectional_attention").value_or(false);

    auto act = get_string(cfg, gemma ? "hidden_activation" : "hidden_act");
    if (!act) act = get_string(cfg, gemma ? "hidden_act" : "hidden_activation");
    std::string a = act.value_or(gemma ? "gelu_pytorch_tanh" : "silu");
    if (a == "silu" || a == "swish")
        c.act = activation::silu;
    else if (a == "gelu_pytorch_tanh" || a == "gelu_new" || a == "gelu_fast")
        c.act = activation::gelu_tanh;
    else if (a == "gelu")
        c.act = activation::gelu_erf;
    else
        throw unsupported_error(file.string() + ": activation '" + a +
                                "' is not supported (silu, gelu, gelu_pytorch_tanh)");

    const bool attention_bias = get_bool(cfg, "attention_bias").value_or(false);
    c.qkv_bias = c.arch == architecture::qwen2 ? true : attention_bias;
    c.o_bias = c.arch == architecture::qwen2 ? false : attention_bias;
    c.mlp_bias = get_bool(cfg, "mlp_bias").value_or(false);
    c.qk_norm = gemma || c.arch == architecture::qwen3;
    c.sandwich_norms = gemma;
    c.norm_plus_one = gemma;
    c.scale_embeddings = gemma;
    if (gemma) {
        const double q = get_number(cfg, "query_pre_attn_scalar").value_or(256);
        if (q <= 0) doc.fail("query_pre_attn_scalar must be positive");
        c.attn_scale = std::pow(q, -0.5);
        c.attn_logit_softcap = get_number(cfg, "attn_logit_softcapping");
        c.final_logit_softcap = get_number(cfg, "final_logit_softcapping");
    } else {
        c.attn_scale = std::pow(double(c.head_dim), -0.5);
    }
    c.bos_token_id = get_int(cfg, "bos_token_id");
    if (!c.bos_token_id) c.bos_token_id = get_int(root, "bos_token_id");
    c.eos_token_id = get_int(cfg, "eos_token_id");

    // Layer types: explicit `layer_types`, else each architecture's rule.
    const auto n = static_cast<std::size_t>(c.num_layers);
    if (auto lt = field(cfg, "layer_types")) {
        simdjson::dom::array arr;
        if (lt->get_array().get(arr) || arr.size() != n)
            doc.fail("layer_types must list one type per layer (" + std::to_string(n) + ")");
        for (auto e : arr) {
            std::string_view s;
            if (e.get_string().get(s)) doc.fail("layer_types holds a non-string");
            if (s == "full_attention")
                c.layer_types.push_back(attention_kind::full);
            else if (s == "sliding_attention")
                c.layer_types.push_back(attention_kind::sliding);
            else
                throw unsupported_error(file.string() + ": layer type '" + std::string(s) +
                                        "' is not supported");
        }
    } else if (gemma) {
        const auto pattern = i64("sliding_window_pattern", i64("_sliding_window_pattern", 6));
        for (std::size_t i = 0; i < n; ++i)
            c.layer_types.push_back(pattern > 0 && (i + 1) % std::size_t(pattern)
                                        ? attention_kind::sliding
                                        : attention_kind::full);
    } else if (qwen && get_bool(cfg, "use_sliding_window").value_or(false)) {
        const auto max_window_layers = std::size_t(i64("max_window_layers", 28));
        for (std::size_t i = 0; i < n; ++i)
            c.layer_types.push_back(i >= max_window_layers ? attention_kind::sliding
                                                           : attention_kind::full);
    } else {
        c.layer_types.assign(n, attention_kind::full);
    }
    bool any_sliding = false;
    for (auto k : c.layer_types) any_sliding |= k == attention_kind::sliding;
    if (any_sliding) {
        c.sliding_window = i64("sliding_window", gemma ? 4096 : 0);
        if (c.sliding_window <= 0) doc.fail("sliding layers need a positive sliding_window");
        // transformers' Gemma3TextConfig turns the window into an exclusive half-width when
        // attention is bidirectional (sliding_window // 2 + 1, applied on every load; tokens
        // i, j attend when |i - j| < that); the fixture's expected values confirm it.
        if (c.bidirectional) c.sliding_window = c.sliding_window / 2 + 1;
    }

    // RoPE: `rope_parameters` (transformers ≥ 5; per layer type for Gemma 3) or the older
    // `rope_theta` + `rope_scaling` (+ Gemma 3's `rope_local_base_freq` for sliding layers).
    const double theta = get_number(cfg, "rope_theta").value_or(gemma ? 1e6 : 10000.0);
    if (auto rp = field(cfg, "rope_parameters")) {
        if (!rp->is_object()) doc.fail("\"rope_parameters\" is not an object");
        auto full = field(*rp, "full_attention");
        auto sliding = field(*rp, "sliding_attention");
        if (full || sliding) {
            if (full) c.rope_full = parse_rope(doc, *full, theta);
            c.rope_sliding = sliding ? parse_rope(doc, *sliding, 10000.0) : c.rope_full;
            if (!full) c.rope_full = c.rope_sliding;
        } else {
            c.rope_full = c.rope_sliding = parse_rope(doc, *rp, theta);
        }
    } else {
        auto scaling = field(cfg, "rope_scaling");
        c.rope_full = scaling ? parse_rope(doc, *scaling, theta) : rope_params{};
        c.rope_full.theta = theta;
        if (gemma) {
            c.rope_sliding = rope_params{};
            c.rope_sliding.theta = get_number(cfg, "rope_local_base_freq").value_or(10000.0);
        } else {
            c.rope_sliding = c.rope_full;
        }
    }
    return c;
}

}  // namespace model
POLYGLOT_END_NAMESPACE
