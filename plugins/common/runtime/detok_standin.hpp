// SPDX-License-Identifier: Apache-2.0
/// @file TEMPORARY stand-in for the tokenizer branch's decoding (hf_tokenizer::decode,
/// is_special, stream_decoder; common/stop_strings.hpp), with the same shapes, so that the
/// runtime is not blocked. Delete this file when that work is merged and use the real ones
/// (runtime/lm_runtime.cpp is the only user). Covers the decoders of the fixture models only:
/// ByteLevel, and Replace(▁→' ') + ByteFallback + Fuse (+ Strip).
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <polyglot/core/error.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/hf_tokenizer.hpp"
#include "common/json_util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace runtime::standin {

using model::token_id;

/// Invalid UTF-8 → U+FFFD per maximal invalid subpart (String::from_utf8_lossy).
inline std::string utf8_lossy(std::string_view s, bool* ends_incomplete = nullptr) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    if (ends_incomplete) *ends_incomplete = false;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80         ? 1
                        : (c >> 5) == 6  ? 2
                        : (c >> 4) == 14 ? 3
                        : (c >> 3) == 30 ? 4
                                         : 0;
        if (n == 1) {
            out += char(c);
            ++i;
            continue;
        }
        std::size_t k = 1;
        bool ok = n > 1 && !(c == 0xC0 || c == 0xC1 || c > 0xF4);
        if (ok) {
            for (; k < n && i + k < s.size(); ++k) {
                const auto d = static_cast<unsigned char>(s[i + k]);
                bool cont = (d & 0xC0) == 0x80;
                if (k == 1) {
                    if (c == 0xE0 && d < 0xA0) cont = false;
                    if (c == 0xED && d > 0x9F) cont = false;
                    if (c == 0xF0 && d < 0x90) cont = false;
                    if (c == 0xF4 && d > 0x8F) cont = false;
                }
                if (!cont) break;
            }
            if (k == n) {
                out.append(s.substr(i, n));
                i += n;
                continue;
            }
            if (i + k == s.size() && ends_incomplete) *ends_incomplete = true;
        }
        out += "\xEF\xBF\xBD";
        i += ok ? k : 1;
    }
    return out;
}

class detok {
  public:
    explicit detok(const model::hf_tokenizer& tok) : tok_(&tok) {
        model::json_document doc(tok.path());
        auto root = doc.root();
        if (auto dec = model::field(root, "decoder")) {
            std::string_view type;
            if (!(*dec)["type"].get_string().get(type)) {
                if (type == "ByteLevel") byte_level_ = true;
                if (type == "Sequence") {
                    simdjson::dom::array arr;
                    if (!(*dec)["decoders"].get_array().get(arr))
                        for (auto d : arr) {
                            std::string_view t;
                            if (d["type"].get_string().get(t)) continue;
                            if (t == "ByteLevel") byte_level_ = true;
                            if (t == "Strip") {
                                std::int64_t st = 0;
                                if (!d["start"].get_int64().get(st)) strip_start_ = std::size_t(st);
                            }
                        }
                }
            }
        }
        simdjson::dom::array added;
        if (!root["added_tokens"].get_array().get(added))
            for (auto t : added) {
                std::uint64_t id = 0;
                std::string_view content;
                bool special = false;
                if (t["id"].get_uint64().get(id) || t["content"].get_string().get(content))
                    continue;
                if (t["special"].get_bool().get(special)) special = false;
                added_[token_id(id)] = {std::string(content), special};
            }
        // GPT-2's bytes_to_unicode, inverted.
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
            const int cp = printable ? b : 256 + extra++;
            unbyte_[cp] = static_cast<unsigned char>(b);
        }
    }

    [[nodiscard]] bool is_special(token_id id) const noexcept {
        auto it = added_.find(id);
        return it != added_.end() && it->second.second;
    }

    /// Raw bytes of @p ids (no lossy conversion, no Strip).
    void raw(std::span<const token_id> ids, bool skip_special, std::string& out) const {
        for (auto id : ids) {
            if (auto it = added_.find(id); it != added_.end()) {
                if (!(skip_special && it->second.second)) out += it->second.first;
                continue;
            }
            const std::string t = tok_->id_to_token(id);
            if (byte_level_) {
                std::size_t i = 0;
                while (i < t.size()) {
                    const auto c = static_cast<unsigned char>(t[i]);
                    int cp = c;
                    std::size_t n = 1;
                    if (c >= 0xC0) {
                        n = c >= 0xE0 ? 3 : 2;
                        cp = n == 2 ? ((c & 0x1F) << 6) | (t[i + 1] & 0x3F)
                                    : ((c & 0x0F) << 12) | ((t[i + 1] & 0x3F) << 6) |
                                          (t[i + 2] & 0x3F);
                    }
                    auto u = unbyte_.find(cp);
                    if (u != unbyte_.end())
                        out += char(u->second);
                    else
                        out.append(t, i, n);
                    i += n;
                }
            } else if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                out += char(std::stoi(t.substr(3, 2), nullptr, 16));
            } else {
                for (std::size_t i = 0; i < t.size();) {
                    if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
                        out += ' ';
                        i += 3;
                    } else {
                        out += t[i++];
                    }
                }
            }
        }
    }

    [[nodiscard]] std::string decode(std::span<const token_id> ids, bool skip_special) const {
        std::string r;
        raw(ids, skip_special, r);
        std::string s = utf8_lossy(r);
        for (std::size_t k = 0; k < strip_start_ && !s.empty() && s.front() == ' '; ++k)
            s.erase(0, 1);
        return s;
    }

  private:
    const model::hf_tokenizer* tok_;
    bool byte_level_ = false;
    std::size_t strip_start_ = 0;
    std::unordered_map<token_id, std::pair<std::string, bool>> added_;
    std::unordered_map<int, unsigned char> unbyte_;
};

/// vLLM's incremental detokenization: decode a window of a few tokens before and after each
/// new one and emit the difference, holding back text that ends in an incomplete character.
class stream_decoder {
  public:
    stream_decoder(const detok& d, bool skip_special, std::span<const token_id> prompt_ids)
        : d_(&d), skip_(skip_special) {
        const std::size_t keep = std::min<std::size_t>(prompt_ids.size(), 6);
        ids_.assign(prompt_ids.end() - static_cast<std::ptrdiff_t>(keep), prompt_ids.end());
        prefix_ = 0;
        read_ = ids_.size();
    }
    std::string_view push(token_id id) {
        ids_.push_back(id);
        out_.clear();
        const std::string prefix_text = window(prefix_, read_);
        bool incomplete = false;
        std::string r;
        d_->raw(std::span<const token_id>(ids_).subspan(prefix_), skip_, r);
        const std::string full = utf8_lossy(r, &incomplete);
        if (full.size() > prefix_text.size() && !incomplete) {
            out_ = full.substr(prefix_text.size());
            prefix_ = read_;
            read_ = ids_.size();
        }
        return out_;
    }
    std::string finish() {
        const std::string prefix_text = window(prefix_, read_);
        const std::string full = window(prefix_, ids_.size());
        return full.size() > prefix_text.size() ? full.substr(prefix_text.size()) : std::string();
    }

  private:
    std::string window(std::size_t a, std::size_t b) const {
        std::string r;
        d_->raw(std::span<const token_id>(ids_).subspan(a, b - a), skip_, r);
        return utf8_lossy(r);
    }
    const detok* d_;
    bool skip_;
    std::vector<token_id> ids_;
    std::size_t prefix_ = 0, read_ = 0;
    std::string out_;
};

/// Stop strings (naive matcher with the tokenizer branch's stop_matcher interface).
class stop_strings {
  public:
    explicit stop_strings(std::span<const std::string> s) {
        for (const auto& x : s)
            if (!x.empty()) s_.push_back(x), max_ = std::max(max_, x.size());
    }
    [[nodiscard]] std::size_t size() const noexcept { return s_.size(); }
    [[nodiscard]] const std::string& at(std::size_t i) const { return s_.at(i); }
    [[nodiscard]] std::size_t max_len() const noexcept { return max_; }

  private:
    std::vector<std::string> s_;
    std::size_t max_ = 0;
};

class stop_matcher {
  public:
    explicit stop_matcher(const stop_strings& s) : s_(&s) {}
    struct result {
        std::string_view safe;
        bool stopped = false;
        std::size_t which = 0;
    };
    result feed(std::string_view chunk) {
        result r;
        if (stopped_) return r;
        const std::size_t old = text_.size();
        text_ += chunk;
        std::size_t best_end = std::string::npos, best_start = 0, which = 0;
        for (std::size_t k = 0; k < s_->size(); ++k) {
            const std::string& s = s_->at(k);
            const std::size_t from = old >= s.size() ? old - s.size() + 1 : 0;
            const std::size_t p = text_.find(s, from);
            if (p == std::string::npos) continue;
            const std::size_t e = p + s.size();
            if (e < best_end || (e == best_end && p < best_start))
                best_end = e, best_start = p, which = k;
        }
        if (best_end != std::string::npos) {
            text_.resize(best_start);
            stopped_ = true;
            r.stopped = true;
            r.which = which;
            r.safe = std::string_view(text_).substr(std::min(safe_, text_.size()));
            safe_ = text_.size();
            return r;
        }
        // Hold back the longest suffix that could still begin a stop string.
        std::size_t hold = 0;
        for (std::size_t k = 0; k < s_->size(); ++k) {
            const std::string& s = s_->at(k);
            for (std::size_t n = std::min(s.size() - 1, text_.size()); n > hold; --n)
                if (text_.compare(text_.size() - n, n, s, 0, n) == 0) {
                    hold = n;
                    break;
                }
        }
        const std::size_t safe_end = std::max(safe_, text_.size() - hold);
        r.safe = std::string_view(text_).substr(safe_, safe_end - safe_);
        safe_ = safe_end;
        return r;
    }
    std::string_view flush() {
        auto v = std::string_view(text_).substr(safe_);
        safe_ = text_.size();
        return v;
    }
    [[nodiscard]] const std::string& text() const noexcept { return text_; }
    [[nodiscard]] bool stopped() const noexcept { return stopped_; }

  private:
    const stop_strings* s_;
    std::string text_;
    std::size_t safe_ = 0;
    bool stopped_ = false;
};

}  // namespace runtime::standin
POLYGLOT_END_NAMESPACE
