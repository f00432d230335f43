// SPDX-License-Identifier: Apache-2.0
// Path selection (cpuid, POLYGLOT_CPU_ISA) and the runtime's log-softmax. Compiled for the
// baseline: it only reads cpuid and calls through the selected table.
#include "common/cpu_kernels/kernels.hpp"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <polyglot/core/error.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace cpu_kernels {

const table& kernels_sse2() noexcept;
const table& kernels_avx2() noexcept;
const table& kernels_avx512() noexcept;

std::string_view isa_name(isa i) noexcept {
    switch (i) {
        case isa::sse2:
            return "sse2";
        case isa::avx2:
            return "avx2";
        case isa::avx512:
            return "avx512";
    }
    return "?";
}

// __builtin_cpu_supports reads cpuid and, for AVX and AVX-512, checks with XGETBV that the OS
// saves the registers (libgcc's cpuinfo).
bool isa_supported(isa i) noexcept {
    __builtin_cpu_init();
    switch (i) {
        case isa::sse2:
            return true;
        case isa::avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("f16c");
        case isa::avx512:
            return isa_supported(isa::avx2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vl");
    }
    return false;
}

isa best_isa() noexcept {
    isa best = isa::sse2;
    for (isa i : all_isas)
        if (isa_supported(i)) best = i;
    return best;
}

std::string cpu_features() {
    __builtin_cpu_init();
    std::string s;
    auto add = [&](const char* name, bool has) {
        if (!has) return;
        if (!s.empty()) s += ' ';
        s += name;
    };
    add("sse2", true);
    add("avx2", __builtin_cpu_supports("avx2"));
    add("fma", __builtin_cpu_supports("fma"));
    add("f16c", __builtin_cpu_supports("f16c"));
    add("avx512f", __builtin_cpu_supports("avx512f"));
    add("avx512bw", __builtin_cpu_supports("avx512bw"));
    add("avx512dq", __builtin_cpu_supports("avx512dq"));
    add("avx512vl", __builtin_cpu_supports("avx512vl"));
    add("avx512bf16", __builtin_cpu_supports("avx512bf16"));
    add("avx512vnni", __builtin_cpu_supports("avx512vnni"));
    return s;
}

const table& kernels_for(isa i) noexcept {
    switch (i) {
        case isa::avx512:
            return kernels_avx512();
        case isa::avx2:
            return kernels_avx2();
        case isa::sse2:
            break;
    }
    return kernels_sse2();
}

namespace {

std::atomic<const table*> active{nullptr};

const table& from_environment() {
    const char* env = std::getenv("POLYGLOT_CPU_ISA");
    if (!env || !*env) return kernels_for(best_isa());
    const std::string_view want(env);
    for (isa i : all_isas)
        if (isa_name(i) == want) {
            if (!isa_supported(i))
                throw argument_error("POLYGLOT_CPU_ISA=" + std::string(want) +
                                     ": this CPU lacks it (it has: " + cpu_features() + ")");
            return kernels_for(i);
        }
    throw argument_error("POLYGLOT_CPU_ISA=" + std::string(want) +
                         ": unknown instruction-set path (sse2, avx2, avx512)");
}

}  // namespace

const table& kernels() {
    if (const table* t = active.load(std::memory_order_acquire)) return *t;
    const table* t = &from_environment();
    const table* expected = nullptr;
    active.compare_exchange_strong(expected, t, std::memory_order_acq_rel);
    return *active.load(std::memory_order_acquire);
}

void force_isa(isa i) {
    if (!isa_supported(i))
        throw argument_error("force_isa: this CPU lacks " + std::string(isa_name(i)));
    active.store(&kernels_for(i), std::memory_order_release);
}

float log_softmax_at(const float* logits, std::size_t n, std::size_t target) {
    const table& k = kernels();
    const float mx = k.max(logits, n);
    const double sum = k.sum_exp(logits, n, mx);
    return float(double(logits[target]) - double(mx) - std::log(sum));
}

}  // namespace cpu_kernels
POLYGLOT_END_NAMESPACE
