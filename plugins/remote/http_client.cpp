// SPDX-License-Identifier: Apache-2.0
// The batch HTTP client: libcurl's multi interface driven from the calling thread.
#include "http_client.hpp"

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <deque>
#include <mutex>
#include <polyglot/core/error.hpp>
#include <polyglot/plugin/model_spec.hpp>
#include <polyglot/plugin/plugin.hpp>
#include <queue>
#include <random>
#include <vector>

POLYGLOT_BEGIN_NAMESPACE
namespace remote {
namespace {

using clock = std::chrono::steady_clock;

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            throw plugin_error("libcurl failed to initialise");
    });
}

bool iequals_prefix(std::string_view line, std::string_view name) {
    if (line.size() < name.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

double parse_number(std::string_view s) {
    s = trim(s);
    if (s.empty()) return -1;
    std::string tmp(s);
    char* end = nullptr;
    const double v = std::strtod(tmp.c_str(), &end);
    if (end != tmp.c_str() + tmp.size() || !std::isfinite(v)) return -1;
    return v;
}

/// One transfer in flight.
struct transfer {
    CURL* easy = nullptr;
    std::size_t job = 0;
    std::string request_body;
    std::string response;
    long status = 0;
    double retry_after = -1;
    double remaining_requests = -1, reset_requests = -1;
    double remaining_tokens = -1, reset_tokens = -1;
    char errbuf[CURL_ERROR_SIZE] = {0};

    void reset_headers() {
        status = 0;
        retry_after = remaining_requests = reset_requests = remaining_tokens = reset_tokens = -1;
    }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<transfer*>(user);
    t->response.append(data, size * n);
    return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<transfer*>(user);
    const std::string_view line(data, size * n);
    if (iequals_prefix(line, "http/")) {
        t->reset_headers();  // a new response (after a 100 Continue, or a redirect)
        return size * n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * n;
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    auto is = [&](std::string_view want) {
        return name.size() == want.size() && iequals_prefix(name, want);
    };
    if (is("retry-after"))
        t->retry_after = parse_retry_after(value);
    else if (is("x-ratelimit-remaining-requests"))
        t->remaining_requests = parse_number(value);
    else if (is("x-ratelimit-reset-requests"))
        t->reset_requests = parse_reset_duration(value);
    else if (is("x-ratelimit-remaining-tokens"))
        t->remaining_tokens = parse_number(value);
    else if (is("x-ratelimit-reset-tokens"))
        t->reset_tokens = parse_reset_duration(value);
    return size * n;
}

/// The server's own words from an error body: OpenAI's {"error": {"message"}}, vLLM's
/// {"message"}, TGI's {"error": "..."}, FastAPI's {"detail"}; else the body's start.
std::string server_message(const std::string& body) {
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    if (!p.parse(body).get(doc)) {
        std::string_view s;
        auto e = doc["error"];
        if (!e.error()) {
            if (!e.get(s)) return std::string(s);
            if (!e["message"].get(s)) return std::string(s);
        }
        if (!doc["message"].get(s)) return std::string(s);
        if (!doc["detail"].get(s)) return std::string(s);
    }
    std::string out = body.substr(0, 200);
    for (char& c : out)
        if (c == '\n' || c == '\r') c = ' ';
    if (body.size() > 200) out += "...";
    return out;
}

std::string describe_curl(CURLcode code, const char* errbuf, double timeout) {
    std::string what;
    switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
            what = "no reply within " + std::to_string(static_cast<long>(timeout)) + " s";
            break;
        case CURLE_COULDNT_CONNECT:
            what = "connection refused";
            break;
        case CURLE_COULDNT_RESOLVE_HOST:
            what = "host not found";
            break;
        case CURLE_GOT_NOTHING:
            what = "the server closed the connection without a reply";
            break;
        case CURLE_RECV_ERROR:
        case CURLE_PARTIAL_FILE:
            what = "connection reset while receiving the reply";
            break;
        case CURLE_SEND_ERROR:
            what = "connection reset while sending the request";
            break;
        default:
            what = curl_easy_strerror(code);
    }
    if (errbuf && *errbuf) what += std::string(" (") + errbuf + ")";
    return what;
}

std::string display_request(const http_request& rq) {
    return (rq.get ? "GET " : "POST ") + display_url(rq.url);
}

}  // namespace

double parse_retry_after(std::string_view value) {
    value = trim(value);
    if (value.empty()) return -1;
    if (std::isdigit(static_cast<unsigned char>(value.front()))) return parse_number(value);
    // An HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT".
    const time_t when = curl_getdate(std::string(value).c_str(), nullptr);
    if (when < 0) return -1;
    return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

double parse_reset_duration(std::string_view value) {
    value = trim(value);
    if (value.empty()) return -1;
    double total = 0;
    bool any = false;
    std::size_t i = 0;
    while (i < value.size()) {
        std::size_t j = i;
        while (j < value.size() &&
               (std::isdigit(static_cast<unsigned char>(value[j])) || value[j] == '.'))
            ++j;
        if (j == i) return -1;
        const double v = parse_number(value.substr(i, j - i));
        if (v < 0) return -1;
        std::size_t k = j;
        while (k < value.size() && std::isalpha(static_cast<unsigned char>(value[k]))) ++k;
        const std::string_view unit = value.substr(j, k - j);
        double scale = 0;
        if (unit.empty() || unit == "s")
            scale = 1;
        else if (unit == "ms")
            scale = 1e-3;
        else if (unit == "m")
            scale = 60;
        else if (unit == "h")
            scale = 3600;
        else
            return -1;
        total += v * scale;
        any = true;
        i = k;
    }
    return any ? total : -1;
}

struct http_client::impl {
    CURLM* multi = nullptr;
    curl_slist* headers = nullptr;
    std::vector<CURL*> idle;
    std::mt19937_64 rng{std::random_device{}()};
    clock::time_point pause_until{};  // a 429 or an exhausted rate limit pauses every request

    ~impl() {
        for (CURL* e : idle) curl_easy_cleanup(e);
        if (multi) curl_multi_cleanup(multi);
        if (headers) curl_slist_free_all(headers);
    }
    CURL* take() {
        if (!idle.empty()) {
            CURL* e = idle.back();
            idle.pop_back();
            return e;
        }
        CURL* e = curl_easy_init();
        if (!e) throw std::bad_alloc();
        return e;
    }
};

http_client::http_client(client_options opts) : opts_(std::move(opts)), impl_(new impl) {
    global_init();
    if (opts_.concurrency == 0) opts_.concurrency = 1;
    impl_->multi = curl_multi_init();
    if (!impl_->multi) throw std::bad_alloc();
    const long conc = static_cast<long>(opts_.concurrency);
    curl_multi_setopt(impl_->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);
    curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conc);
    curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, conc);
    for (const char* h : {"Content-Type: application/json", "Accept: application/json", "Expect:"})
        impl_->headers = curl_slist_append(impl_->headers, h);
    if (!opts_.api_key.empty())
        impl_->headers =
            curl_slist_append(impl_->headers, ("Authorization: Bearer " + opts_.api_key).c_str());
}

http_client::~http_client() = default;

std::string http_client::redact(std::string text) const {
    if (opts_.api_key.empty()) return text;
    for (std::size_t p = text.find(opts_.api_key); p != std::string::npos;
         p = text.find(opts_.api_key, p))
        text.replace(p, opts_.api_key.size(), "[redacted]");
    return text;
}

void http_client::run(std::size_t n, const batch_hooks& hooks) {
    std::lock_guard lock(run_mutex_);
    impl& im = *impl_;
    struct job_state {
        std::size_t attempt = 0;  // attempts made
        std::string last_error;
    };
    std::vector<job_state> jobs(n);
    std::deque<std::size_t> fresh;
    for (std::size_t i = 0; i < n; ++i) fresh.push_back(i);
    using timed = std::pair<clock::time_point, std::size_t>;
    std::priority_queue<timed, std::vector<timed>, std::greater<>> delayed;
    std::vector<std::unique_ptr<transfer>> active;
    std::size_t done = 0;
    auto last_progress = clock::now();
    std::string auth_failure;

    auto backoff = [&](std::size_t attempt) {
        const double cap =
            std::min(opts_.backoff_max, opts_.backoff_base * std::ldexp(1.0, int(attempt) - 1));
        std::uniform_real_distribution<double> u(0.5, 1.0);
        return cap * u(im.rng);
    };
    auto seconds = [](double s) {
        return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
    };
    auto finish_failed = [&](std::size_t job, const std::string& reason) {
        ++done;
        stats_.failed.fetch_add(1, std::memory_order_relaxed);
        hooks.fail(job, redact(reason));
    };
    auto retry = [&](std::size_t job, std::string reason, double delay) {
        auto& js = jobs[job];
        js.last_error = std::move(reason);
        if (js.attempt > opts_.max_retries) {
            finish_failed(job, "failed after " + std::to_string(js.attempt) + " attempt" +
                                   (js.attempt == 1 ? "" : "s") + ": " + js.last_error);
            return;
        }
        if (delay < 0) delay = backoff(js.attempt);
        delayed.emplace(clock::now() + seconds(delay), job);
    };
    auto start = [&](std::size_t job) {
        auto t = std::make_unique<transfer>();
        t->job = job;
        http_request rq = hooks.make(job);
        t->request_body = std::move(rq.body);
        t->easy = im.take();
        CURL* e = t->easy;
        curl_easy_setopt(e, CURLOPT_URL, rq.url.c_str());
        if (rq.get) {
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        } else {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request_body.data());
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(t->request_body.size()));
        }
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, im.headers);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        const long timeout_ms = static_cast<long>(std::max(1.0, opts_.request_timeout * 1000));
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 30000L));
        curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
        ++jobs[job].attempt;
        stats_.sent.fetch_add(1, std::memory_order_relaxed);
        if (jobs[job].attempt > 1) stats_.retries.fetch_add(1, std::memory_order_relaxed);
        curl_multi_add_handle(im.multi, e);
        active.push_back(std::move(t));
    };
    auto release = [&](transfer* t) {
        curl_multi_remove_handle(im.multi, t->easy);
        im.idle.push_back(t->easy);
        t->easy = nullptr;
    };
    auto abort_all = [&] {
        for (auto& t : active) release(t.get());
        active.clear();
    };
    auto complete = [&](transfer* t, CURLcode code) {
        const std::size_t job = t->job;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
        const auto now = clock::now();
        // Rate limits apply to the whole client: pause new requests until the window resets.
        if (t->remaining_requests == 0 && t->reset_requests > 0)
            im.pause_until = std::max(im.pause_until, now + seconds(t->reset_requests));
        if (t->remaining_tokens == 0 && t->reset_tokens > 0)
            im.pause_until = std::max(im.pause_until, now + seconds(t->reset_tokens));
        if (code != CURLE_OK) {
            retry(job, describe_curl(code, t->errbuf, opts_.request_timeout), -1);
            return;
        }
        const long st = t->status;
        if (st >= 200 && st < 300) {
            if (t->response.capacity() < t->response.size() + simdjson::SIMDJSON_PADDING)
                t->response.reserve(t->response.size() + simdjson::SIMDJSON_PADDING);
            std::string why = hooks.accept(job, t->response);
            if (why.empty()) {
                ++done;
                stats_.succeeded.fetch_add(1, std::memory_order_relaxed);
            } else {
                retry(job, "unusable reply: " + why, -1);
            }
            return;
        }
        const std::string msg = "HTTP " + std::to_string(st) + ": " + server_message(t->response);
        if (st == 429) {
            const double d = t->retry_after >= 0 ? t->retry_after : backoff(jobs[job].attempt);
            im.pause_until = std::max(im.pause_until, now + seconds(d));
            retry(job, msg, d);
        } else if (st == 408 || st >= 500) {
            retry(job, msg, t->retry_after);
        } else if (st == 401 || st == 403) {
            auth_failure = msg;
        } else {
            finish_failed(job, msg);  // the request itself is wrong: retrying cannot help
        }
    };

    try {
        while (done < n) {
            if (hooks.cancelled && hooks.cancelled()) break;
            if (!auth_failure.empty()) break;
            auto now = clock::now();
            while (active.size() < opts_.concurrency && now >= im.pause_until) {
                if (!delayed.empty() && delayed.top().first <= now) {
                    const std::size_t j = delayed.top().second;
                    delayed.pop();
                    start(j);
                } else if (!fresh.empty()) {
                    start(fresh.front());
                    fresh.pop_front();
                } else {
                    break;
                }
            }
            int running = 0;
            curl_multi_perform(im.multi, &running);
            int left = 0;
            while (CURLMsg* m = curl_multi_info_read(im.multi, &left)) {
                if (m->msg != CURLMSG_DONE) continue;
                transfer* t = nullptr;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
                const CURLcode code = m->data.result;
                complete(t, code);
                release(t);
                active.erase(std::find_if(active.begin(), active.end(),
                                          [&](const auto& p) { return p.get() == t; }));
            }
            now = clock::now();
            if (hooks.progress && now - last_progress >= std::chrono::milliseconds(100)) {
                last_progress = now;
                hooks.progress(done, n);
            }
            if (done >= n) break;
            // Sleep until a socket is ready or the next delayed job / pause ends (≤ 100 ms).
            auto wake = now + std::chrono::milliseconds(100);
            if (active.size() < opts_.concurrency) {
                if (!delayed.empty())
                    wake = std::min(wake, std::max(delayed.top().first, im.pause_until));
                if (!fresh.empty()) wake = std::min(wake, std::max(now, im.pause_until));
            }
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
            if (!active.empty() || ms.count() > 0)
                curl_multi_poll(im.multi, nullptr, 0,
                                static_cast<int>(std::max<long>(0, ms.count())), nullptr);
        }
    } catch (...) {
        abort_all();
        throw;
    }
    abort_all();
    if (hooks.progress) hooks.progress(done, n);
    if (!auth_failure.empty())
        throw plugin_sdk::status_error(
            POLYGLOT_STATUS_UNAVAILABLE,
            redact("the server refused the request (" + auth_failure +
                   "): check the API key (the environment variable named by --api-key-env)"));
}

std::string http_client::fetch(const http_request& rq,
                               const std::function<std::string(const std::string&)>& check) {
    std::string body, error;
    bool ok = false;
    batch_hooks h;
    h.make = [&](std::size_t) { return rq; };
    h.accept = [&](std::size_t, const std::string& b) {
        if (check) {
            std::string why = check(b);
            if (!why.empty()) return why;
        }
        body = b;
        ok = true;
        return std::string();
    };
    h.fail = [&](std::size_t, const std::string& why) { error = why; };
    run(1, h);
    if (!ok) throw io_error(display_request(rq) + ": " + error);
    return body;
}

}  // namespace remote
POLYGLOT_END_NAMESPACE
