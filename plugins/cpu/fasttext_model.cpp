// SPDX-License-Identifier: Apache-2.0
#include "fasttext_model.hpp"

#include <fasttext/fasttext.h>
#include <oneapi/tbb/task_arena.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <polyglot/core/error.hpp>
#include <polyglot/parallel/reduce.hpp>
#include <sstream>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace cpu {
namespace {

// fastText's file header (fasttext.cc: FASTTEXT_FILEFORMAT_MAGIC_INT32, FASTTEXT_VERSION).
constexpr std::int32_t fasttext_magic = 793712314;
constexpr std::int32_t fasttext_version = 12;

struct header {
    std::int32_t magic = 0;
    std::int32_t version = 0;
    bool ok = false;
};

header read_header(const std::filesystem::path& path) {
    header h;
    std::ifstream in(path, std::ios::binary);
    if (!in) return h;
    in.read(reinterpret_cast<char*>(&h.magic), sizeof h.magic);
    in.read(reinterpret_cast<char*>(&h.version), sizeof h.version);
    h.ok = static_cast<bool>(in);
    return h;
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

/// Walks the whole fastText file layout (fasttext.cc saveModel: header, Args, Dictionary,
/// input and output matrices, dense or product-quantized) checking every size against the
/// file, without allocating anything the file does not back. fastText's loader trusts the
/// file: a truncated model loads as garbage or asks for gigabytes, so this runs first.
/// Throws format_error naming the file and what is wrong.
class layout_checker {
  public:
    explicit layout_checker(const std::filesystem::path& path)
        : path_(path), in_(path, std::ios::binary) {
        std::error_code ec;
        size_ = std::filesystem::file_size(path, ec);
        if (ec || !in_) throw io_error("fastText model '" + path.string() + "': cannot be read");
    }

    void check() {
        skip(8);  // magic, version (checked by the caller)
        const auto dim = get<std::int32_t>("dim");
        skip(11 * 4 + 8);  // ws .. lrUpdateRate (int32 x 11), t (double)
        if (dim <= 0 || dim > (1 << 20)) fail("implausible dimension " + std::to_string(dim));
        // Dictionary
        const auto size = get<std::int32_t>("dictionary size");
        const auto nwords = get<std::int32_t>("word count");
        const auto nlabels = get<std::int32_t>("label count");
        skip(8);  // ntokens
        const auto pruneidx = get<std::int64_t>("pruned index size");
        if (size < 0 || nwords < 0 || nlabels < 0 || std::int64_t{nwords} + nlabels != size)
            fail("inconsistent dictionary counts");
        if (pruneidx < 0 && pruneidx != -1) fail("inconsistent dictionary prune index");
        for (std::int32_t i = 0; i < size; ++i) {
            std::string word;
            if (!std::getline(in_, word, '\0'))
                fail("dictionary cut short (word " + std::to_string(i) + " of " +
                     std::to_string(size) + ")");
            if (in_.eof() || pos_ + word.size() + 1 > size_)
                fail("dictionary cut short (word " + std::to_string(i) + " of " +
                     std::to_string(size) + ")");
            pos_ += word.size() + 1;
            skip(8 + 1);  // count (int64), type (int8)
        }
        if (pruneidx > 0) skip(static_cast<std::uint64_t>(pruneidx) * 8);
        // Matrices
        const bool quant_input = get<std::uint8_t>("quantization flag") != 0;
        matrix(quant_input, "input");
        const bool quant_output = get<std::uint8_t>("output quantization flag") != 0;
        matrix(quant_output, "output");
        if (pos_ != size_)
            fail("has " + std::to_string(size_ - pos_) + " unexpected trailing bytes");
    }

  private:
    template <class T>
    T get(const char* what) {
        T v{};
        if (pos_ + sizeof(T) > size_) fail(std::string("cut short while reading the ") + what);
        in_.read(reinterpret_cast<char*>(&v), sizeof v);
        if (!in_) fail(std::string("read error at the ") + what);
        pos_ += sizeof(T);
        return v;
    }
    void skip(std::uint64_t n) {
        if (n > size_ || pos_ + n > size_)
            fail("truncated: needs at least " + std::to_string(pos_ + n) + " bytes, the file has " +
                 std::to_string(size_));
        pos_ += n;
        in_.seekg(static_cast<std::streamoff>(pos_));
    }
    void product_quantizer() {
        const auto dim = get<std::int32_t>("quantizer dim");
        skip(3 * 4);  // nsubq, dsub, lastdsub
        if (dim <= 0) fail("invalid quantizer dimension");
        skip(static_cast<std::uint64_t>(dim) * 256 * 4);  // centroids: dim * ksub floats
    }
    void matrix(bool quantized, const char* which) {
        if (!quantized) {
            const auto m = get<std::int64_t>("matrix rows");
            const auto n = get<std::int64_t>("matrix columns");
            if (m < 0 || n < 0 || (n > 0 && static_cast<std::uint64_t>(m) > size_ / 4 / n))
                fail(std::string("truncated or corrupt ") + which + " matrix (" +
                     std::to_string(m) + " x " + std::to_string(n) + ")");
            skip(static_cast<std::uint64_t>(m) * static_cast<std::uint64_t>(n) * 4);
            return;
        }
        const bool qnorm = get<std::uint8_t>("quantized norm flag") != 0;
        const auto m = get<std::int64_t>("matrix rows");
        skip(8);  // n
        const auto codesize = get<std::int32_t>("code size");
        if (m < 0 || codesize < 0) fail(std::string("corrupt quantized ") + which + " matrix");
        skip(static_cast<std::uint64_t>(codesize));
        product_quantizer();
        if (qnorm) {
            skip(static_cast<std::uint64_t>(m));
            product_quantizer();
        }
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw format_error("fastText model '" + path_.string() +
                           "' is truncated or corrupt: " + what);
    }

    std::filesystem::path path_;
    std::ifstream in_;
    std::uint64_t size_ = 0;
    std::uint64_t pos_ = 0;
};

/// fastText's own separators (Dictionary::readWord): a token ends at one of these.
constexpr bool is_fasttext_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
}

class fasttext_model final : public model {
  public:
    explicit fasttext_model(const model_request& req) : path_(req.path), threads_(req.threads) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path_, ec))
            throw io_error("fastText model '" + path_.string() + "': no such file");
        header h = read_header(path_);
        if (!h.ok) throw io_error("fastText model '" + path_.string() + "': cannot be read");
        if (h.magic != fasttext_magic)
            throw format_error("'" + path_.string() + "' is not a fastText model (bad magic)");
        if (h.version > fasttext_version)
            throw format_error("fastText model '" + path_.string() + "': file version " +
                               std::to_string(h.version) + " is newer than this fastText (" +
                               std::to_string(fasttext_version) + ")");
        layout_checker(path_).check();
        try {
            ft_.loadModel(path_.string());
        } catch (const std::bad_alloc&) {
            throw format_error("fastText model '" + path_.string() +
                               "': truncated or corrupt (allocation failed while loading)");
        } catch (const std::exception& e) {
            throw format_error("fastText model '" + path_.string() + "': " + e.what());
        }
        const int d = ft_.getDimension();
        if (d <= 0)
            throw format_error("fastText model '" + path_.string() + "': invalid dimension " +
                               std::to_string(d));
        dim_ = static_cast<std::uint32_t>(d);
        supervised_ = ft_.getArgs().model == fasttext::model_name::sup;
    }

    [[nodiscard]] bool supports(polyglot_op op) const override {
        return op == POLYGLOT_OP_EMBED || op == POLYGLOT_OP_TOKENIZE;
    }

    [[nodiscard]] std::string info_json() const override {
        auto dict = ft_.getDictionary();
        return "{\"id\":\"fasttext:" + json_escape(path_.string()) +
               "\",\"format\":\"fasttext\",\"dim\":" + std::to_string(dim_) +
               ",\"words\":" + std::to_string(dict->nwords()) +
               ",\"labels\":" + std::to_string(dict->nlabels()) +
               ",\"supervised\":" + (supervised_ ? "true" : "false") + "}";
    }

    [[nodiscard]] std::uint32_t dim() const override { return dim_; }

    void embed(const text_batch_view& texts, float* out) const override {
        auto run = [&] {
            // Rows are independent, so any split gives the same bytes.
            parallel::for_blocks(texts.size(), 16, [&](std::size_t b, std::size_t e) {
                fasttext::Vector v(static_cast<std::int64_t>(dim_));
                std::string line;
                for (std::size_t i = b; i < e; ++i) {
                    sentence_vector(texts[i], line, v);
                    std::memcpy(out + i * dim_, v.data(), dim_ * sizeof(float));
                }
            });
        };
        if (threads_ > 0) {
            oneapi::tbb::task_arena arena(static_cast<int>(threads_));
            arena.execute(run);
        } else {
            run();
        }
    }

    void tokenize(std::string_view text, std::uint32_t,
                  std::vector<std::int32_t>& out) const override {
        // Whitespace-separated words as fastText reads them, each mapped to its dictionary id
        // (-1 for a word outside the vocabulary). fastText has no special tokens.
        auto dict = ft_.getDictionary();
        std::size_t i = 0;
        std::string word;
        while (i < text.size()) {
            while (i < text.size() && is_fasttext_space(text[i])) ++i;
            std::size_t b = i;
            while (i < text.size() && !is_fasttext_space(text[i])) ++i;
            if (i > b) {
                word.assign(text.substr(b, i - b));
                out.push_back(dict->getId(word));
            }
        }
    }

  private:
    /// FastText::getSentenceVector over one text, fed exactly as `fasttext
    /// print-sentence-vectors` and the Python binding's get_sentence_vector feed it: one line
    /// ending in '\n'. A supervised model reads that newline as the end-of-sentence token </s>
    /// and averages its vector in (an unsupervised one drops it); without it our vectors, and
    /// every distinct-RI from them, would differ from fastText's own. Newlines inside the text
    /// are folded to spaces first (the Python binding refuses them instead).
    void sentence_vector(std::string_view text, std::string& line, fasttext::Vector& v) const {
        line.assign(text);
        for (char& c : line)
            if (c == '\n') c = ' ';
        line += '\n';
        std::istringstream in(line);
        // getSentenceVector only reads the model; it is not declared const upstream.
        const_cast<fasttext::FastText&>(ft_).getSentenceVector(in, v);
    }

    std::filesystem::path path_;
    std::size_t threads_ = 0;
    fasttext::FastText ft_;
    std::uint32_t dim_ = 0;
    bool supervised_ = false;
};

}  // namespace

bool is_fasttext_file(const std::filesystem::path& path) {
    header h = read_header(path);
    return h.ok && h.magic == fasttext_magic;
}

std::unique_ptr<model> make_fasttext_model(const model_request& request) {
    return std::make_unique<fasttext_model>(request);
}

}  // namespace cpu
POLYGLOT_END_NAMESPACE
