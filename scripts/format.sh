#!/usr/bin/env bash
# The C sources in the style of .clang-format: `format.sh check` fails
# (listing the files) when one differs; `format.sh fix` rewrites them.
# clang-format 14 (Debian 12's) is the reference: other versions format a
# few constructs differently.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
cf=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$cf" ] || { echo "format: clang-format not found (make deps)" >&2; exit 2; }
if git rev-parse --git-dir >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h')
else
    mapfile -t files < <(find lib worker producer broker sim tools tests bench -name '*.[ch]')
fi
case $mode in
fix) "$cf" -i --style=file "${files[@]}" ;;
check)
    bad=()
    for f in "${files[@]}"; do
        [ -f "$f" ] || continue
        "$cf" --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    if [ ${#bad[@]} -gt 0 ]; then
        echo "format-check: ${#bad[@]} file(s) differ from .clang-format (make format): ${bad[*]}" >&2
        exit 1
    fi
    echo "format-check: ${#files[@]} files as .clang-format says"
    ;;
*) echo "usage: format.sh check|fix" >&2; exit 2 ;;
esac
