// SPDX-License-Identifier: Apache-2.0
// polyglot backends: every plugin found on the search path, whether it is usable here, and why
// not.
#include <boost/program_options.hpp>
#include <cstdio>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/plugin/host.hpp>
#include <string>
#include <vector>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v) {
        if (!out.empty()) out += sep;
        out += s;
    }
    return out;
}

const char* device_type(int t) {
    switch (t) {
        case POLYGLOT_DEVICE_CPU:
            return "cpu";
        case POLYGLOT_DEVICE_GPU:
            return "gpu";
        case POLYGLOT_DEVICE_ACCEL:
            return "accel";
        default:
            return "unknown";
    }
}

std::string human_bytes(std::uint64_t b) {
    char buf[32];
    if (b >= (1ull << 30))
        std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ull << 30));
    else
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ull << 20));
    return buf;
}

bool valid_json(const std::string& s) {
    try {
        (void)polyglot::analysis::parse_json(s, "self-test verdict");
        return true;
    } catch (const polyglot::error&) {
        return false;
    }
}

/// The "summary" of a self-test verdict (the whole text when it is not the expected JSON).
std::string self_test_summary(const std::string& json) {
    try {
        const auto v = polyglot::analysis::parse_json(json, "self-test verdict");
        if (const auto* f = v.find_path("summary"); f && f->is_string()) return f->as_string();
    } catch (const polyglot::error&) {
    }
    return json;
}

int run_backends(int argc, char** argv) {
    po::options_description desc(
        "usage: polyglot backends [--json] [--plugin-dir DIR]...\n\n"
        "Lists the backend plugins found (search order: --plugin-dir, $POLYGLOT_PLUGIN_PATH,\n"
        "the install directory, next to the executable) with name, version, file, ABI,\n"
        "capabilities and devices, and why an unusable one is unusable.\n\noptions");
    desc.add_options()("help,h", "show this help")("json", "machine-readable output")(
        "plugin-dir", po::value<std::vector<std::string>>()->composing(),
        "search this directory first (repeatable)");
    po::variables_map vm;
    if (!polyglot::cli::parse_command_line(argc, argv, desc, {}, "", 0, vm)) return 0;
    polyglot::plugin::search_options opts;
    if (vm.count("plugin-dir"))
        for (const auto& d : vm["plugin-dir"].as<std::vector<std::string>>())
            opts.plugin_dirs.emplace_back(d);

    const auto dirs = polyglot::plugin::search_path(opts);
    const auto entries = polyglot::plugin::scan(opts);

    if (vm.count("json")) {
        polyglot::io::json_writer w(2);
        w.begin_object();
        w.kv("host_abi", POLYGLOT_PLUGIN_ABI_VERSION);
        w.key("search_path").begin_array();
        for (const auto& d : dirs) w.value(d.string());
        w.end_array();
        w.key("plugins").begin_array();
        for (const auto& e : entries) {
            w.begin_object();
            w.kv("file", e.file.string());
            if (!e.plugin) {
                w.kv("loaded", false).kv("usable", false).kv("error", e.error);
                w.end_object();
                continue;
            }
            const auto& p = *e.plugin;
            w.kv("loaded", true);
            w.kv("name", p.name()).kv("version", p.version()).kv("description", p.description());
            w.kv("abi", p.abi_version());
            w.key("capabilities").begin_array();
            for (const auto& c : polyglot::plugin::capability_names(p.caps())) w.value(c);
            w.end_array();
            w.kv("score", p.score()).kv("usable", p.usable());
            if (!p.usable()) w.kv("error", p.unusable_reason());
            // The plugin's own JSON object, checked before it is spliced in.
            if (const auto st = p.self_test(); !st.empty() && valid_json(st))
                w.key("self_test").raw(st);
            w.key("devices").begin_array();
            for (const auto& d : p.devices()) {
                w.begin_object();
                w.kv("name", d.name)
                    .kv("type", device_type(d.type))
                    .kv("description", d.description);
                w.kv("memory_total", d.memory_total).kv("memory_free", d.memory_free);
                w.end_object();
            }
            w.end_array();
            w.end_object();
        }
        w.end_array();
        w.end_object();
        std::string out = w.take();
        out += '\n';
        polyglot::cli::write_output("-", out);
        return 0;
    }

    std::string out =
        "plugin ABI " + std::to_string(POLYGLOT_PLUGIN_ABI_VERSION) + "; search path:\n";
    for (const auto& d : dirs) out += "  " + d.string() + "\n";
    if (entries.empty()) out += "\nno plugins found\n";
    for (const auto& e : entries) {
        out += "\n";
        if (!e.plugin) {
            out += "? " + e.file.string() + "\n  not loadable: " + e.error + "\n";
            continue;
        }
        const auto& p = *e.plugin;
        out += (p.usable() ? "* " : "- ") + p.name() + " " + p.version() +
               (p.usable() ? "" : "  [unusable: " + p.unusable_reason() + "]") + "\n";
        if (!p.description().empty()) out += "  " + p.description() + "\n";
        out += "  file: " + p.file().string() + "\n";
        out += "  abi " + std::to_string(p.abi_version()) + ", score " + std::to_string(p.score()) +
               ", capabilities: " + join(polyglot::plugin::capability_names(p.caps()), ", ") + "\n";
        if (const auto st = p.self_test(); !st.empty())
            out += "  self-test: " + self_test_summary(st) + "\n";
        for (const auto& d : p.devices()) {
            out += "  device " + d.name + " (" + device_type(d.type) + ")";
            if (!d.description.empty()) out += ": " + d.description;
            if (d.memory_total) out += ", " + human_bytes(d.memory_total);
            out += "\n";
        }
    }
    polyglot::cli::write_output("-", out);
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("backends", "list backend plugins, their capabilities and devices",
                          run_backends);
