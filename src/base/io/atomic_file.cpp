// SPDX-License-Identifier: Apache-2.0
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

namespace {
std::string errno_text() { return std::strerror(errno); }

std::filesystem::path temp_beside(const std::filesystem::path& p) {
    std::random_device rd;
    auto name = p.filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                std::to_string(rd() & 0xffffff);
    return p.has_parent_path() ? p.parent_path() / name : std::filesystem::path(name);
}
}  // namespace

atomic_ofstream::atomic_ofstream(std::filesystem::path path) : path_(std::move(path)) {
    if (path_ == "-") {
        stdout_ = true;
        f_ = stdout;
        return;
    }
    tmp_ = temp_beside(path_);
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) throw io_error("cannot create " + tmp_.string() + ": " + errno_text());
}

atomic_ofstream::atomic_ofstream(std::filesystem::path path, std::filesystem::path partial,
                                 std::uint64_t keep)
    : path_(std::move(path)), tmp_(std::move(partial)), keep_on_failure_(true) {
    if (keep == 0) {
        f_ = std::fopen(tmp_.c_str(), "wb");
        if (!f_) throw io_error("cannot create " + tmp_.string() + ": " + errno_text());
        return;
    }
    f_ = std::fopen(tmp_.c_str(), "r+b");
    if (!f_) throw io_error("cannot reopen " + tmp_.string() + ": " + errno_text());
    struct stat st {};
    if (::fstat(fileno(f_), &st) != 0 || static_cast<std::uint64_t>(st.st_size) < keep) {
        std::fclose(f_);
        f_ = nullptr;
        throw io_error(tmp_.string() + ": shorter (" + std::to_string(st.st_size) +
                       " bytes) than the " + std::to_string(keep) + " bytes recorded");
    }
    if (::ftruncate(fileno(f_), static_cast<off_t>(keep)) != 0 ||
        std::fseek(f_, 0, SEEK_END) != 0) {
        std::fclose(f_);
        f_ = nullptr;
        throw io_error("cannot truncate " + tmp_.string() + ": " + errno_text());
    }
    size_ = keep;
}

atomic_ofstream::~atomic_ofstream() {
    if (stdout_ || committed_) return;
    if (f_) std::fclose(f_);
    if (keep_on_failure_) return;
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
}

void atomic_ofstream::write(std::string_view bytes) {
    if (bytes.empty()) return;
    if (std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size())
        throw io_error("cannot write " + (stdout_ ? std::string("stdout") : tmp_.string()) +
                       ": " + errno_text());
    size_ += bytes.size();
}

void atomic_ofstream::sync() {
    if (stdout_ || committed_) return;
    if (std::fflush(f_) != 0 || ::fsync(fileno(f_)) != 0)
        throw io_error("cannot write " + tmp_.string() + ": " + errno_text());
}

void atomic_ofstream::commit() {
    if (committed_) return;
    if (stdout_) {
        std::fflush(f_);
        committed_ = true;
        return;
    }
    if (std::fflush(f_) != 0 || ::fsync(fileno(f_)) != 0) {
        throw io_error("cannot write " + tmp_.string() + ": " + errno_text());
    }
    std::fclose(f_);
    f_ = nullptr;
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
        std::filesystem::remove(tmp_, ec);
        throw io_error("cannot rename into " + path_.string() + ": " + ec.message());
    }
    committed_ = true;
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
    atomic_ofstream out(path);
    out.write(content);
    out.commit();
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("cannot open " + path.string() + ": " + errno_text());
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw io_error("cannot read " + path.string());
    return std::move(ss).str();
}

}  // namespace io
POLYGLOT_END_NAMESPACE
