// SPDX-License-Identifier: Apache-2.0
// The per-instance output: resumable atomic file with a running CRC-32, and the checked
// concatenation of shards' files.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <polyglot/core/error.hpp>
#include <polyglot/io/input.hpp>
#include <polyglot/score/per_instance.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace score {

namespace {

/// @p keep when the first @p keep bytes of @p partial have CRC @p crc; throws io_error else.
std::uint64_t checked_prefix(const std::string& partial, std::uint64_t keep, std::uint32_t crc) {
    if (keep == 0) return 0;
    std::FILE* f = std::fopen(partial.c_str(), "rb");
    if (!f)
        throw io_error("cannot resume: " + partial + " (per-instance output so far) is missing");
    std::string buf(std::size_t{1} << 20, '\0');
    std::uint64_t left = keep;
    std::uint32_t c = 0;
    while (left > 0) {
        const std::size_t n =
            std::fread(buf.data(), 1, std::min<std::uint64_t>(left, buf.size()), f);
        if (n == 0) break;
        c = io::crc32(c, std::string_view(buf.data(), n));
        left -= n;
    }
    std::fclose(f);
    if (left > 0 || c != crc)
        throw io_error("cannot resume: " + partial +
                       " is not the per-instance output the checkpoint recorded (" +
                       (left > 0 ? "shorter" : "different content") + ")");
    return keep;
}

}  // namespace

instance_output::instance_output(const std::string& path) : out_(path) {}

instance_output::instance_output(const std::string& path, const std::string& partial,
                                 std::uint64_t keep, std::uint32_t crc)
    : out_(path, partial, checked_prefix(partial, keep, crc)), crc_(crc) {}

void instance_output::write(std::string_view s) {
    out_.write(s);
    crc_ = io::crc32(crc_, s);
}

std::function<std::string()> file_pieces(const std::filesystem::path& p) {
    auto f = std::shared_ptr<std::FILE>(std::fopen(p.c_str(), "rb"), [](std::FILE* x) {
        if (x) std::fclose(x);
    });
    if (!f) throw io_error("cannot open " + p.string());
    return [f]() {
        std::string b(std::size_t{4} << 20, '\0');
        b.resize(std::fread(b.data(), 1, b.size(), f.get()));
        return b;
    };
}

void append_instances(io::atomic_ofstream& out, const named_state& s) {
    const std::string& path = s.state.per_instance_path;
    if (path.empty())
        throw argument_error(s.name +
                             ": this shard was scored without --per-instance, so there is no "
                             "per-instance output to merge");
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw io_error(s.name + ": its per-instance output " + path + " cannot be opened");
    std::string buf(std::size_t{4} << 20, '\0');
    std::uint64_t bytes = 0;
    std::uint32_t crc = 0;
    for (;;) {
        const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
        if (n == 0) break;
        const std::string_view piece(buf.data(), n);
        out.write(piece);
        crc = io::crc32(crc, piece);
        bytes += n;
    }
    std::fclose(f);
    if (bytes != s.state.per_instance_bytes || crc != s.state.per_instance_crc)
        throw io_error(path + ": not the per-instance output " + s.name + " recorded (" +
                       std::to_string(bytes) + " bytes, recorded " +
                       std::to_string(s.state.per_instance_bytes) +
                       (bytes == s.state.per_instance_bytes ? ", different content" : "") + ")");
}

}  // namespace score
POLYGLOT_END_NAMESPACE
