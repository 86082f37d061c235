#!/usr/bin/env bash
# mdefleet-producer as a user runs it. Without a broker: every input check
# (exit 2, one line naming the problem, nothing on stdout). With
# mdefleet-broker: enforce, scan and --file are acknowledged (exit 0, one
# job id per line), the records read back with kcat (key, headers) and
# decoded by python3-avro, a bad --file publishes nothing, and --wait
# follows statuses written with kcat (JSON, which the codec reads too) or
# times out.
# usage: producer_cli.sh PRODUCER_BINARY BROKER_BINARY SOURCE_DIR
set -uo pipefail
bin=$1
broker=$2
src=$3
py=/usr/bin/python3 # the one with python3-avro, whatever is first on PATH
tmp=$(mktemp -d)
broker_pid=
wpid=
. "$(dirname "$0")/lib.sh"
cleanup() {
    [ -n "$wpid" ] && stop_pid "$wpid" TERM 5
    [ -n "$broker_pid" ] && stop_pid "$broker_pid" TERM 10
    rm -rf "$tmp"
}
trap cleanup EXIT

# A clean environment: no MDEFLEET_* from the caller, a known $USER.
run() { run_bin timeout 120 env -i PATH="$PATH" USER=tester "$bin" "$@"; } # 124: it hung

one_line_err() { [ "$(wc -l <"$tmp/err")" -eq 1 ] && [[ $err == mdefleet-producer:* ]]; }
contains() { [[ $1 == *"$2"* ]]; }
is_uuid() { [[ $1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]; }

SUB=11111111-2222-3333-4444-555555555555
NOBROKER=(--set kafka.bootstrap.servers=127.0.0.1:1)
ENFORCE=(enforce --subscription "$SUB" --resource-group rg-nexus --cluster cluster-01)
SCAN=(scan --subscription "$SUB" --resource-group rg-nexus --cluster cluster-01)

refused() { # refused NAME EXPECTED_TEXT ARGS... : exit 2, one line naming it, no stdout
    local name=$1 text=$2
    shift 2
    run "$@"
    check "$name: exit 2 (got $rc)" [ "$rc" -eq 2 ]
    check "$name: one-line error" one_line_err
    check "$name: names '$text' (got: $err)" contains "$err" "$text"
    check "$name: nothing on stdout" [ -z "$out" ]
}

# ---- input checks, no broker needed ----
refused "bad level" '"realtime"' "${NOBROKER[@]}" "${ENFORCE[@]}" --level realtime
refused "level of another API" '"Block"' "${NOBROKER[@]}" "${ENFORCE[@]}" --level Block
refused "bad cluster name" '--cluster "-cluster"' "${NOBROKER[@]}" enforce --subscription "$SUB" \
    --resource-group rg --cluster -cluster --level Audit
refused "cluster name too long" '--cluster' "${NOBROKER[@]}" scan --subscription "$SUB" \
    --resource-group rg --cluster "c$(printf 'x%.0s' {1..30})"
refused "bad subscription" '--subscription "not-a-guid"' "${NOBROKER[@]}" scan \
    --subscription not-a-guid --resource-group rg --cluster c1
refused "bad resource group" '--resource-group "rg."' "${NOBROKER[@]}" scan --subscription "$SUB" \
    --resource-group rg. --cluster c1
refused "bad node" '--node "rack1_compute"' "${NOBROKER[@]}" "${SCAN[@]}" --node rack1_compute
refused "missing option" 'missing --resource-group' "${NOBROKER[@]}" scan --subscription "$SUB" \
    --cluster c1
refused "missing level" 'missing --level' "${NOBROKER[@]}" "${ENFORCE[@]}"
refused "option without value" '--level needs a value' "${NOBROKER[@]}" "${ENFORCE[@]}" --level
refused "value is an option" '--cluster needs a value' "${NOBROKER[@]}" scan --cluster \
    --subscription "$SUB"
refused "unknown option" 'unknown option --nodes' "${NOBROKER[@]}" "${SCAN[@]}" --nodes a1
refused "option twice" '--cluster given twice' "${NOBROKER[@]}" "${SCAN[@]}" --cluster c2
refused "level on a scan" '--level does not apply' "${NOBROKER[@]}" "${SCAN[@]}" --level Audit
refused "limit too small" '--limit-time-seconds' "${NOBROKER[@]}" "${SCAN[@]}" \
    --limit-time-seconds 59
refused "limit too large" '--limit-time-seconds' "${NOBROKER[@]}" "${SCAN[@]}" \
    --limit-time-seconds 14401
refused "limit not a number" '"10m"' "${NOBROKER[@]}" "${SCAN[@]}" --limit-time-seconds 10m
refused "no command" 'no command' "${NOBROKER[@]}"
refused "unknown command" '"rescan"' "${NOBROKER[@]}" rescan
refused "timeout without wait" '--timeout needs --wait' "${NOBROKER[@]}" "${SCAN[@]}" --timeout 3
refused "no bootstrap" 'kafka.bootstrap.servers is not set' "${SCAN[@]}"
refused "unknown config key" '"no.such.key"' "${NOBROKER[@]}" --set no.such.key=1 "${SCAN[@]}"
refused "unknown librdkafka property" 'kafka.no.such.property' "${NOBROKER[@]}" \
    --set kafka.no.such.property=1 "${SCAN[@]}"
refused "missing config file" "$tmp/none.conf" --config "$tmp/none.conf" "${SCAN[@]}"

good_scan='{"type":"scan","subscription":"'$SUB'","resource_group":"rg-nexus","cluster":"cluster-01"}'
good_enforce='{"type":"enforce","subscription":"'$SUB'","resource_group":"rg-nexus","cluster":"cluster-02","level":"Passive"}'
bad_file() { # bad_file NAME EXPECTED_TEXT LINE3
    printf '%s\n\n%s\n' "$good_scan" "$3" >"$tmp/bad.jsonl"
    refused "$1" "$2" "${NOBROKER[@]}" --file "$tmp/bad.jsonl"
}
bad_file "file: bad level" "bad.jsonl:3: level \"realtime\"" \
    '{"type":"enforce","subscription":"'$SUB'","resource_group":"rg","cluster":"c1","level":"realtime"}'
bad_file "file: not JSON" "bad.jsonl:3: not JSON" '{"type":"scan",}'
bad_file "file: unknown field" 'bad.jsonl:3: unknown field "node"' \
    '{"type":"scan","subscription":"'$SUB'","resource_group":"rg","cluster":"c1","node":"a1"}'
bad_file "file: bad type" 'bad.jsonl:3: type "rescan"' '{"type":"rescan"}'
bad_file "file: missing cluster" 'bad.jsonl:3: missing cluster' \
    '{"type":"scan","subscription":"'$SUB'","resource_group":"rg"}'
bad_file "file: nodes not strings" 'bad.jsonl:3: nodes[1] must be a string' \
    '{"type":"scan","subscription":"'$SUB'","resource_group":"rg","cluster":"c1","nodes":["a1",2]}'
bad_file "file: limit not a number" 'bad.jsonl:3: limit_time_seconds must be a whole number' \
    '{"type":"scan","subscription":"'$SUB'","resource_group":"rg","cluster":"c1","limit_time_seconds":"600"}'
bad_file "file: two objects" 'bad.jsonl:3: not JSON' "$good_scan $good_scan"
# issue 12, case 7: a line with no end stops at the cap, it is not read on
# (10 s: the cap is reached in milliseconds; before, this spun for ever)
run_bin timeout 10 env -i PATH="$PATH" USER=tester "$bin" "${NOBROKER[@]}" --file /dev/zero
check "file: /dev/zero: exit 2 within 10 s (got $rc)" [ "$rc" -eq 2 ]
check "file: /dev/zero: names the cap (got: $err)" contains "$err" "/dev/zero:1: longer than 65536"
printf '# nothing\n\n' >"$tmp/empty.jsonl"
refused "file: no requests" 'no requests' "${NOBROKER[@]}" --file "$tmp/empty.jsonl"
refused "file and command" '--file replaces the command' "${NOBROKER[@]}" --file "$tmp/empty.jsonl" \
    "${SCAN[@]}"

run --help
check "--help exits 0" [ "$rc" -eq 0 ]
check "--help shows the levels" contains "$out" "Audit | Disabled | OnDemand | Passive | RealTime"

# ---- against mdefleet-broker ----
if [ ! -x "$broker" ]; then
    echo "FAIL: $broker not built: cannot test publishing" >&2
    echo "producer_cli: $passes passed, $((failures + 1)) failed" >&2
    exit 1
fi
"$broker" --brokers 1 --bootstrap-file "$tmp/bootstrap" --topics "$src/config/topics" \
    >"$tmp/broker.out" 2>"$tmp/broker.err" &
broker_pid=$!
wait_file "$tmp/bootstrap" 30 "mdefleet-broker's bootstrap file" "$broker_pid" "$tmp/broker.err"
BS=$(cat "$tmp/bootstrap")
B=(--set "kafka.bootstrap.servers=$BS")

# every record of a topic: "partition offset key headers" lines, and the
# values as [4-byte big-endian length][bytes]... in $tmp/TOPIC.bin
dump() { # dump TOPIC
    timeout 30 kcat -C -b "$BS" -t "$1" -e -q -f '%p %o %k %h\n' >"$tmp/$1.meta" 2>"$tmp/kcat.err" ||
        fatal "kcat could not read $1 within 30 s: $(cat "$tmp/kcat.err")"
    timeout 30 kcat -C -b "$BS" -t "$1" -e -q -f '%R%s' >"$tmp/$1.bin" 2>>"$tmp/kcat.err" ||
        fatal "kcat could not read $1 within 30 s: $(cat "$tmp/kcat.err")"
}
count() { dump "$1"; wc -l <"$tmp/$1.meta"; }

before=$(date +%s%3N)
run "${B[@]}" "${ENFORCE[@]}" --level RealTime
check "enforce exits 0 (got $rc: $err)" [ "$rc" -eq 0 ]
check "enforce: stderr empty" [ -z "$err" ]
check "enforce: one job id" [ "$(wc -l <"$tmp/out")" -eq 1 ]
check "enforce: a UUID ($out)" is_uuid "$out"
enforce_id=$out

run "${B[@]}" "${SCAN[@]}" --managed-resource-group rg-managed --node rack1compute01 \
    --node rack1compute02 --node rack1compute01 --limit-time-seconds 900 --requested-by scheduler
check "scan exits 0 (got $rc: $err)" [ "$rc" -eq 0 ]
check "scan: a UUID ($out)" is_uuid "$out"
scan_id=$out

cat >"$tmp/three.jsonl" <<EOF
# three requests; comments and blank lines are skipped

{"type":"scan","subscription":"$SUB","resource_group":"rg-nexus","cluster":"Cluster-01","nodes":["rack2compute01"]}
   # an indented comment
{"type":"enforce","subscription":"$SUB","resource_group":"rg-nexus","cluster":"cluster-02","level":"Audit","requested_by":"runbook"}
{"type":"scan","subscription":"$SUB","resource_group":"RG-Nexus","cluster":"cluster-03","limit_time_seconds":60,"managed_resource_group":null}
EOF
run "${B[@]}" --file "$tmp/three.jsonl"
check "file exits 0 (got $rc: $err)" [ "$rc" -eq 0 ]
check "file: three job ids" [ "$(wc -l <"$tmp/out")" -eq 3 ]
mapfile -t file_ids <"$tmp/out"
all_uuid=true
for id in "${file_ids[@]}"; do is_uuid "$id" || all_uuid=false; done
check "file: UUIDs" $all_uuid
check "file: ids differ" [ "$(sort -u "$tmp/out" | wc -l)" -eq 3 ]
after=$(date +%s%3N)

# a bad line 3 publishes nothing, not even lines 1 and 2
scans_before=$(count mde.scan.jobs)
printf '%s\n%s\n%s\n' "$good_scan" "$good_enforce" '{"type":"scan"}' >"$tmp/bad.jsonl"
refused "file with broker: bad line" "bad.jsonl:3: missing subscription" "${B[@]}" --file "$tmp/bad.jsonl"
check "bad file published no scan" [ "$(count mde.scan.jobs)" -eq "$scans_before" ]

# headers and keys, as kcat sees them
dump mde.scan.jobs
check "three scans on the topic" [ "$(wc -l <"$tmp/mde.scan.jobs.meta")" -eq 3 ]
for id in "$scan_id" "${file_ids[0]}" "${file_ids[2]}"; do
    check "headers of $id" grep -q " content-type=avro/binary,event-id=$id,correlation-id=$id\$" \
        "$tmp/mde.scan.jobs.meta"
done
key1="/subscriptions/$SUB/resourceGroups/rg-nexus/providers/Microsoft.NetworkCloud/clusters/cluster-01"
key3="/subscriptions/$SUB/resourceGroups/rg-nexus/providers/Microsoft.NetworkCloud/clusters/cluster-03"
check "scan key is the cluster id" grep -q " $key1 .*event-id=$scan_id," "$tmp/mde.scan.jobs.meta"
# one cluster, one key (and so one partition), whatever the case of its names
check "key of Cluster-01 is cluster-01's" grep -q " $key1 .*event-id=${file_ids[0]}," "$tmp/mde.scan.jobs.meta"
check "key of RG-Nexus is rg-nexus's" grep -q " $key3 .*event-id=${file_ids[2]}," "$tmp/mde.scan.jobs.meta"
check "same cluster, same partition" [ "$(grep " $key1 " "$tmp/mde.scan.jobs.meta" | cut -d' ' -f1 | sort -u | wc -l)" -eq 1 ]
dump mde.enforcement.requests
check "two enforcement requests" [ "$(wc -l <"$tmp/mde.enforcement.requests.meta")" -eq 2 ]
check "enforcement headers" grep -q "content-type=avro/binary,event-id=$enforce_id,correlation-id=$enforce_id\$" \
    "$tmp/mde.enforcement.requests.meta"

# the values, decoded by python3-avro, an independent implementation
cat >"$tmp/decode.py" <<'EOF'
import datetime, io, json, struct, sys
import avro.io, avro.schema
def plain(o):  # python3-avro reads timestamp-millis as datetime
    return round(o.timestamp() * 1000) if isinstance(o, datetime.datetime) else str(o)
schema = avro.schema.parse(open(sys.argv[1]).read())
data = open(sys.argv[2], "rb").read()
pos, fps = 0, set()
while pos < len(data):
    (n,) = struct.unpack(">i", data[pos:pos + 4])
    v = data[pos + 4:pos + 4 + n]
    pos += 4 + n
    assert v[:2] == b"\xc3\x01", "not Avro single-object: %r" % v[:2]
    fps.add(v[2:10])
    rec = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(v[10:])))
    print(json.dumps(rec, sort_keys=True, default=plain))
assert len(fps) == 1, "fingerprints differ"
EOF
if ! timeout 60 "$py" "$tmp/decode.py" "$src/schemas/ScanJob.avsc" "$tmp/mde.scan.jobs.bin" >"$tmp/scans.json" 2>"$tmp/py.err"; then
    echo "python3-avro: $(cat "$tmp/py.err")" >&2
fi
check "python3-avro decodes 3 scans" [ "$(wc -l <"$tmp/scans.json")" -eq 3 ]
field() { # field FILE ID KEY: the value of KEY in the record with that id
    "$py" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("job_id", r.get("request_id")) == sys.argv[2]:
        print(json.dumps(r[sys.argv[3]]))' "$1" "$2" "$3"
}
check "scan subscription" [ "$(field "$tmp/scans.json" "$scan_id" subscription_id)" = "\"$SUB\"" ]
check "scan resource group" [ "$(field "$tmp/scans.json" "$scan_id" resource_group)" = '"rg-nexus"' ]
check "scan cluster" [ "$(field "$tmp/scans.json" "$scan_id" cluster)" = '"cluster-01"' ]
check "scan managed rg" [ "$(field "$tmp/scans.json" "$scan_id" managed_resource_group)" = '"rg-managed"' ]
check "scan nodes, once each" [ "$(field "$tmp/scans.json" "$scan_id" nodes)" = '["rack1compute01", "rack1compute02"]' ]
check "scan limit" [ "$(field "$tmp/scans.json" "$scan_id" limit_time_seconds)" = 900 ]
check "scan requested_by" [ "$(field "$tmp/scans.json" "$scan_id" requested_by)" = '"scheduler"' ]
requested_at=$(field "$tmp/scans.json" "$scan_id" requested_at)
check "requested_at is now ($requested_at)" [ "${requested_at:-0}" -ge "$before" -a "${requested_at:-0}" -le "$after" ]
check "file scan keeps the name as given" [ "$(field "$tmp/scans.json" "${file_ids[0]}" cluster)" = '"Cluster-01"' ]
check "file scan nodes" [ "$(field "$tmp/scans.json" "${file_ids[0]}" nodes)" = '["rack2compute01"]' ]
check "default limit is the schema's" [ "$(field "$tmp/scans.json" "${file_ids[0]}" limit_time_seconds)" = 600 ]
check "default requested_by is \$USER" [ "$(field "$tmp/scans.json" "${file_ids[0]}" requested_by)" = '"tester"' ]
check "no nodes: all" [ "$(field "$tmp/scans.json" "${file_ids[2]}" nodes)" = '[]' ]
check "limit 60" [ "$(field "$tmp/scans.json" "${file_ids[2]}" limit_time_seconds)" = 60 ]
check "null managed rg" [ "$(field "$tmp/scans.json" "${file_ids[2]}" managed_resource_group)" = null ]
timeout 60 "$py" "$tmp/decode.py" "$src/schemas/EnforcementChange.avsc" "$tmp/mde.enforcement.requests.bin" \
    >"$tmp/enf.json" 2>"$tmp/py.err"
check "python3-avro decodes 2 enforcement requests" [ "$(wc -l <"$tmp/enf.json")" -eq 2 ]
check "enforce level" [ "$(field "$tmp/enf.json" "$enforce_id" level)" = '"RealTime"' ]
check "enforce cluster" [ "$(field "$tmp/enf.json" "$enforce_id" cluster)" = '"cluster-01"' ]
check "file enforce level" [ "$(field "$tmp/enf.json" "${file_ids[1]}" level)" = '"Audit"' ]
check "file enforce requested_by" [ "$(field "$tmp/enf.json" "${file_ids[1]}" requested_by)" = '"runbook"' ]

# a broker that is not there: a clear failure once message.timeout.ms is up
run --set kafka.bootstrap.servers=127.0.0.1:1 --set kafka.message.timeout.ms=1000 \
    --set kafka.log_level=0 "${SCAN[@]}"
check "no broker: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "no broker: one line ($err)" one_line_err
check "no broker: says not acknowledged" contains "$err" "not acknowledged by the broker"
check "no broker: no job id" [ -z "$out" ]

# ---- --wait ----
t0=$(date +%s%3N)
run "${B[@]}" "${SCAN[@]}" --wait --timeout 3
t1=$(date +%s%3N)
check "wait, no worker: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "wait, no worker: the job id" is_uuid "$out"
check "wait, no worker: one line ($err)" one_line_err
check "wait, no worker: says timed out" contains "$err" "timed out after 3 s"
check "wait, no worker: after ~3 s ($((t1 - t0)) ms)" [ $((t1 - t0)) -ge 3000 -a $((t1 - t0)) -lt 30000 ]

uuid() { "$py" -c 'import uuid; print(uuid.uuid4())'; }
cluster_id="/subscriptions/$SUB/resourceGroups/rg-nexus/providers/Microsoft.NetworkCloud/clusters/cluster-01"
status() { # status JOB_ID EVENT_ID KIND JOB_KIND [EXTRA_JSON]: one JobStatus, as JSON
    printf '{"event_id":"%s","job_id":"%s","time":%s,"job_kind":"%s","cluster_id":"%s","kind":"%s"%s}' \
        "$2" "$1" "$(date +%s%3N)" "$4" "$cluster_id" "$3" "${5:-}" |
        timeout 30 kcat -P -b "$BS" -t mde.job.status -k "$1" -H "event-id=$2" -H "correlation-id=$1" ||
        fatal "kcat could not publish a status within 30 s"
}
start_wait() { # start_wait ARGS...: the producer in the background, its job id in $job
    : >"$tmp/wout"
    env -i PATH="$PATH" USER=tester "$bin" "${B[@]}" "$@" >"$tmp/wout" 2>"$tmp/werr" &
    wpid=$!
    wait_file "$tmp/wout" 30 "the job id from mdefleet-producer $*" "$wpid" "$tmp/werr"
    job=$(head -n1 "$tmp/wout")
}
end_wait() { # end_wait: waits (at most 60 s) for the producer of start_wait; rc is its status
    local i
    for ((i = 0; i < 600; i++)); do
        running "$wpid" || break
        sleep 0.1
    done
    running "$wpid" && fatal "mdefleet-producer --wait did not end within 60 s: $(cat "$tmp/werr")"
    wait "$wpid"
    rc=$?
    wpid=
}
outcome() { # outcome NODE RESULT [REASON]
    local reason=null
    [ -n "${3:-}" ] && reason="\"$3\""
    printf ',"node_outcome":{"node":"%s","result":"%s","failure":%s,"reason":%s,"finished_at":%s}' \
        "$1" "$2" "$([ "$2" = Failed ] && echo '"TimeLimit"' || echo null)" "$reason" "$(date +%s%3N)"
}

start_wait "${SCAN[@]}" --wait --timeout 30
check "wait: job id printed before statuses" is_uuid "$job"
accepted=$(uuid)
status "$job" "$accepted" Accepted Scan
status "$job" "$accepted" Accepted Scan # the same status again: ignored
status "$(uuid)" "$(uuid)" Accepted Scan # another job's: ignored
status "$job" "$(uuid)" Planned Scan ',"node_count":3'
status "$job" "$(uuid)" NodeOutcome Scan "$(outcome rack1compute01 Succeeded)"
status "$job" "$(uuid)" NodeOutcome Scan "$(outcome rack1compute02 Failed 'exit code 252')"
status "$job" "$(uuid)" NodeOutcome Scan "$(outcome rack1compute02 Failed 'again')" # same node
status "$job" "$(uuid)" NodeOutcome Scan "$(outcome rack1compute03 Succeeded)"
status "$job" "$(uuid)" Terminal Scan ',"status":"PartiallySucceeded","reason":"1 of 3 nodes failed"'
end_wait
check "wait, partly succeeded: exit 3 (got $rc: $(cat "$tmp/werr"))" [ "$rc" -eq 3 ]
cat >"$tmp/want" <<EOF
$job
job $job accepted
job $job planned 3 nodes
job $job node rack1compute01 succeeded
job $job node rack1compute02 failed: exit code 252
job $job node rack1compute03 succeeded
job $job partly succeeded: 1 of 3 nodes failed
EOF
check "wait: plain progress lines" diff "$tmp/want" "$tmp/wout"
check "wait: stderr empty" [ ! -s "$tmp/werr" ]

start_wait "${ENFORCE[@]}" --level Disabled --wait --timeout 30
status "$job" "$(uuid)" Accepted Enforcement
status "$job" "$(uuid)" EnforcementResult Enforcement \
    ',"status":"Succeeded","enforcement":{"requested_level":"Disabled","confirmed_level":"Disabled","previous_level":"RealTime"}'
end_wait
check "wait, enforcement succeeded: exit 0 (got $rc: $(cat "$tmp/werr"))" [ "$rc" -eq 0 ]
check "wait: enforcement lines" [ "$(tail -n2 "$tmp/wout")" = "job $job accepted
job $job succeeded" ]

start_wait "${SCAN[@]}" --wait --timeout 30
status "$job" "$(uuid)" Terminal Scan ',"status":"Failed","reason":"MDE is disabled on the cluster"'
end_wait
check "wait, failed: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "wait, failed: reason shown" [ "$(tail -n1 "$tmp/wout")" = "job $job failed: MDE is disabled on the cluster" ]

start_wait "${SCAN[@]}" --wait --timeout 30
kill -INT "$wpid"
end_wait
check "wait, SIGINT: exit 130 (got $rc)" [ "$rc" -eq 130 ]
check "wait, SIGINT: says interrupted" grep -q "^mdefleet-producer: interrupted" "$tmp/werr"

finish producer_cli
