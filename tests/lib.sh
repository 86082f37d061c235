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
