#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Creates a random-weight Llama-shaped model directory (config.json + model.safetensors) for
the engine throughput comparison (benchmarks/engine_vs_torch.py). Default shape ≈ 150M
parameters: hidden 768, 14 layers, 12 heads / 4 KV heads, MLP 2560, vocab 32000, untied head.

The safetensors file is written by hand (8-byte header length + JSON header + raw data): the
format is trivial and Debian has no python3-safetensors. Run with /usr/bin/python3 (numpy).

    /usr/bin/python3 benchmarks/make_random_llama.py OUT_DIR [--dtype f32|bf16] [--seed 0]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np


def shapes(c):
    d, hd = c["hidden_size"], c["head_dim"]
    h, kv, inter, v = (c["num_attention_heads"], c["num_key_value_heads"],
                       c["intermediate_size"], c["vocab_size"])
    out = [("model.embed_tokens.weight", (v, d))]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", (d,)),
                (p + "post_attention_layernorm.weight", (d,)),
                (p + "self_attn.q_proj.weight", (h * hd, d)),
                (p + "self_attn.k_proj.weight", (kv * hd, d)),
                (p + "self_attn.v_proj.weight", (kv * hd, d)),
                (p + "self_attn.o_proj.weight", (d, h * hd)),
                (p + "mlp.gate_proj.weight", (inter, d)),
                (p + "mlp.up_proj.weight", (inter, d)),
                (p + "mlp.down_proj.weight", (d, inter))]
    out += [("model.norm.weight", (d,)), ("lm_head.weight", (v, d))]
    return out


def to_bf16_bytes(a):
    u = a.astype(np.float32).view(np.uint32)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16  # round to nearest even
    return u.astype(np.uint16).tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--layers", type=int, default=14)
    ap.add_argument("--intermediate", type=int, default=2560)
    ap.add_argument("--vocab", type=int, default=32000)
    a = ap.parse_args()
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
         "hidden_size": a.hidden, "intermediate_size": a.intermediate,
         "num_hidden_layers": a.layers, "num_attention_heads": 12, "num_key_value_heads": 4,
         "head_dim": a.hidden // 12, "vocab_size": a.vocab, "max_position_embeddings": 4096,
         "rms_norm_eps": 1e-5, "hidden_act": "silu", "tie_word_embeddings": False,
         "rope_theta": 500000.0, "rope_scaling": None, "attention_bias": False,
         "mlp_bias": False, "bos_token_id": 1, "eos_token_id": 2,
         "torch_dtype": "float32" if a.dtype == "f32" else "bfloat16"}
    rng = np.random.default_rng(a.seed)
    header, blobs, off, n_params = {}, [], 0, 0
    for name, shape in shapes(c):
        if name.endswith("norm.weight"):
            w = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        else:
            w = (0.02 * rng.standard_normal(shape, dtype=np.float32))
        b = w.tobytes() if a.dtype == "f32" else to_bf16_bytes(w)
        header[name] = {"dtype": "F32" if a.dtype == "f32" else "BF16", "shape": list(shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
        n_params += w.size
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"{a.out}: {n_params / 1e6:.1f}M parameters ({a.dtype})", file=sys.stderr)


if __name__ == "__main__":
    main()
