#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes tests/data/score/messy.jsonl: 200 valid records in three languages (the first 67/67/66
valid records of examples/sft/alpha_de, beta_es, gamma_ja), six bad records and two blank lines
at fixed places. The score test expects exactly: 200 scored; skipped malformed_json 2,
invalid_utf8 1, null_field:response 1, missing_field:prompt 1, not_an_object 1; 2 blank lines.
Deterministic; run from the project root with /usr/bin/python3."""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]


def valid(name, n):
    out = []
    for raw in (ROOT / "examples/sft" / f"{name}.jsonl").read_bytes().splitlines():
        try:
            d = json.loads(raw)
        except ValueError:
            continue
        if isinstance(d, dict) and isinstance(d.get("prompt"), str) and isinstance(d.get("response"), str):
            out.append(json.dumps(d, ensure_ascii=False).encode())
        if len(out) == n:
            return out
    raise SystemExit(f"{name}: fewer than {n} valid records")


good = valid("alpha_de", 67) + valid("beta_es", 67) + valid("gamma_ja", 66)
# (position in the output, bytes): inserted before the good record with that index.
bad = {
    10: b'{"id": "bad-1", "prompt": "unterminated", "response": "x"',            # malformed_json
    40: b"",                                                                    # blank
    55: b'{"id": "bad-2", "prompt": "caf\xc3", "response": "invalid UTF-8"}',   # invalid_utf8
    90: b'{"id": "bad-3", "prompt": "Hola", "response": null}',                 # null_field:response
    120: b"   \t",                                                              # blank (white space)
    130: b'{"id": "bad-4", "response": "no prompt"}',                           # missing_field:prompt
    160: b'["not", "an", "object"]',                                            # not_an_object
    199: b'{"id": "bad-5", "prompt": "x", "response": "y"} trailing',           # malformed_json
}
lines = []
for i, g in enumerate(good):
    if i in bad:
        lines.append(bad[i])
    lines.append(g)
(ROOT / "tests/data/score/messy.jsonl").write_bytes(b"\n".join(lines) + b"\n")
