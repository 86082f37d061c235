#!/usr/bin/env python3
"""Source checks in the spirit of curl's checksrc: calls the project bans,
and includes that would break the worker's layering. Comments and string
literals are not code and are not checked.

usage: checksrc.py [ROOT]   (default: the repository this script is in)
Prints one line per finding (FILE:LINE: what) and exits 1 when there is any.
"""
import os
import re
import subprocess
import sys

# Unbounded or unchecked: use snprintf, mdf_strlcpy, mdf_buf, mdf_parse_int64.
BANNED = {
    "sprintf": "use snprintf",
    "vsprintf": "use vsnprintf",
    "strcpy": "use mdf_strlcpy",
    "strcat": "use mdf_buf or snprintf",
    "strtok": "not reentrant; split by hand",
    "gets": "unbounded; use fgets",
    "atoi": "no error detection; use mdf_parse_int64",
    "atol": "no error detection; use mdf_parse_int64",
}
CALL = re.compile(r"\b(" + "|".join(BANNED) + r")\s*\(")

# worker/: roles see role.h and request.h, never the loop or its setup.
ROLE_FILES = {"worker/planner.c", "worker/executor.c", "worker/tracker.c",
              "worker/request.c", "worker/records.c"}
ROLE_FORBIDDEN = {"loop.h", "env.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def strip(text):
    """The text with comments and string/char literals blanked out, line
    breaks kept, so that line numbers stay right."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + (c if j - i >= 2 else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def sources(root):
    try:
        names = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others",
                                "--exclude-standard", "*.c", "*.h"], check=True,
                               capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        names = [os.path.relpath(os.path.join(d, f), root)
                 for d, _, fs in os.walk(root) for f in fs if f.endswith((".c", ".h"))]
    return sorted(n for n in names if os.path.isfile(os.path.join(root, n)))


def check(root):
    findings = []
    for name in sources(root):
        with open(os.path.join(root, name), errors="replace") as f:
            text = f.read()
        for lineno, line in enumerate(strip(text).split("\n"), 1):
            for m in CALL.finditer(line):
                findings.append(f"{name}:{lineno}: {m.group(1)}() is banned: {BANNED[m.group(1)]}")
        if name in ROLE_FILES:
            for lineno, line in enumerate(text.split("\n"), 1):
                m = INCLUDE.match(line)
                if m and m.group(1) in ROLE_FORBIDDEN:
                    findings.append(f"{name}:{lineno}: a role includes {m.group(1)}: roles "
                                    "see role.h and request.h only (worker/README.md)")
    return findings


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    findings = check(root)
    for f in findings:
        print(f)
    if findings:
        print(f"checksrc: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
