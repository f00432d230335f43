// SPDX-License-Identifier: Apache-2.0
// text::tiktoken_tokenizer: loading npm tiktoken encoder JSON, building the lookup tables,
// and the binary cache image (see tiktoken_internal.hpp for the layout).
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <string>
#include <utility>

#include "base/tokenizers/tiktoken/tiktoken_internal.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text {

namespace td = tiktoken_detail;

namespace {

static_assert(std::endian::native == std::endian::little,
              "the tiktoken binary table image is little-endian");

// The exact `pat_str` of each table we have a hand-written splitter for.
constexpr std::string_view cl100k_pat =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view o200k_pat =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::size_t pad8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

std::uint32_t bits_for(std::size_t entries) {
    // Load factor <= 1/2, at least 256 slots.
    std::uint32_t bits = 8;
    while ((std::size_t{1} << bits) < 2 * entries) ++bits;
    return bits;
}

/// Section offsets of an image described by @p h (byte offsets from the start).
struct layout {
    std::size_t offsets, blob, str, pair, byte_token, total;
};
layout layout_of(std::uint32_t n_tokens, std::uint64_t blob_size, std::uint32_t str_bits,
                 std::uint32_t pair_bits) {
    layout l{};
    l.offsets = sizeof(td::file_header);
    l.blob = l.offsets + pad8((std::size_t{n_tokens} + 1) * 4);
    l.str = l.blob + pad8(static_cast<std::size_t>(blob_size));
    l.pair = l.str + pad8((std::size_t{1} << str_bits) * 4);
    l.byte_token = l.pair + (std::size_t{1} << pair_bits) * 8;
    l.total = l.byte_token + 256 * 4;
    return l;
}

/// Points the table views into t.storage (which holds a complete image described by h).
void attach(tiktoken_tokenizer::tables& t, const td::file_header& h) {
    const layout l = layout_of(h.n_tokens, h.blob_size, h.str_bits, h.pair_bits);
    const auto* base = reinterpret_cast<const unsigned char*>(t.storage.data());
    t.size_bytes = l.total;
    t.pat = static_cast<td::pattern>(h.pattern);
    t.n_tokens = h.n_tokens;
    t.max_token_len = h.max_token_len;
    t.offsets = reinterpret_cast<const std::uint32_t*>(base + l.offsets);
    t.blob = base + l.blob;
    t.str_slots = reinterpret_cast<const std::uint32_t*>(base + l.str);
    t.str_mask = (std::size_t{1} << h.str_bits) - 1;
    t.pair_slots = reinterpret_cast<const std::uint64_t*>(base + l.pair);
    t.pair_bits = h.pair_bits;
    t.byte_token = reinterpret_cast<const std::uint32_t*>(base + l.byte_token);
    t.name.assign(h.name, strnlen(h.name, sizeof h.name));
}

/// Fills t.byte_pair from the (complete) pair table and gives the tables their serial number.
void fill_byte_pairs(tiktoken_tokenizer::tables& t) {
    static std::atomic<std::uint64_t> next_serial{1};
    t.serial = next_serial.fetch_add(1, std::memory_order_relaxed);
    t.byte_pair.assign(256 * 256, td::no_id);
    for (unsigned a = 0; a < 256; ++a)
        for (unsigned b = 0; b < 256; ++b)
            t.byte_pair[a * 256 + b] = t.pair(t.byte_token[a], t.byte_token[b]);
}

// Hand-written because no library we link decodes base64 (Boost's is a Beast detail header);
// it is 20 lines and only runs when a table is first built.
bool base64_decode(std::string_view in, std::string& out) {
    static constexpr auto table = [] {
        std::array<signed char, 256> t{};
        t.fill(-1);
        const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; ++i)
            t[static_cast<unsigned char>(a[i])] = static_cast<signed char>(i);
        return t;
    }();
    out.clear();
    while (!in.empty() && in.back() == '=') in.remove_suffix(1);
    if (in.size() % 4 == 1) return false;
    std::uint32_t acc = 0;
    int nbits = 0;
    for (char c : in) {
        const int v = table[static_cast<unsigned char>(c)];
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out.push_back(static_cast<char>((acc >> nbits) & 0xff));
        }
    }
    return true;
}

std::uint64_t parse_u64(std::string_view s, const std::string& origin, std::size_t line) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
        throw format_error(origin + ": bpe_ranks line " + std::to_string(line) + ": bad rank '" +
                           std::string(s.substr(0, 32)) + "'");
    return v;
}

/// Parses npm tiktoken's `bpe_ranks` text into token bytes indexed by rank. Two formats, as
/// the Rust core of npm tiktoken (wasm/src/lib.rs, parse_bfe) reads them:
///  - compressed (text starts with '!'): lines "! <first rank> <b64> <b64> ...", the i-th
///    base64 token of a line has rank <first rank> + i;
///  - plain `.tiktoken`: lines "<b64> <rank>".
std::vector<std::string> parse_bpe_ranks(std::string_view text, const std::string& origin) {
    std::vector<std::string> by_rank;
    std::vector<bool> seen;
    std::string bytes;
    auto add = [&](std::uint64_t rank, std::string_view b64, std::size_t line) {
        if (rank >= td::max_tokens)
            throw unsupported_error(origin + ": rank " + std::to_string(rank) +
                                    " exceeds the supported vocabulary size");
        if (!base64_decode(b64, bytes) || bytes.empty())
            throw format_error(origin + ": bpe_ranks line " + std::to_string(line) +
                               ": bad base64 token '" + std::string(b64.substr(0, 32)) + "'");
        if (rank >= by_rank.size()) {
            by_rank.resize(rank + 1);
            seen.resize(rank + 1);
        }
        if (seen[rank])
            throw format_error(origin + ": bpe_ranks: rank " + std::to_string(rank) + " twice");
        seen[rank] = true;
        by_rank[rank] = bytes;
    };
    const bool compressed = !text.empty() && text.front() == '!';
    std::size_t line_no = 0;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        std::size_t field = 0;
        std::uint64_t rank = 0;
        std::string_view first;
        while (!line.empty()) {
            const std::size_t sp = line.find(' ');
            const std::string_view f = line.substr(0, sp);
            line = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
            if (compressed) {
                if (field == 1) rank = parse_u64(f, origin, line_no);
                if (field >= 2) add(rank + (field - 2), f, line_no);
            } else if (field == 0) {
                first = f;
            } else if (field == 1) {
                add(parse_u64(f, origin, line_no), first, line_no);
            }
            ++field;
        }
        if (field < 2 || (!compressed && field != 2))
            throw format_error(origin + ": bpe_ranks line " + std::to_string(line_no) +
                               (compressed ? ": expected '! <rank> <base64>...'"
                                           : ": expected '<base64> <rank>'"));
    }
    if (by_rank.empty()) throw format_error(origin + ": bpe_ranks is empty");
    return by_rank;
}

/// Builds the full image from token bytes indexed by rank.
std::unique_ptr<tiktoken_tokenizer::tables> build_tables(const std::vector<std::string>& by_rank,
                                                         td::pattern pat, std::string_view name,
                                                         std::uint64_t source_size,
                                                         std::uint64_t source_hash,
                                                         const std::string& origin) {
    const auto n = static_cast<std::uint32_t>(by_rank.size());
    std::uint64_t blob_size = 0;
    std::uint32_t max_len = 0;
    std::size_t n_nonempty = 0;
    for (const auto& b : by_rank) {
        blob_size += b.size();
        max_len = std::max<std::uint32_t>(max_len, static_cast<std::uint32_t>(b.size()));
        n_nonempty += !b.empty();
    }
    if (blob_size >= 0xffffffffu) throw unsupported_error(origin + ": token table too large");

    // Merge pairs: every split of a token into two tokens. Found through a temporary
    // byte-string map (the image's own str table, built first).
    td::file_header h{};
    std::memcpy(h.magic, td::binary_magic, sizeof h.magic);
    h.version = td::binary_version;
    h.pattern = static_cast<std::uint32_t>(pat);
    h.n_tokens = n;
    h.max_token_len = max_len;
    h.str_bits = bits_for(n_nonempty);
    h.blob_size = blob_size;
    h.source_size = source_size;
    h.source_hash = source_hash;
    std::memcpy(h.name, name.data(), std::min(name.size(), sizeof h.name - 1));

    // Pass 1: offsets, blob and str table in a scratch image with a 1-slot pair table.
    auto t = std::make_unique<tiktoken_tokenizer::tables>();
    auto fill_common = [&](tiktoken_tokenizer::tables& img) {
        const layout l = layout_of(n, blob_size, h.str_bits, h.pair_bits);
        img.storage.assign(l.total / 8 + 1, 0);
        auto* base = reinterpret_cast<unsigned char*>(img.storage.data());
        auto* offsets = reinterpret_cast<std::uint32_t*>(base + l.offsets);
        auto* blob = base + l.blob;
        std::uint32_t off = 0;
        for (std::uint32_t r = 0; r < n; ++r) {
            offsets[r] = off;
            std::memcpy(blob + off, by_rank[r].data(), by_rank[r].size());
            off += static_cast<std::uint32_t>(by_rank[r].size());
        }
        offsets[n] = off;
        auto* str = reinterpret_cast<std::uint32_t*>(base + l.str);
        std::fill_n(str, std::size_t{1} << h.str_bits, td::no_id);
        const std::size_t mask = (std::size_t{1} << h.str_bits) - 1;
        for (std::uint32_t r = 0; r < n; ++r) {
            const auto& b = by_rank[r];
            if (b.empty()) continue;
            const std::uint64_t hv = td::hash_bytes(b.data(), b.size());
            const auto tag = static_cast<std::uint32_t>(hv >> 53);
            std::size_t i = hv & mask;
            for (;; i = (i + 1) & mask) {
                const std::uint32_t s = str[i];
                if (s == td::no_id) break;
                if (by_rank[s & td::id_mask] == b)
                    throw format_error(origin + ": bpe_ranks: ranks " +
                                       std::to_string(s & td::id_mask) + " and " +
                                       std::to_string(r) + " have the same bytes");
            }
            str[i] = (tag << td::id_bits) | r;
        }
        std::fill_n(reinterpret_cast<std::uint64_t*>(base + l.pair), std::size_t{1} << h.pair_bits,
                    ~std::uint64_t{0});
        auto* bt = reinterpret_cast<std::uint32_t*>(base + l.byte_token);
        std::memcpy(base, &h, sizeof h);
        attach(img, h);
        for (unsigned b = 0; b < 256; ++b) {
            const auto c = static_cast<unsigned char>(b);
            bt[b] = img.find(&c, 1);
            if (bt[b] == td::no_id)
                throw format_error(origin + ": bpe_ranks has no token for the byte " +
                                   std::to_string(b) + " (byte-level BPE needs all 256)");
        }
    };
    h.pair_bits = 8;
    fill_common(*t);
    std::vector<std::uint64_t> pairs;  // (key, value)
    pairs.reserve(static_cast<std::size_t>(n) * 3);
    for (std::uint32_t r = 0; r < n; ++r) {
        const auto& b = by_rank[r];
        const auto* p = reinterpret_cast<const unsigned char*>(b.data());
        for (std::size_t k = 1; k < b.size(); ++k) {
            const std::uint32_t left = t->find(p, k);
            if (left == td::no_id) continue;
            const std::uint32_t right = t->find(p + k, b.size() - k);
            if (right == td::no_id) continue;
            pairs.push_back(td::pair_key(left, right) | (std::uint64_t{r} << (2 * td::id_bits)));
        }
    }
    // Pass 2: the final image with a pair table sized for the pairs found.
    h.pair_bits = bits_for(pairs.size());
    auto img = std::make_unique<tiktoken_tokenizer::tables>();
    fill_common(*img);
    auto* base = reinterpret_cast<unsigned char*>(img->storage.data());
    const layout l = layout_of(n, blob_size, h.str_bits, h.pair_bits);
    auto* slots = reinterpret_cast<std::uint64_t*>(base + l.pair);
    const std::size_t mask = (std::size_t{1} << h.pair_bits) - 1;
    for (const std::uint64_t e : pairs) {
        std::size_t i = td::pair_slot_index(e & td::pair_key_mask, h.pair_bits);
        while (slots[i] != ~std::uint64_t{0}) i = (i + 1) & mask;
        slots[i] = e;
    }
    auto* hdr = reinterpret_cast<td::file_header*>(base);
    hdr->payload_hash = td::hash_bytes(base + sizeof h, l.total - sizeof h);
    fill_byte_pairs(*img);
    return img;
}

/// Checks an image completely (sizes, checksum, every index) so that a damaged or foreign
/// file can never cause an out-of-bounds read. Returns an empty string if it is sound.
std::string validate_image(const unsigned char* base, std::size_t size) {
    if (size < sizeof(td::file_header)) return "too short for a header";
    td::file_header h;
    std::memcpy(&h, base, sizeof h);
    if (std::memcmp(h.magic, td::binary_magic, sizeof h.magic) != 0)
        return "not a polyglot tiktoken table (bad magic)";
    if (h.version != td::binary_version)
        return "table version " + std::to_string(h.version) + ", expected " +
               std::to_string(td::binary_version);
    if (h.pattern != static_cast<std::uint32_t>(td::pattern::cl100k) &&
        h.pattern != static_cast<std::uint32_t>(td::pattern::o200k))
        return "unknown pattern kind";
    if (h.n_tokens < 256 || h.n_tokens > td::max_tokens || h.str_bits < 8 || h.str_bits > 30 ||
        h.pair_bits < 8 || h.pair_bits > 30 || h.blob_size >= 0xffffffffu)
        return "implausible sizes in header";
    const layout l = layout_of(h.n_tokens, h.blob_size, h.str_bits, h.pair_bits);
    if (size != l.total)
        return "size " + std::to_string(size) + " bytes, header implies " + std::to_string(l.total);
    if (td::hash_bytes(base + sizeof h, size - sizeof h) != h.payload_hash)
        return "checksum mismatch";
    std::vector<std::uint32_t> offs(h.n_tokens + 1);
    std::memcpy(offs.data(), base + l.offsets, offs.size() * 4);
    if (offs[0] != 0 || offs[h.n_tokens] != h.blob_size) return "bad token offsets";
    std::uint32_t max_len = 0;
    for (std::uint32_t i = 0; i < h.n_tokens; ++i) {
        if (offs[i + 1] < offs[i]) return "bad token offsets";
        max_len = std::max(max_len, offs[i + 1] - offs[i]);
    }
    if (max_len != h.max_token_len) return "bad max token length";
    for (std::size_t i = 0; i < (std::size_t{1} << h.str_bits); ++i) {
        std::uint32_t s;
        std::memcpy(&s, base + l.str + 4 * i, 4);
        if (s != td::no_id && (s & td::id_mask) >= h.n_tokens) return "bad string table";
    }
    for (std::size_t i = 0; i < (std::size_t{1} << h.pair_bits); ++i) {
        std::uint64_t s;
        std::memcpy(&s, base + l.pair + 8 * i, 8);
        if (s == ~std::uint64_t{0}) continue;
        if ((s >> (2 * td::id_bits)) >= h.n_tokens ||
            ((s >> td::id_bits) & td::id_mask) >= h.n_tokens || (s & td::id_mask) >= h.n_tokens)
            return "bad pair table";
    }
    for (std::size_t b = 0; b < 256; ++b) {
        std::uint32_t id;
        std::memcpy(&id, base + l.byte_token + 4 * b, 4);
        if (id >= h.n_tokens || offs[id + 1] - offs[id] != 1 || base[l.blob + offs[id]] != b)
            return "bad byte table";
    }
    return {};
}

/// Loads an image from @p bytes; throws format_error naming @p origin if it is unsound.
std::unique_ptr<tiktoken_tokenizer::tables> load_image(std::string_view bytes,
                                                       const std::string& origin) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (std::string why = validate_image(p, bytes.size()); !why.empty())
        throw format_error(origin + ": " + why);
    auto t = std::make_unique<tiktoken_tokenizer::tables>();
    t->storage.assign(bytes.size() / 8 + 1, 0);
    std::memcpy(t->storage.data(), bytes.data(), bytes.size());
    td::file_header h;
    std::memcpy(&h, bytes.data(), sizeof h);
    attach(*t, h);
    fill_byte_pairs(*t);
    return t;
}

std::unique_ptr<tiktoken_tokenizer::tables> tables_from_json(std::string_view json,
                                                             std::string_view table_name,
                                                             const std::string& origin) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element doc;
    if (auto err = parser.parse(padded).get(doc))
        throw format_error(origin + ": invalid JSON: " + simdjson::error_message(err));
    std::string_view pat, ranks;
    if (doc["bpe_ranks"].get(ranks))
        throw format_error(origin +
                           ": not an npm tiktoken encoder JSON (no string 'bpe_ranks'); for a "
                           "Hugging Face tokenizer pass its directory or tokenizer.json");
    if (doc["pat_str"].get(pat))
        throw format_error(origin + ": not an npm tiktoken encoder JSON (no string 'pat_str')");
    td::pattern kind;
    if (pat == cl100k_pat)
        kind = td::pattern::cl100k;
    else if (pat == o200k_pat)
        kind = td::pattern::o200k;
    else
        throw unsupported_error(origin +
                                ": pat_str is not the cl100k_base or o200k_base pattern; "
                                "the hand-written pre-tokenizer supports only those two");
    const auto by_rank = parse_bpe_ranks(ranks, origin);
    return build_tables(by_rank, kind, table_name, json.size(),
                        td::hash_bytes(json.data(), json.size()), origin);
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

tiktoken_tokenizer::tiktoken_tokenizer(std::unique_ptr<const tables> t) : t_(std::move(t)) {}
tiktoken_tokenizer::~tiktoken_tokenizer() = default;

std::filesystem::path tiktoken_tokenizer::cache_path(const std::filesystem::path& json_path) {
    auto p = json_path;
    p.replace_extension(".tiktoken.bin");
    return p;
}

std::shared_ptr<const tiktoken_tokenizer> tiktoken_tokenizer::from_json(std::string_view json,
                                                                        std::string_view table_name,
                                                                        std::string_view origin) {
    return std::make_shared<const tiktoken_tokenizer>(
        tables_from_json(json, table_name, std::string(origin)));
}

std::shared_ptr<const tiktoken_tokenizer> tiktoken_tokenizer::open(
    const std::filesystem::path& path) {
    const std::string origin = path.string();
    std::string content = io::read_file(path);
    if (content.size() >= sizeof(td::file_header) &&
        std::memcmp(content.data(), td::binary_magic, sizeof td::binary_magic) == 0)
        return std::make_shared<const tiktoken_tokenizer>(load_image(content, origin));

    // An encoder JSON: use the binary cache beside it when it was made from these exact bytes.
    std::string name = path.filename().string();
    for (std::string_view ext : {".tiktoken.json", ".json"})
        if (ends_with(name, ext)) {
            name.resize(name.size() - ext.size());
            break;
        }
    const std::uint64_t source_hash = td::hash_bytes(content.data(), content.size());
    const auto cache = cache_path(path);
    std::error_code ec;
    if (std::filesystem::is_regular_file(cache, ec)) {
        try {
            std::string bin = io::read_file(cache);
            td::file_header h{};
            if (bin.size() >= sizeof h) std::memcpy(&h, bin.data(), sizeof h);
            if (bin.size() >= sizeof h && h.source_size == content.size() &&
                h.source_hash == source_hash)
                return std::make_shared<const tiktoken_tokenizer>(load_image(bin, cache.string()));
        } catch (const error&) {
            // A stale or damaged cache is rebuilt below.
        }
    }
    auto t = tables_from_json(content, name, origin);
    try {
        io::write_file_atomic(
            cache,
            std::string_view(reinterpret_cast<const char*>(t->storage.data()), t->size_bytes));
    } catch (const error&) {
        // Read-only data directory: parse the JSON every time.
    }
    return std::make_shared<const tiktoken_tokenizer>(std::move(t));
}

std::string tiktoken_tokenizer::name() const { return "tiktoken:" + t_->name; }

std::size_t tiktoken_tokenizer::vocab_size() const noexcept { return t_->n_tokens; }

std::string_view tiktoken_tokenizer::token_bytes(token_id id) const noexcept {
    if (id >= t_->n_tokens) return {};
    return t_->bytes(id);
}

std::string tiktoken_tokenizer::decode(const std::vector<token_id>& ids) const {
    std::string out;
    for (token_id id : ids) out += token_bytes(id);
    return out;
}

std::string_view tiktoken_tokenizer::serialize() const noexcept {
    return {reinterpret_cast<const char*>(t_->storage.data()), t_->size_bytes};
}

}  // namespace text
POLYGLOT_END_NAMESPACE
