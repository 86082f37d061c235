#!/usr/bin/env bash
# Every OCSF record the unit tests make (test_ocsf with MDF_OCSF_DUMP) is
# valid OCSF by the project's checker: no error in any record, and at
# least one record, so that a test that stopped dumping cannot pass.
# usage: ocsf_records.sh TEST_OCSF CHECKER SCHEMA_JSON
set -uo pipefail
test_ocsf=$1 checker=$2 schema=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

recs=$tmp/records.jsonl
run_bin env MDF_OCSF_DUMP="$recs" "$test_ocsf"
[ "$rc" -eq 0 ] || tail -n 20 "$tmp/out" "$tmp/err" >&2
check "test_ocsf passes (rc $rc)" [ "$rc" -eq 0 ]
n=0
[ -f "$recs" ] && n=$(wc -l <"$recs")
check "test_ocsf wrote records ($n)" [ "$n" -gt 0 ]
if [ "$n" -gt 0 ]; then
    run_bin python3 "$checker" --warnings "$schema" "$recs"
    errors=$(grep -vc ': warning: ' "$tmp/out")
    warnings=$(grep -c ': warning: ' "$tmp/out")
    grep -v ': warning: ' "$tmp/out" >&2
    echo "$n records: $errors errors, $warnings warnings (recommended attributes missing)"
    check "the checker finds no error (rc $rc): $(head -c 300 "$tmp/err")" [ "$rc" -eq 0 ]
    check "the checker printed no error" [ "$errors" -eq 0 ]
fi
finish ocsf_records
