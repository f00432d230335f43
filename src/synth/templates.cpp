// SPDX-License-Identifier: Apache-2.0
// The paper's synthesis prompts, verbatim (github.com/ljvmiranda921/polyglot-teachers,
// scripts/utils/prompts.py at deddec5): reproducing its data needs the same words. The only
// change is ours and optional: with category_mode::drawn the GENERATE prompt names the category
// drawn for the row instead of asking the model to pick one "at random" (models pick badly).
#include <polyglot/core/assert.hpp>
#include <polyglot/core/error.hpp>
#include <polyglot/io/json_writer.hpp>
#include <polyglot/synth/synthesize.hpp>

POLYGLOT_BEGIN_NAMESPACE
namespace synth {

const std::array<std::string_view, 10> categories = {
    "Logical reasoning / error analysis",
    "Math or quantitative reasoning with explanation",
    "Classification or labeling",
    "Dialogue or role-play",
    "Translation or paraphrasing with constraints",
    "Procedural instructions (step-by-step)",
    "Grammar correction or linguistic analysis",
    "Short-form creative output (≤50 words)",
    "Knowledge recall with verification or correction",
    "Cultural or pragmatic judgment",
};

namespace {

/// Python's str.format for the templates' {name} fields (no other braces occur in them).
std::string fill(std::string_view tpl,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> values) {
    std::string out;
    out.reserve(tpl.size() + 256);
    for (std::size_t i = 0; i < tpl.size();) {
        if (tpl[i] == '{') {
            const auto close = tpl.find('}', i);
            const std::string_view name = tpl.substr(i + 1, close - i - 1);
            bool found = false;
            for (const auto& [k, v] : values)
                if (k == name) {
                    out += v;
                    found = true;
                }
            POLYGLOT_ASSERT(found);
            (void)found;
            i = close + 1;
        } else {
            out += tpl[i++];
        }
    }
    return out;
}

constexpr std::string_view system_tpl =
    "You are an expert assistant for {lang_name}. You can fluently understand and generate text "
    "in {lang_name}.\n"
    "Ensure that your responses are coherent, culturally appropriate, and demonstrate a deep "
    "understanding of the language nuances.";

constexpr std::string_view generate_head =
    "As a multilingual data generator, your task is to generate a new example (`prompt` and "
    "`response`) for a dataset demonstrating how AI agents can fulfill general instructions or "
    "answer questions for {lang_name}.\n"
    "To do this, you will want to generate two pieces of information:\n"
    "1) A \"prompt\" specifying a task to be completed or a question to be answered (what, "
    "where, when, how, who, why). The task should be very challenging yet solvable.\n"
    "2) A \"response\" representing a valid completion of that task in natural language. If "
    "the \"response\" does not satisfy the \"prompt\", then you have failed at your job. Do not "
    "provide unnecessary details, beyond what is explicitly needed to satisfy the instruction "
    "you generated.\n"
    "\n";

constexpr std::string_view generate_paper_constraint =
    "Hard constraint: The generated task MUST belong to exactly one of the following categories "
    "(pick one at random and do NOT mention the category).\n";

constexpr std::string_view generate_tail =
    "\n"
    "Add diversity to your generations by varying the types of tasks you create, the styles and "
    "tones of the responses, and the complexity of the language used. This will help ensure a "
    "rich and varied dataset.\n"
    "For example, you might create tasks that involve answering knowledge-based questions, "
    "answering math questions, providing explanations, generating creative content, or "
    "performing translations.\n"
    "\n"
    "Please provide a JSON dictionary response that includes the new `prompt` and its "
    "corresponding `response`. Use the `prompt` and `response` keys in the dictionary.\n"
    "Do not generate any other text in your response (for example, do not start your message "
    "with any greetings, and never ask for clarification or apologize for struggling with the "
    "task).\n"
    "Try you best to ensure that the input and response you generate are distinct but related "
    "from the provided examples while maintaining a diverse, detailed, precise, comprehensive, "
    "and high-quality response.\n"
    "It is important to generate responses that are contextually relevant and culturally "
    "appropriate for {lang_name}.\n"
    "\n"
    "Here are some examples to guide your generation. The best way to use these examples is to "
    "identify the patterns and structures they follow, rather than copying them directly:\n"
    "{examples}\n"
    "\n"
    "New Example:\n";

constexpr std::string_view translate_tpl =
    "As a multilingual data generator, your task is to translate the given prompt from English "
    "into {lang_name} and generate the appropriate response in the same language.\n"
    "Important: you must return both the translated prompt (into {lang_name}) and the response. "
    "Ensure that both the translated prompt and the response are coherent, culturally "
    "appropriate, and demonstrate a deep understanding of the language nuances.\n"
    "\n"
    "Do not generate any other text in your response (for example, do not start your message "
    "with any greetings, and never ask for clarification or apologize for struggling with the "
    "task).\n"
    "Do not return the original English prompt. Remember, you must translate the prompt first "
    "and return it.\n"
    "Here is the prompt you need to translate and respond to: {prompt}\n";

constexpr std::string_view respond_tpl =
    "As a multilingual data generator, you will be presented a user request or instruction in "
    "the {lang_name} language. Your task is to generate an appropriate response for the given "
    "request.\n"
    "Ensure that your response is coherent, culturally appropriate, and demonstrates a deep "
    "understanding of the language nuances\n"
    "\n"
    "Do not generate any other text in your response (for example, do not start your message "
    "with any greetings, and never ask for clarification or apologize for struggling with the "
    "task).\n"
    "Here is the prompt you need to respond to: {prompt}\n";

// pydantic's model_json_schema() of the paper's SFTExample / SFTExampleT, plus
// additionalProperties: false (required by OpenAI's strict structured outputs).
constexpr std::string_view generate_schema =
    R"({"properties":{"prompt":{"description":"The input prompt for the LLM.","title":"Prompt",)"
    R"("type":"string"},"response":{"description":"The expected response from the LLM.",)"
    R"("title":"Response","type":"string"}},"required":["prompt","response"],)"
    R"("title":"SFTExample","type":"object","additionalProperties":false})";
constexpr std::string_view translate_schema =
    R"({"properties":{"prompt":{"description":"The input prompt translated into the target )"
    R"(language (not English).","title":"Prompt","type":"string"},"response":{"description":)"
    R"("The expected response from the LLM.","title":"Response","type":"string"}},)"
    R"("required":["prompt","response"],"title":"SFTExampleT","type":"object",)"
    R"("additionalProperties":false})";

}  // namespace

strategy parse_strategy(std::string_view name) {
    if (name == "generate") return strategy::generate;
    if (name == "translate") return strategy::translate;
    if (name == "respond") return strategy::respond;
    throw argument_error("unknown strategy '" + std::string(name) +
                         "' (known: generate, translate, respond)");
}

std::string_view strategy_name(strategy s) noexcept {
    switch (s) {
        case strategy::generate:
            return "generate";
        case strategy::translate:
            return "translate";
        case strategy::respond:
            return "respond";
    }
    return "generate";
}

std::string system_prompt(std::string_view language_name) {
    return fill(system_tpl, {{"lang_name", language_name}});
}

std::string generate_prompt(std::string_view language_name, std::string_view examples,
                            std::optional<std::size_t> category) {
    std::string tpl(generate_head);
    if (category) {
        POLYGLOT_ASSERT(*category < categories.size());
        tpl +=
            "Hard constraint: The generated task MUST belong to the following category (do NOT "
            "mention the category): ";
        tpl += categories[*category];
        tpl += "\n";
    } else {
        tpl += generate_paper_constraint;
        for (std::size_t i = 0; i < categories.size(); ++i) {
            tpl += std::to_string(i + 1) + ". ";
            tpl += categories[i];
            tpl += "\n";
        }
    }
    // The category names hold no braces; the examples are inserted by fill() (verbatim).
    tpl += generate_tail;
    return fill(tpl, {{"lang_name", language_name}, {"examples", examples}});
}

std::string translate_prompt(std::string_view language_name, std::string_view prompt) {
    return fill(translate_tpl, {{"lang_name", language_name}, {"prompt", prompt}});
}

std::string respond_prompt(std::string_view language_name, std::string_view prompt) {
    return fill(respond_tpl, {{"lang_name", language_name}, {"prompt", prompt}});
}

std::string format_examples(std::span<const std::pair<std::string_view, std::string_view>> ex) {
    std::string out;
    for (std::size_t i = 0; i < ex.size(); ++i) {
        if (i) out += "\n\n";
        out += "Prompt: ";
        out += ex[i].first;
        out += "\nResponse: ";
        out += ex[i].second;
    }
    return out;
}

std::string_view output_schema(strategy s) noexcept {
    switch (s) {
        case strategy::generate:
            return generate_schema;
        case strategy::translate:
            return translate_schema;
        case strategy::respond:
            return {};
    }
    return {};
}

std::string prompt_version(strategy s, category_mode m) {
    std::string v = "polyglot-teachers@deddec5:";
    switch (s) {
        case strategy::generate:
            v += "GENERATE_TPL";
            if (m == category_mode::drawn) v += "+category-drawn-per-row";
            break;
        case strategy::translate:
            v += "TRANSLATE_TPL";
            break;
        case strategy::respond:
            v += "RESPOND_TPL";
            break;
    }
    return v + "+SYSTEM_PROMPT";
}

}  // namespace synth
POLYGLOT_END_NAMESPACE
