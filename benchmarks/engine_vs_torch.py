#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Prefill throughput of the cpu engine vs PyTorch CPU on the same random Llama weights.

Both sides get the same token ids (random, fixed seed), the same thread count
(torch.set_num_threads / a TBB arena), and compute the log-probs of every token after
`prompt_len` (the perplexity workload: the vocab projection only where scored). The torch side
is a short hand-written Llama forward (eager attention, one sequence at a time: no padding);
its log-probs must match ours within --tol. Prints tokens/s of both and the ratio.

    /usr/bin/python3 benchmarks/make_random_llama.py /tmp/llama150m
    cmake --build build-eng --target polyglot_engine_driver
    /usr/bin/python3 benchmarks/engine_vs_torch.py /tmp/llama150m \
        --driver build-eng/plugins/cpu/polyglot_engine_driver --threads 2
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

import safetensors_np


def load_safetensors(path):
    return {name: torch.from_numpy(safetensors_np.as_f32(dt, a).copy())
            for name, (dt, _, a) in safetensors_np.read(path).items()}


class TorchLlama:
    def __init__(self, d):
        self.c = json.load(open(os.path.join(d, "config.json")))
        self.w = load_safetensors(os.path.join(d, "model.safetensors"))
        c = self.c
        self.hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        theta = c.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.hd, 2, dtype=torch.int64).float() / self.hd))

    def rms(self, x, w):
        v = x.pow(2).mean(-1, keepdim=True)
        return w * (x * torch.rsqrt(v + self.c["rms_norm_eps"]))

    def logprobs(self, ids, score_from):
        c, w, hd = self.c, self.w, self.hd
        H, KV = c["num_attention_heads"], c["num_key_value_heads"]
        T = len(ids)
        ids_t = torch.tensor(ids)
        x = w["model.embed_tokens.weight"][ids_t]
        freqs = torch.outer(torch.arange(T).float(), self.inv_freq)
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos(), emb.sin()

        def rope(t):
            t1, t2 = t[..., : hd // 2], t[..., hd // 2:]
            return t * cos + torch.cat((-t2, t1), -1) * sin

        mask = torch.full((T, T), float("-inf")).triu(1)
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].T).view(T, H, hd).transpose(0, 1)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).view(T, KV, hd).transpose(0, 1)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).view(T, KV, hd).transpose(0, 1)
            q, k = rope(q), rope(k)
            k = k.repeat_interleave(H // KV, 0)
            v = v.repeat_interleave(H // KV, 0)
            a = torch.softmax((q @ k.transpose(1, 2)) * hd ** -0.5 + mask, -1) @ v
            x = x + a.transpose(0, 1).reshape(T, H * hd) @ w[p + "self_attn.o_proj.weight"].T
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            g = torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T)
            x = x + (g * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        x = self.rms(x, w["model.norm.weight"])
        f = max(score_from, 1)
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        logits = x[f - 1: T - 1] @ head.T
        return torch.log_softmax(logits, -1).gather(1, ids_t[f:, None])[:, 0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--driver", default="build-eng/plugins/cpu/polyglot_engine_driver")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--length", type=int, default=96, help="tokens per sequence")
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--tol", type=float, default=2e-3, help="max |Δ log-prob| allowed")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    vocab = json.load(open(os.path.join(a.model, "config.json")))["vocab_size"]
    rng = np.random.default_rng(a.seed)
    # Mixed lengths around --length (prefill of a perplexity batch).
    lens = [max(a.prompt_len + 2, int(a.length * f)) for f in rng.uniform(0.5, 1.5, a.sequences)]
    seqs = [rng.integers(0, vocab, n).tolist() for n in lens]
    tokens = sum(lens)

    with tempfile.TemporaryDirectory() as tmp:
        ids_file = os.path.join(tmp, "ids.txt")
        with open(ids_file, "w") as f:
            for s in seqs:
                f.write(f"{a.prompt_len} " + " ".join(map(str, s)) + "\n")
        out_file = os.path.join(tmp, "lp.f32")
        r = subprocess.run([a.driver, a.model, ids_file, out_file, "--threads", str(a.threads),
                            "--repeat", str(a.repeat)], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"driver failed: {r.stderr}")
        ours_tps = float(r.stdout.split("tokens_per_s")[1])
        ours = np.fromfile(out_file, dtype=np.float32)

    torch.set_num_threads(a.threads)
    m = TorchLlama(a.model)
    best, theirs = float("inf"), None
    with torch.inference_mode():
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            theirs = torch.cat([m.logprobs(s, a.prompt_len) for s in seqs]).numpy()
            best = min(best, time.perf_counter() - t0)
    torch_tps = tokens / best
    diff = float(np.abs(ours - theirs).max()) if ours.shape == theirs.shape else float("inf")
    print(f"model {a.model}: {tokens} tokens in {a.sequences} sequences, threads {a.threads}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"engine  tokens/s {ours_tps:10.1f}")
    print(f"torch   tokens/s {torch_tps:10.1f}")
    print(f"ratio engine/torch {ours_tps / torch_tps:.2f}   max |Δ log-prob| {diff:.2e}")
    if not diff <= a.tol:
        sys.exit(f"outputs differ: max |Δ log-prob| {diff} > {a.tol}")


if __name__ == "__main__":
    main()
