#!/usr/bin/python3
"""Checks mdefleet's JSON records against the topics' JSON Schemas
(schemas/json/<topic>.schema.json, JSON Schema 2020-12).

As a command (run with /usr/bin/python3: Debian's python3-jsonschema):

    json_schema_check.py [--all] SCHEMAS_DIR TOPIC FILE...

TOPIC is a topic name without the prefix (scan.results, threats,
node.reports, tickets, findings.state); each FILE holds JSON lines, one
record a line ('-': standard input; blank lines are skipped). Prints one
line per bad record, `FILE:LINE: path: message` (path in JSONPath form, `$`
the record; "[+N more]" when it has more problems; --all: one line per
problem), and exits 1 when there is any, 0 when there is none, 2 on a
usage error or a schema that is missing or not a valid 2020-12 schema.

As a module (importing it does nothing else):

    import json_schema_check
    validators = json_schema_check.load("schemas/json")   # topic -> validator
    problems = json_schema_check.errors(validators, "threats", record)  # list of str
"""
import json
import os
import re
import sys

import jsonschema

# The JSON topics, without the prefix; load() wants a schema for each.
TOPICS = ("scan.results", "threats", "node.reports", "tickets", "findings.state")
SUFFIX = ".schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


class SchemaProblem(Exception):
    """A schema that is missing, unreadable or not a valid 2020-12 schema."""


def load(schemas_dir):
    """Every <topic>.schema.json of schemas_dir, checked (check_schema), as
    {topic: Draft202012Validator with a FormatChecker}. Raises SchemaProblem
    when one of TOPICS has no schema or a schema is not valid."""
    try:
        names = sorted(n for n in os.listdir(schemas_dir) if n.endswith(SUFFIX))
    except OSError as e:
        raise SchemaProblem("%s: %s" % (schemas_dir, e.strerror)) from e
    validators = {}
    for name in names:
        path = os.path.join(schemas_dir, name)
        try:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
        except (OSError, ValueError) as e:
            raise SchemaProblem("%s: %s" % (path, e)) from e
        if not isinstance(schema, dict) or schema.get("$schema") != DRAFT:
            raise SchemaProblem("%s: not a JSON Schema 2020-12 (\"$schema\": \"%s\")"
                                % (path, DRAFT))
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise SchemaProblem("%s: not a valid schema: %s: %s"
                                % (path, _path(e.absolute_path), e.message)) from e
        validators[name[:-len(SUFFIX)]] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker())
    missing = [t for t in TOPICS if t not in validators]
    if missing:
        raise SchemaProblem("%s: no schema for %s" % (
            schemas_dir, ", ".join(t + SUFFIX for t in missing)))
    return validators


def _path(parts):
    """A JSONPath for a deque of keys and indexes: $.a.b[0]."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", p):
            out += "." + p
        else:
            out += "[%s]" % json.dumps(p)
    return out


def _short(v):
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _alternatives(error):
    """Lines for a failed anyOf/oneOf (a value or null, mostly): the
    problems of the one alternative of the right type, or which types
    were allowed; None to keep jsonschema's message."""
    branches = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    types, deeper = [], []
    for subs in branches.values():
        if all(s.validator == "type" and not s.relative_path for s in subs):
            for s in subs:
                t = s.validator_value
                types += t if isinstance(t, list) else [t]
        else:
            deeper.append(subs)
    if len(deeper) == 1:
        out = []
        for s in deeper[0]:
            out += _lines(s)
        return out
    if not deeper and types:
        return ["%s: %s is not of type %s" % (_path(error.absolute_path), _short(error.instance),
                                              " or ".join(repr(t) for t in types))]
    return None


def _lines(error):
    """Readable lines for one ValidationError: a missing or unexpected
    member is named in the path itself."""
    base = list(error.absolute_path)
    if error.validator in ("anyOf", "oneOf") and error.context:
        lines = _alternatives(error)
        if lines:
            return lines
    if error.validator == "required":
        m = re.match(r"^'(.*)' is a required property$", error.message)
        if m:
            return ["%s: required, missing" % _path(base + [m.group(1)])]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        extra = [k for k in error.instance if k not in known]
        if extra:
            return ["%s: not allowed here (not in the schema)" % _path(base + [k])
                    for k in extra]
    if error.validator == "not" and isinstance(error.validator_value, dict) and \
            list(error.validator_value) == ["required"]:
        if not isinstance(error.instance, dict):
            return []  # not an object at all: its type error says so
        return ["%s: must be absent here" % _path(base + [k])
                for k in error.validator_value["required"]]
    return ["%s: %s" % (_path(base), _message(error))]


def _message(error):
    """jsonschema's message, with values as JSON (null, true) and cut short."""
    if error.validator == "const":
        return "must be %s, not %s" % (_short(error.validator_value), _short(error.instance))
    if error.validator == "enum":
        return "%s is not one of %s" % (_short(error.instance),
                                        json.dumps(error.validator_value, ensure_ascii=False))
    shown = repr(error.instance)
    if error.message.startswith(shown):
        return _short(error.instance) + error.message[len(shown):]
    return error.message


def errors(validators, topic, record):
    """The problems of record against topic's schema, one readable line
    each (`path: message`), sorted by path; [] when it is valid."""
    if topic not in validators:
        return ["$: no schema for topic %r" % topic]
    out = []
    for e in validators[topic].iter_errors(record):
        for line in _lines(e):
            if line not in out:
                out.append(line)
    return sorted(out)


def _records(path):
    """(line number, text) of every non-blank line of a file ('-': stdin)."""
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    for n, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            yield n, line


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    show_all = "--all" in args
    args = [a for a in args if a != "--all"]
    if len(args) < 3:
        sys.stderr.write("usage: json_schema_check.py [--all] SCHEMAS_DIR TOPIC FILE...\n")
        return 2
    try:
        validators = load(args[0])
    except SchemaProblem as e:
        sys.stderr.write("json_schema_check: %s\n" % e)
        return 2
    topic = args[1]
    if topic not in validators:
        sys.stderr.write("json_schema_check: no schema for topic %r (have: %s)\n"
                         % (topic, ", ".join(sorted(validators))))
        return 2
    bad = 0
    for path in args[2:]:
        try:
            lines = list(_records(path))
        except OSError as e:
            sys.stderr.write("json_schema_check: %s: %s\n" % (path, e.strerror))
            return 2
        for n, line in lines:
            try:
                record = json.loads(line)
            except ValueError as e:
                problems = ["$: not JSON: %s" % e]
            else:
                problems = errors(validators, topic, record)
            if not problems:
                continue
            bad += 1
            if not show_all and len(problems) > 1:
                problems = ["%s [+%d more]" % (problems[0], len(problems) - 1)]
            for p in problems:
                sys.stdout.write("%s:%d: %s\n" % (path, n, p))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
