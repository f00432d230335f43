// SPDX-License-Identifier: Apache-2.0
// tokenizer.json patterns and split behaviours (see pattern.hpp).
#include "base/tokenizers/hf/pattern.hpp"

#include <unicode/unistr.h>
#include <unicode/utext.h>

#include <algorithm>
#include <polyglot/core/error.hpp>

#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model::detail {

void matches_to_splits(const std::vector<std::pair<std::size_t, std::size_t>>& m, std::size_t n,
                       bool invert, match_list& out) {
    out.clear();
    if (n == 0) {
        out.push_back({{0, 0}, invert});
        return;
    }
    std::size_t prev = 0;
    for (auto [b, e] : m) {
        if (prev != b) out.push_back({{prev, b}, invert});
        out.push_back({{b, e}, !invert});
        prev = e;
    }
    if (prev != n) out.push_back({{prev, n}, invert});
}

void apply_behavior(const match_list& in, split_behavior b, match_list& out) {
    out.clear();
    switch (b) {
        case split_behavior::isolated:
            for (auto& [r, m] : in) out.push_back({r, false});
            break;
        case split_behavior::removed:
            out = in;
            break;
        case split_behavior::contiguous: {
            bool prev = false;
            for (auto& [r, m] : in) {
                if (m == prev && !out.empty())
                    out.back().first.second = r.second;
                else
                    out.push_back({r, false});
                prev = m;
            }
            break;
        }
        case split_behavior::merged_with_previous: {
            bool prev = false;
            for (auto& [r, m] : in) {
                if (m && !prev && !out.empty())
                    out.back().first.second = r.second;
                else
                    out.push_back({r, false});
                prev = m;
            }
            break;
        }
        case split_behavior::merged_with_next: {
            bool prev = false;
            for (auto it = in.rbegin(); it != in.rend(); ++it) {
                auto& [r, m] = *it;
                if (m && !prev && !out.empty())
                    out.back().first.first = r.first;
                else
                    out.push_back({r, false});
                prev = m;
            }
            std::reverse(out.begin(), out.end());
            break;
        }
    }
}

split_behavior parse_behavior(std::string_view s, const std::filesystem::path& file) {
    if (s == "Isolated") return split_behavior::isolated;
    if (s == "Removed") return split_behavior::removed;
    if (s == "MergedWithPrevious") return split_behavior::merged_with_previous;
    if (s == "MergedWithNext") return split_behavior::merged_with_next;
    if (s == "Contiguous") return split_behavior::contiguous;
    unsupported(file, "Split behavior '" + std::string(s) + "' is not supported");
}

icu_regex::icu_regex(std::string_view re, const std::filesystem::path& file) {
    std::string tr;
    for (std::size_t i = 0; i < re.size(); ++i) {
        if (re[i] == '\\' && i + 1 < re.size()) {
            const char n = re[i + 1];
            if (n == 's')
                tr += "\\p{White_Space}";
            else if (n == 'S')
                tr += "\\P{White_Space}";
            else {
                tr += re[i];
                tr += n;
            }
            ++i;
        } else {
            tr += re[i];
        }
    }
    UErrorCode status = U_ZERO_ERROR;
    UParseError pe{};
    pattern.reset(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(tr), 0, pe, status));
    if (U_FAILURE(status))
        throw format_error(file.string() + ": cannot compile the regex '" + std::string(re) +
                           "' (" + u_errorName(status) + ")");
}

void icu_regex::find_all(std::string_view s,
                         std::vector<std::pair<std::size_t, std::size_t>>& out) const {
    out.clear();
    if (s.empty()) return;
    UErrorCode status = U_ZERO_ERROR;
    UText* ut = utext_openUTF8(nullptr, s.data(), static_cast<int64_t>(s.size()), &status);
    std::unique_ptr<icu::RegexMatcher> m(pattern->matcher(status));
    if (U_FAILURE(status)) {
        utext_close(ut);
        throw text_error(std::string("regex matcher: ") + u_errorName(status));
    }
    m->reset(ut);
    while (m->find(status) && U_SUCCESS(status)) {
        auto b = static_cast<std::size_t>(m->start64(status));
        auto e = static_cast<std::size_t>(m->end64(status));
        out.emplace_back(b, e);
    }
    m.reset();
    utext_close(ut);
}

pattern pattern::parse(element e, const std::filesystem::path& file, const char* what) {
    pattern p;
    if (auto s = get_string(e, "String")) {
        p.literal = *s;
    } else if (auto r = get_string(e, "Regex")) {
        std::string why;
        p.re = tok_regex::compile(*r, why);
        if (!p.re) p.icu = std::make_unique<icu_regex>(*r, file);
    } else {
        throw format_error(file.string() + ": " + what + " with an unknown pattern");
    }
    return p;
}

void pattern::find_all(std::string_view s,
                       std::vector<std::pair<std::size_t, std::size_t>>& out) const {
    if (re) return re->find_all(s, out);
    if (icu) return icu->find_all(s, out);
    out.clear();
    if (literal.empty()) return;
    for (std::size_t pos = 0; (pos = s.find(literal, pos)) != std::string_view::npos;
         pos += literal.size())
        out.emplace_back(pos, pos + literal.size());
}

}  // namespace model::detail
POLYGLOT_END_NAMESPACE
