#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Peak memory of scoring (perplexity) with a bf16 checkpoint, against the checkpoint's size
# (issue 18: ≤ 1.1×). Builds the ~150M random Llama in bf16 (make_random_llama.py) with the
# tiny-llama fixture's tokenizer, 40 records of 60 + 200 words, runs
#   polyglot score IN --metrics perplexity --lm MODEL --threads 2
# under /usr/bin/time -v with the default backend selection (auto: every plugin is probed, as
# a user's run does) and with --backend cpu, and prints peak RSS / model.safetensors size.
#   usage: benchmarks/score_memory.sh [BUILD_DIR]     (default: build; WORK=DIR keeps inputs)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-${POLYGLOT_BUILD_DIR:-build}}"
BIN="$BUILD/bin/polyglot"
THREADS="${THREADS:-2}"
WORK="${WORK:-$(mktemp -d)}"
FIXTURE=../shared/fixtures/models/tiny-llama
[ -x "$BIN" ] || { echo "score_memory.sh: $BIN not built" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "score_memory.sh: needs /usr/bin/time (apt install time)" >&2; exit 1; }
[ -s "$FIXTURE/tokenizer.json" ] || { echo "score_memory.sh: $FIXTURE/tokenizer.json missing" >&2; exit 1; }

model="$WORK/llama150m-bf16"
if [ ! -s "$model/model.safetensors" ]; then
  /usr/bin/python3 benchmarks/make_random_llama.py "$model" --dtype bf16 >/dev/null
  cp "$FIXTURE/tokenizer.json" "$FIXTURE/tokenizer_config.json" "$model/"
fi
in="$WORK/in.jsonl"
[ -s "$in" ] || /usr/bin/python3 - "$in" <<'EOF'
import json, random, sys
words = "the house river Haus Baum Wasser Licht und oder nicht klein gross schnell".split()
rng = random.Random(0)
with open(sys.argv[1], "w") as f:
    for _ in range(40):
        f.write(json.dumps({"prompt": " ".join(rng.choice(words) for _ in range(60)),
                            "response": " ".join(rng.choice(words) for _ in range(200))}) + "\n")
EOF

size=$(stat -c %s "$model/model.safetensors")
printf "%-14s %12s %14s %8s %9s %s\n" backend "peak RSS MB" "checkpoint MB" ratio seconds load
for backend in auto cpu; do
  /usr/bin/time -v "$BIN" score "$in" --metrics perplexity --lm "$model" --backend "$backend" \
      --threads "$THREADS" --quiet -o "$WORK/report_$backend.json" 2>"$WORK/time_$backend.txt"
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$WORK/time_$backend.txt")
  secs=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metadata']['elapsed_seconds'])" \
      "$WORK/report_$backend.json")
  python3 -c "import sys; b,r,s,t,l=sys.argv[1:]; r=int(r)*1024; s=int(s); print(f'{b:<14} {r/1e6:>12.1f} {s/1e6:>14.1f} {r/s:>8.3f} {float(t):>9.1f} {l}')" \
      "$backend" "$rss" "$size" "$secs" "$(cut -d' ' -f1 /proc/loadavg)"
done
echo "(model, input and reports in $WORK)"
