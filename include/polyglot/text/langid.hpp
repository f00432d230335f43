// SPDX-License-Identifier: Apache-2.0
/// @file Language identification with a fastText supervised model (lid.176.ftz / lid.176.bin),
/// and normalisation of language codes to the labels lid.176 uses. fastText stays in
/// src/text/langid.cpp behind a pimpl.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace text {

/// A loaded fastText language-ID model. Immutable after open(): share one instance between
/// threads; every member is thread-safe (each call builds its own fastText scratch state).
///
/// Text handling matches the Python `fasttext` package's `model.predict(text)`: newlines are
/// folded to spaces (one line), then "\n" is appended, so the end-of-sentence token `</s>` is
/// part of the input exactly as in Python. Probabilities are fastText's, i.e.
/// exp(log(p + 1e-5)), which can exceed 1 by up to 1e-5.
///
/// Text that is empty or only whitespace (fastText's separators: space, \t, \n, \r, \v, \f,
/// \0) has no language: predict() returns no prediction and top1() returns {"", 0}. (Python
/// fastText would instead predict from the `</s>` token alone, a meaningless label.)
class langid {
  public:
    struct prediction {
        std::string label;  ///< e.g. "en", "de", "ja" (the `__label__` prefix removed)
        float prob = 0.0f;  ///< fastText's probability, see above
    };

    /// Loads a fastText supervised model. The file's magic number, version and structure are
    /// checked before fastText reads it (fastText itself would loop forever or allocate
    /// unbounded memory on a truncated file). Throws io_error (missing / unreadable) or
    /// format_error (not a fastText model, truncated, inconsistent, not supervised), naming
    /// the path.
    static std::shared_ptr<const langid> open(const std::filesystem::path& path);

    ~langid();
    langid(const langid&) = delete;
    langid& operator=(const langid&) = delete;

    /// The @p k most probable labels, most probable first (fewer if the model has fewer
    /// labels; none for whitespace-only text). Throws argument_error if k < 1.
    [[nodiscard]] std::vector<prediction> predict(std::string_view text, int k = 1) const;

    /// The most probable label; {"", 0} for whitespace-only text.
    [[nodiscard]] prediction top1(std::string_view text) const;

    /// Labels the model knows, without the `__label__` prefix, in model order.
    [[nodiscard]] const std::vector<std::string>& labels() const noexcept;
    /// The file the model was loaded from.
    [[nodiscard]] const std::filesystem::path& path() const noexcept;
    /// Identity for report metadata: "fasttext:<file name>".
    [[nodiscard]] std::string name() const;

  private:
    struct impl;
    explicit langid(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

/// Opens a language-ID model by path or by asset name in the data directory
/// (default "lid.176.ftz", fetched by `scripts/bootstrap`); see resolve_asset().
std::shared_ptr<const langid> open_langid(std::string_view name_or_path = "lid.176.ftz");

/// Normalises a target-language code or name to the label form lid.176 uses (mostly ISO
/// 639-1). Accepted forms, case-insensitive, surrounding spaces ignored:
///   - BCP-47 / POSIX locale tags: the primary subtag is used ("de-DE", "de_DE", "zh-Hant-TW",
///     "de_DE.UTF-8" → "de"); NLLB/FLORES codes likewise ("deu_Latn", "arb_Arab" → "de", "ar");
///   - ISO 639-2/B, 639-2/T and 639-3 codes of the paper's languages (ar, cs, de, es, id, ja,
///     tl) and ~60 other common languages ("deu", "ger", "ara", "arb", "ind", "jpn", "tgl",
///     "fil", "zho", "chi", "cmn", ...), and macrolanguage members lid.176 folds into one label
///     ("zsm" → "ms", "pes" → "fa", "swh" → "sw", "nob" → "no", ...);
///   - English language names ("German", "Arabic", "Filipino", "Tagalog", "Chinese", ...);
///   - deprecated 639-1 codes ("iw" → "he", "in" → "id", "ji" → "yi", "jw" → "jv").
/// Anything else is returned lowercased (so lid.176's own 3-letter labels such as "ceb" or
/// "war" pass through). The empty string stays empty (no target language).
[[nodiscard]] std::string normalize_lang_code(std::string_view code);

}  // namespace text
POLYGLOT_END_NAMESPACE
