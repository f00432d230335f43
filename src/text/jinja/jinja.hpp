// SPDX-License-Identifier: Apache-2.0
/// @file A small sandboxed Jinja interpreter that renders chat templates exactly as Python's
/// jinja2 3.1 does under transformers' `apply_chat_template` (ImmutableSandboxedEnvironment,
/// trim_blocks, lstrip_blocks, loop controls, transformers' `tojson`, `raise_exception`,
/// `strftime_now`, the `{% generation %}` tag). Hand-written: no Debian C++ package implements
/// Jinja, and chat templates need Python's exact string, number and container semantics.
/// Anything jinja2 supports that this interpreter does not is an error (never a different
/// rendering). Private to src/text; the public face is polyglot/text/chat_template.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/value.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

/// Sandbox bounds of one render.
struct limits {
    std::size_t max_output = std::size_t{256} << 20;  ///< bytes of any string the template builds
    std::size_t max_depth = 200;                      ///< nested macro calls
    std::uint64_t max_steps = 200'000'000;            ///< expression/statement evaluations
};

/// A parsed template: immutable, shareable between threads.
class program {
  public:
    /// Parses @p source (newlines are normalized and one trailing newline dropped, as jinja2
    /// does). Throws jinja_error (kind syntax or unsupported) naming a position.
    static std::shared_ptr<const program> parse(std::string_view source);

    /// The normalized source that positions refer to.
    [[nodiscard]] const std::string& source() const noexcept { return source_; }
    /// The interned id of @p name, -1 when the template never names it.
    [[nodiscard]] int symbol(std::string_view name) const noexcept;
    [[nodiscard]] const std::string& symbol_name(int id) const { return symbols_[id]; }
    [[nodiscard]] std::size_t symbol_count() const noexcept { return symbols_.size(); }
    [[nodiscard]] const body& root() const noexcept { return root_; }
    [[nodiscard]] const frame_decls& root_frame() const noexcept { return root_frame_; }

    /// "line L, column C" (1-based; columns in code points) of byte offset @p pos.
    [[nodiscard]] std::string describe(std::size_t pos) const;

    struct builder;

  private:
    std::string source_;
    std::vector<std::string> symbols_;
    body root_;
    frame_decls root_frame_;
};

/// "line L, column C" of byte offset @p pos of the normalized form of @p raw_source (for errors
/// of program::parse).
std::string describe_position(std::string_view raw_source, std::size_t pos);

/// Everything a render needs besides the template.
struct render_env {
    /// Top-level variables (jinja2's render(**kwargs)), by name.
    std::vector<std::pair<std::string, value>> vars;
    /// What strftime_now formats; nullptr = the local time at render.
    const std::tm* now = nullptr;
    limits bounds;
};

/// Renders @p prog. Thread-safe for distinct @p env. Throws jinja_error.
std::string render(const program& prog, const render_env& env);

// ---- Python formatting shared with chat_template.cpp and the tests --------------------------

/// Python's str(v) (jinja2's output of {{ v }}). Throws jinja_error(unsupported) for values whose
/// Python str() is not deterministic (memory addresses).
void py_str(const value& v, std::string& out);
std::string py_str(const value& v);
/// Python's repr(v).
void py_repr(const value& v, std::string& out);
/// Python's repr(float).
void py_float_repr(double d, std::string& out);

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
