// SPDX-License-Identifier: Apache-2.0
#include "common/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <polyglot/core/error.hpp>
#include <set>

#include "base/json/util.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace model {

std::string_view dtype_name(dtype t) noexcept {
    switch (t) {
        case dtype::f64:
            return "F64";
        case dtype::f32:
            return "F32";
        case dtype::f16:
            return "F16";
        case dtype::bf16:
            return "BF16";
        case dtype::i64:
            return "I64";
        case dtype::i32:
            return "I32";
        case dtype::i16:
            return "I16";
        case dtype::i8:
            return "I8";
        case dtype::u8:
            return "U8";
        case dtype::boolean:
            return "BOOL";
    }
    return "?";
}

std::size_t dtype_size(dtype t) noexcept {
    switch (t) {
        case dtype::f64:
        case dtype::i64:
            return 8;
        case dtype::f32:
        case dtype::i32:
            return 4;
        case dtype::f16:
        case dtype::bf16:
        case dtype::i16:
            return 2;
        case dtype::i8:
        case dtype::u8:
        case dtype::boolean:
            return 1;
    }
    return 0;
}

namespace {

bool parse_dtype(std::string_view s, dtype& out) {
    static constexpr std::pair<std::string_view, dtype> table[] = {
        {"F64", dtype::f64}, {"F32", dtype::f32},     {"F16", dtype::f16}, {"BF16", dtype::bf16},
        {"I64", dtype::i64}, {"I32", dtype::i32},     {"I16", dtype::i16}, {"I8", dtype::i8},
        {"U8", dtype::u8},   {"BOOL", dtype::boolean}};
    for (auto& [name, t] : table)
        if (name == s) {
            out = t;
            return true;
        }
    return false;
}

[[noreturn]] void st_fail(const std::string& file, const std::string& what) {
    throw format_error(file + ": not a valid safetensors file: " + what);
}

}  // namespace

// ---- mapped_file -----------------------------------------------------------------------------

mapped_file::mapped_file(const std::filesystem::path& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw io_error(path.string() + ": cannot open (" + std::strerror(errno) + ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw io_error(path.string() + ": not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            throw io_error(path.string() + ": cannot map (" + std::strerror(e) + ")");
        }
        data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);
}

mapped_file::mapped_file(std::string bytes, std::filesystem::path name)
    : path_(std::move(name)), owned_(std::move(bytes)) {
    size_ = owned_.size();
    data_ = reinterpret_cast<const std::byte*>(owned_.data());
}

mapped_file::~mapped_file() {
    if (data_ && owned_.empty()) ::munmap(const_cast<std::byte*>(data_), size_);
}

// ---- tensor_view -----------------------------------------------------------------------------

std::int64_t tensor_view::numel() const noexcept {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::string tensor_view::shape_string() const {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// ---- safetensors_file ------------------------------------------------------------------------

safetensors_file::safetensors_file(const std::filesystem::path& path) : map_(path) { parse(); }

safetensors_file::safetensors_file(std::string bytes, const std::filesystem::path& name)
    : map_(std::move(bytes), name) {
    parse();
}

void safetensors_file::parse() {
    const std::filesystem::path& path = map_.path();
    const std::string file = path.string();
    auto fail = [&](const std::string& what) { st_fail(file, what); };
    if (map_.size() < 8) fail("shorter than its 8-byte header length (truncated?)");
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i)
        header_len = (header_len << 8) | std::uint64_t(std::to_integer<unsigned>(map_.data()[i]));
    if (header_len > map_.size() - 8)
        fail("header length " + std::to_string(header_len) + " exceeds the file size " +
             std::to_string(map_.size()) + " (truncated?)");
    const std::size_t data_start = 8 + header_len;
    const std::size_t data_size = map_.size() - data_start;
    std::string_view header(reinterpret_cast<const char*>(map_.data()) + 8, header_len);
    json_document doc(header, path);
    simdjson::dom::object root;
    if (doc.root().get_object().get(root)) fail("the header is not a JSON object");

    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (auto [key, value] : root) {
        if (key == "__metadata__") continue;
        std::string name(key);
        tensor_view t;
        t.name = name;
        t.file = &map_.path();
        std::string_view dt;
        if (value.at_key("dtype").get_string().get(dt)) fail("tensor '" + name + "' has no dtype");
        if (!parse_dtype(dt, t.type))
            fail("tensor '" + name + "' has unsupported dtype '" + std::string(dt) + "'");
        simdjson::dom::array shape;
        if (value.at_key("shape").get_array().get(shape))
            fail("tensor '" + name + "' has no shape");
        std::uint64_t numel = 1;
        for (auto d : shape) {
            std::int64_t v = 0;
            if (d.get_int64().get(v) || v < 0) fail("tensor '" + name + "' has a bad shape");
            t.shape.push_back(v);
            if (v != 0 && numel > std::numeric_limits<std::uint64_t>::max() / std::uint64_t(v))
                fail("tensor '" + name + "' is too large");
            numel *= std::uint64_t(v);
        }
        simdjson::dom::array offsets;
        if (value.at_key("data_offsets").get_array().get(offsets) || offsets.size() != 2)
            fail("tensor '" + name + "' has no data_offsets [begin, end]");
        std::uint64_t begin = 0, end = 0;
        if (offsets.at(0).get_uint64().get(begin) || offsets.at(1).get_uint64().get(end) ||
            begin > end)
            fail("tensor '" + name + "' has bad data_offsets");
        if (end > data_size)
            fail("tensor '" + name + "' ends at byte " + std::to_string(end) +
                 " of the data section but the file holds only " + std::to_string(data_size) +
                 " data bytes (truncated?)");
        if (numel > std::numeric_limits<std::uint64_t>::max() / dtype_size(t.type) ||
            end - begin != numel * dtype_size(t.type))
            fail("tensor '" + name + "' " + std::string(dt) + t.shape_string() + " needs " +
                 std::to_string(numel * dtype_size(t.type)) + " bytes but its data_offsets span " +
                 std::to_string(end - begin));
        t.data = map_.data() + data_start + begin;
        t.nbytes = end - begin;
        ranges.emplace_back(begin, end);
        tensors_.emplace(name, std::move(t));
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second) fail("tensor data ranges overlap");
}

const tensor_view* safetensors_file::find(std::string_view name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

// ---- weight_set ------------------------------------------------------------------------------

weight_set weight_set::open(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    weight_set w;
    w.origin_ = path;
    fs::path single, index;
    if (fs::is_directory(path)) {
        if (fs::exists(path / "model.safetensors"))
            single = path / "model.safetensors";
        else if (fs::exists(path / "model.safetensors.index.json"))
            index = path / "model.safetensors.index.json";
        else
            throw io_error(path.string() +
                           ": no model.safetensors or model.safetensors.index.json");
    } else if (path.extension() == ".json") {
        index = path;
    } else {
        single = path;
    }
    if (!single.empty()) {
        w.files_.push_back(std::make_shared<safetensors_file>(single));
    } else {
        json_document doc(index);
        auto map = field(doc.root(), "weight_map");
        simdjson::dom::object obj;
        if (!map || map->get_object().get(obj)) doc.fail("no \"weight_map\" object");
        std::map<std::string, std::shared_ptr<safetensors_file>> shards;
        std::vector<std::pair<std::string, std::string>> entries;
        for (auto [key, value] : obj) {
            std::string_view file;
            if (value.get_string().get(file))
                doc.fail("weight_map[\"" + std::string(key) + "\"] is not a file name");
            if (file.find('/') != std::string_view::npos || file == "..")
                doc.fail("weight_map names a file outside the directory: " + std::string(file));
            entries.emplace_back(std::string(key), std::string(file));
            if (!shards.count(std::string(file))) {
                auto f = std::make_shared<safetensors_file>(index.parent_path() / file);
                shards.emplace(std::string(file), f);
                w.files_.push_back(f);
            }
        }
        for (auto& [name, file] : entries) {
            const tensor_view* t = shards.at(file)->find(name);
            if (!t)
                throw format_error((index.parent_path() / file).string() + ": tensor '" + name +
                                   "' listed in " + index.filename().string() + " is missing");
        }
    }
    for (auto& f : w.files_)
        for (auto& [name, t] : f->tensors()) w.index_.emplace(name, &t);
    return w;
}

weight_set weight_set::from_memory(std::string bytes, const std::filesystem::path& name) {
    weight_set w;
    w.origin_ = name;
    w.files_.push_back(std::make_shared<safetensors_file>(std::move(bytes), name));
    for (auto& [tname, t] : w.files_.back()->tensors()) w.index_.emplace(tname, &t);
    return w;
}

std::string write_safetensors(const std::vector<owned_tensor>& tensors) {
    std::string header = "{", data;
    for (const auto& t : tensors) {
        std::string shape;
        for (auto d : t.shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
        header += (header.size() > 1 ? "," : "") + std::string("\"") + t.name + "\":{\"dtype\":\"" +
                  std::string(dtype_name(t.type)) + "\",\"shape\":[" + shape +
                  "],\"data_offsets\":[" + std::to_string(data.size()) + "," +
                  std::to_string(data.size() + t.bytes.size()) + "]}";
        data += t.bytes;
    }
    header += "}";
    std::string out(8, '\0');
    const std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[std::size_t(i)] = char((n >> (8 * i)) & 0xffu);
    return out + header + data;
}

const tensor_view* weight_set::find(std::string_view name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
}

const tensor_view& weight_set::get(std::string_view name,
                                   std::span<const std::int64_t> shape) const {
    const tensor_view* t = find(name);
    std::string want = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        want += (i ? ", " : "") + std::to_string(shape[i]);
    want += "]";
    if (!t)
        throw format_error(origin_.string() + ": missing tensor '" + std::string(name) + "' " +
                           want);
    if (!std::equal(t->shape.begin(), t->shape.end(), shape.begin(), shape.end()))
        throw format_error(t->file->string() + ": tensor '" + std::string(name) + "' has shape " +
                           t->shape_string() + ", the config implies " + want);
    switch (t->type) {
        case dtype::f32:
        case dtype::f16:
        case dtype::bf16:
        case dtype::f64:
            break;
        default:
            throw format_error(t->file->string() + ": tensor '" + std::string(name) +
                               "' has dtype " + std::string(dtype_name(t->type)) +
                               ", expected a floating-point type");
    }
    return *t;
}

std::vector<std::string> weight_set::names() const {
    std::vector<std::string> out;
    for (auto& [name, t] : index_) out.push_back(name);
    return out;
}

dtype weight_set::main_dtype() const {
    std::map<dtype, std::size_t> bytes;
    for (auto& [name, t] : index_) bytes[t->type] += t->nbytes;
    dtype best = dtype::f32;
    std::size_t most = 0;
    for (auto& [t, n] : bytes)
        if (n > most) most = n, best = t;
    return best;
}

// ---- conversions -----------------------------------------------------------------------------

float half_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t mant = h & 0x3ffu;
    std::uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                --exp;
            }
            mant &= 0x3ffu;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

void to_float(const tensor_view& t, float* out) {
    const std::size_t n = static_cast<std::size_t>(t.numel());
    if (n == 0) return;  // (memcpy from/to null pointers is undefined even for 0 bytes)
    switch (t.type) {
        case dtype::f32:
            std::memcpy(out, t.data, n * sizeof(float));
            return;
        case dtype::f64:
            for (std::size_t i = 0; i < n; ++i) {
                double d;
                std::memcpy(&d, t.data + 8 * i, 8);
                out[i] = static_cast<float>(d);
            }
            return;
        case dtype::f16:
        case dtype::bf16: {
            const bool bf = t.type == dtype::bf16;
            for (std::size_t i = 0; i < n; ++i) {
                std::uint16_t h;
                std::memcpy(&h, t.data + 2 * i, 2);
                out[i] = bf ? bf16_to_float(h) : half_to_float(h);
            }
            return;
        }
        default:
            throw format_error((t.file ? t.file->string() : std::string("?")) + ": tensor '" +
                               t.name + "' has non-float dtype " + std::string(dtype_name(t.type)));
    }
}

}  // namespace model
POLYGLOT_END_NAMESPACE
