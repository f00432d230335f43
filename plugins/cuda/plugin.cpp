// SPDX-License-Identifier: Apache-2.0
// The cuda backend plugin: Hugging Face model directories (Llama, Qwen2, Qwen3, Gemma 3 text;
// sentence-transformers pipelines for embeddings) on an NVIDIA GPU. SCORE, SCORE_IDS, EMBED,
// TOKENIZE and DETOKENIZE are the shared runtime's (plugins/common/runtime: tokenization,
// truncation, what is scored, batching); this plugin supplies the device part,
// engine.{hpp,cpp} + kernels.cu. GENERATE needs a KV cache on the device (a later issue): until
// then the model reports it unsupported with that reason. Without a usable device the plugin
// reports score 0 and the reason (unusable_reason), so `--backend auto` skips it.
//
// Safety net: before it reports itself usable the plugin runs the shared known-answer self-test
// (common/runtime/self_test.hpp) on its device against the double-precision reference, and again
// at each model load for that model's architecture path, head size and compute type. A failure
// scores 0 / refuses the model with the numbers, so `--backend auto` falls back to cpu.
//
// Extensions (get_proc_address, no ABI bump): "polyglot_cuda_score_ids_v1" scores token ids
// directly (benchmarks compare against Hugging Face on identical ids; see score_ids_v1 below);
// POLYGLOT_SELF_TEST_PROC gives the self-test verdict (`polyglot backends` shows it).
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/plugin.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "common/plugin_config.hpp"
#include "common/runtime/lm_runtime.hpp"
#include "common/runtime/self_test.hpp"
#include "device.hpp"
#include "engine.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cuda {

// ---- device probe (declared in device.hpp)
// -------------------------------------------------------

std::string device_refusal(int index) {
    cudaDeviceProp prop{};
    if (const cudaError_t err = cudaGetDeviceProperties(&prop, index); err != cudaSuccess) {
        (void)cudaGetLastError();
        return "CUDA device " + std::to_string(index) +
               " could not be queried: " + cudaGetErrorString(err);
    }
    if (prop.major >= 8) return {};
    return "CUDA device " + std::to_string(index) + " (" + prop.name + ") has compute capability " +
           std::to_string(prop.major) + "." + std::to_string(prop.minor) +
           "; the cuda plugin needs 8.0 (Ampere) or newer";
}

const probe_result& probe() {
    static const probe_result r = [] {
        probe_result p;
        int n = 0;
        const cudaError_t err = cudaGetDeviceCount(&n);
        if (err != cudaSuccess) {
            (void)cudaGetLastError();
            p.reason = std::string("no CUDA device: ") + cudaGetErrorString(err);
            return p;
        }
        p.device_count = n;
        if (n == 0) {
            p.reason = "no CUDA device: the runtime reports 0 devices";
            return p;
        }
        std::string first_refusal;
        for (int i = 0; i < n; ++i) {
            if (auto why = device_refusal(i); why.empty()) {
                if (p.usable_devices++ == 0) p.first_usable = i;
            } else if (first_refusal.empty()) {
                first_refusal = std::move(why);
            }
        }
        if (p.usable_devices == 0) p.reason = first_refusal;
        return p;
    }();
    return r;
}

namespace {

// ---- config -------------------------------------------------------------------------------------

/// The cuda plugin's own config keys (the runtime reads its keys itself: parse_options).
struct request {
    std::filesystem::path path;
    std::string dtype;  // "" | f32 | f16 | bf16
    std::size_t batch_tokens = 0;
    std::size_t threads = 0;
    int device = 0;
    bool tf32 = false;
    bool tensor_cores = true;
};

/// "tensor_cores" | "cuda_cores" (@p what names the source in errors).
bool parse_attention(std::string_view v, const char* what) {
    if (v == "tensor_cores") return true;
    if (v == "cuda_cores") return false;
    throw argument_error(std::string(what) + " must be \"tensor_cores\" or \"cuda_cores\", not '" +
                         std::string(v) + "'");
}

/// The attention kernel when the config does not say: $POLYGLOT_CUDA_ATTENTION, else tensor
/// cores. The environment also decides for the process's self-test (a way to run on a GPU
/// where the tensor-core kernel fails its self-test: docs/cuda.md).
bool default_tensor_cores() {
    const char* e = std::getenv("POLYGLOT_CUDA_ATTENTION");
    return e && *e ? parse_attention(e, "POLYGLOT_CUDA_ATTENTION") : true;
}

request parse_request(std::string_view config_json) {
    simdjson::dom::parser parser;
    simdjson::dom::object obj = ::polyglot::model::parse_config(parser, config_json);
    request r;
    r.path = ::polyglot::model::config_string(obj, "model");
    if (r.path.empty()) throw argument_error("config: 'model' (a model directory) is required");
    r.dtype = ::polyglot::model::config_string(obj, "dtype");
    r.batch_tokens = ::polyglot::model::config_size(obj, "batch_tokens", 0);
    r.threads = ::polyglot::model::config_size(obj, "threads", 0);
    r.device = static_cast<int>(::polyglot::model::config_size(obj, "device", 0));
    r.tf32 = ::polyglot::model::config_bool(obj, "tf32", false);
    const std::string att = ::polyglot::model::config_string(obj, "attention");
    r.tensor_cores =
        att.empty() ? default_tensor_cores() : parse_attention(att, "config: 'attention'");
    return r;
}

// ---- the self-test (plugins/common/runtime/self_test.hpp) -------------------------------------

namespace st = runtime::self_test;

model::dtype model_dtype(elem_type t) {
    return t == elem_type::f32   ? model::dtype::f32
           : t == elem_type::f16 ? model::dtype::f16
                                 : model::dtype::bf16;
}

/// Builds this plugin's device for a known-answer model, in @p compute on @p device.
st::device_factory factory(elem_type compute, int device, bool tf32, bool tensor_cores) {
    return [=](const st::known_model& m) -> std::unique_ptr<runtime::device_model> {
        load_options lo;
        lo.dtype = elem_name(compute);
        lo.device = device;
        lo.batch_tokens = 4096;
        lo.tf32 = tf32;
        lo.tensor_cores = tensor_cores;
        return transformer::create(m.config, m.weights, lo);
    };
}

/// TF32 GEMMs round their inputs to 10-bit mantissas, as f16 storage does: the f16 limits.
st::tolerance tolerance_for(elem_type compute, bool tf32) {
    return st::tolerance_for(tf32 && compute == elem_type::f32 ? model::dtype::f16
                                                               : model_dtype(compute));
}

/// The plugin's verdict, run once per process on the first usable device before the plugin
/// reports itself usable: every architecture path in f32 (head size 64) and bf16 (head size
/// 128). A failure makes the score 0, so `--backend auto` never picks the plugin.
const st::plugin_verdict& verdict() {
    static const st::plugin_verdict v([] {
        const int dev = probe().first_usable;
        st::result r = st::run_all(64, model::dtype::f32,
                                   factory(elem_type::f32, dev, false, default_tensor_cores()),
                                   tolerance_for(elem_type::f32, false));
        r.append(st::run_all(128, model::dtype::bf16,
                             factory(elem_type::bf16, dev, false, default_tensor_cores()),
                             tolerance_for(elem_type::bf16, false)));
        return r;
    });
    return v;
}

/// The verdict extension (abi.h POLYGLOT_SELF_TEST_PROC): without a usable device the test is
/// skipped, and says why.
const char* self_test_json() noexcept {
    try {
        if (!probe().reason.empty()) {
            static const std::string skipped = [] {
                io::json_writer w;
                w.begin_object();
                w.kv("status", "skipped").kv("summary", "skipped: " + probe().reason);
                w.end_object();
                return w.take();
            }();
            return skipped.c_str();
        }
        return verdict().json();
    } catch (...) {
        return nullptr;
    }
}

// ---- the model: the shared runtime over this plugin's device part ------------------------------

std::unique_ptr<plugin_sdk::model> create(std::string_view config_json) {
    const request r = parse_request(config_json);
    const auto& pr = probe();
    if (!pr.reason.empty())
        throw plugin_sdk::status_error(POLYGLOT_STATUS_DEVICE_ERROR,
                                       "cuda backend unusable here: " + pr.reason);
    if (r.device < 0 || r.device >= pr.device_count)
        throw argument_error("config: 'device' " + std::to_string(r.device) + " does not exist (" +
                             std::to_string(pr.device_count) + " CUDA devices)");
    // The probe counts the usable devices; the one asked for must be one of them.
    if (auto why = device_refusal(r.device); !why.empty())
        throw plugin_sdk::status_error(
            POLYGLOT_STATUS_DEVICE_ERROR,
            "cuda backend cannot use config 'device' " + std::to_string(r.device) + ": " + why);
    if (!verdict().passed())
        throw plugin_sdk::status_error(POLYGLOT_STATUS_DEVICE_ERROR,
                                       "cuda backend unusable here: " + verdict().reason());
    std::error_code ec;
    if (!std::filesystem::is_directory(r.path, ec))
        throw io_error("model '" + r.path.string() +
                       "': not a directory (the cuda plugin loads Hugging Face model directories)");
    const runtime::options o = runtime::parse_options(config_json);
    load_options lo;
    lo.dtype = r.dtype;
    lo.device = r.device;
    lo.batch_tokens = r.batch_tokens;
    lo.threads = r.threads;
    lo.tf32 = r.tf32;
    lo.tensor_cores = r.tensor_cores;
    auto rt = runtime::lm_runtime::open(r.path, o, [&](const std::filesystem::path& dir) {
        auto dev = transformer::load(dir, lo);
        // At load: the known-answer model closest to this one (its architecture path and head
        // size), in its compute type, on its device; a mismatch refuses the model with the
        // numbers (and `--backend auto` falls back to the next plugin).
        const elem_type ct = dev->compute_type();
        const auto res = st::run_for(dev->config(), model_dtype(ct),
                                     factory(ct, r.device, lo.tf32, lo.tensor_cores),
                                     tolerance_for(ct, lo.tf32));
        if (!res.passed())
            throw plugin_sdk::status_error(
                POLYGLOT_STATUS_DEVICE_ERROR,
                "cuda backend: the known-answer self-test for this model's architecture (" +
                    std::string(elem_name(ct)) + " on cuda:" + std::to_string(r.device) +
                    ") failed, so its numbers cannot be trusted: " + res.summary());
        dev->set_self_test(res.summary());
        return dev;
    });
    return runtime::make_plugin_model(std::move(rt));
}

// ---- extension: score token ids
// ------------------------------------------------------------------

/// "polyglot_cuda_score_ids_v1": n sequences of token ids, sequence i = ids[offsets[i],
/// offsets[i + 1]) (offsets: n + 1 entries); logprobs (offsets[n] doubles, caller-owned) gets
/// log p(ids[p] | ids[< p]) at every position p ≥ max(score_from[i], 1) of sequence i and NaN
/// elsewhere. score_from may be NULL (= 0). Returns a polyglot_status; the message is read with
/// the table's last_error.
polyglot_status score_ids_v1(polyglot_model_t m, const std::int32_t* ids,
                             const std::uint64_t* offsets, const std::uint64_t* score_from,
                             std::uint64_t n, double* logprobs) noexcept {
    POLYGLOT_PLUGIN_GUARD(
        if (!m || !m->impl) throw plugin_sdk::status_error(POLYGLOT_STATUS_INVALID_ARGUMENT,
                                                           "model is NULL");
        if (n > 0 && (!ids || !offsets || !logprobs)) throw plugin_sdk::status_error(
            POLYGLOT_STATUS_INVALID_ARGUMENT, "score_ids: ids, offsets or logprobs is NULL");
        if (n == 0) return POLYGLOT_STATUS_OK; if (offsets[0] != 0) throw plugin_sdk::status_error(
            POLYGLOT_STATUS_INVALID_ARGUMENT, "score_ids: offsets[0] must be 0");
        for (std::uint64_t i = 0; i < n; ++i) if (offsets[i + 1] < offsets[i]) throw plugin_sdk::
            status_error(POLYGLOT_STATUS_INVALID_ARGUMENT, "score_ids: offsets must not decrease");
        // The ABI's SCORE_IDS (the runtime's), widened to double.
        const polyglot_id_batch batch{sizeof(polyglot_id_batch), ids, offsets[n], offsets, n};
        std::vector<std::uint64_t> from(n, 0);
        if (score_from) from.assign(score_from, score_from + n);
        std::vector<float> lp(offsets[n], std::numeric_limits<float>::quiet_NaN());
        m->impl->score_ids(plugin_sdk::id_batch_view(batch), from.data(), lp.data(), nullptr,
                           plugin_sdk::call_context());
        for (std::uint64_t p = 0; p < offsets[n]; ++p) logprobs[p] = double(lp[p]);
        return POLYGLOT_STATUS_OK;)
}

// ---- plugin description
// ---------------------------------------------------------------------------

std::vector<polyglot_device_info> devices() {
    std::vector<polyglot_device_info> out;
    const auto& pr = probe();
    for (int i = 0; i < pr.device_count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
        polyglot_device_info d{};
        d.struct_size = sizeof d;
        d.type = POLYGLOT_DEVICE_GPU;
        d.memory_total = prop.totalGlobalMem;
        std::snprintf(d.name, sizeof d.name, "cuda:%d", i);
        const std::string desc = std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                                 std::to_string(prop.minor) + ")";
        plugin_sdk::detail::copy_message(desc.c_str(), d.description, sizeof d.description);
        out.push_back(d);
    }
    return out;
}

void* get_proc(const char* name) {
    if (std::string_view(name) == "polyglot_cuda_score_ids_v1")
        return reinterpret_cast<void*>(&score_ids_v1);
    if (std::string_view(name) == POLYGLOT_SELF_TEST_PROC)
        return reinterpret_cast<void*>(&self_test_json);
    return nullptr;
}

}  // namespace

const plugin_sdk::plugin_description& describe() {
    static const plugin_sdk::plugin_description d = [] {
        plugin_sdk::plugin_description x;
        x.name = "cuda";
        x.version = POLYGLOT_VERSION_STRING;
        x.description =
            "NVIDIA GPU backend (CUDA, cuBLAS): Hugging Face Llama / Qwen2 / Qwen3 / Gemma 3 "
            "text models in bf16, f16 or f32; SCORE, SCORE_IDS and EMBED";
        // GENERATE joins when the device part has a KV cache.
        x.caps = POLYGLOT_CAP_EMBED | POLYGLOT_CAP_TOKENIZE | POLYGLOT_CAP_SCORE;
        x.create = &create;
        // Preferred over cpu (1) by --backend auto when a usable device exists and passed the
        // self-test (run here, once per process, on the first such device).
        x.score = [] {
            return probe().usable_devices > 0 && verdict().passed() ? std::int32_t{100}
                                                                    : std::int32_t{0};
        };
        x.devices = &devices;
        x.get_proc_address = &get_proc;
        x.unusable_reason = [] {
            return !probe().reason.empty() ? probe().reason.c_str() : verdict().reason().c_str();
        };
        return x;
    }();
    return d;
}

}  // namespace cuda
POLYGLOT_END_NAMESPACE

POLYGLOT_PLUGIN(polyglot::cuda::describe);
