// SPDX-License-Identifier: Apache-2.0
// The MPI world (-DPOLYGLOT_MPI=ON): MPI is started only when an MPI launcher started us, so
// the same binary still runs as one plain process.
#include <mpi.h>

#include <cstdlib>
#include <polyglot/core/error.hpp>

#include "../world.hpp"

namespace polyglot::cli {

namespace {

constexpr int stream_tag = 7;

bool launched_by_mpi() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
        if (std::getenv(v)) return true;
    return false;
}

void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) throw error(errc::io, std::string("MPI: ") + what + " failed");
}

}  // namespace

world& world::get() {
    static world w = [] {
        world x;
        if (!launched_by_mpi()) return x;
        int provided = 0;
        check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init");
        x.mpi_ = true;
        MPI_Comm_rank(MPI_COMM_WORLD, &x.rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &x.size_);
        MPI_Comm node;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, x.rank_, MPI_INFO_NULL, &node);
        MPI_Comm_rank(node, &x.local_rank_);
        MPI_Comm_free(&node);
        return x;
    }();
    return w;
}

bool world::built_with_mpi() noexcept { return true; }

std::vector<std::string> world::gather(std::string_view mine) {
    if (!mpi_) return {std::string(mine)};
    // Sizes first (64-bit), then the bytes in pieces below INT_MAX.
    const auto n = static_cast<unsigned long long>(mine.size());
    std::vector<unsigned long long> sizes(rank_ == 0 ? static_cast<std::size_t>(size_) : 0);
    check(MPI_Gather(&n, 1, MPI_UNSIGNED_LONG_LONG, sizes.data(), 1, MPI_UNSIGNED_LONG_LONG, 0,
                     MPI_COMM_WORLD),
          "MPI_Gather");
    std::vector<std::string> out;
    if (rank_ == 0) {
        out.resize(static_cast<std::size_t>(size_));
        out[0] = std::string(mine);
        for (int r = 1; r < size_; ++r) {
            std::string& s = out[static_cast<std::size_t>(r)];
            s.resize(sizes[static_cast<std::size_t>(r)]);
            receive_stream(r, [&, off = std::size_t{0}](std::string_view b) mutable {
                s.replace(off, b.size(), b);
                off += b.size();
            });
        }
    } else {
        std::size_t off = 0;
        send_stream([&]() -> std::string {
            const std::size_t k = std::min<std::size_t>(mine.size() - off, std::size_t{1} << 26);
            std::string b(mine.substr(off, k));
            off += k;
            return b;
        });
    }
    return out;
}

void world::receive_stream(int from, const std::function<void(std::string_view)>& sink) {
    if (!mpi_) return;
    std::string buf;
    for (;;) {
        MPI_Status st;
        check(MPI_Probe(from, stream_tag, MPI_COMM_WORLD, &st), "MPI_Probe");
        int count = 0;
        MPI_Get_count(&st, MPI_CHAR, &count);
        buf.resize(static_cast<std::size_t>(count));
        check(MPI_Recv(buf.data(), count, MPI_CHAR, from, stream_tag, MPI_COMM_WORLD,
                       MPI_STATUS_IGNORE),
              "MPI_Recv");
        if (count == 0) return;
        sink(buf);
    }
}

void world::send_stream(const std::function<std::string()>& source) {
    if (!mpi_) return;
    for (;;) {
        std::string b = source();
        check(
            MPI_Send(b.data(), static_cast<int>(b.size()), MPI_CHAR, 0, stream_tag, MPI_COMM_WORLD),
            "MPI_Send");
        if (b.empty()) return;
    }
}

bool world::all(bool ok) {
    if (!mpi_) return ok;
    int mine = ok ? 1 : 0, every = 0;
    check(MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
    return every == 1;
}

void world::abort(int code) {
    if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
}

void world::finalize() {
    if (!mpi_) return;
    MPI_Finalize();
    mpi_ = false;
}

}  // namespace polyglot::cli
