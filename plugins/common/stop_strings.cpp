// SPDX-License-Identifier: Apache-2.0
#include "common/stop_strings.hpp"

#include <algorithm>
#include <deque>
#include <polyglot/core/error.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

/// Byte-level Aho–Corasick: goto edges (sorted per state), failure links, and per state the
/// longest stop string that ends there (itself or through its failure chain).
struct stop_strings::automaton {
    struct edge {
        unsigned char c;
        std::uint32_t to;
    };
    std::vector<std::vector<edge>> go;
    std::vector<std::uint32_t> fail;
    std::vector<std::uint32_t> depth;
    std::vector<std::int64_t> out;  ///< stop string index ending here (longest), -1 none
    std::vector<std::string> strings;

    [[nodiscard]] std::int64_t child(std::uint32_t s, unsigned char c) const {
        const auto& e = go[s];
        auto it = std::lower_bound(e.begin(), e.end(), c,
                                   [](const edge& x, unsigned char v) { return x.c < v; });
        return it != e.end() && it->c == c ? std::int64_t(it->to) : -1;
    }
    [[nodiscard]] std::uint32_t step(std::uint32_t s, unsigned char c) const {
        for (;;) {
            if (auto t = child(s, c); t >= 0) return std::uint32_t(t);
            if (s == 0) return 0;
            s = fail[s];
        }
    }
};

stop_strings::stop_strings(std::span<const std::string> strings)
    : a_(std::make_unique<automaton>()) {
    auto& a = *a_;
    a.go.emplace_back();
    a.fail.push_back(0);
    a.depth.push_back(0);
    a.out.push_back(-1);
    a.strings.assign(strings.begin(), strings.end());
    for (std::size_t i = 0; i < strings.size(); ++i) {
        const std::string& s = strings[i];
        if (s.empty()) continue;
        std::uint32_t st = 0;
        for (unsigned char c : s) {
            auto t = a.child(st, c);
            if (t < 0) {
                const auto n = std::uint32_t(a.go.size());
                a.go.emplace_back();
                a.fail.push_back(0);
                a.depth.push_back(a.depth[st] + 1);
                a.out.push_back(-1);
                auto& e = a.go[st];
                e.insert(std::upper_bound(
                             e.begin(), e.end(), c,
                             [](unsigned char v, const automaton::edge& x) { return v < x.c; }),
                         automaton::edge{c, n});
                t = n;
            }
            st = std::uint32_t(t);
        }
        if (a.out[st] < 0) a.out[st] = std::int64_t(i);  // duplicates: the first one
    }
    // Failure links in BFS order; out[] inherits the longest match of the failure state.
    std::deque<std::uint32_t> q;
    for (const auto& e : a.go[0]) q.push_back(e.to);
    while (!q.empty()) {
        const std::uint32_t s = q.front();
        q.pop_front();
        if (a.out[s] < 0 && s != 0) a.out[s] = a.out[a.fail[s]];
        for (const auto& e : a.go[s]) {
            std::uint32_t f = a.fail[s];
            std::uint32_t t;
            for (;;) {
                const auto c = a.child(f, e.c);
                if (c >= 0 && std::uint32_t(c) != e.to) {
                    t = std::uint32_t(c);
                    break;
                }
                if (f == 0) {
                    t = 0;
                    break;
                }
                f = a.fail[f];
            }
            a.fail[e.to] = t;
            q.push_back(e.to);
        }
    }
}

stop_strings::~stop_strings() = default;
std::size_t stop_strings::size() const noexcept { return a_->strings.size(); }
const std::string& stop_strings::at(std::size_t i) const { return a_->strings.at(i); }

stop_matcher::stop_matcher(const stop_strings& s) : s_(&s) {}

stop_matcher::result stop_matcher::feed(std::string_view chunk) {
    result r;
    if (stopped_) {
        r.stopped = true;
        return r;
    }
    const auto& a = s_->ac();
    const std::size_t base = text_.size();
    text_.append(chunk);
    for (std::size_t i = 0; i < chunk.size(); ++i) {
        state_ = a.step(state_, static_cast<unsigned char>(chunk[i]));
        if (a.out[state_] >= 0) {
            const auto which = std::size_t(a.out[state_]);
            const std::size_t end = base + i + 1;
            const std::size_t start = end - a.strings[which].size();
            text_.resize(start);
            stopped_ = true;
            r.stopped = true;
            r.which = which;
            r.safe = std::string_view(text_).substr(std::min(safe_, start));
            safe_ = text_.size();
            return r;
        }
    }
    // Hold back the longest suffix that is a prefix of some stop string.
    const std::size_t hold = std::min<std::size_t>(a.depth[state_], text_.size());
    const std::size_t upto = std::max(safe_, text_.size() - hold);
    r.safe = std::string_view(text_).substr(safe_, upto - safe_);
    safe_ = upto;
    return r;
}

std::string_view stop_matcher::flush() {
    const std::string_view rest = std::string_view(text_).substr(std::min(safe_, text_.size()));
    safe_ = text_.size();
    return rest;
}

}  // namespace model
POLYGLOT_END_NAMESPACE
