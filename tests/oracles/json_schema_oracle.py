#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""JSON-schema validity oracle for the constrained-decoding tests (python3-jsonschema).

Reads JSONL from the file given as the only argument (or stdin): one {"schema": {...},
"text": "..."} object per line. Writes one line per input: {"valid": true|false, "json": bool,
"error": "..."}. `json` says whether `text` is one strict JSON value (no NaN/Infinity, no
duplicate keys, nothing after it); `valid` additionally requires jsonschema's Draft 2020-12
validator to accept it. Run by tests/constrained/json_schema_test.cpp at test time.

    /usr/bin/python3 tests/oracles/json_schema_oracle.py CASES.jsonl
"""
import json
import sys

import jsonschema


def strict_pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def no_constants(name):
    raise ValueError("non-standard constant " + name)


def main():
    src = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    out = []
    for line in src:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            value = json.loads(case["text"], object_pairs_hook=strict_pairs,
                               parse_constant=no_constants)
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            out.append({"valid": False, "json": False, "error": str(e)})
            continue
        v = jsonschema.Draft202012Validator(case["schema"])
        errors = sorted(v.iter_errors(value), key=lambda e: list(e.path))
        out.append({"valid": not errors, "json": True,
                    "error": errors[0].message if errors else ""})
    sys.stdout.write("".join(json.dumps(o) + "\n" for o in out))


if __name__ == "__main__":
    main()
