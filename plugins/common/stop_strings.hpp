// SPDX-License-Identifier: Apache-2.0
/// @file Stop strings of a generation request (vLLM / OpenAI semantics: generation stops at the
/// first stop string and the stop string is not part of the output), matched with one
/// Aho–Corasick automaton built once from up to thousands of strings and fed the decoded text
/// chunks of one sequence, so a stop string that spans tokens is found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

/// The compiled stop strings (immutable, shareable between sequences and threads).
class stop_strings {
  public:
    /// Empty strings never match and are ignored.
    explicit stop_strings(std::span<const std::string> strings);
    ~stop_strings();
    stop_strings(const stop_strings&) = delete;
    stop_strings& operator=(const stop_strings&) = delete;

    [[nodiscard]] std::size_t size() const noexcept;
    [[nodiscard]] const std::string& at(std::size_t i) const;

    struct automaton;
    [[nodiscard]] const automaton& ac() const noexcept { return *a_; }

  private:
    std::unique_ptr<automaton> a_;
};

/// Matches one sequence's text as it is generated.
class stop_matcher {
  public:
    explicit stop_matcher(const stop_strings& s);

    struct result {
        /// Text that is now safe to emit (no stop string can begin in it); valid until the
        /// next call.
        std::string_view safe;
        /// A stop string was completed: generation stops; text() is final.
        bool stopped = false;
        /// Index (in the constructor's list) of the stop string that matched.
        std::size_t which = 0;
    };
    /// Feeds the next decoded chunk. The earliest stop string to end wins (the longest of
    /// those ending at the same byte); nothing after it is looked at. After a stop, further
    /// feeds do nothing.
    result feed(std::string_view chunk);
    /// End of generation without a stop: the held-back tail, now safe.
    std::string_view flush();
    /// Everything emitted so far; after a stop, the final output (the stop string and what
    /// followed it excluded).
    [[nodiscard]] const std::string& text() const noexcept { return text_; }
    [[nodiscard]] bool stopped() const noexcept { return stopped_; }

  private:
    const stop_strings* s_;
    std::uint32_t state_ = 0;
    std::string text_;      ///< all text fed (truncated at the stop when stopped)
    std::size_t safe_ = 0;  ///< bytes of text_ already returned as safe
    bool stopped_ = false;
};

}  // namespace model
POLYGLOT_END_NAMESPACE
