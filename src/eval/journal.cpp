// SPDX-License-Identifier: Apache-2.0
// The journal of an eval run (include/polyglot/eval/journal.hpp).
#include <filesystem>
#include <polyglot/core/error.hpp>
#include <polyglot/eval/journal.hpp>
#include <polyglot/eval/results.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/io/json_writer.hpp>
#include <string_view>
#include <system_error>
#include <utility>

namespace fs = std::filesystem;

POLYGLOT_BEGIN_NAMESPACE
namespace eval {
namespace {

// The journal's first line says which run it belongs to; a different model, backend, seed
// or length limit would give other numbers, so such a journal is not reused.
std::string header_of(const journal_id& id) {
    io::json_writer hw;
    hw.begin_object()
        .kv("polyglot_eval_journal", 1)
        .kv("model", id.model)
        .kv("backend", id.backend)
        .kv("seed", id.seed)
        .kv("max_length", id.max_length)
        .end_object();
    return hw.take() + "\n";
}

/// Reads back the finished items of @p tasks (still the same items) from a journal's text.
std::size_t read_items(const std::string& text, std::size_t from, const std::string& path,
                       std::span<const task> tasks, finished_items& done) {
    std::size_t reused = 0, line = 1;
    for (std::size_t pos = from; pos < text.size();) {
        auto nl = text.find('\n', pos);
        if (nl == std::string::npos) break;  // a last line cut by the crash
        const std::string_view l(text.data() + pos, nl - pos);
        pos = nl + 1;
        ++line;
        auto e = parse_details_line(l, path + ":" + std::to_string(line));
        for (const auto& t : tasks)
            if (t.key == e.task && e.index < t.items.size() &&
                t.items[e.index].context == e.query && !e.result.failed) {
                done[t.key][e.index] = std::move(e.result);
                ++reused;
            }
    }
    return reused;
}

}  // namespace

std::string journal::path_for(const std::string& output, const std::string& details) {
    return output != "-"                        ? output + ".journal"
           : !details.empty() && details != "-" ? details + ".journal"
                                                : std::string();
}

journal::journal(std::string path, const journal_id& id, bool resume, std::span<const task> tasks)
    : path_(std::move(path)) {
    if (path_.empty()) return;
    const std::string header = header_of(id);
    std::error_code ec;
    resumed_ = fs::file_size(path_, ec) > 0 && !ec;
    if (resumed_) {
        if (!resume)
            throw argument_error(path_ +
                                 " exists: an earlier run was interrupted; rerun with --resume to "
                                 "continue it, or delete the file to start over");
        const std::string text = io::read_file(path_);
        if (text.compare(0, header.size(), header) != 0)
            throw argument_error(path_ +
                                 " belongs to another run (model, backend, seed or "
                                 "--max-length differ: its first line is " +
                                 text.substr(0, text.find('\n')) + "); delete it to start over");
        reused_ = read_items(text, header.size(), path_, tasks, done_);
    }
    file_ = std::fopen(path_.c_str(), resumed_ ? "a" : "w");
    if (!file_ ||
        (!resumed_ && (std::fwrite(header.data(), 1, header.size(), file_) != header.size() ||
                       std::fflush(file_) != 0)))
        throw io_error(path_ + ": cannot write the journal");
}

journal::~journal() {
    if (file_) std::fclose(file_);
}

void journal::append(const task& t, std::size_t index, const item_result& r) {
    const std::string l = details_line(t, index, r);
    if (std::fwrite(l.data(), 1, l.size(), file_) != l.size() || std::fflush(file_) != 0)
        throw io_error(path_ + ": cannot write the journal");
}

void journal::finish() {
    if (!file_) return;
    std::fclose(file_);
    file_ = nullptr;
    fs::remove(path_);
}

}  // namespace eval
POLYGLOT_END_NAMESPACE
