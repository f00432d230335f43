// SPDX-License-Identifier: Apache-2.0
/// @file Private: the `tokenizer.json` decoders as stream stages. decode() and the incremental
/// stream_decoder run the same stages (decode = push every token, then finish), so a stream's
/// text always equals decode's.
#pragma once

#include <simdjson.h>

#include <filesystem>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

/// Flags of a fragment: it starts a token, and/or it ends it (a whole token has both; after
/// Fuse / ByteLevel everything is one token that only end() closes).
inline constexpr unsigned tok_start = 1, tok_end = 2, tok_whole = tok_start | tok_end;

/// Receives text fragments, always whole UTF-8 characters.
struct frag_sink {
    virtual ~frag_sink() = default;
    virtual void put(std::string_view text, unsigned flags) = 0;
    virtual void end() = 0;
};

/// The decoder configuration; instantiate() makes the stateful stages of one decoding.
class decoder_config {
  public:
    virtual ~decoder_config() = default;
    /// Stages feeding @p out; the first element receives the tokens.
    virtual void instantiate(frag_sink& out,
                             std::vector<std::unique_ptr<frag_sink>>& stages) const = 0;
};

/// Parses the "decoder" object (nullptr JSON → the default: tokens joined by a space).
std::unique_ptr<decoder_config> make_decoder(const simdjson::dom::element* e,
                                             const std::filesystem::path& file);

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
