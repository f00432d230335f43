#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Student-evaluation throughput: `polyglot eval` on a 4-choice task (global_mmlu_lite from
tests/data/eval) with and without prefix sharing, against a PyTorch loop scoring the very same
token splits (the ids polyglot scored, read back from `--details --details-tokens`), one
sequence at a time as an HF-transformers log-likelihood loop does. Same model, same threads,
one run. The torch sums must match polyglot's within --tol.

The model is the random ~150M Llama of benchmarks/make_random_llama.py with a real tokenizer
copied in (the tiny-llama fixture's: 2000 ids, inside the model's 32000):

    /usr/bin/python3 benchmarks/make_random_llama.py /tmp/llama150m
    cp ../shared/fixtures/models/tiny-llama/tokenizer*.json /tmp/llama150m/
    /usr/bin/python3 benchmarks/eval_vs_torch.py /tmp/llama150m --cli build/bin/polyglot \
        --threads 2 --limit 4

Prints items/s (scoring time only: polyglot's summary_tasks seconds; torch's loop) and ratios.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_vs_torch import TorchLlama  # noqa: E402  (one torch Llama for both benchmarks)

LANGS = ["ar", "cs", "de", "es", "id", "ja", "en", "tl"]


def run_eval(a, tmp, name, extra):
    out, det = os.path.join(tmp, name + ".json"), os.path.join(tmp, name + ".jsonl")
    tasks = ",".join(f"global_mmlu_lite:{l}" for l in LANGS)
    cmd = [a.cli, "eval", "--backend", "cpu", "--model", a.model, "--task", tasks, "--data",
           a.data, "--limit", str(a.limit), "--threads", str(a.threads), "-q", "-o", out,
           "--details", det, "--details-tokens"] + extra
    env = dict(os.environ)
    env.setdefault("POLYGLOT_PLUGIN_PATH", os.path.join(os.path.dirname(a.cli), "..", "plugins"))
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode:
        sys.exit(f"polyglot eval failed: {r.stderr}")
    res = json.load(open(out))
    seconds = sum(v["seconds"] for v in res["summary_tasks"].values())
    details = [json.loads(l) for l in open(det)]
    return details, seconds, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--cli", default="build/bin/polyglot")
    ap.add_argument("--data", default="tests/data/eval")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=4, help="items per language (8 languages)")
    ap.add_argument("--tol", type=float, default=1e-3, help="max |Δ log-likelihood| allowed")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.model, "tokenizer.json")):
        sys.exit(f"{a.model} has no tokenizer.json (copy the tiny-llama fixture's, see --help)")
    load = open("/proc/loadavg").read().split()[:3]
    with tempfile.TemporaryDirectory() as tmp:
        shared, s_shared, w_shared = run_eval(a, tmp, "shared", [])
        alone, s_alone, w_alone = run_eval(a, tmp, "alone", ["--no-prefix-sharing"])
    items = len(shared)
    tokens = sum(len(i) + len(c) for d in shared for i, c in zip(d["input_tokens"], d["cont_tokens"]))
    diff_modes = max(abs(x - y) for d, e in zip(shared, alone)
                     for x, y in zip(d["logprobs"], e["logprobs"]))

    torch.set_num_threads(a.threads)
    m = TorchLlama(a.model)
    worst = 0.0
    with torch.inference_mode():
        t0 = time.perf_counter()
        for d in shared:
            for ctx, cont, lp in zip(d["input_tokens"], d["cont_tokens"], d["logprobs"]):
                s = float(m.logprobs(ctx + cont, len(ctx)).sum())
                worst = max(worst, abs(s - lp))
        t_torch = time.perf_counter() - t0
    print(f"model {a.model}: {items} items x 4 choices, {tokens} tokens scored without sharing, "
          f"threads {a.threads}, torch {torch.__version__}, load average {' '.join(load)}")
    print(f"polyglot, prefix sharing      items/s {items / s_shared:8.3f}   "
          f"(scoring {s_shared:.1f} s, process {w_shared:.1f} s)")
    print(f"polyglot, no prefix sharing   items/s {items / s_alone:8.3f}   "
          f"(scoring {s_alone:.1f} s, process {w_alone:.1f} s)")
    print(f"torch loop                    items/s {items / t_torch:8.3f}   ({t_torch:.1f} s)")
    print(f"sharing / no sharing {s_alone / s_shared:.2f}x; polyglot (sharing) / torch "
          f"{t_torch / s_shared:.2f}x; polyglot (no sharing) / torch {t_torch / s_alone:.2f}x")
    print(f"max |Δ log-likelihood|: torch vs polyglot {worst:.2e}, sharing vs not {diff_modes:.2e}")
    if not worst <= a.tol:
        sys.exit(f"torch and polyglot differ: {worst} > {a.tol}")


if __name__ == "__main__":
    main()
