#!/usr/bin/env python3
"""Regenerates the bundled example datasets (examples/sft/<teacher>_<lang>.jsonl) from the
system's .mo translations via scripts/mo_corpus.py. Deterministic; run with /usr/bin/python3.

Three fictional teachers with deliberately different quality, in de / es / ja:
  alpha  good: prompt and a 2-3 sentence response in the target language
  beta   answers ~35% of the prompts in English (the wrong language)
  gamma  short responses (the first few words of one string) and repetitive phrasing;
         its German file also has a few bad lines, to show skip counting
"""
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LANGS = ["de", "es", "ja"]
PER_FILE = 200


def natural(s, lang):
    if any(c in s for c in "%$\\{}<>_=|@/#[]") or "\n" in s or "\t" in s:
        return False
    return len(s) >= 12 if lang == "ja" else len(s.split()) >= 4


def pairs(lang):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts/mo_corpus.py"), "jsonl",
                          "--records", "200000", "--langs", lang],
                         check=True, capture_output=True, text=True).stdout
    seen, items = set(), []
    for line in out.splitlines():
        r = json.loads(line)
        if "(" in r["response"][-5:] and r["response"].endswith(")"):
            continue  # the generator's second-pass counter suffix
        if natural(r["prompt"], "en") and natural(r["response"], lang) and \
                r["response"] not in seen:
            seen.add(r["response"])
            items.append((r["prompt"].strip(), r["response"].strip()))
    return items


def main():
    for lang in LANGS:
        items = pairs(lang)
        rng = random.Random(f"polyglot-{lang}")
        rng.shuffle(items)
        pool = items[: PER_FILE * 4]
        for t, teacher in enumerate(["alpha", "beta", "gamma"]):
            rows = []
            for i in range(PER_FILE):
                en, prompt = pool[(i * 3 + t) % len(pool)]
                a = pool[(i * 7 + 11 * t + 1) % len(pool)]
                b = pool[(i * 13 + 5 * t + 2) % len(pool)]
                if teacher == "alpha":
                    resp = a[1] + " " + b[1]
                elif teacher == "beta":
                    resp = a[0] + " " + b[0] if rng.random() < 0.35 else a[1] + " " + b[1]
                else:
                    words = a[1].split() if lang != "ja" else list(a[1])
                    resp = (" " if lang != "ja" else "").join(words[:4])
                    if i % 3 == 0:
                        resp = pool[0][1]  # the same answer again and again
                rows.append(json.dumps({"id": f"{teacher}-{lang}-{i}", "prompt": prompt,
                                        "response": resp, "language": lang,
                                        "model": teacher}, ensure_ascii=False).encode())
            if teacher == "gamma" and lang == "de":
                rows.insert(10, b'{"id": "gamma-de-bad1", "prompt": "Wie sp\xe4t ist es?", '
                                b'"response": "x", "language": "de"}')  # Latin-1, not UTF-8
                rows.insert(50, b'{"id": "gamma-de-bad2", "prompt": "Hallo", "response": null}')
                rows.insert(90, b'{"id": "gamma-de-bad3", "prompt": "abgeschnitten')
                rows.insert(120, b"")
            with open(os.path.join(HERE, f"{teacher}_{lang}.jsonl"), "wb") as f:
                f.write(b"\n".join(rows) + b"\n")


if __name__ == "__main__":
    main()
