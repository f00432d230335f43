#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The remote backend's client vs a Python asyncio + aiohttp client, side by side in one run:
# both send the same N scoring requests (/v1/completions, echo + prompt_logprobs over token ids)
# at concurrency C to `polyglot serve` of a tiny fixture model, alternating, R rounds each.
# Prints every run (requests/s, client CPU seconds) and the medians' ratios, with the load.
#
#   benchmarks/remote_client_vs_aiohttp.sh [BUILD_DIR] [N] [C] [LEN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-2000}
C=${3:-64}
LEN=${4:-32}
ROUNDS=${5:-3}
MODEL=${MODEL:-../shared/fixtures/models/tiny-qwen3}
cmake --build "$BUILD" --target polyglot_cli polyglot_plugin_remote polyglot_plugin_cpu \
  polyglot_remote_client_driver >/dev/null
export POLYGLOT_PLUGIN_PATH="$BUILD/plugins"
OUT=$(mktemp -d)
"$BUILD/bin/polyglot" serve --model "$MODEL" --port 0 --io-threads 2 -q >"$OUT/serve.out" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; rm -rf "$OUT"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$OUT/serve.out" && break; sleep 0.2; done
URL=$(sed -n 's/.*listening on //p' "$OUT/serve.out")
echo "server: $URL (model $MODEL), $N requests of $LEN ids, concurrency $C"
# Warm up both (connections, page cache, the engine).
DRIVER=$(find "$BUILD" -name polyglot_remote_client_driver -type f | head -1)
"$DRIVER" "$URL" 200 "$C" "$LEN" >/dev/null
/usr/bin/python3 benchmarks/remote_client_aiohttp.py "$URL" 200 "$C" "$LEN" >/dev/null
for r in $(seq "$ROUNDS"); do
  echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$DRIVER" "$URL" "$N" "$C" "$LEN" | tee -a "$OUT/runs.jsonl"
  /usr/bin/python3 benchmarks/remote_client_aiohttp.py "$URL" "$N" "$C" "$LEN" | tee -a "$OUT/runs.jsonl"
done
/usr/bin/python3 - "$OUT/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(client, key):
    return statistics.median(r[key] for r in runs if r["client"] == client)
ours = {k: med("polyglot", k) for k in ("seconds", "cpu_seconds")}
peer = {k: med("aiohttp", k) for k in ("seconds", "cpu_seconds")}
n = runs[0]["requests"]
sums = {r["client"]: r["checksum"] for r in runs}
print("checksums: polyglot %.6f, aiohttp %.6f" % (sums["polyglot"], sums["aiohttp"]))
print("median requests/s: polyglot %.0f, aiohttp %.0f -> %.2fx" % (
    n / ours["seconds"], n / peer["seconds"], peer["seconds"] / ours["seconds"]))
print("median client CPU seconds: polyglot %.3f, aiohttp %.3f -> %.1f%% of aiohttp's" % (
    ours["cpu_seconds"], peer["cpu_seconds"], 100 * ours["cpu_seconds"] / peer["cpu_seconds"]))
PY
