// SPDX-License-Identifier: Apache-2.0
// polyglot render-chat: each {"messages": [...]} line rendered by the model's chat template, as
// transformers' apply_chat_template renders it; one JSON string per line, in input order.
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/text/chat_template.hpp>
#include <string>
#include <string_view>

#include "command.hpp"
#include "common.hpp"

namespace po = boost::program_options;

namespace polyglot::cli {
namespace {

constexpr std::size_t max_reported = 20;  // stderr lines about bad records

/// --date YYYY-MM-DD[THH:MM:SS] -> a broken-down time for strftime_now.
std::tm parse_date(const std::string& s) {
    std::tm tm{};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    const int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec);
    if (n != 3 && n != 6)
        throw argument_error("--date: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, got '" + s + "'");
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = 0;
    std::tm check = tm;
    if (timegm(&check) == -1 || check.tm_mday != d || check.tm_mon != mo - 1)
        throw argument_error("--date: not a valid date: '" + s + "'");
    return check;  // with tm_wday / tm_yday filled in
}

int run_render_chat(int argc, char** argv) {
    std::string tokenizer, template_file, input = "-", extra, date;
    bool generation_prompt = false, strict = false;
    po::options_description desc(
        "polyglot render-chat --tokenizer DIR [options] [FILE.jsonl|-]\n\n"
        "Renders each input line {\"messages\": [...], \"tools\": [...] (optional), "
        "\"chat_template_kwargs\": {...} (optional)} with the model's chat template exactly as "
        "transformers' apply_chat_template does (jinja2 semantics, the tokenizer config's special "
        "tokens), and prints the rendered text as one JSON string per line, in input order. A "
        "line that cannot be rendered (bad JSON, a template error such as raise_exception's "
        "\"roles must alternate\") prints null and is reported on stderr as FILE:LINE: reason; "
        "with --strict the first one stops the run (exit 1). Empty lines are skipped.\n\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "show this help")
        ("tokenizer,t", po::value(&tokenizer)->required(),
            "model directory with tokenizer_config.json (or chat_template.jinja)")
        ("chat-template", po::value(&template_file), "a .jinja file to use instead of the model's template")
        ("add-generation-prompt", po::bool_switch(&generation_prompt),
            "end with the assistant turn's header (add_generation_prompt=True)")
        ("extra", po::value(&extra),
            "JSON object of extra template variables, e.g. '{\"enable_thinking\": false}'")
        ("date", po::value(&date),
            "fix the date strftime_now() sees (YYYY-MM-DD[THH:MM:SS]); default: now")
        ("strict", po::bool_switch(&strict), "stop at the first bad line");
    // clang-format on
    po::variables_map vm;
    if (!parse_command_line(argc, argv, desc, po::value(&input), vm, 1)) return 0;

    const auto tmpl = text::chat_template::from_model_dir(tokenizer, template_file);
    text::chat_render_options opts;
    opts.add_generation_prompt = generation_prompt;
    opts.extra_json = extra;
    if (!date.empty()) opts.now = parse_date(date);

    const std::string data = read_input(input);
    const std::string label = input == "-" ? std::string("<stdin>") : input;
    std::string out;
    std::size_t rendered = 0, bad = 0;
    std::map<std::string, std::size_t> by_reason;
    std::size_t line_no = 0;
    for (std::size_t pos = 0; pos < data.size();) {
        const std::size_t nl = data.find('\n', pos);
        std::string_view line(data.data() + pos,
                              (nl == std::string::npos ? data.size() : nl) - pos);
        pos = nl == std::string::npos ? data.size() : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        try {
            const std::string text = tmpl.render_request(line, opts);
            io::json_writer w;
            w.value(text);
            out += w.str();
            out += '\n';
            ++rendered;
        } catch (const error& e) {
            std::string reason = "bad request";
            if (const auto* ce = dynamic_cast<const text::chat_template_error*>(&e)) {
                switch (ce->why()) {
                    case text::chat_template_error::reason::raised:
                        reason = "raise_exception";
                        break;
                    case text::chat_template_error::reason::runtime:
                        reason = "template error";
                        break;
                    case text::chat_template_error::reason::unsupported:
                        reason = "unsupported";
                        break;
                    case text::chat_template_error::reason::limit:
                        reason = "sandbox limit";
                        break;
                }
            }
            ++bad;
            ++by_reason[reason];
            if (strict) {
                write_output("-", out);
                throw error(errc::bad_record,
                            label + ":" + std::to_string(line_no) + ": " + e.what());
            }
            if (bad <= max_reported)
                std::fprintf(stderr, "polyglot render-chat: %s:%zu: %s\n", label.c_str(), line_no,
                             e.what());
            out += "null\n";
        }
        if (out.size() > (std::size_t{1} << 20)) {
            write_output("-", out);
            out.clear();
        }
    }
    write_output("-", out);
    if (bad > 0) {
        std::fprintf(stderr, "polyglot render-chat: %s: %zu rendered, %zu skipped (", label.c_str(),
                     rendered, bad);
        bool first = true;
        for (const auto& [r, n] : by_reason) {
            std::fprintf(stderr, "%s%s: %zu", first ? "" : ", ", r.c_str(), n);
            first = false;
        }
        std::fprintf(stderr, ")\n");
    }
    return 0;
}

}  // namespace

POLYGLOT_REGISTER_COMMAND("render-chat", "render chat messages with a model's chat template",
                          run_render_chat);

}  // namespace polyglot::cli
