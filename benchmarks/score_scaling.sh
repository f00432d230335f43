#!/usr/bin/env bash
# Scoring throughput and memory as the input grows: builds 100k- and 400k-record SFT JSONL
# from the system's .mo translations (LANGS, default de: one language, so both sizes have the
# same kind of text and the same vocabulary; with several languages mo_corpus.py emits them one
# after the other and the bigger file also has more distinct n-grams), runs `polyglot score` with length+lexical+language on
# --threads 2 (override: THREADS=N), and reports records/s and peak RSS (/usr/bin/time -v) at
# both sizes. Peak RSS must stay flat: ingest is chunked, metric states are bounded by the
# vocabulary, not by the number of records.
#   usage: benchmarks/score_scaling.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-${POLYGLOT_BUILD_DIR:-build}}"
BIN="$BUILD/bin/polyglot"
THREADS="${THREADS:-2}"
SIZES="${SIZES:-100000 400000}"
LANGS="${LANGS:-de}"
WORK="${WORK:-$(mktemp -d)}"
[ -x "$BIN" ] || { echo "score_scaling.sh: $BIN not built" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "score_scaling.sh: needs /usr/bin/time (apt install time)" >&2; exit 1; }
# CPU s = user + sys of the whole process: on a shared machine, records per CPU second is the
# steadier figure (wall time includes waiting for cores other jobs hold).
printf "%-9s %6s %9s %11s %8s %13s %12s %8s %s\n" records MB seconds records/s "CPU s" "records/CPU-s" \
  "peak RSS MB" threads load
for n in $SIZES; do
  f="$WORK/sft_${LANGS//,/-}_$n.jsonl"
  [ -s "$f" ] || /usr/bin/python3 scripts/mo_corpus.py jsonl --records "$n" --langs "$LANGS" >"$f"
  /usr/bin/time -v "$BIN" score "$f" --metrics length,lexical,language --threads "$THREADS" \
      --quiet -o "$WORK/report_$n.json" 2>"$WORK/time_$n.txt"
  secs=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metadata']['elapsed_seconds'])" "$WORK/report_$n.json")
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$WORK/time_$n.txt")
  cpu=$(awk -F: '/User time|System time/ {s += $2} END {print s}' "$WORK/time_$n.txt")
  mb=$(du -m "$f" | cut -f1)
  python3 -c "import sys; n,s,c,r,mb,t,l=sys.argv[1:]; n=int(n); print(f'{n:<9} {int(mb):>6} {float(s):>9.2f} {n/float(s):>11.0f} {float(c):>8.2f} {n/float(c):>13.0f} {int(r)/1024:>12.1f} {t:>8} {l}')" \
      "$n" "$secs" "$cpu" "$rss" "$mb" "$THREADS" "$(cut -d' ' -f1 /proc/loadavg)"
done
echo "(inputs and reports in $WORK)"
