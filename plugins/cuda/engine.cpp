// SPDX-License-Identifier: Apache-2.0
#include "engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <polyglot/core/error.hpp>

#include "common/safetensors.hpp"
#include "device.hpp"
#include "plan.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cuda {

// ---- error helpers (declared in device.hpp) -----------------------------------------------------

namespace {
const char* base_name(const char* file) {
    const char* s = std::strrchr(file, '/');
    return s ? s + 1 : file;
}
}  // namespace

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
    (void)cudaGetLastError();  // clear a sticky launch error so the next call starts clean
    const std::string msg = std::string("CUDA error ") + cudaGetErrorName(err) + " in " + call +
                            " (" + base_name(file) + ":" + std::to_string(line) +
                            "): " + cudaGetErrorString(err);
    throw plugin_sdk::status_error(err == cudaErrorMemoryAllocation ? POLYGLOT_STATUS_OUT_OF_MEMORY
                                                                    : POLYGLOT_STATUS_DEVICE_ERROR,
                                   msg);
}

void throw_cublas_error(cublasStatus_t st, const char* call, const char* file, int line) {
    const std::string msg = std::string("cuBLAS error ") + cublasGetStatusName(st) + " in " + call +
                            " (" + base_name(file) + ":" + std::to_string(line) +
                            "): " + cublasGetStatusString(st);
    throw plugin_sdk::status_error(st == CUBLAS_STATUS_ALLOC_FAILED ? POLYGLOT_STATUS_OUT_OF_MEMORY
                                                                    : POLYGLOT_STATUS_DEVICE_ERROR,
                                   msg);
}

namespace {

// ---- host helpers -------------------------------------------------------------------------------

cudaDataType_t cuda_type(elem_type t) {
    switch (t) {
        case elem_type::f16:
            return CUDA_R_16F;
        case elem_type::bf16:
            return CUDA_R_16BF;
        default:
            return CUDA_R_32F;
    }
}

bool same_type(model::dtype d, elem_type t) {
    return (d == model::dtype::f32 && t == elem_type::f32) ||
           (d == model::dtype::f16 && t == elem_type::f16) ||
           (d == model::dtype::bf16 && t == elem_type::bf16);
}

/// RoPE inverse frequencies exactly as the cpu engine computes them (transformers' rules).
std::vector<float> inv_freq(const model::rope_params& rp, std::int64_t dim) {
    std::vector<float> f(std::size_t(dim / 2));
    const float theta = float(rp.theta);
    for (std::int64_t i = 0; i < dim / 2; ++i) {
        const float e = float(2 * i) / float(dim);
        f[std::size_t(i)] = 1.0f / float(std::pow(double(theta), double(e)));
    }
    if (rp.type == "linear") {
        for (auto& v : f) v = v / float(rp.factor);
    } else if (rp.type == "llama3") {
        const double old_ctx = rp.original_max_position;
        const double low_wl = old_ctx / rp.low_freq_factor;
        const double high_wl = old_ctx / rp.high_freq_factor;
        const float factor = float(rp.factor);
        for (auto& v : f) {
            const float wavelen = (1.0f / v) * float(2 * std::numbers::pi);
            float inv = wavelen > low_wl ? v / factor : v;
            const float smooth = float((old_ctx / wavelen - rp.low_freq_factor) /
                                       (rp.high_freq_factor - rp.low_freq_factor));
            const float smoothed = (1.0f - smooth) * inv / factor + smooth * inv;
            const bool medium = !(wavelen < high_wl) && !(wavelen > low_wl);
            v = medium ? smoothed : inv;
        }
    }
    return f;
}

struct dev_linear {
    std::int64_t out = 0, in = 0;
    device_buffer w;  // [out, in] compute type
    device_buffer b;  // [out] f32, empty = no bias
};

struct dev_dense {
    std::int64_t out = 0, in = 0;
    device_buffer w;  // [out, in] f32
    device_buffer b;  // [out] f32 or empty
    bool use_tanh = false;
};

}  // namespace

// ---- weights and workspace
// -----------------------------------------------------------------------

struct transformer::impl {
    model::model_config cfg;
    elem_type type = elem_type::f32;
    int device = 0;
    std::size_t params = 0;
    std::size_t budget = 0;
    std::size_t logit_budget = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;

    device_buffer embed;  // [vocab, hidden]
    dev_linear head;      // w empty when tied
    bool has_head = false;
    device_buffer final_norm;
    struct layer {
        device_buffer in_norm, post_attn_norm, pre_ff_norm, post_ff_norm, q_norm, k_norm;
        dev_linear qkv, o, gate_up, down;
    };
    std::vector<layer> layers;
    device_buffer inv_freq_full, inv_freq_sliding;

    model::pooling_mode pooling = model::pooling_mode::mean;
    std::vector<dev_dense> dense;
    bool normalize = false;

    // Workspace (grown on demand, kept between calls).
    device_buffer x, xn, qkv, attn, tmp, gu, act;
    device_buffer ids, pos, cu, tiles, cos_full, sin_full, cos_slide, sin_slide;
    device_buffer jobs_rows, jobs_targets, hs, logits, lp;
    device_buffer pooled, dense_a, dense_b;
    device_buffer staging;  // f32 upload staging

    ~impl() {
        if (blas) (void)cublasDestroy(blas);
        if (stream) (void)cudaStreamDestroy(stream);
    }

    std::size_t embed_dim_now() const {
        return dense.empty() ? std::size_t(cfg.hidden_size) : std::size_t(dense.back().out);
    }
    const void* head_w() const { return head.w.empty() ? embed.get() : head.w.get(); }

    // -- uploads --
    /// Uploads @p t into @p dst (t.numel() elements of type @p to).
    void upload(const model::tensor_view& t, elem_type to, void* dst) {
        const std::size_t n = std::size_t(t.numel());
        if (same_type(t.type, to)) {
            POLYGLOT_CUDA_CALL(cudaMemcpy(dst, t.data, t.nbytes, cudaMemcpyHostToDevice));
            return;
        }
        std::vector<float> host(n);
        model::to_float(t, host.data());
        upload_f32(host.data(), n, to, dst);
    }
    void upload_f32(const float* host, std::size_t n, elem_type to, void* dst) {
        if (to == elem_type::f32) {
            POLYGLOT_CUDA_CALL(cudaMemcpy(dst, host, n * sizeof(float), cudaMemcpyHostToDevice));
            return;
        }
        staging.reserve(n * sizeof(float));
        POLYGLOT_CUDA_CALL(
            cudaMemcpy(staging.get(), host, n * sizeof(float), cudaMemcpyHostToDevice));
        POLYGLOT_CUDA_CALL(launch_convert(staging.as<float>(), dst, to, n, stream));
        POLYGLOT_CUDA_CALL(cudaStreamSynchronize(stream));
    }
    device_buffer f32_vector(const std::vector<float>& v) {
        device_buffer b(std::max<std::size_t>(v.size(), 1) * sizeof(float));
        POLYGLOT_CUDA_CALL(
            cudaMemcpy(b.get(), v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice));
        return b;
    }

    // -- GEMM: Y[rows, out] = X[rows, in] · W[out, in]ᵀ (row-major), f32 accumulation --
    void gemm(const void* w, elem_type wt, const void* xin, elem_type xt, void* y, elem_type yt,
              std::int64_t rows, std::int64_t out, std::int64_t in) {
        if (rows == 0) return;
        const float alpha = 1.0f, beta = 0.0f;
        POLYGLOT_CUBLAS_CALL(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, int(out), int(rows),
                                          int(in), &alpha, w, cuda_type(wt), int(in), xin,
                                          cuda_type(xt), int(in), &beta, y, cuda_type(yt), int(out),
                                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
    void linear(const dev_linear& l, const device_buffer& xin, device_buffer& y,
                std::int64_t rows) {
        gemm(l.w.get(), type, xin.get(), type, y.get(), type, rows, l.out, l.in);
        if (!l.b.empty())
            POLYGLOT_CUDA_CALL(
                launch_add_bias(y.get(), type, int(rows), int(l.out), l.b.as<float>(), stream));
    }

    void reserve_workspace(std::size_t T) {
        const auto& c = cfg;
        const std::size_t es = elem_size(type);
        const std::size_t d = std::size_t(c.hidden_size), hd = std::size_t(c.head_dim);
        const std::size_t H = std::size_t(c.num_heads), KV = std::size_t(c.num_kv_heads);
        const std::size_t inter = std::size_t(c.intermediate_size);
        x.reserve(T * d * 4);
        xn.reserve(T * d * es);
        qkv.reserve(T * (H + 2 * KV) * hd * es);
        attn.reserve(T * H * hd * es);
        tmp.reserve(T * d * es);
        gu.reserve(T * 2 * inter * es);
        act.reserve(T * inter * es);
        ids.reserve(T * 4);
        pos.reserve(T * 4);
    }

    void run(std::span<const seq_request> batch);
};

transformer::transformer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
transformer::~transformer() = default;

const model::model_config& transformer::config() const noexcept { return impl_->cfg; }
elem_type transformer::compute_type() const noexcept { return impl_->type; }
bool transformer::has_lm_head() const noexcept { return impl_->has_head; }
std::size_t transformer::parameter_count() const noexcept { return impl_->params; }
std::size_t transformer::token_budget() const noexcept { return impl_->budget; }
int transformer::device() const noexcept { return impl_->device; }

std::size_t transformer::embed_dim() const noexcept { return impl_->embed_dim_now(); }

std::unique_ptr<transformer> transformer::load(const std::filesystem::path& dir,
                                               const load_options& opts) {
    auto p = std::make_unique<impl>();
    impl& w = *p;
    w.cfg = model::load_model_config(dir);
    const auto& c = w.cfg;
    auto ws = model::weight_set::open(dir);

    if (c.head_dim > attention_max_head_dim)
        throw unsupported_error(c.file.string() + ": head_dim " + std::to_string(c.head_dim) +
                                " is larger than the cuda plugin's limit (" +
                                std::to_string(attention_max_head_dim) + ")");
    if (opts.dtype.empty()) {
        const auto main = ws.main_dtype();
        w.type = main == model::dtype::bf16  ? elem_type::bf16
                 : main == model::dtype::f16 ? elem_type::f16
                                             : elem_type::f32;
    } else if (opts.dtype == "f32") {
        w.type = elem_type::f32;
    } else if (opts.dtype == "f16") {
        w.type = elem_type::f16;
    } else if (opts.dtype == "bf16") {
        w.type = elem_type::bf16;
    } else {
        throw argument_error("config: 'dtype' must be \"\", \"f32\", \"f16\" or \"bf16\", not '" +
                             opts.dtype + "'");
    }

    w.device = opts.device;
    POLYGLOT_CUDA_CALL(cudaSetDevice(w.device));
    POLYGLOT_CUDA_CALL(cudaStreamCreateWithFlags(&w.stream, cudaStreamNonBlocking));
    POLYGLOT_CUBLAS_CALL(cublasCreate(&w.blas));
    POLYGLOT_CUBLAS_CALL(cublasSetStream(w.blas, w.stream));
    // f32 models: CUBLAS_COMPUTE_32F with the default math mode never uses TF32 (parity path).
    POLYGLOT_CUBLAS_CALL(cublasSetMathMode(w.blas, CUBLAS_DEFAULT_MATH));

    // Where the text model lives (same rule as the cpu engine).
    std::string prefix;
    bool found = false;
    for (const char* pf :
         {"model.", "", "model.language_model.", "language_model.model.", "language_model."})
        if (ws.find(std::string(pf) + "embed_tokens.weight")) {
            prefix = pf;
            found = true;
            break;
        }
    if (!found)
        throw format_error(ws.origin().string() +
                           ": no embed_tokens.weight under a known prefix (model., "
                           "model.language_model., language_model.model.): not a supported "
                           "text model");
    const std::int64_t d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const std::size_t es = elem_size(w.type);

    auto tensor_into = [&](const std::string& name, std::initializer_list<std::int64_t> shape,
                           elem_type to, device_buffer& buf) {
        const auto& t = ws.get(name, shape);
        buf.reserve(std::size_t(t.numel()) * elem_size(to));
        w.upload(t, to, buf.get());
        w.params += std::size_t(t.numel());
    };
    auto norm = [&](const std::string& name, std::int64_t n, bool plus_one) {
        const auto& t = ws.get(name, {n});
        std::vector<float> v(static_cast<std::size_t>(n));
        model::to_float(t, v.data());
        if (plus_one)
            for (auto& x : v) x = 1.0f + x;
        w.params += v.size();
        return w.f32_vector(v);
    };
    auto stacked = [&](const std::vector<std::string>& names, const std::vector<std::int64_t>& outs,
                       std::int64_t in, bool bias) {
        dev_linear l;
        l.in = in;
        for (auto o : outs) l.out += o;
        l.w.reserve(std::size_t(l.out * in) * es);
        std::vector<float> b;
        std::int64_t row = 0;
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto& t = ws.get(names[i] + ".weight", {outs[i], in});
            w.upload(t, w.type, static_cast<char*>(l.w.get()) + std::size_t(row * in) * es);
            w.params += std::size_t(t.numel());
            if (bias) {
                const auto& bt = ws.get(names[i] + ".bias", {outs[i]});
                std::vector<float> part(static_cast<std::size_t>(outs[i]));
                model::to_float(bt, part.data());
                b.insert(b.end(), part.begin(), part.end());
                w.params += part.size();
            }
            row += outs[i];
        }
        if (bias) l.b = w.f32_vector(b);
        return l;
    };

    tensor_into(prefix + "embed_tokens.weight", {c.vocab_size, d}, w.type, w.embed);
    w.final_norm = norm(prefix + "norm.weight", d, c.norm_plus_one);
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
        const std::string lp = prefix + "layers." + std::to_string(i) + ".";
        impl::layer L;
        L.in_norm = norm(lp + "input_layernorm.weight", d, c.norm_plus_one);
        if (c.sandwich_norms) {
            L.post_attn_norm = norm(lp + "post_attention_layernorm.weight", d, true);
            L.pre_ff_norm = norm(lp + "pre_feedforward_layernorm.weight", d, true);
            L.post_ff_norm = norm(lp + "post_feedforward_layernorm.weight", d, true);
        } else {
            L.pre_ff_norm = norm(lp + "post_attention_layernorm.weight", d, c.norm_plus_one);
        }
        if (c.qk_norm) {
            L.q_norm = norm(lp + "self_attn.q_norm.weight", hd, c.norm_plus_one);
            L.k_norm = norm(lp + "self_attn.k_norm.weight", hd, c.norm_plus_one);
        }
        L.qkv = stacked({lp + "self_attn.q_proj", lp + "self_attn.k_proj", lp + "self_attn.v_proj"},
                        {H * hd, KV * hd, KV * hd}, d, c.qkv_bias);
        L.o = stacked({lp + "self_attn.o_proj"}, {d}, H * hd, c.o_bias);
        L.gate_up = stacked({lp + "mlp.gate_proj", lp + "mlp.up_proj"},
                            {c.intermediate_size, c.intermediate_size}, d, c.mlp_bias);
        L.down = stacked({lp + "mlp.down_proj"}, {d}, c.intermediate_size, c.mlp_bias);
        w.layers.push_back(std::move(L));
    }
    std::string head_name;
    for (const char* cand : {"lm_head.weight", "language_model.lm_head.weight"})
        if (ws.find(cand)) {
            head_name = cand;
            break;
        }
    if (!head_name.empty() && !c.tie_word_embeddings) {
        w.head = stacked({head_name.substr(0, head_name.size() - 7)}, {c.vocab_size}, d, false);
        w.has_head = true;
    } else if (c.tie_word_embeddings) {
        w.has_head = true;
    } else if (opts.need_lm_head) {
        throw format_error(ws.origin().string() +
                           ": missing tensor 'lm_head.weight' (tie_word_embeddings is false)");
    }
    w.inv_freq_full = w.f32_vector(inv_freq(c.rope_full, hd));
    w.inv_freq_sliding = w.f32_vector(inv_freq(c.rope_sliding, hd));
    w.staging.release();
    POLYGLOT_CUDA_CALL(cudaStreamSynchronize(w.stream));

    // Batch sizing from the memory left after the weights.
    std::size_t free_b = 0, total_b = 0;
    POLYGLOT_CUDA_CALL(cudaMemGetInfo(&free_b, &total_b));
    w.logit_budget =
        std::clamp<std::size_t>(free_b / 8, std::size_t(64) << 20, std::size_t(2) << 30);
    const plan::shape sh{std::size_t(d),
                         std::size_t(H),
                         std::size_t(KV),
                         std::size_t(hd),
                         std::size_t(c.intermediate_size),
                         std::size_t(c.vocab_size)};
    w.budget = opts.batch_tokens > 0
                   ? opts.batch_tokens
                   : plan::token_budget(free_b, w.logit_budget + (std::size_t(256) << 20),
                                        plan::bytes_per_token(sh, es), 0.7, 256, 32768);
    return std::unique_ptr<transformer>(new transformer(std::move(p)));
}

void transformer::set_embedding_head(model::pooling_mode pooling,
                                     const std::vector<model::st_dense>& dense, bool normalize) {
    impl& w = *impl_;
    POLYGLOT_CUDA_CALL(cudaSetDevice(w.device));
    w.pooling = pooling;
    w.normalize = normalize;
    w.dense.clear();
    std::int64_t in = w.cfg.hidden_size;
    for (const auto& spec : dense) {
        if (spec.in_features != in)
            throw format_error(spec.dir.string() + ": Dense in_features " +
                               std::to_string(spec.in_features) + " does not match the previous " +
                               "output size " + std::to_string(in));
        auto ws = model::weight_set::open(spec.dir);
        dev_dense dd;
        dd.in = spec.in_features;
        dd.out = spec.out_features;
        dd.use_tanh = spec.act == model::dense_activation::tanh;
        const auto& wt = ws.get("linear.weight", {dd.out, dd.in});
        dd.w.reserve(std::size_t(wt.numel()) * 4);
        w.upload(wt, elem_type::f32, dd.w.get());
        if (spec.bias) {
            const auto& bt = ws.get("linear.bias", {dd.out});
            std::vector<float> b(static_cast<std::size_t>(dd.out));
            model::to_float(bt, b.data());
            dd.b = w.f32_vector(b);
        }
        in = dd.out;
        w.dense.push_back(std::move(dd));
    }
}

void transformer::run(std::span<const seq_request> batch) { impl_->run(batch); }

// ---- forward ------------------------------------------------------------------------------------

void transformer::impl::run(std::span<const seq_request> batch) {
    const auto& c = cfg;
    POLYGLOT_CUDA_CALL(cudaSetDevice(device));
    const std::int64_t d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const std::int64_t inter = c.intermediate_size, V = c.vocab_size;
    const float eps = float(c.rms_norm_eps);

    // Pack: the non-empty sequences back to back.
    std::vector<std::size_t> seqs, lens;
    std::vector<std::int32_t> host_ids;
    std::size_t max_len = 0;
    for (std::size_t s = 0; s < batch.size(); ++s) {
        const auto& ids_s = batch[s].ids;
        if (batch[s].pooled) std::fill_n(batch[s].pooled, embed_dim_now(), 0.0f);
        if (ids_s.empty()) continue;
        for (auto id : ids_s) {
            if (std::int64_t(id) >= V)
                throw argument_error("token id " + std::to_string(id) +
                                     " is outside the vocabulary (" + std::to_string(V) + ") of " +
                                     c.file.string());
            host_ids.push_back(std::int32_t(id));
        }
        seqs.push_back(s);
        lens.push_back(ids_s.size());
        max_len = std::max(max_len, ids_s.size());
    }
    if (seqs.empty()) return;
    const auto cu_host = plan::cu_seqlens(lens);
    const auto pos_host = plan::positions(cu_host);
    const auto tiles_host = plan::attention_tiles(cu_host, attention_tile_queries);
    const std::size_t T = host_ids.size();
    const std::size_t half = std::size_t(hd / 2);

    reserve_workspace(T);
    cu.reserve(cu_host.size() * 4);
    tiles.reserve(tiles_host.size() * sizeof(plan::attention_tile));
    for (auto* b : {&cos_full, &sin_full, &cos_slide, &sin_slide}) b->reserve(max_len * half * 4);
    POLYGLOT_CUDA_CALL(
        cudaMemcpyAsync(ids.get(), host_ids.data(), T * 4, cudaMemcpyHostToDevice, stream));
    POLYGLOT_CUDA_CALL(
        cudaMemcpyAsync(pos.get(), pos_host.data(), T * 4, cudaMemcpyHostToDevice, stream));
    POLYGLOT_CUDA_CALL(cudaMemcpyAsync(cu.get(), cu_host.data(), cu_host.size() * 4,
                                       cudaMemcpyHostToDevice, stream));
    POLYGLOT_CUDA_CALL(cudaMemcpyAsync(tiles.get(), tiles_host.data(),
                                       tiles_host.size() * sizeof(plan::attention_tile),
                                       cudaMemcpyHostToDevice, stream));
    POLYGLOT_CUDA_CALL(launch_rope_table(inv_freq_full.as<float>(), int(max_len), int(half),
                                         cos_full.as<float>(), sin_full.as<float>(), stream));
    POLYGLOT_CUDA_CALL(launch_rope_table(inv_freq_sliding.as<float>(), int(max_len), int(half),
                                         cos_slide.as<float>(), sin_slide.as<float>(), stream));

    const int rows = int(T);
    const float emb_scale = c.scale_embeddings ? float(std::sqrt(double(d))) : 1.0f;
    POLYGLOT_CUDA_CALL(launch_embed(ids.as<std::int32_t>(), rows, embed.get(), type, int(d),
                                    emb_scale, x.as<float>(), stream));
    POLYGLOT_CUDA_CALL(launch_rms_norm(x.as<float>(), rows, int(d), layers[0].in_norm.as<float>(),
                                       eps, xn.get(), type, stream));

    attention_args aa;
    aa.qkv = qkv.get();
    aa.out = attn.get();
    aa.type = type;
    aa.cu_seqlens = cu.as<std::int32_t>();
    aa.tiles = tiles.as<plan::attention_tile>();
    aa.n_tiles = int(tiles_host.size());
    aa.heads = int(H);
    aa.kv_heads = int(KV);
    aa.head_dim = int(hd);
    aa.scale = float(c.attn_scale);
    aa.softcap = c.attn_logit_softcap ? float(*c.attn_logit_softcap) : 0.0f;
    aa.bidirectional = c.bidirectional;

    const act_kind ak = c.act == model::activation::silu        ? act_kind::silu
                        : c.act == model::activation::gelu_tanh ? act_kind::gelu_tanh
                                                                : act_kind::gelu_erf;
    for (std::size_t li = 0; li < layers.size(); ++li) {
        const auto& L = layers[li];
        const bool sliding = c.layer_types[li] == model::attention_kind::sliding;
        linear(L.qkv, xn, qkv, rows);
        POLYGLOT_CUDA_CALL(launch_qk_norm_rope(
            qkv.get(), type, rows, int(H), int(KV), int(hd), pos.as<std::int32_t>(),
            (sliding ? cos_slide : cos_full).as<float>(),
            (sliding ? sin_slide : sin_full).as<float>(),
            c.qk_norm ? L.q_norm.as<float>() : nullptr, c.qk_norm ? L.k_norm.as<float>() : nullptr,
            eps, stream));
        aa.window = sliding ? int(c.sliding_window) : 0;
        POLYGLOT_CUDA_CALL(launch_attention(aa, stream));
        linear(L.o, attn, tmp, rows);
        POLYGLOT_CUDA_CALL(
            launch_add_norm(x.as<float>(), tmp.get(), type, rows, int(d),
                            c.sandwich_norms ? L.post_attn_norm.as<float>() : nullptr,
                            L.pre_ff_norm.as<float>(), eps, xn.get(), stream));
        linear(L.gate_up, xn, gu, rows);
        POLYGLOT_CUDA_CALL(launch_act_mul(gu.get(), type, rows, int(inter), ak, act.get(), stream));
        linear(L.down, act, tmp, rows);
        const float* next =
            li + 1 < layers.size() ? layers[li + 1].in_norm.as<float>() : final_norm.as<float>();
        POLYGLOT_CUDA_CALL(launch_add_norm(x.as<float>(), tmp.get(), type, rows, int(d),
                                           c.sandwich_norms ? L.post_ff_norm.as<float>() : nullptr,
                                           next, eps, xn.get(), stream));
    }
    // xn now holds the final-normed hidden states.

    // Pooling (+ Dense + Normalize) for the sequences that want it.
    bool any_pool = false;
    for (auto s : seqs) any_pool |= batch[s].pooled != nullptr;
    if (any_pool) {
        const int ns = int(seqs.size());
        std::size_t widest = std::size_t(d);
        for (const auto& dd : dense) widest = std::max(widest, std::size_t(dd.out));
        dense_a.reserve(std::size_t(ns) * widest * 4);
        dense_b.reserve(std::size_t(ns) * widest * 4);
        const pool_kind pk = pooling == model::pooling_mode::mean   ? pool_kind::mean
                             : pooling == model::pooling_mode::last ? pool_kind::last
                             : pooling == model::pooling_mode::cls  ? pool_kind::cls
                                                                    : pool_kind::max;
        POLYGLOT_CUDA_CALL(launch_pool(xn.get(), type, int(d), cu.as<std::int32_t>(), ns, pk,
                                       dense_a.as<float>(), stream));
        device_buffer* cur = &dense_a;
        device_buffer* nxt = &dense_b;
        for (const auto& dd : dense) {
            gemm(dd.w.get(), elem_type::f32, cur->get(), elem_type::f32, nxt->get(), elem_type::f32,
                 ns, dd.out, dd.in);
            POLYGLOT_CUDA_CALL(launch_bias_act_f32(nxt->as<float>(), ns, int(dd.out),
                                                   dd.b.empty() ? nullptr : dd.b.as<float>(),
                                                   dd.use_tanh, stream));
            std::swap(cur, nxt);
        }
        const std::size_t od = embed_dim_now();
        if (normalize)
            POLYGLOT_CUDA_CALL(launch_l2_normalize(cur->as<float>(), ns, int(od), stream));
        std::vector<float> host(std::size_t(ns) * od);
        POLYGLOT_CUDA_CALL(cudaMemcpyAsync(host.data(), cur->get(), host.size() * 4,
                                           cudaMemcpyDeviceToHost, stream));
        POLYGLOT_CUDA_CALL(cudaStreamSynchronize(stream));
        for (std::size_t k = 0; k < seqs.size(); ++k)
            if (float* dst = batch[seqs[k]].pooled) std::copy_n(host.data() + k * od, od, dst);
    }

    // Log-probs at the requested positions only, in chunks of positions.
    std::vector<std::int32_t> job_rows, job_targets;
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto& rq = batch[seqs[k]];
        if (!rq.logprobs) continue;
        const std::size_t n = rq.ids.size();
        const std::size_t from = std::max<std::size_t>(rq.score_from, 1);
        for (std::size_t p = from; p < n; ++p) {
            job_rows.push_back(cu_host[k] + std::int32_t(p) - 1);
            job_targets.push_back(std::int32_t(rq.ids[p]));
        }
    }
    if (!job_rows.empty()) {
        if (!has_head)
            throw unsupported_error(c.file.string() +
                                    ": the model has no output projection (lm_head)");
        const std::size_t nj = job_rows.size();
        const std::size_t chunk = plan::logit_rows_per_chunk(std::size_t(V), logit_budget, 8192);
        const std::size_t rows_c = std::min(chunk, nj);
        jobs_rows.reserve(nj * 4);
        jobs_targets.reserve(nj * 4);
        lp.reserve(nj * sizeof(double));
        hs.reserve(rows_c * std::size_t(d) * elem_size(type));
        logits.reserve(rows_c * std::size_t(V) * 4);
        POLYGLOT_CUDA_CALL(cudaMemcpyAsync(jobs_rows.get(), job_rows.data(), nj * 4,
                                           cudaMemcpyHostToDevice, stream));
        POLYGLOT_CUDA_CALL(cudaMemcpyAsync(jobs_targets.get(), job_targets.data(), nj * 4,
                                           cudaMemcpyHostToDevice, stream));
        const float cap = c.final_logit_softcap ? float(*c.final_logit_softcap) : 0.0f;
        for (std::size_t j0 = 0; j0 < nj; j0 += rows_c) {
            const std::size_t m = std::min(rows_c, nj - j0);
            POLYGLOT_CUDA_CALL(launch_gather_rows(xn.get(), type, int(d),
                                                  jobs_rows.as<std::int32_t>() + j0, int(m),
                                                  hs.get(), stream));
            gemm(head_w(), type, hs.get(), type, logits.get(), elem_type::f32, std::int64_t(m), V,
                 d);
            POLYGLOT_CUDA_CALL(launch_logprob(logits.as<float>(), int(m), int(V),
                                              jobs_targets.as<std::int32_t>() + j0, cap,
                                              lp.as<double>() + j0, stream));
        }
        std::vector<double> host(nj);
        POLYGLOT_CUDA_CALL(cudaMemcpyAsync(host.data(), lp.get(), nj * sizeof(double),
                                           cudaMemcpyDeviceToHost, stream));
        POLYGLOT_CUDA_CALL(cudaStreamSynchronize(stream));
        std::size_t at = 0;
        for (std::size_t k = 0; k < seqs.size(); ++k) {
            const auto& rq = batch[seqs[k]];
            if (!rq.logprobs) continue;
            const std::size_t from = std::max<std::size_t>(rq.score_from, 1);
            for (std::size_t p = from; p < rq.ids.size(); ++p) rq.logprobs[p - from] = host[at++];
        }
    }
    POLYGLOT_CUDA_CALL(cudaStreamSynchronize(stream));
}

}  // namespace cuda
POLYGLOT_END_NAMESPACE
