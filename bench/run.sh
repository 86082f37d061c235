#!/usr/bin/env bash
# Benchmark mdefleet-report against a bare json-c parse and jq on a large
# generated MDE report (see bench/gen_report.py).
#
# Usage: bench/run.sh [BUILD_DIR]        (default: build; `make bench` runs it)
# Env:   BENCH_RUNS=N  runs per command (default 3; the median is reported)
#
# Each command runs BENCH_RUNS times (interleaved, output to /dev/null) under
# `/usr/bin/time -f '%e %M'`; the table shows the median wall time and peak
# RSS of each, then the target ratios:
#   jq time / report time      >= 1.5
#   report time / json-c time  <= 1.2
#   report mem / json-c mem    <= 1.2
# Exit status: 0 whatever the ratios; non-zero only if a command is missing
# or fails (or mdefleet-report prints no JSON document).
set -euo pipefail

die() {
    printf 'bench/run.sh: %s\n' "$*" >&2
    exit 1
}

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD_ARG="${1:-build}"
[[ -d "$BUILD_ARG" ]] || die "build directory '$BUILD_ARG' not found (run: make build)"
BUILD="$(cd "$BUILD_ARG" && pwd)"
RUNS="${BENCH_RUNS:-3}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, got '$RUNS'"

OUT="$BENCH_DIR/out"
DATA="$OUT/mde-agent-information.json"
GEN="$BENCH_DIR/gen_report.py"
PYTHON=/usr/bin/python3
TIME=/usr/bin/time
REPORT_BIN="$BUILD/bin/mdefleet-report"
JSONC_BIN="$BUILD/bin/bench-jsonc-parse"

[[ -x "$TIME" ]] || die "$TIME not found (install the 'time' package)"
[[ -x "$PYTHON" ]] || die "$PYTHON not found"
command -v jq >/dev/null 2>&1 || die "jq not found (install the 'jq' package)"
[[ -x "$REPORT_BIN" ]] || die "$REPORT_BIN not found (run: cmake --build '$BUILD')"
[[ -x "$JSONC_BIN" ]] || die "$JSONC_BIN not found (run: cmake --build '$BUILD' --target bench-jsonc-parse)"

mkdir -p "$OUT"

# --- header ----------------------------------------------------------------
jsonc_version="$(pkg-config --modversion json-c 2>/dev/null || echo unknown)"
jq_version="$(jq --version 2>&1 || echo unknown)"
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
printf 'mdefleet bench: nproc %s, json-c %s, %s%s\n' \
    "$(nproc)" "$jsonc_version" "$jq_version" "${cpu:+, $cpu}"

# --- input -----------------------------------------------------------------
# (Re)generate when missing or older than the generator; gen_report.py
# writes OUT.tmp and renames it, so an interrupted run leaves no half file.
if [[ ! -s "$DATA" || "$GEN" -nt "$DATA" ]]; then
    printf 'generating %s ...\n' "$DATA"
    "$PYTHON" "$GEN" "$DATA" || die "gen_report.py failed"
fi
data_bytes="$(stat -c %s "$DATA")"
printf 'input: %s (%s bytes, %.1f MB), median of %s runs\n' \
    "$DATA" "$data_bytes" "$(awk -v b="$data_bytes" 'BEGIN { print b / 1e6 }')" "$RUNS"

# --- commands --------------------------------------------------------------
LABELS=("mdefleet-report" "json-c parse (floor)" "jq '.scanList, .threatInformation'")
CMD_0=("$REPORT_BIN" "$DATA")
# shellcheck disable=SC2034  # CMD_1 and CMD_2 are used through ${!name} in run_once
CMD_1=("$JSONC_BIN" "$DATA")
# shellcheck disable=SC2034
CMD_2=(jq '.scanList, .threatInformation' "$DATA")

# The benchmark must not time a command that fails fast: run mdefleet-report
# once for real and check it printed a JSON document.
CHECK_OUT="$OUT/report-output.json"
if ! "${CMD_0[@]}" >"$CHECK_OUT" 2>"$OUT/report-check.err"; then
    sed -n '1,20p' "$OUT/report-check.err" >&2
    die "mdefleet-report failed on $DATA (stderr above, full output in $CHECK_OUT)"
fi
first_char="$(awk '{ sub(/^[ \t\r]+/, "") } length($0) { print substr($0, 1, 1); exit }' "$CHECK_OUT")"
if [[ "$first_char" != "{" ]]; then
    die "mdefleet-report exited 0 but printed no JSON object on stdout ($(stat -c %s "$CHECK_OUT") bytes, see $CHECK_OUT)"
fi
printf 'check: mdefleet-report printed %s bytes of JSON (%s)\n' \
    "$(stat -c %s "$CHECK_OUT")" "$CHECK_OUT"

# run_once I: one timed run of command I; appends "wall_s peak_kib" to
# $OUT/times.I. Output goes to /dev/null, stderr to $OUT/cmd.I.err.
run_once() {
    local i="$1" name="CMD_$1[@]" rc=0
    "$TIME" -o "$OUT/time.$i" -f '%e %M' "${!name}" >/dev/null 2>"$OUT/cmd.$i.err" || rc=$?
    if [[ "$rc" -ne 0 ]]; then
        sed -n '1,20p' "$OUT/cmd.$i.err" >&2
        sed -n '1,5p' "$OUT/time.$i" >&2
        die "${LABELS[$i]} failed (exit $rc): ${!name}"
    fi
    tail -n 1 "$OUT/time.$i" >>"$OUT/times.$i"
}

for i in 0 1 2; do
    : >"$OUT/times.$i"
done
for ((r = 1; r <= RUNS; r++)); do
    for i in 0 1 2; do
        run_once "$i"
    done
done

# median FILE COLUMN: median (lower median for an even count) of a column.
median() {
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

declare -a WALL MEM RUNLIST
for i in 0 1 2; do
    WALL[i]="$(median "$OUT/times.$i" 1)"
    MEM[i]="$(median "$OUT/times.$i" 2)"
    RUNLIST[i]="$(awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }' "$OUT/times.$i")"
done

# --- table -----------------------------------------------------------------
printf '\n%-36s %8s %9s   %s\n' "command" "wall s" "peak MB" "wall s of each run"
for i in 0 1 2; do
    printf '%-36s %8.2f %9.1f   %s\n' "${LABELS[$i]}" "${WALL[i]}" \
        "$(awk -v k="${MEM[i]}" 'BEGIN { print k * 1024 / 1e6 }')" "${RUNLIST[i]}"
done

# ratio_row LABEL NUM DEN OP TARGET
ratio_row() {
    awk -v label="$1" -v num="$2" -v den="$3" -v op="$4" -v target="$5" 'BEGIN {
        if (den + 0 == 0) {
            shown = "inf"; ratio = 1e300
        } else {
            ratio = num / den; shown = sprintf("%.2f", ratio)
        }
        ok = (op == ">=") ? (ratio >= target) : (ratio <= target)
        printf "%-36s %8s %9s   %s\n", label, shown, op " " target, ok ? "PASS" : "FAIL"
    }'
}

printf '\n%-36s %8s %9s   %s\n' "ratio" "value" "target" "result"
ratio_row "jq time / report time" "${WALL[2]}" "${WALL[0]}" ">=" "1.5"
ratio_row "report time / json-c time" "${WALL[0]}" "${WALL[1]}" "<=" "1.2"
ratio_row "report mem / json-c mem" "${MEM[0]}" "${MEM[1]}" "<=" "1.2"

rm -f "$OUT/time.0" "$OUT/time.1" "$OUT/time.2"
exit 0
