// SPDX-License-Identifier: Apache-2.0
// polyglot distinct-ri FILE.npy: distinct-RI of precomputed embeddings (float32 or float16 .npy,
// e.g. from the user's own GPU servers), streamed through a memory map with flat memory.
//
// The file is mapped read-only and walked in windows of a few tens of MB: each window is
// reduced in parallel (parallel::map_reduce; the accumulator is exact fixed point, so the
// result does not depend on --threads), then its pages are dropped from this process
// (madvise DONTNEED), so resident memory stays at about one window whatever the file size.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/io/npy.hpp>
#include <polyglot/metrics/distinct_ri.hpp>
#include <polyglot/parallel/reduce.hpp>
#include <polyglot/parallel/threads.hpp>

#include "command.hpp"
#include "common.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POLYGLOT_HAVE_F16C_PATH 1
#endif

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace po = boost::program_options;

namespace {

using polyglot::format_error;
using polyglot::io_error;

// ---- float16 -> float32 ---------------------------------------------------------------------
// Exact (every half is a float). F16C when the CPU has it (checked at run time), else a
// 65536-entry table built from the bit-level definition.

float half_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = std::uint32_t{h & 0x8000u} << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    const std::uint32_t mant = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0) {
        // zero or subnormal: mant * 2^-24, exact in float
        bits = sign | std::bit_cast<std::uint32_t>(static_cast<float>(mant) * 0x1p-24f);
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u);  // inf / quiet NaN
    } else {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    return std::bit_cast<float>(bits);
}

const std::array<float, 65536>& half_table() {
    static const auto t = [] {
        std::array<float, 65536> a{};
        for (std::uint32_t i = 0; i < 65536; ++i)
            a[i] = half_to_float(static_cast<std::uint16_t>(i));
        return a;
    }();
    return t;
}

#ifdef POLYGLOT_HAVE_F16C_PATH
__attribute__((target("avx,f16c"))) void halves_f16c(const std::uint16_t* in, float* out,
                                                     std::size_t n) noexcept {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) out[i] = half_to_float(in[i]);
}
#endif

bool cpu_has_f16c() noexcept {
#ifdef POLYGLOT_HAVE_F16C_PATH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
}

void halves_to_floats(const std::uint16_t* in, float* out, std::size_t n, bool f16c) noexcept {
#ifdef POLYGLOT_HAVE_F16C_PATH
    if (f16c) {
        halves_f16c(in, out, n);
        return;
    }
#endif
    (void)f16c;
    const auto& t = half_table();
    for (std::size_t i = 0; i < n; ++i) out[i] = t[in[i]];
}

// ---- the mapped file ------------------------------------------------------------------------

class mapped_file {
  public:
    explicit mapped_file(const std::string& path) : path_(path) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw io_error(path + ": cannot open: " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd_, &st) != 0) throw io_error(path + ": cannot stat: " + std::strerror(errno));
        if (!S_ISREG(st.st_mode)) throw io_error(path + ": not a regular file");
        size_ = static_cast<std::uint64_t>(st.st_size);
        if (size_ == 0) throw format_error(path + ": empty file, not a .npy array");
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
        if (p == MAP_FAILED) throw io_error(path + ": cannot map: " + std::strerror(errno));
        data_ = static_cast<const unsigned char*>(p);
        ::madvise(p, size_, MADV_SEQUENTIAL);
    }
    ~mapped_file() {
        if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
        if (fd_ >= 0) ::close(fd_);
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;

    [[nodiscard]] const unsigned char* data() const noexcept { return data_; }
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

    /// Drops [begin, end) (byte offsets, rounded inwards to pages) from this process's
    /// resident set; with @p cache also asks the kernel to evict them from the page cache.
    void release(std::uint64_t begin, std::uint64_t end, bool cache) const noexcept {
        static const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
        const std::uint64_t b = (begin + page - 1) / page * page, e = end / page * page;
        if (e <= b) return;
        ::madvise(const_cast<unsigned char*>(data_) + b, e - b, MADV_DONTNEED);
        if (cache)
            ::posix_fadvise(fd_, static_cast<off_t>(b), static_cast<off_t>(e - b),
                            POSIX_FADV_DONTNEED);
    }

  private:
    std::string path_;
    int fd_ = -1;
    const unsigned char* data_ = nullptr;
    std::uint64_t size_ = 0;
};

int run_distinct_ri(int argc, char** argv) {
    std::string file;
    std::size_t threads = 0, window_mb = 32;
    po::options_description desc(
        "usage: polyglot distinct-ri FILE.npy [--threads N] [--json]\n\n"
        "distinct-RI (1 - mean pairwise cosine similarity over ordered pairs i != j) of the\n"
        "rows of a 2-D float32 or float16 .npy file (v1/v2/v3, C order), in O(N*d) with flat\n"
        "memory: the file is memory-mapped and streamed, so it may be larger than RAM.\n"
        "Zero rows have similarity 0 with everything; rows with NaN/inf count as zero rows.\n\n"
        "options");
    desc.add_options()("help,h", "show this help")("threads", po::value(&threads)->default_value(0),
                                                   "worker threads (0 = all cores)")(
        "json", "print {\"distinct_ri\", \"n\", \"dim\", \"nonzero\"} as JSON")(
        "window-mb", po::value(&window_mb)->default_value(32),
        "bytes mapped in at a time, in MB (resident memory is about this much)")(
        "drop-cache", "also evict the file from the page cache behind the scan")(
        "file", po::value(&file), "the .npy file");
    po::variables_map vm;
    if (!polyglot::cli::parse_command_line(argc, argv, desc, {}, "file", 1, vm)) return 0;
    if (file.empty()) throw polyglot::argument_error("missing FILE.npy (see --help)");
    if (window_mb == 0) throw polyglot::argument_error("--window-mb must be at least 1");

    polyglot::parallel::thread_limit limit(threads);
    const auto t0 = std::chrono::steady_clock::now();

    mapped_file map(file);
    const polyglot::io::npy_info info =
        polyglot::io::parse_npy_header(map.data(), map.size(), file);
    const bool f16c = cpu_has_f16c();
    const bool drop_cache = vm.count("drop-cache") > 0;
    const std::size_t dim = static_cast<std::size_t>(info.cols);
    const std::uint64_t row_bytes = info.cols * info.item;

    polyglot::metrics::distinct_ri_accumulator total(dim);
    if (info.rows > 0) {
        // Leaves of ~256 KB of input; windows of --window-mb, whole rows.
        const std::size_t grain = static_cast<std::size_t>(
            std::max<std::uint64_t>(1, (256u << 10) / std::max<std::uint64_t>(row_bytes, 1)));
        const std::uint64_t window_rows =
            std::max<std::uint64_t>(grain, (std::uint64_t{window_mb} << 20) / row_bytes);
        const polyglot::metrics::distinct_ri_accumulator identity(dim);
        for (std::uint64_t w = 0; w < info.rows; w += window_rows) {
            const std::uint64_t n = std::min(window_rows, info.rows - w);
            const unsigned char* base = map.data() + info.data_offset + w * row_bytes;
            auto part = polyglot::parallel::map_reduce(
                static_cast<std::size_t>(n), grain, identity,
                [&](polyglot::metrics::distinct_ri_accumulator& s, std::size_t b, std::size_t e) {
                    if (info.item == 4) {
                        s.add_rows(reinterpret_cast<const float*>(base + b * row_bytes), e - b);
                        return;
                    }
                    thread_local std::vector<float> buf;
                    constexpr std::size_t chunk = 64;  // rows converted at a time
                    buf.resize(chunk * dim);
                    for (std::size_t r = b; r < e; r += chunk) {
                        const std::size_t m = std::min(chunk, e - r);
                        halves_to_floats(
                            reinterpret_cast<const std::uint16_t*>(base + r * row_bytes),
                            buf.data(), m * dim, f16c);
                        s.add_rows(buf.data(), m);
                    }
                },
                [](polyglot::metrics::distinct_ri_accumulator& a,
                   const polyglot::metrics::distinct_ri_accumulator& b) { a.merge(b); });
            total.merge(part);
            const std::uint64_t begin = info.data_offset + w * row_bytes;
            map.release(w == 0 ? 0 : begin, begin + n * row_bytes, drop_cache);
        }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double value = total.value();

    if (vm.count("json")) {
        polyglot::io::json_writer w;
        w.begin_object();
        w.kv("distinct_ri", value);
        w.kv("n", total.n);
        w.kv("dim", static_cast<std::uint64_t>(dim));
        w.kv("nonzero", total.nonzero);
        w.end_object();
        std::string out = w.take();
        out += '\n';
        polyglot::cli::write_output("-", out);
        return 0;
    }
    const double gb = static_cast<double>(info.rows * row_bytes) / 1e9;
    char line[512];
    std::snprintf(
        line, sizeof line,
        "distinct-RI %.10g over %llu vectors of dim %zu (%s; nonzero %llu, "
        "non-finite %llu)\n%.3f GB in %.3f s: %.2f GB/s\n",
        value, static_cast<unsigned long long>(total.n), dim,
        info.item == 2 ? "float16" : "float32", static_cast<unsigned long long>(total.nonzero),
        static_cast<unsigned long long>(total.nonfinite), gb, secs, secs > 0 ? gb / secs : 0.0);
    polyglot::cli::write_output("-", line);
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("distinct-ri",
                          "distinct-RI of precomputed embeddings in a .npy file (streamed)",
                          run_distinct_ri);
