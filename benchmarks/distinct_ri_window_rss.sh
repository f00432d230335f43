#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Peak resident memory of `polyglot distinct-ri` on a .npy file much larger than its window:
# it should stay at about one window plus the runtime whatever the file size (formerly asserted
# in tests/plugins/distinct_ri_cli_test.cpp; a measurement belongs here, not in a unit test).
#
#   benchmarks/distinct_ri_window_rss.sh [POLYGLOT_BIN] [ROWS] [DIM]
#
# Writes /tmp/polyglot-bench-rss.npy (96K x 1024 float16 = 192 MB by default) with
# benchmarks/make_npy.py, runs the CLI under /usr/bin/time -v for a few --window-mb values and
# prints peak RSS against the file size; deletes the file at the end.
set -euo pipefail
BIN=${1:-build/bin/polyglot}
ROWS=${2:-98304}
DIM=${3:-1024}
HERE=$(cd "$(dirname "$0")" && pwd)
NPY=${NPY:-/tmp/polyglot-bench-rss.npy}
T=$(mktemp)
trap 'rm -f "$NPY" "$T"' EXIT

/usr/bin/python3 "$HERE/make_npy.py" "$NPY" --rows "$ROWS" --dim "$DIM" --dtype f2 >/dev/null
BYTES=$(stat -c %s "$NPY")
printf '# %s: %d x %d float16, %.1f MB; load average %s\n' "$NPY" "$ROWS" "$DIM" \
    "$(echo "$BYTES / 1048576" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
for W in 4 8 32; do
    for THREADS in 1 2; do
        /usr/bin/time -v -o "$T" "$BIN" distinct-ri "$NPY" --json --window-mb "$W" \
            --threads "$THREADS" >/dev/null
        RSS=$(grep 'Maximum resident set size' "$T" | awk '{print $NF}')
        printf 'window %3d MB, %d thread(s): peak RSS %6.1f MB (%.3f of the file)\n' "$W" \
            "$THREADS" "$(echo "$RSS / 1024" | bc -l)" "$(echo "$RSS * 1024 / $BYTES" | bc -l)"
    done
done
