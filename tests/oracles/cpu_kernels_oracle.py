#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Golden numbers for the cpu kernels test (tests/engine/cpu_kernels_test.cpp), by numpy/scipy
in float64.

Inputs come from an integer formula that the C++ test evaluates identically (no RNG to port):
    h(seed, i) = (i * 2654435761 + seed * 40503 + 12345) mod 2**32
    act(seed, i) = (h mod 20001) / 10000 - 1, rounded to float32        (activations, logits)
    wgt(seed, i) = ((h mod 255) - 127) / 64                              (weights: exact in
                                                                          f32, bf16 and f16)
Writes tests/data/cpu_kernels/golden.json. Run from the project root:
    /usr/bin/python3 tests/oracles/cpu_kernels_oracle.py
"""
import json
import os

import numpy as np
from scipy import special


def h(seed, n):
    i = np.arange(n, dtype=np.uint64)
    return (i * np.uint64(2654435761) + np.uint64(seed * 40503 + 12345)) % np.uint64(2**32)


def act(seed, n):
    return ((h(seed, n) % np.uint64(20001)).astype(np.float64) / 10000.0 - 1.0).astype(np.float32)


def wgt(seed, n):
    return ((h(seed, n) % np.uint64(255)).astype(np.float64) - 127.0) / 64.0


def main():
    out = {}
    # GEMM: Y[j, i] = sum_k W[i, k] X[j, k] + b[i]; tails in every direction.
    gemm = []
    for rows, k, n, seed in [(13, 77, 11, 1), (9, 64, 1, 2), (21, 300, 7, 3)]:
        w = wgt(seed, rows * k).reshape(rows, k)
        x = act(seed + 100, n * k).astype(np.float64).reshape(n, k)
        b = act(seed + 200, rows).astype(np.float64)
        y = x @ w.T + b
        gemm.append({"rows": rows, "k": k, "n": n, "seed": seed, "y": y.ravel().tolist()})
    out["gemm"] = gemm
    # log_softmax at a few targets; logits = 8 * act; one case with masked (-inf) entries.
    lsm = []
    for n, seed, masked in [(50021, 4, 0), (3, 5, 0), (32000, 6, 1000)]:
        l = (act(seed, n) * np.float32(8)).astype(np.float64)
        if masked:
            l[:masked] = -np.inf
        lp = special.log_softmax(l)
        targets = [n - 1, n // 2, n // 3 + 1]
        lsm.append({"n": n, "seed": seed, "masked": masked, "targets": targets,
                    "logprob": [float(lp[t]) for t in targets]})
    out["log_softmax"] = lsm
    # RMSNorm: x * rsqrt(mean(x^2) + eps) * w.
    x = act(7, 77).astype(np.float64)
    w = act(8, 77).astype(np.float64)
    eps = 1e-6
    out["rms_norm"] = {"n": 77, "seed_x": 7, "seed_w": 8, "eps": eps,
                       "y": (x / np.sqrt(np.mean(x * x) + np.float64(np.float32(eps))) * w).tolist()}
    # Gated activations over g = 10 * act(9), u = act(10).
    g = (act(9, 37) * np.float32(10)).astype(np.float64)
    u = act(10, 37).astype(np.float64)
    silu = g * special.expit(g)
    gelu_tanh = 0.5 * g * (1 + np.tanh(np.sqrt(2 / np.pi) * (g + 0.044715 * g**3)))
    gelu_erf = 0.5 * g * (1 + special.erf(g / np.sqrt(2)))
    out["glu"] = {"n": 37, "seed_g": 9, "seed_u": 10, "scale_g": 10,
                  "silu": (silu * u).tolist(), "gelu_tanh": (gelu_tanh * u).tolist(),
                  "gelu_erf": (gelu_erf * u).tolist()}
    # exp over [-100, 88] (sum_exp of one element with shift 0).
    xs = np.linspace(-100, 88, 377).astype(np.float32)
    out["exp"] = {"x": xs.astype(np.float64).tolist(), "y": np.exp(xs.astype(np.float64)).tolist()}

    path = os.path.join("tests", "data", "cpu_kernels", "golden.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=0)
        f.write("\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
