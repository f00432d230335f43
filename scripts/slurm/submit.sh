#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Queues a sharded scoring run and its merge:
#   scripts/slurm/submit.sh SHARDS DATA OUT_DIR [polyglot score options]
# e.g. scripts/slurm/submit.sh 8 data/teacherA_de/ out/teacherA_de --lm models/olmo-3-7b --metrics all --backend cuda
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
N=$1; DATA=$2; OUT=$3; shift 3
array=$(sbatch --parsable --array=1-"$N" "$here/score_array.sbatch" "$DATA" "$OUT" "$@")
merge=$(sbatch --parsable --dependency=afterok:"$array" "$here/merge.sbatch" "$OUT")
echo "scoring array job $array ($N tasks), merge job $merge → $OUT/report.json"
