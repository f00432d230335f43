// SPDX-License-Identifier: Apache-2.0
/// @file A tiktoken-compatible byte-level BPE tokenizer: exactly the ids of tiktoken's
/// `encode_ordinary` for `cl100k_base` and `o200k_base`.
///
/// Tables come from npm tiktoken's encoder JSON (`pat_str`, `special_tokens`, compressed
/// `bpe_ranks`). The first load of `<dir>/<name>.json` writes a binary image of the ready-made
/// lookup tables beside it (`<dir>/<name>.tiktoken.bin`, atomically, keyed by a checksum of the
/// JSON); later loads read that image and only validate it. If the directory is not writable the
/// JSON is parsed every time.
///
/// The pre-tokenizer is hand-written for each supported `pat_str` (no regex engine in the inner
/// loop) and reproduces the backtracking semantics of the Rust `fancy-regex` crate tiktoken uses;
/// code point classes (\\p{L}, \\p{N}, \\p{M}, \\s) come from ICU.
#pragma once

#include <filesystem>
#include <memory>
#include <polyglot/core/export.hpp>
#include <polyglot/text/tokenizer.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

/// Immutable after construction; every member is thread-safe (scratch space is thread-local).
///
/// Text that is not valid UTF-8 never fails: each byte that is not part of a well-formed
/// sequence is treated as one symbol code point (neither letter, number, mark nor space) and
/// encoded through its byte tokens. tiktoken itself only accepts valid strings, so such ids have
/// no tiktoken counterpart.
class POLYGLOT_API tiktoken_tokenizer final : public tokenizer {
  public:
    /// The internal lookup tables (opaque; defined in src/base/tokenizers/tiktoken).
    struct tables;

    /// Loads an npm tiktoken encoder JSON (using and refreshing the binary cache beside it) or
    /// a binary table image written by serialize(). Throws io_error / format_error naming the
    /// file, unsupported_error for a `pat_str` this implementation has no splitter for.
    static std::shared_ptr<const tiktoken_tokenizer> open(const std::filesystem::path& path);

    /// Builds from the contents of an encoder JSON (no cache). @p table_name becomes part of
    /// name(); @p origin names the source in error messages.
    static std::shared_ptr<const tiktoken_tokenizer> from_json(std::string_view json,
                                                               std::string_view table_name,
                                                               std::string_view origin);

    /// The binary cache path used for an encoder JSON: `<dir>/<stem>.tiktoken.bin`.
    static std::filesystem::path cache_path(const std::filesystem::path& json_path);

    explicit tiktoken_tokenizer(std::unique_ptr<const tables> t);
    ~tiktoken_tokenizer() override;
    tiktoken_tokenizer(const tiktoken_tokenizer&) = delete;
    tiktoken_tokenizer& operator=(const tiktoken_tokenizer&) = delete;

    /// "tiktoken:<table>", e.g. "tiktoken:cl100k_base".
    [[nodiscard]] std::string name() const override;
    /// Appends tiktoken's `encode_ordinary` ids of @p text to @p out.
    void encode(std::string_view text, std::vector<token_id>& out) const override;
    /// Number of ids encode() would append, without materialising them.
    [[nodiscard]] std::size_t count(std::string_view text) const override;

    /// Appends the pre-tokenizer pieces of @p text (views into @p text), as tiktoken's
    /// `pat_str` regex finds them.
    void split(std::string_view text, std::vector<std::string_view>& pieces) const;

    /// One past the largest rank (ranks without bytes, if any, have empty token_bytes()).
    [[nodiscard]] std::size_t vocab_size() const noexcept;
    /// The bytes of token @p id (empty if @p id is out of range).
    [[nodiscard]] std::string_view token_bytes(token_id id) const noexcept;
    /// Concatenated bytes of @p ids (unknown ids are skipped).
    [[nodiscard]] std::string decode(const std::vector<token_id>& ids) const;

    /// The binary table image (what the cache file holds).
    [[nodiscard]] std::string_view serialize() const noexcept;

  private:
    std::unique_ptr<const tables> t_;
};

}  // namespace text
POLYGLOT_END_NAMESPACE
