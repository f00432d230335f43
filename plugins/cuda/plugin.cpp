// SPDX-License-Identifier: Apache-2.0
// The cuda backend plugin: Hugging Face model directories (Llama, Qwen2, Qwen3, Gemma 3 text;
// sentence-transformers pipelines for embeddings) on an NVIDIA GPU. SCORE, SCORE_IDS, EMBED,
// TOKENIZE and DETOKENIZE are the shared runtime's (plugins/common/runtime: tokenization,
// truncation, what is scored, batching); this plugin supplies the device part,
// engine.{hpp,cpp} + kernels.cu. GENERATE needs a KV cache on the device (a later issue): until
// then the model reports it unsupported with that reason. Without a usable device the plugin
// reports score 0 and the reason (unusable_reason), so `--backend auto` skips it.
//
// Extension (get_proc_address, no ABI bump): "polyglot_cuda_score_ids_v1" scores token ids
// directly (benchmarks compare against Hugging Face on identical ids); see score_ids_v1 below.
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/plugin.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <vector>

#include "common/plugin_config.hpp"
#include "common/runtime/lm_runtime.hpp"
#include "device.hpp"
#include "engine.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace cuda {

// ---- device probe (declared in device.hpp)
// -------------------------------------------------------

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
        std::string too_old;
        for (int i = 0; i < n; ++i) {
            cudaDeviceProp prop{};
            if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
            if (prop.major >= 8) {
                ++p.usable_devices;
            } else if (too_old.empty()) {
                too_old = "CUDA device " + std::to_string(i) + " (" + prop.name +
                          ") has compute capability " + std::to_string(prop.major) + "." +
                          std::to_string(prop.minor) + "; the cuda plugin needs 8.0 or newer";
            }
        }
        if (p.usable_devices == 0)
            p.reason = too_old.empty() ? "no CUDA device could be queried" : too_old;
        return p;
    }();
    return r;
}

namespace {

// ---- config -------------------------------------------------------------------------------------

struct request {
    bool parse_special = false;
    std::filesystem::path path;
    std::string pooling;  // "" | mean | last
    std::string dtype;    // "" | f32 | f16 | bf16
    std::size_t max_tokens = 16384;
    std::size_t batch_tokens = 0;
    std::size_t threads = 0;
    int device = 0;
};

using ::polyglot::model::config_size;
using ::polyglot::model::config_string;

request parse_request(std::string_view config_json) {
    simdjson::dom::parser parser;
    simdjson::dom::object obj = ::polyglot::model::parse_config(parser, config_json);
    request r;
    r.path = config_string(obj, "model");
    if (r.path.empty()) throw argument_error("config: 'model' (a model directory) is required");
    r.pooling = config_string(obj, "pooling");
    if (!r.pooling.empty() && r.pooling != "mean" && r.pooling != "last")
        throw argument_error("config: 'pooling' must be \"mean\" or \"last\", not '" + r.pooling +
                             "'");
    r.dtype = config_string(obj, "dtype");
    r.max_tokens = config_size(obj, "max_tokens", r.max_tokens);
    r.batch_tokens = config_size(obj, "batch_tokens", 0);
    r.threads = config_size(obj, "threads", 0);
    r.device = static_cast<int>(config_size(obj, "device", 0));
    r.parse_special = ::polyglot::model::config_bool(obj, "parse_special", false);
    return r;
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
    std::error_code ec;
    if (!std::filesystem::is_directory(r.path, ec))
        throw io_error("model '" + r.path.string() +
                       "': not a directory (the cuda plugin loads Hugging Face model directories)");
    runtime::options o;
    o.pooling = r.pooling;
    o.max_tokens = r.max_tokens;
    o.pass_tokens = r.batch_tokens;
    o.parse_special = r.parse_special;
    load_options lo;
    lo.dtype = r.dtype;
    lo.device = r.device;
    lo.batch_tokens = r.batch_tokens;
    lo.threads = r.threads;
    auto rt = runtime::lm_runtime::open(
        r.path, o, [&](const std::filesystem::path& dir) { return transformer::load(dir, lo); });
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
    return nullptr;
}

}  // namespace

const plugin_sdk::plugin_description& describe() {
    static const plugin_sdk::plugin_description d{
        .name = "cuda",
        .version = POLYGLOT_VERSION_STRING,
        .description =
            "NVIDIA GPU backend (CUDA, cuBLAS): Hugging Face Llama / Qwen2 / Qwen3 / "
            "Gemma 3 text models in bf16, f16 or f32; SCORE and EMBED",
        .caps = POLYGLOT_CAP_EMBED | POLYGLOT_CAP_TOKENIZE | POLYGLOT_CAP_SCORE,
        .create = &create,
        // Preferred over cpu (1) by --backend auto when a usable device exists.
        .score = [] { return probe().usable_devices > 0 ? std::int32_t{100} : std::int32_t{0}; },
        .devices = &devices,
        .get_proc_address = &get_proc,
        .unusable_reason = [] { return probe().reason.c_str(); },
    };
    return d;
}

}  // namespace cuda
POLYGLOT_END_NAMESPACE

POLYGLOT_PLUGIN(polyglot::cuda::describe);
