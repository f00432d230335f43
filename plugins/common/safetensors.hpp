// SPDX-License-Identifier: Apache-2.0
/// @file Memory-mapped safetensors files and Hugging Face weight sets (one `model.safetensors`
/// or a sharded `model.safetensors.index.json`). Every structural check happens at open time,
/// so a tensor_view handed out always lies inside its mapped file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

enum class dtype { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean };

/// "F32", "BF16", ... as safetensors spells them.
[[nodiscard]] std::string_view dtype_name(dtype t) noexcept;
[[nodiscard]] std::size_t dtype_size(dtype t) noexcept;

/// A read-only memory mapping of a whole file (POSIX mmap; the files are far larger than
/// what we want to copy, and the kernel shares the pages between processes).
class mapped_file {
  public:
    explicit mapped_file(const std::filesystem::path& path);
    /// Bytes held in memory instead of a file (a model built in memory), named @p name in
    /// messages.
    mapped_file(std::string bytes, std::filesystem::path name);
    ~mapped_file();
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    [[nodiscard]] const std::byte* data() const noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    std::string owned_;  // the in-memory bytes (data_ points into it; not mapped)
};

/// One tensor inside a mapped file.
struct tensor_view {
    std::string name;
    dtype type = dtype::f32;
    std::vector<std::int64_t> shape;
    const std::byte* data = nullptr;
    std::size_t nbytes = 0;
    const std::filesystem::path* file = nullptr;  ///< the file it lives in (for messages)

    [[nodiscard]] std::int64_t numel() const noexcept;
    /// "[2000, 64]"
    [[nodiscard]] std::string shape_string() const;
};

/// One .safetensors file: header parsed and validated, data mapped.
class safetensors_file {
  public:
    /// Throws io_error (missing/unreadable) or format_error (truncated, malformed header, an
    /// unknown dtype, offsets outside the file, byte size != shape × dtype size, overlaps).
    explicit safetensors_file(const std::filesystem::path& path);
    /// A safetensors image in memory, checked as a file is; @p name names it in messages.
    safetensors_file(std::string bytes, const std::filesystem::path& name);
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return map_.path(); }
    [[nodiscard]] const tensor_view* find(std::string_view name) const;
    [[nodiscard]] const std::map<std::string, tensor_view, std::less<>>& tensors() const noexcept {
        return tensors_;
    }

  private:
    void parse();
    mapped_file map_;
    std::map<std::string, tensor_view, std::less<>> tensors_;
};

/// One tensor to write into a safetensors image (write_safetensors).
struct owned_tensor {
    std::string name;
    dtype type = dtype::f32;
    std::vector<std::int64_t> shape;
    std::string bytes;  ///< little-endian elements, shape × dtype_size(type) bytes
};
/// The bytes of a safetensors file holding @p tensors (in order; no metadata).
[[nodiscard]] std::string write_safetensors(const std::vector<owned_tensor>& tensors);

/// The weights of a model directory (or a single file).
class weight_set {
  public:
    /// @p dir: a directory with `model.safetensors` or `model.safetensors.index.json`; or the
    /// path of one .safetensors file or of an index file.
    static weight_set open(const std::filesystem::path& path);
    /// The weights of one safetensors image in memory (see write_safetensors), named @p name.
    static weight_set from_memory(std::string bytes, const std::filesystem::path& name);

    [[nodiscard]] const tensor_view* find(std::string_view name) const;
    /// The tensor @p name with exactly @p shape; format_error naming the file (or the
    /// directory) when missing or shaped differently.
    [[nodiscard]] const tensor_view& get(std::string_view name,
                                         std::span<const std::int64_t> shape) const;
    [[nodiscard]] const tensor_view& get(std::string_view name,
                                         std::initializer_list<std::int64_t> shape) const {
        return get(name, std::span<const std::int64_t>(shape.begin(), shape.size()));
    }
    /// Every tensor name, sorted.
    [[nodiscard]] std::vector<std::string> names() const;
    /// Where the weights came from (directory or file), for messages.
    [[nodiscard]] const std::filesystem::path& origin() const noexcept { return origin_; }
    /// The dtype of most parameters (for reports).
    [[nodiscard]] dtype main_dtype() const;

  private:
    std::filesystem::path origin_;
    std::vector<std::shared_ptr<safetensors_file>> files_;
    std::map<std::string, const tensor_view*, std::less<>> index_;
};

/// Widens @p t (f32/f16/bf16/f64) to float into @p out (t.numel() floats).
void to_float(const tensor_view& t, float* out);
/// IEEE half / bfloat16 bit patterns to float.
[[nodiscard]] float half_to_float(std::uint16_t h) noexcept;
[[nodiscard]] inline float bf16_to_float(std::uint16_t b) noexcept {
    std::uint32_t u = std::uint32_t(b) << 16;
    float f;
    static_assert(sizeof f == sizeof u);
    __builtin_memcpy(&f, &u, sizeof f);
    return f;
}
/// float to bfloat16 / IEEE half bits, rounding to nearest even (finite values).
[[nodiscard]] inline std::uint16_t float_to_bf16(float f) noexcept {
    std::uint32_t u;
    __builtin_memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return std::uint16_t(u >> 16);
}
[[nodiscard]] inline std::uint16_t float_to_half(float f) noexcept {
#if defined(__clang__) && __clang_major__ < 15
    // clang 14 (the libFuzzer builds) has no _Float16 on x86: the same IEEE rounding by hand.
    std::uint32_t x;
    __builtin_memcpy(&x, &f, sizeof x);
    const auto sign = std::uint16_t((x >> 16) & 0x8000u);
    std::uint32_t mant = x & 0x7fffffu;
    const int exp = int((x >> 23) & 0xffu);
    if (exp == 0xff) return std::uint16_t(sign | 0x7c00u | (mant ? 0x200u : 0u));
    const int e = exp - 127 + 15;
    if (e >= 0x1f) return std::uint16_t(sign | 0x7c00u);
    std::uint32_t half, rem, mid;
    if (e <= 0) {  // a subnormal half (or zero)
        if (e < -10) return sign;
        mant |= 0x800000u;
        const int shift = 14 - e;
        half = mant >> shift;
        rem = mant & ((1u << shift) - 1u);
        mid = 1u << (shift - 1);
    } else {
        half = (std::uint32_t(e) << 10) | (mant >> 13);
        rem = mant & 0x1fffu;
        mid = 0x1000u;
    }
    if (rem > mid || (rem == mid && (half & 1u))) ++half;  // a carry rounds up the exponent
    return std::uint16_t(sign | half);
#else
    const _Float16 h = static_cast<_Float16>(f);
    std::uint16_t b;
    __builtin_memcpy(&b, &h, sizeof b);
    return b;
#endif
}

}  // namespace model
POLYGLOT_END_NAMESPACE
