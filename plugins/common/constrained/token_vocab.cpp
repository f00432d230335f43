// SPDX-License-Identifier: Apache-2.0
// Token byte strings, the token trie and the per-state masks of a constraint.
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <deque>
#include <limits>
#include <mutex>
#include <polyglot/core/assert.hpp>
#include <polyglot/core/error.hpp>
#include <unordered_map>
#include <unordered_set>

#include "common/constrained/constrained.hpp"
#include "base/tokenizers/hf/hf_tokenizer.hpp"
#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace constrained {

std::size_t token_mask::count() const noexcept {
    std::size_t n = 0;
    for (auto w : words_) n += static_cast<std::size_t>(__builtin_popcountll(w));
    return n;
}

// ---- token bytes ------------------------------------------------------------------------------

namespace {

/// GPT-2's byte ↔ printable code point table (the ByteLevel decoder's inverse).
const std::unordered_map<char32_t, std::uint8_t>& byte_level_decode_table() {
    static const std::unordered_map<char32_t, std::uint8_t> table = [] {
        std::unordered_map<char32_t, std::uint8_t> t;
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            const char32_t c = printable ? char32_t(b) : char32_t(256 + extra++);
            t.emplace(c, static_cast<std::uint8_t>(b));
        }
        return t;
    }();
    return table;
}

/// Decodes UTF-8 @p s into code points; false on invalid UTF-8.
bool utf8_decode(std::string_view s, std::vector<char32_t>& out) {
    out.clear();
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80         ? 1
                        : (c >> 5) == 6  ? 2
                        : (c >> 4) == 14 ? 3
                        : (c >> 3) == 30 ? 4
                                         : 0;
        if (n == 0 || i + n > s.size()) return false;
        char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k < n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        out.push_back(cp);
        i += n;
    }
    return true;
}

enum class decoder_kind { byte_level, pieces };

struct decoder_info {
    decoder_kind kind = decoder_kind::pieces;
    bool byte_fallback = false;
    std::vector<std::pair<std::string, std::string>> replaces;  ///< in order
};

void read_decoder(simdjson::dom::element d, decoder_info& info, bool& fused,
                  const std::filesystem::path& file) {
    auto type = model::get_string(d, "type").value_or("");
    if (type == "Sequence") {
        simdjson::dom::array arr;
        auto ds = model::field(d, "decoders");
        if (!ds || ds->get_array().get(arr))
            throw format_error(file.string() + ": Sequence decoder without \"decoders\"");
        for (auto x : arr) read_decoder(x, info, fused, file);
    } else if (type == "ByteLevel") {
        info.kind = decoder_kind::byte_level;
    } else if (type == "ByteFallback") {
        info.byte_fallback = true;
    } else if (type == "Fuse") {
        fused = true;
    } else if (type == "Strip") {
        // After Fuse it strips only the start of the whole text, which a generation that follows
        // a prompt never is.
        if (!fused)
            throw unsupported_error(file.string() +
                                    ": constrained decoding: a Strip decoder before Fuse");
    } else if (type == "Replace") {
        auto pat = model::field(d, "pattern");
        std::optional<std::string> s;
        if (pat) s = model::get_string(*pat, "String");
        auto content = model::get_string(d, "content");
        if (!s || !content)
            throw unsupported_error(file.string() +
                                    ": constrained decoding: a Replace decoder with a regex");
        info.replaces.emplace_back(*s, *content);
    } else if (type == "Metaspace") {
        auto rep = model::get_string(d, "replacement").value_or("\xE2\x96\x81");
        info.replaces.emplace_back(rep, " ");
    } else {
        throw unsupported_error(file.string() + ": constrained decoding: decoder type '" + type +
                                "' is not supported (ByteLevel, Replace, ByteFallback, Fuse, "
                                "Strip, Metaspace)");
    }
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    if (from.empty()) return s;
    std::string out;
    std::size_t pos = 0;
    for (;;) {
        auto f = s.find(from, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += to;
        pos = f + from.size();
    }
    out.append(s, pos, std::string::npos);
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/// The bytes `tokenizers`' decoder chain gives for @p token alone (no start-of-text rules).
std::string token_to_bytes(const std::string& token, const decoder_info& info) {
    if (info.kind == decoder_kind::byte_level) {
        // As tokenizers' ByteLevel decoder: every char through the table, else the raw text.
        static thread_local std::vector<char32_t> cps;
        const auto& table = byte_level_decode_table();
        if (!utf8_decode(token, cps)) return token;
        std::string out;
        for (char32_t c : cps) {
            auto it = table.find(c);
            if (it == table.end()) return token;
            out += static_cast<char>(it->second);
        }
        return out;
    }
    if (info.byte_fallback && token.size() == 6 && token.compare(0, 3, "<0x") == 0 &&
        token[5] == '>') {
        const int hi = hex_value(token[3]), lo = hex_value(token[4]);
        if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
    }
    std::string out = token;
    for (const auto& [from, to] : info.replaces) out = replace_all(std::move(out), from, to);
    return out;
}

}  // namespace

std::shared_ptr<const token_vocab> token_vocab::from_tokenizer_json(
    const std::filesystem::path& path, std::vector<token_id> eos_ids, std::size_t n_logits) {
    const auto file = std::filesystem::is_directory(path) ? path / "tokenizer.json" : path;
    model::json_document doc(file);
    auto root = doc.root();
    auto mdl = model::field(root, "model");
    if (!mdl || !mdl->is_object()) doc.fail("no \"model\" object");
    simdjson::dom::object vocab;
    auto v = model::field(*mdl, "vocab");
    if (!v || v->get_object().get(vocab))
        throw unsupported_error(file.string() +
                                ": constrained decoding needs a vocabulary object (BPE)");
    // Added tokens: special ones are markup, never text; the others decode to their content
    // like any token (Gemma's whitespace runs, "<unused0>", ...).
    std::unordered_set<std::uint64_t> special;
    std::vector<std::pair<std::uint64_t, std::string>> plain_added;
    if (auto at = model::field(root, "added_tokens")) {
        simdjson::dom::array arr;
        if (at->get_array().get(arr)) doc.fail("added_tokens is not an array");
        for (auto t : arr) {
            auto id = model::get_int(t, "id");
            auto content = model::get_string(t, "content");
            if (!id || *id < 0 || !content) doc.fail("an added token lacks its id or content");
            if (model::get_bool(t, "special").value_or(false))
                special.insert(static_cast<std::uint64_t>(*id));
            else
                plain_added.emplace_back(static_cast<std::uint64_t>(*id), *content);
        }
    }
    std::unordered_set<std::uint64_t> plain_ids;
    for (const auto& a : plain_added) plain_ids.insert(a.first);
    decoder_info info;
    bool fused = false;
    auto dec = model::field(root, "decoder");
    if (!dec)
        throw unsupported_error(file.string() +
                                ": constrained decoding: the tokenizer has no decoder");
    read_decoder(*dec, info, fused, file);
    std::vector<token> toks;
    toks.reserve(vocab.size());
    for (auto [tok, idv] : vocab) {
        std::uint64_t id = 0;
        if (idv.get_uint64().get(id))
            doc.fail("model.vocab[\"" + std::string(tok) + "\"] is not an id");
        if (special.count(id) || plain_ids.count(id)) continue;
        std::string bytes = token_to_bytes(std::string(tok), info);
        if (bytes.empty()) continue;
        toks.push_back({static_cast<token_id>(id), std::move(bytes)});
    }
    for (auto& [id, content] : plain_added) {
        std::string bytes = token_to_bytes(content, info);
        if (!bytes.empty()) toks.push_back({static_cast<token_id>(id), std::move(bytes)});
    }
    return std::make_shared<const token_vocab>(std::move(toks), std::move(eos_ids), n_logits);
}

std::shared_ptr<const token_vocab> token_vocab::from_tokenizer(const model::hf_tokenizer& tok,
                                                               std::vector<token_id> eos_ids,
                                                               std::size_t n_logits) {
    return from_tokenizer_json(tok.path(), std::move(eos_ids), n_logits);
}

token_vocab::token_vocab(std::vector<token> tokens, std::vector<token_id> eos_ids,
                         std::size_t n_logits)
    : n_logits_(n_logits), eos_(std::move(eos_ids)), single_(256, false) {
    // Tokens the logits cannot select, empty ones and EOS ids are never text.
    std::erase_if(eos_, [&](token_id t) { return t >= n_logits; });
    std::erase_if(tokens, [&](const token& t) {
        return t.id >= n_logits || t.bytes.empty() ||
               std::find(eos_.begin(), eos_.end(), t.id) != eos_.end();
    });
    std::sort(tokens.begin(), tokens.end(), [](const token& a, const token& b) {
        return a.bytes != b.bytes ? a.bytes < b.bytes : a.id < b.id;
    });
    // Per-id byte strings.
    std::vector<const token*> by_id(n_logits, nullptr);
    for (const auto& t : tokens) by_id[t.id] = &t;
    offsets_.assign(n_logits + 1, 0);
    for (std::size_t i = 0; i < n_logits; ++i) {
        if (by_id[i]) data_ += by_id[i]->bytes;
        offsets_[i + 1] = static_cast<std::uint32_t>(data_.size());
    }
    for (const auto& t : tokens)
        if (t.bytes.size() == 1) single_[static_cast<unsigned char>(t.bytes[0])] = true;
    // Breadth-first trie over the sorted strings: each node owns a contiguous range of them;
    // its children are allocated contiguously, in byte order.
    struct pending {
        std::uint32_t node, lo, hi, depth;
    };
    nodes_.push_back({});
    std::deque<pending> queue{{0, 0, static_cast<std::uint32_t>(tokens.size()), 0}};
    while (!queue.empty()) {
        auto [nd, lo, hi, depth] = queue.front();
        queue.pop_front();
        nodes_[nd].first_token = static_cast<std::uint32_t>(node_tokens_.size());
        std::uint32_t i = lo;
        while (i < hi && tokens[i].bytes.size() == depth) node_tokens_.push_back(tokens[i++].id);
        nodes_[nd].n_tokens =
            static_cast<std::uint32_t>(node_tokens_.size()) - nodes_[nd].first_token;
        nodes_[nd].first_child = static_cast<std::uint32_t>(nodes_.size());
        while (i < hi) {
            const char b = tokens[i].bytes[depth];
            std::uint32_t j = i;
            while (j < hi && tokens[j].bytes[depth] == b) ++j;
            trie_node child;
            child.byte = static_cast<std::uint8_t>(b);
            nodes_.push_back(child);
            queue.push_back({static_cast<std::uint32_t>(nodes_.size() - 1), i, j, depth + 1});
            i = j;
        }
        nodes_[nd].n_children = static_cast<std::uint32_t>(nodes_.size()) - nodes_[nd].first_child;
    }
}

std::string_view token_vocab::bytes(token_id id) const noexcept {
    if (id >= n_logits_) return {};
    return std::string_view(data_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
}

// ---- constraint -------------------------------------------------------------------------------

namespace {
constexpr std::uint32_t unreachable = std::numeric_limits<std::uint32_t>::max();
}

struct constraint::memo {
    std::once_flag once;
    token_mask mask;  ///< every allowed token (budget permitting) + EOS when accepting
    /// Allowed text tokens sorted by the distance of the state they lead to, and for each
    /// distinct distance the end of its run: a budget of r allows the runs with distance < r.
    std::vector<token_id> by_dist;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;  ///< (distance, end index)
    std::uint32_t max_dist = 0;
};

constraint::constraint(std::shared_ptr<const grammar> g, std::shared_ptr<const token_vocab> vocab)
    : g_(std::move(g)), vocab_(std::move(vocab)) {
    const std::size_t n = g_->num_states();
    // Distances in single-byte tokens: BFS backwards from the accepting states over the bytes a
    // token spells alone.
    dist_.assign(n, unreachable);
    std::vector<std::vector<std::int32_t>> rev(n);
    const auto& single = vocab_->single_bytes();
    for (std::size_t s = 0; s < n; ++s)
        for (int b = 0; b < 256; ++b)
            if (single[std::size_t(b)])
                if (auto t = g_->step(static_cast<std::int32_t>(s), static_cast<std::uint8_t>(b));
                    t >= 0)
                    rev[std::size_t(t)].push_back(static_cast<std::int32_t>(s));
    std::deque<std::int32_t> q;
    for (std::size_t s = 0; s < n; ++s)
        if (g_->accepting(static_cast<std::int32_t>(s))) {
            dist_[s] = 0;
            q.push_back(static_cast<std::int32_t>(s));
        }
    while (!q.empty()) {
        auto s = q.front();
        q.pop_front();
        for (auto p : rev[std::size_t(s)])
            if (dist_[std::size_t(p)] == unreachable) {
                dist_[std::size_t(p)] = dist_[std::size_t(s)] + 1;
                q.push_back(p);
            }
    }
    memo_ = std::make_unique<memo[]>(n);
}

constraint::~constraint() = default;

std::shared_ptr<const constraint> constraint::compile(std::string_view schema_json,
                                                      std::shared_ptr<const token_vocab> vocab) {
    return std::make_shared<const constraint>(grammar::compile(schema_json), std::move(vocab));
}

std::uint32_t constraint::distance(state s) const noexcept {
    return s < 0 ? unreachable : dist_[std::size_t(s)];
}

bool constraint::is_eos(token_id t) const noexcept {
    const auto& e = vocab_->eos_ids();
    return std::find(e.begin(), e.end(), t) != e.end();
}

const constraint::memo& constraint::entry(state s) const {
    memo& m = memo_[std::size_t(s)];
    std::call_once(m.once, [&] {
        const auto& nodes = vocab_->nodes();
        const auto& node_tokens = vocab_->node_tokens();
        std::vector<std::pair<std::uint32_t, token_id>> found;  // (distance of end state, id)
        // Depth-first walk of the trie in lock-step with the DFA; a dead byte prunes the subtree.
        std::vector<std::pair<std::uint32_t, std::int32_t>> stack;
        const auto& root = nodes[0];
        for (std::uint32_t c = 0; c < root.n_children; ++c)
            stack.emplace_back(root.first_child + c, s);
        while (!stack.empty()) {
            auto [nd, from] = stack.back();
            stack.pop_back();
            const auto& node = nodes[nd];
            const std::int32_t to = g_->step(from, node.byte);
            if (to < 0) continue;
            const std::uint32_t d = dist_[std::size_t(to)];
            if (d == unreachable) continue;  // no way to finish from there
            for (std::uint32_t k = 0; k < node.n_tokens; ++k)
                found.emplace_back(d, node_tokens[node.first_token + k]);
            for (std::uint32_t c = 0; c < node.n_children; ++c)
                stack.emplace_back(node.first_child + c, to);
        }
        std::sort(found.begin(), found.end());
        m.mask.resize(vocab_->n_logits());
        m.by_dist.reserve(found.size());
        for (const auto& [d, id] : found) {
            m.mask.set(id);
            m.by_dist.push_back(id);
            if (m.runs.empty() || m.runs.back().first != d) m.runs.emplace_back(d, 0);
            m.runs.back().second = static_cast<std::uint32_t>(m.by_dist.size());
            m.max_dist = std::max(m.max_dist, d);
        }
        if (g_->accepting(s))
            for (auto e : vocab_->eos_ids()) m.mask.set(e);
    });
    return m;
}

const token_mask& constraint::allowed(state s, std::uint32_t remaining, token_mask& scratch) const {
    POLYGLOT_ASSERT(s >= 0 && static_cast<std::size_t>(s) < g_->num_states());
    const memo& m = entry(s);
    // A token leading to distance d needs d more tokens after itself.
    if (remaining == 0 || m.max_dist < remaining) return m.mask;
    scratch.resize(vocab_->n_logits());
    std::uint32_t begin = 0;
    for (const auto& [d, end] : m.runs) {
        if (d >= remaining) break;
        for (std::uint32_t i = begin; i < end; ++i) scratch.set(m.by_dist[i]);
        begin = end;
    }
    if (g_->accepting(s))
        for (auto e : vocab_->eos_ids()) scratch.set(e);
    return scratch;
}

bool constraint::complete(state s) const {
    return s >= 0 && g_->accepting(s) && entry(s).by_dist.empty();
}

std::shared_ptr<const constraint> constraint_cache::get(std::string_view schema_json) {
    std::lock_guard lock(mu_);
    for (const auto& [k, c] : items_)
        if (k == schema_json) return c;
    auto c = constraint::compile(schema_json, vocab_);
    // A handful of schemas per run; keep the most recent few (their masks are the cost).
    if (items_.size() >= 8) items_.erase(items_.begin());
    items_.emplace_back(std::string(schema_json), c);
    return c;
}

constraint::state constraint::advance(state s, token_id t) const noexcept {
    if (s < 0) return dead;
    const auto b = vocab_->bytes(t);
    if (b.empty()) return dead;
    const auto to = g_->walk(s, b);
    if (to < 0 || dist_[std::size_t(to)] == unreachable) return dead;
    return to;
}

}  // namespace constrained
POLYGLOT_END_NAMESPACE
