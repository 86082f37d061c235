#!/usr/bin/env bash
# `make demo`: until the fleet exists, the report tool on a bundled sample
# extract. The sample is packed the way a Nexus data extract is: a .tar.gz
# with mde-agent-information.json under a folder.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
work="$build/demo"
mkdir -p "$work/extract/hostfs/tmp/runcommand"
cp "$root/tests/data/sample-report.json" "$work/extract/hostfs/tmp/runcommand/mde-agent-information.json"
tar -C "$work/extract" -czf "$work/rack1compute01-action-bmmdataextcmd.tar.gz" hostfs
archive="$work/rack1compute01-action-bmmdataextcmd.tar.gz"

echo "== mdefleet-report --summary $archive"
"$build/bin/mdefleet-report" --summary "$archive"
echo
echo "== the same as JSON (first threat), for scripts and SIEMs:"
"$build/bin/mdefleet-report" "$archive" | jq '.threats[0]'
