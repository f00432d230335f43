#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""fastText sentence vectors and distinct-RI against fastText itself (CTest: fasttext_cli_oracle_test).

Oracle: the Debian `fasttext` CLI (package fasttext, installed by scripts/bootstrap). In a scratch
directory this script
  1. trains two small models with the CLI from a fixture corpus (the bundled examples/sft files,
     de/es/ja): `skipgram` and `supervised` (language labels, word bigrams), fixed -seed,
     -thread 1, so training is deterministic; the third model is lid.176.ftz (supervised,
     quantized) from the data directory;
  2. writes a multilingual set (the first 100 valid records of each of the nine example files:
     900 prompts and 900 responses in German, Spanish and Japanese);
  3. for each model: `fasttext print-sentence-vectors MODEL` over the texts (one per line,
     newlines inside a text folded to spaces) gives the reference vectors; numpy computes
     distinct-RI from them the way the paper's code does (the full N×N cosine matrix, zero
     vectors as similarity 0, 1 − the mean over i≠j);
  4. compares with polyglot: `polyglot embed --embedder fasttext:MODEL` must give the CLI's
     vectors (to the CLI's 5 printed significant digits), and `polyglot score --metrics
     distinct_ri --embedder fasttext:MODEL` must give the numpy distinct-RI within 1e-6, for
     prompts and responses.
A supervised model averages the end-of-sentence token </s> into each vector: the check fails if
polyglot leaves it out (issue 17: 0.079921 vs 0.079269 on a German set).

Run by ctest with POLYGLOT_CLI set; by hand:
    POLYGLOT_CLI=build/bin/polyglot /usr/bin/python3 tests/oracles/fasttext_vectors.py
Exit status 0 when everything agrees, 1 with a message naming what differs or what is missing.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = [f"{t}_{l}" for t in ("alpha", "beta", "gamma") for l in ("de", "es", "ja")]
PER_FILE = 100
TOL = 1e-6


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def data_dir():
    if os.environ.get("POLYGLOT_DATA_DIR"):
        return pathlib.Path(os.environ["POLYGLOT_DATA_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ["HOME"], ".cache")
    return pathlib.Path(cache) / "polyglot"


def valid_records(path):
    out = []
    for raw in path.read_bytes().splitlines():
        try:
            d = json.loads(raw)
        except ValueError:
            continue
        if isinstance(d, dict) and isinstance(d.get("prompt"), str) and isinstance(d.get("response"), str):
            out.append(d)
    return out


def one_line(text):
    # As polyglot's fastText embedder and the Python binding: a text is one line.
    return text.replace("\n", " ")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        fail(f"{' '.join(map(str, cmd))} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
    return r.stdout


def cli_vectors(fasttext, model, texts, work):
    src = work / "texts.txt"
    src.write_bytes(b"".join(one_line(t).encode() + b"\n" for t in texts))
    with open(src, "rb") as f:
        out = run([fasttext, "print-sentence-vectors", str(model)], stdin=f).decode()
    rows = [list(map(float, line.split())) for line in out.splitlines()]
    if len(rows) != len(texts):
        fail(f"fasttext print-sentence-vectors {model}: {len(rows)} vectors for {len(texts)} texts")
    return np.array(rows, dtype=np.float64)


def distinct_ri(vectors):
    # The paper's computation: cosine similarity matrix (sklearn's cosine_similarity, with
    # nan_to_num for zero vectors), 1 - mean over the off-diagonal pairs.
    norms = np.linalg.norm(vectors, axis=1)
    unit = np.divide(vectors, norms[:, None], out=np.zeros_like(vectors), where=norms[:, None] > 0)
    sim = unit @ unit.T
    n = len(vectors)
    return 1.0 - (sim.sum() - np.trace(sim)) / (n * (n - 1))


def read_npy_rows(path):
    return np.load(path).astype(np.float64)


def main():
    fasttext = shutil.which("fasttext")
    if not fasttext:
        fail("the fastText CLI `fasttext` is missing: install the Debian package fasttext "
             "(scripts/bootstrap installs it)")
    cli = os.environ.get("POLYGLOT_CLI")
    if not cli or not os.path.exists(cli):
        fail("POLYGLOT_CLI is not set to the polyglot binary (run through ctest)")
    lid = data_dir() / "lid.176.ftz"
    if not lid.exists():
        fail(f"missing test asset {lid}: run scripts/bootstrap --assets")

    records = []
    corpus_sg, corpus_sup = [], []
    for name in EXAMPLES:
        recs = valid_records(ROOT / "examples/sft" / f"{name}.jsonl")
        if len(recs) < PER_FILE:
            fail(f"examples/sft/{name}.jsonl has {len(recs)} valid records, need {PER_FILE}")
        records += recs[:PER_FILE]
        lang = name.split("_")[1]
        for r in recs:
            for t in (r["prompt"], r["response"]):
                corpus_sg.append(one_line(t))
                corpus_sup.append(f"__label__{lang} {one_line(t)}")

    with tempfile.TemporaryDirectory(prefix="polyglot-ft-oracle-") as tmp:
        work = pathlib.Path(tmp)
        (work / "sg.txt").write_text("\n".join(corpus_sg) + "\n", encoding="utf-8")
        (work / "sup.txt").write_text("\n".join(corpus_sup) + "\n", encoding="utf-8")
        common = ["-dim", "16", "-epoch", "5", "-minCount", "1", "-thread", "1", "-seed", "7",
                  "-bucket", "20000", "-minn", "2", "-maxn", "4", "-verbose", "0"]
        # lr 0.2: at the default 0.05 five epochs leave all sentence vectors nearly parallel.
        run([fasttext, "skipgram", "-input", work / "sg.txt", "-output", work / "sg", "-lr", "0.2"]
            + common)
        run([fasttext, "supervised", "-input", work / "sup.txt", "-output", work / "sup",
             "-wordNgrams", "2"] + common)

        multi = work / "multi.jsonl"
        multi.write_text("".join(json.dumps({"id": f"m{i}", "prompt": r["prompt"],
                                             "response": r["response"]}, ensure_ascii=False) + "\n"
                                 for i, r in enumerate(records)), encoding="utf-8")
        prompts = [r["prompt"] for r in records]
        responses = [r["response"] for r in records]

        worst = {}
        for label, model in (("skipgram", work / "sg.bin"), ("supervised", work / "sup.bin"),
                             ("lid.176.ftz", lid)):
            spec = f"fasttext:{model}"
            ref = {"prompt": cli_vectors(fasttext, model, prompts, work),
                   "response": cli_vectors(fasttext, model, responses, work)}
            # Vectors: the CLI prints 5 significant digits (relative rounding <= 5e-5).
            for field in ("prompt", "response"):
                out = work / f"{field}.npy"
                run([cli, "embed", "--embedder", spec, "--field", field, str(multi), "-o", str(out)])
                got = read_npy_rows(out)
                want = ref[field]
                if got.shape != want.shape:
                    fail(f"{label} {field}: polyglot embed shape {got.shape}, CLI {want.shape}")
                bad = np.abs(got - want) > 5.01e-5 * np.abs(want) + 1e-30
                if bad.any():
                    i, j = np.argwhere(bad)[0]
                    fail(f"{label} {field} vector {i}[{j}]: polyglot {got[i, j]!r}, "
                         f"fasttext print-sentence-vectors {want[i, j]!r} ({bad.sum()} values differ)")
            # distinct-RI through `polyglot score` vs numpy on the CLI's vectors.
            rep = work / "report.json"
            run([cli, "score", str(multi), "--metrics", "distinct_ri", "--embedder", spec,
                 "--quiet", "-o", str(rep)])
            section = json.loads(rep.read_text())["distinct_ri"]
            for field in ("prompt", "response"):
                key = f"{field}s_distinct_ri"
                ours, oracle = section[key], distinct_ri(ref[field])
                diff = abs(ours - oracle)
                worst[f"{label} {key}"] = (ours, oracle, diff)
                if not diff <= TOL:
                    fail(f"{label}: {key} {ours!r} from polyglot score, {oracle!r} from "
                         f"fasttext print-sentence-vectors + numpy (|diff| {diff:.3g} > {TOL})")
        for k, (ours, oracle, diff) in worst.items():
            print(f"{k}: polyglot {ours:.9f}  CLI+numpy {oracle:.9f}  |diff| {diff:.2e}")
    print(f"OK: {len(records)} records, 3 models, vectors and distinct-RI agree with the fastText CLI")


if __name__ == "__main__":
    main()
