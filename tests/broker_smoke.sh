#!/usr/bin/env bash
# mdefleet-broker checked from the outside with independent clients: kcat
# lists the topics and partition counts, produces a record and reads it
# back; python3-kafka lists the topics too. Then the broker must stop on
# SIGTERM with status 0 and remove its bootstrap file.
# usage: broker_smoke.sh BROKER_BINARY TOPICS_FILE
set -uo pipefail
broker=$1
topics=$2
tmp=$(mktemp -d)
pid=
. "$(dirname "$0")/lib.sh"

# stop_broker SIGNAL: at most 10 s (stop_pid, lib.sh); sets broker_rc.
stop_broker() {
    [ -n "$pid" ] || return 0
    stop_pid "$pid" "$1" 10
    broker_rc=$stopped_rc
    pid=
}

cleanup() {
    stop_broker TERM
    rm -rf "$tmp"
}
trap cleanup EXIT

# start_broker [ARGS...]: starts it on $bsfile, sets pid and bs. The file
# appears (by rename, so whole) once the broker accepts connections.
start_broker() {
    "$broker" --bootstrap-file "$bsfile" --topics "$topics" "$@" >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    wait_file "$bsfile" 30 "the bootstrap file of broker $*" "$pid" "$tmp/err"
    bs=$(cat "$bsfile")
}

bsfile=$tmp/run/bootstrap
mkdir -p "$tmp/run"
start_broker
check "bootstrap file holds three 127.0.0.1 brokers" \
    grep -Eqx '127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+' "$bsfile"
check "no temporary file left" test ! -e "$bsfile.tmp"
wait_file "$tmp/out" 5 "the broker's stdout line"
check "stdout prints the same list" test "$(head -n 1 "$tmp/out")" = "$bs"

# every topic of the list, with its partitions
timeout 30 kcat -L -b "$bs" -m 10 >"$tmp/meta" 2>"$tmp/meta.err" ||
    fatal "kcat -L failed: $(cat "$tmp/meta.err")"
check "kcat sees 3 brokers" grep -q '^ 3 brokers:' "$tmp/meta"
ntopics=0
while read -r name parts _; do
    case $name in '' | '#'*) continue ;; esac
    ntopics=$((ntopics + 1))
    check "topic mde.$name has $parts partitions" \
        grep -q "^  topic \"mde.$name\" with $parts partitions:" "$tmp/meta"
done <"$topics"
check "10 topics in the list" test "$ntopics" -eq 10
check "mde.node.tasks has 12 partitions" \
    grep -q '^  topic "mde.node.tasks" with 12 partitions:' "$tmp/meta"
check "kcat sees exactly those topics" test "$(grep -c "^  topic " "$tmp/meta")" -eq 10

# one record through the broker, by kcat both ways
msg="smoke-$$-$RANDOM"
printf '%s\n' "$msg" | timeout 30 kcat -P -b "$bs" -t mde.scan.jobs -p 3 -k k1 2>"$tmp/p.err"
check "kcat produced" test $? -eq 0
timeout 30 kcat -C -b "$bs" -t mde.scan.jobs -p 3 -o beginning -e -q -f '%k=%s\n' \
    >"$tmp/c.out" 2>"$tmp/c.err"
check "kcat consumed to the end" test $? -eq 0
check "the record came back" grep -qx "k1=$msg" "$tmp/c.out"
check "only that record" test "$(wc -l <"$tmp/c.out")" -eq 1

# a second independent client (python3-kafka), not the first python3 on PATH
if /usr/bin/python3 -c 'import kafka' 2>/dev/null; then
    timeout 60 /usr/bin/python3 - "$bs" >"$tmp/py.out" 2>"$tmp/py.err" <<'EOF'
import sys
from kafka import KafkaConsumer
c = KafkaConsumer(bootstrap_servers=sys.argv[1].split(","), request_timeout_ms=20000)
try:
    for t in sorted(c.topics()):
        print(t, len(c.partitions_for_topic(t) or ()))
finally:
    c.close()
EOF
    check "python3-kafka listed the topics" test $? -eq 0
    check "python3-kafka sees 10 topics" test "$(grep -c '^mde\.' "$tmp/py.out")" -eq 10
    check "python3-kafka: mde.node.tasks 12" grep -qx 'mde.node.tasks 12' "$tmp/py.out"
    check "python3-kafka: mde.dlq 6" grep -qx 'mde.dlq 6' "$tmp/py.out"
    [ "$failures" -eq 0 ] || sed 's/^/python: /' "$tmp/py.err" >&2
else
    echo "FAIL: /usr/bin/python3 has no kafka module (python3-kafka)" >&2
    failures=$((failures + 1))
fi

stop_broker TERM
check "SIGTERM: exit status 0" test "$broker_rc" -eq 0
check "bootstrap file removed on exit" test ! -e "$bsfile"

# SIGINT stops it too; --prefix and --brokers are honoured
start_broker --prefix dev- --brokers 1
timeout 30 kcat -L -b "$bs" -m 10 >"$tmp/meta2" 2>&1
check "--brokers 1" grep -q '^ 1 brokers:' "$tmp/meta2"
check "--prefix dev-" grep -q '^  topic "dev-node.tasks" with 12 partitions:' "$tmp/meta2"
stop_broker INT
check "SIGINT: exit status 0" test "$broker_rc" -eq 0

# --control: fault commands on stdin, one answer line each on stdout
mkfifo "$tmp/ctl"
"$broker" --bootstrap-file "$bsfile" --topics "$topics" --control <"$tmp/ctl" >"$tmp/out" \
    2>"$tmp/err" &
pid=$!
exec 3>"$tmp/ctl" # held open: the broker's stdin stays open until we close it
wait_file "$bsfile" 30 "the bootstrap file of broker --control" "$pid" "$tmp/err"
bs=$(cat "$bsfile")
answer() { # answer N: until stdout has the list and N answers
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(wc -l <"$tmp/out")" -ge $(($1 + 1)) ] && return 0
        sleep 0.1
    done
    fatal "no answer $1 from broker --control after 10 s"
}
echo "leader mde.findings.state 3 -1" >&3
answer 1
check "--control: leader ... -1 answered ok" test "$(sed -n 2p "$tmp/out")" = ok
timeout 30 kcat -L -b "$bs" -t mde.findings.state >"$tmp/meta3" 2>&1
check "--control: the partition has no leader" grep -q 'partition 3, leader -1,' "$tmp/meta3"
check "--control: the others keep theirs" test "$(grep -c 'leader -1,' "$tmp/meta3")" -eq 1
echo "leader mde.findings.state * 2" >&3
printf 'leader mde.nope 0 1\nleader mde.findings.state 12 1\nleader mde.dlq 0 4\nbogus\n' >&3
answer 6
check "--control: leader TOPIC * BROKER ok" test "$(sed -n 3p "$tmp/out")" = ok
timeout 30 kcat -L -b "$bs" -t mde.findings.state >"$tmp/meta3" 2>&1
check "--control: every partition led by broker 2" \
    test "$(grep -c 'leader 2,' "$tmp/meta3")" -eq 12
check "--control: unknown topic named" test "$(sed -n 4p "$tmp/out")" = "error: no topic mde.nope"
check "--control: partition out of range" grep -qx 'error: mde.findings.state has partitions 0..11, not 12' "$tmp/out"
check "--control: broker out of range" grep -qx 'error: broker 4 is not -1 or 1..3' "$tmp/out"
check "--control: unknown command" grep -qx 'error: unknown command bogus (leader, down, up, errors)' "$tmp/out"
printf 'down 3\nup 3\nerrors 0 2 6\ndown 9\nerrors 0 0 6\nleader x\n' >&3
answer 12
check "--control: down, up and errors answered ok" \
    test "$(sed -n 8,10p "$tmp/out" | tr '\n' ' ')" = "ok ok ok "
check "--control: a broker out of range" test "$(sed -n 11p "$tmp/out")" = "error: expected: down BROKER (1..3)"
check "--control: errors out of range" \
    test "$(sed -n 12p "$tmp/out")" = "error: expected: errors APIKEY(0..100) COUNT(1..10000) CODE(1..200)"
check "--control: a short leader command" \
    test "$(sed -n 13p "$tmp/out")" = "error: expected: leader TOPIC PARTITION|* BROKER|-1"
# the two pushed errors (retriable: not the leader) are absorbed by kcat's retries
printf 'after-errors\n' | timeout 30 kcat -P -b "$bs" -t mde.scan.jobs -p 1 2>"$tmp/p2.err"
check "--control: a produce after pushed errors is delivered" test $? -eq 0
exec 3>&- # stdin closed: it keeps running until a signal
sleep 0.3
check "--control: runs on after stdin closes" running "$pid"
stop_broker TERM
check "--control: SIGTERM exit status 0" test "$broker_rc" -eq 0

# usage errors
"$broker" >/dev/null 2>&1
check "no --bootstrap-file: status 2" test $? -eq 2
"$broker" --bootstrap-file "$bsfile" --brokers 0 >/dev/null 2>&1
check "--brokers 0: status 2" test $? -eq 2
"$broker" --bootstrap-file "$bsfile" --topics "$tmp/missing" >/dev/null 2>"$tmp/err"
check "missing topic list: status 1" test $? -eq 1
check "missing topic list: named" grep -q "$tmp/missing" "$tmp/err"

finish broker_smoke
