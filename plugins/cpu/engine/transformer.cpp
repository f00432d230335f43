// SPDX-License-Identifier: Apache-2.0
#include "engine/transformer.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/blocked_range2d.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <polyglot/core/error.hpp>

#include "common/runtime/weights.hpp"
#include "common/safetensors.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace engine {

namespace {

namespace ck = cpu_kernels;

constexpr std::ptrdiff_t query_block = 64;                   // queries per attention task
constexpr std::ptrdiff_t glu_columns = 64;                   // tokens per gate/up scratch tile
constexpr std::ptrdiff_t mlp_columns = 256;                  // tokens per MLP chunk
constexpr std::size_t logits_budget = std::size_t(1) << 20;  // floats of logits per chunk
// Tokens per pass unless configured: activations take ~(3 hidden + q/k/v) floats per token,
// and the GEMMs read each weight once per pass, so a few hundred tokens already amortise the
// weights; more only costs memory (a bf16 checkpoint scores in ≤ 1.1× its size).
constexpr std::size_t default_pass_tokens = 1024;

/// A column-major activation matrix (`rows` floats per token, tokens as columns) over a
/// buffer that persists across passes: grown when a pass needs more, never cleared (every
/// value a pass reads, it wrote first).
struct act_buf {
    std::ptrdiff_t rows = 0;
    std::unique_ptr<float[]> data;
    std::size_t capacity = 0;
    void resize(std::ptrdiff_t r, std::ptrdiff_t c) {
        rows = r;
        const auto n = std::size_t(r * c);
        if (n > capacity) {
            data.reset(new float[n]);  // uninitialised
            capacity = n;
        }
    }
    float* col(std::ptrdiff_t j) { return data.get() + j * rows; }
    const float* col(std::ptrdiff_t j) const { return data.get() + j * rows; }
};

/// A linear layer: projections stacked row-wise (q/k/v, gate/up), each a weight in its
/// checkpoint dtype, usually read in place from the mapped file.
struct linear {
    std::int64_t out = 0, in = 0;
    std::vector<ck::weights_view> parts;
    std::vector<float> b;  // [out] or empty
};

/// One GEMM task: rows [r0, r0 + nr) of part p (output rows from row0), columns [c0, c0 + nc).
struct gemm_task {
    std::size_t part;
    std::ptrdiff_t row0, r0, nr, c0, nc;
};

/// The tasks of Y = W X over n columns: weight rows in blocks that fit the L2 cache (few
/// columns: smaller blocks, so that every thread streams a share of the weights), columns
/// split only when there are too few row blocks for the threads. Every split gives the same
/// values (cpu_kernels: a per-element order).
std::vector<gemm_task> plan_gemm(const ck::table& K, const linear& l, std::ptrdiff_t n) {
    const auto threads = std::ptrdiff_t(oneapi::tbb::this_task_arena::max_concurrency());
    std::vector<gemm_task> rows;
    std::ptrdiff_t row0 = 0;
    for (std::size_t p = 0; p < l.parts.size(); ++p) {
        const auto& w = l.parts[p];
        std::ptrdiff_t rb = K.gemm_row_block(w.cols, w.type);
        if (n <= 16)
            rb = std::min(rb, std::max<std::ptrdiff_t>(16, (l.out / (4 * threads)) / 16 * 16));
        for (std::ptrdiff_t r0 = 0; r0 < w.rows; r0 += rb)
            rows.push_back({p, row0, r0, std::min(rb, w.rows - r0), 0, n});
        row0 += w.rows;
    }
    const std::ptrdiff_t want = 2 * threads, nrows = std::ptrdiff_t(rows.size());
    if (nrows >= want || n <= 16) return rows;
    const std::ptrdiff_t splits = std::min((want + nrows - 1) / nrows, (n + 15) / 16);
    const std::ptrdiff_t cb = ((n + splits - 1) / splits + 15) / 16 * 16;
    std::vector<gemm_task> out;
    for (const auto& t : rows)
        for (std::ptrdiff_t c0 = 0; c0 < n; c0 += cb)
            out.push_back({t.part, t.row0, t.r0, t.nr, c0, std::min(cb, n - c0)});
    return out;
}

/// Y[:, 0:n) = W X (+ b), or Y += that with @p accumulate.
void matmul(const ck::table& K, const linear& l, const float* x, std::ptrdiff_t ldx,
            std::ptrdiff_t n, float* y, std::ptrdiff_t ldy, bool accumulate = false) {
    const auto tasks = plan_gemm(K, l, n);
    oneapi::tbb::parallel_for(
        oneapi::tbb::blocked_range<std::size_t>(0, tasks.size(), 1),
        [&](const oneapi::tbb::blocked_range<std::size_t>& r) {
            for (auto i = r.begin(); i != r.end(); ++i) {
                const auto& t = tasks[i];
                const std::ptrdiff_t o = t.row0 + t.r0;
                K.gemm(l.parts[t.part].slice(t.r0, t.nr), x + t.c0 * ldx, ldx, t.nc,
                       y + t.c0 * ldy + o, ldy, l.b.empty() ? nullptr : l.b.data() + o, accumulate);
            }
        },
        oneapi::tbb::simple_partitioner());
}

/// act[:, 0:n) = act(gate X + b_g) · (up X + b_u) for a stacked [gate; up] layer, without
/// materialising gate and up: each task keeps a tile of both in scratch.
void matmul_glu(const ck::table& K, const linear& l, ck::glu a, const float* x, std::ptrdiff_t ldx,
                std::ptrdiff_t n, float* out, std::ptrdiff_t ldo) {
    const std::ptrdiff_t inter = l.out / 2;
    // Row blocks of the gate half; the matching up rows go with them.
    linear gate;
    gate.out = inter, gate.in = l.in;
    gate.parts = {l.parts[0]};
    const auto tasks = plan_gemm(K, gate, n);
    const float* bg = l.b.empty() ? nullptr : l.b.data();
    const float* bu = l.b.empty() ? nullptr : l.b.data() + inter;
    oneapi::tbb::parallel_for(
        oneapi::tbb::blocked_range<std::size_t>(0, tasks.size(), 1),
        [&](const oneapi::tbb::blocked_range<std::size_t>& r) {
            for (auto i = r.begin(); i != r.end(); ++i) {
                const auto& t = tasks[i];
                const std::ptrdiff_t nc = std::min(glu_columns, t.nc);
                std::unique_ptr<float[]> g(new float[std::size_t(2 * t.nr * nc)]);
                float* u = g.get() + t.nr * nc;
                const auto wg = l.parts[0].slice(t.r0, t.nr), wu = l.parts[1].slice(t.r0, t.nr);
                for (std::ptrdiff_t c0 = t.c0; c0 < t.c0 + t.nc; c0 += nc) {
                    const std::ptrdiff_t m = std::min(nc, t.c0 + t.nc - c0);
                    K.gemm(wg, x + c0 * ldx, ldx, m, g.get(), t.nr, bg ? bg + t.r0 : nullptr,
                           false);
                    K.gemm(wu, x + c0 * ldx, ldx, m, u, t.nr, bu ? bu + t.r0 : nullptr, false);
                    for (std::ptrdiff_t j = 0; j < m; ++j)
                        K.glu(a, g.get() + j * t.nr, u + j * t.nr, out + (c0 + j) * ldo + t.r0,
                              t.nr);
                }
            }
        },
        oneapi::tbb::simple_partitioner());
}

/// Runs f(j) for every column j in [0, cols) in parallel (column-local work only).
template <class F>
void for_columns(std::ptrdiff_t cols, F&& f) {
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<std::ptrdiff_t>(0, cols, 16),
                              [&](const oneapi::tbb::blocked_range<std::ptrdiff_t>& r) {
                                  for (auto j = r.begin(); j != r.end(); ++j) f(j);
                              });
}

ck::glu glu_of(model::activation a) {
    switch (a) {
        case model::activation::gelu_tanh:
            return ck::glu::gelu_tanh;
        case model::activation::gelu_erf:
            return ck::glu::gelu_erf;
        case model::activation::silu:
            break;
    }
    return ck::glu::silu;
}

}  // namespace

// ---- weights ----------------------------------------------------------------------------------

struct transformer::weights {
    model::model_config cfg;
    model::dtype stored = model::dtype::f32;
    std::size_t params = 0;
    model::weight_set file;  // mapped checkpoint: the weights below point into it
    std::vector<std::unique_ptr<float[]>> widened;  // f64 tensors, or misaligned ones, as f32
    ck::weights_view embed;                         // [vocab, hidden]
    linear lm_head;                                 // no parts when tied (embed is used)
    bool has_head = false;
    std::vector<float> final_norm;
    struct layer {
        std::vector<float> in_norm, post_attn_norm, pre_ff_norm, post_ff_norm, q_norm, k_norm;
        linear qkv, o, gate_up, down;
    };
    std::vector<layer> layers;
    std::vector<float> inv_freq_full, inv_freq_sliding;

    const ck::weights_view& head() const {
        return lm_head.parts.empty() ? embed : lm_head.parts.front();
    }
};

/// Threads, the KV cache and the activation buffers.
struct transformer::state {
    std::unique_ptr<oneapi::tbb::task_arena> arena;
    std::size_t pass_tokens = default_pass_tokens;
    std::size_t blocks = 0;
    // K and V of every layer: [layer][block][kv head], then K^T [head_dim][token in block]
    // and V [token in block][head_dim] (cpu_kernels::attention's layout). Allocated without
    // initialisation, so pages are only committed when blocks are used.
    std::unique_ptr<float[]> k, v;
    std::size_t layer_stride = 0;
    act_buf x, xn, qkv, tmp, act, hs, logits;
    act_buf pass_kv;  // K and V blocks of the pass's uncached sequences (one layer at a time)
    /// Floats of one KV block (K or V) of all KV heads.
    static std::size_t block_stride_of(const model::model_config& c) {
        return std::size_t(c.num_kv_heads * c.head_dim) * block_tokens;
    }

    template <class F>
    void in_arena(F&& f) const {
        if (arena)
            arena->execute(f);
        else
            f();
    }
};

namespace {

struct loader {
    const model::weight_set& ws;
    std::size_t& params;
    std::vector<std::unique_ptr<float[]>>& widened;

    /// The tensor in its stored dtype when the kernels read it (f32, bf16, f16, aligned to its
    /// element), else a widened f32 copy.
    ck::weights_view matrix(const std::string& name, std::int64_t rows, std::int64_t cols) {
        const auto& t = ws.get(name, {rows, cols});
        params += std::size_t(rows * cols);
        const auto addr = reinterpret_cast<std::uintptr_t>(t.data);
        switch (t.type) {
            case model::dtype::f32:
                if (addr % 4 == 0) return {t.data, ck::wtype::f32, rows, cols, cols};
                break;
            case model::dtype::bf16:
                if (addr % 2 == 0) return {t.data, ck::wtype::bf16, rows, cols, cols};
                break;
            case model::dtype::f16:
                if (addr % 2 == 0) return {t.data, ck::wtype::f16, rows, cols, cols};
                break;
            default:
                break;
        }
        widened.emplace_back(new float[std::size_t(rows * cols)]);
        model::to_float(t, widened.back().get());
        return {widened.back().get(), ck::wtype::f32, rows, cols, cols};
    }
    std::vector<float> vector(const std::string& name, std::int64_t n) {
        const auto& t = ws.get(name, {n});
        std::vector<float> v(static_cast<std::size_t>(n));
        model::to_float(t, v.data());
        params += v.size();
        return v;
    }
    std::vector<float> norm(const model::norm_tensor& n) {
        auto v = model::norm_weights(ws, n);
        params += v.size();
        return v;
    }
    std::vector<float> norm(const std::optional<model::norm_tensor>& n) {
        return n ? norm(*n) : std::vector<float>{};
    }
    /// Several projections stacked row-wise into one GEMM.
    linear stacked(const model::linear_tensors& spec) {
        linear l;
        l.in = spec.in;
        for (std::size_t i = 0; i < spec.names.size(); ++i) {
            l.parts.push_back(matrix(spec.names[i] + ".weight", spec.outs[i], spec.in));
            if (spec.bias) {
                auto b = vector(spec.names[i] + ".bias", spec.outs[i]);
                l.b.insert(l.b.end(), b.begin(), b.end());
            }
            l.out += spec.outs[i];
        }
        return l;
    }
};

std::string json_escape(std::string_view s) {
    std::string o;
    for (char ch : s) {
        if (ch == '"' || ch == '\\')
            o += '\\', o += ch;
        else if (static_cast<unsigned char>(ch) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            o += buf;
        } else
            o += ch;
    }
    return o;
}

}  // namespace

transformer::transformer(std::unique_ptr<weights> w, const options& o)
    : w_(std::move(w)), s_(std::make_unique<state>()) {
    if (o.threads > 0) s_->arena = std::make_unique<oneapi::tbb::task_arena>(int(o.threads));
    s_->pass_tokens = o.pass_tokens ? o.pass_tokens : default_pass_tokens;
}
transformer::~transformer() = default;

const model::model_config& transformer::config() const noexcept { return w_->cfg; }
bool transformer::has_lm_head() const noexcept { return w_->has_head; }
std::size_t transformer::parameter_count() const noexcept { return w_->params; }
std::size_t transformer::pass_tokens() const noexcept { return s_->pass_tokens; }
model::dtype transformer::stored_dtype() const noexcept { return w_->stored; }
std::string transformer::weight_dtype() const {
    switch (w_->stored) {
        case model::dtype::bf16:
            return "bf16";
        case model::dtype::f16:
            return "f16";
        case model::dtype::f64:
            return "f64";
        default:
            return "f32";
    }
}

std::string transformer::describe_json() const {
    const int threads =
        s_->arena ? s_->arena->max_concurrency() : oneapi::tbb::this_task_arena::max_concurrency();
    return "\"backend\": \"cpu\", \"device\": \"cpu\", \"threads\": " + std::to_string(threads) +
           ", \"dtype\": \"" + weight_dtype() + "\", \"compute\": \"f32\", \"isa\": \"" +
           std::string(ck::isa_name(ck::kernels().level)) +
           "\", \"parameters\": " + std::to_string(w_->params) + ", \"config\": \"" +
           json_escape(w_->cfg.file.string()) + "\"" +
           (self_test_.empty() ? std::string()
                               : ", \"self_test\": \"" + json_escape(self_test_) + "\"");
}

void transformer::set_self_test(std::string verdict) { self_test_ = std::move(verdict); }

std::size_t transformer::kv_bytes_per_token() const noexcept {
    const auto& c = w_->cfg;
    return std::size_t(2 * c.num_layers * c.num_kv_heads * c.head_dim) * sizeof(float);
}

void transformer::kv_reserve(std::size_t blocks) {
    const auto& c = w_->cfg;
    s_->blocks = blocks;
    s_->layer_stride = state::block_stride_of(c) * blocks;
    const std::size_t n = s_->layer_stride * std::size_t(c.num_layers);
    s_->k.reset(n ? new float[n] : nullptr);
    s_->v.reset(n ? new float[n] : nullptr);
}

void transformer::parallel_for(std::size_t n, const std::function<void(std::size_t)>& f) const {
    s_->in_arena(
        [&] { oneapi::tbb::parallel_for(std::size_t(0), n, [&](std::size_t i) { f(i); }); });
}

void transformer::forward(std::span<const runtime::forward_seq> batch) {
    s_->in_arena([&] { run(batch); });
}

std::unique_ptr<transformer> transformer::load(const std::filesystem::path& dir, const options& o) {
    return create(model::load_model_config(dir), model::weight_set::open(dir), o);
}

std::unique_ptr<transformer> transformer::create(const model::model_config& config,
                                                 const model::weight_set& set, const options& o) {
    auto w = std::make_unique<weights>();
    w->cfg = config;
    const auto& c = w->cfg;
    w->file = set;
    const auto& ws = w->file;
    w->stored = ws.main_dtype();
    const auto layout = model::text_model_layout(c, ws, o.need_lm_head);
    loader ld{ws, w->params, w->widened};
    w->embed = ld.matrix(layout.embed, c.vocab_size, c.hidden_size);
    w->final_norm = ld.norm(layout.final_norm);
    for (const auto& spec : layout.layers)
        w->layers.push_back(model::make_layer<weights::layer>(
            spec, [&](const auto& n) { return ld.norm(n); },
            [&](const model::linear_tensors& l) { return ld.stacked(l); }));
    if (layout.lm_head) w->lm_head = ld.stacked(*layout.lm_head);
    w->has_head = layout.has_head;
    w->inv_freq_full = model::rope_inv_freq(c.rope_full, c.head_dim);
    w->inv_freq_sliding = model::rope_inv_freq(c.rope_sliding, c.head_dim);
    (void)ck::kernels();  // the kernel path is chosen (and POLYGLOT_CPU_ISA checked) at load
    return std::unique_ptr<transformer>(new transformer(std::move(w), o));
}

// ---- forward ----------------------------------------------------------------------------------
//
// One pass in the named steps every device shares (runtime/device.hpp): embed, then per layer
// attention_block and mlp_block, then final_norm, pool and head.

namespace {

/// One forward pass over a packed batch: sequence k occupies columns [start[k], start[k] +
/// len[k]) of the activation matrices.
struct forward_pass {
    forward_pass(const transformer::weights& w, transformer::state& s,
                 std::span<const runtime::forward_seq> b)
        : W(w), S(s), batch(b) {}

    const transformer::weights& W;
    transformer::state& S;
    std::span<const runtime::forward_seq> batch;
    const ck::table& K = ck::kernels();
    const model::model_config& c = W.cfg;
    const std::ptrdiff_t d = c.hidden_size, hd = c.head_dim, H = c.num_heads, KV = c.num_kv_heads;
    const std::ptrdiff_t inter = c.intermediate_size, V = c.vocab_size;
    const float eps = float(c.rms_norm_eps);
    const std::ptrdiff_t B = std::ptrdiff_t(transformer::block_tokens);
    const std::ptrdiff_t half = hd / 2;

    std::vector<std::size_t> seqs;  // the non-empty sequences of the batch
    std::vector<std::ptrdiff_t> start;
    std::ptrdiff_t T = 0;
    std::vector<std::size_t> col_seq;                             // column → sequence
    std::vector<std::ptrdiff_t> pos;                              // column → absolute position
    std::vector<float> cos_full, sin_full, cos_slide, sin_slide;  // [T, hd/2]
    std::vector<std::size_t> kv_block;  // first pass-local KV block of an uncached sequence
    float* pass_k = nullptr;
    float* pass_v = nullptr;
    struct task {  // attention work: (sequence, head, query block)
        std::size_t k;
        std::ptrdiff_t h, q0;
    };
    std::vector<task> tasks;

    bool pack();
    void rope_tables();
    void embed();
    void plan_attention();
    void attention_block(std::size_t li);
    void mlp_block(std::size_t li);
    void final_norm();
    void pool();
    void head();
    // attention_block's parts
    void qkv_rope(std::size_t li, bool sliding);
    void attend(std::size_t li, bool sliding);
};

/// Packs the sequences (checking ids and block tables): false when none has a token.
bool forward_pass::pack() {
    for (std::size_t s = 0; s < batch.size(); ++s) {
        const auto& rq = batch[s];
        if (rq.ids.empty()) continue;
        for (auto id : rq.ids)
            if (std::int64_t(id) >= c.vocab_size)
                throw argument_error("token id " + std::to_string(id) +
                                     " is outside the vocabulary (" + std::to_string(c.vocab_size) +
                                     ") of " + c.file.string());
        if (rq.blocks.empty()) {
            if (rq.pos0 != 0) throw std::logic_error("forward: pos0 > 0 needs KV blocks");
        } else {
            if (rq.blocks.size() * transformer::block_tokens < rq.pos0 + rq.ids.size())
                throw std::logic_error("forward: the block table is too short");
            for (auto b : rq.blocks)
                if (b >= S.blocks) throw std::logic_error("forward: KV block out of range");
            if (c.bidirectional) throw std::logic_error("forward: no KV cache for encoders");
        }
        seqs.push_back(s);
        start.push_back(T);
        T += std::ptrdiff_t(rq.ids.size());
    }
    if (seqs.empty()) return false;
    // Column → (sequence, absolute position).
    col_seq.resize(static_cast<std::size_t>(T));
    pos.resize(static_cast<std::size_t>(T));
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto& rq = batch[seqs[k]];
        for (std::ptrdiff_t i = 0; i < std::ptrdiff_t(rq.ids.size()); ++i) {
            col_seq[std::size_t(start[k] + i)] = k;
            pos[std::size_t(start[k] + i)] = std::ptrdiff_t(rq.pos0) + i;
        }
    }
    return true;
}

/// RoPE cos/sin per column and layer kind [T, hd/2].
void forward_pass::rope_tables() {
    for (auto* t : {&cos_full, &sin_full, &cos_slide, &sin_slide}) t->resize(std::size_t(T * half));
    for_columns(T, [&](std::ptrdiff_t j) {
        const auto o = std::size_t(j * half);
        model::rope_cos_sin(W.inv_freq_full, pos[std::size_t(j)], &cos_full[o], &sin_full[o]);
        model::rope_cos_sin(W.inv_freq_sliding, pos[std::size_t(j)], &cos_slide[o], &sin_slide[o]);
    });
}

/// Embeddings (rows widened from the stored dtype) into x.
void forward_pass::embed() {
    auto& x = S.x;
    x.resize(d, T);
    const float scale = c.scale_embeddings ? float(std::sqrt(double(d))) : 1.0f;
    for_columns(T, [&](std::ptrdiff_t j) {
        const auto k = col_seq[std::size_t(j)];
        const token_id id = batch[seqs[k]].ids[std::size_t(j - start[k])];
        float* o = x.col(j);
        K.widen(W.embed.slice(std::ptrdiff_t(id), 1).data, W.embed.type, o, d);
        if (scale != 1.0f) K.scale(scale, o, d);
    });
}

/// The layers' buffers, the pass-local KV blocks and the attention tasks.
void forward_pass::plan_attention() {
    S.xn.resize(d, T);
    S.qkv.resize((H + 2 * KV) * hd, T);
    if (c.sandwich_norms) S.tmp.resize(d, T);
    S.act.resize(inter, std::min(T, mlp_columns));

    // Keys and values go to KV blocks (cpu_kernels::attention's layout): a cached sequence's
    // to its blocks in the cache, an uncached one's to pass-local blocks of the same layout, so
    // that both take the same attention code. kv_block[k] = first pass-local block of k.
    kv_block.assign(seqs.size(), 0);
    std::size_t pass_blocks = 0;
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto& rq = batch[seqs[k]];
        if (!rq.blocks.empty()) continue;
        kv_block[k] = pass_blocks;
        pass_blocks += (rq.ids.size() + transformer::block_tokens - 1) / transformer::block_tokens;
    }
    S.pass_kv.resize(std::ptrdiff_t(2 * S.block_stride_of(c)), std::ptrdiff_t(pass_blocks));
    pass_k = S.pass_kv.col(0);
    pass_v = pass_k + pass_blocks * S.block_stride_of(c);

    // Attention work: (sequence, head, query block) tasks.
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto n = std::ptrdiff_t(batch[seqs[k]].ids.size());
        for (std::ptrdiff_t h = 0; h < H; ++h)
            for (std::ptrdiff_t q0 = 0; q0 < n; q0 += query_block) tasks.push_back({k, h, q0});
    }
}

/// Input norm, the q/k/v projection, q/k norms and RoPE, per token and head; keys (transposed
/// within their block) and values to the KV blocks.
void forward_pass::qkv_rope(std::size_t li, bool sliding) {
    const auto& L = W.layers[li];
    auto &x = S.x, &xn = S.xn, &qkv = S.qkv;
    const auto& cs = sliding ? cos_slide : cos_full;
    const auto& sn = sliding ? sin_slide : sin_full;
    const std::size_t bstride = S.block_stride_of(c);
    for_columns(
        T, [&](std::ptrdiff_t j) { K.rms_norm(x.col(j), L.in_norm.data(), d, eps, xn.col(j)); });
    matmul(K, L.qkv, xn.col(0), xn.rows, T, qkv.col(0), qkv.rows);
    float* const kc = S.k ? S.k.get() + li * S.layer_stride : nullptr;
    float* const vc = S.v ? S.v.get() + li * S.layer_stride : nullptr;
    for_columns(T, [&](std::ptrdiff_t j) {
        float* col = qkv.col(j);
        const float* cp = cs.data() + j * half;
        const float* sp = sn.data() + j * half;
        for (std::ptrdiff_t h = 0; h < H + KV; ++h) {
            float* v = col + h * hd;
            if (c.qk_norm) K.rms_norm(v, h < H ? L.q_norm.data() : L.k_norm.data(), hd, eps, v);
            for (std::ptrdiff_t i = 0; i < half; ++i) {
                const float a = v[i], b = v[i + half];
                v[i] = a * cp[i] - b * sp[i];
                v[i + half] = b * cp[i] + a * sp[i];
            }
        }
        const auto k = col_seq[std::size_t(j)];
        const auto& rq = batch[seqs[k]];
        const std::ptrdiff_t p = pos[std::size_t(j)];
        float *kb, *vb;
        if (rq.blocks.empty()) {
            const std::size_t blk = kv_block[k] + std::size_t(p / B);
            kb = pass_k + blk * bstride, vb = pass_v + blk * bstride;
        } else {
            const std::size_t blk = rq.blocks[std::size_t(p / B)];
            kb = kc + blk * bstride, vb = vc + blk * bstride;
        }
        const std::ptrdiff_t t = p % B;
        for (std::ptrdiff_t g = 0; g < KV; ++g) {
            const float* kv = col + (H + g) * hd;
            float* kt = kb + g * hd * B;
            for (std::ptrdiff_t e = 0; e < hd; ++e) kt[e * B + t] = kv[e];
            std::copy_n(col + (H + KV + g) * hd, hd, vb + (g * B + t) * hd);
        }
    });
}

/// Attention of every task's queries over their keys in the KV blocks; the outputs replace
/// the queries in qkv.
void forward_pass::attend(std::size_t li, bool sliding) {
    auto& qkv = S.qkv;
    const float attn_scale = float(c.attn_scale);
    const float softcap = c.attn_logit_softcap ? float(*c.attn_logit_softcap) : 0.0f;
    const std::size_t bstride = S.block_stride_of(c);
    const float* const kc = S.k ? S.k.get() + li * S.layer_stride : nullptr;
    const float* const vc = S.v ? S.v.get() + li * S.layer_stride : nullptr;
    const std::ptrdiff_t win = sliding ? c.sliding_window : 0;
    oneapi::tbb::parallel_for(
        oneapi::tbb::blocked_range<std::size_t>(0, tasks.size(), 1),
        [&](const oneapi::tbb::blocked_range<std::size_t>& r) {
            std::vector<std::ptrdiff_t> kbeg, kend;
            std::vector<const float*> kblk, vblk;
            std::vector<float> scratch;
            for (auto ti = r.begin(); ti != r.end(); ++ti) {
                const auto [k, h, q0] = tasks[ti];
                const auto& rq = batch[seqs[k]];
                const auto n = std::ptrdiff_t(rq.ids.size());
                const std::ptrdiff_t g = h / (H / KV), q1 = std::min(n, q0 + query_block);
                const auto P0 = std::ptrdiff_t(rq.pos0);
                // Positions each query attends to.
                kbeg.resize(std::size_t(q1 - q0));
                kend.resize(kbeg.size());
                for (std::ptrdiff_t i = q0; i < q1; ++i) {
                    const std::ptrdiff_t P = P0 + i;
                    std::ptrdiff_t b = 0, e = P + 1;
                    if (c.bidirectional) {  // uncached: the pass holds the sequence
                        e = win > 0 ? std::min(n, P + win) : n;
                        b = win > 0 ? std::max<std::ptrdiff_t>(0, P - win + 1) : 0;
                    } else if (win > 0) {
                        b = std::max<std::ptrdiff_t>(0, P - win + 1);
                    }
                    kbeg[std::size_t(i - q0)] = b, kend[std::size_t(i - q0)] = e;
                }
                const std::ptrdiff_t max_end = *std::max_element(kend.begin(), kend.end());
                const auto nb = std::size_t((max_end + B - 1) / B);
                kblk.resize(nb), vblk.resize(nb);
                for (std::size_t b = 0; b < nb; ++b) {
                    const std::size_t blk = rq.blocks.empty() ? kv_block[k] + b : rq.blocks[b];
                    const float* kbase = rq.blocks.empty() ? pass_k : kc;
                    const float* vbase = rq.blocks.empty() ? pass_v : vc;
                    kblk[b] = kbase + blk * bstride + std::size_t(g * hd * B);
                    vblk[b] = vbase + blk * bstride + std::size_t(g * hd * B);
                }
                scratch.resize(ck::attention_scratch(max_end));
                ck::attention_args a;
                a.hd = hd, a.nq = q1 - q0;
                a.q = qkv.col(start[k] + q0) + h * hd, a.ldq = qkv.rows;
                a.out = const_cast<float*>(a.q), a.ldo = a.ldq;  // over the query
                a.key_begin = kbeg.data(), a.key_end = kend.data();
                a.k_blocks = kblk.data(), a.v_blocks = vblk.data();
                a.scale = attn_scale, a.softcap = softcap;
                a.scratch = scratch.data();
                K.attention(a);
            }
        });
}

/// Input norm, q/k/v with their norms and RoPE, attention, the output projection and the
/// residual add (Gemma 3: post-attention norm first); ends with the pre-MLP norm into xn.
void forward_pass::attention_block(std::size_t li) {
    const auto& L = W.layers[li];
    auto &x = S.x, &xn = S.xn, &qkv = S.qkv, &tmp = S.tmp;
    const bool sliding = c.layer_types[li] == model::attention_kind::sliding;
    qkv_rope(li, sliding);
    attend(li, sliding);
    // Output projection (of the attention outputs, which replaced the queries in qkv); the
    // residual add fused into the GEMM (Y += W X) unless Gemma 3's sandwich norms come first.
    if (c.sandwich_norms) {
        matmul(K, L.o, qkv.col(0), qkv.rows, T, tmp.col(0), tmp.rows);
        for_columns(T, [&](std::ptrdiff_t j) {
            float* t = tmp.col(j);
            K.rms_norm(t, L.post_attn_norm.data(), d, eps, t);
            K.add(t, x.col(j), d);
            K.rms_norm(x.col(j), L.pre_ff_norm.data(), d, eps, xn.col(j));
        });
    } else {
        matmul(K, L.o, qkv.col(0), qkv.rows, T, x.col(0), x.rows, true);
        for_columns(T, [&](std::ptrdiff_t j) {
            K.rms_norm(x.col(j), L.pre_ff_norm.data(), d, eps, xn.col(j));
        });
    }
}

/// The gated MLP of xn and the residual add (Gemma 3: post-MLP norm first). The MLP is per
/// token: in column chunks, so that its widest activation (act) takes mlp_columns tokens, not
/// the pass.
void forward_pass::mlp_block(std::size_t li) {
    const auto& L = W.layers[li];
    auto &x = S.x, &xn = S.xn, &tmp = S.tmp, &act = S.act;
    for (std::ptrdiff_t c0 = 0; c0 < T; c0 += mlp_columns) {
        const std::ptrdiff_t m = std::min(mlp_columns, T - c0);
        matmul_glu(K, L.gate_up, glu_of(c.act), xn.col(c0), xn.rows, m, act.col(0), act.rows);
        if (c.sandwich_norms) {
            matmul(K, L.down, act.col(0), act.rows, m, tmp.col(c0), tmp.rows);
            for_columns(m, [&](std::ptrdiff_t j) {
                float* t = tmp.col(c0 + j);
                K.rms_norm(t, L.post_ff_norm.data(), d, eps, t);
                K.add(t, x.col(c0 + j), d);
            });
        } else {
            matmul(K, L.down, act.col(0), act.rows, m, x.col(c0), x.rows, true);
        }
    }
}

/// Final norm (into xn).
void forward_pass::final_norm() {
    auto &x = S.x, &xn = S.xn;
    for_columns(
        T, [&](std::ptrdiff_t j) { K.rms_norm(x.col(j), W.final_norm.data(), d, eps, xn.col(j)); });
}

/// Pooling (uncached sequences: the pass holds all their tokens).
void forward_pass::pool() {
    const auto& xn = S.xn;
    oneapi::tbb::parallel_for(std::size_t(0), seqs.size(), [&](std::size_t k) {
        const auto& rq = batch[seqs[k]];
        if (!rq.pooled || !rq.blocks.empty()) return;
        const auto n = std::ptrdiff_t(rq.ids.size());
        const std::ptrdiff_t base = start[k];
        switch (rq.pooling) {
            case model::pooling_mode::mean:
                for (std::ptrdiff_t i = 0; i < d; ++i) {
                    double s = 0;
                    for (std::ptrdiff_t t = 0; t < n; ++t) s += xn.col(base + t)[i];
                    rq.pooled[i] = float(s / double(n));
                }
                break;
            case model::pooling_mode::last:
                std::copy_n(xn.col(base + n - 1), d, rq.pooled);
                break;
            case model::pooling_mode::cls:
                std::copy_n(xn.col(base), d, rq.pooled);
                break;
            case model::pooling_mode::max:
                for (std::ptrdiff_t i = 0; i < d; ++i) {
                    float m = -std::numeric_limits<float>::infinity();
                    for (std::ptrdiff_t t = 0; t < n; ++t) m = std::max(m, xn.col(base + t)[i]);
                    rq.pooled[i] = m;
                }
                break;
        }
    });
}

/// Output projection only at the rows asked for, then soft-capping and the requested
/// results (log-probs, greedy flags or full logits).
void forward_pass::head() {
    struct head_job {
        std::ptrdiff_t col;
        const runtime::output_request* rq;
    };
    std::vector<head_job> jobs;
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        const auto& rq = batch[seqs[k]];
        for (const auto& o : rq.outputs) {
            if (o.row >= rq.ids.size()) throw std::logic_error("forward: output row out of range");
            jobs.push_back({start[k] + std::ptrdiff_t(o.row), &o});
        }
    }
    if (jobs.empty()) return;
    if (!W.has_head)
        throw unsupported_error(c.file.string() + ": the model has no output projection (lm_head)");
    // Chunks of columns, ≤ logits_budget floats of logits each.
    const std::ptrdiff_t chunk = std::clamp<std::ptrdiff_t>(
        std::ptrdiff_t(logits_budget) / std::max<std::ptrdiff_t>(V, 1), 8, 256);
    auto &xn = S.xn, &hs = S.hs, &logits = S.logits;
    linear proj;
    proj.out = V, proj.in = d;
    proj.parts = {W.head()};
    for (std::size_t j0 = 0; j0 < jobs.size(); j0 += std::size_t(chunk)) {
        const auto nj = std::ptrdiff_t(std::min(jobs.size() - j0, std::size_t(chunk)));
        hs.resize(d, nj);
        for (std::ptrdiff_t j = 0; j < nj; ++j)
            std::copy_n(xn.col(jobs[j0 + std::size_t(j)].col), d, hs.col(j));
        logits.resize(V, nj);
        matmul(K, proj, hs.col(0), hs.rows, nj, logits.col(0), logits.rows);
        for_columns(nj, [&](std::ptrdiff_t j) {
            const runtime::output_request& o = *jobs[j0 + std::size_t(j)].rq;
            float* l = logits.col(j);
            if (c.final_logit_softcap) {
                const float cap = float(*c.final_logit_softcap);
                for (std::ptrdiff_t i = 0; i < V; ++i) l[i] = std::tanh(l[i] / cap) * cap;
            }
            if (o.target < 0) {
                if (o.logits) std::copy_n(l, V, o.logits);
                return;
            }
            if (std::int64_t(o.target) >= V)
                throw std::logic_error("forward: target id out of range");
            if (o.logprob)
                *o.logprob = runtime::log_softmax_at(l, std::size_t(V), std::size_t(o.target));
            if (o.greedy) *o.greedy = l[o.target] >= K.max(l, std::size_t(V)) ? 1 : 0;
        });
    }
}

}  // namespace

void transformer::run(std::span<const runtime::forward_seq> batch) {
    forward_pass f{*w_, *s_, batch};
    if (!f.pack()) return;
    f.rope_tables();
    f.embed();
    f.plan_attention();
    for (std::size_t li = 0; li < w_->layers.size(); ++li) {
        f.attention_block(li);
        f.mlp_block(li);
    }
    f.final_norm();
    f.pool();
    f.head();
}

}  // namespace engine
POLYGLOT_END_NAMESPACE
