// SPDX-License-Identifier: Apache-2.0
// Byte sources (plain, gzip through zlib, zstd through libzstd), input expansion, fingerprints.
#include <glob.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <polyglot/core/error.hpp>
#include <polyglot/io/input.hpp>
#include <system_error>

POLYGLOT_BEGIN_NAMESPACE
namespace io {

std::string_view compression_name(compression c) noexcept {
    switch (c) {
        case compression::gzip:
            return "gzip";
        case compression::zstd:
            return "zstd";
        default:
            return "none";
    }
}

namespace {

constexpr std::size_t in_block = std::size_t{256} << 10;

/// The raw file: a FILE* plus the few bytes already read to recognise the format.
class raw_file {
  public:
    explicit raw_file(const std::string& path) {
        if (path == "-") {
            f_ = stdin;
        } else {
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
                throw io_error(path + ": is a directory");
            f_ = std::fopen(path.c_str(), "rb");
            if (!f_) throw io_error(path + ": cannot open: " + std::strerror(errno));
            owns_ = true;
        }
        while (head_len_ < sizeof head_) {
            const std::size_t n = read_file(head_ + head_len_, sizeof head_ - head_len_);
            if (n == 0) break;
            head_len_ += n;
        }
    }
    ~raw_file() {
        if (owns_) std::fclose(f_);
    }
    raw_file(const raw_file&) = delete;
    raw_file& operator=(const raw_file&) = delete;

    [[nodiscard]] compression detect() const noexcept {
        const auto* h = reinterpret_cast<const unsigned char*>(head_);
        if (head_len_ >= 2 && h[0] == 0x1f && h[1] == 0x8b) return compression::gzip;
        if (head_len_ >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
            return compression::zstd;
        return compression::none;
    }

    /// Reads raw bytes (the recognised head first).
    std::size_t read(char* out, std::size_t n) {
        std::size_t done = 0;
        if (head_pos_ < head_len_) {
            done = std::min(n, head_len_ - head_pos_);
            std::memcpy(out, head_ + head_pos_, done);
            head_pos_ += done;
        }
        if (done < n) done += read_file(out + done, n - done);
        pos_ += done;
        return done;
    }
    [[nodiscard]] std::uint64_t position() const noexcept { return pos_; }

  private:
    std::size_t read_file(char* out, std::size_t n) {
        const std::size_t got = std::fread(out, 1, n, f_);
        if (got == 0 && std::ferror(f_))
            throw io_error(std::string("read error: ") + std::strerror(errno));
        return got;
    }

    std::FILE* f_ = nullptr;
    bool owns_ = false;
    char head_[4] = {};
    std::size_t head_len_ = 0, head_pos_ = 0;
    std::uint64_t pos_ = 0;
};

class plain_source final : public byte_source {
  public:
    explicit plain_source(std::unique_ptr<raw_file> f) : f_(std::move(f)) {}
    std::size_t read(char* out, std::size_t n) override { return f_->read(out, n); }
    [[nodiscard]] std::uint64_t raw_position() const noexcept override { return f_->position(); }
    [[nodiscard]] compression kind() const noexcept override { return compression::none; }

  private:
    std::unique_ptr<raw_file> f_;
};

/// A decoding error met after some bytes of a read() were decoded: those bytes are returned
/// first (so the reader can say which line the damage is in) and the error on the next call.
struct partial_error {
    std::string message;
    std::size_t produced = 0;  ///< decoded bytes of the failing call (set by the decoder)
};

template <class Decode>
std::size_t deferring_errors(partial_error& pending, Decode&& decode) {
    if (!pending.message.empty()) throw io_error(pending.message);
    pending.produced = 0;
    try {
        return decode();
    } catch (const io_error& e) {
        if (pending.produced == 0) throw;
        pending.message = e.what();
        return pending.produced;
    }
}

class gzip_source final : public byte_source {
  public:
    explicit gzip_source(std::unique_ptr<raw_file> f) : f_(std::move(f)), in_(in_block, '\0') {
        // 15 + 16: gzip wrapper only (the magic said gzip).
        if (inflateInit2(&zs_, 15 + 16) != Z_OK) throw io_error("zlib: cannot initialise");
    }
    ~gzip_source() override { inflateEnd(&zs_); }

    std::size_t read(char* out, std::size_t n) override {
        return deferring_errors(pending_, [&] { return decode(out, n); });
    }
    [[nodiscard]] std::uint64_t raw_position() const noexcept override {
        return f_->position() - zs_.avail_in;
    }
    [[nodiscard]] compression kind() const noexcept override { return compression::gzip; }

  private:
    std::size_t decode(char* out, std::size_t n) {
        zs_.next_out = reinterpret_cast<Bytef*>(out);
        zs_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
        const uInt want = zs_.avail_out;
        auto fail = [&](const std::string& m) {
            pending_.produced = want - zs_.avail_out;
            throw io_error(m);
        };
        while (zs_.avail_out > 0) {
            if (zs_.avail_in == 0 && !eof_) refill();
            const bool no_input = zs_.avail_in == 0;  // and eof_
            if (no_input && !in_member_) break;       // clean end after a member
            if (!in_member_) {
                // Another member may follow (concatenated gzip files); nothing else may.
                if (zs_.next_in[0] != 0x1f)
                    fail("corrupt gzip data (trailing bytes after the last member)");
                in_member_ = true;
            }
            const uInt before = zs_.avail_out;
            const int rc = inflate(&zs_, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                in_member_ = false;
                inflateReset(&zs_);
                continue;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                fail(std::string("corrupt gzip data (") +
                     (zs_.msg ? zs_.msg : "zlib error " + std::to_string(rc)) + ")");
            if (no_input && zs_.avail_out == before)
                fail("truncated gzip data (the stream ends inside a member)");
            if (rc == Z_BUF_ERROR && zs_.avail_in > 0 && zs_.avail_out > 0)
                fail("corrupt gzip data (no progress)");
        }
        return want - zs_.avail_out;
    }
    void refill() {
        const std::size_t got = f_->read(in_.data(), in_.size());
        if (got == 0) eof_ = true;
        zs_.next_in = reinterpret_cast<Bytef*>(in_.data());
        zs_.avail_in = static_cast<uInt>(got);
    }

    std::unique_ptr<raw_file> f_;
    std::string in_;
    z_stream zs_{};
    bool eof_ = false;
    bool in_member_ = false;
    partial_error pending_;
};

class zstd_source final : public byte_source {
  public:
    explicit zstd_source(std::unique_ptr<raw_file> f)
        : f_(std::move(f)), in_(in_block, '\0'), ds_(ZSTD_createDStream()) {
        if (!ds_) throw io_error("zstd: cannot create a decompression stream");
        ZSTD_initDStream(ds_);
    }
    ~zstd_source() override { ZSTD_freeDStream(ds_); }

    std::size_t read(char* out, std::size_t n) override {
        return deferring_errors(pending_, [&] { return decode(out, n); });
    }
    [[nodiscard]] std::uint64_t raw_position() const noexcept override {
        return f_->position() - (ib_.size - ib_.pos);
    }
    [[nodiscard]] compression kind() const noexcept override { return compression::zstd; }

  private:
    std::size_t decode(char* out, std::size_t n) {
        ZSTD_outBuffer ob{out, n, 0};
        auto fail = [&](const std::string& m) {
            pending_.produced = ob.pos;
            throw io_error(m);
        };
        while (ob.pos < ob.size) {
            if (ib_.pos == ib_.size && !eof_) refill();
            const bool no_input = ib_.pos == ib_.size;  // and eof_
            if (no_input && !frame_open_) break;        // clean end after a frame
            const std::size_t before = ob.pos;
            const std::size_t rc = ZSTD_decompressStream(ds_, &ob, &ib_);
            if (ZSTD_isError(rc))
                fail(std::string("corrupt zstd data (") + ZSTD_getErrorName(rc) + ")");
            frame_open_ = rc != 0;  // 0: a frame is complete and fully flushed
            if (no_input && ob.pos == before) {
                if (frame_open_) fail("truncated zstd data (the stream ends inside a frame)");
                break;
            }
        }
        return ob.pos;
    }
    void refill() {
        const std::size_t got = f_->read(in_.data(), in_.size());
        if (got == 0) eof_ = true;
        ib_ = {in_.data(), got, 0};
    }

    std::unique_ptr<raw_file> f_;
    std::string in_;
    ZSTD_DStream* ds_;
    ZSTD_inBuffer ib_{nullptr, 0, 0};
    bool eof_ = false;
    bool frame_open_ = false;
    partial_error pending_;
};

bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool is_jsonl_name(const std::string& name) {
    auto ends = [&](std::string_view suf) {
        return name.size() >= suf.size() &&
               name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
    };
    return ends(".jsonl") || ends(".jsonl.gz") || ends(".jsonl.zst");
}

}  // namespace

std::unique_ptr<byte_source> open_source(const std::string& path) {
    auto f = std::make_unique<raw_file>(path);
    switch (f->detect()) {
        case compression::gzip:
            return std::make_unique<gzip_source>(std::move(f));
        case compression::zstd:
            return std::make_unique<zstd_source>(std::move(f));
        default:
            return std::make_unique<plain_source>(std::move(f));
    }
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    for (const auto& a : args) {
        std::error_code ec;
        if (a == "-") {
            out.push_back(a);
        } else if (fs::is_directory(a, ec)) {
            std::vector<std::string> files;
            for (const auto& e : fs::directory_iterator(a, ec)) {
                const std::string name = e.path().filename().string();
                if (name.empty() || name[0] == '.' || !is_jsonl_name(name)) continue;
                if (!e.is_regular_file(ec)) continue;
                files.push_back(e.path().string());
            }
            if (ec) throw io_error(a + ": cannot list: " + ec.message());
            if (files.empty())
                throw argument_error(
                    a + ": no *.jsonl, *.jsonl.gz or *.jsonl.zst file in this directory");
            std::sort(files.begin(), files.end());
            out.insert(out.end(), files.begin(), files.end());
        } else if (!fs::exists(a, ec) && has_glob_chars(a)) {
            glob_t g{};
            const int rc = ::glob(a.c_str(), 0, nullptr, &g);
            std::vector<std::string> files;
            if (rc == 0)
                for (std::size_t i = 0; i < g.gl_pathc; ++i) {
                    if (!fs::is_directory(g.gl_pathv[i], ec)) files.emplace_back(g.gl_pathv[i]);
                }
            ::globfree(&g);
            if (files.empty()) throw argument_error(a + ": no file matches this pattern");
            std::sort(files.begin(), files.end());
            out.insert(out.end(), files.begin(), files.end());
        } else {
            out.push_back(a);
        }
    }
    return out;
}

std::uint32_t crc32(std::uint32_t crc, std::string_view data) noexcept {
    while (!data.empty()) {
        const auto n = static_cast<uInt>(std::min<std::size_t>(data.size(), 1u << 30));
        crc = static_cast<std::uint32_t>(
            ::crc32(crc, reinterpret_cast<const Bytef*>(data.data()), n));
        data.remove_prefix(n);
    }
    return crc;
}

namespace {

/// size + CRC of the first and last 64 KiB of one file, folded into @p crc.
std::uint32_t fold_file(std::uint32_t crc, const std::filesystem::path& p, const std::string& rel) {
    constexpr std::size_t edge = std::size_t{64} << 10;
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) throw io_error(p.string() + ": cannot open: " + std::strerror(errno));
    std::string buf(edge, '\0');
    std::error_code ec;
    const auto size = static_cast<std::uint64_t>(std::filesystem::file_size(p, ec));
    crc = crc32(crc, rel);
    crc = crc32(crc, std::string_view(reinterpret_cast<const char*>(&size), sizeof size));
    std::size_t n = std::fread(buf.data(), 1, edge, f);
    crc = crc32(crc, std::string_view(buf.data(), n));
    if (size > 2 * edge && std::fseek(f, -static_cast<long>(edge), SEEK_END) == 0) {
        n = std::fread(buf.data(), 1, edge, f);
        crc = crc32(crc, std::string_view(buf.data(), n));
    }
    const bool bad = std::ferror(f) != 0;
    std::fclose(f);
    if (bad) throw io_error(p.string() + ": read error");
    return crc;
}

}  // namespace

std::string fingerprint(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::uint32_t crc = 0;
    std::uint64_t files = 0;
    if (fs::is_directory(path, ec)) {
        std::vector<std::pair<std::string, fs::path>> entries;
        for (auto it = fs::recursive_directory_iterator(path, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            const std::string name = it->path().filename().string();
            if (!name.empty() && name[0] == '.') {
                if (it->is_directory(ec)) it.disable_recursion_pending();
                continue;
            }
            if (it->is_regular_file(ec))
                entries.emplace_back(fs::relative(it->path(), path, ec).string(), it->path());
        }
        if (ec) throw io_error(path.string() + ": cannot list: " + ec.message());
        std::sort(entries.begin(), entries.end());
        for (const auto& [rel, p] : entries) {
            crc = fold_file(crc, p, rel);
            ++files;
        }
    } else {
        crc = fold_file(crc, path, {});
        files = 1;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%08x/%llu", crc, static_cast<unsigned long long>(files));
    return buf;
}

}  // namespace io
POLYGLOT_END_NAMESPACE
