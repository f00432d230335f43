#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""PGR and PG-Score from lighteval-format results files, as the paper's scripts/get_scores.py
computes them (docs/reference.md §6.2-§7), plus the anchor checks of product.md §4.

Run by tests/plugins/eval_e2e_test.cpp on the files `polyglot eval` wrote (standard library
only, so CI needs nothing beyond python3):

    pgscore_oracle.py --student TEACHER=FILE ... --base FILE --ref FILE --z ROWS.csv

ROWS.csv: teacher_model, target_lang, z_score. Prints JSON: rows (teacher_model, target_lang,
result, result_stderr, pgr, z_score, pg_score), teachers (mean pg_score over languages) and
warnings [[lang, "inverted" | "noise"], ...].

Rules:
  * a task key "task:lang|shots" gives task and language; its score is results[key][METRIC]
    with get_scores.py's METRICS_TASK_MAP (global_mmlu_lite -> acc, mgsm(_custom) ->
    extractive_match, mrewardbench_mcf -> weighted_acc); lighteval's aggregate entries
    ("all", "task:_average|k") are not tasks;
  * per language: result = mean of the language's task scores; stderr = sqrt(sum se^2) / k;
  * PGR = (student - base) / (ref - base); PG-Score = (PGR + z) / 2; teacher score = mean over
    its languages;
  * anchor warnings: ref - base <= 0 ("inverted"), else ref - base < 2 sqrt(se_b^2 + se_r^2)
    ("noise").
"""
import argparse
import csv
import json
import math

METRICS_TASK_MAP = {"global_mmlu_lite": "acc", "mgsm_custom": "extractive_match",
                    "mgsm": "extractive_match", "mrewardbench_mcf": "weighted_acc"}


def per_language(path):
    res = json.load(open(path, encoding="utf-8"))["results"]
    by = {}
    for key, metrics in res.items():
        if key == "all" or ":_" in key:
            continue
        task, _shots = key.split("|")
        name, lang = task.split(":")
        m = METRICS_TASK_MAP[name]
        by.setdefault(lang, []).append((metrics[m], metrics.get(m + "_stderr", float("nan"))))
    out = {}
    for lang, vals in by.items():
        k = len(vals)
        out[lang] = (sum(v for v, _ in vals) / k, math.sqrt(sum(s * s for _, s in vals)) / k)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--student", action="append", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--z", required=True)
    a = ap.parse_args()
    base, ref = per_language(a.base), per_language(a.ref)
    z = {(r["teacher_model"], r["target_lang"]): float(r["z_score"])
         for r in csv.DictReader(open(a.z, encoding="utf-8"))}
    rows, used = [], set()
    for spec in a.student:
        teacher, path = spec.split("=", 1)
        for lang, (v, se) in sorted(per_language(path).items()):
            if (teacher, lang) not in z:
                continue
            pgr = (v - base[lang][0]) / (ref[lang][0] - base[lang][0])
            rows.append({"teacher_model": teacher, "target_lang": lang, "result": v,
                         "result_stderr": se, "pgr": pgr, "z_score": z[(teacher, lang)],
                         "pg_score": (pgr + z[(teacher, lang)]) / 2})
            used.add(lang)
    teachers = {}
    for r in rows:
        teachers.setdefault(r["teacher_model"], []).append(r["pg_score"])
    warnings = []
    for lang in sorted(used):
        gap = ref[lang][0] - base[lang][0]
        se = math.sqrt(base[lang][1] ** 2 + ref[lang][1] ** 2)
        if not gap > 0:
            warnings.append([lang, "inverted"])
        elif math.isfinite(se) and gap < 2 * se:
            warnings.append([lang, "noise"])
    print(json.dumps({"rows": rows,
                      "teachers": {t: sum(v) / len(v) for t, v in teachers.items()},
                      "warnings": warnings}, indent=1))


if __name__ == "__main__":
    main()
