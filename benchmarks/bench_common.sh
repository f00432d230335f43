# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the tokenizer benchmark scripts (sourced; ROOT must be set, and POLYGLOT
# and RUNS where the functions below use them).

# mo_corpus_file CACHE_DIR MB: prints the path of `scripts/mo_corpus.py lines` cut to MB
# megabytes (10^6 bytes) on a line boundary, built once and cached in CACHE_DIR.
mo_corpus_file() {
  local cache=$1 mb=$2 corpus="$1/mo_lines_${2}MB.txt"
  if [[ ! -s "$corpus" ]]; then
    echo "building corpus $corpus ..." >&2
    /usr/bin/python3 "$ROOT/scripts/mo_corpus.py" lines > "$corpus.full"
    head -c "$((mb * 1000000))" "$corpus.full" | LC_ALL=C sed '$d' > "$corpus.tmp"
    mv "$corpus.tmp" "$corpus"
    rm -f "$corpus.full"
  fi
  echo "$corpus"
}

# median: the median of the numbers on stdin, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# require_polyglot: exits 2 unless $POLYGLOT is an executable (the CLI binary).
require_polyglot() {
  [[ -x "$POLYGLOT" ]] || { echo "no polyglot binary at $POLYGLOT (build it, or pass BUILD_DIR)" >&2; exit 2; }
}

# bench_corpus CACHE MB: creates CACHE and sets `corpus` (mo_corpus_file CACHE MB) and `bytes`
# (its size).
bench_corpus() {
  mkdir -p "$1"
  corpus=$(mo_corpus_file "$1" "$2")
  bytes=$(stat -c %s "$corpus")
}

# polyglot_tokenize_medians TMP TOKENIZER THREADS: runs `$POLYGLOT tokenize --tokenizer TOKENIZER
# --count --timing --threads THREADS $corpus` RUNS times, leaves the per-line counts in
# TMP/pg_counts.txt and prints "WALL CPU": the medians of the binary's own wall and CPU seconds
# of the tokenizing phase (hidden --timing flag: loading, input and output excluded).
polyglot_tokenize_medians() {
  local tmp=$1 tokenizer=$2 threads=$3 r
  : > "$tmp/pg_wall.txt"; : > "$tmp/pg_cpu.txt"
  for ((r = 0; r < RUNS; ++r)); do
    "$POLYGLOT" tokenize --tokenizer "$tokenizer" --count --timing --threads "$threads" "$corpus" \
      > "$tmp/pg_counts.txt" 2> "$tmp/err.txt"
    awk '/^tokenize_seconds/ {print $2}' "$tmp/err.txt" >> "$tmp/pg_wall.txt"
    awk '/^tokenize_cpu_seconds/ {print $2}' "$tmp/err.txt" >> "$tmp/pg_cpu.txt"
  done
  echo "$(median < "$tmp/pg_wall.txt") $(median < "$tmp/pg_cpu.txt")"
}
