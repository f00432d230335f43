// SPDX-License-Identifier: Apache-2.0
// polyglot embed --embedder SPEC [--field prompt|response] FILE -o OUT.npy: the embedding of
// every record's prompt or response as a float32 .npy matrix (one row per record, input order),
// computed by whichever backend plugin serves the embedder.
//
// Streams: JSONL chunks are embedded as they are read and their rows appended to a temporary
// file next to OUT; the .npy header (fixed size, its shape written last) is patched at the end
// and the file renamed into place, so OUT appears complete or not at all.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <polyglot/core/error.hpp>
#include <polyglot/io/jsonl.hpp>
#include <polyglot/io/npy.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace {

using polyglot::argument_error;
using polyglot::io_error;

void write_all(std::FILE* f, const void* p, std::size_t n, const std::string& path) {
    if (n && std::fwrite(p, 1, n, f) != n)
        throw io_error(path + ": cannot write (" + std::strerror(errno) + ")");
}

int run_embed(int argc, char** argv) {
    std::string spec, field = "response", output;
    std::vector<std::string> inputs;
    std::size_t threads = 0, max_tokens = 16384, batch = 256;
    bool strict = false;
    po::options_description desc(
        "polyglot embed --embedder SPEC [options] FILE... -o OUT.npy\n\n"
        "Embeds every record's response (or prompt) and writes a float32 .npy matrix with one "
        "row per record, in input order (records of several FILEs follow each other). Bad lines "
        "are skipped (no row) and counted on stderr; --strict stops at the first.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("embedder", po::value(&spec)->required(),
            "fasttext:PATH, a Hugging Face / sentence-transformers DIR, DIR:mean, DIR:last, or "
            "a server URL#MODEL")
        ("field", po::value(&field)->default_value(field), "prompt or response")
        ("output,o", po::value(&output)->required(), "output .npy path")
        ("max-tokens", po::value(&max_tokens)->default_value(max_tokens), "truncate longer texts (model tokens)")
        ("batch", po::value(&batch)->default_value(batch), "texts per backend call")
        ("threads", po::value(&threads)->default_value(0), "worker threads (0 = all cores)")
        ("strict", po::bool_switch(&strict), "stop with an error at the first bad record");
    // clang-format on
    polyglot::backend_options bo;
    polyglot::cli::backend_cli bcli;
    bcli.add(desc, bo);
    po::variables_map vm;
    if (!polyglot::cli::parse_command_line(argc, argv, desc, po::value(&inputs), vm)) return 0;
    if (inputs.empty()) throw argument_error("embed: no input FILE");
    if (field != "prompt" && field != "response")
        throw argument_error("--field must be 'prompt' or 'response', not '" + field + "'");
    if (batch == 0) throw argument_error("--batch must be positive");

    polyglot::parallel::thread_limit limit(threads);
    bcli.finish(bo);
    bo.threads = threads;
    bo.max_tokens = max_tokens;
    auto emb = polyglot::open_embedder(spec, bo);
    const std::size_t dim = emb->dim();

    const std::string tmp = output + ".tmp." + std::to_string(::getpid());
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw io_error(output + ": cannot create (" + std::strerror(errno) + ")");
    std::uint64_t rows = 0, skipped = 0;
    try {
        write_all(f, polyglot::io::npy_f32_header(0, dim).data(), polyglot::io::npy_f32_header_size,
                  output);
        polyglot::io::jsonl_options jo;
        std::vector<float> out;
        for (std::size_t fi = 0; fi < inputs.size(); ++fi) {
            polyglot::io::line_reader reader(inputs[fi], std::uint32_t(fi), jo);
            polyglot::io::line_chunk chunk;
            polyglot::io::parsed_chunk parsed;
            while (reader.next(chunk)) {
                polyglot::io::parse_chunk(chunk, jo, parsed);
                for (const auto& s : parsed.skips) {
                    if (strict)
                        throw polyglot::error(polyglot::errc::bad_record,
                                              inputs[fi] + ":" + std::to_string(s.line) + ": " +
                                                  s.reason +
                                                  (s.detail.empty() ? "" : ": " + s.detail));
                    if (skipped++ < 5)
                        std::cerr << "polyglot embed: " << inputs[fi] << ":" << s.line
                                  << ": skipped (" << s.reason << ")\n";
                }
                std::vector<std::string_view> texts;
                for (const auto& r : parsed.records)
                    texts.push_back(field == "prompt" ? r.prompt : r.response);
                for (std::size_t b = 0; b < texts.size(); b += batch) {
                    const std::size_t n = std::min(batch, texts.size() - b);
                    out.resize(n * dim);
                    emb->embed(std::span(texts).subspan(b, n), out.data());
                    write_all(f, out.data(), out.size() * sizeof(float), output);
                    rows += n;
                }
            }
        }
        if (std::fseek(f, 0, SEEK_SET) != 0)
            throw io_error(output + ": cannot seek (" + std::strerror(errno) + ")");
        write_all(f, polyglot::io::npy_f32_header(rows, dim).data(),
                  polyglot::io::npy_f32_header_size, output);
        if (std::fclose(f) != 0) {
            f = nullptr;
            throw io_error(output + ": cannot write (" + std::strerror(errno) + ")");
        }
        f = nullptr;
        std::filesystem::rename(tmp, output);
    } catch (...) {
        if (f) std::fclose(f);
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw;
    }
    std::cerr << "polyglot embed: " << rows << " rows × " << dim << " (" << emb->id() << " on "
              << emb->backend() << ")"
              << (skipped ? ", " + std::to_string(skipped) + " skipped" : "") << " → " << output
              << "\n";
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("embed", "embed records' prompts or responses into a float32 .npy",
                          run_embed);
