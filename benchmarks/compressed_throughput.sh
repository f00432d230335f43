#!/usr/bin/env bash
# Scoring throughput of the same records read as plain JSONL, .jsonl.zst and .jsonl.gz
# (issue 14: .zst within 15% of plain). Runs the three in turn REPEAT times (alternating, so
# a change in machine load hits all three alike) and prints the median wall and CPU seconds,
# records per second, peak RSS and the ratio to plain, with the load average of each run.
#   usage: benchmarks/compressed_throughput.sh [BUILD_DIR] [FILE.jsonl]
#     no FILE: RECORDS (default 1400000) records from scripts/mo_corpus.py (LANGS, default
#     ar,cs,de,es,id,ja) in WORK.
#   env: THREADS=2 REPEAT=3 METRICS=length,lexical,language WORK=$(mktemp -d)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
BIN="$BUILD/bin/polyglot"
THREADS="${THREADS:-2}"
REPEAT="${REPEAT:-3}"
METRICS="${METRICS:-length,lexical,language}"
WORK="${WORK:-$(mktemp -d)}"
[ -x "$BIN" ] || { echo "compressed_throughput.sh: $BIN not built" >&2; exit 1; }
for t in zstd gzip /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "compressed_throughput.sh: needs $t (scripts/bootstrap)" >&2; exit 1; }
done
f="${2:-}"
if [ -z "$f" ]; then
  f="$WORK/mo_${RECORDS:-1400000}.jsonl"
  [ -s "$f" ] || /usr/bin/python3 scripts/mo_corpus.py jsonl --records "${RECORDS:-1400000}" \
      --langs "${LANGS:-ar,cs,de,es,id,ja}" >"$f"
fi
[ -s "$f.zst" ] || zstd -q -f "$f" -o "$f.zst"
[ -s "$f.gz" ] || gzip -c "$f" >"$f.gz"
n=$(wc -l <"$f")
echo "input: $f ($n lines; $(du -m "$f" | cut -f1) MB plain, $(du -m "$f.zst" | cut -f1) MB zst, $(du -m "$f.gz" | cut -f1) MB gz)"
: >"$WORK/runs.tsv"
for r in $(seq 1 "$REPEAT"); do
  for kind in plain zst gz; do
    in="$f"; [ "$kind" = plain ] || in="$f.$kind"
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$BIN" score "$in" --metrics "$METRICS" \
      --threads "$THREADS" --quiet -o "$WORK/report_$kind.json"
    read -r wall user sys rss <"$WORK/time.txt"
    echo -e "$kind\t$r\t$wall\t$user\t$sys\t$rss\t$load" >>"$WORK/runs.tsv"
  done
done
# The reports must agree (apart from the input name and timing).
for kind in zst gz; do
  diff <(grep -v '"elapsed_seconds"\|jsonl' "$WORK/report_plain.json") \
       <(grep -v '"elapsed_seconds"\|jsonl' "$WORK/report_$kind.json") >/dev/null ||
    { echo "compressed_throughput.sh: the $kind report differs from plain's" >&2; exit 1; }
done
/usr/bin/python3 - "$WORK/runs.tsv" "$n" <<'EOF'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
n = int(sys.argv[2])
med = {}
print(f"{'input':<6} {'wall s':>8} {'CPU s':>8} {'records/s':>10} {'rec/CPU-s':>10} {'RSS MB':>7} {'loads':>16}  vs plain (wall, CPU)")
for kind in ("plain", "zst", "gz"):
    rs = [r for r in rows if r[0] == kind]
    wall = statistics.median(float(r[2]) for r in rs)
    cpu = statistics.median(float(r[3]) + float(r[4]) for r in rs)
    rss = max(int(r[5]) for r in rs) / 1024
    med[kind] = (wall, cpu)
    loads = ",".join(r[6] for r in rs)
    ratio = f"{wall / med['plain'][0]:.3f}, {cpu / med['plain'][1]:.3f}"
    print(f"{kind:<6} {wall:>8.2f} {cpu:>8.2f} {n / wall:>10.0f} {n / cpu:>10.0f} {rss:>7.1f} {loads:>16}  {ratio}")
EOF
echo "(inputs and runs in $WORK)"
