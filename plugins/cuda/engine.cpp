// SPDX-License-Identifier: Apache-2.0
#include "engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <thread>

#include "common/runtime/weights.hpp"
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

struct dev_linear {
    std::int64_t out = 0, in = 0;
    device_buffer w;  // [out, in] compute type
    device_buffer b;  // [out] f32, empty = no bias
};

}  // namespace

// ---- weights and workspace
// -----------------------------------------------------------------------

struct transformer::impl {
    model::model_config cfg;
    elem_type type = elem_type::f32;
    int device = 0;
    std::size_t threads = 0;
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

    // Workspace (grown on demand, kept between calls).
    device_buffer x, xn, qkv, attn, tmp, gu, act;
    device_buffer ids, pos, cu, tiles, cos_full, sin_full, cos_slide, sin_slide;
    device_buffer jobs_rows, jobs_targets, hs, logits, lp;
    device_buffer pooled;
    device_buffer staging;  // f32 upload staging

    ~impl() {
        if (blas) (void)cublasDestroy(blas);
        if (stream) (void)cudaStreamDestroy(stream);
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

    void run(std::span<const runtime::forward_seq> batch);
};

transformer::transformer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
transformer::~transformer() = default;

const model::model_config& transformer::config() const noexcept { return impl_->cfg; }
elem_type transformer::compute_type() const noexcept { return impl_->type; }
bool transformer::has_lm_head() const noexcept { return impl_->has_head; }
std::size_t transformer::parameter_count() const noexcept { return impl_->params; }
std::size_t transformer::token_budget() const noexcept { return impl_->budget; }
int transformer::device() const noexcept { return impl_->device; }

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
    w.threads = opts.threads;
    POLYGLOT_CUDA_CALL(cudaSetDevice(w.device));
    POLYGLOT_CUDA_CALL(cudaStreamCreateWithFlags(&w.stream, cudaStreamNonBlocking));
    POLYGLOT_CUBLAS_CALL(cublasCreate(&w.blas));
    POLYGLOT_CUBLAS_CALL(cublasSetStream(w.blas, w.stream));
    // f32 models: CUBLAS_COMPUTE_32F with the default math mode never uses TF32 (parity path).
    POLYGLOT_CUBLAS_CALL(cublasSetMathMode(w.blas, CUBLAS_DEFAULT_MATH));

    const auto layout = model::text_model_layout(c, ws, opts.need_lm_head);
    const std::int64_t d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const std::size_t es = elem_size(w.type);

    auto tensor_into = [&](const std::string& name, std::initializer_list<std::int64_t> shape,
                           elem_type to, device_buffer& buf) {
        const auto& t = ws.get(name, shape);
        buf.reserve(std::size_t(t.numel()) * elem_size(to));
        w.upload(t, to, buf.get());
        w.params += std::size_t(t.numel());
    };
    auto norm = [&](const std::optional<model::norm_tensor>& n) {
        if (!n) return device_buffer();
        const auto v = model::norm_weights(ws, *n);
        w.params += v.size();
        return w.f32_vector(v);
    };
    auto stacked = [&](const model::linear_tensors& spec) {
        dev_linear l;
        l.in = spec.in;
        l.out = spec.out();
        l.w.reserve(std::size_t(l.out * spec.in) * es);
        std::vector<float> b;
        std::int64_t row = 0;
        for (std::size_t i = 0; i < spec.names.size(); ++i) {
            const auto& t = ws.get(spec.names[i] + ".weight", {spec.outs[i], spec.in});
            w.upload(t, w.type, static_cast<char*>(l.w.get()) + std::size_t(row * spec.in) * es);
            w.params += std::size_t(t.numel());
            if (spec.bias) {
                const auto& bt = ws.get(spec.names[i] + ".bias", {spec.outs[i]});
                std::vector<float> part(static_cast<std::size_t>(spec.outs[i]));
                model::to_float(bt, part.data());
                b.insert(b.end(), part.begin(), part.end());
                w.params += part.size();
            }
            row += spec.outs[i];
        }
        if (spec.bias) l.b = w.f32_vector(b);
        return l;
    };

    tensor_into(layout.embed, {c.vocab_size, d}, w.type, w.embed);
    w.final_norm = norm(layout.final_norm);
    for (const auto& spec : layout.layers) {
        impl::layer L;
        L.in_norm = norm(spec.in_norm);
        L.post_attn_norm = norm(spec.post_attn_norm);
        L.pre_ff_norm = norm(spec.pre_ff_norm);
        L.post_ff_norm = norm(spec.post_ff_norm);
        L.q_norm = norm(spec.q_norm);
        L.k_norm = norm(spec.k_norm);
        L.qkv = stacked(spec.qkv);
        L.o = stacked(spec.o);
        L.gate_up = stacked(spec.gate_up);
        L.down = stacked(spec.down);
        w.layers.push_back(std::move(L));
    }
    if (layout.lm_head) w.head = stacked(*layout.lm_head);
    w.has_head = layout.has_head;
    w.inv_freq_full = w.f32_vector(model::rope_inv_freq(c.rope_full, hd));
    w.inv_freq_sliding = w.f32_vector(model::rope_inv_freq(c.rope_sliding, hd));
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

void transformer::forward(std::span<const runtime::forward_seq> batch) { impl_->run(batch); }

void transformer::parallel_for(std::size_t n, const std::function<void(std::size_t)>& f) const {
    // The plugin links no TBB: a few std::threads, each taking every k-th item.
    std::size_t threads =
        impl_->threads ? impl_->threads : std::max(1u, std::thread::hardware_concurrency());
    threads = std::min(threads, std::max<std::size_t>(n / 16, 1));
    if (threads <= 1) {
        for (std::size_t i = 0; i < n; ++i) f(i);
        return;
    }
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(threads);
    for (std::size_t t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            try {
                for (std::size_t i = t; i < n; i += threads) f(i);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    for (auto& th : pool) th.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

std::string transformer::describe_json() const {
    cudaDeviceProp prop{};
    (void)cudaGetDeviceProperties(&prop, impl_->device);
    std::string name;
    for (const char* p = prop.name; *p && name.size() < sizeof prop.name; ++p)
        if (*p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) name += *p;
    return "\"backend\": \"cuda\", \"device\": \"cuda:" + std::to_string(impl_->device) +
           "\", \"device_name\": \"" + name + "\", \"dtype\": \"" + elem_name(impl_->type) +
           "\", \"parameters\": " + std::to_string(impl_->params) +
           ", \"token_budget\": " + std::to_string(impl_->budget);
}

// ---- forward ------------------------------------------------------------------------------------

void transformer::impl::run(std::span<const runtime::forward_seq> batch) {
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
        if (batch[s].pooled) std::fill_n(batch[s].pooled, std::size_t(c.hidden_size), 0.0f);
        if (ids_s.empty()) continue;
        // No KV cache on this device yet (the runtime only sends whole sequences).
        if (!batch[s].blocks.empty() || batch[s].pos0 != 0)
            throw std::logic_error("cuda forward: this device has no KV cache");
        for (const auto& o : batch[s].outputs)
            if (o.target < 0 || o.greedy)
                throw plugin_sdk::status_error(
                    POLYGLOT_STATUS_UNSUPPORTED,
                    "the cuda backend computes log-probs of given tokens only (no logits, no "
                    "greedy flags yet)");
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

    // Pooling for the sequences that want it (one pooling mode per pass).
    bool any_pool = false;
    model::pooling_mode pooling = model::pooling_mode::mean;
    for (auto s : seqs)
        if (batch[s].pooled) {
            any_pool = true;
            pooling = batch[s].pooling;
        }
    if (any_pool) {
        const int ns = int(seqs.size());
        pooled.reserve(std::size_t(ns) * std::size_t(d) * 4);
        const pool_kind pk = pooling == model::pooling_mode::mean   ? pool_kind::mean
                             : pooling == model::pooling_mode::last ? pool_kind::last
                             : pooling == model::pooling_mode::cls  ? pool_kind::cls
                                                                    : pool_kind::max;
        POLYGLOT_CUDA_CALL(launch_pool(xn.get(), type, int(d), cu.as<std::int32_t>(), ns, pk,
                                       pooled.as<float>(), stream));
        std::vector<float> host(std::size_t(ns) * std::size_t(d));
        POLYGLOT_CUDA_CALL(cudaMemcpyAsync(host.data(), pooled.get(), host.size() * 4,
                                           cudaMemcpyDeviceToHost, stream));
        POLYGLOT_CUDA_CALL(cudaStreamSynchronize(stream));
        for (std::size_t k = 0; k < seqs.size(); ++k)
            if (float* dst = batch[seqs[k]].pooled)
                std::copy_n(host.data() + k * std::size_t(d), std::size_t(d), dst);
    }

    // Log-probs at the requested positions only, in chunks of positions.
    std::vector<std::int32_t> job_rows, job_targets;
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        for (const auto& o : batch[seqs[k]].outputs) {
            job_rows.push_back(cu_host[k] + std::int32_t(o.row));
            job_targets.push_back(o.target);
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
        for (std::size_t k = 0; k < seqs.size(); ++k)
            for (const auto& o : batch[seqs[k]].outputs) {
                const double v = host[at++];
                if (o.logprob) *o.logprob = float(v);
            }
    }
    POLYGLOT_CUDA_CALL(cudaStreamSynchronize(stream));
}

}  // namespace cuda
POLYGLOT_END_NAMESPACE
