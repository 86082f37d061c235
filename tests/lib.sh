# Shared by the shell tests (sourced): counted checks, running a binary
# with its output captured, and the closing "N passed, N failed" line.
failures=0
passes=0

check() { # check NAME CONDITION...: CONDITION's own output is dropped
    local name=$1
    shift
    if "$@" >/dev/null; then
        passes=$((passes + 1))
    else
        echo "FAIL: $name" >&2
        failures=$((failures + 1))
    fi
}

run_bin() { # run_bin COMMAND...: sets rc, out, err (files in $tmp)
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

finish() { # finish [NAME]: the closing line; the status is the verdict
    echo "${1:+$1: }$passes passed, $failures failed"
    [ "$failures" -eq 0 ]
}

# Waiting without watchdog subshells: a helper subshell inherits this
# shell's traps, and one that is killed runs the EXIT trap, which removes
# the test's folder mid-test. Every wait here is a loop in this shell with
# a deadline, and fails with one line naming what it waited for.

running() { # running PID: the background job PID of this shell still runs
    jobs -pr | grep -qx "$1"
}

fatal() { # fatal MESSAGE...: one line, then the test ends
    echo "FATAL: $*" >&2
    exit 1
}

# stop_pid PID [SIGNAL [SECONDS]]: signals a background job of this shell
# that still runs (a PID that already ended may be someone else's by now),
# waits at most SECONDS (default 10), then kills it and says so; sets
# stopped_rc to its exit status.
stop_pid() {
    local pid=$1 sig=${2:-TERM} secs=${3:-10} i
    if running "$pid"; then
        kill "-$sig" "$pid" 2>/dev/null
        for ((i = 0; i < secs * 10; i++)); do
            running "$pid" || break
            sleep 0.1
        done
        if running "$pid"; then
            echo "FAIL: pid $pid still running $secs s after SIG$sig: killed" >&2
            failures=$((failures + 1))
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
    stopped_rc=$?
}

# wait_file FILE SECONDS WHAT [PID [ERRFILE]]: until FILE has something in
# it; fails (naming WHAT, and quoting ERRFILE, the process's stderr) at the
# deadline, or at once when PID has ended.
wait_file() {
    local file=$1 secs=$2 what=$3 pid=${4:-} errfile=${5:-} i why
    for ((i = 0; i < secs * 10; i++)); do
        [ -s "$file" ] && return 0
        if [ -n "$pid" ] && ! running "$pid"; then
            sleep 0.1 # it may have written just before it ended
            [ -s "$file" ] && return 0
            break
        fi
        sleep 0.1
    done
    why="nothing within $secs s"
    [ -n "$pid" ] && ! running "$pid" && why="the process ended first"
    [ -n "$errfile" ] && [ -s "$errfile" ] && why="$why: $(head -c 300 "$errfile" | tr '\n' ' ')"
    fatal "waited for $what: $why"
}
