// SPDX-License-Identifier: Apache-2.0
/// @file A small binary writer and a bounds-checked reader for saved metric states
/// (score/state.hpp): little-endian fixed-width integers, LEB128 varints (zigzag for signed
/// values), doubles as their IEEE-754 bits, and length-prefixed strings. Hand-written because
/// the format is a few dozen lines and Debian's serialization libraries (Boost.Serialization,
/// protobuf) would bring a schema compiler or a heavy link dependency for a flat byte layout.
/// Not thread-safe; one object per buffer.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <string>
#include <string_view>
#include <type_traits>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

/// Appends values to a byte string.
class binary_writer {
  public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v) { fixed(v); }
    void u64(std::uint64_t v) { fixed(v); }
    /// Unsigned LEB128: 1 byte below 128, at most 10.
    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<char>(v));
    }
    /// Signed values as zigzag varints (small magnitudes stay short).
    void svarint(std::int64_t v) {
        varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
    }
    /// The exact bits of @p v (NaN payloads and signed zeros survive).
    void f64(double v) { fixed(std::bit_cast<std::uint64_t>(v)); }
    void str(std::string_view s) {
        varint(s.size());
        out_.append(s);
    }
    void bytes(std::string_view b) { out_.append(b); }

    [[nodiscard]] const std::string& data() const noexcept { return out_; }
    [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }
    std::string take() { return std::move(out_); }

  private:
    template <class U>
    void fixed(U v) {
        char b[sizeof(U)];
        for (std::size_t i = 0; i < sizeof(U); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
        out_.append(b, sizeof(U));
    }
    std::string out_;
};

/// Reads what binary_writer wrote. Every read checks the bounds: reading past the end or a
/// malformed varint throws format_error "<what>: truncated or corrupt (<field> at byte N)".
class binary_reader {
  public:
    /// @param data the bytes (not owned; must outlive the reader); @param what names the
    /// source in messages (a file path).
    binary_reader(std::string_view data, std::string what) : data_(data), what_(std::move(what)) {}

    std::uint8_t u8(const char* field = "byte") {
        need(1, field);
        return static_cast<std::uint8_t>(data_[pos_++]);
    }
    std::uint32_t u32(const char* field = "u32") { return fixed<std::uint32_t>(field); }
    std::uint64_t u64(const char* field = "u64") { return fixed<std::uint64_t>(field); }
    std::uint64_t varint(const char* field = "varint") {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            const std::uint8_t b = u8(field);
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        fail(field);
    }
    std::int64_t svarint(const char* field = "varint") {
        const std::uint64_t u = varint(field);
        return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
    }
    double f64(const char* field = "double") { return std::bit_cast<double>(u64(field)); }
    std::string_view str(const char* field = "string") {
        const std::uint64_t n = varint(field);
        need(n, field);
        std::string_view s = data_.substr(pos_, static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        return s;
    }
    std::string_view bytes(std::size_t n, const char* field = "bytes") {
        need(n, field);
        std::string_view s = data_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    /// A count of items that each take at least @p min_bytes: refused when the remaining
    /// bytes cannot hold them (so a corrupt count never triggers a huge allocation).
    std::uint64_t count(std::size_t min_bytes, const char* field = "count") {
        const std::uint64_t n = varint(field);
        if (min_bytes && n > remaining() / min_bytes) fail(field);
        return n;
    }

    [[nodiscard]] std::size_t position() const noexcept { return pos_; }
    [[nodiscard]] std::size_t remaining() const noexcept { return data_.size() - pos_; }
    [[nodiscard]] bool at_end() const noexcept { return pos_ == data_.size(); }
    [[nodiscard]] const std::string& what() const noexcept { return what_; }

    /// Throws format_error naming the source, the field and the position.
    [[noreturn]] void fail(const char* field) const {
        throw format_error(what_ + ": truncated or corrupt (" + field + " at byte " +
                           std::to_string(pos_) + ")");
    }

  private:
    void need(std::uint64_t n, const char* field) const {
        if (n > remaining()) fail(field);
    }
    template <class U>
    U fixed(const char* field) {
        need(sizeof(U), field);
        U v = 0;
        for (std::size_t i = 0; i < sizeof(U); ++i)
            v |= static_cast<U>(static_cast<unsigned char>(data_[pos_ + i])) << (8 * i);
        pos_ += sizeof(U);
        return v;
    }

    std::string_view data_;
    std::string what_;
    std::size_t pos_ = 0;
};

}  // namespace io
POLYGLOT_END_NAMESPACE
