#!/usr/bin/env bash
# mdefleet-report as a user runs it: exit codes, one-line errors, the JSON
# document, the summary, a .tar.gz made by GNU tar, and stdin.
# usage: cli_report.sh REPORT_BINARY DATA_DIR
set -uo pipefail
bin=$1
data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

run() { run_bin "$bin" "$@"; }

one_line_err() { [ "$(wc -l <"$tmp/err")" -eq 1 ] && [[ $err == mdefleet-report:* ]]; }

# JSON output of the documentation's example
run "$data/nexus-doc-example.json"
check "doc example exits 0" [ "$rc" -eq 0 ]
check "doc example stderr empty" [ -z "$err" ]
check "doc example scan" [ "$(jq -c '.scans[0]' <<<"$out")" = \
  '{"type":"quick","state":"succeeded","start_time":"2023-10-13T13:42:53.732Z","end_time":"2023-10-13T13:43:52.487Z","files_scanned":1750,"threat_count":0}' ]
check "doc example two scans" [ "$(jq '.scans | length' <<<"$out")" -eq 2 ]
check "doc example health unknown" [ "$(jq -c '.health.healthy, .health.issues' <<<"$out" | tr '\n' ' ')" = "null null " ]

# The full sample, packed the way the extract is: a folder inside a tar.gz
mkdir -p "$tmp/x/hostfs/tmp/runcommand"
cp "$data/sample-report.json" "$tmp/x/hostfs/tmp/runcommand/mde-agent-information.json"
echo '{}' >"$tmp/x/hostfs/tmp/runcommand/other.json"
tar -C "$tmp/x" -czf "$tmp/extract.tar.gz" hostfs
run "$tmp/extract.tar.gz"
check "tar.gz exits 0" [ "$rc" -eq 0 ]
check "tar.gz EICAR quarantined" [ "$(jq -r '.threats[] | select(.family=="EICAR_Test_File") | .category+" "+.platform+" "+.status' <<<"$out")" = "Virus DOS quarantined" ]
check "tar.gz no warnings" [ "$(jq '.warnings | length' <<<"$out")" -eq 0 ]
check "tar.gz health" [ "$(jq -c '[.health.healthy,.health.licensed,.health.real_time_protection_enabled,.health.passive_mode_enabled]' <<<"$out")" = '[true,true,true,false]' ]
json_from_archive=$out
run "$data/sample-report.json"
check "archive and plain file agree" [ "$out" = "$json_from_archive" ]
run - <"$tmp/extract.tar.gz"
check "stdin archive agrees" [ "$out" = "$json_from_archive" ]

# Summary
run --summary "$tmp/extract.tar.gz"
check "summary exits 0" [ "$rc" -eq 0 ]
check "summary agent line" grep -q '^Agent: *healthy, licensed, app 101.24082.0004' "$tmp/out"
check "summary threat row" grep -q 'Backdoor:Linux/Mirai.IJ!MTB *detected' "$tmp/out"
check "summary open threats" grep -q '^Threats (1 not remediated): 2' "$tmp/out"

# Usage errors: exit 2
run
check "no file exits 2" [ "$rc" -eq 2 ]
run --bogus "$data/sample-report.json"
check "unknown option exits 2" [ "$rc" -eq 2 ]
check "unknown option one line" one_line_err
run --max-bytes abc "$data/sample-report.json"
check "bad number exits 2" [ "$rc" -eq 2 ]
run a.json b.json
check "two files exit 2" [ "$rc" -eq 2 ]
run --help
check "help exits 0" [ "$rc" -eq 0 ]

# Unreadable input: exit 1, one line on stderr, nothing on stdout
printf '{"scanList": [\n  {"type": quick}\n]}\n' >"$tmp/bad.json"
run "$tmp/bad.json"
check "not JSON exits 1" [ "$rc" -eq 1 ]
check "not JSON one line" one_line_err
check "not JSON says where" grep -q 'line 2, column 12' "$tmp/err"
check "not JSON no stdout" [ -z "$out" ]
run "$tmp/missing.json"
check "missing file exits 1" [ "$rc" -eq 1 ]
check "missing file one line" one_line_err
run --max-bytes 100 "$data/sample-report.json"
check "over cap exits 1" [ "$rc" -eq 1 ]
check "over cap message" grep -q 'larger than the 100-byte cap' "$tmp/err"
run --max-depth 3 "$data/sample-report.json"
check "too deep exits 1" [ "$rc" -eq 1 ]
check "too deep message" grep -q 'nesting deeper than 3' "$tmp/err"
head -c 300 "$tmp/extract.tar.gz" >"$tmp/broken.tar.gz"
run "$tmp/broken.tar.gz"
check "corrupt archive exits 1" [ "$rc" -eq 1 ]
check "corrupt archive one line" one_line_err
tar -C "$tmp/x/hostfs/tmp/runcommand" -czf "$tmp/empty.tar.gz" other.json
run "$tmp/empty.tar.gz"
check "archive without report exits 1" [ "$rc" -eq 1 ]
check "archive without report message" grep -q 'archive has no mde-agent-information.json' "$tmp/err"

# issue 12, cases 11 and 13: a threat name of invalid UTF-8 and one of 3 MiB
# (the writer's buffer is 1 MiB): the whole document, read by a strict
# JSON parser (python3's json on bytes decoded as strict UTF-8)
/usr/bin/python3 - "$tmp/odd.json" <<'EOF2'
import sys
big = "A" * (3 << 20)
doc = ('{"threatInformation":{"list":{"type":"list","threats":['
       '{"threat":{"tracking_id":"t1","name":"Virus:DOS/Bad\xff\x80\xc0\xaf"}},'
       '{"threat":{"tracking_id":"t2","name":"Virus:DOS/' + big + '"}}]}}}')
open(sys.argv[1], "wb").write(doc.encode("latin-1"))
EOF2
run "$tmp/odd.json"
check "odd strings: exit 0 (got $rc: $err)" [ "$rc" -eq 0 ]
check "odd strings: a strict JSON reader takes the output, both names whole" /usr/bin/python3 -c '
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
names = [t["name"] for t in d["threats"]]
assert names[0] == "Virus:DOS/Bad" + "\ufffd" * 4, names[0]
assert names[1] == "Virus:DOS/" + "A" * (3 << 20), len(names[1])
' "$tmp/out"

finish
