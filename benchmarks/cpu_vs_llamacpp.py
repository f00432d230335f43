#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prompt processing (and decode) of the cpu engine beside llama.cpp's llama-bench and torch, on
the same random ~150M Llama weights, the same thread count, interleaved in one run.

Per round and weight dtype (f32, bf16), in this order:
  llama.cpp  llama-bench -p LEN -n 0: one LEN-token prompt, vocabulary projection of the last
             row only (its pp<LEN> test); run with -r 1 and -r 1+R: the CPU time of the R extra
             repetitions (getrusage of the child) / R is its CPU time per prompt
  prefill    our driver, --outputs last: the same work as pp<LEN>
  score      our driver, every row scored (projection onto the vocabulary + log-softmax at
             each of the LEN-1 rows): what `polyglot score` does for perplexity
  torch      (f32 weights as read, bf16 widened) the scoring workload of engine_vs_torch.py,
             log-probs checked against ours (--tol)
  decode     llama-bench -p 0 -n GEN (GEN tokens generated at batch 1 after an empty prompt)
             beside our driver's --decode GEN (batch 1, greedy, after a 16-token prompt)
Wall figures are medians over rounds of each run's median; the machine may be shared, so the
CPU-time figures (tokens per CPU-second, all threads) are printed beside them with the load
average before each round.

    /usr/bin/python3 benchmarks/make_random_llama.py M/llama150m-f32
    /usr/bin/python3 benchmarks/make_random_llama.py M/llama150m-bf16 --dtype bf16
    /usr/bin/python3 benchmarks/safetensors_to_gguf.py M/llama150m-f32 M/llama150m-f32.gguf --llama-cpp L
    /usr/bin/python3 benchmarks/safetensors_to_gguf.py M/llama150m-bf16 M/llama150m-bf16.gguf --llama-cpp L
    /usr/bin/python3 benchmarks/cpu_vs_llamacpp.py --models M --llama-bench L/build/bin/llama-bench \\
        --driver build/plugins/cpu/polyglot_engine_driver --threads 2
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd):
    t0 = child_cpu()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    return r.stdout, child_cpu() - t0


def llama_bench(a, gguf, prompt, gen):
    """(median tokens/s of the timed repetitions, CPU seconds per repetition)."""
    base = [a.llama_bench, "-m", gguf, "-p", str(prompt), "-n", str(gen), "-t", str(a.threads),
            "-o", "json"]
    _, cpu1 = run(base + ["-r", "1"])
    out, cpu2 = run(base + ["-r", str(1 + a.repeat)])
    res = json.loads(out)[0]
    return statistics.median(res["samples_ts"]), (cpu2 - cpu1) / a.repeat


def driver(a, model, ids_file, outputs):
    out_file = ids_file + ".lp"
    out, _ = run([a.driver, model, ids_file, out_file, "--threads", str(a.threads), "--repeat",
                  str(a.repeat), "--outputs", outputs])
    f = out.split()
    v = dict(zip(f[0::2], f[1::2]))
    tokens = int(v["tokens"])
    return tokens / float(v["median_seconds"]), float(v["cpu_seconds"]), np.fromfile(out_file, np.float32)


def driver_decode(a, model, ids_file, gen):
    out, _ = run([a.driver, model, ids_file, ids_file + ".out", "--threads", str(a.threads),
                  "--repeat", str(a.repeat), "--decode", str(gen)])
    f = out.split()
    v = dict(zip(f[0::2], f[1::2]))
    return float(v["decode_tokens_per_s"]), int(v["decode_tokens"]) / float(v["cpu_seconds"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", required=True,
                    help="directory with llama150m-{f32,bf16}/ and llama150m-{f32,bf16}.gguf")
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--driver", default="build/plugins/cpu/polyglot_engine_driver")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions per run")
    ap.add_argument("--length", type=int, default=512, help="prompt tokens")
    ap.add_argument("--gen", type=int, default=64, help="decode tokens (0: no decode)")
    ap.add_argument("--dtypes", default="f32,bf16")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--tol", type=float, default=2e-3, help="max |Δ log-prob| vs torch")
    a = ap.parse_args()

    dtypes = a.dtypes.split(",")
    rng = np.random.default_rng(1)
    vocab = json.load(open(os.path.join(a.models, f"llama150m-{dtypes[0]}", "config.json")))["vocab_size"]
    ids = rng.integers(0, vocab, a.length).tolist()
    tmp = tempfile.mkdtemp()
    ids_file = os.path.join(tmp, "ids.txt")
    with open(ids_file, "w") as f:
        f.write("1 " + " ".join(map(str, ids)) + "\n")
    prompt_file = os.path.join(tmp, "prompt.txt")
    with open(prompt_file, "w") as f:
        f.write("1 " + " ".join(map(str, ids[:16])) + "\n")

    torch_models = {}
    if not a.no_torch:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import torch
        from engine_vs_torch import TorchLlama
        torch.set_num_threads(a.threads)

    rows = {}  # (dtype, what) -> list of (wall tokens/s, tokens per CPU-second)
    loads = []

    def add(key, wall, cpu_tok):
        rows.setdefault(key, []).append((wall, cpu_tok))

    for rnd in range(a.rounds):
        loads.append(open("/proc/loadavg").read().split()[0])
        for dt in dtypes:
            model = os.path.join(a.models, f"llama150m-{dt}")
            gguf = os.path.join(a.models, f"llama150m-{dt}.gguf")
            ts, cpu = llama_bench(a, gguf, a.length, 0)
            add((dt, "llama.cpp pp"), ts, a.length / cpu)
            ts, cpu, _ = driver(a, model, ids_file, "last")
            add((dt, "polyglot prefill"), ts, a.length / cpu)
            ts, cpu, ours = driver(a, model, ids_file, "all")
            add((dt, "polyglot score"), ts, a.length / cpu)
            if not a.no_torch:
                with torch.inference_mode():
                    m = torch_models.setdefault(dt, TorchLlama(model))
                    walls, cpus = [], []
                    for _ in range(a.repeat):
                        t0, c0 = time.perf_counter(), time.process_time()
                        theirs = m.logprobs(ids, 1).numpy()
                        walls.append(time.perf_counter() - t0)
                        cpus.append(time.process_time() - c0)
                diff = float(np.abs(ours - theirs).max())
                if not diff <= a.tol:
                    sys.exit(f"{dt}: log-probs differ from torch: max |Δ| {diff} > {a.tol}")
                add((dt, "torch score"), a.length / statistics.median(walls),
                    a.length / statistics.median(cpus))
            if a.gen:
                ts, cpu = llama_bench(a, gguf, 0, a.gen)
                add((dt, "llama.cpp decode"), ts, a.gen / cpu)
                ts, cpu_tok = driver_decode(a, model, prompt_file, a.gen + 1)
                add((dt, "polyglot decode"), ts, cpu_tok)
        print(f"round {rnd + 1}/{a.rounds} done (load average before it: {loads[-1]})",
              file=sys.stderr)

    print(f"threads {a.threads}, prompt {a.length} tokens, {a.rounds} rounds × {a.repeat} "
          f"repetitions; load average before each round: {' '.join(loads)}")
    print(f"{'dtype':5} {'what':18} {'tokens/s (wall)':>16} {'tokens/CPU-s':>13}")
    med = {}
    for (dt, what), v in rows.items():
        wall = statistics.median(x[0] for x in v)
        cpu = statistics.median(x[1] for x in v)
        med[(dt, what)] = (wall, cpu)
        print(f"{dt:5} {what:18} {wall:16.1f} {cpu:13.1f}")
    for dt in dtypes:
        for ours, peer in [("polyglot prefill", "llama.cpp pp"), ("polyglot score", "torch score"),
                           ("polyglot decode", "llama.cpp decode")]:
            if (dt, ours) in med and (dt, peer) in med:
                w = med[(dt, ours)][0] / med[(dt, peer)][0]
                c = med[(dt, ours)][1] / med[(dt, peer)][1]
                print(f"{dt:5} {ours} / {peer}: {w:.2f}x wall, {c:.2f}x per CPU-second")


if __name__ == "__main__":
    main()
