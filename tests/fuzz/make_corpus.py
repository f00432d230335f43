#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of the libFuzzer targets, tests/fuzz/corpus/<target>/, from files
already in the repository and in ../shared (deterministic; the outputs are committed, so
scripts/fuzz never needs this script). Run from the project root:
    /usr/bin/python3 tests/fuzz/make_corpus.py
  jsonl          tests/data/{score,bad}/*.jsonl, each after a first byte choosing reader limits,
                 and the inputs of past findings
  npy            small float32/float16 arrays saved by numpy (format 1, 2, 3), an empty one
  safetensors    tiny files in every float dtype, with __metadata__, an empty header
  model_config   the fixture models' config.json, a multimodal (text_config) Gemma 3 wrapper
  hf_tokenizer   the fixture tokenizers cut to their first 300 ids (the merges among them kept),
                 then a NUL and a text to encode
"""
import json
import pathlib
import shutil
import struct

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fuzz/corpus"
SHARED = ROOT.parent / "shared/fixtures/models"


def fresh(name):
    d = OUT / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


def jsonl():
    d = fresh("jsonl")
    knobs = [0x00, 0x07, 0x1a, 0x81, 0xff]
    files = sorted((ROOT / "tests/data/score").glob("*.jsonl")) + sorted((ROOT / "tests/data/bad").glob("*.jsonl"))
    for i, f in enumerate(files):
        data = f.read_bytes()
        if len(data) > 4096:
            data = b"\n".join(data.splitlines()[:12]) + b"\n"
        (d / f"{f.parent.name}_{f.stem}").write_bytes(bytes([knobs[i % len(knobs)]]) + data)
    # Regression seeds of past findings (docs/testing.md): a BOM read in 1-byte blocks; a CRLF
    # line of exactly max_line_bytes (24) read in 4-byte blocks.
    line = b'{"prompt":"p","resp":"r"}'[:24]
    (d / "regress_bom_small_blocks").write_bytes(b"\x00\xef\xbb\xbf" + b'{"prompt": "p", "response": "r"}\n')
    (d / "regress_crlf_at_limit").write_bytes(b"\x1d" + line + b"\r\n" + line + b"\r\n")


def npy():
    d = fresh("npy")
    rng = np.random.default_rng(1)
    for name, arr, version in [("f4_v1", rng.standard_normal((3, 4)).astype("<f4"), (1, 0)),
                               ("f2_v1", rng.standard_normal((2, 5)).astype("<f2"), (1, 0)),
                               ("f4_v2", rng.standard_normal((2, 2)).astype("<f4"), (2, 0)),
                               ("f2_v3", rng.standard_normal((1, 3)).astype("<f2"), (3, 0)),
                               ("empty", np.zeros((0, 4), "<f4"), (1, 0))]:
        with open(d / name, "wb") as f:
            np.lib.format.write_array(f, arr, version=version)


def safetensors_bytes(tensors, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors():
    d = fresh("safetensors")
    f32 = np.arange(6, dtype="<f4").tobytes()
    f16 = np.array([0.5, -1, 65504, 0], "<f2").tobytes()
    bf16 = (np.array([1, 2, 3, 4], "<f4").view("<u4") >> 16).astype("<u2").tobytes()
    f64 = np.array([1e300, -2.5], "<f8").tobytes()
    i64 = np.array([7], "<i8").tobytes()
    (d / "mixed").write_bytes(safetensors_bytes(
        [("model.embed_tokens.weight", "F32", [2, 3], f32), ("model.norm.weight", "F16", [4], f16),
         ("lm_head.weight", "BF16", [2, 2], bf16), ("x.f64", "F64", [2], f64), ("x.i64", "I64", [1], i64)],
        {"format": "pt"}))
    (d / "empty_header").write_bytes(safetensors_bytes([]))
    (d / "zero_size").write_bytes(safetensors_bytes([("z", "F32", [0, 3], b"")]))


def model_config():
    d = fresh("model_config")
    for m in ("tiny-llama", "tiny-qwen3", "tiny-gemma3", "tiny-embeddinggemma"):
        shutil.copy(SHARED / m / "config.json", d / m)
    text = json.loads((SHARED / "tiny-gemma3/config.json").read_text())
    wrapper = {"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"],
               "text_config": text, "vision_config": {"model_type": "siglip_vision_model"}}
    (d / "gemma3-multimodal").write_text(json.dumps(wrapper, indent=1))


def hf_tokenizer():
    d = fresh("hf_tokenizer")
    for m, sample in (("tiny-llama", "Hello world, it's 2024!"), ("tiny-qwen3", "Grüße aus 東京"),
                      ("tiny-gemma3", "<bos>Das ist ein Test.\n  x")):
        t = json.loads((SHARED / m / "tokenizer.json").read_text())
        vocab = {k: v for k, v in t["model"]["vocab"].items() if v < 300}
        merges = []
        for mg in t["model"]["merges"]:
            a, b = mg if isinstance(mg, list) else mg.split(" ", 1)
            if a in vocab and b in vocab and a + b in vocab:
                merges.append(mg)
        t["model"]["vocab"] = vocab
        t["model"]["merges"] = merges
        (d / m).write_bytes(json.dumps(t, ensure_ascii=False).encode() + b"\0" + sample.encode())


if __name__ == "__main__":
    jsonl()
    npy()
    safetensors()
    model_config()
    hf_tokenizer()
