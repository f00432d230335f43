// SPDX-License-Identifier: Apache-2.0
/// @file sentence-transformers model directories: `modules.json` and each module's config
/// (Transformer, Pooling, Dense, Normalize), applied in order by the backends.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <polyglot/version.hpp>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace model {

enum class pooling_mode { mean, last, cls, max };
enum class dense_activation { identity, tanh };

struct st_dense {
    std::int64_t in_features = 0;
    std::int64_t out_features = 0;
    bool bias = false;
    dense_activation act = dense_activation::identity;
    std::filesystem::path dir;  ///< holds model.safetensors with linear.weight [out, in]
};

struct st_pipeline {
    std::filesystem::path transformer_dir;  ///< the HF model (config.json, weights, tokenizer)
    pooling_mode pooling = pooling_mode::mean;
    std::vector<st_dense> dense;
    bool normalize = false;
    std::optional<std::int64_t> max_seq_length;  ///< sentence_bert_config.json
};

/// Reads @p dir/modules.json; nullopt when the directory has none (a plain HF directory).
/// Throws format_error / unsupported_error naming the file for module types or settings this
/// implementation cannot apply.
std::optional<st_pipeline> load_st_pipeline(const std::filesystem::path& dir);

}  // namespace model
POLYGLOT_END_NAMESPACE
