#!/usr/bin/env bash
# scripts/checksrc.py must fail on what it bans and only on that: a banned
# call in code, a role including the loop; not a call's name in a comment
# or a string, nor a longer name that contains it.
# usage: checksrc_test.sh CHECKSRC
set -uo pipefail
checksrc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

mkdir -p "$tmp/lib" "$tmp/worker"
cat >"$tmp/lib/ok.c" <<'C'
/* sprintf( in a comment, strcpy(x, y) too */
static const char *s = "strcat(a, b) and atoi(\"1\")";
int mdf_strcpy(char *d);      /* a longer name */
int f(char *b) { return snprintf(b, 4, "%d", 1) + mdf_strcpy(b); }
C
run_bin python3 "$checksrc" "$tmp"
check "clean tree: exit 0 ($out)" [ "$rc" -eq 0 ]
check "clean tree: nothing printed" [ -z "$out" ]

cat >"$tmp/lib/bad.c" <<'C'
void g(char *d, const char *s)
{
    strcpy(d, s);
    int n = atoi (s);
    sprintf(d, "%d", n);
}
C
cat >"$tmp/worker/planner.c" <<'C'
#include "role.h"
#include "loop.h"
C
run_bin python3 "$checksrc" "$tmp"
check "banned calls: exit 1" [ "$rc" -eq 1 ]
check "strcpy named with its line" grep -q '^lib/bad.c:3: strcpy() is banned' "$tmp/out"
check "atoi with a space before (" grep -q '^lib/bad.c:4: atoi() is banned' "$tmp/out"
check "sprintf named" grep -q '^lib/bad.c:5: sprintf() is banned' "$tmp/out"
check "a role including the loop" grep -q '^worker/planner.c:2: a role includes loop.h' "$tmp/out"
check "nothing from the clean file" bash -c "! grep -q ok.c '$tmp/out'"
check "four findings" [ "$(wc -l <"$tmp/out")" -eq 4 ]
finish checksrc
