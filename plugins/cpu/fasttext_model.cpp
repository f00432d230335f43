// SPDX-License-Identifier: Apache-2.0
#include "fasttext_model.hpp"

#include <polyglot/core/error.hpp>
#include <polyglot/parallel/reduce.hpp>

#include <fasttext/fasttext.h>
#include <oneapi/tbb/task_arena.h>

#include <cstdint>
#include <cstring>
#include <fstream>
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
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
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

/// fastText's own separators (Dictionary::readWord): a token ends at one of these.
constexpr bool is_fasttext_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' ||
           c == '\0';
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
               ",\"labels\":" + std::to_string(dict->nlabels()) + ",\"supervised\":" +
               (supervised_ ? "true" : "false") + "}";
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

    void tokenize(std::string_view text, std::uint32_t, std::vector<std::int32_t>& out)
        const override {
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
    /// FastText::getSentenceVector over one text. It reads a single line, so newlines are
    /// folded to spaces first (fastText's own Python binding refuses them instead).
    void sentence_vector(std::string_view text, std::string& line, fasttext::Vector& v) const {
        line.assign(text);
        for (char& c : line)
            if (c == '\n') c = ' ';
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
