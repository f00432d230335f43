// SPDX-License-Identifier: Apache-2.0
/// @file The per-instance output (one JSON line per scored record, in input order): the file
/// `polyglot score --per-instance` writes, the concatenation of shards' files `polyglot merge`
/// and MPI rank 0 write, and the size + CRC-32 that saved states record to check them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/score/state.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

/// The per-instance output: atomic, with a running CRC-32; resumable (a fixed partial file
/// kept across crashes) when the run checkpoints or runs under MPI.
class instance_output {
  public:
    /// A plain atomic output.
    explicit instance_output(const std::string& path);
    /// A resumable one: the first @p keep bytes of @p partial must have CRC @p crc (else
    /// io_error: the checkpoint does not describe that file).
    instance_output(const std::string& path, const std::string& partial, std::uint64_t keep,
                    std::uint32_t crc);

    void write(std::string_view s);
    void sync() { out_.sync(); }
    void commit() { out_.commit(); }
    [[nodiscard]] std::uint64_t size() const noexcept { return out_.size(); }
    [[nodiscard]] std::uint32_t crc() const noexcept { return crc_; }
    [[nodiscard]] const std::filesystem::path& temp_path() const noexcept {
        return out_.temp_path();
    }

  private:
    io::atomic_ofstream out_;
    std::uint32_t crc_ = 0;
};

/// Streams a file in 4 MiB pieces (empty at the end). Throws io_error when it cannot be opened.
std::function<std::string()> file_pieces(const std::filesystem::path& p);

/// Appends the per-instance file of shard @p s to @p out, checking its size and CRC-32 against
/// what the shard recorded. Throws argument_error when the shard wrote none, io_error when it
/// cannot be read or is not the file the shard recorded.
void append_instances(io::atomic_ofstream& out, const named_state& s);

}  // namespace score
POLYGLOT_END_NAMESPACE
