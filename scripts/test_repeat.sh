#!/usr/bin/env bash
# `make test-repeat N=10 [STRESS=2]`: the integration tests (everything but
# the unit tests) N times in a row, stopping at the first failure, so that a
# flaky test shows up here and not in CI. With STRESS=K, `stress-ng --cpu K`
# keeps K cores busy meanwhile (a loaded CI machine).
# usage: scripts/test_repeat.sh BUILD_DIR N [STRESS]
set -uo pipefail
build=${1:-build}
n=${2:-10}
stress=${3:-0}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "test-repeat: N must be a positive number, got '$n'" >&2; exit 2; }
[[ $stress =~ ^[0-9]+$ ]] || { echo "test-repeat: STRESS must be a number of cores, got '$stress'" >&2; exit 2; }
cd "$build" || exit 2
hog=
if [ "$stress" -gt 0 ]; then
    command -v stress-ng >/dev/null || { echo "test-repeat: STRESS needs stress-ng (make deps)" >&2; exit 2; }
    # its own deadline too, should this script be killed before its trap runs
    stress-ng --cpu "$stress" --timeout 24h >/dev/null 2>&1 &
    hog=$!
    trap 'kill "$hog" 2>/dev/null; wait "$hog" 2>/dev/null' EXIT
    echo "test-repeat: stress-ng --cpu $stress running (pid $hog)"
fi
start=$SECONDS
for ((i = 1; i <= n; i++)); do
    t0=$SECONDS
    if ! ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" -LE unit >"test-repeat.log" 2>&1; then
        tail -n 60 test-repeat.log
        echo "test-repeat: run $i of $n FAILED after $((SECONDS - t0)) s (whole log: $build/test-repeat.log)"
        exit 1
    fi
    echo "test-repeat: run $i of $n passed ($((SECONDS - t0)) s)"
done
echo "test-repeat: $n of $n passed in $((SECONDS - start)) s"
