// SPDX-License-Identifier: Apache-2.0
// text::chat_template against the jinja2 oracle (tests/oracles/chat_template_oracle.py, Python's
// jinja2 configured as transformers' apply_chat_template): byte-for-byte equality on the real
// chat templates that npm packages ship (Gemma 3, Llama 3 / 3.1 / 3.1 Instruct, Qwen3, Qwen2.5,
// DeepSeek V3, Mistral Nemo, gpt-oss) for every conversation of
// tests/data/chat/conversations.jsonl with add_generation_prompt off and on, the same
// raise_exception messages; every other template of the fetched collections (llama.cpp's
// models/templates, @huggingface/ollama-utils) renders equal or fails where jinja2 fails; and
// the API's sources, errors, limits, thread safety and `polyglot render-chat`.
#define BOOST_TEST_MODULE chat_template
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/core/paths.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/text/chat_template.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/require_asset.hpp"

namespace fs = std::filesystem;
using polyglot::analysis::json_value;
using polyglot::text::chat_render_options;
using polyglot::text::chat_template;
using polyglot::text::chat_template_error;

namespace {

const char* const fetch_hint = "run scripts/fetch-test-assets";

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_text(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

/// A scratch directory removed at scope exit.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "chat_template_test.XXXXXX").string();
        BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

fs::path assets() { return polyglot::data_dir() / "test-assets"; }

fs::path require_asset(const fs::path& p) { return polyglot::testing::require_path(p, fetch_hint); }

/// The strftime_now time of the oracle: 2024-07-26 12:00:00 (a Friday).
std::tm fixed_now() {
    std::tm tm{};
    tm.tm_year = 2024 - 1900;
    tm.tm_mon = 6;
    tm.tm_mday = 26;
    tm.tm_hour = 12;
    tm.tm_wday = 5;
    tm.tm_yday = 207;
    return tm;
}

std::vector<std::string> conversations() {
    const fs::path p = "tests/data/chat/conversations.jsonl";
    BOOST_REQUIRE_MESSAGE(fs::exists(p), p.string() << " missing (run from the project root)");
    std::vector<std::string> lines;
    std::istringstream in(read_text(p));
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) lines.push_back(l);
    return lines;
}

std::string conversation_id(const std::string& line) {
    return polyglot::analysis::parse_json(line, "conversation").find("id")->as_string();
}

/// One oracle case: where the template comes from, the request, add_generation_prompt.
struct oracle_case {
    fs::path model_dir, template_file;
    std::string template_source, special_tokens_json = "{}";  // when model_dir is empty
    std::string request;
    bool add_generation_prompt = false;
};

struct oracle_result {
    bool ok = false, raised = false;
    std::string text, error, type;
};

/// Runs the jinja2 oracle on @p cases in one Python process.
std::vector<oracle_result> run_oracle(const std::vector<oracle_case>& cases) {
    BOOST_REQUIRE_MESSAGE(std::system("/usr/bin/python3 -c 'import jinja2' 2>/dev/null") == 0,
                          "/usr/bin/python3 with jinja2 is missing: run scripts/bootstrap "
                          "(Debian package python3-jinja2)");
    temp_dir tmp;
    std::string in;
    for (const auto& c : cases) {
        polyglot::io::json_writer w;
        w.begin_object();
        if (!c.model_dir.empty()) {
            w.key("model_dir").value(c.model_dir.string());
            if (!c.template_file.empty()) w.key("template_file").value(c.template_file.string());
        } else {
            w.key("template").value(c.template_source);
        }
        w.key("add_generation_prompt").value(c.add_generation_prompt);
        w.end_object();
        std::string line = w.str();
        line.pop_back();  // splice the raw JSON of the request and special tokens in
        line += ",\"request\":" + c.request;
        if (c.model_dir.empty()) line += ",\"special_tokens\":" + c.special_tokens_json;
        line += "}\n";
        in += line;
    }
    write_text(tmp.path / "cases.jsonl", in);
    const std::string cmd = "/usr/bin/python3 tests/oracles/chat_template_oracle.py < '" +
                            (tmp.path / "cases.jsonl").string() + "' > '" +
                            (tmp.path / "results.jsonl").string() + "'";
    const int rc = std::system(cmd.c_str());
    BOOST_REQUIRE_MESSAGE(rc == 0, "the jinja2 oracle failed: " << cmd);
    const auto rows =
        polyglot::analysis::parse_json_lines(read_text(tmp.path / "results.jsonl"), "oracle");
    BOOST_REQUIRE_EQUAL(rows.size(), cases.size());
    std::vector<oracle_result> out;
    for (const auto& [line, v] : rows) {
        oracle_result r;
        if (const auto* ok = v.find("ok")) {
            r.ok = true;
            r.text = ok->as_string();
        } else {
            r.error = v.find("error")->as_string();
            r.type = v.find("type")->as_string();
            r.raised = v.find("raised")->as_bool();
        }
        out.push_back(std::move(r));
    }
    return out;
}

struct tally {
    std::size_t equal = 0, both_failed = 0, raised = 0, unsupported = 0, mismatched = 0;
};

/// Renders @p c with @p tmpl and compares with the oracle's @p r; returns what happened.
/// Unless @p allow_unsupported, an unsupported construct is a failure.
void compare(const chat_template& tmpl, const oracle_case& c, const oracle_result& r,
             const std::string& label, tally& t, bool allow_unsupported) {
    chat_render_options opts;
    opts.add_generation_prompt = c.add_generation_prompt;
    opts.now = fixed_now();
    try {
        const std::string got = tmpl.render_request(c.request, opts);
        if (!r.ok) {
            ++t.mismatched;
            BOOST_ERROR(label << ": jinja2 fails (" << r.type << ": " << r.error
                              << ") but we rendered " << got.substr(0, 200));
        } else if (got != r.text) {
            ++t.mismatched;
            std::size_t d = 0;
            while (d < got.size() && d < r.text.size() && got[d] == r.text[d]) ++d;
            BOOST_ERROR(label << ": rendering differs at byte " << d
                              << "\n  jinja2: " << r.text.substr(d > 40 ? d - 40 : 0, 120)
                              << "\n  ours:   " << got.substr(d > 40 ? d - 40 : 0, 120));
        } else {
            ++t.equal;
        }
    } catch (const chat_template_error& e) {
        if (e.why() == chat_template_error::reason::unsupported) {
            ++t.unsupported;
            if (!allow_unsupported) BOOST_ERROR(label << ": unsupported: " << e.what());
            return;
        }
        if (r.ok) {
            ++t.mismatched;
            BOOST_ERROR(label << ": jinja2 renders but we fail: " << e.what());
            return;
        }
        ++t.both_failed;
        if (r.raised) {
            ++t.raised;
            if (e.why() != chat_template_error::reason::raised || e.message() != r.error) {
                ++t.mismatched;
                BOOST_ERROR(label << ": raise_exception message differs\n  jinja2: " << r.error
                                  << "\n  ours:   " << e.what());
            }
        }
    }
}

struct model_spec {
    std::string name;
    fs::path dir, template_file;
};

std::vector<model_spec> real_models() {
    const fs::path a = assets();
    std::vector<model_spec> m;
    for (const char* n : {"gemma3", "llama3", "llama3_1", "qwen3", "qwen2_5", "deepseek_v3",
                          "mistral_nemo", "gptoss"})
        m.push_back({n, require_asset(a / n), {}});
    // Llama 3.1 Instruct's template (the lenml package ships the base model's)
    m.push_back(
        {"llama3_1_instruct", a / "llama3_1",
         require_asset(a / "chat-templates/llama.cpp/meta-llama-Llama-3.1-8B-Instruct.jinja")});
    require_asset(a / "gptoss/chat_template.jinja");
    return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(real_templates_match_jinja2) {
    const auto convs = conversations();
    BOOST_REQUIRE_GE(convs.size(), 30u);
    const auto models = real_models();
    std::vector<oracle_case> cases;
    for (const auto& m : models)
        for (const auto& conv : convs)
            for (bool agp : {false, true})
                cases.push_back({m.dir, m.template_file, {}, {}, conv, agp});
    const auto results = run_oracle(cases);
    std::size_t k = 0;
    for (const auto& m : models) {
        const chat_template tmpl = chat_template::from_model_dir(m.dir, m.template_file);
        tally t;
        std::set<std::string> rendered_conversations;
        for (const auto& conv : convs) {
            for (bool agp : {false, true}) {
                const std::string label =
                    m.name + " / " + conversation_id(conv) + (agp ? " / generation prompt" : "");
                const std::size_t before = t.equal;
                compare(tmpl, cases[k], results[k], label, t, false);
                if (t.equal > before) rendered_conversations.insert(conversation_id(conv));
                ++k;
            }
        }
        BOOST_TEST_MESSAGE(m.name << ": " << t.equal << " equal renders ("
                                  << rendered_conversations.size() << " conversations), "
                                  << t.both_failed << " failing in both (" << t.raised
                                  << " raise_exception with the same message)");
        BOOST_CHECK_EQUAL(t.mismatched, 0u);
        BOOST_CHECK_GE(rendered_conversations.size(), 30u);
    }
}

BOOST_AUTO_TEST_CASE(error_conversations_raise_the_templates_message) {
    // Roles out of order and an unknown role: the template's own raise_exception message.
    const fs::path a = assets();
    const auto gemma = chat_template::from_model_dir(require_asset(a / "gemma3"));
    const auto mistral = chat_template::from_model_dir(require_asset(a / "mistral_nemo"));
    auto raised = [](const chat_template& t, const std::string& messages) -> std::string {
        try {
            (void)t.render(messages);
        } catch (const chat_template_error& e) {
            BOOST_CHECK(e.why() == chat_template_error::reason::raised);
            BOOST_CHECK(std::string(e.what()).find("chat template line ") == 0);
            return e.message();
        }
        return "(rendered)";
    };
    BOOST_CHECK_EQUAL(
        raised(gemma, R"([{"role":"user","content":"a"},{"role":"user","content":"b"}])"),
        "Conversation roles must alternate user/assistant/user/assistant/...");
    BOOST_CHECK_EQUAL(
        raised(mistral, R"([{"role":"user","content":"a"},{"role":"narrator","content":"b"}])"),
        "Only user and assistant roles are supported, with the exception of an "
        "initial optional system message!");
}

BOOST_AUTO_TEST_CASE(template_collections_render_equal_or_fail_like_jinja2) {
    // Every template of the fetched collections, against the jinja2 oracle: never a different
    // rendering; a template jinja2 rejects fails here too.
    const fs::path a = assets();
    std::vector<fs::path> files;
    for (const char* sub : {"chat-templates/llama.cpp", "chat-templates/ollama"}) {
        require_asset(a / sub);
        for (const auto& e : fs::directory_iterator(a / sub))
            if (e.path().extension() == ".jinja") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    BOOST_REQUIRE_GE(files.size(), 150u);
    const auto convs = conversations();
    const fs::path dir = require_asset(a / "llama3_1");  // special tokens for all of them
    std::vector<oracle_case> cases;
    for (const auto& f : files)
        for (const auto& conv : convs)
            for (bool agp : {false, true}) cases.push_back({dir, f, {}, {}, conv, agp});
    const auto results = run_oracle(cases);
    std::size_t k = 0, templates_equal = 0, renders_equal = 0, unsupported = 0;
    for (const auto& f : files) {
        tally t;
        try {
            const auto tmpl = chat_template::from_model_dir(dir, f);
            for (const auto& conv : convs)
                for (int agp = 0; agp < 2; ++agp) {
                    compare(tmpl, cases[k], results[k],
                            f.filename().string() + " / " + conversation_id(conv) +
                                (agp ? " / generation prompt" : ""),
                            t, true);
                    ++k;
                }
        } catch (const polyglot::format_error& e) {
            // a syntax error: jinja2 must reject the template as well
            for (std::size_t j = 0; j < convs.size() * 2; ++j, ++k)
                BOOST_CHECK_MESSAGE(!results[k].ok, f.filename().string()
                                                        << ": we reject it (" << e.what()
                                                        << ") but jinja2 renders it");
            continue;
        }
        renders_equal += t.equal;
        unsupported += t.unsupported;
        if (t.mismatched == 0 && t.unsupported == 0) ++templates_equal;
    }
    BOOST_TEST_MESSAGE(files.size()
                       << " templates: " << templates_equal << " without any difference, "
                       << renders_equal << " equal renders, " << unsupported << " unsupported");
    // Everything in these pinned collections is supported today; keep it that way.
    BOOST_CHECK_EQUAL(unsupported, 0u);
    BOOST_CHECK_EQUAL(templates_equal, files.size());
}

// ---- sources of templates and special tokens -------------------------------------------------

BOOST_AUTO_TEST_CASE(model_dir_sources) {
    temp_dir tmp;
    const fs::path d = tmp.path;
    // no template anywhere: io_error naming the directory
    BOOST_CHECK_THROW(chat_template::from_model_dir(d), polyglot::io_error);
    // chat_template.jinja, and special tokens as AddedToken objects
    write_text(d / "tokenizer_config.json",
               R"({"bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>",
                  "unk_token": null, "model_max_length": 1000000000000000019884624838656,
                  "additional_special_tokens": ["<a>", {"content": "<b>"}]})");
    write_text(d / "chat_template.jinja",
               "{{ bos_token }}|{{ eos_token }}|{{ unk_token is defined }}|"
               "{{ additional_special_tokens|join(',') }}\n");
    auto t = chat_template::from_model_dir(d);
    BOOST_CHECK_EQUAL(t.render("[]"), "<s>|</s>|False|<a>,<b>");
    BOOST_CHECK_EQUAL(t.special_token("bos_token"), "<s>");
    BOOST_CHECK_EQUAL(t.special_token("unk_token"), "");
    // tokenizer_config.json's chat_template wins over chat_template.jinja; a list uses "default"
    write_text(d / "tokenizer_config.json",
               R"({"eos_token": "E", "chat_template": [{"name": "tool_use", "template": "T"},
                   {"name": "default", "template": "D{{ eos_token }}"}]})");
    BOOST_CHECK_EQUAL(chat_template::from_model_dir(d).render("[]"), "DE");
    write_text(d / "tokenizer_config.json", R"({"chat_template": "S{{ messages|length }}"})");
    BOOST_CHECK_EQUAL(chat_template::from_model_dir(d).render(R"([{"role":"user"}])"), "S1");
    // --chat-template overrides everything
    write_text(d / "override.jinja", "O");
    BOOST_CHECK_EQUAL(chat_template::from_model_dir(d, d / "override.jinja").render("[]"), "O");
    // chat_template.json
    fs::remove(d / "tokenizer_config.json");
    fs::remove(d / "chat_template.jinja");
    write_text(d / "chat_template.json", R"({"chat_template": "J"})");
    BOOST_CHECK_EQUAL(chat_template::from_model_dir(d).render("[]"), "J");
    write_text(d / "tokenizer_config.json", "{not json");
    BOOST_CHECK_THROW(chat_template::from_model_dir(d), polyglot::format_error);
}

BOOST_AUTO_TEST_CASE(render_arguments) {
    auto t = chat_template::from_source(
        "{{ messages|length }} {{ tools is none }} {{ documents is none }} "
        "{{ add_generation_prompt }} {{ x|default('-') }} {{ bos_token }}",
        R"({"bos_token": "<s>"})");
    chat_render_options o;
    BOOST_CHECK_EQUAL(t.render("[]", o), "0 True True False - <s>");
    o.add_generation_prompt = true;
    o.tools_json = R"([{"type": "function"}])";
    o.extra_json = R"({"x": 1, "bos_token": "B", "documents": []})";
    BOOST_CHECK_EQUAL(t.render(R"([{"role": "user", "content": "hi"}])", o),
                      "1 False False True 1 B");
    BOOST_CHECK_EQUAL(
        t.render_request(R"({"messages": [], "chat_template_kwargs": {"x": 2}, "id": 7})", o),
        "0 False False True 2 B");
    BOOST_CHECK_THROW((void)t.render("{", o), polyglot::argument_error);
    BOOST_CHECK_THROW((void)t.render("{}", o), polyglot::argument_error);
    BOOST_CHECK_THROW((void)t.render("[1]", o), polyglot::argument_error);
    // nesting beyond the interpreter's bound is a bad argument, not a crash
    const std::string deep = std::string(600, '[') + std::string(600, ']');
    BOOST_CHECK_THROW((void)t.render("[{\"role\": \"user\", \"content\": " + deep + "}]", o),
                      polyglot::argument_error);
    BOOST_CHECK_THROW((void)t.render_request(R"({"message": []})", o), polyglot::argument_error);
    o.extra_json = R"({"messages": []})";
    BOOST_CHECK_THROW((void)t.render("[]", o), polyglot::argument_error);
}

// ---- errors, limits, threads -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(syntax_errors_name_line_and_column) {
    try {
        (void)chat_template::from_source("ok\n  {{ 1 + }}");
        BOOST_ERROR("no error");
    } catch (const polyglot::format_error& e) {
        BOOST_CHECK_MESSAGE(std::string(e.what()).find("line 2, column 10") != std::string::npos,
                            e.what());
    }
    BOOST_CHECK_THROW(chat_template::from_source("{% if x %}"), polyglot::format_error);
    BOOST_CHECK_THROW(chat_template::from_source("{% endfor %}"), polyglot::format_error);
    BOOST_CHECK_THROW(chat_template::from_source("{{ x|nosuchfilter }}"), polyglot::format_error);
    BOOST_CHECK_THROW(chat_template::from_source("{% break %}"), polyglot::format_error);
    // valid Jinja that this interpreter does not implement: an error, never a rendering
    BOOST_CHECK_THROW(chat_template::from_source("{% include 'x' %}"), polyglot::unsupported_error);
    auto t = chat_template::from_source("{{ x|groupby('a') }}");
    try {
        (void)t.render("[]", {false, {}, R"({"x": []})", {}});
        BOOST_ERROR("no error");
    } catch (const chat_template_error& e) {
        BOOST_CHECK(e.why() == chat_template_error::reason::unsupported);
        BOOST_CHECK_MESSAGE(std::string(e.what()).find("line 1, column") != std::string::npos,
                            e.what());
    }
}

BOOST_AUTO_TEST_CASE(sandbox_limits) {
    auto expect_limit = [](const std::string& src) {
        try {
            (void)chat_template::from_source(src).render("[]");
            BOOST_ERROR(src << ": no error");
        } catch (const chat_template_error& e) {
            BOOST_CHECK_MESSAGE(e.why() == chat_template_error::reason::limit ||
                                    e.why() == chat_template_error::reason::runtime,
                                src << ": " << e.what());
        }
    };
    expect_limit("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");  // recursion
    expect_limit("{{ 'x' * 1000000000000 }}");                               // output size
    expect_limit("{% for i in range(100001) %}{% endfor %}");                // jinja2's MAX_RANGE
    expect_limit(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}");
    // attributes the sandbox forbids
    expect_limit("{{ messages.append(1) }}");
    expect_limit("{{ ''.__class__ }}x{{ ''.__class__() }}");
    // containers nested without bound (jinja2: RecursionError when printed)
    expect_limit(
        "{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}"
        "{% endfor %}{{ ns.x }}");
}

BOOST_AUTO_TEST_CASE(render_is_thread_safe) {
    const auto t = chat_template::from_model_dir(require_asset(assets() / "qwen3"));
    const auto convs = conversations();
    std::vector<std::string> expected;
    for (const auto& c : convs) {
        try {
            expected.push_back(t.render_request(c));
        } catch (const polyglot::error&) {
            expected.push_back("<error>");
        }
    }
    std::vector<std::thread> threads;
    std::vector<int> bad(4, 0);
    for (int th = 0; th < 4; ++th)
        threads.emplace_back([&, th] {
            for (int rep = 0; rep < 20; ++rep)
                for (std::size_t i = 0; i < convs.size(); ++i) {
                    std::string got;
                    try {
                        got = t.render_request(convs[i]);
                    } catch (const polyglot::error&) {
                        got = "<error>";
                    }
                    bad[th] += got != expected[i];
                }
        });
    for (auto& th : threads) th.join();
    for (int b : bad) BOOST_CHECK_EQUAL(b, 0);
}

// ---- the CLI ---------------------------------------------------------------------------------

namespace {
std::string cli() { return polyglot::testing::require_cli(); }
int run(const std::string& cmd) {
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
}  // namespace

BOOST_AUTO_TEST_CASE(cli_render_chat) {
    temp_dir tmp;
    const fs::path model = require_asset(assets() / "gemma3");
    write_text(tmp.path / "in.jsonl",
               "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n"
               "not json\n"
               "\n"
               "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", "
               "\"content\": \"b\"}]}\n"
               "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": "
               "\"user\", \"content\": \"Grüß \\\"dich\\\"\"}]}\n");
    const std::string base = cli() + " render-chat --tokenizer '" + model.string() + "' ";
    const fs::path out = tmp.path / "out", err = tmp.path / "err";
    BOOST_REQUIRE_EQUAL(run(base + "--add-generation-prompt '" + (tmp.path / "in.jsonl").string() +
                            "' > '" + out.string() + "' 2> '" + err.string() + "'"),
                        0);
    const auto lines = polyglot::analysis::parse_json_lines(read_text(out), "out");
    BOOST_REQUIRE_EQUAL(lines.size(), 4u);  // the empty input line is skipped
    BOOST_CHECK_EQUAL(lines[0].second.as_string(),
                      "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n");
    BOOST_CHECK(lines[1].second.is_null());
    BOOST_CHECK(lines[2].second.is_null());
    BOOST_CHECK_EQUAL(
        lines[3].second.as_string(),
        "<bos><start_of_turn>user\nS\n\nGrüß \"dich\"<end_of_turn>\n<start_of_turn>model\n");
    const std::string e = read_text(err);
    BOOST_CHECK_MESSAGE(e.find("in.jsonl:2: ") != std::string::npos, e);
    BOOST_CHECK_MESSAGE(e.find("in.jsonl:4: chat template line") != std::string::npos, e);
    BOOST_CHECK_MESSAGE(e.find("Conversation roles must alternate") != std::string::npos, e);
    BOOST_CHECK_MESSAGE(e.find("2 skipped") != std::string::npos, e);
    // --strict stops at the first bad line
    BOOST_CHECK_EQUAL(run(base + "--strict '" + (tmp.path / "in.jsonl").string() + "' > '" +
                          out.string() + "' 2> '" + err.string() + "'"),
                      1);
    BOOST_CHECK_MESSAGE(read_text(err).find("in.jsonl:2:") != std::string::npos, read_text(err));
    // a missing template is a clear error
    BOOST_CHECK_NE(run(cli() + " render-chat --tokenizer '" + tmp.path.string() +
                       "' - < /dev/null 2> '" + err.string() + "'"),
                   0);
    BOOST_CHECK_MESSAGE(read_text(err).find("no chat template") != std::string::npos,
                        read_text(err));
}
