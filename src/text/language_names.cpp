// SPDX-License-Identifier: Apache-2.0
#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <polyglot/core/error.hpp>
#include <polyglot/text/language_names.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

std::string language_name(std::string_view code) {
    std::string c(code);
    for (auto& ch : c)
        if (ch == '_') ch = '-';
    const auto dash = c.find('-');
    const std::string lang = c.substr(0, dash);
    if (lang.empty()) throw argument_error("no language code given");
    UErrorCode status = U_ZERO_ERROR;
    const icu::Locale loc = icu::Locale::forLanguageTag(lang, status);
    if (U_FAILURE(status) || loc.isBogus())
        throw argument_error("unknown language code '" + std::string(code) + "'");
    icu::UnicodeString name;
    loc.getDisplayLanguage(icu::Locale::getEnglish(), name);
    std::string out;
    name.toUTF8String(out);
    // ICU echoes the code back when it has no name for it.
    if (out.empty() || out == lang)
        throw argument_error("unknown language code '" + std::string(code) + "'");
    return out;
}

}  // namespace text
POLYGLOT_END_NAMESPACE
