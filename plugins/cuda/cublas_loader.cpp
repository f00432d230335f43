// SPDX-License-Identifier: Apache-2.0
/// @file cuBLAS loaded on first use, not with the plugin. Linking libcublas makes every
/// dlopen of the plugin map and relocate libcublas + libcublasLt (~150 MB of resident memory,
/// never given back: the libraries cannot be unloaded), and `--backend auto` opens every
/// plugin to ask whether it is usable, so a CPU-only run would pay that for nothing (a bf16
/// checkpoint scored on the cpu backend peaked at 1.47x its file size instead of 0.93x).
/// The few entry points the plugin calls are defined here with cuBLAS's own signatures and
/// forward to the library, dlopen'ed by its soname (found through the plugin's RUNPATH or
/// LD_LIBRARY_PATH) when the first model is created on a device.
#include <cublas_v2.h>
#include <dlfcn.h>

#include <string>

#define POLYGLOT_CUBLAS_STR2(x) #x
#define POLYGLOT_CUBLAS_STR(x) POLYGLOT_CUBLAS_STR2(x)

namespace {

constexpr const char* soname = "libcublas.so." POLYGLOT_CUBLAS_STR(CUBLAS_VER_MAJOR);

struct library {
    void* handle = nullptr;
    std::string error;  // why it could not be loaded
};

const library& cublas() {
    static const library lib = [] {
        library l;
        l.handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!l.handle) {
            const char* e = dlerror();
            l.error = std::string("cannot load ") + soname + ": " + (e ? e : "unknown error");
        }
        return l;
    }();
    return lib;
}

/// The library's @p name as a pointer of type F; nullptr when cuBLAS or the symbol is missing.
template <class F>
F resolve(const char* name) {
    const library& l = cublas();
    return l.handle ? reinterpret_cast<F>(dlsym(l.handle, name)) : nullptr;
}

}  // namespace

// cublas_v2.h maps cublasCreate, cublasDestroy and cublasSetStream to their _v2 symbols.
extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
    static const auto f = resolve<decltype(&cublasCreate_v2)>("cublasCreate_v2");
    return f ? f(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
    static const auto f = resolve<decltype(&cublasDestroy_v2)>("cublasDestroy_v2");
    return f ? f(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
    static const auto f = resolve<decltype(&cublasSetStream_v2)>("cublasSetStream_v2");
    return f ? f(handle, stream) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    static const auto f = resolve<decltype(&cublasSetMathMode)>("cublasSetMathMode");
    return f ? f(handle, mode) : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
    using fn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                  int, const void*, const void*, cudaDataType, int, const void*,
                                  cudaDataType, int, const void*, void*, cudaDataType, int,
                                  cublasComputeType_t, cublasGemmAlgo_t);
    static const auto f = resolve<fn>("cublasGemmEx");
    return f ? f(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C,
                 Ctype, ldc, computeType, algo)
             : CUBLAS_STATUS_NOT_INITIALIZED;
}

const char* cublasGetStatusName(cublasStatus_t status) {
    static const auto f = resolve<decltype(&cublasGetStatusName)>("cublasGetStatusName");
    return f ? f(status) : "CUBLAS_STATUS_NOT_INITIALIZED";
}

const char* cublasGetStatusString(cublasStatus_t status) {
    static const auto f = resolve<decltype(&cublasGetStatusString)>("cublasGetStatusString");
    return f ? f(status) : cublas().error.c_str();
}

}  // extern "C"
