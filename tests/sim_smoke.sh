#!/usr/bin/env bash
# mdefleet-sim checked from the outside with independent clients (curl, jq,
# GNU tar, and mdefleet-report on the archives): every endpoint, the Azure
# shapes, the long-running operations, paging, the blob's SAS, ranges and
# conditions, throttling, the admin counters and every injected fault.
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

get_token() { # get_token BASE: prints a client-credentials token
    curl -s --max-time 10 -X POST "$1/$tenant/oauth2/v2.0/token" \
        -d grant_type=client_credentials -d client_id=demo-client \
        --data-urlencode scope=https://management.azure.com/.default \
        -d client_secret=demo-secret | jq -r .access_token
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
    and .properties.actionStates==[]' "$tmp/body"

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
check "admin stats exact" json_is . '{"requests":{"cluster.get":{"200":2,"401":1},"unknown":{"404":1}}}'

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
curl -s --max-time 20 -o "$tmp/slow.tar.gz" "$u"
t1=$(date +%s%N)
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

finish sim_smoke
