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

/// An owning, growable device allocation (cudaMalloc). Move-only; freeing errors are ignored
/// (a destructor must not throw, and the context may already be torn down at exit).
class device_buffer {
  public:
    device_buffer() = default;
    explicit device_buffer(std::size_t bytes) { reserve(bytes); }
    ~device_buffer() { release(); }
    device_buffer(device_buffer&& o) noexcept
        : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    device_buffer& operator=(device_buffer&& o) noexcept {
        if (this != &o) {
            release();
            ptr_ = std::exchange(o.ptr_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;

    /// Makes the buffer at least @p bytes large; the contents are lost when it grows.
    void reserve(std::size_t bytes) {
        if (bytes <= size_) return;
        release();
        void* p = nullptr;
        POLYGLOT_CUDA_CALL(cudaMalloc(&p, bytes));
        ptr_ = p;
        size_ = bytes;
    }
    void release() noexcept {
        if (ptr_) (void)cudaFree(ptr_);
        ptr_ = nullptr;
        size_ = 0;
    }
    [[nodiscard]] void* get() const noexcept { return ptr_; }
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

/// An owning, growable page-locked host allocation (cudaMallocHost): the only host memory the
/// plugin copies to or from the device asynchronously (pageable memory would make every
/// cudaMemcpyAsync a staged, host-synchronous copy). Move-only, like device_buffer.
class pinned_buffer {
  public:
    pinned_buffer() = default;
    ~pinned_buffer() { release(); }
    pinned_buffer(pinned_buffer&& o) noexcept
        : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    pinned_buffer& operator=(pinned_buffer&& o) noexcept {
        if (this != &o) {
            release();
            ptr_ = std::exchange(o.ptr_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    pinned_buffer(const pinned_buffer&) = delete;
    pinned_buffer& operator=(const pinned_buffer&) = delete;

    /// Makes the buffer at least @p bytes large; the contents are lost when it grows. The
    /// caller makes sure no copy in flight still uses it (it grows between passes only).
    void reserve(std::size_t bytes) {
        if (bytes <= size_) return;
        release();
        void* p = nullptr;
        POLYGLOT_CUDA_CALL(cudaMallocHost(&p, bytes));
        ptr_ = p;
        size_ = bytes;
    }
    void release() noexcept {
        if (ptr_) (void)cudaFreeHost(ptr_);
        ptr_ = nullptr;
        size_ = 0;
    }
    [[nodiscard]] char* data() const noexcept { return static_cast<char*>(ptr_); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

  private:
    void* ptr_ = nullptr;
    std::size_t size_ = 0;
};

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
