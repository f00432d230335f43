#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# distinct-RI over a large float16 .npy: `polyglot distinct-ri` (mmap, streamed, flat memory) vs.
# numpy doing the same O(N*d) computation in blocks over np.load(mmap_mode='r').
#
#   benchmarks/distinct_ri_npy.sh [POLYGLOT_BIN] [ROWS] [DIM] [THREADS]
#
# Generates /tmp/polyglot-bench-emb.npy (1.4M x 1024 float16 = 2.9 GB by default), runs both
# under /usr/bin/time -v (peak RSS), prints GB/s, and deletes the file at the end.
set -euo pipefail
BIN=${1:-build/bin/polyglot}
ROWS=${2:-1400000}
DIM=${3:-1024}
THREADS=${4:-2}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
NPY=${NPY:-/tmp/polyglot-bench-emb.npy}
trap 'rm -f "$NPY" /tmp/polyglot-bench-time.$$' EXIT

echo "# generating $NPY ($ROWS x $DIM float16)"
"$PY" "$HERE/make_npy.py" "$NPY" --rows "$ROWS" --dim "$DIM" --dtype f2
BYTES=$(stat -c %s "$NPY")
echo "# file: $BYTES bytes"

measure() {  # name, command...
    local name=$1
    shift
    # Warm the page cache the same way for both (the file was just written, mostly cached).
    /usr/bin/time -v -o /tmp/polyglot-bench-time.$$ "$@" >/tmp/polyglot-bench-out.$$
    local secs rss
    secs=$(grep 'Elapsed (wall clock)' /tmp/polyglot-bench-time.$$ | awk '{print $NF}' |
           awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(grep 'Maximum resident set size' /tmp/polyglot-bench-time.$$ | awk '{print $NF}')
    printf '%-22s %8.2f s  %7.2f GB/s  peak RSS %7.1f MB  -> %s\n' "$name" "$secs" \
        "$(echo "$BYTES / $secs / 1000000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)" \
        "$(tr -d '\n' </tmp/polyglot-bench-out.$$)"
    rm -f /tmp/polyglot-bench-out.$$
}

measure "polyglot distinct-ri" "$BIN" distinct-ri "$NPY" --json --threads "$THREADS"
# Cold: the previous run with --drop-cache evicted the file from the page cache behind it, so
# this one reads from disk (what a file larger than RAM sees).
"$BIN" distinct-ri "$NPY" --json --threads "$THREADS" --drop-cache >/dev/null
measure "polyglot (cold cache)" "$BIN" distinct-ri "$NPY" --json --threads "$THREADS"
measure "polyglot, 1 thread" "$BIN" distinct-ri "$NPY" --json --threads 1
measure "numpy (blocks)" env OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" "$PY" - "$NPY" <<'PYEOF'
import sys, numpy as np
a = np.load(sys.argv[1], mmap_mode="r")
n, d = a.shape
s = np.zeros(d, dtype=np.float64)
nz = 0
for i in range(0, n, 65536):
    b = np.asarray(a[i:i + 65536], dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", b, b, dtype=np.float64))
    ok = np.isfinite(norms) & (norms > 0)
    nz += int(ok.sum())
    s += (b[ok].astype(np.float64) / norms[ok, None]).sum(axis=0)
print('{"distinct_ri":%r,"n":%d,"dim":%d,"nonzero":%d}' % (1 - (s @ s - nz) / (n * (n - 1)), n, d, nz))
PYEOF
