// SPDX-License-Identifier: Apache-2.0
#include "engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
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

/// @p s as a JSON string literal (quotes and escapes).
std::string json_string(std::string_view s) {
    io::json_writer w;
    w.value(s);
    return w.take();
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

/// Byte layout of one pass's index arrays in a single host/device buffer (one upload).
struct in_layout {
    std::size_t ids = 0, pos = 0, cu = 0, tiles = 0, rows = 0, targets = 0, total = 0;
};
std::size_t align16(std::size_t n) { return (n + 15) & ~std::size_t(15); }

/// Byte layout of one pass's results in one page-locked buffer (one synchronisation).
struct out_layout {
    std::size_t pooled = 0, lp = 0, greedy = 0, full = 0, total = 0;
};

/// One pass's packing: the non-empty sequences back to back, and their index arrays on the
/// device.
struct packed_pass {
    std::vector<std::size_t> seqs, lens;
    std::size_t T = 0, max_len = 0, n_jobs = 0, n_full = 0;
    std::size_t nj = 0;  // output requests: n_jobs log-probs + n_full full-logits rows
    bool any_pool = false;
    model::pooling_mode pooling = model::pooling_mode::mean;
    std::vector<std::int32_t> cu_host;
    std::vector<plan::attention_tile> tiles_host;
    const std::int32_t *ids_d = nullptr, *pos_d = nullptr, *cu_d = nullptr;
    const plan::attention_tile* tiles_d = nullptr;
    const std::int32_t *rows_d = nullptr, *targets_d = nullptr;
    out_layout O;
};

}  // namespace

// ---- weights and workspace
// -----------------------------------------------------------------------

struct transformer::impl {
    model::model_config cfg;
    elem_type type = elem_type::f32;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    bool tf32 = false;
    bool tensor_cores = true;  // attention kernel for bf16 / f16
    int device = 0;
    std::size_t threads = 0;
    std::size_t params = 0;
    std::size_t budget = 0;
    std::size_t logit_budget = 0;
    std::string self_test;  // the verdict of the self-test run at load ("" = not run)
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;

    device_buffer embedding;  // [vocab, hidden]
    dev_linear lm_head;       // w empty when tied
    bool has_head = false;
    device_buffer final_norm;
    struct layer {
        device_buffer in_norm, post_attn_norm, pre_ff_norm, post_ff_norm, q_norm, k_norm;
        dev_linear qkv, o, gate_up, down;
    };
    std::vector<layer> layers;
    device_buffer inv_freq_full, inv_freq_sliding;
    // RoPE cos/sin tables [rope_len, head_dim / 2], built at load and grown only when a pass
    // holds a longer sequence.
    device_buffer cos_full, sin_full, cos_slide, sin_slide;
    std::size_t rope_len = 0;

    // Workspace (grown on demand, kept between calls).
    device_buffer x, xn, qkv, attn, tmp, gu, act;
    device_buffer in;  // the pass's index arrays (one upload): ids, pos, cu, tiles, jobs
    device_buffer hs, logits, lp, greedy, pooled;
    pinned_buffer host_in, host_out;  // page-locked mirrors of the per-pass uploads / downloads

    // Load-time upload staging: two page-locked chunks used in turn (an event says when the
    // copy from one is done), and a device chunk for dtype conversion.
    static constexpr std::size_t stage_bytes = std::size_t(32) << 20;
    pinned_buffer stage[2];
    cudaEvent_t stage_done[2] = {nullptr, nullptr};
    int stage_next = 0;
    device_buffer convert;

    ~impl() {
        for (auto e : stage_done)
            if (e) (void)cudaEventDestroy(e);
        if (blas) (void)cublasDestroy(blas);
        if (stream) (void)cudaStreamDestroy(stream);
    }

    const void* head_w() const { return lm_head.w.empty() ? embedding.get() : lm_head.w.get(); }

    // -- uploads: everything on the compute stream (stream-ordered with the kernels), through
    //    page-locked chunks; load() synchronises once at the end --
    /// Copies @p n bytes from pageable host memory to the device, asynchronously.
    void stage_copy(void* dst, const void* src, std::size_t n) {
        for (std::size_t off = 0; off < n; off += stage_bytes) {
            const std::size_t m = std::min(stage_bytes, n - off);
            const int i = stage_next;
            stage_next ^= 1;
            if (!stage_done[i])
                POLYGLOT_CUDA_CALL(
                    cudaEventCreateWithFlags(&stage_done[i], cudaEventDisableTiming));
            POLYGLOT_CUDA_CALL(cudaEventSynchronize(stage_done[i]));  // chunk i is free again
            stage[i].reserve(stage_bytes);
            std::memcpy(stage[i].data(), static_cast<const char*>(src) + off, m);
            POLYGLOT_CUDA_CALL(cudaMemcpyAsync(static_cast<char*>(dst) + off, stage[i].data(), m,
                                               cudaMemcpyHostToDevice, stream));
            POLYGLOT_CUDA_CALL(cudaEventRecord(stage_done[i], stream));
        }
    }
    /// Uploads @p t into @p dst (t.numel() elements of type @p to).
    void upload(const model::tensor_view& t, elem_type to, void* dst) {
        const std::size_t n = std::size_t(t.numel());
        if (same_type(t.type, to)) {
            stage_copy(dst, t.data, t.nbytes);
            return;
        }
        std::vector<float> host(n);
        model::to_float(t, host.data());
        upload_f32(host.data(), n, to, dst);
    }
    void upload_f32(const float* host, std::size_t n, elem_type to, void* dst) {
        if (to == elem_type::f32) {
            stage_copy(dst, host, n * sizeof(float));
            return;
        }
        // Chunk by chunk through the device conversion buffer (stream order keeps a chunk's
        // conversion ahead of the next chunk's copy into the same buffer).
        const std::size_t per = stage_bytes / sizeof(float);
        convert.reserve(stage_bytes);
        for (std::size_t off = 0; off < n; off += per) {
            const std::size_t m = std::min(per, n - off);
            stage_copy(convert.get(), host + off, m * sizeof(float));
            POLYGLOT_CUDA_CALL(launch_convert(
                convert.as<float>(), static_cast<char*>(dst) + off * elem_size(to), to, m, stream));
        }
    }
    device_buffer f32_vector(const std::vector<float>& v) {
        device_buffer b(std::max<std::size_t>(v.size(), 1) * sizeof(float));
        stage_copy(b.get(), v.data(), v.size() * sizeof(float));
        return b;
    }

    /// Makes the RoPE tables cover positions [0, len).
    void ensure_rope(std::size_t len) {
        if (len <= rope_len) return;
        const std::size_t n = std::max({len, 2 * rope_len, std::size_t(4096)});
        const std::size_t half = std::size_t(cfg.head_dim / 2);
        for (auto* b : {&cos_full, &sin_full, &cos_slide, &sin_slide}) b->reserve(n * half * 4);
        POLYGLOT_CUDA_CALL(launch_rope_table(inv_freq_full.as<float>(), int(n), int(half),
                                             cos_full.as<float>(), sin_full.as<float>(), stream));
        POLYGLOT_CUDA_CALL(launch_rope_table(inv_freq_sliding.as<float>(), int(n), int(half),
                                             cos_slide.as<float>(), sin_slide.as<float>(), stream));
        rope_len = n;
    }

    // -- GEMM: Y[rows, out] = X[rows, in] · W[out, in]ᵀ (row-major), f32 accumulation --
    void gemm(const void* w, elem_type wt, const void* xin, elem_type xt, void* y, elem_type yt,
              std::int64_t rows, std::int64_t out, std::int64_t in) {
        if (rows == 0) return;
        const float alpha = 1.0f, beta = 0.0f;
        POLYGLOT_CUBLAS_CALL(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, int(out), int(rows),
                                          int(in), &alpha, w, cuda_type(wt), int(in), xin,
                                          cuda_type(xt), int(in), &beta, y, cuda_type(yt), int(out),
                                          compute, CUBLAS_GEMM_DEFAULT));
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
    }

    // -- one forward pass, in the named steps every device shares (runtime/device.hpp) --
    void run(std::span<const runtime::forward_seq> batch);
    bool pack(std::span<const runtime::forward_seq> batch, packed_pass& p) const;
    void upload_indices(std::span<const runtime::forward_seq> batch, packed_pass& p);
    void embed(const packed_pass& p);
    attention_args attention_setup(const packed_pass& p) const;
    void attention_block(std::size_t li, const packed_pass& p, attention_args& aa);
    void mlp_block(std::size_t li, const packed_pass& p);
    void pool(const packed_pass& p);
    void head(std::span<const runtime::forward_seq> batch, const packed_pass& p);
    void deliver(std::span<const runtime::forward_seq> batch, const packed_pass& p) const;
};

transformer::transformer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
transformer::~transformer() = default;

const model::model_config& transformer::config() const noexcept { return impl_->cfg; }
elem_type transformer::compute_type() const noexcept { return impl_->type; }
bool transformer::has_lm_head() const noexcept { return impl_->has_head; }
std::size_t transformer::parameter_count() const noexcept { return impl_->params; }
std::size_t transformer::token_budget() const noexcept { return impl_->budget; }
int transformer::device() const noexcept { return impl_->device; }
void transformer::set_self_test(std::string verdict) { impl_->self_test = std::move(verdict); }

std::unique_ptr<transformer> transformer::load(const std::filesystem::path& dir,
                                               const load_options& opts) {
    auto ws = model::weight_set::open(dir);
    return create(model::load_model_config(dir), ws, opts);
}

std::unique_ptr<transformer> transformer::create(const model::model_config& config,
                                                 const model::weight_set& ws,
                                                 const load_options& opts) {
    auto p = std::make_unique<impl>();
    impl& w = *p;
    w.cfg = config;
    const auto& c = w.cfg;

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
    // f32 models: CUBLAS_COMPUTE_32F with the default math mode never uses TF32 (the parity
    // path); "tf32": true opts in to TF32 tensor cores (10-bit mantissa inputs, f32
    // accumulation). 16-bit models use tensor cores with f32 accumulation either way.
    POLYGLOT_CUBLAS_CALL(cublasSetMathMode(w.blas, CUBLAS_DEFAULT_MATH));
    w.tf32 = opts.tf32 && w.type == elem_type::f32;
    w.tensor_cores = opts.tensor_cores && w.type != elem_type::f32 && c.head_dim % 16 == 0;
    w.compute = w.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;

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

    tensor_into(layout.embed, {c.vocab_size, d}, w.type, w.embedding);
    w.final_norm = norm(layout.final_norm);
    for (const auto& spec : layout.layers)
        w.layers.push_back(model::make_layer<impl::layer>(spec, norm, stacked));
    if (layout.lm_head) w.lm_head = stacked(*layout.lm_head);
    w.has_head = layout.has_head;
    w.inv_freq_full = w.f32_vector(model::rope_inv_freq(c.rope_full, hd));
    w.inv_freq_sliding = w.f32_vector(model::rope_inv_freq(c.rope_sliding, hd));
    w.ensure_rope(std::size_t(std::clamp<std::int64_t>(c.max_position_embeddings, 1, 8192)));
    // The one synchronisation of the load: every upload and conversion is done.
    POLYGLOT_CUDA_CALL(cudaStreamSynchronize(w.stream));
    w.convert.release();
    for (auto& b : w.stage) b.release();

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
           ", \"token_budget\": " + std::to_string(impl_->budget) +
           // A report's backend identity reads "compute" first: TF32 GEMMs are not f32 ones.
           (impl_->tf32 ? ", \"tf32\": true, \"compute\": \"f32+tf32\"" : ", \"tf32\": false") +
           ", \"attention\": \"" + (impl_->tensor_cores ? "tensor_cores" : "cuda_cores") + "\"" +
           (impl_->self_test.empty() ? std::string()
                                     : ", \"self_test\": " + json_string(impl_->self_test));
}

// ---- forward ------------------------------------------------------------------------------------
//
// One pass in the named steps every device shares (runtime/device.hpp): embed, then per layer
// attention_block and mlp_block, then pool and head. The norms are fused into the residual
// adds: embed ends with the first layer's input norm, attention_block with the pre-MLP norm,
// mlp_block with the next layer's input norm — the last one's with the final norm.

/// Packs the non-empty sequences back to back (checking ids; zeroing pooled outputs): false
/// when none has a token.
bool transformer::impl::pack(std::span<const runtime::forward_seq> batch, packed_pass& p) const {
    const auto& c = cfg;
    const std::int64_t V = c.vocab_size;
    for (std::size_t s = 0; s < batch.size(); ++s) {
        const auto& ids_s = batch[s].ids;
        if (batch[s].pooled) std::fill_n(batch[s].pooled, std::size_t(c.hidden_size), 0.0f);
        if (ids_s.empty()) continue;
        // No KV cache on this device yet (the runtime only sends whole sequences).
        if (!batch[s].blocks.empty() || batch[s].pos0 != 0)
            throw std::logic_error("cuda forward: this device has no KV cache");
        for (auto id : ids_s)
            if (std::int64_t(id) >= V)
                throw argument_error("token id " + std::to_string(id) +
                                     " is outside the vocabulary (" + std::to_string(V) + ") of " +
                                     c.file.string());
        for (const auto& o : batch[s].outputs) (o.target >= 0 ? p.n_jobs : p.n_full) += 1;
        if (batch[s].pooled) {
            p.any_pool = true;  // one pooling mode per pass
            p.pooling = batch[s].pooling;
        }
        p.seqs.push_back(s);
        p.lens.push_back(ids_s.size());
        p.T += ids_s.size();
        p.max_len = std::max(p.max_len, ids_s.size());
    }
    if (p.seqs.empty()) return false;
    p.cu_host = plan::cu_seqlens(p.lens);
    p.tiles_host = plan::attention_tiles(p.cu_host, attention_tile_queries);
    p.nj = p.n_jobs + p.n_full;
    if (p.nj > 0 && !has_head)
        throw unsupported_error(c.file.string() + ": the model has no output projection (lm_head)");
    return true;
}

/// The index arrays, written straight into the page-locked buffer and uploaded at once.
void transformer::impl::upload_indices(std::span<const runtime::forward_seq> batch,
                                       packed_pass& p) {
    const std::size_t T = p.T, nj = p.nj;
    const auto& cu_host = p.cu_host;
    const auto& tiles_host = p.tiles_host;
    in_layout L;
    L.ids = 0;
    L.pos = align16(L.ids + T * 4);
    L.cu = align16(L.pos + T * 4);
    L.tiles = align16(L.cu + cu_host.size() * 4);
    L.rows = align16(L.tiles + tiles_host.size() * sizeof(plan::attention_tile));
    L.targets = align16(L.rows + nj * 4);
    L.total = align16(L.targets + nj * 4);
    host_in.reserve(L.total);
    in.reserve(L.total);
    {
        char* h = host_in.data();
        auto* ids_h = reinterpret_cast<std::int32_t*>(h + L.ids);
        auto* pos_h = reinterpret_cast<std::int32_t*>(h + L.pos);
        auto* rows_h = reinterpret_cast<std::int32_t*>(h + L.rows);
        auto* targets_h = reinterpret_cast<std::int32_t*>(h + L.targets);
        std::size_t at = 0, j = 0;
        for (std::size_t k = 0; k < p.seqs.size(); ++k) {
            const auto& sq = batch[p.seqs[k]];
            for (std::size_t i = 0; i < sq.ids.size(); ++i, ++at) {
                ids_h[at] = std::int32_t(sq.ids[i]);
                pos_h[at] = std::int32_t(i);
            }
            for (const auto& o : sq.outputs) {
                rows_h[j] = cu_host[k] + std::int32_t(o.row);
                targets_h[j] = o.target;
                ++j;
            }
        }
        std::memcpy(h + L.cu, cu_host.data(), cu_host.size() * 4);
        std::memcpy(h + L.tiles, tiles_host.data(),
                    tiles_host.size() * sizeof(plan::attention_tile));
    }
    POLYGLOT_CUDA_CALL(
        cudaMemcpyAsync(in.get(), host_in.data(), L.total, cudaMemcpyHostToDevice, stream));
    const char* dev_in = static_cast<const char*>(in.get());
    p.ids_d = reinterpret_cast<const std::int32_t*>(dev_in + L.ids);
    p.pos_d = reinterpret_cast<const std::int32_t*>(dev_in + L.pos);
    p.cu_d = reinterpret_cast<const std::int32_t*>(dev_in + L.cu);
    p.tiles_d = reinterpret_cast<const plan::attention_tile*>(dev_in + L.tiles);
    p.rows_d = reinterpret_cast<const std::int32_t*>(dev_in + L.rows);
    p.targets_d = reinterpret_cast<const std::int32_t*>(dev_in + L.targets);
}

/// Embeddings into x, and the first layer's input norm into xn.
void transformer::impl::embed(const packed_pass& p) {
    const auto& c = cfg;
    const std::int64_t d = c.hidden_size;
    const float eps = float(c.rms_norm_eps);
    const int rows = int(p.T);
    const float emb_scale = c.scale_embeddings ? float(std::sqrt(double(d))) : 1.0f;
    POLYGLOT_CUDA_CALL(launch_embed(p.ids_d, rows, embedding.get(), type, int(d), emb_scale,
                                    x.as<float>(), stream));
    POLYGLOT_CUDA_CALL(launch_rms_norm(x.as<float>(), rows, int(d), layers[0].in_norm.as<float>(),
                                       eps, xn.get(), type, stream));
}

/// The attention kernel's arguments that hold for every layer of the pass.
attention_args transformer::impl::attention_setup(const packed_pass& p) const {
    const auto& c = cfg;
    attention_args aa;
    aa.qkv = qkv.get();
    aa.out = attn.get();
    aa.type = type;
    aa.cu_seqlens = p.cu_d;
    aa.tiles = p.tiles_d;
    aa.n_tiles = int(p.tiles_host.size());
    aa.heads = int(c.num_heads);
    aa.kv_heads = int(c.num_kv_heads);
    aa.head_dim = int(c.head_dim);
    aa.scale = float(c.attn_scale);
    aa.softcap = c.attn_logit_softcap ? float(*c.attn_logit_softcap) : 0.0f;
    aa.bidirectional = c.bidirectional;
    aa.tensor_cores = tensor_cores;
    return aa;
}

/// The q/k/v projection of xn, q/k norms and RoPE, attention, the output projection, the
/// residual add (Gemma 3: post-attention norm first) and the pre-MLP norm into xn.
void transformer::impl::attention_block(std::size_t li, const packed_pass& p, attention_args& aa) {
    const auto& c = cfg;
    const std::int64_t d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const float eps = float(c.rms_norm_eps);
    const int rows = int(p.T);
    const auto& Ly = layers[li];
    const bool sliding = c.layer_types[li] == model::attention_kind::sliding;
    linear(Ly.qkv, xn, qkv, rows);
    POLYGLOT_CUDA_CALL(launch_qk_norm_rope(
        qkv.get(), type, rows, int(H), int(KV), int(hd), p.pos_d,
        (sliding ? cos_slide : cos_full).as<float>(), (sliding ? sin_slide : sin_full).as<float>(),
        c.qk_norm ? Ly.q_norm.as<float>() : nullptr, c.qk_norm ? Ly.k_norm.as<float>() : nullptr,
        eps, stream));
    aa.window = sliding ? int(c.sliding_window) : 0;
    POLYGLOT_CUDA_CALL(launch_attention(aa, stream));
    linear(Ly.o, attn, tmp, rows);
    POLYGLOT_CUDA_CALL(launch_add_norm(x.as<float>(), tmp.get(), type, rows, int(d),
                                       c.sandwich_norms ? Ly.post_attn_norm.as<float>() : nullptr,
                                       Ly.pre_ff_norm.as<float>(), eps, xn.get(), stream));
}

/// The gated MLP of xn, the residual add (Gemma 3: post-MLP norm first) and the next layer's
/// input norm (after the last layer: the final norm) into xn.
void transformer::impl::mlp_block(std::size_t li, const packed_pass& p) {
    const auto& c = cfg;
    const std::int64_t d = c.hidden_size, inter = c.intermediate_size;
    const float eps = float(c.rms_norm_eps);
    const int rows = int(p.T);
    const auto& Ly = layers[li];
    const act_kind ak = c.act == model::activation::silu        ? act_kind::silu
                        : c.act == model::activation::gelu_tanh ? act_kind::gelu_tanh
                                                                : act_kind::gelu_erf;
    linear(Ly.gate_up, xn, gu, rows);
    POLYGLOT_CUDA_CALL(launch_act_mul(gu.get(), type, rows, int(inter), ak, act.get(), stream));
    linear(Ly.down, act, tmp, rows);
    const float* next =
        li + 1 < layers.size() ? layers[li + 1].in_norm.as<float>() : final_norm.as<float>();
    POLYGLOT_CUDA_CALL(launch_add_norm(x.as<float>(), tmp.get(), type, rows, int(d),
                                       c.sandwich_norms ? Ly.post_ff_norm.as<float>() : nullptr,
                                       next, eps, xn.get(), stream));
}

/// Pooled final hidden states (one pooling mode per pass) into the results buffer.
void transformer::impl::pool(const packed_pass& p) {
    if (!p.any_pool) return;
    const std::int64_t d = cfg.hidden_size;
    const int ns = int(p.seqs.size());
    pooled.reserve(std::size_t(ns) * std::size_t(d) * 4);
    const pool_kind pk = p.pooling == model::pooling_mode::mean   ? pool_kind::mean
                         : p.pooling == model::pooling_mode::last ? pool_kind::last
                         : p.pooling == model::pooling_mode::cls  ? pool_kind::cls
                                                                  : pool_kind::max;
    POLYGLOT_CUDA_CALL(
        launch_pool(xn.get(), type, int(d), p.cu_d, ns, pk, pooled.as<float>(), stream));
    POLYGLOT_CUDA_CALL(cudaMemcpyAsync(host_out.data() + p.O.pooled, pooled.get(),
                                       std::size_t(ns) * std::size_t(d) * 4, cudaMemcpyDeviceToHost,
                                       stream));
}

/// Logits at the requested rows only, in chunks of rows; full-logits rows are copied out
/// chunk by chunk (the chunk buffer is reused, stream order keeps the copy first).
void transformer::impl::head(std::span<const runtime::forward_seq> batch, const packed_pass& p) {
    const std::size_t nj = p.nj;
    if (nj == 0) return;
    const auto& c = cfg;
    const std::int64_t d = c.hidden_size, V = c.vocab_size;
    char* hout = host_out.data();
    const std::size_t chunk = plan::logit_rows_per_chunk(std::size_t(V), logit_budget, 8192);
    const std::size_t rows_c = std::min(chunk, nj);
    lp.reserve(nj * 4);
    greedy.reserve(nj);
    hs.reserve(rows_c * std::size_t(d) * elem_size(type));
    logits.reserve(rows_c * std::size_t(V) * 4);
    const float cap = c.final_logit_softcap ? float(*c.final_logit_softcap) : 0.0f;
    // Host-side: which jobs want full logits, in order.
    std::vector<std::size_t> full_jobs;
    {
        std::size_t j = 0;
        for (auto s : p.seqs)
            for (const auto& o : batch[s].outputs) {
                if (o.target < 0) full_jobs.push_back(j);
                ++j;
            }
    }
    std::size_t next_full = 0;
    for (std::size_t j0 = 0; j0 < nj; j0 += rows_c) {
        const std::size_t m = std::min(rows_c, nj - j0);
        POLYGLOT_CUDA_CALL(
            launch_gather_rows(xn.get(), type, int(d), p.rows_d + j0, int(m), hs.get(), stream));
        gemm(head_w(), type, hs.get(), type, logits.get(), elem_type::f32, std::int64_t(m), V, d);
        POLYGLOT_CUDA_CALL(launch_log_softmax_rows(logits.as<float>(), int(m), int(V),
                                                   p.targets_d + j0, cap, lp.as<float>() + j0,
                                                   greedy.as<std::uint8_t>() + j0, stream));
        for (; next_full < full_jobs.size() && full_jobs[next_full] < j0 + m; ++next_full)
            POLYGLOT_CUDA_CALL(
                cudaMemcpyAsync(hout + p.O.full + next_full * std::size_t(V) * 4,
                                logits.as<float>() + (full_jobs[next_full] - j0) * std::size_t(V),
                                std::size_t(V) * 4, cudaMemcpyDeviceToHost, stream));
    }
    POLYGLOT_CUDA_CALL(
        cudaMemcpyAsync(hout + p.O.lp, lp.get(), nj * 4, cudaMemcpyDeviceToHost, stream));
    POLYGLOT_CUDA_CALL(
        cudaMemcpyAsync(hout + p.O.greedy, greedy.get(), nj, cudaMemcpyDeviceToHost, stream));
}

/// The results, from the page-locked buffer (after the pass's synchronisation) to the
/// requests.
void transformer::impl::deliver(std::span<const runtime::forward_seq> batch,
                                const packed_pass& p) const {
    const std::int64_t d = cfg.hidden_size, V = cfg.vocab_size;
    const char* hout = host_out.data();
    const out_layout& O = p.O;
    if (p.any_pool)
        for (std::size_t k = 0; k < p.seqs.size(); ++k)
            if (float* dst = batch[p.seqs[k]].pooled)
                std::memcpy(dst, hout + O.pooled + k * std::size_t(d) * 4, std::size_t(d) * 4);
    std::size_t j = 0, f = 0;
    for (auto s : p.seqs)
        for (const auto& o : batch[s].outputs) {
            if (o.target >= 0) {
                if (o.logprob) std::memcpy(o.logprob, hout + O.lp + j * 4, 4);
                if (o.greedy) *o.greedy = static_cast<std::uint8_t>(hout[O.greedy + j]);
            } else {
                if (o.logits)
                    std::memcpy(o.logits, hout + O.full + f * std::size_t(V) * 4,
                                std::size_t(V) * 4);
                ++f;
            }
            ++j;
        }
}

void transformer::impl::run(std::span<const runtime::forward_seq> batch) {
    POLYGLOT_CUDA_CALL(cudaSetDevice(device));
    packed_pass p;
    if (!pack(batch, p)) return;
    upload_indices(batch, p);
    reserve_workspace(p.T);
    ensure_rope(p.max_len);

    embed(p);
    attention_args aa = attention_setup(p);
    for (std::size_t li = 0; li < layers.size(); ++li) {
        attention_block(li, p, aa);
        mlp_block(li, p);
    }
    // xn now holds the final-normed hidden states.

    // Results land in one page-locked buffer: pooled states, log-probs, greedy flags, full
    // logits rows; one stream synchronisation at the end.
    const std::size_t d = std::size_t(cfg.hidden_size), V = std::size_t(cfg.vocab_size);
    out_layout& O = p.O;
    O.pooled = 0;
    O.lp = align16(O.pooled + (p.any_pool ? p.seqs.size() * d * 4 : 0));
    O.greedy = align16(O.lp + p.nj * 4);
    O.full = align16(O.greedy + p.nj);
    O.total = O.full + p.n_full * V * 4;
    host_out.reserve(std::max<std::size_t>(O.total, 16));

    pool(p);
    head(batch, p);
    // The one synchronisation of the pass (the stream's, never the device's).
    POLYGLOT_CUDA_CALL(cudaStreamSynchronize(stream));
    deliver(batch, p);
}

}  // namespace cuda
POLYGLOT_END_NAMESPACE
