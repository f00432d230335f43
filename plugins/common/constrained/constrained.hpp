// SPDX-License-Identifier: Apache-2.0
/// @file Constrained decoding for a JSON-schema subset, shared by the native backends: the
/// runtime masks the sampler's logits with a `constraint`. (The remote backend sends the schema
/// as `response_format` instead; every reply, from any backend, is checked with the one
/// validator, base/json/schema.hpp.)
///
/// The subset (compile()): an object whose properties are all required and are generated in the
/// order `properties` lists them (no additional properties); string (any JSON string), integer
/// (optionally `minimum` / `maximum` / `exclusiveMinimum` / `exclusiveMaximum`), number,
/// boolean, null, `enum` and `const` of JSON literals; arrays of any of these (`items`,
/// `minItems`, `maxItems`); nested objects. Annotations (title, description, default, examples,
/// $schema, $id, $comment) are ignored; any other keyword is an unsupported_error naming it, so
/// nothing a user asked for is silently dropped.
///
/// How masks stay cheap (the approach of outlines' index and llguidance's token trie): the
/// schema becomes a minimal byte-level DFA; the vocabulary becomes a trie of token byte strings;
/// the allowed tokens of a DFA state are found once by walking the trie in lock-step with the
/// DFA (pruning a whole subtree at the first dead byte) and memoised per state. A decoding step
/// then costs a lookup and one DFA walk over the chosen token's bytes; the vocabulary is never
/// scanned per step.
///
/// Termination: JSON strings are unbounded, and a sampler with a token budget can run out in the
/// middle of one. Each state knows its distance (in single-byte tokens) to an accepting state;
/// when the remaining budget would not cover the distance after some token, that token is
/// masked, so a constrained generation that is given at least distance(start) tokens always
/// ends in an accepting state (complete, valid JSON). Whitespace: none, except an optional
/// single space after ':' and ','.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <polyglot/version.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {
class hf_tokenizer;
}
namespace constrained {

using token_id = std::uint32_t;

/// The schema as a byte-level DFA. Immutable, thread-safe.
class grammar {
  public:
    static constexpr std::int32_t dead = -1;

    /// Compiles @p schema_json (the subset above). Throws format_error / unsupported_error.
    static std::shared_ptr<const grammar> compile(std::string_view schema_json);

    [[nodiscard]] std::int32_t start() const noexcept { return 0; }
    [[nodiscard]] std::int32_t step(std::int32_t s, std::uint8_t byte) const noexcept {
        return next_[static_cast<std::size_t>(s) * 256 + byte];
    }
    /// Runs @p bytes from @p s; dead as soon as a byte is not allowed.
    [[nodiscard]] std::int32_t walk(std::int32_t s, std::string_view bytes) const noexcept;
    [[nodiscard]] bool accepting(std::int32_t s) const noexcept {
        return accept_[static_cast<std::size_t>(s)] != 0;
    }
    /// Whether @p text, as a whole, is accepted (what the DFA generates: compact JSON).
    [[nodiscard]] bool matches(std::string_view text) const noexcept;
    [[nodiscard]] std::size_t num_states() const noexcept { return accept_.size(); }

    /// Builds from a transition table (num_states × 256, dead = -1) and accepting flags, state
    /// 0 the start; minimises it. For tests and for callers with their own automaton.
    grammar(std::vector<std::int32_t> next, std::vector<std::uint8_t> accept);

  private:
    std::vector<std::int32_t> next_;
    std::vector<std::uint8_t> accept_;
};

/// A set of token ids as a bitset (the sampler's mask). Bits past size() are zero.
class token_mask {
  public:
    token_mask() = default;
    explicit token_mask(std::size_t n) : n_(n), words_((n + 63) / 64, 0) {}
    void resize(std::size_t n) {
        n_ = n;
        words_.assign((n + 63) / 64, 0);
    }
    void clear() { std::fill(words_.begin(), words_.end(), 0); }
    void set(std::size_t i) { words_[i >> 6] |= std::uint64_t{1} << (i & 63); }
    [[nodiscard]] bool test(std::size_t i) const noexcept {
        return i < n_ && ((words_[i >> 6] >> (i & 63)) & 1) != 0;
    }
    [[nodiscard]] std::size_t size() const noexcept { return n_; }
    [[nodiscard]] std::size_t count() const noexcept;
    [[nodiscard]] const std::vector<std::uint64_t>& words() const noexcept { return words_; }
    /// Calls f(id) for each set id, ascending.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t w = 0; w < words_.size(); ++w)
            for (std::uint64_t x = words_[w]; x; x &= x - 1)
                f(static_cast<token_id>(w * 64 + static_cast<std::size_t>(__builtin_ctzll(x))));
    }

  private:
    std::size_t n_ = 0;
    std::vector<std::uint64_t> words_;
};

/// The byte strings a model's tokens stand for, arranged as a trie: the per-tokenizer
/// precomputation, shared by every constraint on that tokenizer. Immutable, thread-safe.
class token_vocab {
  public:
    struct token {
        token_id id;
        std::string bytes;
    };
    /// From token byte strings (ids absent from @p tokens, and empty strings, are never allowed)
    /// and the end-of-sequence ids. @p n_logits: the size of the model's logit vector (≥ every
    /// id), i.e. the size of the masks.
    token_vocab(std::vector<token> tokens, std::vector<token_id> eos_ids, std::size_t n_logits);

    /// The tokens of a Hugging Face tokenizer.json: byte-level tokens (GPT-2 byte alphabet,
    /// ByteLevel decoder) or SentencePiece-style ones (Replace "▁"→" ", ByteFallback "<0xXX>"),
    /// as the file's decoder says. Special added tokens are left out (markup, never JSON
    /// text); other added tokens spell their content. Throws io_error / format_error, and
    /// unsupported_error for decoders other than these (naming the file).
    static std::shared_ptr<const token_vocab> from_tokenizer_json(const std::filesystem::path& path,
                                                                  std::vector<token_id> eos_ids,
                                                                  std::size_t n_logits);
    static std::shared_ptr<const token_vocab> from_tokenizer(const model::hf_tokenizer& tok,
                                                             std::vector<token_id> eos_ids,
                                                             std::size_t n_logits);

    [[nodiscard]] std::size_t n_logits() const noexcept { return n_logits_; }
    [[nodiscard]] const std::vector<token_id>& eos_ids() const noexcept { return eos_; }
    /// The bytes of @p id ("" when it is not a text token).
    [[nodiscard]] std::string_view bytes(token_id id) const noexcept;
    /// Bytes that a single token spells alone (used for the distance bound).
    [[nodiscard]] const std::vector<bool>& single_bytes() const noexcept { return single_; }

    struct trie_node {
        std::uint32_t first_child = 0, n_children = 0;  ///< into nodes, sorted by byte
        std::uint32_t first_token = 0, n_tokens = 0;    ///< into node_tokens
        std::uint8_t byte = 0;                          ///< the edge into this node
    };
    [[nodiscard]] const std::vector<trie_node>& nodes() const noexcept { return nodes_; }
    [[nodiscard]] const std::vector<token_id>& node_tokens() const noexcept { return node_tokens_; }

  private:
    std::size_t n_logits_;
    std::vector<token_id> eos_;
    std::vector<std::uint32_t> offsets_;  ///< bytes of id i: data_[offsets_[i], offsets_[i+1])
    std::string data_;
    std::vector<bool> single_;
    std::vector<trie_node> nodes_;  ///< nodes_[0] is the root
    std::vector<token_id> node_tokens_;
};

/// A grammar on a vocabulary: the allowed-token masks, memoised per DFA state. Thread-safe
/// (masks are computed once, on first use, under a per-state once flag). Deterministic: the
/// mask depends only on (schema, vocabulary, state, remaining budget).
class constraint {
  public:
    using state = std::int32_t;
    static constexpr state dead = grammar::dead;

    /// Compiles @p schema_json for @p vocab. Throws format_error / unsupported_error.
    static std::shared_ptr<const constraint> compile(std::string_view schema_json,
                                                     std::shared_ptr<const token_vocab> vocab);
    constraint(std::shared_ptr<const grammar> g, std::shared_ptr<const token_vocab> vocab);
    ~constraint();

    [[nodiscard]] state start() const noexcept { return g_->start(); }
    /// The tokens allowed at @p s when at most @p remaining tokens may still be generated
    /// (this one included; 0 = no budget limit): text tokens that keep the output a prefix
    /// of a valid document from which an accepting state stays reachable within the budget,
    /// plus the EOS ids when @p s is accepting. Returns the memoised mask, or @p scratch
    /// filled with a budget-filtered one. Never empty while a generation given at least
    /// min_tokens() tokens follows the masks.
    const token_mask& allowed(state s, std::uint32_t remaining, token_mask& scratch) const;
    /// The state after token @p t (dead if @p t is not allowed text; EOS ids give dead too:
    /// stop there).
    [[nodiscard]] state advance(state s, token_id t) const noexcept;
    [[nodiscard]] bool is_accepting(state s) const noexcept { return g_->accepting(s); }
    /// Whether @p t is an end-of-sequence id of the vocabulary.
    [[nodiscard]] bool is_eos(token_id t) const noexcept;
    /// Accepting with nothing allowed after it (the document is complete): stop here.
    [[nodiscard]] bool complete(state s) const;
    /// Fewest tokens that reach an accepting state from @p s (single-byte tokens).
    [[nodiscard]] std::uint32_t distance(state s) const noexcept;
    /// distance(start()): the smallest max_new_tokens that can produce a valid document.
    [[nodiscard]] std::uint32_t min_tokens() const noexcept { return distance(start()); }
    [[nodiscard]] const grammar& dfa() const noexcept { return *g_; }
    [[nodiscard]] const token_vocab& vocab() const noexcept { return *vocab_; }

    struct memo;

  private:
    const memo& entry(state s) const;
    std::shared_ptr<const grammar> g_;
    std::shared_ptr<const token_vocab> vocab_;
    std::vector<std::uint32_t> dist_;
    std::unique_ptr<memo[]> memo_;
};

/// The constraints of one vocabulary by schema text, each compiled once (its masks then stay
/// memoised across calls). Thread-safe.
class constraint_cache {
  public:
    explicit constraint_cache(std::shared_ptr<const token_vocab> vocab)
        : vocab_(std::move(vocab)) {}
    /// Throws as constraint::compile.
    std::shared_ptr<const constraint> get(std::string_view schema_json);

  private:
    std::shared_ptr<const token_vocab> vocab_;
    std::mutex mu_;
    std::vector<std::pair<std::string, std::shared_ptr<const constraint>>> items_;
};

}  // namespace constrained
POLYGLOT_END_NAMESPACE
