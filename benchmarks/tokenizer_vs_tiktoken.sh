#!/usr/bin/env bash
# polyglot's tiktoken tokenizer vs npm tiktoken@1.0.22 (WASM, in Node) on the same lines.
#
#   benchmarks/tokenizer_vs_tiktoken.sh [BUILD_DIR]      (default: build)
#
# Environment: TOKENIZER (cl100k_base), CORPUS_MB (18), RUNS (3),
#              BENCH_CACHE (${XDG_CACHE_HOME:-~/.cache}/polyglot/bench), POLYGLOT (the CLI binary).
# One run does everything:
#  1. corpus: `scripts/mo_corpus.py lines` (real translations from the system's .mo files),
#     truncated to CORPUS_MB on a line boundary (cached in BENCH_CACHE);
#  2. installs npm tiktoken@1.0.22 into BENCH_CACHE/node (once);
#  3. Node: encode_ordinary over every line, single thread, after a warm-up pass, file read
#     excluded (benchmarks/tiktoken_node.mjs), RUNS timed passes;
#  4. polyglot: `polyglot tokenize --count --timing --threads 1` and `--threads 2`, RUNS
#     processes each; the time is the binary's own measurement of the tokenizing phase
#     (hidden --timing flag: wall clock, excluding table loading, input and output);
#  5. checks that every line has the same token count in both (diff of the per-line counts),
#     and prints MB/s (MB = 10^6 bytes of the corpus file) from the median of the runs, and the
#     ratios. Exit status 1 if the counts differ.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-${BUILD_DIR:-$ROOT/build}}"
POLYGLOT="${POLYGLOT:-$BUILD/bin/polyglot}"
TOKENIZER="${TOKENIZER:-cl100k_base}"
CORPUS_MB="${CORPUS_MB:-18}"
RUNS="${RUNS:-3}"
CACHE="${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/polyglot/bench}"
source "$ROOT/benchmarks/bench_common.sh"
require_polyglot
command -v node >/dev/null || { echo "node not found" >&2; exit 2; }
bench_corpus "$CACHE" "$CORPUS_MB"

nodedir="$CACHE/node"
if [[ ! -f "$nodedir/node_modules/tiktoken/package.json" ]] ||
   ! grep -q '"version": "1.0.22"' "$nodedir/node_modules/tiktoken/package.json"; then
  echo "installing npm tiktoken@1.0.22 into $nodedir ..." >&2
  npm install --silent --no-audit --no-fund --prefix "$nodedir" tiktoken@1.0.22 >&2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "node: npm tiktoken@1.0.22 encode_ordinary, $RUNS passes ..." >&2
NODE_PATH="$nodedir/node_modules" node "$ROOT/benchmarks/tiktoken_node.mjs" "$corpus" "$TOKENIZER" \
  "$RUNS" "$tmp/node_counts.txt" > "$tmp/node.json"
node_s=$(node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(r.seconds.join("\n"))' \
  "$tmp/node.json" | median)
node_tokens=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).tokens)' "$tmp/node.json")

declare -A pg_s pg_cpu
for threads in 1 2; do
  read -r w c < <(polyglot_tokenize_medians "$tmp" "$TOKENIZER" "$threads")
  pg_s[$threads]=$w
  pg_cpu[$threads]=$c
done
pg_tokens=$(awk '{s += $1} END {print s}' "$tmp/pg_counts.txt")

status=0
if ! cmp -s "$tmp/pg_counts.txt" "$tmp/node_counts.txt"; then
  echo "MISMATCH: per-line token counts differ (first differing lines):" >&2
  diff <(nl -ba "$tmp/pg_counts.txt") <(nl -ba "$tmp/node_counts.txt") | head -10 >&2
  status=1
fi

awk -v b="$bytes" -v ns="$node_s" -v s1="${pg_s[1]}" -v s2="${pg_s[2]}" -v c1="${pg_cpu[1]}" \
    -v c2="${pg_cpu[2]}" -v nt="$node_tokens" -v pt="$pg_tokens" -v tok="$TOKENIZER" \
    -v runs="$RUNS" -v corpus="$corpus" -v host="$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
  mb = b / 1e6
  printf "corpus: %s (%.1f MB), tokenizer %s, median of %d runs; machine: %s\n", corpus, mb, tok, runs, host
  printf "tokens: polyglot %d, node %d (%s)\n", pt, nt, (pt == nt ? "equal" : "DIFFERENT")
  printf "%-34s %10s %10s %12s\n", "", "seconds", "MB/s", "Mtokens/s"
  printf "%-34s %10.3f %10.1f %12.2f\n", "npm tiktoken 1.0.22 (node, 1 thr)", ns, mb / ns, nt / ns / 1e6
  printf "%-34s %10.3f %10.1f %12.2f   (cpu %.3f s)\n", "polyglot tokenize --threads 1", s1, mb / s1, pt / s1 / 1e6, c1
  printf "%-34s %10.3f %10.1f %12.2f   (cpu %.3f s)\n", "polyglot tokenize --threads 2", s2, mb / s2, pt / s2 / 1e6, c2
  printf "ratio polyglot/node: %.1fx (1 thread), %.1fx (2 threads); 2 threads vs 1: %.2fx\n", ns / s1, ns / s2, s1 / s2
}'
exit $status
