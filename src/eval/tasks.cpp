// SPDX-License-Identifier: Apache-2.0
// Loading and rendering the evaluation tasks (include/polyglot/eval/tasks.hpp, docs/eval.md).
#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>
#include <polyglot/json/value.hpp>
#include <polyglot/analysis/table.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/eval/tasks.hpp>
#include <polyglot/eval/template.hpp>
#include <polyglot/io/atomic_file.hpp>
#include <polyglot/text/unicode.hpp>
#include <span>
#include <tuple>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {
namespace {

namespace fs = std::filesystem;
using analysis::json_value;

constexpr std::string_view global_mmlu_lite = "global_mmlu_lite";
constexpr std::string_view mrewardbench_mcf = "mrewardbench_mcf";
constexpr std::string_view mgsm = "mgsm";

// The paper's scripts/lighteval_tasks.py: M-RewardBench subsets and the MGSM instruction.
std::string mrb_subset(std::string_view lang) {
    static constexpr std::pair<std::string_view, std::string_view> m[] = {
        {"ar", "arb_Arab"}, {"cs", "ces_Latn"}, {"de", "deu_Latn"},
        {"es", "spa_Latn"}, {"id", "ind_Latn"}, {"ja", "jpn_Jpan"}};
    for (const auto& [k, v] : m)
        if (k == lang) return std::string(v);
    return std::string(lang);
}

std::string_view mgsm_instruction(std::string_view lang) {
    static constexpr std::pair<std::string_view, std::string_view> m[] = {
        {"en", "Answer with only the number."},
        {"de", "Antworte nur mit der Zahl."},
        {"es", "Responde solo con el número."},
        {"ja", "数字のみで答えてください。"},
        {"ar", "أجب بالرقم فقط."},
        {"id", "Jawab hanya dengan angka."}};
    for (const auto& [k, v] : m)
        if (k == lang) return v;
    return m[0].second;  // the paper falls back to English
}

// The m-rewardbench judge prompt (the paper's get_mrewardbench_eval_instances, after
// m-rewardbench scripts/generative.py; the tie option removed).
constexpr std::string_view mrb_prompt[] = {
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user question displayed below. The question provided is in ",
    ". You should choose the assistant that follows the user's instructions and answers the "
    "user's question better. Your evaluation should consider factors such as the helpfulness, "
    "relevance, accuracy, depth, creativity, and level of detail of their responses. Also, make "
    "sure that the assistant responses are in ",
    ". Begin your evaluation by comparing the two responses. Avoid any position biases and ensure "
    "that the order in which the responses were presented does not influence your decision. Do "
    "not allow the length of the responses to influence your evaluation. Do not favor certain "
    "names of the assistants. Be as objective as possible. After providing your explanation, "
    "output your final verdict by strictly following this format: \"A\" if assistant A is "
    "better, \"B\" if assistant B is better.Don't put any quotation marks around your final "
    "verdict. Here is the user question: ",
    " "};

std::uint64_t fnv1a64(std::string_view s) noexcept {
    std::uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001B3ull;
    }
    return h;
}

std::uint64_t splitmix64(std::uint64_t x) noexcept {
    std::uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// A data row: where it came from and its fields as a JSON object.
struct data_row {
    std::string where;
    json_value obj;
};

/// Why a row cannot be used: a stable reason code and a message.
struct row_problem {
    std::string reason;
    std::string detail;
};

/// Counts/reports skipped rows, or throws under --strict.
class skip_sink {
  public:
    skip_sink(task& t, const load_options& o, std::string prefix = {})
        : t_(t), o_(o), prefix_(std::move(prefix)) {}
    void operator()(const std::string& where, const row_problem& p) {
        const std::string msg = where + ": " + p.detail;
        if (o_.strict) throw format_error(msg);
        t_.skipped[prefix_ + p.reason]++;
        if (o_.on_skip) o_.on_skip(msg);
    }

  private:
    task& t_;
    const load_options& o_;
    std::string prefix_;
};

bool has_ext(const fs::path& p, std::initializer_list<std::string_view> exts) {
    std::string e = p.extension().string();
    for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto x : exts)
        if (e == x) return true;
    return false;
}

/// Reads every row of a JSONL or CSV/TSV file; unusable lines go to @p skip. @p records: the
/// rows seen (usable or not; blank lines are not records).
std::vector<data_row> read_rows(const std::string& path, skip_sink& skip, std::uint64_t& records) {
    std::vector<data_row> rows;
    std::string text = io::read_file(path);
    std::string_view body = text;
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
    if (has_ext(path, {".csv", ".tsv"})) {
        const auto t = analysis::parse_csv(body, path, has_ext(path, {".tsv"}) ? '\t' : ',');
        records = t.size();
        for (std::size_t r = 0; r < t.size(); ++r) {
            json_value::object obj;
            bool bad = false;
            for (std::size_t c = 0; c < t.columns.size(); ++c) {
                // An unquoted empty CSV field is an empty string (pandas writes "" that way).
                std::string v = t.is_missing(r, c) ? std::string() : t.text(r, c);
                if (!text::is_valid_utf8(v)) {
                    skip(t.where(r),
                         {"invalid_utf8", "column '" + t.columns[c] + "' is not valid UTF-8"});
                    bad = true;
                    break;
                }
                obj.push_back({t.columns[c], json_value(std::move(v))});
            }
            if (!bad) rows.push_back({t.where(r), json_value(std::move(obj))});
        }
        return rows;
    }
    if (!has_ext(path, {".jsonl", ".ndjson", ".json"}))
        throw format_error(path + ": unknown data format (expected .jsonl, .csv or .tsv)");
    analysis::for_each_json_line(
        body, path,
        [&](std::size_t line, json_value&& v) {
            ++records;
            const std::string where = path + ":" + std::to_string(line);
            if (!v.is_object()) {
                skip(where, {"not_an_object",
                             std::string("a JSON ") + v.type_name() + ", expected an object"});
                return;
            }
            rows.push_back({where, std::move(v)});
        },
        [&](std::size_t line, std::string_view l, const format_error& e) {
            ++records;
            const std::string where = path + ":" + std::to_string(line);
            if (!text::is_valid_utf8(l))
                skip(where, {"invalid_utf8", "the line is not valid UTF-8"});
            else {
                std::string_view what = e.what();
                if (what.starts_with(where + ": ")) what.remove_prefix(where.size() + 2);
                skip(where, {"malformed_json", "malformed JSON (" + std::string(what) + ")"});
            }
        });
    return rows;
}

/// Python's str() of a JSON number: integers without a fractional part.
std::string number_text(double d) {
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.007199254740992e15) {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(d));
        return std::string(buf, r.ptr);
    }
    return analysis::format_double(d);
}

/// A text field of @p row, or sets @p p (missing_field:F, null_field:F, non_string_field:F).
std::optional<std::string> text_field(const json_value& row, std::string_view name,
                                      row_problem& p) {
    const json_value* v = row.find(name);
    const std::string f(name);
    if (!v) {
        p = {"missing_field:" + f, "missing field '" + f + "'"};
        return std::nullopt;
    }
    if (v->is_null()) {
        p = {"null_field:" + f, "field '" + f + "' is null"};
        return std::nullopt;
    }
    if (v->is_number()) return number_text(v->as_number());
    if (!v->is_string()) {
        p = {"non_string_field:" + f,
             "field '" + f + "' is a " + v->type_name() + ", expected a string"};
        return std::nullopt;
    }
    return v->as_string();
}

/// Candidate paths of a split: DIR/<dataset>/<subdir>/<split>.<ext> and DIR/<subdir>/<split>.<ext>.
std::string find_split(const std::string& data, std::string_view dataset,
                       const std::vector<std::string>& subdirs, std::string_view split,
                       std::vector<std::string>& tried) {
    const fs::path root(data);
    for (const auto& base : {root / std::string(dataset), root})
        for (const auto& sub : subdirs)
            for (const char* ext : {".jsonl", ".csv", ".tsv", ".ndjson"}) {
                const fs::path p = base / sub / (std::string(split) + ext);
                if (ext == std::string_view(".jsonl")) tried.push_back(p.string());
                std::error_code ec;
                if (fs::is_regular_file(p, ec)) return p.string();
            }
    return {};
}

/// The data file of @p split: --data itself when it is a file (test split) or --fewshot-data
/// (few-shot split), else the layout under the --data directory.
std::string data_path(const load_options& o, std::string_view dataset,
                      const std::vector<std::string>& subdirs, std::string_view split,
                      bool fewshot) {
    std::error_code ec;
    if (fewshot && !o.fewshot_data.empty()) return o.fewshot_data;
    if (o.data.empty()) throw argument_error("no --data given (a directory or a data file)");
    if (fs::is_regular_file(o.data, ec)) {
        if (!fewshot) return o.data;
        throw argument_error(std::string(dataset) + ": --data is a single file; give the " +
                             std::string(split) +
                             " split for the few-shot examples with "
                             "--fewshot-data FILE");
    }
    if (!fs::is_directory(o.data, ec))
        throw io_error(o.data + ": no such file or directory (--data)");
    std::vector<std::string> tried;
    std::string p = find_split(o.data, dataset, subdirs, split, tried);
    if (p.empty()) {
        std::string list;
        for (const auto& t : tried) list += "\n  " + t;
        throw io_error("no " + std::string(split) + " split of " + std::string(dataset) +
                       " under " + o.data + " (looked for .jsonl/.csv/.tsv at:" + list +
                       ")\nsee docs/eval.md for the data layout");
    }
    return p;
}

void require_lang(const task_request& r) {
    if (r.lang.empty())
        throw argument_error("task '" + r.name + "' needs a language: " + r.name + ":LANG");
}

void finish_key(task& t) {
    t.name = t.base + (t.lang.empty() ? "" : ":" + t.lang);
    t.key = t.name + "|" + std::to_string(t.shots);
}

void apply_limit(task& t, std::uint64_t limit) {
    if (limit && t.items.size() > limit) t.items.resize(limit);
}

/// The text fields @p names of @p row in order, or nullopt with @p p naming the first bad one.
std::optional<std::vector<std::string>> text_fields(const json_value& row,
                                                    std::initializer_list<std::string_view> names,
                                                    row_problem& p) {
    std::vector<std::string> out;
    for (auto n : names) {
        auto v = text_field(row, n, p);
        if (!v) return std::nullopt;
        out.push_back(std::move(*v));
    }
    return out;
}

/// A task's common fields; the data file is found by data_path.
task new_task(std::string_view base, const task_request& r, std::vector<std::string> metrics,
              std::string hf_repo, std::string hf_subset) {
    task t;
    t.base = std::string(base);
    t.lang = r.lang;
    t.metrics = std::move(metrics);
    t.hf_repo = std::move(hf_repo);
    t.hf_subset = std::move(hf_subset);
    return t;
}

/// Appends an MCF item rendered with lighteval's template.
void add_mcf_item(task& t, const translation_literals& lit, std::string_view question,
                  std::span<const std::string> options, std::size_t gold, std::string source,
                  const std::string& where) {
    auto m = render_mcf(lit, question, options);
    eval_item it;
    it.context = std::move(m.query);
    it.choices = std::move(m.choices);
    it.gold = {gold};
    it.source = std::move(source);
    it.where = where;
    t.items.push_back(std::move(it));
}

task load_mmlu(const task_request& r, const load_options& o) {
    require_lang(r);
    const auto& lit = literals_for(r.lang);
    if (r.shots > 0)
        throw argument_error(
            "global_mmlu_lite: only 0-shot is supported (the paper's setting; lighteval's "
            "balanced few-shot sampling from dev is not reproduced)");
    task t = new_task(global_mmlu_lite, r, {"acc"}, "CohereForAI/Global-MMLU-Lite", r.lang);
    t.data_file = data_path(o, global_mmlu_lite, {r.lang}, "test", false);
    skip_sink skip(t, o);
    for (const auto& row : read_rows(t.data_file, skip, t.rows_read)) {
        row_problem p;
        auto f = text_fields(
            row.obj, {"question", "option_a", "option_b", "option_c", "option_d", "answer"}, p);
        if (!f) {
            skip(row.where, p);
            continue;
        }
        const std::string& ans = (*f)[5];
        if (ans.size() != 1 || ans[0] < 'A' || ans[0] > 'D') {
            skip(row.where,
                 {"bad_answer", "field 'answer' is '" + ans + "', expected one of A, B, C, D"});
            continue;
        }
        add_mcf_item(t, lit, (*f)[0], std::span<const std::string>(f->data() + 1, 4),
                     static_cast<std::size_t>(ans[0] - 'A'), {}, row.where);
    }
    apply_limit(t, o.limit);
    finish_key(t);
    return t;
}

task load_mrb(const task_request& r, const load_options& o) {
    require_lang(r);
    const auto& lit = literals_for(r.lang);
    if (r.shots > 0)
        throw argument_error("mrewardbench_mcf: only 0-shot is supported (the paper's setting)");
    task t = new_task(mrewardbench_mcf, r, {"acc", "acc_norm_token", "weighted_acc"},
                      "CohereLabsCommunity/multilingual-reward-bench", mrb_subset(r.lang));
    t.data_file = data_path(o, "mrewardbench", {r.lang, t.hf_subset}, "test", false);
    skip_sink skip(t, o);
    for (const auto& row : read_rows(t.data_file, skip, t.rows_read)) {
        row_problem p;
        auto f = text_fields(row.obj, {"prompt", "chosen", "rejected", "source", "language"}, p);
        if (!f) {
            skip(row.where, p);
            continue;
        }
        const auto& [prompt, chosen, rejected, source, language] =
            std::tie((*f)[0], (*f)[1], (*f)[2], (*f)[3], (*f)[4]);
        const bool first = mrb_chosen_first(o.seed, prompt, chosen, rejected);
        const std::string question =
            std::string(mrb_prompt[0]) + language + std::string(mrb_prompt[1]) + language +
            std::string(mrb_prompt[2]) + prompt + std::string(mrb_prompt[3]);
        const std::string opts[] = {first ? chosen : rejected, first ? rejected : chosen};
        add_mcf_item(t, lit, question, opts, first ? 0 : 1, source, row.where);
    }
    apply_limit(t, o.limit);
    finish_key(t);
    return t;
}

task load_mgsm(const task_request& r, const load_options& o) {
    require_lang(r);
    (void)literals_for(r.lang);  // the answer extraction needs them: fail before any model runs
    task t = new_task(mgsm, r, {"extractive_match"}, "ljvmiranda921/mgsm", r.lang);
    t.kind = task_kind::generative;
    t.shots = r.shots < 0 ? 5u : static_cast<unsigned>(r.shots);
    t.generation_size = 50;
    t.stop = {"\n"};
    const std::string_view inst = mgsm_instruction(r.lang);
    auto query_of = [&](const std::string& q) {
        return q + "\n\n" + std::string(inst) + "\nAnswer:";
    };
    auto read = [&](const std::string& path, skip_sink& skip, std::vector<eval_item>& out) {
        std::uint64_t records = 0;
        const auto rows = read_rows(path, skip, records);
        for (const auto& row : rows) {
            row_problem p;
            auto f = text_fields(row.obj, {"question", "answer_number"}, p);
            if (!f) {
                skip(row.where, p);
                continue;
            }
            eval_item it;
            it.context = query_of((*f)[0]);
            it.gold_text = std::move((*f)[1]);
            it.where = row.where;
            out.push_back(std::move(it));
        }
        return records;
    };
    t.data_file = data_path(o, mgsm, {r.lang}, "test", false);
    skip_sink skip(t, o);
    t.rows_read = read(t.data_file, skip, t.items);
    std::vector<eval_item> pool;
    if (t.shots > 0) {
        t.fewshot_file = data_path(o, mgsm, {r.lang}, "train", true);
        t.fewshot_select = "sequential";
        skip_sink fskip(t, o, "fewshot:");
        read(t.fewshot_file, fskip, pool);
        if (pool.size() < t.shots)
            throw format_error(t.fewshot_file + ": " + std::to_string(pool.size()) +
                               " usable few-shot rows, " + std::to_string(t.shots) + " needed");
    }
    apply_limit(t, o.limit);
    for (auto& it : t.items) {
        // lighteval's sequential selection: the first rows of the pool, minus the document
        // itself should it be there.
        std::vector<std::pair<std::string, std::string>> fs;
        for (const auto& ex : pool) {
            if (fs.size() == t.shots) break;
            if (ex.context == it.context && ex.gold_text == it.gold_text) continue;
            fs.emplace_back(ex.context, ex.gold_text);
        }
        it.context = join_fewshot(fs, it.context);
    }
    finish_key(t);
    return t;
}

/// Gold indices of a task-file row: an integer or a list of integers, each < n.
std::optional<std::vector<std::size_t>> gold_of(const json_value& v, std::size_t n,
                                                row_problem& p) {
    std::vector<std::size_t> g;
    auto one = [&](const json_value& x) {
        if (!x.is_number() || x.as_number() < 0 || x.as_number() != std::trunc(x.as_number()) ||
            x.as_number() >= static_cast<double>(n))
            return false;
        g.push_back(static_cast<std::size_t>(x.as_number()));
        return true;
    };
    bool ok = v.is_array() ? !v.as_array().empty() : one(v);
    if (v.is_array())
        for (const auto& x : v.as_array()) ok = ok && one(x);
    if (!ok) {
        p = {"bad_gold",
             "field 'gold' must be a choice index (or a list of them) below " + std::to_string(n)};
        return std::nullopt;
    }
    return g;
}

/// A task-file row's query, choices and gold, or a problem.
bool task_file_row(const json_value& row, std::string& query, std::vector<std::string>& choices,
                   std::vector<std::size_t>& gold, row_problem& p) {
    auto q = text_field(row, "query", p);
    if (!q) return false;
    const json_value* c = row.find("choices");
    if (!c || !c->is_array() || c->as_array().empty()) {
        p = {c ? "bad_choices" : "missing_field:choices",
             c ? "field 'choices' must be a non-empty list of strings" : "missing field 'choices'"};
        return false;
    }
    choices.clear();
    for (const auto& x : c->as_array()) {
        if (!x.is_string()) {
            p = {"bad_choices", "field 'choices' must be a non-empty list of strings"};
            return false;
        }
        choices.push_back(x.as_string());
    }
    const json_value* g = row.find("gold");
    if (!g) {
        p = {"missing_field:gold", "missing field 'gold'"};
        return false;
    }
    auto gg = gold_of(*g, choices.size(), p);
    if (!gg) return false;
    query = std::move(*q);
    gold = std::move(*gg);
    return true;
}

task load_task_file(const task_request& r, const load_options& o) {
    task t;
    t.base = r.name;
    t.lang = r.lang;
    t.metrics = {"acc", "acc_norm", "acc_norm_token"};
    t.data_file = r.file;
    t.fewshot_select = "file";
    skip_sink skip(t, o);
    const auto rows = read_rows(r.file, skip, t.rows_read);
    bool first = true;
    for (const auto& row : rows) {
        row_problem p;
        eval_item it;
        std::string query;
        if (!task_file_row(row.obj, query, it.choices, it.gold, p)) {
            skip(row.where, p);
            continue;
        }
        std::vector<std::pair<std::string, std::string>> fs;
        if (const json_value* f = row.obj.find("fewshot")) {
            bool ok = f->is_array();
            if (ok)
                for (const auto& ex : f->as_array()) {
                    std::string fq;
                    std::vector<std::string> fc;
                    std::vector<std::size_t> fg;
                    if (!ex.is_object() || !task_file_row(ex, fq, fc, fg, p)) {
                        ok = false;
                        break;
                    }
                    fs.emplace_back(std::move(fq), fc[fg[0]]);
                }
            if (!ok) {
                skip(row.where, {"bad_fewshot",
                                 "field 'fewshot' must be a list of {query, "
                                 "choices, gold} objects"});
                continue;
            }
        }
        if (first) t.shots = static_cast<unsigned>(fs.size()), first = false;
        it.context = join_fewshot(fs, query);
        it.where = row.where;
        t.items.push_back(std::move(it));
    }
    apply_limit(t, o.limit);
    finish_key(t);
    return t;
}

}  // namespace

bool mrb_chosen_first(std::uint64_t seed, std::string_view prompt, std::string_view chosen,
                      std::string_view rejected) noexcept {
    std::string key = std::to_string(seed);
    key.append("\x1f").append(prompt).append("\x1f").append(chosen).append("\x1f").append(rejected);
    return (splitmix64(fnv1a64(key)) >> 63) == 0;
}

task_request parse_task(std::string_view spec) {
    task_request r;
    std::string_view s = spec;
    // lighteval's "suite|task:lang|shots": drop a leading suite when there are two bars.
    if (auto a = s.find('|'); a != std::string_view::npos && s.find('|', a + 1) != s.npos)
        s.remove_prefix(a + 1);
    if (auto bar = s.find('|'); bar != std::string_view::npos) {
        const std::string_view n = s.substr(bar + 1);
        int v = -1;
        auto res = std::from_chars(n.data(), n.data() + n.size(), v);
        if (n.empty() || res.ec != std::errc() || res.ptr != n.data() + n.size() || v < 0)
            throw argument_error("task '" + std::string(spec) + "': '" + std::string(n) +
                                 "' is not a number of shots");
        r.shots = v;
        s = s.substr(0, bar);
    }
    if (auto colon = s.find(':'); colon != std::string_view::npos) {
        r.lang = std::string(s.substr(colon + 1));
        s = s.substr(0, colon);
    }
    r.name = std::string(s);
    if (r.name.empty()) throw argument_error("task '" + std::string(spec) + "': empty task name");
    if (r.name == "mgsm_custom") r.name = std::string(mgsm);  // the paper's name
    return r;
}

task_request parse_task_file(std::string_view spec) {
    task_request r;
    if (auto eq = spec.find('='); eq != std::string_view::npos) {
        r = parse_task(spec.substr(0, eq));
        r.file = std::string(spec.substr(eq + 1));
    } else {
        r.file = std::string(spec);
        r.name = fs::path(r.file).stem().string();
    }
    if (r.file.empty()) throw argument_error("--task-file '" + std::string(spec) + "': no file");
    if (r.shots >= 0)
        throw argument_error("--task-file '" + std::string(spec) +
                             "': shots come from the file's `fewshot` lists");
    return r;
}

std::vector<std::string> builtin_tasks() {
    return {std::string(global_mmlu_lite), std::string(mrewardbench_mcf), std::string(mgsm)};
}

task load_task(const task_request& req, const load_options& opts) {
    if (!req.file.empty()) return load_task_file(req, opts);
    if (req.name == global_mmlu_lite) return load_mmlu(req, opts);
    if (req.name == mrewardbench_mcf) return load_mrb(req, opts);
    if (req.name == mgsm) return load_mgsm(req, opts);
    std::string have;
    for (const auto& n : builtin_tasks()) have += (have.empty() ? "" : ", ") + n;
    throw argument_error("unknown task '" + req.name + "' (built-in: " + have +
                         "; or give your own with --task-file)");
}

}  // namespace eval
POLYGLOT_END_NAMESPACE
