// SPDX-License-Identifier: Apache-2.0
/// @file A batch HTTP client over libcurl's multi interface: runs many JSON requests with
/// bounded concurrency on the calling thread, retries with jittered exponential backoff on 429,
/// 5xx, timeouts, connection failures and unparsable bodies, honours `Retry-After` and the
/// `x-ratelimit-*` headers, and reports each job exactly once: accepted or failed with a reason.
/// Connections are kept alive across batches (the multi handle's connection cache).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <polyglot/version.hpp>
#include <string>
#include <string_view>

POLYGLOT_BEGIN_NAMESPACE
namespace remote {

struct client_options {
    std::size_t concurrency = 32;  ///< requests in flight
    std::size_t max_retries = 5;   ///< retries per request after its first attempt
    double request_timeout = 600;  ///< seconds per attempt
    double backoff_base = 0.5;     ///< seconds; attempt k waits base·2^k·U(0.5, 1], capped
    double backoff_max = 60;       ///< seconds
    std::string api_key;           ///< sent as a bearer token; never logged ("" = none)
};

/// One HTTP request of a batch.
struct http_request {
    std::string url;   ///< absolute
    std::string body;  ///< JSON for POST; empty with get
    bool get = false;
};

/// Counters over the client's life (for progress lines and model info).
struct client_stats {
    std::atomic<std::uint64_t> sent{0};       ///< attempts sent
    std::atomic<std::uint64_t> retries{0};    ///< attempts that were retries
    std::atomic<std::uint64_t> succeeded{0};  ///< jobs accepted
    std::atomic<std::uint64_t> failed{0};     ///< jobs failed after their retries
};

/// Hooks of one batch. `make`, `accept`, `fail` and `progress` are called on the calling
/// thread, one at a time.
struct batch_hooks {
    /// The request of job i (called once per attempt; may return the same request again).
    std::function<http_request(std::size_t job)> make;
    /// Job i got HTTP 2xx with @p body (its capacity leaves simdjson's padding, so it parses
    /// without a copy). Return "" to accept it, or the reason the body is unusable (truncated
    /// or invalid JSON, wrong shape, wrong dimension): the job is retried.
    std::function<std::string(std::size_t job, const std::string& body)> accept;
    /// Job i failed for good (after its retries, or at once on a 4xx other than 408/429).
    std::function<void(std::size_t job, const std::string& reason)> fail;
    /// (optional) jobs finished so far (accepted or failed) of @p total; at most every ~100 ms.
    std::function<void(std::size_t done, std::size_t total)> progress;
    /// (optional) true: stop as soon as possible; unfinished jobs are neither accepted nor
    /// failed.
    std::function<bool()> cancelled;
};

class http_client {
  public:
    explicit http_client(client_options opts);
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    /// Runs jobs [0, n). Returns when every job was accepted or failed, or on cancel.
    /// Throws plugin_sdk::status_error (UNAVAILABLE) when the server refuses the credentials
    /// (HTTP 401/403: every job would fail the same way). Thread-safe: concurrent calls are
    /// serialised.
    void run(std::size_t n, const batch_hooks& hooks);

    /// One request with the same retry policy (for probing and one-off calls): the body of the
    /// accepted 2xx reply, or throws polyglot::io_error with the last failure.
    std::string fetch(const http_request& rq,
                      const std::function<std::string(const std::string&)>& check = {});

    [[nodiscard]] const client_stats& stats() const noexcept { return stats_; }
    [[nodiscard]] const client_options& options() const noexcept { return opts_; }

    /// Removes every occurrence of the API key from @p text (server messages may echo
    /// headers); returns the text.
    [[nodiscard]] std::string redact(std::string text) const;

  private:
    struct impl;
    client_options opts_;
    client_stats stats_;
    std::mutex run_mutex_;
    std::unique_ptr<impl> impl_;
};

/// Parses a `Retry-After` value (delay-seconds or an HTTP date) into seconds from now; < 0 when
/// unparsable.
double parse_retry_after(std::string_view value);

/// Parses an `x-ratelimit-reset-*` duration ("1s", "6m0s", "20ms", "1.5s", "2h3m") into
/// seconds; < 0 when unparsable.
double parse_reset_duration(std::string_view value);

}  // namespace remote
POLYGLOT_END_NAMESPACE
