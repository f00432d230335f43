// SPDX-License-Identifier: Apache-2.0
// polyglot serve --model SPEC: the OpenAI-compatible subset (vLLM's shapes) over our own engines,
// so that the remote backend of other polyglot processes can use this one (library:
// include/polyglot/serve/server.hpp).
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <polyglot/core/error.hpp>
#include <polyglot/parallel/threads.hpp>
#include <polyglot/serve/server.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

int run_serve(int argc, char** argv) {
    serve::server_options so;
    std::string api_key_env;
    std::size_t threads = 0;
    bool quiet = false;
    po::options_description desc(
        "polyglot serve --model SPEC [options]\n\n"
        "Serves a model over HTTP in vLLM's OpenAI-compatible shapes: /v1/models, /tokenize,\n"
        "/detokenize, /v1/completions (echo + prompt_logprobs), /v1/chat/completions,\n"
        "/v1/embeddings. Clients name it as http://HOST:PORT/v1#NAME (--lm, --embedder).\n"
        "Concurrent requests are batched into the engine. Listens on loopback unless --host\n"
        "says otherwise; prints the URL on stdout once listening.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("model", po::value(&so.model)->required(), "model directory (Hugging Face layout) or "
            "sentence-transformers directory")
        ("name", po::value(&so.name), "served model name (default: the directory's name)")
        ("host", po::value(&so.host)->default_value(so.host), "address to listen on")
        ("port", po::value(&so.port)->default_value(so.port), "port (0 = any free port)")
        ("api-key-env", po::value(&api_key_env), "require `Authorization: Bearer KEY`, KEY "
            "being the value of this environment variable")
        ("max-tokens", po::value(&so.backend.max_tokens)->default_value(so.backend.max_tokens),
            "longest input the engine takes")
        ("threads", po::value(&threads)->default_value(0), "engine threads (0 = all cores)")
        ("io-threads", po::value(&so.io_threads)->default_value(so.io_threads),
            "HTTP threads")
        ("batch-window-ms", po::value(&so.batch_window_ms)->default_value(so.batch_window_ms),
            "an idle engine waits this long for concurrent requests to batch")
        ("max-batch", po::value(&so.max_batch)->default_value(so.max_batch),
            "sequences per engine call")
        ("quiet,q", po::bool_switch(&quiet), "no summary on exit");
    // clang-format on
    backend_cli bcli;
    bcli.add(desc, so.backend, /*remote=*/false);
    po::variables_map vm;
    std::vector<std::string> positional;
    if (!parse_command_line(argc, argv, desc, po::value(&positional), vm, 0)) return 0;
    bcli.finish(so.backend);
    so.backend.threads = threads;
    if (!api_key_env.empty()) {
        const char* key = std::getenv(api_key_env.c_str());
        if (!key || !*key)
            throw argument_error("--api-key-env " + api_key_env +
                                 ": the environment variable is not set or empty");
        so.api_key = key;
    }
    parallel::thread_limit limit(threads);
    serve::server srv(so);
    std::printf("polyglot serve: listening on %s\n", srv.url().c_str());
    std::fflush(stdout);
    srv.run(/*handle_signals=*/true);
    if (!quiet) {
        const auto st = srv.stats();
        std::fprintf(stderr,
                     "polyglot serve: stopped after %llu requests (%llu engine calls, %llu "
                     "sequences)\n",
                     static_cast<unsigned long long>(st.requests),
                     static_cast<unsigned long long>(st.engine_calls),
                     static_cast<unsigned long long>(st.engine_items));
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("serve", "serve a model over HTTP (OpenAI-compatible, vLLM shapes)",
                          run_serve);

}  // namespace polyglot::cli
