# SPDX-License-Identifier: Apache-2.0
"""A safetensors file as numpy arrays (Debian has no python3-safetensors; the format is an
8-byte header length, a JSON header and raw data). For the benchmark scripts."""
import json
import struct

import numpy as np


def read(path):
    """name -> (dtype as safetensors spells it, shape, array): F32 as float32, BF16 as the raw
    uint16 bits."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        if t["dtype"] == "F32":
            a = np.frombuffer(data, dtype=np.float32, count=(e - b) // 4, offset=b)
        elif t["dtype"] == "BF16":
            a = np.frombuffer(data, dtype=np.uint16, count=(e - b) // 2, offset=b)
        else:
            raise SystemExit(f"{path}: unsupported dtype {t['dtype']} for {name}")
        out[name] = (t["dtype"], tuple(t["shape"]), a.reshape(t["shape"]))
    return out


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def as_f32(dtype, a):
    return bf16_to_f32(a) if dtype == "BF16" else a
