// SPDX-License-Identifier: Apache-2.0
// text::chat_template: transformers' apply_chat_template over the Jinja interpreter of
// src/text/jinja: where the template and the special tokens come from (tokenizer_config.json,
// chat_template.jinja, chat_template.json), and the variables a render passes (messages, tools,
// documents, add_generation_prompt, the special tokens, extra kwargs).
#include <simdjson.h>

#include <fstream>
#include <iterator>
#include <polyglot/core/error.hpp>
#include <polyglot/text/chat_template.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/jinja.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace text {

namespace jj = jinja;

chat_template_error::chat_template_error(reason why, std::string message, const std::string& where)
    : error(why == reason::unsupported ? errc::unsupported : errc::bad_record,
            where + ": " + message),
      why_(why),
      message_(std::move(message)) {}

struct chat_template::impl {
    std::string source;
    std::shared_ptr<const jj::program> prog;
    std::vector<std::pair<std::string, jj::value>> special;  ///< special tokens, in order
};

namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw io_error("cannot open " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw io_error("cannot read " + p.string());
    return ss.str();
}

/// JSON text -> interpreter value (json.loads). Throws argument_error naming @p what.
jj::value to_value(simdjson::dom::element e, const std::string& what) {
    using simdjson::dom::element_type;
    switch (e.type()) {
        case element_type::ARRAY: {
            std::vector<jj::value> items;
            for (auto child : e.get_array()) items.push_back(to_value(child, what));
            return jj::value::list(std::move(items));
        }
        case element_type::OBJECT: {
            auto d = std::make_shared<jj::dict_obj>();
            for (auto field : e.get_object()) {
                jj::value key = jj::value::string(std::string(field.key));
                d->set(std::move(key), to_value(field.value, what));
            }
            return jj::value::from_dict(std::move(d));
        }
        case element_type::INT64:
            return jj::value::integer(int64_t(e));
        case element_type::UINT64:
            throw argument_error(what + ": integer out of the 64-bit range");
        case element_type::DOUBLE:
            return jj::value::floating(double(e));
        case element_type::STRING:
            return jj::value::string(std::string(std::string_view(e)));
        case element_type::BOOL:
            return jj::value::boolean(bool(e));
        case element_type::NULL_VALUE:
            return jj::value::none();
    }
    return jj::value::none();
}

jj::value parse_json(std::string_view text, const std::string& what) {
    thread_local simdjson::dom::parser parser;
    simdjson::padded_string padded(text);
    simdjson::dom::element root;
    const auto err = parser.parse(padded).get(root);
    if (err) throw argument_error(what + ": invalid JSON: " + simdjson::error_message(err));
    try {
        return to_value(root, what);
    } catch (const jj::jinja_error& e) {
        throw argument_error(what + ": " + e.message);
    }
}

[[noreturn]] void rethrow(const jj::jinja_error& e, const jj::program* prog) {
    const std::string where = "chat template " + (prog ? prog->describe(e.pos) : "");
    using k = jj::jinja_error::kind;
    using r = chat_template_error::reason;
    switch (e.what) {
        case k::syntax:
            throw format_error(where + ": " + e.message);
        case k::raised:
            throw chat_template_error(r::raised, e.message, where);
        case k::runtime:
            throw chat_template_error(r::runtime, e.message, where);
        case k::unsupported:
            throw chat_template_error(r::unsupported, e.message, where);
        case k::limit:
            throw chat_template_error(r::limit, e.message, where);
    }
    throw chat_template_error(r::runtime, e.message, where);
}

std::shared_ptr<const jj::program> compile(const std::string& source) {
    try {
        return jj::program::parse(source);
    } catch (const jj::jinja_error& e) {
        // positions refer to the normalized source, which parse() does not hand back on error
        const std::string where = "chat template " + jj::describe_position(source, e.pos);
        if (e.what == jj::jinja_error::kind::syntax) throw format_error(where + ": " + e.message);
        throw unsupported_error(where + ": " + e.message);
    }
}

/// The special tokens (transformers' special_tokens_map) and, unless @p have_template, the
/// chat_template of a tokenizer_config.json.
void read_tokenizer_config(const std::string& text, chat_template::impl& p, bool& have_template) {
    namespace od = simdjson::ondemand;
    od::parser parser;
    simdjson::padded_string padded(text);
    od::document doc = parser.iterate(padded);
    od::object cfg = doc.get_object();
    auto token_of = [](od::value v, std::string& out) -> bool {
        const od::json_type t = v.type();
        if (t == od::json_type::string) {
            out = std::string(std::string_view(v.get_string()));
            return true;
        }
        if (t == od::json_type::object) {
            for (auto f : v.get_object()) {
                if (std::string_view(f.unescaped_key()) == "content" &&
                    f.value().type() == od::json_type::string) {
                    out = std::string(std::string_view(f.value().get_string()));
                    return true;
                }
            }
        }
        return false;
    };
    static constexpr std::string_view names[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                                 "pad_token", "cls_token", "mask_token"};
    std::vector<std::pair<std::string, jj::value>> named(std::size(names));
    std::vector<std::pair<std::string, jj::value>> extra;
    jj::value additional;
    std::string tmpl;
    bool found_template = false;
    for (auto field : cfg) {
        const std::string key(std::string_view(field.unescaped_key()));
        od::value v = field.value();
        std::size_t k = 0;
        while (k < std::size(names) && names[k] != key) ++k;
        if (k < std::size(names)) {
            std::string s;
            if (token_of(v, s) && !s.empty()) named[k] = {key, jj::value::string(std::move(s))};
        } else if (key == "additional_special_tokens" && v.type() == od::json_type::array) {
            std::vector<jj::value> toks;
            for (auto e : v.get_array()) {
                std::string s;
                if (token_of(e.value(), s)) toks.push_back(jj::value::string(std::move(s)));
            }
            if (!toks.empty()) additional = jj::value::list(std::move(toks));
        } else if (key == "extra_special_tokens" && v.type() == od::json_type::object) {
            for (auto f : v.get_object()) {
                std::string name(std::string_view(f.unescaped_key()));
                std::string s;
                if (token_of(f.value(), s) && !s.empty())
                    extra.emplace_back(std::move(name), jj::value::string(std::move(s)));
            }
        } else if (key == "chat_template") {
            const od::json_type t = v.type();
            if (t == od::json_type::string) {
                tmpl = std::string(std::string_view(v.get_string()));
                found_template = true;
            } else if (t == od::json_type::array) {
                for (auto e : v.get_array()) {
                    std::string name, body;
                    bool has_name = false, has_body = false;
                    for (auto f : e.get_object()) {
                        const std::string_view fk = f.unescaped_key();
                        if (fk == "name" && f.value().type() == od::json_type::string) {
                            name = std::string(std::string_view(f.value().get_string()));
                            has_name = true;
                        } else if (fk == "template" && f.value().type() == od::json_type::string) {
                            body = std::string(std::string_view(f.value().get_string()));
                            has_body = true;
                        }
                    }
                    if (has_name && has_body && name == "default") {
                        tmpl = std::move(body);
                        found_template = true;
                    }
                }
                if (!found_template)
                    throw format_error("chat_template is a list without a \"default\" template");
            } else if (t != od::json_type::null) {
                throw format_error("chat_template is neither a string nor a list");
            }
        }
    }
    for (auto& nv : named)
        if (!nv.first.empty()) p.special.push_back(std::move(nv));
    if (!additional.is_undefined()) p.special.emplace_back("additional_special_tokens", additional);
    for (auto& e : extra) p.special.push_back(std::move(e));
    if (!have_template && found_template) {
        p.source = std::move(tmpl);
        have_template = true;
    }
}

}  // namespace

chat_template::chat_template(std::shared_ptr<const impl> p) : impl_(std::move(p)) {}

chat_template chat_template::from_source(std::string source, std::string special_tokens_json) {
    auto p = std::make_shared<impl>();
    p->prog = compile(source);
    p->source = std::move(source);
    if (!special_tokens_json.empty()) {
        const jj::value v = parse_json(special_tokens_json, "special tokens");
        if (v.kind() != jj::vk::dict)
            throw argument_error("special tokens: expected a JSON object");
        for (const auto& [k, val] : v.dict().items) p->special.emplace_back(k.str(), val);
    }
    return chat_template(std::move(p));
}

chat_template chat_template::from_model_dir(const std::filesystem::path& dir,
                                            const std::filesystem::path& override_file) {
    auto p = std::make_shared<impl>();
    const auto config_path = dir / "tokenizer_config.json";
    bool have_template = false;
    if (!override_file.empty()) {
        p->source = read_file(override_file);
        have_template = true;
    }
    std::error_code ec;
    if (std::filesystem::exists(config_path, ec)) {
        // On-demand parsing: tokenizer configs hold integers beyond 64 bits
        // (model_max_length = 1e30) that only the fields read here must not trip over.
        const std::string text = read_file(config_path);
        try {
            read_tokenizer_config(text, *p, have_template);
        } catch (const simdjson::simdjson_error& e) {
            throw format_error(config_path.string() + ": invalid JSON: " + e.what());
        } catch (const format_error& e) {
            throw format_error(config_path.string() + ": " + e.what());
        }
    }
    if (!have_template && std::filesystem::exists(dir / "chat_template.jinja", ec)) {
        p->source = read_file(dir / "chat_template.jinja");
        have_template = true;
    }
    if (!have_template && std::filesystem::exists(dir / "chat_template.json", ec)) {
        const auto path = dir / "chat_template.json";
        const std::string text = read_file(path);
        simdjson::dom::parser parser;
        simdjson::padded_string padded(text);
        simdjson::dom::element root;
        std::string_view s;
        if (parser.parse(padded).get(root) || root["chat_template"].get_string().get(s))
            throw format_error(path.string() + ": expected {\"chat_template\": \"...\"}");
        p->source = std::string(s);
        have_template = true;
    }
    if (!have_template)
        throw io_error(dir.string() +
                       ": no chat template (tokenizer_config.json has no chat_template and there "
                       "is no chat_template.jinja or chat_template.json); pass --chat-template");
    p->prog = compile(p->source);
    return chat_template(std::move(p));
}

namespace {

void check_messages(const jj::value& messages) {
    if (messages.kind() != jj::vk::list)
        throw argument_error("messages: expected a JSON array of message objects");
    for (const auto& m : messages.list().items)
        if (m.kind() != jj::vk::dict)
            throw argument_error("messages: every message must be a JSON object");
}

void check_tools(const jj::value& tools) {
    if (tools.kind() != jj::vk::list && !tools.is_none())
        throw argument_error("tools: expected a JSON array");
}

/// Adds the variables of a JSON object of extra template variables to @p extra (a later
/// variable of the same name wins), `documents` to @p documents.
void add_extra(const jj::value& e, std::vector<std::pair<std::string, jj::value>>& extra,
               jj::value& documents, const char* what) {
    if (e.kind() != jj::vk::dict)
        throw argument_error(std::string(what) + ": expected a JSON object");
    for (const auto& [k, v] : e.dict().items) {
        const std::string& name = k.str();
        if (name == "messages" || name == "tools" || name == "add_generation_prompt")
            throw argument_error(std::string(what) + ": '" + name +
                                 "' has its own option and may not be set here");
        if (name == "documents") {
            documents = v;
            continue;
        }
        bool replaced = false;
        for (auto& [n, old] : extra)
            if (n == name) {
                old = v;
                replaced = true;
            }
        if (!replaced) extra.emplace_back(name, v);
    }
}

std::string render_values(const chat_template::impl& im, jj::value messages, jj::value tools,
                          jj::value kwargs, const chat_render_options& opts) {
    jj::render_env env;
    if (tools.is_undefined()) {
        tools = jj::value::none();
        if (!opts.tools_json.empty()) tools = parse_json(opts.tools_json, "tools");
    }
    check_tools(tools);
    jj::value documents = jj::value::none();
    std::vector<std::pair<std::string, jj::value>> extra;
    if (!opts.extra_json.empty())
        add_extra(parse_json(opts.extra_json, "extra variables"), extra, documents,
                  "extra variables");
    if (!kwargs.is_undefined() && !kwargs.is_none())
        add_extra(kwargs, extra, documents, "chat_template_kwargs");
    env.vars.emplace_back("messages", std::move(messages));
    env.vars.emplace_back("tools", std::move(tools));
    env.vars.emplace_back("documents", std::move(documents));
    env.vars.emplace_back("add_generation_prompt", jj::value::boolean(opts.add_generation_prompt));
    for (const auto& sv : im.special) env.vars.push_back(sv);
    for (auto& ev : extra) env.vars.push_back(std::move(ev));
    if (opts.now) env.now = &*opts.now;
    try {
        return jj::render(*im.prog, env);
    } catch (const jj::jinja_error& e) {
        rethrow(e, im.prog.get());
    }
}

}  // namespace

std::string chat_template::render(std::string_view messages_json,
                                  const chat_render_options& opts) const {
    jj::value messages = parse_json(messages_json, "messages");
    check_messages(messages);
    return render_values(*impl_, std::move(messages), jj::value(), jj::value(), opts);
}

std::string chat_template::render_request(std::string_view request_json,
                                          const chat_render_options& opts) const {
    const jj::value req = parse_json(request_json, "request");
    if (req.kind() != jj::vk::dict) throw argument_error("request: expected a JSON object");
    const jj::value* messages = req.dict().find("messages");
    if (!messages) throw argument_error("request: no \"messages\"");
    check_messages(*messages);
    const jj::value* tools = req.dict().find("tools");
    const jj::value* kwargs = req.dict().find("chat_template_kwargs");
    return render_values(*impl_, *messages, tools ? *tools : jj::value(),
                         kwargs ? *kwargs : jj::value(), opts);
}

const std::string& chat_template::source() const noexcept { return impl_->source; }

std::string chat_template::special_token(std::string_view name) const {
    for (const auto& [k, v] : impl_->special)
        if (k == name && v.is_string()) return v.str();
    return {};
}

}  // namespace text
POLYGLOT_END_NAMESPACE
