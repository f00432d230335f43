#!/usr/bin/env bash
# One run vs SHARDS shards merged vs `mpirun -n RANKS` (issue 14): the three reports must be
# identical apart from timing fields (elapsed_seconds, threads) and the three per-instance
# files byte-identical. Prints wall and CPU seconds of each step and the load average.
#
#   usage: benchmarks/shard_identity.sh [INPUT...]
#     no INPUT: RECORDS (default 1000000) SFT records built from the system's .mo translations
#     (scripts/mo_corpus.py, LANGS default ar,cs,de,es,id,ja) in WORK (not kept in the repo).
#   env: BUILD      build dir with bin/polyglot (default build)
#        MPI_BUILD  a -DPOLYGLOT_MPI=ON build dir; without it the MPI run is skipped, unless
#                   REQUIRE_MPI=1 (then it is an error)
#        OPTS       polyglot score options (default: the model-free metrics)
#        SHARDS=8 RANKS=4 THREADS=2 (per process) WORK=$(mktemp -d) KEEP=1 (keep WORK)
# The CI suite runs this on examples/sft/*.jsonl when built with -DPOLYGLOT_MPI=ON (ctest
# mpi_identity_*); the ≥ 1M-record runs are in benchmarks/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="$(cd "${BUILD:-build}" && pwd)"
BIN="$BUILD/bin/polyglot"
SHARDS="${SHARDS:-8}"
RANKS="${RANKS:-4}"
THREADS="${THREADS:-2}"
OPTS="${OPTS:---metrics length,lexical,language}"
own_work=0
[ -z "${WORK:-}" ] && { WORK=$(mktemp -d); own_work=1; }
mkdir -p "$WORK"
[ -x "$BIN" ] || { echo "shard_identity.sh: $BIN not built" >&2; exit 1; }
export POLYGLOT_PLUGIN_PATH="$BUILD/plugins"

inputs=("$@")
if [ "${#inputs[@]}" -eq 0 ]; then
  records="${RECORDS:-1000000}"
  f="$WORK/mo_${records}.jsonl"
  [ -s "$f" ] || /usr/bin/python3 scripts/mo_corpus.py jsonl --records "$records" \
      --langs "${LANGS:-ar,cs,de,es,id,ja}" >"$f"
  inputs=("$f")
fi

# step NAME CMD...: runs CMD, prints wall, user+sys CPU seconds and the load average.
step() {
  local name=$1; shift
  local t0 t1 c0 c1
  t0=$(date +%s.%N)
  c0=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$$/stat")
  "$@"
  t1=$(date +%s.%N)
  c1=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$$/stat")
  awk -v n="$name" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
      -v c="$(( c1 - c0 ))" -v hz="$(getconf CLK_TCK)" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" \
      'BEGIN {printf "%-28s %8.2f s wall %8.2f s CPU   load %s\n", n, w, c / hz, l}'
}
mask() { grep -v '"elapsed_seconds"\|"threads"' "$1"; }

echo "inputs: ${inputs[*]} ($(cat "${inputs[@]}" | wc -l) lines); options: $OPTS"
# shellcheck disable=SC2086
step "one run" "$BIN" score "${inputs[@]}" $OPTS --threads "$THREADS" --quiet \
  -o "$WORK/single.json" --per-instance "$WORK/single.jsonl"

run_shards() {
  for k in $(seq 1 "$SHARDS"); do
    # shellcheck disable=SC2086
    "$BIN" score "${inputs[@]}" $OPTS --threads "$THREADS" --quiet --shard "$k/$SHARDS" \
      --state-out "$WORK/shard_$k.state" --per-instance "$WORK/shard_$k.jsonl"
  done
  "$BIN" merge "$WORK"/shard_*.state --quiet -o "$WORK/merged.json" \
    --per-instance "$WORK/merged.jsonl"
}
step "$SHARDS shards + merge" run_shards

status=0
compare() {  # compare NAME REPORT INSTANCES
  if diff <(mask "$WORK/single.json") <(mask "$2") >"$WORK/$1.diff" && cmp -s "$WORK/single.jsonl" "$3"; then
    echo "$1: IDENTICAL to one run (report with timing fields masked; per-instance file)"
  else
    echo "$1: DIFFERS from one run (see $WORK/$1.diff)"; status=1
  fi
}
compare "shards" "$WORK/merged.json" "$WORK/merged.jsonl"

if [ -n "${MPI_BUILD:-}" ]; then
  MPI_BUILD="$(cd "$MPI_BUILD" && pwd)"
  MPIRUN="${MPIRUN:-mpirun}"
  extra=()
  "$MPIRUN" --version 2>/dev/null | grep -q "Open MPI" && extra+=(--oversubscribe)
  [ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export POLYGLOT_PLUGIN_PATH="$MPI_BUILD/plugins"
  # shellcheck disable=SC2086
  step "mpirun -n $RANKS" "$MPIRUN" "${extra[@]}" -n "$RANKS" "$MPI_BUILD/bin/polyglot" score \
    "${inputs[@]}" $OPTS --threads 1 --quiet -o "$WORK/mpi.json" --per-instance "$WORK/mpi.jsonl"
  compare "mpirun" "$WORK/mpi.json" "$WORK/mpi.jsonl"
elif [ "${REQUIRE_MPI:-0}" = 1 ]; then
  echo "shard_identity.sh: REQUIRE_MPI=1 but MPI_BUILD is not set" >&2; exit 1
else
  echo "mpirun: skipped (set MPI_BUILD to a -DPOLYGLOT_MPI=ON build dir)"
fi
grep -E '"num_samples"|"num_records_read"' "$WORK/single.json" | tr -s ' ' | tr '\n' ' '; echo
if [ "$own_work" = 1 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; else echo "(work files in $WORK)"; fi
exit "$status"
