// SPDX-License-Identifier: Apache-2.0
// Intrinsic-metric reports (ours and the reference's) and lighteval results files.
#include <filesystem>
#include <polyglot/analysis/reports.hpp>
#include <polyglot/core/error.hpp>
#include <string>

POLYGLOT_BEGIN_NAMESPACE
namespace analysis {
namespace {

constexpr const char* metric_sections[] = {"distinct_ri", "perplexity", "reward_model",
                                           "length",      "lexical",    "language"};

void flatten(const json_value& v, const std::string& prefix, int depth,
             std::vector<std::pair<std::string, double>>& out) {
    if (v.is_number()) {
        if (std::isfinite(v.as_number())) out.emplace_back(prefix, v.as_number());
        return;
    }
    if (!v.is_object()) return;  // arrays (per-instance lists), strings, booleans: skipped
    for (const auto& m : v.as_object()) {
        if (depth > 0 && m.key == "metadata") continue;
        flatten(m.value, prefix.empty() ? m.key : prefix + "." + m.key, depth + 1, out);
    }
}

std::string last_component(std::string s) {
    auto slash = s.rfind('/');
    return slash == std::string::npos ? s : s.substr(slash + 1);
}

std::string string_at(const json_value& root, std::string_view path) {
    const json_value* v = root.find_path(path);
    return v && v->is_string() ? v->as_string() : std::string();
}

bool is_lang_code(std::string_view s) {
    if (s.size() < 2 || s.size() > 3) return false;
    for (char c : s)
        if (c < 'a' || c > 'z') return false;
    return true;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> parse_reference_report_name(
    std::string_view filename) {
    std::string_view name = filename;
    if (auto slash = name.rfind('/'); slash != std::string_view::npos)
        name.remove_prefix(slash + 1);
    if (name.size() > 5 && name.substr(name.size() - 5) == ".json") name.remove_suffix(5);
    constexpr std::string_view suffix = "_intrinsic_metrics";
    if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix)
        return std::nullopt;
    name.remove_suffix(suffix.size());
    auto us = name.find('_');
    if (us == std::string_view::npos) return std::nullopt;
    std::string_view head = name.substr(0, us), model = name.substr(us + 1);
    auto dash = head.rfind('-');
    if (dash == std::string_view::npos || dash + 1 >= head.size()) return std::nullopt;
    std::string lang(head.substr(dash + 1));
    auto org = model.find("__");
    if (org != std::string_view::npos) model.remove_prefix(org + 2);
    if (model.empty()) return std::nullopt;
    return std::make_pair(std::string(model), lang);
}

bool looks_like_intrinsic_report(const json_value& root) {
    if (!root.is_object()) return false;
    for (const char* s : metric_sections)
        if (root.find(s) && root.find(s)->is_object()) return true;
    return false;
}

intrinsic_report intrinsic_report_from_json(const json_value& root, const std::string& path,
                                            const std::string& teacher, const std::string& lang) {
    if (!looks_like_intrinsic_report(root))
        throw format_error(path +
                           ": not an intrinsic-metric report (no distinct_ri, perplexity, "
                           "reward_model, length, lexical or language section)");
    intrinsic_report r;
    r.source = path;
    flatten(root, "", 0, r.values);
    auto from_name = parse_reference_report_name(path);
    r.teacher = teacher;
    if (r.teacher.empty()) r.teacher = string_at(root, "metadata.teacher");
    if (r.teacher.empty() && from_name) r.teacher = from_name->first;
    if (r.teacher.empty()) r.teacher = string_at(root, "metadata.filter.model");
    r.teacher = last_component(r.teacher);
    r.lang = lang;
    if (r.lang.empty()) r.lang = string_at(root, "metadata.target_lang");
    if (r.lang.empty()) r.lang = string_at(root, "metadata.lang");
    if (r.lang.empty() && from_name) r.lang = from_name->second;
    if (r.teacher.empty() || r.lang.empty())
        throw format_error(path + ": cannot tell the " +
                           std::string(r.teacher.empty() ? "teacher" : "language") +
                           " of this report (no metadata.teacher / metadata.target_lang, and the "
                           "file name is not msde-{lineage}-{lang}_{org}__{model}_intrinsic_"
                           "metrics.json); name it with --name TEACHER:LANG=" +
                           path);
    return r;
}

intrinsic_report read_intrinsic_report(const std::string& path, const std::string& teacher,
                                       const std::string& lang) {
    return intrinsic_report_from_json(read_json_file(path), path, teacher, lang);
}

std::string metric_for_task(std::string_view task_name) {
    if (task_name == "global_mmlu_lite") return "acc";
    if (task_name == "mgsm_custom" || task_name == "mgsm") return "extractive_match";
    if (task_name == "mrewardbench_mcf") return "weighted_acc";
    return {};
}

bool looks_like_lighteval(const json_value& root) {
    const json_value* res = root.find("results");
    if (!res || !res->is_object() || res->as_object().empty()) return false;
    for (const auto& m : res->as_object())
        if (!m.value.is_object()) return false;
    return true;
}

lighteval_results lighteval_from_json(const json_value& root, const std::string& path) {
    if (!looks_like_lighteval(root))
        throw format_error(path +
                           ": not a lighteval results file (expected {\"results\": {\"task\": "
                           "{\"acc\": ...}}})");
    lighteval_results out;
    out.source = path;
    out.model_name = string_at(root, "config.model_name");
    if (out.model_name.empty()) out.model_name = string_at(root, "config_general.model_name");
    for (const auto& m : root.find("results")->as_object()) {
        task_score t;
        t.task = m.key;
        // "suite|task:lang|shots", "task:lang|shots" or "task[:subset]"
        std::vector<std::string_view> parts;
        std::string_view key = m.key;
        for (std::size_t start = 0;;) {
            auto bar = key.find('|', start);
            parts.push_back(key.substr(start, bar == std::string_view::npos ? bar : bar - start));
            if (bar == std::string_view::npos) break;
            start = bar + 1;
        }
        std::string_view core = parts.size() >= 3 ? parts[1] : parts[0];
        auto colon = core.rfind(':');
        t.name = std::string(core.substr(0, colon));
        if (colon != std::string_view::npos) {
            std::string_view suffix = core.substr(colon + 1);
            if (is_lang_code(suffix)) t.lang = std::string(suffix);
            if (!suffix.empty() && suffix.front() == '_') t.aggregate = true;
        }
        if (t.name == "all") t.aggregate = true;
        std::string metric = metric_for_task(t.name);
        const json_value* val = metric.empty() ? nullptr : m.value.find(metric);
        if (!val && m.value.find("acc")) metric = "acc", val = m.value.find("acc");
        if (!val) {
            for (const auto& mm : m.value.as_object()) {
                if (mm.key.size() > 7 && mm.key.ends_with("_stderr")) continue;
                if (!mm.value.is_number()) continue;
                metric = mm.key;
                val = &mm.value;
                break;
            }
        }
        if (!val || !val->is_number())
            throw format_error(path + ": task '" + m.key + "' has no numeric metric" +
                               (metric.empty() ? std::string() : " '" + metric + "'"));
        t.metric = metric;
        t.value = val->as_number();
        if (const json_value* se = m.value.find(metric + "_stderr"); se && se->is_number())
            t.stderr_ = se->as_number();
        if (!std::isfinite(t.value))
            throw format_error(path + ": task '" + m.key + "': metric '" + metric +
                               "' is not a finite number");
        out.tasks.push_back(std::move(t));
    }
    for (const auto& m : root.as_object()) {
        if (m.key == "results" || m.key == "config" || m.key == "config_general" ||
            m.key == "versions")
            continue;
        std::vector<std::pair<std::string, double>> vals;
        flatten(m.value, m.key, 1, vals);
        out.extras.insert(out.extras.end(), vals.begin(), vals.end());
    }
    return out;
}

lighteval_results read_lighteval(const std::string& path) {
    return lighteval_from_json(read_json_file(path), path);
}

}  // namespace analysis
POLYGLOT_END_NAMESPACE
