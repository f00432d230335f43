#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Chat-template rendering, polyglot vs Python's jinja2 configured as transformers'
apply_chat_template (tests/oracles/chat_template_oracle.py), on the same 100k two-turn
conversations as bench_chat_template (system + user + assistant, 16 scripts), Qwen3's template:

  /usr/bin/python3 benchmarks/chat_template_vs_jinja2.py [BUILD_DIR] [N]

jinja2 renders in this process (the compiled template reused, as transformers' lru_cache does);
polyglot runs `polyglot render-chat` on a JSONL file of the same conversations (reading, JSON
parsing and writing included). Prints CPU seconds of each (user + sys), conversations per CPU
second, the ratio, checks that both produced the same texts, and the load average.
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "oracles"))
import chat_template_oracle as oracle  # noqa: E402

SENTENCES_FILE = os.path.join(ROOT, "benchmarks", "data", "multilingual_sentences.json")


def sentences():
    with open(SENTENCES_FILE, encoding="utf-8") as f:
        return json.load(f)


def conversations(n):
    SENTENCES = sentences()
    x = 0x9E3779B97F4A7C15
    mask = (1 << 64) - 1

    def nxt():
        nonlocal x
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        return x

    out = []
    for i in range(n):
        user = SENTENCES[nxt() % len(SENTENCES)] + f" (#{i})"
        answer = SENTENCES[nxt() % len(SENTENCES)] + " " + SENTENCES[nxt() % len(SENTENCES)]
        out.append([
            {"role": "system",
             "content": "You are a helpful assistant. Answer in the user's language."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ])
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    data = os.environ.get("POLYGLOT_DATA_DIR",
                          os.path.join(os.environ.get("XDG_CACHE_HOME",
                                                      os.path.expanduser("~/.cache")), "polyglot"))
    model = os.path.join(data, "test-assets", "qwen3")
    convs = conversations(n)
    source, special = oracle.model_dir_inputs(model, None)
    template = oracle.ENV.from_string(source)

    t0 = time.process_time()
    ours_expected = [template.render(messages=c, tools=None, documents=None,
                                     add_generation_prompt=False, **special) for c in convs]
    jinja_cpu = time.process_time() - t0

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "conv.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for c in convs:
                f.write(json.dumps({"messages": c}, ensure_ascii=False) + "\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run([os.path.join(build, "bin", "polyglot"), "render-chat",
                            "--tokenizer", model, path], capture_output=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    got = [json.loads(l) for l in p.stdout.decode("utf-8").split("\n") if l]
    same = got == ours_expected
    print(f"conversations {n}, load average {os.getloadavg()[0]:.1f}")
    print(f"jinja2 (transformers' environment): {jinja_cpu:.2f} CPU s, "
          f"{n / jinja_cpu:,.0f} conversations/CPU s")
    print(f"polyglot render-chat:               {ours_cpu:.2f} CPU s, "
          f"{n / ours_cpu:,.0f} conversations/CPU s")
    print(f"ratio: {jinja_cpu / ours_cpu:.1f}x; identical texts: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
