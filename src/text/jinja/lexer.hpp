// SPDX-License-Identifier: Apache-2.0
/// @file The lexer of the Jinja interpreter: a transcription of jinja2 3.1's lexer.py (with
/// trim_blocks and lstrip_blocks on, as transformers configures it). Private to src/text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "text/jinja/ast.hpp"
#include "text/jinja/value.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text::jinja {

/// Throws jinja_error (kind syntax) at byte offset @p pos.
[[noreturn]] void syntax(std::string message, std::size_t pos);

// ---- tokens ----------------------------------------------------------------------------------

enum class tt : std::uint8_t {
    data,
    variable_begin,
    variable_end,
    block_begin,
    block_end,
    name,
    string,
    integer,
    floating,
    add,
    sub,
    div,
    floordiv,
    mul,
    mod,
    pow,
    tilde,
    lbracket,
    rbracket,
    lparen,
    rparen,
    lbrace,
    rbrace,
    eq,
    ne,
    gt,
    gteq,
    lt,
    lteq,
    assign,
    dot,
    colon,
    pipe,
    comma,
    semicolon,
    eof,
};

/// jinja2's description of a token type in error messages.
const char* token_name(tt t);

struct token {
    tt type;
    std::size_t pos;
    std::string text;  ///< name, string value, data
    value num;         ///< integer / floating
};

/// jinja2 normalizes every newline to \n and drops one trailing newline
/// (keep_trailing_newline=False).
std::string normalize_source(std::string_view src);

/// The tokens of @p source (normalized), ending with tt::eof. Throws jinja_error.
std::vector<token> lex(const std::string& source);

}  // namespace text::jinja
POLYGLOT_END_NAMESPACE
