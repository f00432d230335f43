// SPDX-License-Identifier: Apache-2.0
/// @file Small helpers shared by the subcommands.
#pragma once

#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <polyglot/core/error.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/plugin/services.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace polyglot::cli {

/// The whole of @p path ("-" = standard input), as bytes. Throws io_error.
inline std::string read_input(const std::string& path) {
    std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (!f) throw io_error("cannot open " + path + ": " + std::strerror(errno));
    std::string data;
    char buf[1 << 16];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
    const bool bad = std::ferror(f) != 0;
    if (f != stdin) std::fclose(f);
    if (bad) throw io_error("cannot read " + (path == "-" ? std::string("stdin") : path));
    return data;
}

/// True when standard error is a terminal (progress bars go there only).
inline bool stderr_is_tty() { return ::isatty(2) == 1; }

/// Writes @p content to @p path ("-" = stdout) atomically.
inline void write_output(const std::string& path, std::string_view content) {
    if (path.empty() || path == "-") {
        std::fwrite(content.data(), 1, content.size(), stdout);
        std::fflush(stdout);
        return;
    }
    io::write_file_atomic(path, content);
}

/// The argv parser every subcommand goes through: parses @p argv with @p desc (the options
/// --help shows) and @p hidden (accepted but not shown), every positional argument going to the
/// option named @p positional (at most @p max_positional of them; -1 = any number, 0 = none).
/// Prints @p desc and returns false on --help (the caller returns 0); throws program_options
/// errors on bad usage (main() prints them and returns 2).
inline bool parse_command_line(int argc, char** argv,
                               const boost::program_options::options_description& desc,
                               const boost::program_options::options_description& hidden,
                               const char* positional, int max_positional,
                               boost::program_options::variables_map& vm) {
    namespace po = boost::program_options;
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add(positional, max_positional);
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return false;
    }
    po::notify(vm);
    return true;
}

/// As above for the usual case: the positional arguments go to @p positional (a hidden option;
/// ownership passes to the parser, as with add_options).
inline bool parse_command_line(int argc, char** argv,
                               const boost::program_options::options_description& desc,
                               const boost::program_options::value_semantic* positional,
                               boost::program_options::variables_map& vm, int max_positional = -1) {
    boost::program_options::options_description hidden;
    hidden.add_options()("input", positional);
    return parse_command_line(argc, argv, desc, hidden, "input", max_positional, vm);
}

/// A report (or result file) named on the command line with its teacher and language.
struct name_spec {
    std::string teacher, lang, file;
};

/// Parses "TEACHER:LANG=FILE" given to @p option (argument_error otherwise).
inline name_spec parse_name_spec(const std::string& s, const char* option) {
    auto eq = s.find('=');
    auto colon = s.substr(0, eq).rfind(':');
    if (eq == std::string::npos || colon == std::string::npos || colon == 0 || colon + 1 == eq ||
        eq + 1 == s.size())
        throw argument_error(std::string(option) + " expects TEACHER:LANG=FILE, got '" + s + "'");
    return {s.substr(0, colon), s.substr(colon + 1, eq - colon - 1), s.substr(eq + 1)};
}

/// The model-backend options of every subcommand that names a model (--lm, --embedder, and the
/// judge / teacher / student options): --backend, --plugin-dir, and the remote backend's
/// options (a model named by URL#MODEL). Defined once here so that every subcommand spells and
/// documents them alike. Usage: `backend_cli b; b.add(desc, opts); ...parse...; b.finish(opts);`
struct backend_cli {
    std::vector<std::string> plugin_dirs;

    /// @p remote: also the remote backend's options (`polyglot serve` has its own
    /// --api-key-env).
    void add(boost::program_options::options_description& desc, backend_options& o,
             bool remote = true) {
        namespace po = boost::program_options;
        // clang-format off
        desc.add_options()
            ("backend", po::value(&o.backend)->default_value(o.backend),
                "model backend: cpu, cuda, metal, remote, auto (a URL#MODEL spec selects "
                "remote), or a plugin path")
            ("plugin-dir", po::value(&plugin_dirs), "extra directory to search for plugins "
                "(repeatable)");
        if (!remote) return;
        desc.add_options()
            ("server-kind", po::value(&o.server_kind)->default_value(o.server_kind),
                "remote models: vllm, sglang, tgi, llamacpp, openai, polyglot, or auto (ask "
                "the server)")
            ("api-key-env", po::value(&o.api_key_env)->default_value(o.api_key_env),
                "remote models: the environment variable holding the API key (sent as a "
                "bearer token, never printed or written)")
            ("concurrency", po::value(&o.concurrency)->default_value(o.concurrency),
                "remote models: requests in flight")
            ("max-retries", po::value(&o.max_retries)->default_value(o.max_retries),
                "remote models: retries of a request (429, 5xx, timeouts, resets, unusable "
                "replies) before it counts as a failed record")
            ("request-timeout", po::value(&o.request_timeout)->default_value(o.request_timeout),
                "remote models: seconds per request")
            ("no-cache", po::bool_switch(&o.no_cache), "remote models: neither reuse nor "
                "write the request journal in the data directory (resume is then off)")
            ("remote-tokenizer", po::value(&o.tokenizer), "remote models: a local tokenizer "
                "directory (tokenizer.json) used instead of the server's /tokenize");
        // clang-format on
    }
    void finish(backend_options& o) const {
        for (const auto& d : plugin_dirs) o.plugin_dirs.emplace_back(d);
    }
};

}  // namespace polyglot::cli
