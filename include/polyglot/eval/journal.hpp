// SPDX-License-Identifier: Apache-2.0
/// @file The journal of a `polyglot eval` run: every finished item (a details line) kept
/// until the outputs are written, so that --resume continues an interrupted run without
/// repeating work. Its first line says which run it belongs to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <polyglot/eval/runner.hpp>
#include <polyglot/eval/tasks.hpp>
#include <polyglot/version.hpp>
#include <span>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {

/// What makes two runs give the same numbers: a journal of another run is not reused.
struct journal_id {
    std::string model;    ///< --model as given
    std::string backend;  ///< the plugin that serves it
    std::uint64_t seed = 0;
    std::size_t max_length = 0;  ///< the length limit in effect (0 = none)
};

/// Finished items of an interrupted run, by task key and item index.
using finished_items = std::map<std::string, std::map<std::size_t, item_result>>;

class journal {
  public:
    /// Where a run's journal goes: OUTPUT.journal, else DETAILS.journal when the results go to
    /// standard output and the details to a file, else "" (no journal).
    [[nodiscard]] static std::string path_for(const std::string& output,
                                              const std::string& details);

    /// Opens the journal at @p path ("" = none). Where one is there already: with @p resume,
    /// its finished items of @p tasks are read into done(); without, argument_error. A journal
    /// of another run (see journal_id) is argument_error too.
    /// @throws io_error where it cannot be written.
    journal(std::string path, const journal_id& id, bool resume, std::span<const task> tasks);
    ~journal();
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    [[nodiscard]] bool enabled() const noexcept { return file_ != nullptr; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// Whether an earlier run's journal was found (and so resumed).
    [[nodiscard]] bool resumed() const noexcept { return resumed_; }
    /// How many finished items were read back.
    [[nodiscard]] std::size_t reused() const noexcept { return reused_; }
    /// The finished items read back, to hand to run_task.
    [[nodiscard]] finished_items& done() noexcept { return done_; }

    /// Appends item @p index of @p t (a details line). @throws io_error
    void append(const task& t, std::size_t index, const item_result& r);
    /// Closes and deletes the journal, once the outputs are written.
    void finish();

  private:
    std::string path_;
    std::FILE* file_ = nullptr;
    bool resumed_ = false;
    std::size_t reused_ = 0;
    finished_items done_;
};

}  // namespace eval
POLYGLOT_END_NAMESPACE
