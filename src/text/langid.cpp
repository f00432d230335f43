// SPDX-License-Identifier: Apache-2.0
// fastText language identification behind text::langid's pimpl, and language-code
// normalisation.
#include <fasttext/fasttext.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <istream>
#include <limits>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/text/langid.hpp>
#include <streambuf>
#include <string>
#include <unordered_map>
#include <utility>

POLYGLOT_BEGIN_NAMESPACE
namespace text {
namespace {

// fastText 0.9.2's file header (src/fasttext.cc: FASTTEXT_FILEFORMAT_MAGIC_INT32 and
// FASTTEXT_VERSION); version 11 files are still read by fastText 0.9.2.
constexpr std::int32_t k_fasttext_magic = 793712314;
constexpr std::int32_t k_fasttext_min_version = 11;
constexpr std::int32_t k_fasttext_max_version = 12;
constexpr std::int32_t k_model_supervised = 3;  // fasttext::model_name::sup
constexpr std::string_view k_label_prefix = "__label__";

std::string path_string(const std::filesystem::path& p) { return p.string(); }

/// Walks a fastText model file's structure (the layout fastText 0.9.2 writes in
/// FastText::saveModel: header, Args, Dictionary, input matrix, output matrix) and checks every
/// size against the bytes that are actually there, before fastText's own loader runs:
/// fastText trusts the sizes and, on a truncated dictionary, loops forever appending EOF bytes
/// to a word. Hand-written because fastText has no validating loader.
class model_checker {
  public:
    model_checker(const std::filesystem::path& path, std::ifstream& in, std::uint64_t size)
        : path_(path), in_(in), remaining_(size) {}

    void check() {
        if (read<std::int32_t>("magic number") != k_fasttext_magic) {
            fail("not a fastText model (bad magic number)");
        }
        const auto version = read<std::int32_t>("version");
        if (version < k_fasttext_min_version || version > k_fasttext_max_version) {
            fail("unsupported fastText model version " + std::to_string(version) +
                 " (fastText 0.9.2 reads versions 11 and 12)");
        }
        // Args::load: dim ws epoch minCount neg wordNgrams loss model bucket minn maxn
        // lrUpdateRate (int32 each), t (double).
        dim_ = read<std::int32_t>("args.dim");
        const auto ws = read<std::int32_t>("args.ws");
        (void)ws;
        skip(3 * 4, "args");  // epoch, minCount, neg
        const auto word_ngrams = read<std::int32_t>("args.wordNgrams");
        const auto loss = read<std::int32_t>("args.loss");
        const auto model = read<std::int32_t>("args.model");
        const auto bucket = read<std::int32_t>("args.bucket");
        const auto minn = read<std::int32_t>("args.minn");
        const auto maxn = read<std::int32_t>("args.maxn");
        skip(4 + 8, "args");  // lrUpdateRate, t
        if (dim_ <= 0 || dim_ > (1 << 16)) fail("invalid dimension " + std::to_string(dim_));
        if (loss < 1 || loss > 4) fail("invalid loss " + std::to_string(loss));
        if (model < 1 || model > 3) fail("invalid model type " + std::to_string(model));
        if (model != k_model_supervised) {
            fail("is a fastText word-vector model, not a supervised classifier");
        }
        if (word_ngrams < 0 || word_ngrams > 1000 || bucket < 0 || minn < 0 || maxn < 0 ||
            maxn > 1000) {
            fail("invalid arguments (wordNgrams/bucket/minn/maxn)");
        }
        check_dictionary();
        const bool quant_input = read_bool("quantization flag of the input matrix");
        if (quant_input) {
            check_quant_matrix("input matrix", -1);
        } else {
            if (pruned_) fail("pruned dictionary with a non-quantized input matrix");
            check_dense_matrix("input matrix", -1);
        }
        const bool quant_output = read_bool("quantization flag of the output matrix");
        if (quant_input && quant_output) {
            check_quant_matrix("output matrix", nlabels_);
        } else {
            check_dense_matrix("output matrix", nlabels_);
        }
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        throw format_error(path_string(path_) + ": " + what);
    }
    [[noreturn]] void truncated(const char* what) const {
        fail(std::string("truncated fastText model (file ends in the ") + what + ")");
    }

    template <class T>
    T read(const char* what) {
        if (remaining_ < sizeof(T)) truncated(what);
        T v{};
        in_.read(reinterpret_cast<char*>(&v), sizeof(T));
        if (!in_) throw io_error(path_string(path_) + ": read error in the " + what);
        remaining_ -= sizeof(T);
        return v;
    }
    bool read_bool(const char* what) {
        const auto b = read<std::uint8_t>(what);
        if (b > 1) fail(std::string("invalid ") + what);
        return b != 0;
    }
    void skip(std::uint64_t n, const char* what) {
        if (remaining_ < n) truncated(what);
        in_.seekg(static_cast<std::streamoff>(n), std::ios::cur);
        if (!in_) throw io_error(path_string(path_) + ": read error in the " + what);
        remaining_ -= n;
    }
    /// n × elem bytes with overflow checks.
    void skip_array(std::int64_t n, std::uint64_t elem, const char* what) {
        if (n < 0) fail(std::string("negative size in the ") + what);
        const auto un = static_cast<std::uint64_t>(n);
        if (elem != 0 && un > remaining_ / elem) truncated(what);
        skip(un * elem, what);
    }

    void check_dictionary() {
        const auto size = read<std::int32_t>("dictionary header");
        const auto nwords = read<std::int32_t>("dictionary header");
        nlabels_ = read<std::int32_t>("dictionary header");
        (void)read<std::int64_t>("dictionary header");  // ntokens
        const auto pruneidx_size = read<std::int64_t>("dictionary header");
        if (size < 0 || nwords < 0 || nlabels_ < 0 ||
            static_cast<std::int64_t>(nwords) + nlabels_ != size) {
            fail("inconsistent dictionary sizes");
        }
        if (nlabels_ == 0) fail("the model has no labels");
        if (pruneidx_size < -1) fail("invalid pruned-dictionary size");
        pruned_ = pruneidx_size >= 0;
        // Entries: NUL-terminated word, int64 count, int8 type (0 word, 1 label); words first.
        std::streambuf& sb = *in_.rdbuf();
        for (std::int32_t i = 0; i < size; ++i) {
            for (;;) {
                if (remaining_ == 0) truncated("dictionary");
                const int c = sb.sbumpc();
                if (c == std::char_traits<char>::eof()) {
                    throw io_error(path_string(path_) + ": read error in the dictionary");
                }
                --remaining_;
                if (c == 0) break;
            }
            (void)read<std::int64_t>("dictionary");
            const auto type = read<std::int8_t>("dictionary");
            if (type != (i < nwords ? 0 : 1)) fail("inconsistent dictionary entry types");
        }
        if (pruned_) {
            if (static_cast<std::uint64_t>(pruneidx_size) > remaining_ / 8)
                truncated("pruned-dictionary index");
            prune_index_.reserve(static_cast<std::size_t>(pruneidx_size));
            for (std::int64_t i = 0; i < pruneidx_size; ++i) {
                const auto first = read<std::int32_t>("pruned-dictionary index");
                const auto second = read<std::int32_t>("pruned-dictionary index");
                prune_index_.emplace_back(first, second);
            }
        }
    }

  public:
    /// The pruned dictionary's (hashed n-gram id → row) pairs, as the file stores them.
    std::vector<std::pair<std::int32_t, std::int32_t>> prune_index_;
    bool pruned_ = false;

  private:
    void check_dense_matrix(const char* what, std::int64_t expected_rows) {
        const auto m = read<std::int64_t>(what);
        const auto n = read<std::int64_t>(what);
        if (m < 0 || n != dim_) fail(std::string("inconsistent shape of the ") + what);
        if (expected_rows >= 0 && m != expected_rows) {
            fail(std::string("the ") + what + " does not match the number of labels");
        }
        if (m > 0 && static_cast<std::uint64_t>(n) >
                         std::numeric_limits<std::int64_t>::max() / static_cast<std::uint64_t>(m)) {
            fail(std::string("inconsistent shape of the ") + what);
        }
        skip_array(m * n, 4, what);
    }

    void check_product_quantizer(const char* what) {
        const auto dim = read<std::int32_t>(what);
        const auto nsubq = read<std::int32_t>(what);
        const auto dsub = read<std::int32_t>(what);
        const auto lastdsub = read<std::int32_t>(what);
        if (dim <= 0 || dim > (1 << 16) || nsubq <= 0 || dsub <= 0 || lastdsub < 0) {
            fail(std::string("invalid product quantizer in the ") + what);
        }
        skip_array(static_cast<std::int64_t>(dim) * 256, 4, what);  // centroids, ksub = 256
    }

    void check_quant_matrix(const char* what, std::int64_t expected_rows) {
        const bool qnorm = read_bool(what);
        const auto m = read<std::int64_t>(what);
        const auto n = read<std::int64_t>(what);
        const auto codesize = read<std::int32_t>(what);
        if (m < 0 || n != dim_ || codesize < 0) {
            fail(std::string("inconsistent shape of the ") + what);
        }
        if (expected_rows >= 0 && m != expected_rows) {
            fail(std::string("the ") + what + " does not match the number of labels");
        }
        skip_array(codesize, 1, what);
        check_product_quantizer(what);
        if (qnorm) {
            skip_array(m, 1, what);  // norm codes
            check_product_quantizer(what);
        }
    }

    const std::filesystem::path& path_;
    std::ifstream& in_;
    std::uint64_t remaining_;
    std::int32_t dim_ = 0;
    std::int32_t nlabels_ = 0;
};

/// A read-only streambuf over a buffer: fastText's Dictionary::getLine reads an istream, and
/// this avoids copying the text into a std::istringstream.
class view_streambuf : public std::streambuf {
  public:
    view_streambuf(char* data, std::size_t size) { setg(data, data, data + size); }
};

inline bool is_fasttext_space(char c) noexcept {
    // Dictionary::readWord's separators.
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
}

/// fastText's Dictionary::getLine for supervised models (fastText 0.9.2 src/dictionary.cc:
/// readWord, addSubwords, computeSubwords, addWordNgrams, pushHash), with the one costly step
/// replaced: pushHash looks n-gram ids up in the pruned dictionary's std::unordered_map, which
/// took a third of all scoring time on lid.176.ftz; here the same index is a flat array over
/// the hash buckets. Every other step calls the Dictionary itself (getId, getType,
/// getSubwords), and the result is the same id sequence (tests compare predictions with the
/// fastText CLI's).
class line_encoder {
  public:
    /// Usable only for pruned models whose bucket count is small enough for a flat index.
    static constexpr std::int32_t max_flat_buckets = 1 << 24;

    line_encoder(const fasttext::Args& args, std::shared_ptr<const fasttext::Dictionary> dict,
                 const std::vector<std::pair<std::int32_t, std::int32_t>>& prune_index)
        : dict_(std::move(dict)),
          nwords_(dict_->nwords()),
          minn_(args.minn),
          maxn_(args.maxn),
          bucket_(args.bucket),
          word_ngrams_(args.wordNgrams),
          label_(args.label),
          flat_(static_cast<std::size_t>(bucket_), -1) {
        present_.assign((static_cast<std::size_t>(bucket_) + 63) / 64, 0);
        for (const auto& [from, to] : prune_index)
            if (from >= 0 && from < bucket_) {
                flat_[static_cast<std::size_t>(from)] = to;
                present_[static_cast<std::size_t>(from) / 64] |= std::uint64_t{1} << (from % 64);
            }
        no_subwords_ = prune_index.empty();
    }

    /// The input ids of one line (@p line ends with '\n' and has no other newline).
    void encode(std::string_view line, std::vector<std::int32_t>& words) const {
        words.clear();
        std::vector<std::int32_t> word_hashes;
        std::string token;
        std::size_t pos = 0;
        while (next_token(line, pos, token)) {
            const std::uint32_t h = hash(token);
            const std::int32_t wid = dict_->getId(token, h);
            const bool is_label = wid < 0 ? token.starts_with(label_)
                                          : dict_->getType(wid) == fasttext::entry_type::label;
            if (!is_label) {
                if (wid < 0) {
                    if (token != fasttext::Dictionary::EOS) subwords("<" + token + ">", words);
                } else if (maxn_ <= 0) {
                    words.push_back(wid);
                } else {
                    const auto& ngrams = dict_->getSubwords(wid);
                    words.insert(words.end(), ngrams.begin(), ngrams.end());
                }
                word_hashes.push_back(static_cast<std::int32_t>(h));
            }
            if (token == fasttext::Dictionary::EOS) break;
        }
        for (std::size_t i = 0; i < word_hashes.size(); ++i) {
            auto wh = static_cast<std::uint64_t>(static_cast<std::int64_t>(word_hashes[i]));
            for (std::size_t j = i + 1; j < word_hashes.size() &&
                                        j < i + static_cast<std::size_t>(std::max(word_ngrams_, 0));
                 ++j) {
                wh = wh * 116049371 +
                     static_cast<std::uint64_t>(static_cast<std::int64_t>(word_hashes[j]));
                push_hash(words,
                          static_cast<std::int32_t>(wh % static_cast<std::uint64_t>(bucket_)));
            }
        }
    }

  private:
    static std::uint32_t hash(std::string_view s) noexcept {
        std::uint32_t h = 2166136261u;
        for (char c : s) {
            h ^= static_cast<std::uint32_t>(static_cast<std::int8_t>(c));
            h *= 16777619u;
        }
        return h;
    }

    /// readWord over a buffer: tokens split at fastText's separators; '\n' ends the line as
    /// the token </s>.
    static bool next_token(std::string_view line, std::size_t& pos, std::string& token) {
        token.clear();
        while (pos < line.size()) {
            const char c = line[pos++];
            if (is_fasttext_space(c)) {
                if (token.empty()) {
                    if (c == '\n') {
                        token = fasttext::Dictionary::EOS;
                        return true;
                    }
                    continue;
                }
                if (c == '\n') --pos;
                return true;
            }
            token.push_back(c);
        }
        return !token.empty();
    }

    void push_hash(std::vector<std::int32_t>& out, std::int32_t id) const {
        if (no_subwords_ || id < 0) return;
        const auto i = static_cast<std::size_t>(id);
        if (!(present_[i / 64] >> (i % 64) & 1)) return;  // most ids were pruned away
        const std::int32_t row = flat_[i];
        if (row >= 0) out.push_back(nwords_ + row);
    }

    void subwords(const std::string& word, std::vector<std::int32_t>& out) const {
        const std::size_t n_bytes = word.size();
        for (std::size_t i = 0; i < n_bytes; ++i) {
            if ((word[i] & 0xC0) == 0x80) continue;
            std::uint32_t h = 2166136261u;
            std::size_t j = i;
            for (std::int32_t n = 1; j < n_bytes && n <= maxn_; ++n) {
                // Extend the n-gram by one UTF-8 character, hashing as fastText's string.
                do {
                    h ^= static_cast<std::uint32_t>(static_cast<std::int8_t>(word[j]));
                    h *= 16777619u;
                    ++j;
                } while (j < n_bytes && (word[j] & 0xC0) == 0x80);
                if (n >= minn_ && !(n == 1 && (i == 0 || j == n_bytes)))
                    push_hash(out,
                              static_cast<std::int32_t>(h % static_cast<std::uint32_t>(bucket_)));
            }
        }
    }

    std::shared_ptr<const fasttext::Dictionary> dict_;
    std::int32_t nwords_, minn_, maxn_, bucket_, word_ngrams_;
    std::string label_;
    std::vector<std::int32_t> flat_;  ///< hashed n-gram id → input row (-1: pruned away)
    /// One bit per id: kept ids are few (42,765 of 2M in lid.176.ftz), and this 250 KB bitmap
    /// stays in cache where the 8 MB array would not.
    std::vector<std::uint64_t> present_;
    bool no_subwords_ = false;
};

}  // namespace

struct langid::impl {
    std::filesystem::path path;
    fasttext::FastText model;
    std::shared_ptr<const fasttext::Dictionary> dict;
    std::vector<std::string> labels;              // label id -> label without prefix
    std::unique_ptr<const line_encoder> encoder;  // null: fastText's own getLine

    /// fastText's predictions (log-probabilities and label ids) for @p text, with the
    /// per-call state fastText's const predict() builds; empty for whitespace-only text.
    void predict_ids(std::string_view text, int k, fasttext::Predictions& out) const {
        out.clear();
        // One line, as Python fastText's predict(): fold newlines, append "\n" (→ </s>).
        std::string line;
        line.resize(text.size() + 1);
        bool has_word = false;
        for (std::size_t i = 0; i < text.size(); ++i) {
            char c = text[i];
            if (c == '\n' || c == '\r') c = ' ';
            has_word |= !is_fasttext_space(c);
            line[i] = c;
        }
        if (!has_word) return;
        line[text.size()] = '\n';
        std::vector<std::int32_t> words;
        if (encoder) {
            encoder->encode(line, words);
        } else {
            view_streambuf buf(line.data(), line.size());
            std::istream in(&buf);
            std::vector<std::int32_t> line_labels;
            dict->getLine(in, words, line_labels);
        }
        model.predict(k, words, out, 0.0f);
    }
};

langid::langid(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
langid::~langid() = default;

std::shared_ptr<const langid> langid::open(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        throw io_error(path_string(path) +
                       ": language-ID model not found (scripts/bootstrap fetches lid.176.ftz)");
    }
    if (std::filesystem::is_directory(path, ec)) {
        throw io_error(path_string(path) + ": is a directory, not a fastText model file");
    }
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw io_error(path_string(path) + ": cannot read file size: " + ec.message());
    std::vector<std::pair<std::int32_t, std::int32_t>> prune_index;
    bool pruned = false;
    {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw io_error(path_string(path) + ": cannot open language-ID model");
        model_checker checker(path, in, size);
        checker.check();
        prune_index = std::move(checker.prune_index_);
        pruned = checker.pruned_;
    }
    auto p = std::make_unique<impl>();
    p->path = path;
    try {
        p->model.loadModel(path.string());
    } catch (const std::bad_alloc&) {
        throw format_error(path_string(path) + ": out of memory loading the fastText model");
    } catch (const std::exception& e) {
        throw format_error(path_string(path) + ": fastText cannot load the model: " + e.what());
    }
    p->dict = p->model.getDictionary();
    const fasttext::Args args = p->model.getArgs();
    if (pruned && args.bucket > 0 && args.bucket <= line_encoder::max_flat_buckets)
        p->encoder = std::make_unique<const line_encoder>(args, p->dict, prune_index);
    const std::int32_t nlabels = p->dict->nlabels();
    p->labels.reserve(static_cast<std::size_t>(nlabels));
    for (std::int32_t i = 0; i < nlabels; ++i) {
        std::string label = p->dict->getLabel(i);
        if (std::string_view(label).starts_with(k_label_prefix)) {
            label.erase(0, k_label_prefix.size());
        }
        p->labels.push_back(std::move(label));
    }
    return std::shared_ptr<const langid>(new langid(std::move(p)));
}

std::vector<langid::prediction> langid::predict(std::string_view text, int k) const {
    if (k < 1)
        throw argument_error("langid::predict: k must be at least 1, got " + std::to_string(k));
    fasttext::Predictions preds;
    impl_->predict_ids(text, k, preds);
    std::vector<prediction> out;
    out.reserve(preds.size());
    for (const auto& [log_prob, id] : preds) {
        out.push_back({impl_->labels[static_cast<std::size_t>(id)], std::exp(log_prob)});
    }
    return out;
}

langid::prediction langid::top1(std::string_view text) const {
    fasttext::Predictions preds;
    impl_->predict_ids(text, 1, preds);
    if (preds.empty()) return {};
    return {impl_->labels[static_cast<std::size_t>(preds.front().second)],
            std::exp(preds.front().first)};
}

const std::vector<std::string>& langid::labels() const noexcept { return impl_->labels; }
const std::filesystem::path& langid::path() const noexcept { return impl_->path; }
std::string langid::name() const { return "fasttext:" + impl_->path.filename().string(); }

std::shared_ptr<const langid> open_langid(std::string_view name_or_path) {
    return langid::open(resolve_asset(name_or_path));
}

// ---- language codes ---------------------------------------------------------------------

namespace {

const std::unordered_map<std::string_view, std::string_view>& lang_aliases() {
    // ISO 639-2/B, 639-2/T and 639-3 codes, macrolanguage members, deprecated 639-1 codes and
    // English names → the lid.176 label. lid.176's labels are mostly ISO 639-1 (Wikipedia
    // language codes otherwise, e.g. "als" = Alemannic, "arz" = Egyptian Arabic, "ceb").
    static const std::unordered_map<std::string_view, std::string_view> table = {
        // The paper's languages (reference.md §2) and Tagalog / Filipino.
        {"ara", "ar"},
        {"arb", "ar"},
        {"arabic", "ar"},
        {"modern standard arabic", "ar"},
        {"standard arabic", "ar"},
        {"ces", "cs"},
        {"cze", "cs"},
        {"czech", "cs"},
        {"cestina", "cs"},
        {"čeština", "cs"},
        {"deu", "de"},
        {"ger", "de"},
        {"german", "de"},
        {"deutsch", "de"},
        {"spa", "es"},
        {"spanish", "es"},
        {"castilian", "es"},
        {"espanol", "es"},
        {"español", "es"},
        {"ind", "id"},
        {"in", "id"},
        {"indonesian", "id"},
        {"bahasa indonesia", "id"},
        {"jpn", "ja"},
        {"japanese", "ja"},
        {"tgl", "tl"},
        {"fil", "tl"},
        {"tagalog", "tl"},
        {"filipino", "tl"},
        // Other common languages.
        {"afr", "af"},
        {"afrikaans", "af"},
        {"amh", "am"},
        {"amharic", "am"},
        {"asm", "as"},
        {"assamese", "as"},
        {"aze", "az"},
        {"azj", "az"},
        {"azerbaijani", "az"},
        {"bak", "ba"},
        {"bashkir", "ba"},
        {"bel", "be"},
        {"belarusian", "be"},
        {"bul", "bg"},
        {"bulgarian", "bg"},
        {"ben", "bn"},
        {"bengali", "bn"},
        {"bangla", "bn"},
        {"bod", "bo"},
        {"tib", "bo"},
        {"tibetan", "bo"},
        {"bre", "br"},
        {"breton", "br"},
        {"bos", "bs"},
        {"bosnian", "bs"},
        {"cat", "ca"},
        {"catalan", "ca"},
        {"cym", "cy"},
        {"wel", "cy"},
        {"welsh", "cy"},
        {"dan", "da"},
        {"danish", "da"},
        {"ell", "el"},
        {"gre", "el"},
        {"greek", "el"},
        {"eng", "en"},
        {"english", "en"},
        {"epo", "eo"},
        {"esperanto", "eo"},
        {"est", "et"},
        {"ekk", "et"},
        {"estonian", "et"},
        {"eus", "eu"},
        {"baq", "eu"},
        {"basque", "eu"},
        {"fas", "fa"},
        {"per", "fa"},
        {"pes", "fa"},
        {"persian", "fa"},
        {"farsi", "fa"},
        {"fin", "fi"},
        {"finnish", "fi"},
        {"fra", "fr"},
        {"fre", "fr"},
        {"french", "fr"},
        {"francais", "fr"},
        {"français", "fr"},
        {"fry", "fy"},
        {"frisian", "fy"},
        {"western frisian", "fy"},
        {"gle", "ga"},
        {"irish", "ga"},
        {"gla", "gd"},
        {"scottish gaelic", "gd"},
        {"glg", "gl"},
        {"galician", "gl"},
        {"guj", "gu"},
        {"gujarati", "gu"},
        {"heb", "he"},
        {"iw", "he"},
        {"hebrew", "he"},
        {"hin", "hi"},
        {"hindi", "hi"},
        {"hrv", "hr"},
        {"croatian", "hr"},
        {"hat", "ht"},
        {"haitian", "ht"},
        {"haitian creole", "ht"},
        {"hun", "hu"},
        {"hungarian", "hu"},
        {"hye", "hy"},
        {"arm", "hy"},
        {"armenian", "hy"},
        {"isl", "is"},
        {"ice", "is"},
        {"icelandic", "is"},
        {"ita", "it"},
        {"italian", "it"},
        {"jav", "jv"},
        {"jw", "jv"},
        {"javanese", "jv"},
        {"kat", "ka"},
        {"geo", "ka"},
        {"georgian", "ka"},
        {"kaz", "kk"},
        {"kazakh", "kk"},
        {"khm", "km"},
        {"khmer", "km"},
        {"kan", "kn"},
        {"kannada", "kn"},
        {"kor", "ko"},
        {"korean", "ko"},
        {"kur", "ku"},
        {"kmr", "ku"},
        {"kurdish", "ku"},
        {"kir", "ky"},
        {"kyrgyz", "ky"},
        {"lat", "la"},
        {"latin", "la"},
        {"ltz", "lb"},
        {"luxembourgish", "lb"},
        {"lao", "lo"},
        {"lit", "lt"},
        {"lithuanian", "lt"},
        {"lav", "lv"},
        {"lvs", "lv"},
        {"latvian", "lv"},
        {"mlg", "mg"},
        {"plt", "mg"},
        {"malagasy", "mg"},
        {"mkd", "mk"},
        {"mac", "mk"},
        {"macedonian", "mk"},
        {"mal", "ml"},
        {"malayalam", "ml"},
        {"mon", "mn"},
        {"khk", "mn"},
        {"mongolian", "mn"},
        {"mar", "mr"},
        {"marathi", "mr"},
        {"msa", "ms"},
        {"may", "ms"},
        {"zsm", "ms"},
        {"malay", "ms"},
        {"mlt", "mt"},
        {"maltese", "mt"},
        {"mya", "my"},
        {"bur", "my"},
        {"burmese", "my"},
        {"nep", "ne"},
        {"npi", "ne"},
        {"nepali", "ne"},
        {"nld", "nl"},
        {"dut", "nl"},
        {"dutch", "nl"},
        {"flemish", "nl"},
        {"nno", "nn"},
        {"nynorsk", "nn"},
        {"norwegian nynorsk", "nn"},
        {"nor", "no"},
        {"nob", "no"},
        {"nb", "no"},
        {"norwegian", "no"},
        {"norwegian bokmal", "no"},
        {"norwegian bokmål", "no"},
        {"oci", "oc"},
        {"occitan", "oc"},
        {"ori", "or"},
        {"ory", "or"},
        {"odia", "or"},
        {"oriya", "or"},
        {"pan", "pa"},
        {"punjabi", "pa"},
        {"panjabi", "pa"},
        {"pol", "pl"},
        {"polish", "pl"},
        {"pus", "ps"},
        {"pbt", "ps"},
        {"pashto", "ps"},
        {"por", "pt"},
        {"portuguese", "pt"},
        {"que", "qu"},
        {"quechua", "qu"},
        {"roh", "rm"},
        {"romansh", "rm"},
        {"ron", "ro"},
        {"rum", "ro"},
        {"mo", "ro"},
        {"romanian", "ro"},
        {"rus", "ru"},
        {"russian", "ru"},
        {"san", "sa"},
        {"sanskrit", "sa"},
        {"snd", "sd"},
        {"sindhi", "sd"},
        {"sin", "si"},
        {"sinhala", "si"},
        {"sinhalese", "si"},
        {"slk", "sk"},
        {"slo", "sk"},
        {"slovak", "sk"},
        {"slv", "sl"},
        {"slovenian", "sl"},
        {"slovene", "sl"},
        {"som", "so"},
        {"somali", "so"},
        {"sqi", "sq"},
        {"alb", "sq"},
        {"albanian", "sq"},
        {"srp", "sr"},
        {"serbian", "sr"},
        {"hbs", "sh"},
        {"serbo-croatian", "sh"},
        {"sun", "su"},
        {"sundanese", "su"},
        {"swe", "sv"},
        {"swedish", "sv"},
        {"swa", "sw"},
        {"swh", "sw"},
        {"swahili", "sw"},
        {"kiswahili", "sw"},
        {"tam", "ta"},
        {"tamil", "ta"},
        {"tel", "te"},
        {"telugu", "te"},
        {"tgk", "tg"},
        {"tajik", "tg"},
        {"tha", "th"},
        {"thai", "th"},
        {"tuk", "tk"},
        {"turkmen", "tk"},
        {"tur", "tr"},
        {"turkish", "tr"},
        {"tat", "tt"},
        {"tatar", "tt"},
        {"uig", "ug"},
        {"uyghur", "ug"},
        {"uighur", "ug"},
        {"ukr", "uk"},
        {"ukrainian", "uk"},
        {"urd", "ur"},
        {"urdu", "ur"},
        {"uzb", "uz"},
        {"uzn", "uz"},
        {"uzbek", "uz"},
        {"vie", "vi"},
        {"vietnamese", "vi"},
        {"yid", "yi"},
        {"ydd", "yi"},
        {"ji", "yi"},
        {"yiddish", "yi"},
        {"yor", "yo"},
        {"yoruba", "yo"},
        {"zho", "zh"},
        {"chi", "zh"},
        {"cmn", "zh"},
        {"chinese", "zh"},
        {"mandarin", "zh"},
        {"cantonese", "yue"},
        {"gsw", "als"},
        {"alemannic", "als"},
        {"swiss german", "als"},
        {"cebuano", "ceb"},
        {"waray", "war"},
        // Undetermined: no target language.
        {"und", ""},
    };
    return table;
}

}  // namespace

std::string normalize_lang_code(std::string_view code) {
    while (!code.empty() && (code.front() == ' ' || code.front() == '\t')) code.remove_prefix(1);
    while (!code.empty() && (code.back() == ' ' || code.back() == '\t')) code.remove_suffix(1);
    std::string s(code);
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    const auto& table = lang_aliases();
    if (auto it = table.find(s); it != table.end()) return std::string(it->second);
    // POSIX locale suffixes ("de_DE.UTF-8", "sr_RS@latin"), then the primary subtag.
    if (auto cut = s.find_first_of(".@"); cut != std::string::npos) s.resize(cut);
    if (auto cut = s.find_first_of("-_"); cut != std::string::npos) s.resize(cut);
    if (auto it = table.find(s); it != table.end()) return std::string(it->second);
    return s;
}

}  // namespace text
POLYGLOT_END_NAMESPACE
