#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Decode throughput of the cpu plugin's runtime (KV cache, continuous batching) vs a PyTorch
CPU generation loop with a KV cache, on the same random Llama weights, prompts and threads.

Both sides decode greedily (EOS ignored) from the same random prompts (--prompt-len tokens
each, --batch prompts at once) and are timed twice: for 1 new token and for --new-tokens; the
decode rate is batch · (new_tokens − 1) / (t_new − t_1), so prefill is not counted. The torch
side is a hand-written Llama forward (engine_vs_torch.py's) with a per-layer K/V cache, batched
prompts of equal length, torch.inference_mode. Prints tokens/s of both, the ratio, and how many
generated tokens agree (greedy decoding of random weights: rare near-ties may flip a token,
after which the sequences diverge). torch runs with OMP_WAIT_POLICY=PASSIVE unless the
environment sets it (spinning OpenMP threads collapse on an oversubscribed machine).

    /usr/bin/python3 benchmarks/make_random_llama.py /tmp/llama150m
    cmake --build build --target polyglot_engine_driver
    /usr/bin/python3 benchmarks/decode_vs_torch.py /tmp/llama150m \\
        --driver build/plugins/cpu/polyglot_engine_driver --threads 2 --batch 1 16

The runtime needs a tokenizer.json in the model directory (it decodes what it generates); when
there is none, the tiny Llama fixture's is copied there (ids it does not know decode to "").
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

# On a shared machine, OpenMP threads that spin while waiting collapse torch's throughput when
# the cores are oversubscribed; passive waiting is its better setting there (set before import).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_vs_torch import TorchLlama  # noqa: E402


class CachedLlama(TorchLlama):
    """TorchLlama with a K/V cache: forward(ids [B, T], start) appends T positions."""

    def reset(self, batch, max_len):
        c = self.c
        L, KV = c["num_hidden_layers"], c["num_key_value_heads"]
        self.k = torch.zeros(L, batch, KV, max_len, self.hd)
        self.v = torch.zeros(L, batch, KV, max_len, self.hd)

    def forward(self, ids, start):
        c, w, hd = self.c, self.w, self.hd
        H, KV = c["num_attention_heads"], c["num_key_value_heads"]
        B, T = ids.shape
        x = w["model.embed_tokens.weight"][ids]
        pos = torch.arange(start, start + T).float()
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos(), emb.sin()

        def rope(t):
            t1, t2 = t[..., : hd // 2], t[..., hd // 2:]
            return t * cos + torch.cat((-t2, t1), -1) * sin

        end = start + T
        mask = torch.full((T, end), float("-inf")).triu(start + 1)
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
            q, k = rope(q), rope(k)
            self.k[i, :, :, start:end] = k
            self.v[i, :, :, start:end] = v
            kk = self.k[i, :, :, :end].repeat_interleave(H // KV, 1)
            vv = self.v[i, :, :, :end].repeat_interleave(H // KV, 1)
            a = torch.softmax((q @ kk.transpose(2, 3)) * hd ** -0.5 + mask, -1) @ vv
            x = x + a.transpose(1, 2).reshape(B, T, H * hd) @ w[p + "self_attn.o_proj.weight"].T
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            g = torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T)
            x = x + (g * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        x = self.rms(x[:, -1], w["model.norm.weight"])
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        return x @ head.T  # [B, vocab] logits of the last position

    def generate(self, prompts, n):
        B, P = prompts.shape
        self.reset(B, P + n)
        out = []
        nxt = self.forward(prompts, 0).argmax(-1)
        out.append(nxt)
        for step in range(1, n):
            nxt = self.forward(nxt[:, None], P + step - 1).argmax(-1)
            out.append(nxt)
        return torch.stack(out, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--driver", default="build/plugins/cpu/polyglot_engine_driver")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--prompt-len", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    if not os.path.exists(os.path.join(a.model, "tokenizer.json")):
        fx = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures", "models",
                          "tiny-llama")
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(fx, f), a.model)
    torch.set_num_threads(a.threads)
    m = CachedLlama(a.model)
    vocab = m.c["vocab_size"]
    rng = np.random.default_rng(a.seed)
    print(f"model {a.model}, threads {a.threads}, prompt {a.prompt_len} tokens, "
          f"{a.new_tokens} new tokens, torch {torch.__version__}, load average "
          f"{os.getloadavg()[0]:.1f}")
    for B in a.batch:
        prompts = rng.integers(0, vocab, (B, a.prompt_len))
        with tempfile.TemporaryDirectory() as tmp:
            pf, of = os.path.join(tmp, "prompts.txt"), os.path.join(tmp, "out.txt")
            with open(pf, "w") as f:
                for row in prompts:
                    f.write(" ".join(map(str, row)) + "\n")
            r = subprocess.run([a.driver, a.model, pf, of, "--generate", str(a.new_tokens),
                                "--threads", str(a.threads), "--repeat", str(a.repeat)],
                               capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"driver failed: {r.stderr}")
            ours_tps = float(r.stdout.split("decode_tokens_per_s")[1])
            ours = np.array([list(map(int, l.split())) for l in open(of)])

        def timed(n):
            best, out = float("inf"), None
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                with torch.inference_mode():
                    out = m.generate(torch.tensor(prompts), n)
                best = min(best, time.perf_counter() - t0)
            return best, out

        t1, _ = timed(1)
        tn, theirs = timed(a.new_tokens)
        torch_tps = B * (a.new_tokens - 1) / (tn - t1)
        theirs = theirs.numpy()
        agree = int((ours == theirs).sum()) if ours.shape == theirs.shape else 0
        print(f"batch {B:3d}: ours {ours_tps:8.2f} tokens/s   torch {torch_tps:8.2f} tokens/s   "
              f"ratio {ours_tps / torch_tps:5.2f}   same tokens {agree}/{theirs.size}   "
              f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
