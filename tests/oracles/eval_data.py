#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the small benchmark files of the `polyglot eval` tests from human translations.

The texts are the msgid -> msgstr pairs of the gettext catalogs under /usr/share/locale
(apt, dpkg, glib, shadow, ...: real translations into ar, cs, de, es, id, ja, tl). The files
mimic the Hugging Face exports the paper evaluated on (same columns), 20 rows per language:

  tests/data/eval/global_mmlu_lite/<lang>/test.{jsonl,csv}  question, option_a..d, answer
      question = a translated sentence; options = four English source sentences, the gold one
      being its msgid. (es is written as CSV, the others as JSONL.)
  tests/data/eval/mrewardbench/<lang>/test.jsonl  id, source, prompt, chosen, rejected, language
      prompt = a translated sentence; chosen = the next translated sentence; rejected = its
      English msgid; source cycles through the reward-bench subsets (plus one unknown subset).
  tests/data/eval/mgsm/<lang>/{train,test}.jsonl  question, answer, answer_number
      a translated sentence followed by a small sum; answer_number its value.
  tests/data/eval/task_file.jsonl   the generic --task-file format (query, choices, gold, fewshot)

Some rows are edited on purpose to reach lighteval's template rules: trailing spaces, a
lower-case first letter, sentences ending in '?', '.', ',' or ':', an empty-looking option.
The catalogs differ between machines, so the outputs are committed; rerun this script only to
change them (then rerun eval_oracle.py, which renders the goldens from these files):
    /usr/bin/python3 tests/oracles/eval_data.py
"""
import csv
import gettext
import json
import os
import random

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "eval")
CATALOGS = ["apt.mo", "dpkg.mo", "libapt-pkg6.0.mo", "glib20.mo", "python-apt.mo", "shadow.mo"]
LANGS = ["ar", "cs", "de", "es", "id", "ja", "en", "tl"]
MRB_LANGS = {"ar": "arb_Arab", "cs": "ces_Latn", "de": "deu_Latn", "es": "spa_Latn",
             "id": "ind_Latn", "ja": "jpn_Jpan"}
MGSM_LANGS = ["de", "es", "ja", "en"]
SUBSETS = ["alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy",
           "mt-bench-med", "mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor",
           "llmbar-adver-GPTInst", "llmbar-adver-GPTOut", "llmbar-adver-manual",
           "refusals-dangerous", "refusals-offensive", "xstest-should-refuse",
           "xstest-should-respond", "donotanswer", "math-prm", "hep-cpp", "hep-go", "hep-java",
           "hep-js", "hep-python", "hep-rust", "not-a-reward-bench-subset"]
N = 20


def pairs(lang):
    """Sorted (msgid, msgstr) sentence pairs of @p lang ('en': msgid twice, from de's catalogs)."""
    src = "de" if lang == "en" else lang
    out = {}
    for name in CATALOGS:
        path = f"/usr/share/locale/{src}/LC_MESSAGES/{name}"
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            cat = gettext.GNUTranslations(f)._catalog
        for k, v in cat.items():
            if not isinstance(k, str) or not isinstance(v, str) or not k or not v or k == v:
                continue
            if "%" in k or "\x04" in k or "\n" in k or "\n" in v or " " not in k or not 20 <= len(k) <= 120:
                continue
            out[k] = k if lang == "en" else v
    return sorted(out.items())


def tweak(text, k):
    """Edits reaching the template rules (see the module docstring)."""
    if k % 5 == 1:
        return text + "  "
    if k % 7 == 3:
        return text[0].lower() + text[1:]
    if k % 6 == 2:
        return text.rstrip(".?!:,") + "?"
    if k % 9 == 4:
        return text.rstrip(".?!:,") + ","
    return text


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_csv(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        for r in rows:
            w.writerow(r)


def mmlu(lang, rng):
    ps = pairs(lang)
    pick = rng.sample(range(len(ps)), 4 * N)
    rows = []
    for k in range(N):
        ids = pick[4 * k: 4 * k + 4]
        gold = rng.randrange(4)
        ids[0], ids[gold] = ids[gold], ids[0]
        opts = [ps[i][0] for i in ids]
        if k % 8 == 5:
            opts[3] = opts[3].rstrip(".") + "."
        if k % 10 == 7:
            opts[1] = opts[1][0].lower() + opts[1][1:]
        rows.append({"sample_id": f"polyglot-test/{lang}/{k}", "subject": "translation",
                     "question": tweak(ps[ids[gold]][1], k),
                     "option_a": opts[0], "option_b": opts[1], "option_c": opts[2],
                     "option_d": opts[3], "answer": "ABCD"[gold]})
    return rows


def mrewardbench(lang, rng):
    ps = pairs(lang)
    pick = rng.sample(range(len(ps) - 1), N)
    rows = []
    for k, i in enumerate(pick):
        rows.append({"id": 1000 + k, "source": SUBSETS[(k * 5) % len(SUBSETS)],
                     "prompt": tweak(ps[i][1], k), "chosen": ps[i + 1][1],
                     "chosen_model": "human", "rejected": ps[i + 1][0],
                     "rejected_model": "source", "language": MRB_LANGS[lang]})
    return rows


def mgsm(lang, rng, n, with_answer):
    ps = pairs(lang)
    pick = rng.sample(range(len(ps)), n)
    rows = []
    for k, i in enumerate(pick):
        a, b, c = rng.randrange(2, 60), rng.randrange(2, 30), rng.randrange(2, 9)
        val = a + b * c
        text = ps[i][1].rstrip() + f" {a} + {b} × {c} = ?"
        rows.append({"question": text,
                     "answer": f"{a} + {b * c} = {val}" if with_answer else None,
                     "answer_number": val, "equation_solution": f"{a} + {b} * {c} = {val}"})
    return rows


def task_file(rng):
    ps = pairs("de")
    rows = []
    for k in range(12):
        i = rng.randrange(len(ps) - 3)
        choices = [" " + ps[i + j][0] for j in range(3)]
        gold = rng.randrange(3)
        row = {"query": f"Welche Übersetzung passt? {ps[i + gold][1]}\nAntwort:",
               "choices": choices, "gold": gold if k % 4 else [gold]}
        if k % 3 == 0:
            row["fewshot"] = [{"query": f"Welche Übersetzung passt? {ps[i + 3][1]}\nAntwort:",
                               "choices": [" " + ps[i + 3][0], " nichts"], "gold": 0}]
        rows.append(row)
    return rows


def main():
    rng = random.Random(13)
    for lang in LANGS:
        rows = mmlu(lang, rng)
        if lang == "es":
            write_csv(os.path.join(ROOT, "global_mmlu_lite", lang, "test.csv"), rows)
        else:
            write_jsonl(os.path.join(ROOT, "global_mmlu_lite", lang, "test.jsonl"), rows)
    for lang in MRB_LANGS:
        write_jsonl(os.path.join(ROOT, "mrewardbench", lang, "test.jsonl"), mrewardbench(lang, rng))
    for lang in MGSM_LANGS:
        write_jsonl(os.path.join(ROOT, "mgsm", lang, "train.jsonl"), mgsm(lang, rng, 8, True))
        write_jsonl(os.path.join(ROOT, "mgsm", lang, "test.jsonl"), mgsm(lang, rng, N, False))
    write_jsonl(os.path.join(ROOT, "task_file.jsonl"), task_file(rng))


if __name__ == "__main__":
    main()
