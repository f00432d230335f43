// SPDX-License-Identifier: Apache-2.0
/// @file English names of languages ("de" → "German"), as the paper's prompts name them
/// (`langcodes.Language.make(code).display_name()`); ICU's display names stay in src/.
#pragma once

#include <polyglot/version.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

/// The English display name of the language of a BCP-47 / ISO 639 code ("de", "de-AT",
/// "pt_BR", "fil") — the language subtag only. Throws argument_error for an empty or unknown
/// code (one ICU has no English name for). Thread-safe.
std::string language_name(std::string_view code);

}  // namespace text
POLYGLOT_END_NAMESPACE
