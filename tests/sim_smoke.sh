#!/usr/bin/env bash
# mdefleet-sim checked from the outside with independent clients (curl, jq,
# GNU tar, and mdefleet-report on the archives): every endpoint, the Azure
# shapes, the long-running operations, paging, the blob's SAS, ranges and
# conditions, throttling, the admin counters, every injected fault, the
# next phase (a report that changes between two scan jobs) and several
# subscriptions, each with its own clusters and throttling buckets.
# usage: sim_smoke.sh SIM_BINARY DEMO_SCENARIO [REPORT_BINARY]
set -uo pipefail
sim=$1
demo=$2
report=${3:-$(dirname "$sim")/mdefleet-report}
tmp=$(mktemp -d)
pids=()
. "$(dirname "$0")/lib.sh"

# stop_sim PID [SIGNAL]: SIGTERM (or SIGNAL), at most 5 s (stop_pid,
# lib.sh); sets sim_rc to its exit status and forgets the PID, so the trap
# never signals one that may be reused.
stop_sim() {
    local pid=$1 p keep=()
    stop_pid "$pid" "${2:-TERM}" 5
    sim_rc=$stopped_rc
    for p in "${pids[@]}"; do
        [ "$p" = "$pid" ] || keep+=("$p")
    done
    pids=("${keep[@]}")
}

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        stop_sim "$pid"
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

start_sim() { # start_sim NAME SCENARIO: sets url and last_pid (URL read within 10 s)
    local out=$tmp/$1.out
    "$sim" --scenario "$2" --port 0 --bind 127.0.0.1 >"$out" 2>"$tmp/$1.err" &
    last_pid=$!
    pids+=("$last_pid")
    wait_file "$out" 10 "the $1 simulator's URL" "$last_pid" "$tmp/$1.err"
    url=$(head -n 1 "$out")
}

# req METHOD URL [CURL ARGS...]: sets status; body in $tmp/body, headers in $tmp/h
req() {
    local method=$1 u=$2
    shift 2
    status=$(curl -s --max-time 15 -o "$tmp/body" -D "$tmp/h" -w '%{http_code}' -X "$method" \
        "$@" "$u")
}
hdr() { # hdr NAME: the last value of a response header
    tr -d '\r' <"$tmp/h" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" \
        'BEGIN{FS=": "} tolower($1)==n {v=substr($0, length($1)+3)} END{print v}'
}
j() { jq -r "$@" "$tmp/body"; }
like() { [[ $1 == $2 ]]; } # like STRING GLOB
re() { [[ $1 =~ $2 ]]; }   # re STRING REGEX
json_is() { [ "$(jq -c "$1" "$tmp/body")" = "$2" ]; }
is_arm_error() { jq -e '(.error.code|type)=="string" and (.error.message|type)=="string"' \
    "$tmp/body" >/dev/null && [[ $(hdr Content-Type) == application/json* ]]; }
arm_headers() { [ -n "$(hdr x-ms-request-id)" ] && [ -n "$(hdr x-ms-correlation-request-id)" ] &&
    [ -n "$(hdr "x-ms-ratelimit-remaining-subscription-$1")" ]; }
sleep_ms() { sleep "$(awk -v ms="$1" 'BEGIN{printf "%.3f", ms/1000}')"; }

# poll URL: follows an operation until it is done (at most 30 s); the last
# answer is in status/$tmp/body. Sleeps what retry-after-ms says.
poll() {
    local u=$1 deadline=$((SECONDS + 30)) ms
    while :; do
        req GET "$u" -H "Authorization: Bearer $tok"
        if [ "$status" = 202 ] || { [ "$status" = 200 ] && [ "$(j .status)" = InProgress ]; }; then
            [ "$SECONDS" -lt "$deadline" ] || return 1
            ms=$(hdr retry-after-ms)
            sleep_ms "${ms:-200}"
            continue
        fi
        return 0
    done
}

# get_token BASE [SCOPE [CLIENT SECRET]]: prints a client-credentials token
# (default: Resource Manager's, for demo-client)
get_token() {
    curl -s --max-time 10 -X POST "$1/$tenant/oauth2/v2.0/token" \
        -d grant_type=client_credentials -d client_id="${3:-demo-client}" \
        --data-urlencode scope="${2:-https://management.azure.com/.default}" \
        -d client_secret="${4:-demo-secret}" | jq -r .access_token
}

tenant=11111111-1111-1111-1111-111111111111
sub=00000000-0000-0000-0000-000000000000
av=api-version=2026-07-01
json=application/json

# ---- process: usage, bad scenario --------------------------------------------------
"$sim" >/dev/null 2>"$tmp/err"
check "no arguments exit 2" [ $? -eq 2 ]
echo '{"subscription":"x","bogus":1,"auth":{}}' >"$tmp/bad.json"
"$sim" --scenario "$tmp/bad.json" >/dev/null 2>"$tmp/err"
check "bad scenario exit 1" [ $? -eq 1 ]
check "bad scenario one line naming the key" \
    [ "$(wc -l <"$tmp/err")" -eq 1 -a -n "$(grep 'unknown key "bogus"' "$tmp/err")" ]
jq '.clusters[0].nodes[0].name = "bad_name"' "$demo" >"$tmp/bad2.json"
"$sim" --scenario "$tmp/bad2.json" >/dev/null 2>"$tmp/err"
check "bad node name refused" grep -q 'clusters\[0\].nodes\[0\].name: "bad_name" does not match' "$tmp/err"

# The demo's cluster writes to customer storage; the sections below start
# from it in the Cluster Manager (SAS) mode and set customer mode where
# they test it.
jq 'del(.clusters[].command_output)' "$demo" >"$tmp/demo-sas.json"
demo=$tmp/demo-sas.json

# ---- the demo scenario ---------------------------------------------------------------
# with PATCH and scanRuntime lasting 5 s, so that "still running" is still
# true when checked on a loaded machine
jq '.durations.patch_seconds = 250 | .durations.scan_runtime_seconds = 250' "$demo" >"$tmp/demo.json"
start_sim demo "$tmp/demo.json"
demo_pid=$last_pid
B=$url
check "URL printed" re "$B" '^http://127\.0\.0\.1:[0-9]+$'
C=$B/subscriptions/$sub/resourceGroups/contoso-cluster-rg/providers/Microsoft.NetworkCloud/clusters/contoso-cluster
M=$B/subscriptions/$sub/resourceGroups/contoso-cluster-managed-rg/providers/Microsoft.NetworkCloud/bareMetalMachines
curl -s --max-time 5 -X POST "$B/_admin/reset-stats" >/dev/null

# tokens
token_form=(-d grant_type=client_credentials -d client_id=demo-client
    --data-urlencode scope=https://management.azure.com/.default)
req POST "$B/$tenant/oauth2/v2.0/token" "${token_form[@]}" -d client_secret=demo-secret
check "token 200" [ "$status" = 200 ]
check "token shape" jq -e '.token_type=="Bearer" and .expires_in==3600 and .ext_expires_in==3600
    and (.access_token|length)>20' "$tmp/body"
tok=$(j .access_token)
req POST "$B/$tenant/oauth2/v2.0/token" "${token_form[@]}" -d client_secret=wrong
check "bad secret 401 invalid_client AADSTS7000215" \
    [ "$status" = 401 -a "$(j .error)" = invalid_client -a "$(j '.error_description[0:14]')" = AADSTS7000215: ]
req POST "$B/22222222-2222-2222-2222-222222222222/oauth2/v2.0/token" "${token_form[@]}" -d client_secret=demo-secret
check "unknown tenant 400 invalid_request" [ "$status" = 400 -a "$(j .error)" = invalid_request ]
req POST "$B/$tenant/oauth2/v2.0/token" "${token_form[@]}" -d client_assertion=demo-federated-token \
    --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
check "federated assertion 200" [ "$status" = 200 ]
req POST "$B/$tenant/oauth2/v2.0/token" "${token_form[@]}" -d client_assertion=forged \
    --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
check "unknown assertion 401" [ "$status" = 401 -a "$(j .error)" = invalid_client ]
imds="$B/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
req GET "$imds" -H 'Metadata: true'
check "IMDS 200 with string values" [ "$status" = 200 ]
check "IMDS shape" jq -e '(.access_token|length)>20 and .expires_in=="3600" and (.expires_on|test("^[0-9]+$"))
    and (.not_before|test("^[0-9]+$")) and .resource=="https://management.azure.com/" and .token_type=="Bearer"' "$tmp/body"
imds_tok=$(j .access_token)
req GET "$imds"
check "IMDS without Metadata 400" [ "$status" = 400 -a "$(j .error_description)" = "Required metadata header not specified" ]

# the front door
req GET "$C?$av"
check "no token 401" [ "$status" = 401 -a "$(j .error.code)" = InvalidAuthenticationToken ]
check "401 WWW-Authenticate Bearer" like "$(hdr WWW-Authenticate)" 'Bearer authorization_uri=*'
check "401 is an ARM answer" arm_headers reads
req GET "$C?$av" -H "Authorization: Bearer nottherealtoken"
check "unknown token 401" [ "$status" = 401 -a "$(j .error.code)" = InvalidAuthenticationToken ]
req GET "$C" -H "Authorization: Bearer $tok"
check "no api-version 400" [ "$status" = 400 -a "$(j .error.code)" = MissingApiVersionParameter ]
check "400 is an ARM error" is_arm_error
req GET "$C?api-version=2019-01-01" -H "Authorization: Bearer $tok"
check "unknown api-version 400" [ "$status" = 400 -a "$(j .error.code)" = InvalidApiVersionParameter ]
req GET "${C}x?$av" -H "Authorization: Bearer $tok"
check "unknown cluster 404 ResourceNotFound" [ "$status" = 404 -a "$(j .error.code)" = ResourceNotFound ]
req GET "$C?$av" -H "Authorization: Bearer $imds_tok"
check "IMDS token opens ARM" [ "$status" = 200 ]

# cluster GET
req GET "$C?$av" -H "Authorization: Bearer $tok" -H 'x-ms-correlation-request-id: smoke-corr-1'
check "cluster GET 200" [ "$status" = 200 ]
check "cluster GET headers" arm_headers reads
check "correlation id echoed" [ "$(hdr x-ms-correlation-request-id)" = smoke-corr-1 ]
check "cluster shape" jq -e --arg id "${C#"$B"}" '.id==$id and .name=="contoso-cluster"
    and .type=="Microsoft.NetworkCloud/clusters" and .location=="eastus"
    and .extendedLocation.type=="CustomLocation" and (.systemData.createdAt|type)=="string"
    and .properties.provisioningState=="Succeeded" and .properties.detailedStatus=="Running"
    and .properties.managedResourceGroupConfiguration.name=="contoso-cluster-managed-rg"
    and .properties.runtimeProtectionConfiguration.enforcementLevel=="Disabled"
    and .properties.actionStates==[]
    and (.properties|has("commandOutputSettings")|not)' "$tmp/body"

# scanRuntime while Disabled fails
req POST "$C/scanRuntime?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" -d '{"scanActivity":"Scan"}'
check "scanRuntime 202" [ "$status" = 202 ]
check "scanRuntime Location" like "$(hdr Location)" \
    "$B/subscriptions/$sub/providers/Microsoft.NetworkCloud/locations/eastus/operationStatuses/*?api-version=2026-07-01"
check "Retry-After whole seconds" re "$(hdr Retry-After)" '^[1-9][0-9]*$'
check "retry-after-ms" re "$(hdr retry-after-ms)" '^[1-9][0-9]*$'
check "scanRuntime writes header" arm_headers writes
scan_loc=$(hdr Location)
req GET "$scan_loc" -H "Authorization: Bearer $tok"
check "running action polls 202 InProgress" [ "$status" = 202 -a "$(j .status)" = InProgress ]
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "actionStates InProgress" json_is '.properties.actionStates|map([.actionType,.status])' \
    '[["Microsoft.NetworkCloud/clusters/scanRuntime/action","InProgress"]]'
poll "$scan_loc"
check "scan on Disabled ends Failed RuntimeProtectionDisabled" \
    [ "$status" = 200 -a "$(j .status)" = Failed -a "$(j .error.code)" = RuntimeProtectionDisabled ]
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "actionStates Failed with times" jq -e '.properties.actionStates[0] | .status=="Failed"
    and (.startTime|type)=="string" and (.endTime|type)=="string" and (.stepStates|length)==1' "$tmp/body"

# PATCH: validation, then the asynchronous change
req PATCH "$C?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" \
    -d '{"properties":{"runtimeProtectionConfiguration":{"enforcementLevel":"Loud"}}}'
check "PATCH bad level 400" [ "$status" = 400 ] && check "PATCH bad level ARM error" is_arm_error
req PATCH "$C?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" -d '{"properties":'
check "PATCH bad JSON 400 InvalidRequestContent" [ "$status" = 400 -a "$(j .error.code)" = InvalidRequestContent ]
req PATCH "$C?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" \
    -d '{"properties":{"runtimeProtectionConfiguration":{"enforcementLevel":"RealTime"}}}'
check "PATCH 202" [ "$status" = 202 ]
async=$(hdr Azure-AsyncOperation)
check "PATCH Azure-AsyncOperation = Location" [ -n "$async" -a "$async" = "$(hdr Location)" ]
check "PATCH writes header" arm_headers writes
req GET "$async" -H "Authorization: Bearer $tok"
check "PATCH status 200 InProgress" [ "$status" = 200 -a "$(j .status)" = InProgress ]
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "level unchanged while running" [ "$(j .properties.runtimeProtectionConfiguration.enforcementLevel)" = Disabled ]
poll "$async"
check "PATCH Succeeded" jq -e '.status=="Succeeded" and .percentComplete==100 and (.endTime|type)=="string"' "$tmp/body"
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "level now RealTime" [ "$(j .properties.runtimeProtectionConfiguration.enforcementLevel)" = RealTime ]
req POST "$C/scanRuntime?$av" -H "Authorization: Bearer $tok"
poll "$(hdr Location)"
check "scanRuntime on RealTime Succeeded" [ "$status" = 200 -a "$(j .status)" = Succeeded ]
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "actionStates Completed" [ "$(j '.properties.actionStates[0].status')" = Completed ]

# the machine list, three pages of 5
names=()
next="$M?$av"
pages=0
while [ -n "$next" ] && [ $pages -lt 10 ]; do
    req GET "$next" -H "Authorization: Bearer $tok"
    [ "$status" = 200 ] || break
    pages=$((pages + 1))
    mapfile -t -O "${#names[@]}" names < <(j '.value[].name')
    [ $pages = 1 ] && first_next=$(j '.nextLink // empty')
    next=$(j '.nextLink // empty')
done
check "list has 3 pages" [ "$pages" = 3 ]
check "list has 12 distinct machines" [ "$(printf '%s\n' "${names[@]}" | sort -u | wc -l)" = 12 ]
check "nextLink carries api-version, \$top, \$skipToken" \
    like "$first_next" "$M?*api-version=2026-07-01*\$top=5*\$skipToken=*"
req GET "$M?$av&\$top=12" -H "Authorization: Bearer $tok"
check "\$top=12 is one page" jq -e '(.value|length)==12 and (has("nextLink")|not)' "$tmp/body"
req GET "$M/rack1compute01?$av" -H "Authorization: Bearer $tok"
check "machine shape" jq -e '.name=="rack1compute01" and .type=="Microsoft.NetworkCloud/bareMetalMachines"
    and (.properties | .machineName=="rack1compute01" and (.rackId|endswith("/racks/rack1"))
    and .powerState=="On" and .readyState=="True" and .detailedStatus=="Provisioned"
    and .cordonStatus=="Uncordoned" and .provisioningState=="Succeeded"
    and (.clusterId|endswith("/clusters/contoso-cluster"))
    and (.machineRoles|length)==1 and .runtimeProtectionStatus.enforcementLevel=="RealTime"
    and .runtimeProtectionStatus.definitionsVersion=="1.417.472.0")' "$tmp/body"
req GET "$M/nosuchmachine?$av" -H "Authorization: Bearer $tok"
check "unknown machine 404" [ "$status" = 404 -a "$(j .error.code)" = ResourceNotFound ]

# runDataExtracts: validation
extract() { # extract NODE BODY [ROUTE]
    req POST "$M/$1/${3:-runDataExtracts}?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" -d "$2"
}
mde='{"commands":[{"command":"mde-agent-information"}],"limitTimeSeconds":600}'
extract rack1compute01 '{"commands":[{"command":"mde-agent-information"}],"limitTimeSeconds":59}'
check "limitTimeSeconds 59 400 naming it" [ "$status" = 400 ] && check "limit error names the field" \
    jq -e '.error.code=="ValidationError" and (.error.message|contains("limitTimeSeconds"))' "$tmp/body"
extract rack1compute01 '{"commands":[],"limitTimeSeconds":600}'
check "empty commands 400" [ "$status" = 400 ] && check "empty commands ARM error" is_arm_error
extract rack1compute01 '{"commands":[{"command":7}],"limitTimeSeconds":600}'
check "command not a string 400" [ "$status" = 400 ]
extract rack1compute01 'nope'
check "body not JSON 400" [ "$status" = 400 -a "$(j .error.code)" = InvalidRequestContent ]

# runDataExtracts: results of every kind, started together
declare -A loc
for n in rack1compute01 rack2compute02 rack3compute01 rack2compute03 rack3compute03; do
    extract "$n" "$mde"
    check "$n extract 202 + Location" [ "$status" = 202 -a -n "$(hdr Location)" ]
    loc[$n]=$(hdr Location)
done
extract rack1compute02 '{"commands":[{"command":"mde-agent-information","arguments":[]}],"limitTimeSeconds":60}' runDataExtractsRestricted
check "restricted extract 202" [ "$status" = 202 ]
loc[limit]=$(hdr Location)

poll "${loc[rack1compute01]}"
check "extract Succeeded exitCode 0" jq -e '.status=="Succeeded" and .properties.exitCode=="0"
    and (.properties.outputHead|contains("MDE agent is running"))
    and (.resourceId|endswith("/bareMetalMachines/rack1compute01"))' "$tmp/body"
result=$(j .properties.resultUrl)
check "resultUrl shape" re "$result" \
    "^$B/bmm-run-command-output/[0-9a-f-]{36}-action-bmmdataextcmd\\.tar\\.gz\\?se=[^&]+&sig=[^&]+&sp=r&spr=https&sr=b&st=[^&]+&sv=2019-12-12\$"
check "outputHead names the resultUrl" like "$(j .properties.outputHead)" "*Script execution result can be found in storage account:"$'\n'" $result"

req GET "$result"
check "blob 200" [ "$status" = 200 ]
size=$(stat -c %s "$tmp/body")
etag=$(hdr ETag)
check "blob headers" [ "$(hdr Content-Type)" = application/x-gzip -a "$(hdr Accept-Ranges)" = bytes \
    -a "$(hdr Content-Length)" = "$size" -a -n "$etag" ]
cp "$tmp/body" "$tmp/eicar.tar.gz"
check "tar lists the report" grep -qx 'hostfs/tmp/runcommand/mde-agent-information.json' \
    <(tar -tzf "$tmp/eicar.tar.gz")
tar -xzOf "$tmp/eicar.tar.gz" hostfs/tmp/runcommand/mde-agent-information.json >"$tmp/report.json"
check "report top-level keys" jq -e 'keys==["diagnosticInformation","generalHealth","mdeConfiguration","mdeDefinitions","scanList","threatInformation"]' "$tmp/report.json"
check "report section shapes" jq -e '
    (.diagnosticInformation.realTimeProtectionStats.counters|type)=="array"
    and (.diagnosticInformation|has("eventProviderStats"))
    and .generalHealth["$type"]=="getHealthAllResult"
    and (.generalHealth.definitionsUpdated|type)=="string"
    and (.generalHealth.realTimeProtectionEnabled|keys)==["displayValue","isManaged","value"]
    and (.generalHealth.healthIssues|type)=="array"
    and ([.scanList[] | .startTime, .endTime, .filesScanned | type] | unique)==["string"]
    and ([.threatInformation.list.threats.scans[] | .start_time, .end_time, .files_scanned | type] | unique)==["number"]
    and .threatInformation.quarantineList.type=="quarantined"
    and ([.threatInformation.quarantineList.threats[].threat.name])==["Virus:DOS/EICAR_Test_File"]
    and ([.threatInformation.list.threats.scans[].threats[]
          | (.threat|keys)==["name","tracking_id","type"] and (.detection_time|type)=="number"
            and (.history|map(.key)|. == sort)] | all)' "$tmp/report.json"
check "simulated scan joins scanList" [ "$(jq '.scanList|length' "$tmp/report.json")" = 3 ]

# the report tool reads the archives without a warning
report_status() { # report_status ARCHIVE NAME: prints the status of that threat
    "$report" "$1" >"$tmp/rep.json" 2>"$tmp/rep.err" || { echo "exit $?"; return; }
    jq -r --arg n "$2" '(.warnings|length|tostring) + " " + ([.threats[]|select(.name==$n)|.status]|join(","))' "$tmp/rep.json"
}
check "mdefleet-report: EICAR quarantined, no warnings" \
    [ "$(report_status "$tmp/eicar.tar.gz" Virus:DOS/EICAR_Test_File)" = "0 quarantined" ]
for pair in rack2compute02:Backdoor:Linux/Mirai.IJ!MTB:detected rack3compute01:Trojan:Linux/Xorddos.A!xp:removed; do
    n=${pair%%:*}
    rest=${pair#*:}
    want=${rest##*:}
    name=${rest%:*}
    poll "${loc[$n]}"
    curl -s --max-time 15 -o "$tmp/$n.tar.gz" "$(j .properties.resultUrl)"
    check "mdefleet-report: $name $want on $n" [ "$(report_status "$tmp/$n.tar.gz" "$name")" = "0 $want" ]
done

# ranges and conditions
req GET "$result" -H 'Range: bytes=10-'
check "Range bytes=10- 206" [ "$status" = 206 -a "$(hdr Content-Range)" = "bytes 10-$((size - 1))/$size" ]
check "206 body is the tail" cmp -s "$tmp/body" <(tail -c +11 "$tmp/eicar.tar.gz")
req GET "$result" -H 'Range: bytes=0-9'
check "Range bytes=0-9 206 10 bytes" [ "$status" = 206 -a "$(stat -c %s "$tmp/body")" = 10 ]
req GET "$result" -H "Range: bytes=$size-"
check "Range past the end 416" [ "$status" = 416 ]
req GET "$result" -H 'Range: bytes=100-' -H "If-Match: $etag"
check "If-Match right ETag 206" [ "$status" = 206 ]
req GET "$result" -H 'If-Match: "0x8D0000000000000"'
check "If-Match wrong ETag 412" [ "$status" = 412 -a "$(hdr x-ms-error-code)" = ConditionNotMet ]
req GET "${result/sig=/sig=X}"
check "wrong sig 403 AuthenticationFailed" [ "$status" = 403 -a "$(hdr x-ms-error-code)" = AuthenticationFailed ]
req GET "$B/bmm-run-command-output/00000000-0000-0000-0000-000000000000-action-bmmdataextcmd.tar.gz?sig=x"
check "unknown blob 404" [ "$status" = 404 ]
req GET "$result" -H "Authorization: Bearer $tok"
check "SAS GET with a bearer token still served" [ "$status" = 200 ]
req GET "$B/_admin/stats"
check "authorization_on_sas counts it" json_is '[.authorization_on_sas, .wrong_audience]' '[1,0]'

# extracts that produce no archive
poll "${loc[rack2compute03]}"
check "agent not running: exitCode 1, no resultUrl" jq -e '.status=="Succeeded" and .properties.exitCode=="1"
    and (.properties.outputHead|contains("MDE agent is not running"))
    and (.properties|has("resultUrl")|not)' "$tmp/body"
poll "${loc[rack3compute03]}"
check "exit_code fault: 252, no resultUrl" jq -e '.properties.exitCode=="252" and (.properties|has("resultUrl")|not)' "$tmp/body"
poll "${loc[limit]}"
check "limitTimeSeconds under the run time: 252" jq -e '.status=="Succeeded" and .properties.exitCode=="252"
    and (.properties|has("resultUrl")|not)' "$tmp/body"

# admin counters: exact after a reset
curl -s --max-time 5 -X POST "$B/_admin/reset-stats" >/dev/null
req GET "$C?$av" -H "Authorization: Bearer $tok"
req GET "$C?$av" -H "Authorization: Bearer $tok"
req GET "$C?$av"
req GET "$B/nothing-here"
req GET "$B/_admin/stats"
check "admin stats exact" json_is . \
    "{\"requests\":{\"cluster.get\":{\"200\":2,\"401\":1},\"unknown\":{\"404\":1}},\"wrong_audience\":0,\"authorization_on_sas\":0,\"phase\":0,\"subscriptions\":{\"$sub\":{\"reads\":2,\"writes\":0,\"throttled\":0}}}"

# oversized body
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' >"$tmp/big"
req PATCH "$C?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" --data-binary @"$tmp/big"
check "body over 1 MiB 413" [ "$status" = 413 ]

stop_sim "$demo_pid"
check "demo sim exits 0 on SIGTERM" [ "$sim_rc" = 0 ]

# ---- faults ----------------------------------------------------------------------------
jq '.time_scale = 0.01 | .sas_ttl_seconds = 300 | .durations.extract_seconds = 10
    | .clusters[0].nodes[0].faults = {"http_5xx": 2}
    | .clusters[0].nodes[1].faults = {"broken_download_after_bytes": 300}
    | .clusters[0].nodes[2].faults = {"corrupt_archive": true}
    | .clusters[0].nodes[3].faults = {"expired_sas": true}
    | .clusters[0].nodes[4].faults = {"slow_download_bytes_per_second": 2000}
    | .clusters[0].nodes[5].faults = {"operation_failed": "The machine did not answer"}
    | .clusters += [{"resource_group": "sync-rg", "name": "sync-cluster", "managed_resource_group": "sync-managed-rg",
                     "patch_response": "sync", "nodes": []}]' "$demo" >"$tmp/faults.json"
start_sim faults "$tmp/faults.json"
faults_pid=$last_pid
B=$url
tok=$(get_token "$B")
M=$B/subscriptions/$sub/resourceGroups/contoso-cluster-managed-rg/providers/Microsoft.NetworkCloud/bareMetalMachines
n=($(jq -r '.clusters[0].nodes[].name' "$tmp/faults.json"))

extract "${n[0]}" "$mde"
check "http_5xx: 503 ServiceUnavailable" [ "$status" = 503 -a "$(j .error.code)" = ServiceUnavailable ]
check "503 Retry-After + retry-after-ms" [ -n "$(hdr Retry-After)" -a -n "$(hdr retry-after-ms)" ]
extract "${n[0]}" "$mde"
check "http_5xx: second 503" [ "$status" = 503 ]
extract "${n[0]}" "$mde"
check "http_5xx: third accepted" [ "$status" = 202 ]
for i in 1 2 3 4 5; do
    extract "${n[$i]}" "$mde"
    loc[f$i]=$(hdr Location)
done
poll "${loc[f5]}"
check "operation_failed: Failed OperationFailed" jq -e '.status=="Failed" and .error.code=="OperationFailed"
    and .error.message=="The machine did not answer"' "$tmp/body"

poll "${loc[f1]}"
u=$(j .properties.resultUrl)
curl -s --max-time 15 -o "$tmp/part" "$u"
rc=$?
check "broken download: first transfer cut (curl 18)" [ "$rc" = 18 ]
check "broken download: 300 bytes arrived" [ "$(stat -c %s "$tmp/part")" = 300 ]
curl -s --max-time 15 -D "$tmp/h" -o /dev/null "$u" -r 0-0
etag=$(hdr ETag)
req GET "$u" -H 'Range: bytes=300-' -H "If-Match: $etag"
check "broken download: resume 206" [ "$status" = 206 ]
cat "$tmp/part" "$tmp/body" >"$tmp/resumed.tar.gz"
check "broken download: resumed archive is whole" tar -tzf "$tmp/resumed.tar.gz"

poll "${loc[f2]}"
curl -s --max-time 15 -o "$tmp/corrupt.tar.gz" "$(j .properties.resultUrl)"
check "corrupt archive: tar refuses it" bash -c "! tar -tzf '$tmp/corrupt.tar.gz' >/dev/null 2>&1"
"$report" "$tmp/corrupt.tar.gz" >/dev/null 2>&1
check "corrupt archive: mdefleet-report exit 1" [ $? -eq 1 ]

poll "${loc[f3]}"
req GET "$(j .properties.resultUrl)"
check "expired SAS 403 AuthenticationFailed" [ "$status" = 403 -a "$(hdr x-ms-error-code)" = AuthenticationFailed ]
check "expired SAS XML body" [ "$(hdr Content-Type)" = application/xml ] && check "expired SAS detail" \
    grep -q '<AuthenticationErrorDetail>Signature not valid in the specified time frame: Start \[.*\] - Expiry \[.*\] - Current \[.*\]</AuthenticationErrorDetail>' "$tmp/body"

poll "${loc[f4]}"
u=$(j .properties.resultUrl)
t0=$(date +%s%N)
# under stress-ng the pacing's timer wakes late: a generous cap (20 s
# was passed once, cutting the archive short)
curl -s --max-time 90 -o "$tmp/slow.tar.gz" "$u"
curl_rc=$?
t1=$(date +%s%N)
check "slow download: curl ended without error (got $curl_rc; 28: it timed out)" [ "$curl_rc" -eq 0 ]
bytes=$(stat -c %s "$tmp/slow.tar.gz")
check "slow download paced at 2000 B/s" [ $(((t1 - t0) / 1000000)) -ge $((bytes * 1000 / 2000 - 200)) ]
check "slow download complete" tar -tzf "$tmp/slow.tar.gz"
# the SAS lifetime: 300 simulated s are 3 real s here
sleep 3.2
req GET "$u"
check "SAS past its expiry 403" [ "$status" = 403 ] && check "expired by the clock: time-frame detail" \
    grep -q 'Signature not valid in the specified time frame' "$tmp/body"

SC=$B/subscriptions/$sub/resourceGroups/sync-rg/providers/Microsoft.NetworkCloud/clusters/sync-cluster
req PATCH "$SC?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" \
    -d '{"properties":{"runtimeProtectionConfiguration":{"enforcementLevel":"OnDemand"}}}'
check "sync PATCH 200 with the new level" [ "$status" = 200 -a "$(j .properties.runtimeProtectionConfiguration.enforcementLevel)" = OnDemand ]
stop_sim "$faults_pid"
check "faults sim exits 0 on SIGTERM" [ "$sim_rc" = 0 ]

# ---- customer storage: commandOutputSettings, bearer-read blobs -----------------------
# contoso-cluster writes to contosoout/nexus-output, readable by demo-client
# only; uai-cluster to the same account's uai-output (default readers: every
# client and the managed identity); fw-cluster's account is behind a firewall.
# expired_sas on rack1compute01 has no effect without a SAS.
jq '.time_scale = 0.01 | .durations.extract_seconds = 10 | .durations.scan_runtime_seconds = 400
    | .api_versions += ["2024-06-01-preview"]
    | .auth.clients += [{"client_id": "other-client", "client_secret": "other-secret"}]
    | .clusters[0].enforcement_level = "RealTime"
    | .clusters[0].scan_action_failed = "Scan agents on 2 nodes did not answer"
    | .clusters[0].command_output = {"mode": "customer", "account": "contosoout",
                                     "container": "nexus-output", "readers": ["demo-client"]}
    | .clusters[0].nodes |= map(.faults = (.faults // {}) + ({
        "rack1compute01": {"expired_sas": true},
        "rack1compute02": {"blob_401": 1, "blob_404": 2, "blob_5xx": 1},
        "rack1compute03": {"blob_no_role": true},
        "rack2control01": {"blob_blocked": true},
        "rack2compute01": {"broken_download_after_bytes": 300}}[.name] // {}))
    | .clusters += [{"resource_group": "uai-rg", "name": "uai-cluster", "managed_resource_group": "uai-managed-rg",
                     "command_output": {"mode": "customer", "account": "contosoout", "container": "uai-output",
                                        "identity": "UserAssignedIdentity"},
                     "nodes": [{"name": "uainode01", "rack": "rack1"}]},
                    {"resource_group": "fw-rg", "name": "fw-cluster", "managed_resource_group": "fw-managed-rg",
                     "command_output": {"mode": "customer", "account": "fwout", "container": "out", "firewall": true}}]' \
    "$demo" >"$tmp/customer.json"
start_sim customer "$tmp/customer.json"
customer_pid=$last_pid
B=$url
tok=$(get_token "$B")
stor=$(get_token "$B" https://storage.azure.com/.default)
other=$(get_token "$B" https://storage.azure.com/.default other-client other-secret)
req GET "$B/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://storage.azure.com/" -H 'Metadata: true'
check "IMDS storage token" [ "$status" = 200 -a "$(j .resource)" = https://storage.azure.com/ ]
mi=$(j .access_token)
C=$B/subscriptions/$sub/resourceGroups/contoso-cluster-rg/providers/Microsoft.NetworkCloud/clusters/contoso-cluster
M=$B/subscriptions/$sub/resourceGroups/contoso-cluster-managed-rg/providers/Microsoft.NetworkCloud/bareMetalMachines
UM=$B/subscriptions/$sub/resourceGroups/uai-managed-rg/providers/Microsoft.NetworkCloud/bareMetalMachines
curl -s --max-time 5 -X POST "$B/_admin/reset-stats" >/dev/null
stats() { curl -s --max-time 5 "$B/_admin/stats" | jq -c "$1"; }
sget() { # sget URL TOKEN [CURL ARGS...]: a storage GET with a bearer token and x-ms-version
    local u=$1 t=$2
    shift 2
    req GET "$u" -H "Authorization: Bearer $t" -H 'x-ms-version: 2021-08-06' "$@"
}
xml_code() { [ "$(hdr x-ms-error-code)" = "$1" ] && [ "$(hdr Content-Type)" = application/xml ] &&
    grep -q "<Error><Code>$1</Code><Message>" "$tmp/body"; }

# the scan starts first: it runs while the blobs are read
req POST "$C/scanRuntime?$av" -H "Authorization: Bearer $tok"
scan_loc=$(hdr Location)
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "scan_action_failed: InProgress while running" [ "$(j '.properties.actionStates[0].status')" = InProgress ]
check "commandOutputSettings: system identity, path-style container" json_is .properties.commandOutputSettings \
    "{\"associatedIdentity\":{\"identityType\":\"SystemAssignedIdentity\"},\"containerUrl\":\"$B/contosoout/nexus-output\"}"
req GET "$C?api-version=2024-06-01-preview" -H "Authorization: Bearer $tok"
check "no commandOutputSettings before 2024-07-01" jq -e '.properties|has("commandOutputSettings")|not' "$tmp/body"
req GET "$B/subscriptions/$sub/resourceGroups/uai-rg/providers/Microsoft.NetworkCloud/clusters/uai-cluster?$av" \
    -H "Authorization: Bearer $tok"
check "commandOutputSettings: user-assigned identity" jq -e --arg u "$B/contosoout/uai-output" '.properties.commandOutputSettings
    | .containerUrl==$u and .associatedIdentity.identityType=="UserAssignedIdentity"
    and (.associatedIdentity.userAssignedIdentityResourceId
         | test("^/subscriptions/.*/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-cluster-uai$"))' "$tmp/body"

declare -A cloc
for n in rack1compute01 rack1compute02 rack1compute03 rack2control01 rack2compute01; do
    extract "$n" "$mde"
    cloc[$n]=$(hdr Location)
done
req POST "$UM/uainode01/runDataExtracts?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" -d "$mde"
cloc[uai]=$(hdr Location)
result_of() { poll "${cloc[$1]}" && j .properties.resultUrl; }

poll "${cloc[rack1compute01]}"
cu=$(j .properties.resultUrl)
check "customer resultUrl: path style, no query" \
    re "$cu" "^$B/contosoout/nexus-output/runcommand-output-[0-9a-f-]{36}\\.tar\\.gz\$"
check "customer outputHead names the resultUrl" \
    like "$(j .properties.outputHead)" "*Script execution result can be found in storage account:"$'\n'" $cu"
sget "$cu" "$stor"
check "storage token reads the blob 200" [ "$status" = 200 -a "$(hdr Content-Type)" = application/x-gzip ]
cp "$tmp/body" "$tmp/customer.tar.gz"
csize=$(stat -c %s "$tmp/customer.tar.gz")
cetag=$(hdr ETag)
check "customer archive is a tar.gz" tar -tzf "$tmp/customer.tar.gz"
check "mdefleet-report reads the customer archive" \
    [ "$(report_status "$tmp/customer.tar.gz" Virus:DOS/EICAR_Test_File)" = "0 quarantined" ]
sget "$cu" "$stor" -H 'Range: bytes=10-'
check "customer Range 206" [ "$status" = 206 -a "$(hdr Content-Range)" = "bytes 10-$((csize - 1))/$csize" ]
check "customer 206 body is the tail" cmp -s "$tmp/body" <(tail -c +11 "$tmp/customer.tar.gz")
sget "$cu" "$stor" -H 'x-ms-range: bytes=0-9' -H "If-Match: $cetag"
check "customer x-ms-range + If-Match 206" [ "$status" = 206 -a "$(stat -c %s "$tmp/body")" = 10 ]

sget "$cu" "$tok"
check "ARM token on storage 401 InvalidAuthenticationInfo" [ "$status" = 401 ] && check "401 XML" xml_code InvalidAuthenticationInfo
check "401 bearer challenge" like "$(hdr WWW-Authenticate)" \
    "Bearer authorization_uri=$B/$tenant/oauth2/authorize resource_id=https://storage.azure.com"
check "wrong_audience counts the ARM token" [ "$(stats .wrong_audience)" = 1 ]
req GET "$C?$av" -H "Authorization: Bearer $stor"
check "storage token on ARM 401 InvalidAuthenticationTokenAudience" \
    [ "$status" = 401 -a "$(j .error.code)" = InvalidAuthenticationTokenAudience ]
check "wrong_audience counts the storage token" [ "$(stats .wrong_audience)" = 2 ]
sget "$cu" nottherealtoken
check "unknown token 401 InvalidAuthenticationInfo" [ "$status" = 401 ] && check "unknown token XML" xml_code InvalidAuthenticationInfo
req GET "$cu"
check "no Authorization 409 PublicAccessNotPermitted" [ "$status" = 409 ] && check "409 XML" xml_code PublicAccessNotPermitted
req GET "$cu" -H "Authorization: Bearer $stor"
check "no x-ms-version 400 InvalidHeaderValue" [ "$status" = 400 ] && check "400 XML" xml_code InvalidHeaderValue
req GET "$cu" -H "Authorization: Bearer $stor" -H 'x-ms-version: 2017-07-29'
check "x-ms-version before 2017-11-09 400" [ "$status" = 400 ]
sget "$cu" "$other"
check "client not a reader 403 AuthorizationPermissionMismatch" [ "$status" = 403 ] &&
    check "403 XML" xml_code AuthorizationPermissionMismatch
sget "$cu" "$mi"
check "managed identity not among explicit readers 403" [ "$status" = 403 ]
sget "$B/fwout/out/runcommand-output-00000000-0000-0000-0000-000000000000.tar.gz" "$stor"
check "firewall 403 AuthorizationFailure" [ "$status" = 403 ] && check "firewall XML" xml_code AuthorizationFailure
check "firewall message" grep -q '<Message>This request is not authorized to perform this operation\.' "$tmp/body"
sget "$B/contosoout/nexus-output/runcommand-output-00000000-0000-0000-0000-000000000000.tar.gz" "$stor"
check "unknown customer blob 404 BlobNotFound" [ "$status" = 404 ] && check "404 XML" xml_code BlobNotFound
sget "${cu/contosoout/bmm-run-command-output}" "$stor"
check "customer blob is not in the SAS container" [ "$status" = 404 ]
check "a token on the SAS route counts in authorization_on_sas" [ "$(stats .authorization_on_sas)" = 1 ]

uu=$(result_of uai)
check "uai-cluster writes to its own container" re "$uu" "^$B/contosoout/uai-output/runcommand-output-"
sget "$uu" "$mi"
check "default readers: the managed identity reads" [ "$status" = 200 ]
sget "$uu" "$other"
check "default readers: every client reads" [ "$status" = 200 ]
sget "$B/contosoout/nexus-output/${uu##*/}" "$stor"
check "another cluster's blob under this container 404" [ "$status" = 404 ]

u=$(result_of rack1compute02)
seen=
for i in 1 2 3 4 5 6; do
    sget "$u" "$stor"
    seen="$seen$status "
done
check "blob_401 1, blob_404 2, blob_5xx 1, then served" [ "$seen" = "401 404 404 503 200 200 " ]
sget "$u" "$stor"
check "served blob is whole" tar -tzf "$tmp/body"
u=$(result_of rack1compute03)
sget "$u" "$stor"
check "blob_no_role 403 AuthorizationPermissionMismatch" [ "$status" = 403 -a "$(hdr x-ms-error-code)" = AuthorizationPermissionMismatch ]
u=$(result_of rack2control01)
sget "$u" "$stor"
check "blob_blocked 403 AuthorizationFailure" [ "$status" = 403 -a "$(hdr x-ms-error-code)" = AuthorizationFailure ]
u=$(result_of rack2compute01)
curl -s --max-time 15 -o "$tmp/cpart" -H "Authorization: Bearer $stor" -H 'x-ms-version: 2021-08-06' "$u"
check "customer broken download: cut at 300 bytes" [ $? = 18 -a "$(stat -c %s "$tmp/cpart")" = 300 ]
sget "$u" "$stor" -r 0-0
etag=$(hdr ETag)
sget "$u" "$stor" -H 'Range: bytes=300-' -H "If-Match: $etag"
cat "$tmp/cpart" "$tmp/body" >"$tmp/cresumed.tar.gz"
check "customer broken download: resumed archive is whole" [ "$status" = 206 ] && check "resumed tar" tar -tzf "$tmp/cresumed.tar.gz"
check "blob.customer route counted" [ "$(stats '.requests["blob.customer"]["200"] >= 5')" = true ]
check "customer-route tokens are not counted as on a SAS" [ "$(stats .authorization_on_sas)" = 1 ]

poll "$scan_loc"
check "scan_action_failed: the operation Succeeded" [ "$status" = 200 -a "$(j .status)" = Succeeded ]
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "scan_action_failed: actionStates Failed with the message" jq -e '.properties.actionStates[0]
    | .status=="Failed" and .message=="Scan agents on 2 nodes did not answer" and (.endTime|type)=="string"
    and .stepStates[0].status=="Failed"' "$tmp/body"
stop_sim "$customer_pid"
check "customer sim exits 0 on SIGTERM" [ "$sim_rc" = 0 ]

# ---- next phase: two scan jobs on one cluster see what changed ----------------------
# rack2compute02's Mirai (detected) is quarantined in `next`, rack1compute02
# gets a new threat, rack2compute03's agent runs again (next.faults = {}).
# A scanRuntime runs before the change and one after.
new_threat='Trojan:Linux/Tsunami.A!MTB'
jq --arg nt "$new_threat" '.time_scale = 0.01 | .durations.extract_seconds = 10
    | .durations.scan_runtime_seconds = 10 | .clusters[0].enforcement_level = "RealTime"
    | .clusters[0].nodes |= map(del(.next)
        | if .name == "rack2compute02" then
            .next = {"report": {"threats": [.report.threats[0] | .status = ["detected", "quarantined"]]}}
        elif .name == "rack1compute02" then
            .next = {"report": {"threats": [{"name": $nt, "detected": (.report.scans[-1].start + 1000)}]}}
        elif .name == "rack2compute03" then .next = {"faults": {}}
        else . end)' "$demo" >"$tmp/phase.json"
check "phase scenario: the Mirai is detected, the agent not running" jq -e '.clusters[0].nodes
    | (map(select(.name == "rack2compute02"))[0].report.threats[0].status == ["detected"])
    and (map(select(.name == "rack2compute03"))[0].faults == {"agent_not_running": true})' "$tmp/phase.json"
start_sim phase "$tmp/phase.json"
phase_pid=$last_pid
B=$url
tok=$(get_token "$B")
C=$B/subscriptions/$sub/resourceGroups/contoso-cluster-rg/providers/Microsoft.NetworkCloud/clusters/contoso-cluster
M=$B/subscriptions/$sub/resourceGroups/contoso-cluster-managed-rg/providers/Microsoft.NetworkCloud/bareMetalMachines
pnodes=(rack2compute02 rack1compute02 rack2compute03)
declare -A ploc purl
# scan_job: a scanRuntime, followed to its end (poll: at most 30 s)
scan_job() {
    req POST "$C/scanRuntime?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" -d '{"scanActivity":"Scan"}'
    [ "$status" = 202 ] && poll "$(hdr Location)" && [ "$(j .status)" = Succeeded ]
}
# phase_extracts TAG: an extract on each of pnodes; the final operation
# answer in $tmp/TAG-NODE.op.json, the archive (when there is a resultUrl)
# in $tmp/TAG-NODE.tar.gz, the URL in purl[TAG-NODE]
phase_extracts() {
    local n
    for n in "${pnodes[@]}"; do
        extract "$n" "$mde"
        ploc[$n]=$(hdr Location)
    done
    for n in "${pnodes[@]}"; do
        poll "${ploc[$n]}"
        cp "$tmp/body" "$tmp/$1-$n.op.json"
        purl[$1-$n]=$(j '.properties.resultUrl // empty')
        [ -z "${purl[$1-$n]}" ] || curl -s --max-time 15 -o "$tmp/$1-$n.tar.gz" "${purl[$1-$n]}"
    done
}
# threat ARCHIVE NAME: "tracking_id status" of that threat in mdefleet-report's
# model ("" when absent, "exit N" when it cannot read the archive)
threat() {
    "$report" "$1" >"$tmp/rep.json" 2>"$tmp/rep.err" || { echo "exit $?"; return; }
    jq -r --arg n "$2" '[.threats[] | select(.name == $n) | "\(.tracking_id) \(.status)"] | join(",")' "$tmp/rep.json"
}
scans_in() { "$report" "$1" | jq '.scans | length'; } # scans_in ARCHIVE
health_of() { # health_of NODE: the machine's agentHealthStatus
    req GET "$M/$1?$av" -H "Authorization: Bearer $tok"
    j .properties.runtimeProtectionStatus.agentHealthStatus
}
mirai='Backdoor:Linux/Mirai.IJ!MTB'

check "phase 0 before any" [ "$(stats .phase)" = 0 ]
check "agent not running: Unhealthy before" [ "$(health_of rack2compute03)" = Unhealthy ]
check "scan job 1: scanRuntime Succeeded" scan_job
phase_extracts before
# an extract that ends before the change, its archive first read after it
extract rack2compute02 "$mde"
poll "$(hdr Location)"
late_url=$(j '.properties.resultUrl // empty')
before=$(threat "$tmp/before-rack2compute02.tar.gz" "$mirai")
mirai_id=${before%% *}
check "before: the Mirai is detected" re "$before" '^[0-9a-f-]{36} detected$'
check "before: no new threat yet" [ -z "$(threat "$tmp/before-rack1compute02.tar.gz" "$new_threat")" ]
check "before: agent not running, exitCode 1 and no resultUrl" jq -e '.status == "Succeeded"
    and .properties.exitCode == "1" and (.properties | has("resultUrl") | not)' "$tmp/before-rack2compute03.op.json"
check "before: scan job 1 in the report" [ "$(scans_in "$tmp/before-rack2compute02.tar.gz")" = 3 ]

req POST "$B/_admin/next-phase"
check "next-phase 200 phase 1, 3 nodes changed" [ "$status" = 200 ] && check "next-phase answer" \
    json_is . '{"phase":1,"nodes_changed":3}'
check "stats: phase 1" [ "$(stats .phase)" = 1 ]
curl -s --max-time 15 -o "$tmp/late.tar.gz" "$late_url"
check "an extract that ended before the change keeps the old report" \
    [ "$(threat "$tmp/late.tar.gz" "$mirai")" = "$mirai_id detected" ]
curl -s --max-time 15 -o "$tmp/again.tar.gz" "${purl[before-rack2compute02]}"
check "an archive built before the change is unchanged" cmp -s "$tmp/again.tar.gz" "$tmp/before-rack2compute02.tar.gz"
check "agent runs again: Healthy after" [ "$(health_of rack2compute03)" = Healthy ]
check "scan job 2: scanRuntime Succeeded" scan_job
phase_extracts after
check "after: the same Mirai (same tracking id) is quarantined" \
    [ "$(threat "$tmp/after-rack2compute02.tar.gz" "$mirai")" = "$mirai_id quarantined" ]
check "after: the new threat appears" re "$(threat "$tmp/after-rack1compute02.tar.gz" "$new_threat")" '^[0-9a-f-]{36} detected$'
check "after: the agent node's extract delivers" jq -e '.status == "Succeeded" and .properties.exitCode == "0"
    and (.properties.resultUrl | type) == "string"' "$tmp/after-rack2compute03.op.json"
check "after: mdefleet-report reads the recovered node's archive" "$report" "$tmp/after-rack2compute03.tar.gz"
check "after: both scan jobs in the report" [ "$(scans_in "$tmp/after-rack2compute02.tar.gz")" = 4 ]
check "after: the recovered node has only the scan since" [ "$(scans_in "$tmp/after-rack2compute03.tar.gz")" = 3 ]
req POST "$B/_admin/next-phase"
check "second next-phase changes nothing" json_is . '{"phase":1,"nodes_changed":0}'
curl -s --max-time 5 -X POST "$B/_admin/reset-stats" >/dev/null
check "reset-stats keeps the phase" [ "$(stats .phase)" = 1 ]
stop_sim "$phase_pid"
check "phase sim exits 0 on SIGTERM" [ "$sim_rc" = 0 ]

jq '.clusters[0].nodes[1].next = {"report": {}, "bogus": 1}' "$demo" >"$tmp/bad-next.json"
"$sim" --scenario "$tmp/bad-next.json" >/dev/null 2>"$tmp/err"
check "unknown key in next: exit 1" [ $? -eq 1 ]
check "unknown key in next: one line naming it" [ "$(wc -l <"$tmp/err")" -eq 1 ] && check "next error path" \
    grep -q 'clusters\[0\]\.nodes\[1\]\.next: unknown key "bogus"' "$tmp/err"
jq '.clusters[0].nodes[3].next = {"report": {"threats": [{"name": "a", "detected": 1727161518389},
    {"name": "b", "detected": 1727161518389, "status": ["Quarantined"]}]}}' "$demo" >"$tmp/bad-next2.json"
"$sim" --scenario "$tmp/bad-next2.json" >/dev/null 2>"$tmp/err"
check "bad status in next: the field path" grep -q \
    'clusters\[0\]\.nodes\[3\]\.next\.report\.threats\[1\]\.status: "Quarantined" is not a lowercase word' "$tmp/err"

# ---- throttling, token expiry, no managed identity ---------------------------------------
jq '.time_scale = 0.01 | .auth.token_lifetime_seconds = 500 | .auth.managed_identity = false
    | .budgets = {"reads": {"burst": 3, "per_second": 0.5}, "writes": {"burst": 2, "per_second": 0.5}}' \
    "$demo" >"$tmp/throttle.json"
start_sim throttle "$tmp/throttle.json"
throttle_pid=$last_pid
B=$url
tok=$(get_token "$B")
C=$B/subscriptions/$sub/resourceGroups/contoso-cluster-rg/providers/Microsoft.NetworkCloud/clusters/contoso-cluster
seen=
for i in 1 2 3; do
    req GET "$C?$av" -H "Authorization: Bearer $tok"
    seen="$seen$status:$(hdr x-ms-ratelimit-remaining-subscription-reads) "
done
check "reads budget counts down" [ "$seen" = "200:2 200:1 200:0 " ]
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "reads throttled 429" [ "$status" = 429 -a "$(j .error.code)" = SubscriptionRequestsThrottled ]
ms=$(hdr retry-after-ms)
check "429 Retry-After" re "$(hdr Retry-After)" '^[1-9][0-9]*$'
check "429 retry-after-ms: time to the next token" [ "$ms" -ge 1 -a "$ms" -le 2000 ]
for i in 1 2 3 4 5; do
    req POST "$B/$tenant/oauth2/v2.0/token" "${token_form[@]}" -d client_secret=demo-secret
    [ "$status" = 200 ] || break
done
check "token endpoint not throttled" [ "$status" = 200 ]
req GET "$B/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/" -H 'Metadata: true'
check "IMDS without managed identity 400 Identity not found" [ "$status" = 400 -a "$(j .error_description)" = "Identity not found" ]
sleep_ms "$ms"
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "after Retry-After: 200" [ "$status" = 200 ]
patch_level() { req PATCH "$C?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" \
    -d '{"properties":{"runtimeProtectionConfiguration":{"enforcementLevel":"Audit"}}}'; }
patch_level; a=$status
patch_level; b=$status
patch_level
check "writes budget: 202 202 429" [ "$a $b $status" = "202 202 429" ]
check "429 on writes carries the writes header" [ "$(hdr x-ms-ratelimit-remaining-subscription-writes)" = 0 ]
# 500 simulated seconds of token life are 5 real seconds here: wait for
# the expiry (at most 10 s), reading with the old token
for i in $(seq 1 40); do
    req GET "$C?$av" -H "Authorization: Bearer $tok"
    [ "$status" = 401 ] && break
    sleep 0.25
done
req GET "$C?$av" -H "Authorization: Bearer $tok"
check "expired token 401 ExpiredAuthenticationToken" [ "$status" = 401 -a "$(j .error.code)" = ExpiredAuthenticationToken ]
stop_sim "$throttle_pid" INT
check "SIGINT: exit 0" [ "$sim_rc" = 0 ]

# ---- several subscriptions: each its own clusters, operations and buckets ------------
# contoso-cluster stays in the top-level subscription, second-cluster is in
# sub2. Reads: 100 that refill one per 100 s, so the remaining counts are
# exact; writes: 2 that refill one per 10 s, drained well within that.
sub2=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee
sub3=33333333-3333-3333-3333-333333333333
jq --arg s2 "$sub2" '.time_scale = 0.01 | .durations.patch_seconds = 10
    | .budgets = {"reads": {"burst": 100, "per_second": 0.01}, "writes": {"burst": 2, "per_second": 0.1}}
    | .clusters += [{"subscription": $s2, "resource_group": "second-rg", "name": "second-cluster",
                     "managed_resource_group": "second-managed-rg", "enforcement_level": "RealTime",
                     "nodes": [{"name": "secondnode01", "rack": "rack1"}]}]' "$demo" >"$tmp/subs.json"
start_sim subs "$tmp/subs.json"
subs_pid=$last_pid
B=$url
tok=$(get_token "$B")
C=$B/subscriptions/$sub/resourceGroups/contoso-cluster-rg/providers/Microsoft.NetworkCloud/clusters/contoso-cluster
C2=$B/subscriptions/$sub2/resourceGroups/second-rg/providers/Microsoft.NetworkCloud/clusters/second-cluster
M2=$B/subscriptions/$sub2/resourceGroups/second-managed-rg/providers/Microsoft.NetworkCloud/bareMetalMachines
reads_left() { hdr x-ms-ratelimit-remaining-subscription-reads; }
writes_left() { hdr x-ms-ratelimit-remaining-subscription-writes; }
patch_to() { req PATCH "$1?$av" -H "Authorization: Bearer $tok" -H "Content-Type: $json" \
    -d '{"properties":{"runtimeProtectionConfiguration":{"enforcementLevel":"Audit"}}}'; }
# subs_stats R1 W1 T1 R2 W2 T2: the expected .subscriptions of /_admin/stats
subs_stats() { jq -nc --arg a "$sub" --arg b "$sub2" --argjson n "[$1,$2,$3,$4,$5,$6]" \
    '{($a): {reads: $n[0], writes: $n[1], throttled: $n[2]}, ($b): {reads: $n[3], writes: $n[4], throttled: $n[5]}}'; }
req GET "$B/_admin/stats"
check "subs: stats list both subscriptions, zeros included" json_is .subscriptions "$(subs_stats 0 0 0 0 0 0)"

# reads: each subscription counts down its own bucket  (sub1 reads, sub2 reads)
req GET "$C?$av" -H "Authorization: Bearer $tok" # 1 0
check "subs: cluster in the top-level subscription 200" [ "$status" = 200 -a "$(reads_left)" = 99 ]
req GET "$C2?$av" -H "Authorization: Bearer $tok" # 1 1
check "subs: cluster in sub2 200, sub2's own reads bucket" [ "$status" = 200 -a "$(reads_left)" = 99 ]
check "subs: sub2 cluster ids under sub2" jq -e --arg p "/subscriptions/$sub2/resourceGroups/second-rg/providers/" \
    '.id == ($p + "Microsoft.NetworkCloud/clusters/second-cluster")
    and (.extendedLocation.name | startswith($p)) and (.properties.clusterManagerId | startswith($p))' "$tmp/body"
req GET "$C?$av" -H "Authorization: Bearer $tok" # 2 1
check "subs: the top-level bucket counts on" [ "$status" = 200 -a "$(reads_left)" = 98 ]
req GET "${C2/$sub2/${sub2^^}}?$av" -H "Authorization: Bearer $tok" # 2 2
check "subs: subscription ids match case-insensitively" [ "$status" = 200 -a "$(reads_left)" = 98 ]
req GET "$M2?$av" -H "Authorization: Bearer $tok" # 2 3
check "subs: sub2 machine list" jq -e --arg p "/subscriptions/$sub2/resourceGroups/second-managed-rg/providers/" \
    '[.value[].name] == ["secondnode01"] and (.value[0].id | startswith($p))
    and (.value[0].properties.rackId | startswith($p))
    and (.value[0].properties.clusterId | startswith("/subscriptions/'"$sub2"'/"))' "$tmp/body"
# a cluster or machine asked for under the other served subscription
req GET "${C/$sub/$sub2}?$av" -H "Authorization: Bearer $tok" # 2 4
check "subs: top-level cluster under sub2 404" [ "$status" = 404 -a "$(j .error.code)" = ResourceGroupNotFound ]
check "subs: that 404 is sub2's read" [ "$(reads_left)" = 96 ]
req GET "${C2/$sub2/$sub}?$av" -H "Authorization: Bearer $tok" # 3 4
check "subs: sub2 cluster under the top-level subscription 404" [ "$status" = 404 -a "$(j .error.code)" = ResourceGroupNotFound ]
req GET "${M2/$sub2/$sub}/secondnode01?$av" -H "Authorization: Bearer $tok" # 4 4
check "subs: sub2 machine under the top-level subscription 404" [ "$status" = 404 ] && check "subs: machine 404 ARM error" is_arm_error
req GET "${C/$sub/$sub3}?$av" -H "Authorization: Bearer $tok" # not served: not counted
check "subs: unserved subscription 404 SubscriptionNotFound" [ "$status" = 404 -a "$(j .error.code)" = SubscriptionNotFound ]
check "subs: unserved subscription shows a full bucket" [ "$(reads_left)" = 100 ]
req GET "$B/subscriptions/?$av" -H "Authorization: Bearer $tok" # no id: not counted
check "subs: a path without a subscription id 404 SubscriptionNotFound" \
    [ "$status" = 404 -a "$(j .error.code)" = SubscriptionNotFound ]
req GET "$C2?$av" # 401 before throttling: not counted
check "subs: 401 in sub2 shows sub2's reads" [ "$status" = 401 -a "$(reads_left)" = 96 ]

# writes: drain the top-level subscription's; sub2 still writes
patch_to "$C"
a="$status:$(writes_left)"
patch_to "$C"
b="$status:$(writes_left)"
patch_to "$C"
check "subs: top-level writes 202:1 202:0 429:0" [ "$a $b $status:$(writes_left)" = "202:1 202:0 429:0" ]
check "subs: 429 names the top-level subscription" \
    jq -e --arg s "$sub" '.error.code == "SubscriptionRequestsThrottled" and (.error.message | contains($s))' "$tmp/body"
ms=$(hdr retry-after-ms)
check "subs: 429 Retry-After and retry-after-ms (the next token within 10 s)" \
    [ "$(hdr Retry-After)" -ge 1 -a "$ms" -ge 1 -a "$ms" -le 10000 ]
patch_to "$C2"
check "subs: sub2 writes while the top-level is throttled: 202, 1 left" [ "$status" = 202 -a "$(writes_left)" = 1 ]
op2=$(hdr Azure-AsyncOperation)
check "subs: sub2 operation URL under sub2" \
    like "$op2" "$B/subscriptions/$sub2/providers/Microsoft.NetworkCloud/locations/eastus/operationStatuses/*"
req GET "$op2" -H "Authorization: Bearer $tok" # 4 5
check "subs: poll under sub2 200, charged to sub2's reads" [ "$status" = 200 -a "$(reads_left)" = 95 ]
check "subs: the operation's resource is sub2's cluster" jq -e --arg id "${C2#"$B"}" '.resourceId == $id
    and (.id | startswith("/subscriptions/'"$sub2"'/"))' "$tmp/body"
req GET "${op2/$sub2/$sub}" -H "Authorization: Bearer $tok" # 5 5
check "subs: poll under the other subscription 404" [ "$status" = 404 -a "$(j .error.code)" = ResourceNotFound ]
check "subs: that 404 is the top-level's read" [ "$(reads_left)" = 95 ]
req POST "$C2/scanRuntime?$av" -H "Authorization: Bearer $tok"
check "subs: sub2 scanRuntime 202, 0 writes left" [ "$status" = 202 -a "$(writes_left)" = 0 ]
patch_to "$C2"
check "subs: then sub2 is throttled too" [ "$status" = 429 -a "$(writes_left)" = 0 ]
req GET "$B/_admin/stats"
check "subs: per-subscription counts exact" json_is .subscriptions "$(subs_stats 5 2 1 5 2 1)"
check "subs: the other stats are still there" jq -e '.requests["cluster.patch"] == {"202": 3, "429": 2}
    and .wrong_audience == 0 and .authorization_on_sas == 0 and .phase == 0' "$tmp/body"
curl -s --max-time 5 -X POST "$B/_admin/reset-stats" >/dev/null
req GET "$B/_admin/stats"
check "subs: reset-stats zeroes them" json_is .subscriptions "$(subs_stats 0 0 0 0 0 0)"
stop_sim "$subs_pid"
check "subs sim exits 0 on SIGTERM" [ "$sim_rc" = 0 ]

# scenario refusals: one line, the field's path
refused() { # refused NAME JQ-FILTER GREP-PATTERN: the demo changed by the filter is refused so
    jq --arg s2 "$sub2" "$2" "$demo" >"$tmp/bad-subs.json"
    "$sim" --scenario "$tmp/bad-subs.json" >/dev/null 2>"$tmp/err"
    check "$1: exit 1" [ $? -eq 1 ]
    check "$1: one line naming the field" [ "$(wc -l <"$tmp/err")" -eq 1 ] && check "$1: message" \
        grep -q "$3" "$tmp/err"
}
refused "cluster subscription not a string" '.clusters[0].subscription = 42' \
    'clusters\[0\]\.subscription: expected string, got number'
refused "cluster subscription not a GUID" '.clusters[0].subscription = "sub-2"' \
    'clusters\[0\]\.subscription: "sub-2" is not a GUID'
refused "a resource group in two subscriptions" '.clusters += [{"subscription": $s2,
    "resource_group": "contoso-cluster-rg", "name": "other", "managed_resource_group": "other-managed-rg"}]' \
    'clusters\[1\]\.resource_group: "contoso-cluster-rg" is already clusters\[0\]'"'"'s in subscription'
refused "65 subscriptions" '.clusters += [range(64) as $i | {"subscription":
    "00000000-0000-0000-0000-\(100000000000 + $i)", "resource_group": "rg\($i)", "name": "c\($i)",
    "managed_resource_group": "mrg\($i)"}]' \
    'clusters\[64\]\.subscription: "00000000-0000-0000-0000-100000000063" would be subscription 65; at most 64'
jq --arg s2 "$sub2" '.clusters += [range(63) as $i | {"subscription":
    "00000000-0000-0000-0000-\(100000000000 + $i)", "resource_group": "rg\($i)", "name": "c\($i)",
    "managed_resource_group": "mrg\($i)"}]' "$demo" >"$tmp/subs64.json"
start_sim subs64 "$tmp/subs64.json"
check "64 subscriptions are served" [ "$(curl -s --max-time 5 "$url/_admin/stats" | jq '.subscriptions | length')" = 64 ]
stop_sim "$last_pid"

finish sim_smoke
