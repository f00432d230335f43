// SPDX-License-Identifier: Apache-2.0
// Regular expression → Thompson NFA → DFA (subset construction) → minimal DFA (Moore's
// partition refinement). Hand-written: the expressions are small (a schema's JSON), and no
// Debian library builds byte DFAs we could walk in lock-step with a token trie.
#include <algorithm>
#include <map>
#include <polyglot/core/error.hpp>

#include "common/constrained/constrained.hpp"
#include "common/constrained/detail.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace constrained {
namespace detail {

namespace {

struct nfa {
    struct edge {
        std::int32_t set;  ///< index into sets; -1 = epsilon
        std::int32_t to;
    };
    std::vector<std::vector<edge>> out;
    std::vector<std::bitset<256>> sets;

    std::int32_t add_state() {
        out.emplace_back();
        return static_cast<std::int32_t>(out.size() - 1);
    }
    void eps(std::int32_t a, std::int32_t b) { out[std::size_t(a)].push_back({-1, b}); }

    /// Adds @p r between fresh states; returns (entry, exit).
    std::pair<std::int32_t, std::int32_t> build(const rx& r) {
        const std::int32_t in = add_state();
        switch (r.o) {
            case rx::op::bytes: {
                const std::int32_t o = add_state();
                sets.push_back(r.set);
                out[std::size_t(in)].push_back({static_cast<std::int32_t>(sets.size() - 1), o});
                return {in, o};
            }
            case rx::op::seq: {
                std::int32_t cur = in;
                for (const rx& k : r.kids) {
                    auto [a, b] = build(k);
                    eps(cur, a);
                    cur = b;
                }
                return {in, cur};
            }
            case rx::op::alt: {
                const std::int32_t o = add_state();
                for (const rx& k : r.kids) {
                    auto [a, b] = build(k);
                    eps(in, a);
                    eps(b, o);
                }
                return {in, o};
            }
            case rx::op::star: {
                const std::int32_t o = add_state();
                auto [a, b] = build(r.kids.at(0));
                eps(in, a);
                eps(b, a);
                eps(in, o);
                eps(b, o);
                return {in, o};
            }
            case rx::op::opt: {
                const std::int32_t o = add_state();
                auto [a, b] = build(r.kids.at(0));
                eps(in, a);
                eps(b, o);
                eps(in, o);
                return {in, o};
            }
        }
        return {in, in};
    }

    void closure(std::vector<std::int32_t>& s) const {
        std::vector<std::uint8_t> in(out.size(), 0);
        std::vector<std::int32_t> stack(s.begin(), s.end());
        for (auto x : s) in[std::size_t(x)] = 1;
        while (!stack.empty()) {
            const auto x = stack.back();
            stack.pop_back();
            for (const edge& e : out[std::size_t(x)])
                if (e.set < 0 && !in[std::size_t(e.to)]) {
                    in[std::size_t(e.to)] = 1;
                    s.push_back(e.to);
                    stack.push_back(e.to);
                }
        }
        std::sort(s.begin(), s.end());
    }
};

constexpr std::size_t max_dfa_states = 200000;

}  // namespace

void build_dfa(const rx& r, std::vector<std::int32_t>& next, std::vector<std::uint8_t>& accept) {
    nfa n;
    auto [start, final_state] = n.build(r);
    std::map<std::vector<std::int32_t>, std::int32_t> ids;
    std::vector<std::vector<std::int32_t>> sets;
    std::vector<std::int32_t> s0{start};
    n.closure(s0);
    ids.emplace(s0, 0);
    sets.push_back(s0);
    next.clear();
    accept.clear();
    std::vector<std::int32_t> target;
    for (std::size_t i = 0; i < sets.size(); ++i) {
        if (sets.size() > max_dfa_states)
            throw unsupported_error("JSON schema: the automaton exceeds " +
                                    std::to_string(max_dfa_states) +
                                    " states (lower maxLength / maxItems or integer bounds)");
        next.resize((i + 1) * 256, grammar::dead);
        const auto cur = sets[i];  // copy: sets grows below
        accept.push_back(std::binary_search(cur.begin(), cur.end(), final_state) ? 1 : 0);
        for (int b = 0; b < 256; ++b) {
            target.clear();
            for (auto x : cur)
                for (const auto& e : n.out[std::size_t(x)])
                    if (e.set >= 0 && n.sets[std::size_t(e.set)].test(std::size_t(b)))
                        target.push_back(e.to);
            if (target.empty()) continue;
            std::sort(target.begin(), target.end());
            target.erase(std::unique(target.begin(), target.end()), target.end());
            n.closure(target);
            auto [it, fresh] = ids.emplace(target, static_cast<std::int32_t>(sets.size()));
            if (fresh) sets.push_back(target);
            next[i * 256 + std::size_t(b)] = it->second;
        }
    }
}

}  // namespace detail

namespace {

/// Drops states that cannot reach acceptance, merges equivalent states (Moore), renumbers
/// breadth-first from the start (so equal languages give equal tables).
void minimise(std::vector<std::int32_t>& next, std::vector<std::uint8_t>& accept) {
    const std::size_t n = accept.size();
    // Co-reachability.
    std::vector<std::vector<std::int32_t>> rev(n);
    for (std::size_t s = 0; s < n; ++s)
        for (int b = 0; b < 256; ++b)
            if (auto t = next[s * 256 + std::size_t(b)]; t >= 0)
                rev[std::size_t(t)].push_back(static_cast<std::int32_t>(s));
    std::vector<std::uint8_t> live(n, 0);
    std::vector<std::int32_t> stack;
    for (std::size_t s = 0; s < n; ++s)
        if (accept[s]) {
            live[s] = 1;
            stack.push_back(static_cast<std::int32_t>(s));
        }
    while (!stack.empty()) {
        auto s = stack.back();
        stack.pop_back();
        for (auto p : rev[std::size_t(s)])
            if (!live[std::size_t(p)]) {
                live[std::size_t(p)] = 1;
                stack.push_back(p);
            }
    }
    for (auto& t : next)
        if (t >= 0 && !live[std::size_t(t)]) t = grammar::dead;
    // Partition refinement; class -1 is the dead state.
    std::vector<std::int32_t> cls(n);
    for (std::size_t s = 0; s < n; ++s) cls[s] = accept[s] ? 1 : 0;
    std::size_t n_classes = 0;
    for (;;) {
        std::map<std::vector<std::int32_t>, std::int32_t> sig_ids;
        std::vector<std::int32_t> fresh(n);
        std::vector<std::int32_t> sig(257);
        for (std::size_t s = 0; s < n; ++s) {
            sig[0] = cls[s];
            for (int b = 0; b < 256; ++b) {
                auto t = next[s * 256 + std::size_t(b)];
                sig[std::size_t(b) + 1] = t < 0 ? -1 : cls[std::size_t(t)];
            }
            auto [it, ins] = sig_ids.emplace(sig, static_cast<std::int32_t>(sig_ids.size()));
            fresh[s] = it->second;
        }
        const std::size_t k = sig_ids.size();
        cls.swap(fresh);
        if (k == n_classes) break;
        n_classes = k;
    }
    // Renumber breadth-first from the start's class.
    std::vector<std::int32_t> order(n_classes, -1);
    std::vector<std::size_t> rep(n_classes);
    for (std::size_t s = n; s-- > 0;) rep[std::size_t(cls[s])] = s;
    std::vector<std::int32_t> queue{cls[0]};
    order[std::size_t(cls[0])] = 0;
    for (std::size_t qi = 0; qi < queue.size(); ++qi) {
        const std::size_t s = rep[std::size_t(queue[qi])];
        for (int b = 0; b < 256; ++b) {
            auto t = next[s * 256 + std::size_t(b)];
            if (t < 0) continue;
            auto c = cls[std::size_t(t)];
            if (order[std::size_t(c)] < 0) {
                order[std::size_t(c)] = static_cast<std::int32_t>(queue.size());
                queue.push_back(c);
            }
        }
    }
    std::vector<std::int32_t> next2(queue.size() * 256, grammar::dead);
    std::vector<std::uint8_t> accept2(queue.size());
    for (std::size_t i = 0; i < queue.size(); ++i) {
        const std::size_t s = rep[std::size_t(queue[i])];
        accept2[i] = accept[s];
        for (int b = 0; b < 256; ++b) {
            auto t = next[s * 256 + std::size_t(b)];
            next2[i * 256 + std::size_t(b)] =
                t < 0 ? grammar::dead : order[std::size_t(cls[std::size_t(t)])];
        }
    }
    next.swap(next2);
    accept.swap(accept2);
}

}  // namespace

grammar::grammar(std::vector<std::int32_t> next, std::vector<std::uint8_t> accept)
    : next_(std::move(next)), accept_(std::move(accept)) {
    if (accept_.empty() || next_.size() != accept_.size() * 256)
        throw format_error("grammar: the transition table does not match the state count");
    for (auto t : next_)
        if (t < dead || t >= static_cast<std::int32_t>(accept_.size()))
            throw format_error("grammar: a transition leads outside the automaton");
    minimise(next_, accept_);
}

std::shared_ptr<const grammar> grammar::compile(std::string_view schema_json) {
    auto tree = detail::parse_schema(schema_json);
    const detail::rx r = detail::to_regex(*tree);
    std::vector<std::int32_t> next;
    std::vector<std::uint8_t> accept;
    detail::build_dfa(r, next, accept);
    return std::make_shared<const grammar>(std::move(next), std::move(accept));
}

std::int32_t grammar::walk(std::int32_t s, std::string_view bytes) const noexcept {
    for (char c : bytes) {
        if (s < 0) return dead;
        s = step(s, static_cast<std::uint8_t>(c));
    }
    return s;
}

bool grammar::matches(std::string_view text) const noexcept {
    const auto s = walk(start(), text);
    return s >= 0 && accepting(s);
}

}  // namespace constrained
POLYGLOT_END_NAMESPACE
