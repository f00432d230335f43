#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a Llama model directory made by make_random_llama.py (config.json + model.safetensors,
f32 or bf16) as a GGUF file for llama.cpp's llama-bench, with gguf-py from a llama.cpp checkout
(it is not a dependency of polyglot: give the checkout's path). Same weights, same dtype: 2-D
tensors keep theirs (F32 or BF16, the bf16 bits copied unchanged), norms are written as F32 as
llama.cpp's own converter does; q/k rows are permuted from Hugging Face's rotate-half RoPE
layout to llama.cpp's interleaved one (what convert_hf_to_gguf.py does for Llama). The
vocabulary is a placeholder of vocab_size tokens (the random model has no tokenizer; llama-bench
feeds token ids).

    apt-get install python3-numpy python3-sentencepiece python3-yaml   # gguf-py's imports
    /usr/bin/python3 benchmarks/safetensors_to_gguf.py MODEL_DIR OUT.gguf --llama-cpp PATH
"""
import argparse
import json
import os
import sys

import numpy as np

import safetensors_np


def permute(w, n_head):
    """Rotate-half rows -> interleaved pairs, per head (llama.cpp's Llama layout)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--llama-cpp", required=True, help="llama.cpp checkout (for gguf-py)")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.llama_cpp, "gguf-py"))
    import gguf  # noqa: E402

    c = json.load(open(os.path.join(a.model, "config.json")))
    t = safetensors_np.read(os.path.join(a.model, "model.safetensors"))
    H, KV = c["num_attention_heads"], c["num_key_value_heads"]
    hd = c.get("head_dim") or c["hidden_size"] // H
    bf16 = t["model.embed_tokens.weight"][0] == "BF16"

    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name("polyglot-random-llama")
    w.add_context_length(c["max_position_embeddings"])
    w.add_embedding_length(c["hidden_size"])
    w.add_block_count(c["num_hidden_layers"])
    w.add_feed_forward_length(c["intermediate_size"])
    w.add_rope_dimension_count(hd)
    w.add_head_count(H)
    w.add_head_count_kv(KV)
    w.add_layer_norm_rms_eps(c["rms_norm_eps"])
    w.add_rope_freq_base(c["rope_theta"])
    w.add_vocab_size(c["vocab_size"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16 if bf16 else gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    V = c["vocab_size"]
    w.add_token_list([f"<t{i}>" for i in range(V)])
    w.add_token_scores([0.0] * V)
    w.add_token_types([gguf.TokenType.NORMAL] * V)
    w.add_bos_token_id(c["bos_token_id"])
    w.add_eos_token_id(c["eos_token_id"])

    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    per_layer = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
                 "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
                 "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
                 "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for i in range(c["num_hidden_layers"]):
        for hf, gg in per_layer.items():
            names[f"model.layers.{i}.{hf}.weight"] = f"blk.{i}.{gg}.weight"
    for name, (dtype, shape, arr) in t.items():
        if name.endswith("q_proj.weight"):
            arr = permute(arr, H)
        elif name.endswith("k_proj.weight"):
            arr = permute(arr, KV)
        arr = np.ascontiguousarray(arr)
        if len(shape) == 1:  # norms: F32, as llama.cpp's converter writes them
            w.add_tensor(names[name], safetensors_np.as_f32(dtype, arr))
        elif dtype == "BF16":
            w.add_tensor(names[name], arr, raw_shape=shape, raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor(names[name], arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{a.out}: {len(t)} tensors ({'bf16' if bf16 else 'f32'})", file=sys.stderr)


if __name__ == "__main__":
    main()
