#!/usr/bin/env bash
# mdefleet-arm as an operator runs it, against mdefleet-sim: get-cluster
# shows where extract results go; extract reads them in both modes (a SAS,
# or a storage token in the customer's account) and prints the report;
# an extract without a result exits 3 with one line naming why; a refused
# download exits 1 saying what to fix; bad usage exits 2.
# usage: cli_arm.sh ARM_BINARY SIM_BINARY SCENARIO
set -uo pipefail
arm=$1
sim=$2
scenario=$3
tmp=$(mktemp -d)
sim_pid=
. "$(dirname "$0")/lib.sh"
cleanup() {
    [ -n "$sim_pid" ] && stop_pid "$sim_pid" TERM 5
    rm -rf "$tmp"
}
trap cleanup EXIT

"$sim" --scenario "$scenario" --port 0 --bind 127.0.0.1 >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
wait_file "$tmp/sim.out" 10 "the simulator's URL" "$sim_pid" "$tmp/sim.err"
base=$(head -n 1 "$tmp/sim.out")
sub=00000000-0000-0000-0000-000000000000

a() { # a ARGS...: mdefleet-arm against the simulator, at most 60 s
    run_bin timeout 60 env AZURE_TENANT_ID=11111111-1111-1111-1111-111111111111 \
        AZURE_CLIENT_ID=test-client AZURE_CLIENT_SECRET=test-secret-do-not-log \
        AZURE_AUTHORITY_HOST="$base" "$arm" --endpoint "$base" --allow-loopback-http \
        --blob-hosts 127.0.0.1 "$@"
}
one_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ]; }
contains() { [[ $1 == *"$2"* ]]; }

a get-cluster "$sub" test-rg cust-cluster
check "get-cluster: exit 0 ($err)" [ "$rc" -eq 0 ]
check "get-cluster: customer storage" [ "$(jq -r .command_output.mode "$tmp/out")" = "customer storage" ]
check "get-cluster: the container URL" \
    contains "$(jq -r .command_output.container_url "$tmp/out")" "/contosoout/bmm-output"
a get-cluster "$sub" test-rg test-cluster
check "get-cluster: Cluster Manager storage is null" [ "$(jq -c .command_output "$tmp/out")" = null ]

a extract "$sub" cust-managed-rg cust01
check "extract, customer storage: exit 0 ($err)" [ "$rc" -eq 0 ]
check "extract, customer storage: the report" jq -e '.scans and .health' "$tmp/out"
a extract "$sub" test-managed-rg clean01
check "extract, SAS: exit 0 ($err)" [ "$rc" -eq 0 ]
check "extract, SAS: the report" jq -e '.scans and .health' "$tmp/out"
check "extract, SAS: no signature shown" bash -c "! grep -q 'sig=' '$tmp/err' '$tmp/out'"

for c in "noagent01 AgentNotRunning" "limit01 TimeLimit" "opfail01 OperationFailed"; do
    set -- $c
    a extract "$sub" test-managed-rg "$1"
    check "extract $1: exit 3 (got $rc)" [ "$rc" -eq 3 ]
    check "extract $1: one line naming $2 ($err)" \
        bash -c "grep -c '^mdefleet-arm: extract: $2: ' '$tmp/err' | grep -qx 1"
    check "extract $1: no report" [ -z "$out" ]
done

a extract "$sub" cust-managed-rg custrole01
check "extract, no data role: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "extract, no data role: says the role to grant" \
    contains "$err" "grant it Storage Blob Data Reader"

a extract "$sub" test-managed-rg
check "missing argument: exit 2" [ "$rc" -eq 2 ]
a --blob-auth nope get-cluster "$sub" test-rg test-cluster
check "bad --blob-auth: exit 2" [ "$rc" -eq 2 ]
finish cli_arm
