// SPDX-License-Identifier: Apache-2.0
// A world of one process (builds without -DPOLYGLOT_MPI=ON).
#include <cstdlib>

#include "../world.hpp"

namespace polyglot::cli {

world& world::get() {
    static world w;
    return w;
}
bool world::built_with_mpi() noexcept { return false; }
std::vector<std::string> world::gather(std::string_view mine) { return {std::string(mine)}; }
void world::receive_stream(int, const std::function<void(std::string_view)>&) {}
void world::send_stream(const std::function<std::string()>&) {}
bool world::all(bool ok) { return ok; }
void world::abort(int code) { std::exit(code); }
void world::finalize() {}

}  // namespace polyglot::cli
