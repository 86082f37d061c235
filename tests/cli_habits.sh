#!/usr/bin/env bash
# The command-line habits every binary shares: --version (the project's
# version, librdkafka's where linked), -h/--help on stdout with exit 0, an
# unknown option and a missing option value as one "PROGRAM: message" line
# on stderr with exit 2.
# usage: cli_habits.sh BIN_DIR
set -uo pipefail
bindir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

# program, an option that takes a value, whether it links librdkafka
programs=(
    "mdefleet-worker --config yes"
    "mdefleet-producer --config yes"
    "mdefleet-broker --bootstrap-file yes"
    "mdefleet-report --rows no"
    "mdefleet-arm --endpoint no"
    "mdefleet-sim --scenario no"
)

version_re='^[0-9]+\.[0-9]+\.[0-9]+( \(.+\))?$'

for entry in "${programs[@]}"; do
    read -r prog valued kafka <<<"$entry"
    bin=$bindir/$prog
    # the commands never wait on anything: timeout only bounds a hang
    run() { run_bin timeout 20 "$bin" "$@"; }

    run --version
    check "$prog --version: exit 0 (got $rc)" [ "$rc" -eq 0 ]
    check "$prog --version: stderr empty" [ -z "$err" ]
    first=$(head -n 1 <<<"$out")
    check "$prog --version: '$first' is PROGRAM VERSION" \
        grep -Eq "^$prog ${version_re#^}" <<<"$first"
    if [ "$kafka" = yes ]; then
        check "$prog --version: librdkafka's version" \
            grep -Eq '^librdkafka [0-9]+\.[0-9]+\.[0-9]+' <<<"$(sed -n 2p "$tmp/out")"
        check "$prog --version: two lines" [ "$(wc -l <"$tmp/out")" -eq 2 ]
    else
        check "$prog --version: one line" [ "$(wc -l <"$tmp/out")" -eq 1 ]
    fi

    for h in --help -h; do
        run "$h"
        check "$prog $h: exit 0 (got $rc)" [ "$rc" -eq 0 ]
        check "$prog $h: usage on stdout" grep -q "^usage: $prog " <<<"$out"
        check "$prog $h: mentions --version" grep -q -- "--version" <<<"$out"
        check "$prog $h: stderr empty" [ -z "$err" ]
    done

    run --no-such-option
    check "$prog --no-such-option: exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$prog --no-such-option: stdout empty" [ -z "$out" ]
    check "$prog --no-such-option: '$err'" [ "$err" = "$prog: unknown option --no-such-option" ]

    run "$valued"
    check "$prog $valued (no value): exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$prog $valued (no value): stdout empty" [ -z "$out" ]
    check "$prog $valued (no value): '$err'" [ "$err" = "$prog: $valued needs a value" ]
done

finish cli_habits
