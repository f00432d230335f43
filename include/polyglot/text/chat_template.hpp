// SPDX-License-Identifier: Apache-2.0
/// @file Hugging Face chat templates rendered exactly as transformers' `apply_chat_template`
/// renders them with Python's jinja2 (byte for byte), by a small sandboxed Jinja interpreter
/// in src/text/jinja (hand-written: no Debian C++ package implements Jinja). A construct the
/// interpreter does not implement is an error, never a different rendering.
#pragma once

#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

struct chat_render_options {
    /// transformers' add_generation_prompt.
    bool add_generation_prompt = false;
    /// "" = none, else a JSON array passed to the template as `tools`.
    std::string tools_json;
    /// "" = none, else a JSON object of extra template variables (e.g. {"enable_thinking":
    /// false}); they override the special tokens, as transformers' **kwargs do. The names
    /// `messages`, `tools` and `add_generation_prompt` are rejected (they have their own
    /// fields); `documents` sets transformers' documents argument.
    std::string extra_json;
    /// The time strftime_now() formats (as a naive local datetime); unset = the local time at
    /// render. Set it for reproducible renders.
    std::optional<std::tm> now;
};

/// A template failed while rendering: raise_exception() (reason::raised; message() is the
/// argument, as str(jinja2.TemplateError)), an error jinja2 would raise too
/// (reason::runtime: undefined attributes, type errors, ...), a construct this interpreter does
/// not support (reason::unsupported) or a sandbox limit (reason::limit). what() names the
/// template line and column.
class chat_template_error : public error {
  public:
    enum class reason { raised, runtime, unsupported, limit };
    chat_template_error(reason why, std::string message, const std::string& where);
    [[nodiscard]] reason why() const noexcept { return why_; }
    /// The message without the location.
    [[nodiscard]] const std::string& message() const noexcept { return message_; }

  private:
    reason why_;
    std::string message_;
};

/// A parsed chat template plus the special tokens it is rendered with. Cheap to copy (shared,
/// immutable); render() is const and thread-safe.
class chat_template {
  public:
    /// From a model directory: tokenizer_config.json's `chat_template` (a string, or a list of
    /// {name, template} of which "default" is used), else chat_template.jinja, else
    /// chat_template.json's `chat_template`; the special tokens (bos_token, eos_token,
    /// unk_token, sep_token, pad_token, cls_token, mask_token as strings or {"content": ...};
    /// additional_special_tokens; extra_special_tokens) from tokenizer_config.json, as
    /// transformers' special_tokens_map passes them. @p override_file: a .jinja file to use
    /// instead of the model's template. Throws io_error (unreadable / no template),
    /// format_error (bad JSON; template syntax, naming line and column) or unsupported_error
    /// (a construct this interpreter does not implement).
    static chat_template from_model_dir(const std::filesystem::path& dir,
                                        const std::filesystem::path& override_file = {});
    /// From template source and a JSON object of template variables standing for the special
    /// tokens (e.g. {"bos_token": "<s>"}). Throws as from_model_dir.
    static chat_template from_source(std::string source, std::string special_tokens_json = "{}");

    /// Renders @p messages_json, a JSON array of message objects ({"role", "content" (a string
    /// or a list of {"type": "text", "text": ...}), ...any other keys}), passed to the template
    /// as `messages` as they are. Throws argument_error (bad JSON in any argument),
    /// chat_template_error (see there). Thread-safe; deterministic for a fixed options.now.
    [[nodiscard]] std::string render(std::string_view messages_json,
                                     const chat_render_options& opts = {}) const;

    /// Renders one request object {"messages": [...], "tools": [...] (optional),
    /// "chat_template_kwargs": {...} (optional extra variables, over opts.extra_json)}; other
    /// keys are ignored. The form of `polyglot render-chat` input lines and chat-completion
    /// requests. Throws as render().
    [[nodiscard]] std::string render_request(std::string_view request_json,
                                             const chat_render_options& opts = {}) const;

    /// The template source as given.
    [[nodiscard]] const std::string& source() const noexcept;
    /// A special token's string ("" when the tokenizer config does not set it).
    [[nodiscard]] std::string special_token(std::string_view name) const;

    struct impl;

  private:
    explicit chat_template(std::shared_ptr<const impl> p);
    std::shared_ptr<const impl> impl_;
};

}  // namespace text
POLYGLOT_END_NAMESPACE
