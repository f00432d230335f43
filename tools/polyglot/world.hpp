// SPDX-License-Identifier: Apache-2.0
/// @file The processes of one `polyglot score` run: one, or the ranks of an MPI job when
/// polyglot was built with -DPOLYGLOT_MPI=ON and started by mpirun/srun (world/mpi.cpp; else
/// world/single.cpp). MPI stays in the CLI, so that libpolyglot does not link it: the scoring
/// job (polyglot/score/job.hpp) sees the world through its score::transport interface.
#pragma once

#include <functional>
#include <polyglot/score/job.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace polyglot::cli {

class world final : public score::transport {
  public:
    /// The world of this process. Starts MPI on first call when built with it and launched by
    /// an MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in the environment).
    static world& get();

    [[nodiscard]] int rank() const noexcept override { return rank_; }
    [[nodiscard]] int size() const noexcept override { return size_; }
    [[nodiscard]] int local_rank() const noexcept override { return local_rank_; }
    /// Whether this build can run under MPI at all.
    static bool built_with_mpi() noexcept;

    // The collectives of score::transport.
    std::vector<std::string> gather(std::string_view mine) override;
    void receive_stream(int from, const std::function<void(std::string_view)>& sink) override;
    void send_stream(const std::function<std::string()>& source) override;
    bool all(bool ok) override;
    /// Ends the whole job after an error on this rank (other ranks may be waiting for it).
    [[noreturn]] void abort(int code);
    /// Shuts MPI down cleanly (no-op without MPI). Called once, at the end of a run.
    void finalize();

  private:
    int rank_ = 0, size_ = 1, local_rank_ = 0;
    bool mpi_ = false;
};

}  // namespace polyglot::cli
