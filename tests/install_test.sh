#!/usr/bin/env bash
# `make install`: the binaries, the example configuration and a man page
# per binary land under a staging DESTDIR; the installed binaries run, and
# each page renders with no warning from man/groff.
# usage: install_test.sh BUILD_DIR
set -uo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

run_bin env DESTDIR="$tmp/stage" cmake --install "$build" --prefix /usr/local
check "cmake --install exits 0 ($err)" test "$rc" -eq 0
root=$tmp/stage/usr/local
for prog in mdefleet-worker mdefleet-producer mdefleet-report mdefleet-arm mdefleet-sim \
    mdefleet-broker; do
    check "$prog installed in bin/" test -x "$root/bin/$prog"
    run_bin timeout 20 "$root/bin/$prog" --version
    check "installed $prog --version exits 0" test "$rc" -eq 0
    check "installed $prog --version names it" grep -q "^$prog " "$tmp/out"
    page=$root/share/man/man1/$prog.1
    check "$prog.1 installed" test -s "$page"
    run_bin env LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page"
    check "man renders $prog.1" test "$rc" -eq 0
    check "man renders $prog.1 without warnings ($err)" test -z "$err"
    check "$prog.1 has NAME and the usage" grep -q "usage: $prog" "$tmp/out"
done
check "mdefleet.conf.example installed" test -s "$root/share/doc/mdefleet/mdefleet.conf.example"
check "the topic list installed" test -s "$root/share/doc/mdefleet/topics"
# nothing else: no test binary, no build tree
extra=$(cd "$root" && find bin -type f ! -name 'mdefleet-*')
check "only mdefleet binaries in bin/ ($extra)" test -z "$extra"
finish install
