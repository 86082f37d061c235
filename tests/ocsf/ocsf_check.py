#!/usr/bin/env python3
"""mdefleet's OCSF record checker, written from the compiled OCSF schema.

As a command:

    ocsf_check.py [--quiet] [--warnings] SCHEMA_JSON [FILE...]

FILE holds JSON lines, one record a line ('-' or no FILE: standard input).
Prints one line per problem, `record N: path: problem`, where N is the line
the record is on (`FILE: record N: ...` when more than one FILE is given),
and exits 1 when there is any problem, 0 when there is none, 2 on a usage or
input error.  --quiet prints only the number of problems; --warnings also
prints the warnings (missing recommended attributes, deprecated ones) as
`record N: warning: path: ...`; warnings never change the exit status.

As a module (stdlib only):

    import ocsf_check
    schema = ocsf_check.load_schema(path)
    errors = ocsf_check.check(schema, record)       # list of str
    notes = ocsf_check.warnings(schema, record)     # list of str

The rules, from the schema's README (the event checks of the official OCSF
server): the class is found by class_uid; category_uid is the class's
category; type_uid is class_uid * 100 + activity_id; metadata.version is the
schema's version; an attribute a profile adds counts only when that profile
is in metadata.profiles (and is one the class supports), otherwise it is an
unknown attribute, and it is required only when its profile is declared;
null is absent; required attributes missing are errors, recommended ones
missing are warnings; unknown attributes are errors at every level except
inside an attribute whose object_type is `object` (such as `unmapped`);
values have their dictionary type (base type, max_len, range, regex,
values); enum attributes hold one of the enum's keys and their caption
sibling, when present, is that key's caption (anything for 99, Other); a
sibling without its id is an error; objects keep their at_least_one and
just_one constraints.
"""

import argparse
import json
import re
import sys
from typing import Dict, List, Optional, Tuple

ROOT = "(root)"
MAX_DEPTH = 200

# Root attributes whose enum lists only the class's own values: checked as
# relations (class exists, its category, class*100+activity) instead.
RELATIONAL = ("class_uid", "category_uid", "type_uid")

BASE_TYPES = ("string_t", "integer_t", "long_t", "float_t", "boolean_t", "json_t")


def load_schema(path: str) -> dict:
    """The compiled schema (or its subset) read from path."""
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    for key in ("version", "dictionary", "classes", "objects"):
        if key not in schema:
            raise ValueError("%s: not a compiled OCSF schema (no %r)" % (path, key))
    return schema


def check(schema: dict, record) -> List[str]:
    """The record's errors, each `path: problem`; empty when it is valid."""
    return validate(schema, record)[0]


def warnings(schema: dict, record) -> List[str]:
    """The record's warnings: recommended attributes missing, deprecated ones."""
    return validate(schema, record)[1]


def validate(schema: dict, record) -> Tuple[List[str], List[str]]:
    """(errors, warnings) of one record."""
    c = _Checker(schema)
    c.record(record)
    return c.errors, c.warnings


# ---- helpers --------------------------------------------------------------------

def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _describe(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean " + ("true" if v else "false")
    if _is_int(v):
        return "integer %d" % v
    if isinstance(v, float):
        return "number %s" % json.dumps(v)
    if isinstance(v, str):
        return "string " + _show(v)
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _show(v) -> str:
    """A short JSON rendering of a value for a message."""
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 60 else s[:57] + "..."


def _join(path: str, key: str) -> str:
    return key if not path else path + "." + key


def _attr_profiles(attr: dict) -> List[str]:
    p = attr.get("profiles")
    if p is None:
        p = attr.get("profile")
    if p is None:
        return []
    return [p] if isinstance(p, str) else list(p)


class _Checker:
    def __init__(self, schema: dict):
        self.schema = schema
        self.types = schema["dictionary"]["types"]["attributes"]
        self.objects = schema["objects"]
        self.errors = []  # type: List[str]
        self.warnings = []  # type: List[str]
        self.declared = set()
        self.type_cache = {}  # type: Dict[str, Tuple[str, List[dict]]]
        self.regex_cache = {}  # type: Dict[str, Optional[object]]

    def err(self, path: str, msg: str) -> None:
        self.errors.append("%s: %s" % (path or ROOT, msg))

    def warn(self, path: str, msg: str) -> None:
        self.warnings.append("%s: %s" % (path or ROOT, msg))

    # ---- the record and its class ---------------------------------------------

    def record(self, rec) -> None:
        if not isinstance(rec, dict):
            self.err("", "expected a JSON object, got %s" % _describe(rec))
            return
        cu = rec.get("class_uid")
        if cu is None:
            self.err("class_uid", "required attribute missing")
            return
        if not _is_int(cu):
            self.err("class_uid", "expected integer_t, got %s" % _describe(cu))
            return
        cname, cls = None, None
        for name, c in self.schema["classes"].items():
            if c.get("uid") == cu:
                cname, cls = name, c
                break
        if cls is None:
            self.err("class_uid", "%d is not a class in OCSF %s" % (cu, self.schema["version"]))
            return

        supported = set(cls.get("profiles") or [])
        md = rec.get("metadata")
        if isinstance(md, dict):
            profs = md.get("profiles")
            if isinstance(profs, list):
                for i, p in enumerate(profs):
                    if not isinstance(p, str):
                        continue  # the type check reports it
                    if p in supported:
                        self.declared.add(p)
                    else:
                        self.err("metadata.profiles[%d]" % i,
                                 "%s is not a profile of %s" % (_show(p), cname))

        self.walk(cls, rec, "", 0, root=True)

        cat = rec.get("category_uid")
        if _is_int(cat) and cat != cls.get("category_uid"):
            self.err("category_uid", "%d is not the category of class %d (%s)"
                     % (cat, cu, cls.get("category_uid")))
        act, tu = rec.get("activity_id"), rec.get("type_uid")
        if _is_int(act) and _is_int(tu) and tu != cu * 100 + act:
            self.err("type_uid", "%d is not class_uid * 100 + activity_id (%d)"
                     % (tu, cu * 100 + act))
        if isinstance(md, dict):
            ver = md.get("version")
            if isinstance(ver, str) and ver != self.schema["version"]:
                self.err("metadata.version", "%s is not the schema version %s"
                         % (_show(ver), _show(self.schema["version"])))

    # ---- objects ----------------------------------------------------------------

    def active(self, attr: dict) -> bool:
        profs = _attr_profiles(attr)
        return not profs or any(p in self.declared for p in profs)

    def walk(self, spec: dict, obj: dict, path: str, depth: int, root: bool = False) -> None:
        if depth > MAX_DEPTH:
            self.err(path, "nested deeper than %d objects" % MAX_DEPTH)
            return
        attrs = spec.get("attributes", {})

        for key, val in obj.items():
            p = _join(path, key)
            attr = attrs.get(key)
            if attr is None:
                self.err(p, "unknown attribute")
                continue
            if not self.active(attr):
                self.err(p, "unknown attribute (profile %s not declared)"
                         % "/".join(_attr_profiles(attr)))
                continue
            if val is None:
                continue
            dep = attr.get("@deprecated")
            if dep:
                since = dep.get("since") if isinstance(dep, dict) else None
                self.warn(p, "deprecated" + (" since %s" % since if since else ""))
            self.value(attr, val, p, key, depth, root and key in RELATIONAL)

        for name, attr in attrs.items():
            if obj.get(name) is not None or not self.active(attr):
                continue
            req = attr.get("requirement")
            if req == "recommended" and attr.get("@deprecated"):
                continue  # a deprecated attribute is not recommended any more
            if req == "required":
                self.err(_join(path, name), "required attribute missing")
            elif req == "recommended":
                self.warn(_join(path, name), "recommended attribute missing")

        for name, attr in attrs.items():
            sib = attr.get("sibling")
            if not sib or sib not in attrs or obj.get(sib) is None:
                continue
            if not self.active(attr) or not self.active(attrs[sib]):
                continue
            if obj.get(name) is None:
                self.err(_join(path, sib), "present without %s" % name)
                continue
            if "enum" in attr:
                self.sibling(attr, name, obj[name], sib, obj[sib], path)

        for kind, names in sorted((spec.get("constraints") or {}).items()):
            present = [n for n in names
                       if obj.get(n) is not None and n in attrs and self.active(attrs[n])]
            if kind == "at_least_one" and not present:
                self.err(path, "needs at least one of %s" % ", ".join(names))
            elif kind == "just_one" and len(present) != 1:
                self.err(path, "needs exactly one of %s, has %d"
                         % (", ".join(names), len(present)))

    def sibling(self, attr: dict, name: str, idv, sib: str, sv, path: str) -> None:
        enum = attr["enum"]
        sp = _join(path, sib)
        if isinstance(idv, list) and isinstance(sv, list):
            if len(idv) != len(sv):
                self.err(sp, "has %d values, %s has %d" % (len(sv), name, len(idv)))
            for i, (a, b) in enumerate(zip(idv, sv)):
                self.caption(enum, name, a, b, "%s[%d]" % (sp, i))
        elif not isinstance(idv, list) and not isinstance(sv, list):
            self.caption(enum, name, idv, sv, sp)

    def caption(self, enum: dict, name: str, idv, sv, sp: str) -> None:
        if not isinstance(sv, str) or isinstance(idv, (dict, list, bool)) or idv is None:
            return  # type errors are reported on their own
        key = str(idv)
        if key not in enum:
            return  # reported as not an enum value
        if key == "99" or (name == "type_uid" and key.endswith("99")):
            return  # Other: the sibling carries the source's word
        cap = enum[key].get("caption") if isinstance(enum[key], dict) else enum[key]
        if cap is not None and sv != cap:
            self.err(sp, "%s is not the caption of %s %s (%s)"
                     % (_show(sv), name, _show(idv), _show(cap)))

    # ---- values -----------------------------------------------------------------

    def value(self, attr: dict, v, p: str, name: str, depth: int, relational: bool) -> None:
        if attr.get("is_array"):
            if not isinstance(v, list):
                self.err(p, "expected an array of %s, got %s" % (self.tname(attr), _describe(v)))
                return
            for i, e in enumerate(v):
                self.single(attr, e, "%s[%d]" % (p, i), depth, relational)
        else:
            if isinstance(v, list):
                self.err(p, "expected %s, got an array" % self.tname(attr))
                return
            self.single(attr, v, p, depth, relational)

    def tname(self, attr: dict) -> str:
        t = attr.get("type")
        if t == "object_t":
            return "object %s" % attr.get("object_type")
        base = self.resolve(t)[0]
        return t if base == t else "%s (%s)" % (t, base)

    def resolve(self, t: str) -> Tuple[str, List[dict]]:
        """(base type, the type definitions from t down to its base)."""
        if t in self.type_cache:
            return self.type_cache[t]
        chain, cur, seen = [], t, set()
        while cur in self.types and cur not in seen:
            seen.add(cur)
            chain.append(self.types[cur])
            nxt = self.types[cur].get("type")
            if not nxt:
                break
            cur = nxt
        res = (cur, chain)
        self.type_cache[t] = res
        return res

    def regex(self, pattern: str):
        if pattern not in self.regex_cache:
            try:
                self.regex_cache[pattern] = re.compile(pattern)
            except re.error:
                self.regex_cache[pattern] = None  # not a Python regex: not checked
        return self.regex_cache[pattern]

    def single(self, attr: dict, v, p: str, depth: int, relational: bool) -> None:
        t = attr.get("type")
        if t == "object_t":
            ot = attr.get("object_type")
            if not isinstance(v, dict):
                self.err(p, "expected object %s, got %s" % (ot, _describe(v)))
                return
            if ot == "object":
                return  # open
            spec = self.objects.get(ot)
            if spec is None:
                self.err(p, "object type %s is not in the schema" % ot)
                return
            self.walk(spec, v, p, depth + 1)
            return

        base, chain = self.resolve(t)
        if base not in BASE_TYPES:
            self.err(p, "type %s is not in the schema's dictionary" % t)
            return
        ok = {
            "string_t": lambda x: isinstance(x, str),
            "integer_t": _is_int,
            "long_t": _is_int,
            "float_t": _is_number,
            "boolean_t": lambda x: isinstance(x, bool),
            "json_t": lambda x: True,
        }[base](v)
        if not ok:
            self.err(p, "expected %s, got %s" % (self.tname(attr), _describe(v)))
            return

        for td in chain:
            if "values" in td and not any(type(v) is type(x) and v == x for x in td["values"]):
                self.err(p, "%s is not one of the %s values" % (_show(v), t))
            rng = td.get("range")
            if rng and _is_number(v) and len(rng) == 2 and not rng[0] <= v <= rng[1]:
                self.err(p, "%s is outside the %s range %s..%s" % (_show(v), t, rng[0], rng[1]))
            if isinstance(v, str):
                ml = td.get("max_len")
                if _is_int(ml) and len(v) > ml:
                    self.err(p, "longer than the %s max_len %d" % (t, ml))
                rx = td.get("regex")
                if rx:
                    cre = self.regex(rx)
                    if cre is not None and not cre.search(v):
                        self.err(p, "%s does not match the %s pattern" % (_show(v), t))

        enum = attr.get("enum")
        if enum and not relational:
            if base in ("integer_t", "long_t"):
                key = str(v)
            elif isinstance(v, str):
                key = v
            else:
                key = json.dumps(v)
            if key not in enum:
                self.err(p, "%s is not an enum value" % _show(v))


# ---- the command ------------------------------------------------------------------

def _parse(line: bytes):
    """(record, None) or (None, problem) for one line."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    dups = []

    def pairs(items):
        d = {}
        for k, v in items:
            if k in d:
                dups.append(k)
            d[k] = v
        return d

    def bad_constant(name):
        raise ValueError("%s is not JSON" % name)

    try:
        rec = json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant)
    except ValueError as e:
        return None, "invalid JSON: %s" % e
    if dups:
        return None, "duplicate key %s" % _show(dups[0])
    return rec, None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="ocsf_check.py",
        description="Check OCSF records (JSON lines) against a compiled OCSF schema.")
    ap.add_argument("--quiet", "-q", action="store_true", help="print only the number of problems")
    ap.add_argument("--warnings", "-w", action="store_true",
                    help="also print warnings (recommended attributes missing, deprecated ones)")
    ap.add_argument("schema", metavar="SCHEMA_JSON")
    ap.add_argument("files", metavar="FILE", nargs="*", help="JSON lines; '-' or none: stdin")
    args = ap.parse_args(argv)

    try:
        schema = load_schema(args.schema)
    except (OSError, ValueError) as e:
        sys.stderr.write("ocsf_check: %s\n" % e)
        return 2

    files = args.files or ["-"]
    problems = 0
    out = []
    for fname in files:
        prefix = "%s: " % fname if len(files) > 1 else ""
        try:
            if fname == "-":
                lines = sys.stdin.buffer.read().splitlines()
            else:
                with open(fname, "rb") as f:
                    lines = f.read().splitlines()
        except OSError as e:
            sys.stderr.write("ocsf_check: %s\n" % e)
            return 2
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            rec, bad = _parse(line)
            if bad:
                errs, warns = ["%s" % bad], []
            else:
                errs, warns = validate(schema, rec)
            problems += len(errs)
            if not args.quiet:
                out.extend("%srecord %d: %s" % (prefix, n, e) for e in errs)
                if args.warnings:
                    out.extend("%srecord %d: warning: %s" % (prefix, n, w) for w in warns)
    if args.quiet:
        out = [str(problems)]
    if out:
        sys.stdout.write("\n".join(out) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
