#!/usr/bin/env bash
# Scoring throughput and memory as the input grows (issue 14: 1.4M records in < 60 s wall on
# 2 cores, peak RSS at 1.4M within 10 % of that at 100k). Builds the largest of SIZES SFT
# records from the system's .mo translations (scripts/mo_corpus.py; LANGS, default the paper's
# six ar,cs,de,es,id,ja) and each smaller size as an evenly spaced sample of it (every k-th
# record), so every size has the same language mix; runs `polyglot score` with
# length+lexical+language on --threads 2 (THREADS=N) REPEAT times per size, sizes alternating,
# under /usr/bin/time -v, and prints each run and the medians: wall s, records/s, CPU s
# (user + sys), peak RSS, and the distinct bigram counts the lexical metric holds (its sets
# are what grows with the vocabulary; nothing grows with the record count).
#   usage: benchmarks/score_scaling.sh [BUILD_DIR]     (default: build)
#   env: SIZES="100000 1400000" LANGS=... THREADS=2 REPEAT=3 WORK=$(mktemp -d)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-${POLYGLOT_BUILD_DIR:-build}}"
BIN="$BUILD/bin/polyglot"
THREADS="${THREADS:-2}"
SIZES="${SIZES:-100000 1400000}"
LANGS="${LANGS:-ar,cs,de,es,id,ja}"
REPEAT="${REPEAT:-3}"
WORK="${WORK:-$(mktemp -d)}"
[ -x "$BIN" ] || { echo "score_scaling.sh: $BIN not built" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "score_scaling.sh: needs /usr/bin/time (apt install time)" >&2; exit 1; }

max=0
for n in $SIZES; do [ "$n" -gt "$max" ] && max=$n; done
big="$WORK/sft_${LANGS//,/-}_$max.jsonl"
[ -s "$big" ] || /usr/bin/python3 scripts/mo_corpus.py jsonl --records "$max" --langs "$LANGS" >"$big"
for n in $SIZES; do
  f="$WORK/sft_${LANGS//,/-}_$n.jsonl"
  [ "$n" -eq "$max" ] || [ -s "$f" ] || awk -v k=$((max / n)) -v n="$n" \
      'NR % k == 0 && c < n { print; c++ }' "$big" >"$f"
done

rows="$WORK/runs.tsv"
: >"$rows"
printf "%-9s %6s %9s %11s %8s %12s %9s %9s %s\n" records MB "wall s" records/s "CPU s" \
  "peak RSS MB" "p bigrams" "r bigrams" load
for _ in $(seq 1 "$REPEAT"); do
  for n in $SIZES; do
    f="$WORK/sft_${LANGS//,/-}_$n.jsonl"
    /usr/bin/time -v "$BIN" score "$f" --metrics length,lexical,language --threads "$THREADS" \
        --quiet -o "$WORK/report_$n.json" 2>"$WORK/time_$n.txt"
    /usr/bin/python3 - "$n" "$f" "$WORK/report_$n.json" "$WORK/time_$n.txt" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$rows" <<'EOF'
import json, os, re, sys
n, f, report, timing, load = sys.argv[1:]
t = open(timing).read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", t)
wall = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", t))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
lex = json.load(open(report))["lexical"]
print("\t".join(map(str, [n, os.path.getsize(f) // 2**20, wall, cpu, rss,
                          lex["prompts_unique_bigrams"], lex["responses_unique_bigrams"], load])))
EOF
    tail -1 "$rows" | awk -F'\t' '{printf "%-9s %6s %9.2f %11.0f %8.2f %12.1f %9s %9s %s\n",
      $1, $2, $3, $1 / $3, $4, $5, $6, $7, $8}'
  done
done
echo "medians over $REPEAT runs:"
/usr/bin/python3 - "$rows" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    n, mb, wall, cpu, rss, pb, rb, load = line.split("\t")
    runs.setdefault(int(n), []).append((float(wall), float(cpu), float(rss), pb, rb, mb))
base = None
for n in sorted(runs):
    r = runs[n]
    wall, cpu, rss = (statistics.median(x[i] for x in r) for i in range(3))
    base = base or rss
    print(f"{n:<9} {r[0][5]:>4} MB  wall {wall:7.2f} s  {n / wall:9.0f} records/s  CPU {cpu:7.2f} s"
          f"  peak RSS {rss:6.1f} MB ({100 * (rss / base - 1):+.1f} % vs {min(runs)})"
          f"  bigrams {r[0][3]} / {r[0][4]}")
EOF
echo "(inputs and reports in $WORK)"
