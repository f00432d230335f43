#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kill -9 resume check of tests/remote/remote_cli_test.cpp on a 2,000-record run (CI runs
# it on 200): an uninterrupted `polyglot score --lm URL` for reference, then runs killed with
# SIGKILL at random points, then the same command to completion; asserts that the rerun sends
# exactly the records that were not journaled, that every record was answered (twice only when
# in flight at a kill), and that report and per-instance output equal the uninterrupted run's.
#
#   benchmarks/remote_kill9.sh [BUILD_DIR] [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
export POLYGLOT_KILL9_RECORDS=${2:-2000}
cmake --build "$BUILD" --target remote_cli_test polyglot_cli polyglot_plugin_remote >/dev/null
export POLYGLOT_PLUGIN_PATH="$BUILD/plugins" POLYGLOT_CLI="$BUILD/bin/polyglot"
"$BUILD/tests/remote_cli_test" --run_test=kill_9_then_rerun_scores_every_record_exactly_once \
  --log_level=message
