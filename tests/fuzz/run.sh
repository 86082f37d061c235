#!/usr/bin/env bash
# Runs libFuzzer harnesses on their seed corpora (tests/fuzz/README.md) and
# prints one line per harness: runs, executions per second, coverage, and
# what it found.
#
#   run.sh --bin DIR --dir FUZZ_DIR --seconds N [NAME...]   (make fuzz)
#       each harness N seconds; what it adds to the corpus is kept in
#       FUZZ_DIR/work/NAME for the next run
#   run.sh --bin DIR --dir FUZZ_DIR --runs N [NAME...]      (ctest -L fuzz)
#       each harness on its seeds, then N runs in all with -seed=1; nothing
#       kept, so that every run does the same work
#
# NAME is a harness (report, url, ...; default: every DIR/fuzz_*). Seeds are
# FUZZ_DIR/corpus/NAME, the dictionary FUZZ_DIR/dict/NAME.dict, logs go to
# FUZZ_DIR/logs/NAME.log, crashes to FUZZ_DIR/artifacts/NAME/. Exits 1 when
# a harness crashed, leaked, timed out or failed an oracle.
set -uo pipefail

usage() {
    echo "usage: run.sh --bin DIR --dir FUZZ_DIR (--seconds N | --runs N) [NAME...]" >&2
    exit 2
}

bin= dir= seconds= runs=
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=${2:-}; shift 2 ;;
    --dir) dir=${2:-}; shift 2 ;;
    --seconds) seconds=${2:-}; shift 2 ;;
    --runs) runs=${2:-}; shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
    esac
done
[ -n "$bin" ] && [ -n "$dir" ] || usage
if { [ -n "$seconds" ] && [ -n "$runs" ]; } || { [ -z "$seconds" ] && [ -z "$runs" ]; }; then
    usage
fi
case ${seconds:-$runs} in '' | *[!0-9]*) usage ;; esac

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in "$bin"/fuzz_*; do
        [ -x "$f" ] && names+=("${f##*/fuzz_}")
    done
fi
[ ${#names[@]} -gt 0 ] || { echo "run.sh: no harness in $bin" >&2; exit 2; }

# the last value of libFuzzer's final statistic $1 in log $2
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

mkdir -p "$dir/logs"
failed=0
for name in "${names[@]}"; do
    exe=$bin/fuzz_$name seeds=$dir/corpus/$name dict=$dir/dict/$name.dict
    log=$dir/logs/$name.log art=$dir/artifacts/$name
    if [ ! -x "$exe" ] || [ ! -d "$seeds" ]; then
        echo "fuzz $name: no $exe or no $seeds (build the fuzz tree first)" >&2
        failed=1
        continue
    fi
    mkdir -p "$art"
    if [ -n "$seconds" ]; then
        work=$dir/work/$name
        mkdir -p "$work"
        budget=(-max_total_time="$seconds")
    else
        work=$(mktemp -d "${TMPDIR:-/tmp}/mdf-fuzz-$name.XXXXXX")
        budget=(-runs="$runs" -seed=1)
    fi
    args=("${budget[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$art/")
    [ -f "$dict" ] && args+=(-dict="$dict")
    # the first folder gets the new inputs; the seeds stay as made
    "$exe" "${args[@]}" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    [ -n "$runs" ] && rm -rf "$work"

    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    found=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)
    line=$(printf 'fuzz %-9s %9s runs %6s exec/s  cov: %-5s ft: %-6s corpus %s' "$name" \
        "$(stat number_of_executed_units "$log")" "$(stat average_exec_per_sec "$log")" "${cov:-?}" "${ft:-?}" \
        "${corp:-?}")
    if [ $rc -eq 0 ]; then
        echo "$line  ok"
    else
        what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z -]+|runtime error: .*|oracle failed: .*' "$log")
        echo "$line  FAILED (exit $rc): ${what:-see $log}${found:+; input: $found}"
        echo "    log: $log; reproduce: $exe ${found:-INPUT}" >&2
        failed=1
    fi
done
exit $failed
