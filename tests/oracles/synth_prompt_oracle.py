#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Goldens for the synthesis prompts (tests/unit/synth_test.cpp): what the paper's templates
give, formatted with Python's str.format exactly as scripts/utils/llm_inference.py and
scripts/synthesize_data.py do. The templates are imported from a checkout, never copied:

    /usr/bin/python3 tests/oracles/synth_prompt_oracle.py PROMPTS_PY_AT_DEDDEC5

(ljvmiranda921/polyglot-teachers scripts/utils/prompts.py @ deddec5). Writes
tests/data/synth/prompts.jsonl.
"""
import importlib.util
import json
import os
import sys

CASES = [
    ("German", "Wie spät ist es? {Uhrzeit}", [("Was ist 2+2?", "4"), ("Nenne eine Farbe.", "Blau"),
                                                ("Übersetze {x}.", "{x} bleibt {y}")]),
    ("Japanese", "日本の首都は？", [("a", "b"), ("c\nd", "e"), ("", "")]),
]


def main():
    spec = importlib.util.spec_from_file_location("paper_prompts", sys.argv[1])
    p = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(p)
    out = os.path.join("tests", "data", "synth", "prompts.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for lang, prompt, examples in CASES:
            # llm_inference.format_generate's examples string
            examples_str = "\n\n".join(f"Prompt: {a}\nResponse: {b}" for a, b in examples)
            f.write(json.dumps({
                "language": lang, "prompt": prompt, "examples": examples,
                "examples_str": examples_str,
                "system": p.SYSTEM_PROMPT.format(lang_name=lang),
                "generate": p.GENERATE_TPL.format(lang_name=lang, examples=examples_str),
                "translate": p.TRANSLATE_TPL.format(prompt=prompt, lang_name=lang),
                "respond": p.RESPOND_TPL.format(prompt=prompt, lang_name=lang),
            }, ensure_ascii=False) + "\n")
    print(f"wrote {len(CASES)} cases to {out}")


if __name__ == "__main__":
    main()
