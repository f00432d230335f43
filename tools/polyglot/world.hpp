// SPDX-License-Identifier: Apache-2.0
/// @file The processes of one `polyglot score` run: one, or the ranks of an MPI job when
/// polyglot was built with -DPOLYGLOT_MPI=ON and started by mpirun/srun (world/mpi.cpp; else
/// world/single.cpp). MPI stays in the CLI: the library only sees shards and saved states.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace polyglot::cli {

class world {
  public:
    /// The world of this process. Starts MPI on first call when built with it and launched by
    /// an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in the environment).
    static world& get();

    [[nodiscard]] int rank() const noexcept { return rank_; }
    [[nodiscard]] int size() const noexcept { return size_; }
    /// Rank among the processes on this node (for one device per local rank).
    [[nodiscard]] int local_rank() const noexcept { return local_rank_; }
    [[nodiscard]] bool distributed() const noexcept { return size_ > 1; }
    /// Whether this build can run under MPI at all.
    static bool built_with_mpi() noexcept;

    /// Rank 0 receives every rank's bytes in rank order; the others get {}. Collective.
    std::vector<std::string> gather(std::string_view mine);
    /// Rank 0: calls @p sink with the bytes rank @p from sends with send_stream, in order,
    /// until that rank's stream ends.
    void receive_stream(int from, const std::function<void(std::string_view)>& sink);
    /// Ranks > 0: sends the bytes @p source yields (empty = end) to rank 0.
    void send_stream(const std::function<std::string()>& source);
    /// All ranks: true when every rank passed true. Collective.
    bool all(bool ok);
    /// Ends the whole job after an error on this rank (other ranks may be waiting for it).
    [[noreturn]] void abort(int code);
    /// Shuts MPI down cleanly (no-op without MPI). Called once, at the end of a run.
    void finalize();

  private:
    int rank_ = 0, size_ = 1, local_rank_ = 0;
    bool mpi_ = false;
};

}  // namespace polyglot::cli
