# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the tokenizer benchmark scripts (sourced; ROOT must be set).

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
