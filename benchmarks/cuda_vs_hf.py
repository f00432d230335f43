#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Hugging Face transformers vs the polyglot cuda plugin, on one GPU host, in one run.

For each model shape (random weights; speed does not depend on weight values):
  1. creates the model with transformers (LlamaConfig / Gemma3TextConfig), bf16, save_pretrained;
  2. generates N records of random token ids (prompt 64-400, response 128-900 tokens, BOS first);
  3. times HF in the paper's loop (batches of 8 in file order, right-padded, full logits,
     float log_softmax) and in length-sorted batches of <= --hf-batch-tokens padded tokens;
  4. times the cuda plugin on the same ids through its C ABI (ctypes: polyglot_plugin_entry,
     create, get_proc_address("polyglot_cuda_score_ids_v1"));
  5. prints tokens/s, MFU and max |delta| of per-record mean NLL against each HF run.
Embeddings (--embed-texts > 0): an EmbeddingGemma-300m-shaped encoder (24 layers, d=768,
bidirectional attention, vocab 262144), bf16, random weights, with a WordLevel tokenizer whose
word "w<i>" is token i (so both sides see identical token ids); N texts of 32-512 tokens; HF
(mean pooling over the attention mask) in batches of 32 in file order and in length-sorted
batches of 64, against the plugin's EMBED (C ABI, texts) with "pooling": "mean"; tokens/s and
the max |delta| of the pooled vectors.

Needs: torch with CUDA, transformers (>= 4.50; 5.x tested by the team's host), and the plugin
(`scripts/bundle` output or a build tree). See ../shared/docs/gpu-host.md and
benchmarks/README.md ("CUDA plugin") for the exact command.

MFU = tokens/s * model FLOPs per token / peak, with model FLOPs per token = 2 * parameters
(tied embeddings counted once) + 2 * 2 * layers * (L / 2) * heads * head_dim for a record of
L tokens (causal attention), the same definition for every contender.
"""
import argparse
import ctypes
import gc
import json
import math
import os
import sys
import time

import numpy as np
import torch


# ---- model shapes ---------------------------------------------------------------------------

def make_config(shape):
    import transformers as tf
    if shape == "llama-3.2-1b":
        return tf.LlamaConfig(
            vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
            num_attention_heads=32, num_key_value_heads=8, head_dim=64,
            max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
            bos_token_id=128000, eos_token_id=128001, hidden_act="silu",
            rope_theta=500000.0,
            rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
    if shape == "gemma-3-4b":
        return tf.Gemma3TextConfig(
            vocab_size=262208, hidden_size=2560, intermediate_size=10240, num_hidden_layers=34,
            num_attention_heads=8, num_key_value_heads=4, head_dim=256,
            query_pre_attn_scalar=256, sliding_window=1024, max_position_embeddings=131072,
            rms_norm_eps=1e-6, rope_theta=1000000.0, rope_local_base_freq=10000.0,
            rope_scaling={"rope_type": "linear", "factor": 8.0}, tie_word_embeddings=True,
            bos_token_id=2, eos_token_id=1, pad_token_id=0,
            hidden_activation="gelu_pytorch_tanh")
    raise SystemExit(f"unknown shape {shape}")


def save_random_model(auto_cls, cfg, path):
    """Random bf16 weights (seed 0) for @cfg, saved at @path unless already there."""
    if os.path.exists(os.path.join(path, "config.json")):
        return False
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = auto_cls.from_config(cfg, torch_dtype=torch.bfloat16)
    model.to(torch.bfloat16).save_pretrained(path, safe_serialization=True)
    del model
    gc.collect()
    torch.cuda.empty_cache()
    return True


def create_model(shape, out_dir):
    import transformers as tf
    path = os.path.join(out_dir, shape)
    save_random_model(tf.AutoModelForCausalLM, make_config(shape), path)
    return path


# ---- records ------------------------------------------------------------------------------------

def make_records(n, vocab, bos, seed):
    rng = np.random.default_rng(seed)
    recs = []
    for _ in range(n):
        p = int(rng.integers(64, 401))
        r = int(rng.integers(128, 901))
        ids = rng.integers(3, min(vocab, 120000), size=p + r).astype(np.int64)
        ids[0] = bos
        recs.append((ids, p))  # (token ids, prompt length)
    return recs


def flops_per_record(cfg, n_params, length):
    heads = cfg.num_attention_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return 2.0 * n_params * length + 4.0 * cfg.num_hidden_layers * (length / 2.0) * heads * hd * length


def peak_flops(args):
    if args.peak_tflops:
        return args.peak_tflops * 1e12
    name = torch.cuda.get_device_name(0)
    for key, tf in (("H200", 989), ("H100", 989), ("A100", 312), ("L40S", 362), ("A10", 125)):
        if key in name:
            return tf * 1e12
    print(f"warning: unknown peak for {name}; pass --peak-tflops", file=sys.stderr)
    return float("nan")


# ---- Hugging Face ---------------------------------------------------------------------------------

@torch.inference_mode()
def hf_nll(model, batch, pad_id):
    """Mean NLL of each record's response tokens; one padded forward pass per batch."""
    L = max(len(ids) for ids, _ in batch)
    x = torch.full((len(batch), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), L), dtype=torch.long)
    for i, (ids, _) in enumerate(batch):
        x[i, :len(ids)] = torch.from_numpy(ids)
        mask[i, :len(ids)] = 1
    x, mask = x.cuda(), mask.cuda()
    logits = model(input_ids=x, attention_mask=mask).logits
    out = []
    for i, (ids, p) in enumerate(batch):
        n = len(ids)
        lp = torch.log_softmax(logits[i, p - 1:n - 1].float(), dim=-1)
        tgt = x[i, p:n]
        out.append(float(-lp.gather(-1, tgt[:, None]).mean()))
    return out


def time_hf(model, recs, batches, pad_id):
    torch.cuda.synchronize()
    hf_nll(model, [recs[0]], pad_id)  # warm-up
    torch.cuda.synchronize()
    nll = [0.0] * len(recs)
    t0 = time.perf_counter()
    for b in batches:
        for i, v in zip(b, hf_nll(model, [recs[i] for i in b], pad_id)):
            nll[i] = v
    torch.cuda.synchronize()
    return time.perf_counter() - t0, nll


def paper_batches(n, size=8):
    return [list(range(i, min(n, i + size))) for i in range(0, n, size)]


def sorted_batches(recs, budget):
    order = sorted(range(len(recs)), key=lambda i: -len(recs[i][0]))
    out, cur = [], []
    for i in order:
        width = len(recs[cur[0]][0]) if cur else len(recs[i][0])  # longest first
        if cur and (len(cur) + 1) * width > budget:
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


# ---- the cuda plugin through its C ABI --------------------------------------------------------------

class PluginTable(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_uint32), ("struct_size", ctypes.c_uint32),
                ("name", ctypes.c_char_p), ("version", ctypes.c_char_p),
                ("caps", ctypes.c_uint64), ("description", ctypes.c_char_p)] + [
        (f, ctypes.c_void_p) for f in (
            "create", "destroy", "last_error", "supports", "get_info", "get_dim", "embed",
            "tokenize", "score", "generate", "device_count", "device_info", "get_proc_address",
            "unusable_reason")]


class TextBatch(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("offsets", ctypes.POINTER(ctypes.c_uint64)),
                ("n", ctypes.c_uint64)]


class Plugin:
    CREATE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                              ctypes.c_char_p, ctypes.c_size_t)
    DESTROY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    LAST_ERROR = ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p)
    GET_INFO = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                ctypes.POINTER(ctypes.c_size_t))
    PROC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)
    GET_DIM = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32))
    EMBED = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.POINTER(TextBatch),
                             ctypes.POINTER(ctypes.c_float), ctypes.c_uint64)
    SELF_TEST = ctypes.CFUNCTYPE(ctypes.c_char_p)
    REASON = ctypes.CFUNCTYPE(ctypes.c_char_p)
    SCORE_IDS = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32),
                                 ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64),
                                 ctypes.c_uint64, ctypes.POINTER(ctypes.c_double))

    def __init__(self, path):
        self.lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        self.lib.polyglot_plugin_entry.restype = ctypes.POINTER(PluginTable)
        self.lib.polyglot_plugin_entry.argtypes = [ctypes.c_uint32]
        self.t = self.lib.polyglot_plugin_entry(1).contents
        if self.lib.polyglot_plugin_score() <= 0:
            raise SystemExit("cuda plugin unusable here: " +
                             self.REASON(self.t.unusable_reason)().decode())
        self.create_fn = self.CREATE(self.t.create)
        self.destroy_fn = self.DESTROY(self.t.destroy)
        self.last_error = self.LAST_ERROR(self.t.last_error)
        self.get_info = self.GET_INFO(self.t.get_info)
        self.get_dim = self.GET_DIM(self.t.get_dim)
        self.embed = self.EMBED(self.t.embed)
        st = self.PROC(self.t.get_proc_address)(b"polyglot_self_test_v1")
        self.self_test = json.loads(self.SELF_TEST(st)().decode()) if st else None
        addr = self.PROC(self.t.get_proc_address)(b"polyglot_cuda_score_ids_v1")
        if not addr:
            raise SystemExit("the plugin has no polyglot_cuda_score_ids_v1 extension")
        self.score_ids = self.SCORE_IDS(addr)

    def open(self, config):
        h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(2048)
        st = self.create_fn(json.dumps(config).encode(), ctypes.byref(h), err, len(err))
        if st != 0:
            raise SystemExit(f"create failed ({st}): {err.value.decode()}")
        return h

    def info(self, h):
        buf = ctypes.create_string_buffer(4096)
        need = ctypes.c_size_t()
        self.get_info(h, buf, len(buf), ctypes.byref(need))
        return json.loads(buf.value.decode() or "{}")

    def nll(self, h, recs):
        ids = np.concatenate([r[0] for r in recs]).astype(np.int32)
        offsets = np.zeros(len(recs) + 1, dtype=np.uint64)
        offsets[1:] = np.cumsum([len(r[0]) for r in recs])
        frm = np.array([r[1] for r in recs], dtype=np.uint64)
        lp = np.full(len(ids), np.nan, dtype=np.float64)
        as_ptr = lambda a, t: a.ctypes.data_as(ctypes.POINTER(t))
        st = self.score_ids(h, as_ptr(ids, ctypes.c_int32), as_ptr(offsets, ctypes.c_uint64),
                            as_ptr(frm, ctypes.c_uint64), len(recs), as_ptr(lp, ctypes.c_double))
        if st != 0:
            raise SystemExit(f"score_ids failed ({st}): {self.last_error(h).decode()}")
        return [float(-np.mean(lp[offsets[i] + recs[i][1]:offsets[i + 1]]))
                for i in range(len(recs))]


def time_plugin(plugin, path, recs, batch_tokens):
    cfg = {"model": path}
    if batch_tokens:
        cfg["batch_tokens"] = batch_tokens
    h = plugin.open(cfg)
    info = plugin.info(h)
    plugin.nll(h, recs[:2])  # warm-up (cuBLAS heuristics, workspace)
    t0 = time.perf_counter()
    nll = plugin.nll(h, recs)
    dt = time.perf_counter() - t0
    plugin.destroy_fn(h)
    return dt, nll, info


# ---- embeddings -------------------------------------------------------------------------------------

EMBED_VOCAB = 262144


def create_encoder(out_dir):
    """An EmbeddingGemma-300m-shaped encoder with a WordLevel tokenizer ("w<i>" = token i)."""
    import transformers as tf
    from tokenizers import Tokenizer, models, pre_tokenizers
    path = os.path.join(out_dir, "embeddinggemma-300m")
    cfg = tf.Gemma3TextConfig(
        vocab_size=EMBED_VOCAB, hidden_size=768, intermediate_size=1152, num_hidden_layers=24,
        num_attention_heads=3, num_key_value_heads=1, head_dim=256,
        query_pre_attn_scalar=256, sliding_window=512, max_position_embeddings=2048,
        use_bidirectional_attention=True, bos_token_id=2, eos_token_id=1, pad_token_id=0)
    if save_random_model(tf.AutoModel, cfg, path):
        tok = Tokenizer(models.WordLevel({f"w{i}": i for i in range(EMBED_VOCAB)}, unk_token="w3"))
        tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        tok.save(os.path.join(path, "tokenizer.json"))
    return path


def make_texts(n, seed):
    rng = np.random.default_rng(seed + 7)
    return [rng.integers(3, EMBED_VOCAB, size=int(rng.integers(32, 513))) for _ in range(n)]


@torch.inference_mode()
def hf_embed(model, batch):
    L = max(len(ids) for ids in batch)
    x = torch.zeros((len(batch), L), dtype=torch.long)
    mask = torch.zeros((len(batch), L), dtype=torch.long)
    for i, ids in enumerate(batch):
        x[i, :len(ids)] = torch.from_numpy(ids)
        mask[i, :len(ids)] = 1
    x, mask = x.cuda(), mask.cuda()
    h = model(input_ids=x, attention_mask=mask).last_hidden_state.float()
    m = mask[..., None].float()
    return ((h * m).sum(1) / m.sum(1)).cpu().numpy()


def time_hf_embed(model, texts, batches):
    hf_embed(model, [texts[0]])  # warm-up
    torch.cuda.synchronize()
    out = [None] * len(texts)
    t0 = time.perf_counter()
    for b in batches:
        for i, v in zip(b, hf_embed(model, [texts[i] for i in b])):
            out[i] = v
    torch.cuda.synchronize()
    return time.perf_counter() - t0, np.stack(out)


def time_plugin_embed(plugin, path, texts):
    h = plugin.open({"model": path, "pooling": "mean"})  # no modules.json: no normalisation
    strs = [" ".join(f"w{int(t)}" for t in ids).encode() for ids in texts]
    dim = ctypes.c_uint32()
    plugin.get_dim(h, ctypes.byref(dim))
    data = b"".join(strs)
    offsets = np.zeros(len(strs) + 1, dtype=np.uint64)
    offsets[1:] = np.cumsum([len(x) for x in strs])
    out = np.zeros((len(strs), dim.value), dtype=np.float32)
    batch = TextBatch(data, offsets.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), len(strs))

    def run(b, o):
        st = plugin.embed(h, ctypes.byref(b), o.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                          o.size)
        if st != 0:
            raise SystemExit(f"embed failed ({st}): {plugin.last_error(h).decode()}")

    warm = np.zeros((1, dim.value), dtype=np.float32)
    first = np.array([0, len(strs[0])], dtype=np.uint64)
    run(TextBatch(strs[0], first.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64)), 1), warm)
    t0 = time.perf_counter()
    run(batch, out)
    dt = time.perf_counter() - t0
    plugin.destroy_fn(h)
    return dt, out


def bench_embeddings(plugin, args):
    import transformers as tf
    path = create_encoder(args.work_dir)
    texts = make_texts(args.embed_texts, args.seed)
    tokens = sum(len(t) for t in texts)
    model = tf.AutoModel.from_pretrained(path, torch_dtype=torch.bfloat16).cuda().eval()
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    runs = {
        "hf file order (batches of 32)": time_hf_embed(model, texts, paper_batches(len(texts), 32)),
        "hf length-sorted (batches of 64)": time_hf_embed(
            model, texts, [order[i:i + 64] for i in range(0, len(order), 64)]),
    }
    del model
    gc.collect()
    torch.cuda.empty_cache()
    dt, ours = time_plugin_embed(plugin, path, texts)
    runs["polyglot cuda (EMBED, mean pooling)"] = (dt, ours)
    print(f"\nembeddinggemma-300m shape: {len(texts)} texts, {tokens} tokens")
    print(f"  {'run':<52} {'seconds':>8} {'tokens/s':>10} {'max|d| vs ours':>15}")
    results = []
    for name, (sec, vecs) in runs.items():
        d = float(np.max(np.abs(vecs - ours)))
        print(f"  {name:<52} {sec:8.2f} {tokens / sec:10.0f} {d:15.2e}")
        results.append({"shape": "embeddinggemma-300m", "run": name, "seconds": sec,
                        "tokens": tokens, "tokens_per_s": tokens / sec,
                        "max_abs_delta_vs_cuda_plugin": d})
    return results


# ---- main -------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plugin", required=True, help="path of libpolyglot-cuda.so")
    ap.add_argument("--work-dir", default="cuda_vs_hf_models", help="where models are saved")
    ap.add_argument("--shapes", default="llama-3.2-1b,gemma-3-4b")
    ap.add_argument("--records", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hf-batch-tokens", type=int, default=16384)
    ap.add_argument("--batch-tokens", type=int, default=0, help="plugin token budget (0 = auto)")
    ap.add_argument("--peak-tflops", type=float, default=0.0)
    ap.add_argument("--skip-paper-loop", action="store_true")
    ap.add_argument("--embed-texts", type=int, default=4096,
                    help="texts for the embedding comparison (0 = skip it)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    import transformers as tf
    os.makedirs(args.work_dir, exist_ok=True)
    plugin = Plugin(os.path.abspath(args.plugin))
    peak = peak_flops(args)
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, "
          f"transformers {tf.__version__}; peak {peak / 1e12:.0f} TFLOP/s (bf16 dense)")
    if plugin.self_test:
        print(f"cuda plugin self-test: {plugin.self_test.get('summary')}")
    results = []
    for shape in filter(None, args.shapes.split(",")):
        path = create_model(shape, args.work_dir)
        cfg = make_config(shape)
        recs = make_records(args.records, cfg.vocab_size, cfg.bos_token_id, args.seed)
        tokens = sum(len(r[0]) for r in recs)

        model = tf.AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.bfloat16).cuda()
        model.eval()
        n_params = sum(p.numel() for p in model.parameters())  # tied weights counted once
        flops = sum(flops_per_record(cfg, n_params, len(r[0])) for r in recs)
        pad = getattr(cfg, "pad_token_id", None) or 0
        runs = {}
        if not args.skip_paper_loop:
            runs["hf paper loop (8, file order, padded)"] = time_hf(
                model, recs, paper_batches(len(recs)), pad)
        runs[f"hf length-sorted (<= {args.hf_batch_tokens} padded tokens)"] = time_hf(
            model, recs, sorted_batches(recs, args.hf_batch_tokens), pad)
        del model
        gc.collect()
        torch.cuda.empty_cache()

        dt, ours, info = time_plugin(plugin, path, recs, args.batch_tokens)
        runs[f"polyglot cuda (packed, budget {info.get('token_budget')} tokens)"] = (dt, ours)

        print(f"\n{shape}: {len(recs)} records, {tokens} tokens, {n_params / 1e9:.2f}B params")
        print(f"  {'run':<52} {'seconds':>8} {'tokens/s':>10} {'MFU':>7} {'max|dNLL| vs ours':>18}")
        for name, (sec, nll) in runs.items():
            d = max(abs(a - b) for a, b in zip(nll, ours))
            print(f"  {name:<52} {sec:8.2f} {tokens / sec:10.0f} {100 * flops / sec / peak:6.1f}% "
                  f"{d:18.2e}")
            results.append({"shape": shape, "run": name, "seconds": sec, "tokens": tokens,
                            "tokens_per_s": tokens / sec, "mfu": flops / sec / peak,
                            "max_abs_delta_mean_nll_vs_cuda_plugin": d})
    if args.embed_texts > 0:
        try:
            results += bench_embeddings(plugin, args)
        except (Exception, SystemExit) as e:  # the LM figures above still count
            print(f"embedding comparison failed: {type(e).__name__}: {e}", file=sys.stderr)
            results.append({"shape": "embeddinggemma-300m", "error": f"{type(e).__name__}: {e}"})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": torch.cuda.get_device_name(0),
                       "self_test": plugin.self_test, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
