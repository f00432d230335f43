#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Golden sums for metrics/exact_sum.hpp, computed with Python's math.fsum (exact sum, correctly
rounded to nearest-even: CPython's msum with its final rounding correction).

Writes tests/data/exact_sum/fsum_cases.json: a list of {"name", "values", "sum"} with every
double as float.hex() text (exact). Deterministic (fixed seed). Run from the project root:
    /usr/bin/python3 tests/oracles/exact_sum_oracle.py
"""
import json
import math
import random
import sys

rng = random.Random(20261201)
cases = []


def add(name, values):
    cases.append({"name": name, "values": [v.hex() for v in values], "sum": math.fsum(values).hex()})


# Perplexity-like: many positive values of similar size (naive summation drifts).
add("perplexities", [math.exp(rng.uniform(0.0, 12.0)) for _ in range(1500)])
add("nll_sums", [rng.uniform(0.0, 400.0) for _ in range(1500)])
# Catastrophic cancellation: the naive double sum is 0 or wildly off.
add("cancellation", [1e16, 1.0, -1e16, 3.0, 1e-20, -1e-20, 0.5])
add("cancellation_big", [1e308, 1e292, -1e308, -1e292, 2.0 ** -1074])
# Wide exponent range, both signs.
vals = []
for _ in range(1500):
    e = rng.randint(-1070, 1000)
    vals.append(rng.choice([-1.0, 1.0]) * rng.random() * 2.0 ** e)
add("wide_range", vals)
# Subnormals only.
add("subnormals", [rng.randint(1, 2 ** 52 - 1) * 2.0 ** -1074 for _ in range(1000)])
# Ties: exactly halfway between two doubles (rounds to even), and just above halfway.
add("tie_to_even_down", [1.0, 2.0 ** -53])
add("tie_to_even_up", [1.0 + 2.0 ** -52, 2.0 ** -53])
add("above_tie", [1.0, 2.0 ** -53, 2.0 ** -1000])
add("below_tie", [1.0, 2.0 ** -53, -(2.0 ** -1000)])
# Near overflow (the sum stays finite).
add("near_max", [1.7e308, -1e307, 1e292, 1e307])
# Integers with exact answers.
add("integers", [float(i) for i in range(1, 4001)])
add("negative_total", [-rng.uniform(0, 1e6) for _ in range(500)] + [12345.678])

json.dump(cases, open("tests/data/exact_sum/fsum_cases.json", "w"), indent=0)
print(f"{len(cases)} cases, python {sys.version.split()[0]}", file=sys.stderr)
