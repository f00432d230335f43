// SPDX-License-Identifier: Apache-2.0
// lighteval-format results and per-item details (include/polyglot/eval/results.hpp).
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <polyglot/json/value.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/eval/results.hpp>
#include <polyglot/io/json_writer.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {
namespace {

std::string iso_utc(double unix_seconds) {
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void str_or_null(io::json_writer& w, std::string_view k, const std::string& v) {
    w.key(k);
    if (v.empty())
        w.value(nullptr);
    else
        w.value(v);
}

/// The metrics of one results entry, in order, with stderr where there is one.
using metric_list = std::vector<std::pair<std::string, double>>;

metric_list flatten(const task_result& r) {
    metric_list out;
    for (const auto& m : r.metrics) {
        out.emplace_back(m.name, m.value);
        if (std::isfinite(m.stderr_)) out.emplace_back(m.name + "_stderr", m.stderr_);
    }
    return out;
}

std::string prompt_name(const task& t) {
    if (t.base == "global_mmlu_lite")
        return "lighteval multilingual MCF template (letters), " + t.lang + " literals";
    if (t.base == "mrewardbench_mcf")
        return "m-rewardbench judge prompt in lighteval's MCF template (" + t.lang +
               " literals), A/B by a per-row seeded coin";
    if (t.base == "mgsm") return "question, answer-with-only-the-number line, 'Answer:'";
    return "task file: query and choices as given";
}

}  // namespace

double unix_now() noexcept {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string results_json(std::span<const task> tasks, std::span<const task_result> results,
                         const run_info& info) {
    io::json_writer w(2);
    w.begin_object();

    w.key("config_general").begin_object();
    w.kv("lighteval_sha", "?");
    w.kv("num_fewshot_seeds", 1);
    w.key("max_samples");
    if (info.limit)
        w.value(info.limit);
    else
        w.value(nullptr);
    str_or_null(w, "job_id", info.job_id);
    w.kv("start_time", info.start_time);
    w.kv("end_time", info.end_time);
    w.kv("total_evaluation_time_secondes", std::to_string(info.end_time - info.start_time));
    w.key("model_config").begin_object();
    w.kv("model_name", info.model_name);
    w.kv("model_spec", info.model_spec);
    w.kv("backend", info.backend);
    // the backend's self-description, verbatim when it is a JSON object (else as a string)
    w.key("backend_info");
    try {
        if (!analysis::parse_json(info.model_info_json, "backend info").is_object())
            throw format_error("not an object");
        w.raw(info.model_info_json);
    } catch (const format_error&) {
        if (info.model_info_json.empty())
            w.begin_object().end_object();
        else
            w.value(info.model_info_json);
    }
    w.kv("add_special_tokens", true);
    w.kv("use_chat_template", false);
    w.kv("batch_tokens", info.options.batch_tokens);
    w.kv("batch_items", info.options.batch_items);
    w.key("max_length");
    if (info.options.max_length)
        w.value(info.options.max_length);
    else
        w.value(nullptr);
    w.kv("prefix_sharing", info.options.share_prefix);
    w.kv("threads", info.threads);
    w.key("generation_parameters").begin_object();
    w.kv("temperature", 0.0);
    w.key("max_new_tokens");
    if (info.options.max_new_tokens)
        w.value(info.options.max_new_tokens);
    else
        w.value(nullptr);
    w.end_object();
    w.end_object();
    w.kv("model_name", info.model_name);
    w.kv("polyglot_version", POLYGLOT_VERSION_STRING);
    w.kv("seed", info.seed);
    w.kv("start_date", iso_utc(info.start_time));
    w.kv("end_date", iso_utc(info.end_time));
    w.end_object();

    // results: tasks, lighteval's per-task-family averages, then "all".
    w.key("results").begin_object();
    std::vector<std::pair<std::string, std::vector<std::size_t>>> groups;
    std::vector<std::pair<std::string, std::pair<double, std::size_t>>> all;
    auto add_all = [&](const std::string& k, double v) {
        for (auto& [name, acc] : all)
            if (name == k) {
                acc.first += v;
                ++acc.second;
                return;
            }
        all.push_back({k, {v, 1}});
    };
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const auto ms = flatten(results[i]);
        w.key(tasks[i].key).begin_object();
        for (const auto& [k, v] : ms) {
            w.kv(k, v);
            add_all(k, v);
        }
        w.end_object();
        const std::string g = tasks[i].base + ":_average|" + std::to_string(tasks[i].shots);
        auto it = std::find_if(groups.begin(), groups.end(), [&](auto& x) { return x.first == g; });
        if (it == groups.end())
            groups.push_back({g, {i}});
        else
            it->second.push_back(i);
    }
    for (const auto& [g, members] : groups) {
        if (members.size() < 2) continue;
        // lighteval averages every metric of the first member over the members; a metric some
        // member lacks (e.g. every item failed) is left out instead of failing.
        const auto first = flatten(results[members[0]]);
        w.key(g).begin_object();
        for (const auto& [k, v0] : first) {
            double sum = 0;
            bool ok = true;
            for (std::size_t m : members) {
                const auto ms = flatten(results[m]);
                // (a copy of k: clang 14, which builds the fuzz targets, cannot capture a
                // structured binding)
                auto f = std::find_if(ms.begin(), ms.end(),
                                      [&key = k](auto& x) { return x.first == key; });
                if (f == ms.end()) {
                    ok = false;
                    break;
                }
                sum += f->second;
            }
            if (ok) w.kv(k, sum / static_cast<double>(members.size()));
        }
        w.end_object();
    }
    w.key("all").begin_object();
    for (const auto& [k, acc] : all) w.kv(k, acc.first / static_cast<double>(acc.second));
    w.end_object();
    w.end_object();

    w.key("versions").begin_object();
    for (const auto& t : tasks) w.kv(t.key, t.version);
    w.end_object();

    w.key("config_tasks").begin_object();
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const auto& t = tasks[i];
        w.key(t.name).begin_object();
        w.kv("name", t.name);
        w.key("suite").begin_array().value("polyglot").end_array();
        w.kv("prompt_function", prompt_name(t));
        str_or_null(w, "hf_repo", t.hf_repo);
        str_or_null(w, "hf_subset", t.hf_subset);
        w.kv("data_file", t.data_file);
        str_or_null(w, "fewshot_file", t.fewshot_file);
        w.key("evaluation_splits").begin_array().value("test").end_array();
        str_or_null(w, "few_shots_select", t.fewshot_select);
        w.kv("num_fewshots", t.shots);
        w.kv("kind", t.kind == task_kind::generative ? "generative" : "loglikelihood");
        if (t.kind == task_kind::generative) {
            w.kv("generation_size", t.generation_size);
            w.key("stop_sequence").begin_array();
            for (const auto& s : t.stop) w.value(s);
            w.end_array();
        }
        w.key("metrics").begin_array();
        for (const auto& m : t.metrics) w.value(m);
        w.end_array();
        w.kv("original_num_docs", t.rows_read);
        w.kv("effective_num_docs", t.items.size());
        w.kv_object("skipped", t.skipped);
        w.kv("version", t.version);
        w.end_object();
    }
    w.end_object();

    w.key("summary_tasks").begin_object();
    std::uint64_t trunc = 0, items = 0, failed = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const auto& r = results[i];
        w.key(tasks[i].key).begin_object();
        w.key("hashes").begin_object().end_object();
        w.kv("truncated", r.truncated);
        w.kv("non_truncated", r.items.size() - r.truncated);
        w.kv("padded", 0);
        w.kv("non_padded", r.items.size());
        w.kv("effective_few_shots", tasks[i].shots);
        w.kv("failed", r.failed);
        w.kv("seconds", r.seconds);
        w.key("warnings").begin_array();
        for (const auto& s : r.warnings) w.value(s);
        w.end_array();
        w.end_object();
        trunc += r.truncated;
        items += r.items.size();
        failed += r.failed;
    }
    w.end_object();
    w.key("summary_general").begin_object();
    w.key("hashes").begin_object().end_object();
    w.kv("truncated", trunc);
    w.kv("non_truncated", items - trunc);
    w.kv("padded", 0);
    w.kv("non_padded", items);
    w.kv("failed", failed);
    w.end_object();

    w.end_object();
    std::string out = w.take();
    out += '\n';
    return out;
}

std::string details_line(const task& t, std::size_t index, const item_result& res) {
    const auto& it = t.items[index];
    io::json_writer w;
    w.begin_object();
    w.kv("task", t.key);
    w.kv("index", index);
    w.kv("where", it.where);
    w.kv("query", it.context);
    if (t.kind == task_kind::generative) {
        w.kv("gold", it.gold_text);
        w.kv("generation", res.generation);
        w.key("generated_tokens").begin_array();
        for (auto id : res.generated_ids) w.value(id);
        w.end_array();
        w.kv("extracted_pred", res.extracted_pred);
        w.kv("extracted_gold", res.extracted_gold);
    } else {
        w.key("choices").begin_array();
        for (const auto& c : it.choices) w.value(c);
        w.end_array();
        w.key("gold").begin_array();
        for (auto g : it.gold) w.value(g);
        w.end_array();
        if (!it.source.empty()) w.kv("source", it.source);
        w.key("logprobs").begin_array();
        for (double v : res.logprobs) w.value(v);
        w.end_array();
        w.key("tokens").begin_array();
        for (auto v : res.tokens) w.value(v);
        w.end_array();
        w.key("greedy").begin_array();
        for (auto v : res.greedy) w.value(v != 0);
        w.end_array();
        if (!res.input_ids.empty()) {
            for (const auto* ids : {&res.input_ids, &res.cont_ids}) {
                w.key(ids == &res.input_ids ? "input_tokens" : "cont_tokens").begin_array();
                for (const auto& v : *ids) {
                    w.begin_array();
                    for (auto id : v) w.value(id);
                    w.end_array();
                }
                w.end_array();
            }
        }
        w.key("prediction");
        if (res.failed)
            w.value(nullptr);
        else
            w.value(res.prediction);
    }
    w.kv_object("metrics", res.metrics);
    w.kv("context_tokens", res.context_tokens);
    w.kv("truncated", res.truncated);
    if (res.failed) w.kv("error", res.error);
    w.end_object();
    std::string s = w.take();
    s += '\n';
    return s;
}

details_entry parse_details_line(std::string_view line, const std::string& where) {
    using analysis::json_value;
    const json_value v = analysis::parse_json(line, where);
    auto need = [&](std::string_view k) -> const json_value& {
        const json_value* x = v.find(k);
        if (!x) throw format_error(where + ": no '" + std::string(k) + "' in a details line");
        return *x;
    };
    auto str = [&](std::string_view k) {
        const auto& x = need(k);
        if (!x.is_string())
            throw format_error(where + ": '" + std::string(k) + "' is not a string");
        return x.as_string();
    };
    auto num = [&](const json_value& x, std::string_view k) {
        if (!x.is_number())
            throw format_error(where + ": '" + std::string(k) + "' is not a number");
        return x.as_number();
    };
    details_entry e;
    e.task = str("task");
    e.index = static_cast<std::size_t>(num(need("index"), "index"));
    e.query = str("query");
    auto& r = e.result;
    r.context_tokens = static_cast<std::size_t>(num(need("context_tokens"), "context_tokens"));
    r.truncated = need("truncated").is_bool() && need("truncated").as_bool();
    if (const json_value* err = v.find("error"); err && err->is_string()) {
        r.failed = true;
        r.error = err->as_string();
    }
    if (const json_value* g = v.find("generation")) {
        if (!g->is_string()) throw format_error(where + ": 'generation' is not a string");
        r.generation = g->as_string();
        if (const json_value* ids = v.find("generated_tokens"); ids && ids->is_array())
            for (const auto& x : ids->as_array())
                r.generated_ids.push_back(static_cast<std::int32_t>(num(x, "generated_tokens")));
        return e;
    }
    const auto& lp = need("logprobs");
    const auto& tk = need("tokens");
    const auto& gr = need("greedy");
    if (!lp.is_array() || !tk.is_array() || !gr.is_array() ||
        lp.as_array().size() != tk.as_array().size() ||
        gr.as_array().size() != tk.as_array().size())
        throw format_error(where + ": logprobs, tokens and greedy must be lists of one length");
    for (const auto& x : lp.as_array())
        r.logprobs.push_back(x.is_null() ? std::numeric_limits<double>::quiet_NaN()
                                         : num(x, "logprobs"));
    for (const auto& x : tk.as_array())
        r.tokens.push_back(static_cast<std::size_t>(num(x, "tokens")));
    for (const auto& x : gr.as_array()) r.greedy.push_back(x.is_bool() && x.as_bool() ? 1 : 0);
    return e;
}

}  // namespace eval
POLYGLOT_END_NAMESPACE
