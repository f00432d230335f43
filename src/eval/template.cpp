// SPDX-License-Identifier: Apache-2.0
// lighteval's literals and multiple-choice template (include/polyglot/eval/template.hpp).
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <array>
#include <polyglot/core/error.hpp>
#include <polyglot/eval/template.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace eval {
namespace {

// From lighteval's src/lighteval/tasks/templates/utils/translation_literals.py (read at
// 3fd15266); tests/oracles/eval_oracle.py reads that file and the test compares every field.
// Columns: question_word, answer, full_stop, comma, question_mark, exclamation_mark,
// word_space, sentence_space, colon, semicolon.
constexpr std::array<translation_literals, 23> literals_table{{
    {"ar", "سؤال", "إجابة", ".", "،", "؟", "!", " ", " ", ":", ";"},
    {"cs", "otázka", "odpověď", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"de", "frage", "antwort", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"es", "pregunta", "respuesta", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"id", "pertanyaan", "jawaban", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"ja", "質問", "回答", "。", "、", "？", "！", "", "", "：", "；"},
    {"en", "question", "answer", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"tl", "tanong", "sagot", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"bn", "প্রশ্ন", "উত্তর", "।", ",", "?", "!", " ", " ", ":", ";"},
    {"fr", "question", "réponse", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"hi", "सवाल", "उत्तर", "।", ",", "?", "!", " ", " ", ":", ";"},
    {"it", "domanda", "risposta", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"nl", "vraag", "antwoord", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"pl", "pytanie", "odpowiedź", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"pt", "pergunta", "resposta", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"ru", "вопрос", "ответ", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"sw", "swali", "jibu", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"te", "ప్రశ్న", "జవాబు", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"th", "คำถาม", "คำตอบ", ".", ",", "?", "!", "", " ", ":", ";"},
    {"tr", "soru", "cevap", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"uk", "питання", "відповідь", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"vi", "câu hỏi", "trả lời", ".", ",", "?", "!", " ", " ", ":", ";"},
    {"zh", "问题", "答案", "。", "，", "？", "！", "", "", "：", ";"},
}};

/// Python's str.isspace() for one code point (Py_UNICODE_ISSPACE).
bool is_python_space(UChar32 c) noexcept {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string_view lstrip(std::string_view s) noexcept {
    std::int32_t i = 0;
    const auto n = static_cast<std::int32_t>(s.size());
    while (i < n) {
        std::int32_t next = i;
        UChar32 c;
        U8_NEXT(s.data(), next, n, c);
        if (!is_python_space(c)) break;
        i = next;
    }
    return s.substr(static_cast<std::size_t>(i));
}

bool ends_with(std::string_view s, char c) noexcept { return !s.empty() && s.back() == c; }

}  // namespace

std::span<const translation_literals> all_literals() noexcept { return literals_table; }

const translation_literals& literals_for(std::string_view lang) {
    for (const auto& l : literals_table)
        if (l.lang == lang) return l;
    std::string have;
    for (const auto& l : literals_table) have += (have.empty() ? "" : ", ") + std::string(l.lang);
    throw argument_error("no lighteval literals for language '" + std::string(lang) +
                         "' (known: " + have + ")");
}

std::string_view rstrip(std::string_view s) noexcept {
    auto n = static_cast<std::int32_t>(s.size());
    while (n > 0) {
        std::int32_t prev = n;
        UChar32 c;
        U8_PREV(s.data(), 0, prev, c);
        if (!is_python_space(c)) break;
        n = prev;
    }
    return s.substr(0, static_cast<std::size_t>(n));
}

std::string capitalize(std::string_view s) {
    if (s.empty()) return {};
    std::int32_t end = 0;
    UChar32 c;
    U8_NEXT(s.data(), end, static_cast<std::int32_t>(s.size()), c);
    if (c < 0) return std::string(s);  // ill-formed first byte: left as it is
    if (c < 0x80) {
        std::string out(s);
        if (c >= 'a' && c <= 'z') out[0] = static_cast<char>(c - 'a' + 'A');
        return out;
    }
    // Full case mapping (SpecialCasing: "ß" -> "SS"), root locale, like Python's str.upper().
    UChar src[2];
    std::int32_t len = 0;
    U16_APPEND_UNSAFE(src, len, c);
    UChar dst[8];
    UErrorCode status = U_ZERO_ERROR;
    const std::int32_t m = u_strToUpper(dst, 8, src, len, "", &status);
    if (U_FAILURE(status) || m > 8) return std::string(s);
    std::string out;
    for (std::int32_t i = 0; i < m;) {
        UChar32 u;
        U16_NEXT(dst, i, m, u);
        char buf[4];
        std::int32_t k = 0;
        U8_APPEND_UNSAFE(buf, k, u);
        out.append(buf, static_cast<std::size_t>(k));
    }
    out.append(s.substr(static_cast<std::size_t>(end)));
    return out;
}

std::string fix_ending_punct(std::string_view s, const translation_literals& lit) {
    s = rstrip(s);
    std::string out(s);
    if (s.empty()) return out;
    std::string_view repl;
    if (ends_with(s, '?'))
        repl = lit.question_mark;
    else if (ends_with(s, '.'))
        repl = lit.full_stop;
    else if (ends_with(s, ','))
        repl = lit.comma;
    else if (ends_with(s, ':'))
        repl = lit.colon;
    else
        return out;
    out.pop_back();
    out += repl;
    return out;
}

mc_prompt render_mcf(const translation_literals& lit, std::string_view question,
                     std::span<const std::string> options, std::string_view instruction,
                     std::string_view context) {
    if (options.size() > 26)
        throw argument_error("a multiple-choice item has " + std::to_string(options.size()) +
                             " options; letter choices go up to Z (26)");
    mc_prompt p;
    std::string& q = p.query;
    if (!instruction.empty()) q.append(instruction).append("\n");
    if (!context.empty()) q.append(capitalize(fix_ending_punct(context, lit))).append("\n");
    q.append(capitalize(lit.question_word))
        .append(lit.colon)
        .append(lit.sentence_space)
        .append(capitalize(fix_ending_punct(question, lit)))
        .append("\n");
    for (std::size_t i = 0; i < options.size(); ++i) {
        const char letter = static_cast<char>('A' + i);
        if (i) q += '\n';
        q.append(lit.sentence_space);
        q += letter;
        q.append(lit.full_stop).append(lit.sentence_space);
        q.append(capitalize(fix_ending_punct(options[i], lit)));
        p.choices.push_back(std::string(lit.sentence_space) + letter);
    }
    if (!options.empty()) q += '\n';
    q.append(capitalize(lit.answer)).append(lit.colon);
    return p;
}

std::string join_fewshot(std::span<const std::pair<std::string, std::string>> fewshots,
                         std::string_view query) {
    std::string out;
    for (const auto& [q, gold] : fewshots) {
        out.append(q).append(" ").append(lstrip(rstrip(gold))).append("\n\n");
    }
    out.append(query);
    return out;
}

text_split move_trailing_space(std::string_view context,
                               std::span<const std::string> continuations) {
    text_split s;
    const std::string_view head = rstrip(context);
    const std::string_view tail = context.substr(head.size());
    s.context = std::string(head);
    s.continuations.reserve(continuations.size());
    for (const auto& c : continuations) s.continuations.push_back(std::string(tail) + c);
    return s;
}

}  // namespace eval
POLYGLOT_END_NAMESPACE
