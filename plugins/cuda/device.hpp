// SPDX-License-Identifier: Apache-2.0
/// @file Checked CUDA / cuBLAS calls and owning device buffers for the cuda plugin. Every failing
/// call becomes a plugin_sdk::status_error (DEVICE_ERROR, or OUT_OF_MEMORY for allocation
/// failures) whose message names the call, the source line and the runtime's own words; the
/// generated ABI glue turns it into a status + last_error, so nothing crosses the boundary.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <polyglot/plugin/plugin.hpp>
#include <string>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* call, const char* file,
                                     int line);

/// Checks a cudaError_t-returning expression.
#define POLYGLOT_CUDA_CALL(expr)                                                          \
    do {                                                                                  \
        const cudaError_t polyglot_err_ = (expr);                                         \
        if (polyglot_err_ != cudaSuccess)                                                 \
            ::polyglot::cuda::throw_cuda_error(polyglot_err_, #expr, __FILE__, __LINE__); \
    } while (0)

/// Checks a cublasStatus_t-returning expression.
#define POLYGLOT_CUBLAS_CALL(expr)                                                         \
    do {                                                                                   \
        const cublasStatus_t polyglot_st_ = (expr);                                        \
        if (polyglot_st_ != CUBLAS_STATUS_SUCCESS)                                         \
            ::polyglot::cuda::throw_cublas_error(polyglot_st_, #expr, __FILE__, __LINE__); \
    } while (0)

/// An owning, growable CUDA allocation of @p Memory (device_memory: cudaMalloc;
/// pinned_memory: page-locked host memory, the only host memory the plugin copies to or from
/// the device asynchronously — pageable memory would make every cudaMemcpyAsync a staged,
/// host-synchronous copy). Move-only; freeing errors are ignored (a destructor must not throw,
/// and the context may already be torn down at exit).
template <class Memory>
class cuda_buffer {
  public:
    cuda_buffer() = default;
    explicit cuda_buffer(std::size_t bytes) { reserve(bytes); }
    ~cuda_buffer() { release(); }
    cuda_buffer(cuda_buffer&& o) noexcept
        : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    cuda_buffer& operator=(cuda_buffer&& o) noexcept {
        if (this != &o) {
            release();
            ptr_ = std::exchange(o.ptr_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    cuda_buffer(const cuda_buffer&) = delete;
    cuda_buffer& operator=(const cuda_buffer&) = delete;

    /// Makes the buffer at least @p bytes large; the contents are lost when it grows (between
    /// passes only: no copy in flight still uses it).
    void reserve(std::size_t bytes) {
        if (bytes <= size_) return;
        release();
        void* p = nullptr;
        POLYGLOT_CUDA_CALL(Memory::allocate(&p, bytes));
        ptr_ = p;
        size_ = bytes;
    }
    void release() noexcept {
        if (ptr_) Memory::free(ptr_);
        ptr_ = nullptr;
        size_ = 0;
    }
    [[nodiscard]] void* get() const noexcept { return ptr_; }
    [[nodiscard]] char* data() const noexcept { return static_cast<char*>(ptr_); }
    template <class T>
    [[nodiscard]] T* as() const noexcept {
        return static_cast<T*>(ptr_);
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return ptr_ == nullptr; }

  private:
    void* ptr_ = nullptr;
    std::size_t size_ = 0;
};

struct device_memory {
    static cudaError_t allocate(void** p, std::size_t n) { return cudaMalloc(p, n); }
    static void free(void* p) noexcept { (void)cudaFree(p); }
};
struct pinned_memory {
    static cudaError_t allocate(void** p, std::size_t n) { return cudaMallocHost(p, n); }
    static void free(void* p) noexcept { (void)cudaFreeHost(p); }
};
using device_buffer = cuda_buffer<device_memory>;
using pinned_buffer = cuda_buffer<pinned_memory>;

/// Why CUDA device @p index cannot run the plugin ("" when it can): compute capability below
/// 8.0 (bf16 arithmetic and the kernels' warp intrinsics need Ampere or newer; CUDA 13 builds
/// no older code), or a device that cannot be queried. The probe and `create` both ask this.
std::string device_refusal(int index);

/// What the plugin found when it probed the machine (cached, probed once per process).
struct probe_result {
    int device_count = 0;    ///< devices the runtime reports
    int usable_devices = 0;  ///< devices of compute capability ≥ 8.0
    int first_usable = -1;   ///< the first of them (the self-test's device)
    std::string reason;      ///< why unusable ("" when usable)
};
const probe_result& probe();

}  // namespace cuda
POLYGLOT_END_NAMESPACE
