// SPDX-License-Identifier: Apache-2.0
// The rubric judge: prompts, parsers, retries.
//
// Prompt texts are the paper's and prometheus-eval's, verbatim, because reproducing the paper's
// judgements needs the same words:
//   - M_RUBRIC_PROMPT and get_rubric_criteria(): github.com/ljvmiranda921/polyglot-teachers,
//     scripts/utils/prompts.py at deddec5 (json format) and at 9686016 (the "[RESULT]" rule 3
//     the prompt had before 1fe489c; prometheus format);
//   - SCORE_RUBRIC_TEMPLATE and ABS_SYSTEM_PROMPT: github.com/prometheus-eval/prometheus-eval,
//     libs/prometheus-eval/prometheus_eval/prompts.py (Apache-2.0);
//   - the absolute-grading parser's pattern: the same package's parser.py
//     (_parse_output_absolute), re-expressed for ICU below.
#include <simdjson.h>
#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <memory>
#include <mutex>
#include <polyglot/core/assert.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/judge/rubric.hpp>

#include "base/json/schema.hpp"

POLYGLOT_BEGIN_NAMESPACE
namespace judge {

namespace {

// M_RUBRIC_PROMPT's parts around its rule 3 (the two versions differ only there). Note the
// paper's trailing spaces after "###Task Description:" and "are given.".
constexpr std::string_view task_head =
    "###Task Description: \n"
    "An instruction (might include an Input inside it) in ";
constexpr std::string_view task_rules =
    ", a response to evaluate, and a score rubric representing a evaluation criteria are given. \n"
    "1. Write a detailed feedback that assess the quality of the response strictly based on the "
    "given score rubric, not evaluating in general.\n"
    "2. After writing a feedback, write a score that is an integer between 1 and 5. You should "
    "refer to the score rubric.\n";
constexpr std::string_view rule3_json =
    "3. The output should contain the score and feedback only.\n";
constexpr std::string_view rule3_prometheus =
    "3. The output format should look as follows: \"(write a feedback for criteria) [RESULT] (an "
    "integer number between 1 and 5)\"\n";
constexpr std::string_view task_tail =
    "4. Please do not generate any other opening, closing, and explanations.\n"
    "\n"
    "###The instruction to evaluate:\n";

constexpr std::string_view abs_system_prompt =
    "You are a fair judge assistant tasked with providing clear, objective feedback based on "
    "specific criteria, ensuring each assessment reflects the absolute standards set for "
    "performance.";

constexpr std::string_view descriptors[5] = {
    "The response contains severe grammatical errors, lacks cultural appropriateness, or is "
    "unhelpful/harmful. The language proficiency is very poor.",
    "The response has noticeable grammatical errors and limited cultural awareness. It partially "
    "addresses the instruction but with significant gaps in language proficiency or "
    "helpfulness.",
    "The response demonstrates adequate language proficiency with some minor grammatical errors. "
    "It shows reasonable cultural awareness and addresses the instruction in a helpful manner, "
    "though improvements are possible.",
    "The response exhibits strong language proficiency with minimal grammatical errors and good "
    "cultural nuance. It addresses the instruction in a helpful and harmless way with only minor "
    "room for improvement.",
    "The response demonstrates excellent language proficiency with proper grammar, appropriate "
    "cultural nuance, and idiomatic usage. It fully addresses the instruction in a helpful and "
    "harmless manner.",
};

constexpr std::string_view schema_text =
    R"({"type":"object","properties":{"feedback":{"type":"string"},)"
    R"("score":{"type":"integer","minimum":1,"maximum":5}},)"
    R"("required":["feedback","score"],"additionalProperties":false})";

// prometheus-eval's absolute pattern without its verbose-mode comments. Python's \s (str
// patterns) is Unicode whitespace incl. \v, \x1c-\x1f and \x85, which ICU's \s lacks: spelled
// out. \d is \p{Nd} in both; IGNORECASE ↔ UREGEX_CASE_INSENSITIVE.
const char* const prometheus_pattern =
    "(?:\\[RESULT\\]|\\[SCORE\\]|Score:?|score:?|Result:?|\\[Result\\]:?|score[WS]+of)"
    "[WS]*(?:\\(|\\[|[WS])*(\\d+)"
    "(?:(?:\\)|\\]|[WS]|$)|(?:/[WS]*5|[WS]*out[WS]*of[WS]*5))?"
    "(?:[WS]*$)";

std::string expand_ws(std::string p) {
    const std::string ws = "\\t\\n\\x{0B}\\f\\r\\x{1C}-\\x{1F}\\x{85}\\p{Z}";
    for (std::size_t pos; (pos = p.find("[WS]")) != std::string::npos;)
        p.replace(pos, 4, "[" + ws + "]");
    return p;
}

const icu::RegexPattern& prometheus_regex() {
    static std::once_flag once;
    static std::unique_ptr<icu::RegexPattern> re;
    std::call_once(once, [] {
        UErrorCode st = U_ZERO_ERROR;
        UParseError pe{};
        re.reset(
            icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(expand_ws(prometheus_pattern)),
                                       UREGEX_CASE_INSENSITIVE, pe, st));
        if (U_FAILURE(st))
            throw text_error(std::string("judge: the prometheus pattern does not "
                                         "compile (") +
                             u_errorName(st) + ")");
    });
    return *re;
}

std::string trim(std::string s) {
    const char* ws = " \t\n\r\f\v";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

}  // namespace

judge_format parse_format(std::string_view name) {
    if (name == "json") return judge_format::json;
    if (name == "prometheus") return judge_format::prometheus;
    throw argument_error("unknown judge format '" + std::string(name) +
                         "' (known: json, prometheus)");
}

std::string_view format_name(judge_format f) noexcept {
    return f == judge_format::json ? "json" : "prometheus";
}

std::string_view prompt_version(judge_format f) noexcept {
    return f == judge_format::json
               ? "polyglot-teachers@deddec5:M_RUBRIC_PROMPT+json{feedback,score}"
               : "polyglot-teachers@9686016:M_RUBRIC_PROMPT+prometheus-eval:ABS_SYSTEM_PROMPT";
}

std::string rubric(std::string_view language_name) {
    std::string r = "[Is the model proficient in language ";
    r += language_name;
    r += ", including its cultural nuance and grammatical usage, and responds in a helpful and "
         "harmless manner according to the instruction?]";
    for (int i = 0; i < 5; ++i) {
        r += "\nScore ";
        r += static_cast<char>('1' + i);
        r += ": ";
        r += descriptors[i];
    }
    return r;
}

std::string user_prompt(judge_format f, std::string_view language_name,
                        std::string_view instruction, std::string_view response) {
    std::string p;
    p.reserve(2048 + instruction.size() + response.size());
    p += task_head;
    p += language_name;
    p += task_rules;
    p += f == judge_format::json ? rule3_json : rule3_prometheus;
    p += task_tail;
    p += instruction;
    p += "\n\n###Response to evaluate:\n";
    p += response;
    p += "\n\n###Score Rubrics:\n";
    p += rubric(language_name);
    p += "\n\n###Feedback:";
    return p;
}

std::string messages(judge_format f, std::string_view language_name, std::string_view instruction,
                     std::string_view response) {
    io::json_writer w;
    w.begin_array();
    if (f == judge_format::prometheus) {
        w.begin_object().kv("role", "system").kv("content", abs_system_prompt).end_object();
    }
    w.begin_object()
        .kv("role", "user")
        .kv("content", user_prompt(f, language_name, instruction, response))
        .end_object();
    w.end_array();
    return w.take();
}

std::string_view json_schema() noexcept { return schema_text; }

std::string_view failure_name(failure f) noexcept {
    switch (f) {
        case failure::none:
            return "none";
        case failure::call_failed:
            return "call_failed";
        case failure::truncated:
            return "truncated";
        case failure::unparsable:
            return "unparsable";
        case failure::out_of_range:
            return "out_of_range";
        case failure::schema_violation:
            return "schema_violation";
    }
    return "none";
}

verdict parse_json(std::string_view text) {
    verdict v;
    const std::string why = model::validate_json_schema(schema_text, text);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (!why.empty()) {
        v.why = failure::unparsable;
        v.detail = why;
        // A numeric score outside 1..5 in an otherwise well-formed judgement: out of range.
        double score = 0;
        if (!parser.parse(text.data(), text.size()).get(root) && root.is_object() &&
            !root["score"].get_double().get(score) && (score < 1 || score > 5))
            v.why = failure::out_of_range;
        return v;
    }
    // validate() accepted it: the parse and both fields cannot fail.
    std::string_view fb;
    double score = 0;
    if (parser.parse(text.data(), text.size()).get(root) || root["feedback"].get_string().get(fb) ||
        root["score"].get_double().get(score)) {
        v.why = failure::unparsable;
        return v;
    }
    v.feedback = std::string(fb);
    v.score = static_cast<std::int32_t>(score);
    return v;
}

verdict parse_prometheus(std::string_view text) {
    verdict v;
    UErrorCode st = U_ZERO_ERROR;
    const icu::UnicodeString u = icu::UnicodeString::fromUTF8(
        icu::StringPiece(text.data(), static_cast<std::int32_t>(text.size())));
    std::unique_ptr<icu::RegexMatcher> m(prometheus_regex().matcher(u, st));
    if (U_FAILURE(st) || !m->find(st) || U_FAILURE(st)) {
        v.why = failure::unparsable;
        v.detail = "no '[RESULT] N' (or Score:/Result:/score of N) at the end";
        return v;
    }
    // The captured digits may be any Unicode decimal digits (Python's int() reads them).
    const icu::UnicodeString digits = m->group(1, st);
    std::uint64_t n = 0;
    bool big = false;
    for (std::int32_t i = 0; i < digits.length();) {
        const UChar32 c = digits.char32At(i);
        n = n * 10 + static_cast<std::uint64_t>(u_charDigitValue(c));
        if (n > 1000) big = true;
        i += U16_LENGTH(c);
    }
    if (big || n < 1 || n > 5) {
        v.why = failure::out_of_range;
        std::string d;
        digits.toUTF8String(d);
        v.detail = "score " + d + " is not between 1 and 5";
        return v;
    }
    std::string fb;
    u.tempSubString(0, m->start(st)).toUTF8String(fb);
    v.feedback = trim(std::move(fb));
    v.score = static_cast<std::int32_t>(n);
    return v;
}

std::uint64_t attempt_seed(std::uint64_t seed, std::uint32_t attempt) noexcept {
    return attempt == 0 ? seed : mix(seed ^ mix(attempt));
}

void run(generator& g, const options& o, std::span<const item> items, std::span<judgement> out,
         const call_hooks* hooks) {
    POLYGLOT_ASSERT(items.size() == out.size());
    std::vector<std::size_t> pending(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        pending[i] = i;
        out[i] = judgement{};
    }
    generate_params p;
    p.max_new_tokens = o.max_new_tokens;
    p.temperature = o.temperature;
    p.top_p = o.top_p;
    if (o.format == judge_format::json) p.json_schema = std::string(schema_text);
    std::vector<std::string> msgs;
    std::vector<std::string_view> views;
    std::vector<generation> gens;
    for (std::uint32_t attempt = 0; attempt <= o.retries && !pending.empty(); ++attempt) {
        p.seed = attempt_seed(o.seed, attempt);
        std::vector<std::size_t> still;
        // Runs of consecutive record indices share one call (their seeds then follow from
        // first_index exactly as if each were asked alone).
        for (std::size_t a = 0; a < pending.size();) {
            std::size_t b = a + 1;
            while (b < pending.size() && items[pending[b]].index == items[pending[b - 1]].index + 1)
                ++b;
            msgs.clear();
            views.clear();
            for (std::size_t k = a; k < b; ++k) {
                const item& it = items[pending[k]];
                msgs.push_back(messages(o.format, it.language_name, it.instruction, it.response));
            }
            for (const auto& m : msgs) views.push_back(m);
            gens.assign(b - a, generation{});
            call_hooks h;
            std::vector<std::pair<polyglot_status, std::string>> errs(b - a);
            std::vector<std::uint8_t> failed(b - a, 0);
            if (hooks) {
                h.progress = hooks->progress;
                h.cancel = hooks->cancel;
            }
            h.item_error = [&](std::uint64_t i, polyglot_status s, std::string_view msg) {
                if (i < failed.size()) {
                    failed[i] = 1;
                    errs[i] = {s, std::string(msg)};
                }
            };
            g.generate(prompt_kind::messages, views, {}, items[pending[a]].index, p, gens, &h);
            for (std::size_t k = a; k < b; ++k) {
                const std::size_t i = pending[k];
                judgement& j = out[i];
                const generation& gen = gens[k - a];
                ++j.attempts;
                verdict v;
                const polyglot_status status = failed[k - a] ? errs[k - a].first : gen.status;
                if (failed[k - a] || !gen.ok()) {
                    // A server's reply that broke the schema (the remote backend checks it) is
                    // the judge's fault, not the call's.
                    v.why = status == POLYGLOT_STATUS_FORMAT_ERROR ? failure::schema_violation
                                                                   : failure::call_failed;
                } else {
                    v = o.format == judge_format::json ? parse_json(gen.text)
                                                       : parse_prometheus(gen.text);
                    if (v.why != failure::none && gen.finish_reason == POLYGLOT_FINISH_LENGTH)
                        v.why = failure::truncated;
                }
                if (v.why == failure::none) {
                    j.score = v.score;
                    j.feedback = std::move(v.feedback);
                    j.last_output.clear();
                } else {
                    j.failures.emplace_back(failure_name(v.why));
                    j.last_output = failed[k - a] ? errs[k - a].second
                                    : gen.ok()    ? gen.text
                                                  : gen.error;
                    still.push_back(i);
                }
            }
            a = b;
        }
        pending.swap(still);
    }
}

}  // namespace judge
POLYGLOT_END_NAMESPACE
