#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a deterministic float16 (or float32) embedding matrix as .npy, in blocks, for
`polyglot distinct-ri` benchmarks: rows are a shared random direction plus per-row noise (so the
value is not trivially 1), a few zero rows included.

    /usr/bin/python3 benchmarks/make_npy.py /tmp/emb.npy --rows 1400000 --dim 1024 [--dtype f2]
"""
import argparse

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=1_400_000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--dtype", choices=["f2", "f4"], default="f2")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--block", type=int, default=16384, help="rows generated at a time")
    a = ap.parse_args()

    dtype = np.dtype("<" + a.dtype)
    arr = np.lib.format.open_memmap(a.out, mode="w+", dtype=dtype, shape=(a.rows, a.dim))
    rng = np.random.default_rng(a.seed)
    common = rng.standard_normal(a.dim).astype(np.float32)
    for start in range(0, a.rows, a.block):
        n = min(a.block, a.rows - start)
        block = rng.standard_normal((n, a.dim), dtype=np.float32) + 0.5 * common
        block[(np.arange(start, start + n) % 100_003) == 7] = 0.0  # sparse zero rows
        arr[start:start + n] = block.astype(dtype)
    arr.flush()
    del arr


if __name__ == "__main__":
    main()
