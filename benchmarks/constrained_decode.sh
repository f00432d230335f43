#!/usr/bin/env bash
# Constrained decoding's cost per token next to the model's decode step (benchmarks/README.md,
# "Constrained decoding"): a random-weight ~150M Llama body with the Gemma 3 vocabulary
# (262,144 ids; real tokenizer.json from scripts/fetch-test-assets), generating free and under the
# judge's JSON schema, plus the mask step alone.
#   benchmarks/constrained_decode.sh [BUILD_DIR]   (configure with -DPOLYGLOT_BUILD_BENCHMARKS=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
DATA="${POLYGLOT_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/polyglot}"
TOK="$DATA/test-assets/gemma3/tokenizer.json"
[ -s "$TOK" ] || { echo "missing $TOK: run scripts/fetch-test-assets" >&2; exit 1; }
MODEL="${POLYGLOT_BENCH_MODEL:-$BUILD/bench-models/llama150m-gemma3vocab}"
if [ ! -s "$MODEL/model.safetensors" ]; then
  /usr/bin/python3 benchmarks/make_random_llama.py "$MODEL" --vocab 262144 --dtype bf16
  cp "$TOK" "$MODEL/tokenizer.json"
  echo '{"eos_token_id": [1, 106], "bos_token_id": 2}' >"$MODEL/generation_config.json"
fi
cmake --build "$BUILD" --target bench_constrained polyglot_plugin_cpu >/dev/null
echo "load: $(cat /proc/loadavg)"
POLYGLOT_BENCH_MODEL="$MODEL" POLYGLOT_PLUGIN_PATH="$BUILD/plugins" \
  "$BUILD/benchmarks/bench_constrained" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true
echo "load: $(cat /proc/loadavg)"
