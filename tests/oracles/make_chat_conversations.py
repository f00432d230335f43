#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes tests/data/chat/conversations.jsonl: the conversations the chat-template tests render
with every real template (and check against the jinja2 oracle, chat_template_oracle.py).

  /usr/bin/python3 tests/oracles/make_chat_conversations.py

Deterministic on one machine; the output is committed (the .mo files it reads differ between
machines). Covers: system / no system, 1-6 user turns, multilingual text from the gettext
translations in /usr/share/locale/*/LC_MESSAGES/*.mo (msgid -> msgstr, as scripts/mo_corpus.py
reads them), empty content, content as a list of text parts, whitespace at the edges, quotes,
backslashes, template-like text, tool calls and tool results, and the error cases templates
reject with raise_exception (roles out of order, an unknown role, a system message in the
middle). Each line is a render request: {"id", "messages", "tools"?, "chat_template_kwargs"?}.
"""
import glob
import importlib.util
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "data", "chat", "conversations.jsonl")

spec = importlib.util.spec_from_file_location("mo_corpus",
                                              os.path.join(ROOT, "scripts", "mo_corpus.py"))
mo_corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mo_corpus)

LANGS = ["ar", "de", "ja", "zh_CN", "ru", "hi", "ko", "fr", "es", "el", "he", "th", "vi", "tr",
         "uk", "fa", "bn", "ta", "am", "pl"]


def translations(lang, n=12):
    """n (English, translation) pairs of one language, longest files first, deterministic."""
    pairs = []
    for path in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
        for msgid, msgstr in mo_corpus.read_mo(path):
            if msgstr and 8 <= len(msgstr) <= 300 and msgstr != msgid:
                pairs.append((msgid, msgstr))
    pairs.sort(key=lambda p: (len(p[1]) % 7, p[1]))
    return pairs[:n]


def text_parts(s):
    return [{"type": "text", "text": s}]


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"],
                         "description": "Temperature unit"},
                "days": {"type": "integer", "description": "Forecast days", "default": 1},
            },
            "required": ["city"],
        },
    },
}


def main():
    data = {lang: translations(lang) for lang in LANGS}
    langs = [lang for lang in LANGS if data[lang]]
    convs = []

    def add(cid, messages, tools=None, extra=None):
        c = {"id": cid, "messages": messages}
        if tools is not None:
            c["tools"] = tools
        if extra is not None:
            c["chat_template_kwargs"] = extra
        convs.append(c)

    # 1-6 user turns, alternating, with and without a system prompt, across languages
    k = 0
    for turns in range(1, 7):
        for with_system in (False, True):
            lang = langs[k % len(langs)]
            pairs = data[lang]
            msgs = []
            if with_system:
                msgs.append({"role": "system",
                             "content": f"You answer in {lang}. " + pairs[0][1]})
            for t in range(turns):
                q, a = pairs[(2 * t + k) % len(pairs)]
                msgs.append({"role": "user", "content": q + "\n" + a})
                if t < turns - 1 or turns % 2 == 0:
                    msgs.append({"role": "assistant",
                                 "content": pairs[(2 * t + 1 + k) % len(pairs)][1]})
            add(f"turns{turns}_{'sys' if with_system else 'nosys'}_{lang}", msgs)
            k += 1

    # one conversation per remaining language: the translation as the answer
    for lang in langs[k % len(langs):] + langs[:2]:
        q, a = data[lang][3 % len(data[lang])]
        add(f"translate_{lang}", [
            {"role": "user", "content": f"Translate to {lang}: {q}"},
            {"role": "assistant", "content": a},
            {"role": "user", "content": data[lang][4 % len(data[lang])][1]},
        ])

    # empty and edge content
    add("empty_user", [{"role": "user", "content": ""}])
    add("empty_system_and_user", [{"role": "system", "content": ""},
                                  {"role": "user", "content": ""}])
    add("empty_assistant", [{"role": "user", "content": "Say nothing."},
                            {"role": "assistant", "content": ""},
                            {"role": "user", "content": "Thanks"}])
    add("whitespace_edges", [{"role": "system", "content": "  \n system with spaces \t\n"},
                             {"role": "user", "content": "\n\n  hello  \n"},
                             {"role": "assistant", "content": " world \n"},
                             {"role": "user", "content": "\t"}])
    add("quotes_backslashes", [{"role": "user",
                                "content": "He said \"hi\" and 'bye' \\n C:\\path\\to {{ x }} {% if %} {# c #}"}])
    add("emoji_zwj_rtl", [{"role": "user", "content": "👩‍👩‍👧‍👦 ﷺ مرحبا بالعالم ‏שלום‎ e\u0301 \u00ad\u200b"},
                          {"role": "assistant", "content": "🎉 Ünïcödé ß ﬁ İ Σ ς"}])
    add("control_chars", [{"role": "user", "content": "bell\u0007 tab\t cr\r nl\n del\u007f nbsp\u00a0 ls\u2028"}])
    add("content_parts", [{"role": "system", "content": text_parts("Be brief.")},
                          {"role": "user", "content": text_parts(data[langs[1]][5][1])},
                          {"role": "assistant", "content": text_parts("OK.")},
                          {"role": "user", "content": text_parts("  more  ")}])
    add("content_parts_no_system", [{"role": "user", "content": text_parts(data[langs[2]][6][1])}])
    add("thinking_in_content", [{"role": "user", "content": "2+2?"},
                                {"role": "assistant",
                                 "content": "<think>\nadd them\n</think>\n\nIt is 4."},
                                {"role": "user", "content": "and 3+3?"}])
    add("reasoning_field", [{"role": "user", "content": "Why?"},
                            {"role": "assistant", "content": "Because.",
                             "reasoning_content": "Let me think."},
                            {"role": "user", "content": "OK"}])
    add("enable_thinking_false", [{"role": "user", "content": data[langs[3]][2][1]}],
        extra={"enable_thinking": False})
    add("long_system", [{"role": "system", "content": " ".join(p[1] for p in data[langs[4]])},
                        {"role": "user", "content": "Summarize."}])

    # tools
    add("tools_available", [{"role": "system", "content": "You can call tools."},
                            {"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL])
    add("tools_no_system", [{"role": "user", "content": "Wetter in Berlin?"}], tools=[WEATHER_TOOL])
    add("tool_call_roundtrip", [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"id": "call12345", "type": "function",
                         "function": {"name": "get_weather",
                                      "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
         "content": "{\"temperature\": 21}"},
        {"role": "assistant", "content": "It is 21 degrees in Paris."},
    ], tools=[WEATHER_TOOL])
    add("tool_call_string_arguments", [
        {"role": "user", "content": "Weather in Tokyo?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "call67890", "type": "function",
                         "function": {"name": "get_weather",
                                      "arguments": "{\"city\": \"Tokyo\"}"}}]},
        {"role": "tool", "tool_call_id": "call67890", "content": "sunny"},
    ])
    add("extra_kwargs", [{"role": "user", "content": "Hi"}],
        extra={"reasoning_effort": "high", "date_string": "01 Jan 2025",
               "model_identity": "You are a test model."})

    # error cases
    add("error_user_user", [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    add("error_assistant_first", [{"role": "assistant", "content": "I start."},
                                  {"role": "user", "content": "No."}])
    add("error_unknown_role", [{"role": "user", "content": "a"},
                               {"role": "narrator", "content": "Meanwhile..."}])
    add("error_system_in_middle", [{"role": "user", "content": "a"},
                                   {"role": "assistant", "content": "b"},
                                   {"role": "system", "content": "late system"},
                                   {"role": "user", "content": "c"}])
    add("error_missing_content", [{"role": "user"}])
    add("error_content_none", [{"role": "user", "content": None}])

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        for c in convs:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{OUT}: {len(convs)} conversations")


if __name__ == "__main__":
    main()
