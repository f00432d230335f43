// SPDX-License-Identifier: Apache-2.0
// Helpers for the remote backend's tests: child processes (the scripted fake server, polyglot
// serve, the CLI), temporary directories, request logs.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <polyglot/json/value.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/require_asset.hpp"

extern char** environ;

namespace remote_test {
namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void spit(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

struct tmpdir {
    fs::path dir;
    explicit tmpdir(const std::string& tag) {
        dir = fs::temp_directory_path() /
              ("polyglot_" + tag + "_" + std::to_string(::getpid()) + "_" +
               std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        fs::create_directories(dir);
    }
    ~tmpdir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

/// A child process with its stdin (and optionally stdout) on pipes.
class child {
  public:
    /// @p stdout_to: "" = a pipe readable with read_line(); otherwise a file path.
    child(const std::vector<std::string>& argv, const std::string& stdout_to = {},
          const std::string& stderr_to = {}) {
        int in[2], out[2] = {-1, -1};
        BOOST_REQUIRE(::pipe(in) == 0);
        if (stdout_to.empty()) BOOST_REQUIRE(::pipe(out) == 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_addclose(&fa, in[1]);
        if (stdout_to.empty()) {
            posix_spawn_file_actions_adddup2(&fa, out[1], 1);
            posix_spawn_file_actions_addclose(&fa, out[0]);
        } else {
            posix_spawn_file_actions_addopen(&fa, 1, stdout_to.c_str(),
                                             O_WRONLY | O_CREAT | O_TRUNC, 0644);
        }
        if (!stderr_to.empty())
            posix_spawn_file_actions_addopen(&fa, 2, stderr_to.c_str(),
                                             O_WRONLY | O_CREAT | O_APPEND, 0644);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(in[0]);
        stdin_ = in[1];
        if (stdout_to.empty()) {
            ::close(out[1]);
            stdout_ = out[0];
        }
        BOOST_REQUIRE_MESSAGE(rc == 0, "cannot start " + argv[0]);
    }
    ~child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            wait();
        }
        if (stdin_ >= 0) ::close(stdin_);
        if (stdout_ >= 0) ::close(stdout_);
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    /// The next line of the child's stdout ("" at EOF or after @p timeout_s).
    std::string read_line(double timeout_s = 30) {
        std::string line;
        const auto end =
            std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
        while (std::chrono::steady_clock::now() < end) {
            pollfd p{stdout_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            char c;
            if (::read(stdout_, &c, 1) != 1) break;
            if (c == '\n') return line;
            line += c;
        }
        return line;
    }
    void signal(int sig) const {
        if (pid_ > 0) ::kill(pid_, sig);
    }
    /// Waits for the child; its exit code, or 128 + signal.
    int wait() {
        if (pid_ <= 0) return status_;
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
    }
    /// True once the child has exited (does not block).
    bool exited() {
        if (pid_ <= 0) return true;
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return true;
        }
        return false;
    }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  private:
    pid_t pid_ = -1;
    int stdin_ = -1, stdout_ = -1;
    int status_ = -1;
};

inline std::string python() {
    const std::string py = "/usr/bin/python3";
    if (!fs::exists(py) || std::system((py + " -c 'import aiohttp' 2>/dev/null").c_str()) != 0)
        BOOST_FAIL(
            "/usr/bin/python3 with aiohttp is missing (Debian python3-aiohttp; "
            "scripts/bootstrap installs it): the remote tests need their scripted server");
    return py;
}

inline fs::path source_dir() { return fs::path(POLYGLOT_SOURCE_DIR); }

/// The scripted server of tests/remote/fake_server.py on a free loopback port.
class fake_server {
  public:
    fake_server(const std::string& kind, const fs::path& dir, std::vector<std::string> extra = {},
                const std::string& faults_json = {})
        : log_(dir / ("server-" + kind + "-" + std::to_string(counter()++) + ".log")) {
        std::vector<std::string> argv = {
            python(), (source_dir() / "tests/remote/fake_server.py").string(),
            "--kind", kind,
            "--log",  log_.string()};
        if (!faults_json.empty()) {
            const fs::path f = log_.string() + ".faults.json";
            spit(f, faults_json);
            argv.push_back("--faults");
            argv.push_back(f.string());
        }
        argv.insert(argv.end(), extra.begin(), extra.end());
        proc_ = std::make_unique<child>(argv);
        const std::string line = proc_->read_line();
        BOOST_REQUIRE_MESSAGE(line.rfind("PORT ", 0) == 0,
                              "the fake " + kind + " server did not start (got '" + line + "')");
        port_ = std::stoi(line.substr(5));
    }
    [[nodiscard]] int port() const noexcept { return port_; }
    [[nodiscard]] std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
    [[nodiscard]] std::string url(const std::string& model = "fake-model") const {
        return base() + "/v1#" + model;
    }
    /// The request log: one object per request received.
    [[nodiscard]] std::vector<polyglot::analysis::json_value> log() const {
        std::vector<polyglot::analysis::json_value> out;
        if (!fs::exists(log_)) return out;
        for (auto& [n, v] : polyglot::analysis::parse_json_lines(slurp(log_), log_.string()))
            out.push_back(std::move(v));
        return out;
    }
    /// Requests to @p path in the log.
    [[nodiscard]] std::vector<polyglot::analysis::json_value> requests(
        const std::string& path) const {
        std::vector<polyglot::analysis::json_value> out;
        for (auto& e : log()) {
            const auto* p = e.find("path");
            if (p && p->is_string() && p->as_string() == path) out.push_back(e);
        }
        return out;
    }
    [[nodiscard]] const fs::path& log_path() const noexcept { return log_; }

  private:
    static int& counter() {
        static int n = 0;
        return n;
    }
    fs::path log_;
    std::unique_ptr<child> proc_;
    int port_ = 0;
};

/// The polyglot CLI that ctest names in POLYGLOT_CLI.
inline std::string cli() { return polyglot::testing::require_cli(); }

/// Runs the CLI with @p args, stdout and stderr into files; returns the exit code.
inline int run_cli(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
    std::vector<std::string> argv = {cli()};
    argv.insert(argv.end(), args.begin(), args.end());
    child c(argv, out.string(), err.string());
    return c.wait();
}

/// Sets an environment variable for the scope.
class scoped_env {
  public:
    scoped_env(std::string name, const std::string& value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) old_ = old, had_ = true;
        ::setenv(name_.c_str(), value.c_str(), 1);
    }
    ~scoped_env() {
        if (had_)
            ::setenv(name_.c_str(), old_.c_str(), 1);
        else
            ::unsetenv(name_.c_str());
    }

  private:
    std::string name_, old_;
    bool had_ = false;
};

inline double num(const polyglot::analysis::json_value* v) {
    BOOST_REQUIRE(v && v->is_number());
    return v->as_number();
}

}  // namespace remote_test
