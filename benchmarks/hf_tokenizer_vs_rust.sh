#!/usr/bin/env bash
# polyglot's Hugging Face tokenizer vs HF's Rust `tokenizers` 0.23.2 (npm N-API binding,
# encodeBatch) on the same lines, side by side in one run.
#
#   benchmarks/hf_tokenizer_vs_rust.sh [BUILD_DIR]      (default: build)
#
# Environment: TOKENIZERS ("gemma3 qwen3 llama3": names under $DATA/test-assets, fetched by
#              scripts/fetch-test-assets), CORPUS_MB (12), RUNS (3), BENCH_CACHE
#              (${XDG_CACHE_HOME:-~/.cache}/polyglot/bench), POLYGLOT (the CLI binary).
# For each tokenizer:
#  1. Rust: benchmarks/hf_tokenizers_node.mjs, encodeBatch over batches of 4096 lines
#     (add_special_tokens=false), RAYON_NUM_THREADS=1 and =2, one warm-up pass, RUNS timed
#     passes (wall and process CPU time; file reading excluded);
#  2. polyglot: `polyglot tokenize --tokenizer DIR --count --timing --threads 1` and `2`, RUNS
#     processes each (the binary's own wall / CPU time of the tokenizing phase: loading, input
#     and output excluded);
#  3. checks every line's token count is the same in both, and prints MB/s from the median
#     wall time and from the median CPU time (for a machine shared with other jobs), the
#     ratios, and the load average. Exit status 1 if counts differ.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-${BUILD_DIR:-$ROOT/build}}"
POLYGLOT="${POLYGLOT:-$BUILD/bin/polyglot}"
TOKENIZERS="${TOKENIZERS:-gemma3 qwen3 llama3}"
CORPUS_MB="${CORPUS_MB:-12}"
RUNS="${RUNS:-3}"
DATA="${POLYGLOT_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/polyglot}"
NODE_MODULES="$DATA/test-assets/node/node_modules"
CACHE="${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polyglot/bench}"
source "$ROOT/benchmarks/bench_common.sh"
require_polyglot
[[ -f "$NODE_MODULES/tokenizers/index.js" ]] || { echo "run scripts/fetch-test-assets first" >&2; exit 2; }
bench_corpus "$CACHE" "$CORPUS_MB"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
jsonl() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(r[process.argv[2]].join("\n"))' "$1" "$2"; }

status=0
echo "corpus: $corpus ($(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB); $(nproc) cores; median of $RUNS runs"
printf "%-12s %-30s %9s %9s %10s %10s  %s\n" tokenizer "" wall_s cpu_s "MB/s wall" "MB/s cpu" "load (1/5/15 min)"
for name in $TOKENIZERS; do
  dir="$DATA/test-assets/$name"
  [[ -s "$dir/tokenizer.json" ]] || { echo "missing $dir/tokenizer.json: run scripts/fetch-test-assets" >&2; exit 2; }
  declare -A ws cs
  for threads in 1 2; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    RAYON_NUM_THREADS=$threads node "$ROOT/benchmarks/hf_tokenizers_node.mjs" "$NODE_MODULES" \
      "$dir/tokenizer.json" "$corpus" "$RUNS" "$tmp/rust_counts.txt" > "$tmp/rust.json"
    ws[rust$threads]=$(jsonl "$tmp/rust.json" seconds | median)
    cs[rust$threads]=$(jsonl "$tmp/rust.json" cpu_seconds | median)
    printf "%-12s %-30s %9.3f %9.3f %10.2f %10.2f  %s\n" "$name" "rust tokenizers ($threads thr)" \
      "${ws[rust$threads]}" "${cs[rust$threads]}" "$(awk -v b="$bytes" -v s="${ws[rust$threads]}" 'BEGIN{print b/1e6/s}')" \
      "$(awk -v b="$bytes" -v s="${cs[rust$threads]}" 'BEGIN{print b/1e6/s}')" "$load"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    read -r w c < <(polyglot_tokenize_medians "$tmp" "$dir" "$threads")
    ws[pg$threads]=$w
    cs[pg$threads]=$c
    printf "%-12s %-30s %9.3f %9.3f %10.2f %10.2f  %s\n" "$name" "polyglot tokenize ($threads thr)" \
      "${ws[pg$threads]}" "${cs[pg$threads]}" "$(awk -v b="$bytes" -v s="${ws[pg$threads]}" 'BEGIN{print b/1e6/s}')" \
      "$(awk -v b="$bytes" -v s="${cs[pg$threads]}" 'BEGIN{print b/1e6/s}')" "$load"
    if ! cmp -s "$tmp/pg_counts.txt" "$tmp/rust_counts.txt"; then
      echo "MISMATCH ($name): per-line token counts differ:" >&2
      diff <(nl -ba "$tmp/pg_counts.txt") <(nl -ba "$tmp/rust_counts.txt") | head -6 >&2
      status=1
    fi
  done
  awk -v n="$name" -v r1="${ws[rust1]}" -v p1="${ws[pg1]}" -v r2="${ws[rust2]}" -v p2="${ws[pg2]}" \
      -v cr1="${cs[rust1]}" -v cp1="${cs[pg1]}" -v cp2="${cs[pg2]}" 'BEGIN {
    printf "%-12s ratio polyglot/rust: %.1fx wall (1 thr), %.1fx wall (2 thr), %.1fx cpu (1 thr); polyglot 2 thr vs 1: %.2fx wall, cpu %.2f/%.2f s\n",
      n, r1 / p1, r2 / p2, cr1 / cp1, p1 / p2, cp1, cp2 }'
  unset ws cs
done
exit $status
