#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Goldens for the rubric judge (tests/judge/judge_test.cpp), from the original code:

  tests/data/judge/prometheus_cases.jsonl  the score prometheus-eval's own parser gives for each
                                           case text (null when none)
  tests/data/judge/prompts.jsonl           the judge prompts the paper's code builds:
                                           M_RUBRIC_PROMPT.format(language=...).format(
                                           instruction=, response=, rubric=SCORE_RUBRIC_TEMPLATE
                                           .format(**get_rubric_criteria(lang))), and prometheus-
                                           eval's ABS_SYSTEM_PROMPT

The originals are imported from checkouts, never copied. Run from the project root:

    /usr/bin/python3 tests/oracles/prometheus_parser_oracle.py PROMETHEUS_EVAL_DIR \
        PROMPTS_PY_AT_DEDDEC5 PROMPTS_PY_AT_9686016

Generated from prometheus-eval @ dcfb442 (libs/prometheus-eval/prometheus_eval/{parser,prompts}.py)
and ljvmiranda921/polyglot-teachers scripts/utils/prompts.py @ deddec5 and @ 9686016.
"""
import importlib.util
import json
import os
import sys

CASES = [
    # prometheus-eval's own absolute-mode test texts
    "Reference (Score 5) two results [RESULT] 3",
    "Reference (Score 5) not results",
    "Excellent. [RESULT] 5 out of 5",
    "Poor performance. [RESULT] score of 1",
    "Good job. [Result] 3",
    "Needs improvement. [Result] Score: 2",
    "Well done. [Result] Result: 4",
    "Average. [Result] 4/5",
    "Good job. (Score 5)",
    "Good job. [Score 4]",
    "Good job. score: 3",
    "Good job. score of 1",
    "Good job. [RESULT] (5)",
    "The score is definitely not 3.",
    "I rate this a perfect 10!",
    "Score: 2.5",
    "Result: A",
    "",
    # ours: ranges, whitespace, position, Unicode
    "Feedback: fine. [RESULT] 0",
    "Feedback: fine. [RESULT] 6",
    "Feedback: fine. [RESULT] 05",
    "Feedback: fine. [RESULT] 10",
    "Feedback: fine. [RESULT] 4\n",
    "Feedback: fine. [RESULT] 4 \n\n  ",
    "Feedback: fine. [RESULT] 4\r\n",
    "Feedback: fine. [RESULT] 4\x0b",
    "Feedback: fine. [RESULT] 4\x1c",
    "Feedback: fine. [RESULT] 4\u00a0",
    "Feedback: fine. [RESULT] 4\u2028",
    "Feedback: fine. [RESULT] 4.",
    "Feedback: fine. [RESULT] 4 Thank you",
    "[RESULT] 2 and later [RESULT] 4",
    "[RESULT] 9 then [RESULT] 3",
    "Score: 3 [RESULT] 4",
    "The answer [result]   ( 3 )",
    "RESULT: 3",
    "[RESULT]3",
    "[RESULT]\n3",
    "[RESULT] [[(3",
    "Score 4 out of 5",
    "Score: 4 /  5",
    "Score: 4 out  of 5",
    "score   of    2",
    "SCORE OF 2",
    "ſcore: 3",
    "Feedback: ممتاز [RESULT] ٤",
    "Feedback: 良い [RESULT] ３",
    "Feedback: [RESULT] ५",
    "Feedback: good [RESULT] 3 out of 10",
    "Feedback: good [RESULT] 4/10",
    "Feedback: good [RESULT] -3",
    "Feedback: good [RESULT] +3",
    "{\"feedback\": \"x\", \"score\": 4}",
    "Result 4",
    "[RESULT] 4 [RESULT]",
    "Der Text ist gut.\n\nScore: 5",
    "Feedback: x [SCORE] 1",
    "Feedback: x [Result]: 2",
    "Feedback: x Result:3",
    "Feedback: x score:5/5",
]


PROMPT_CASES = [
    ("German", "Was ist {x}? Erkläre es.", "Ein Platzhalter {x} bleibt stehen."),
    ("Japanese", "日本の首都はどこですか？", "東京です。\n\n以上。"),
    ("Arabic", "", ""),
]


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    root = sys.argv[1]
    mod = load(os.path.join(root, "libs/prometheus-eval/prometheus_eval/parser.py"), "pe_parser")
    pe_prompts = load(os.path.join(root, "libs/prometheus-eval/prometheus_eval/prompts.py"),
                      "pe_prompts")
    paper = {"json": load(sys.argv[2], "paper_json"), "prometheus": load(sys.argv[3], "paper_pro")}
    out = os.path.join("tests", "data", "judge", "prompts.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for fmt, p in paper.items():
            for lang, inst, resp in PROMPT_CASES:
                rubric = pe_prompts.SCORE_RUBRIC_TEMPLATE.format(**p.get_rubric_criteria(lang))
                user = p.M_RUBRIC_PROMPT.format(language=lang).format(
                    instruction=inst, response=resp, rubric=rubric)
                f.write(json.dumps({"format": fmt, "language": lang, "instruction": inst,
                                    "response": resp, "rubric": rubric, "user": user,
                                    "system": pe_prompts.ABS_SYSTEM_PROMPT},
                                   ensure_ascii=False) + "\n")
    print(f"wrote {2 * len(PROMPT_CASES)} prompts to {out}")
    out = os.path.join("tests", "data", "judge", "prometheus_cases.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for text in CASES:
            _, score = mod.parse_output(text, "absolute")
            f.write(json.dumps({"text": text, "score": score}, ensure_ascii=False) + "\n")
    print(f"wrote {len(CASES)} cases to {out}")


if __name__ == "__main__":
    main()
