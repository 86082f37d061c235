#!/usr/bin/env python3
"""Write the subset of the compiled OCSF schema that mdefleet's checker uses.

    make_subset.py [FULL_SCHEMA_JSON [OUT_JSON]]

FULL_SCHEMA_JSON is the compiled OCSF 1.8.0 schema (one JSON document made by
ocsf/ocsf-schema-compiler; default /work/shared/reference/ocsf/ocsf-1.8.0.json).
OUT_JSON defaults to tests/data/ocsf/ocsf-1.8.0-subset.json in this tree.

The subset holds the schema `version`, `compile_version`, `extensions`, the
scalar types of the dictionary (`dictionary.types`; the dictionary's own
attribute catalogue is left out: the compiled classes and objects already
carry every attribute's full definition), the categories of the kept classes,
the classes scan_activity (6007) and detection_finding (2004) whole, every
object reachable from their attributes through `object_type` (transitively),
each whole, and the profiles the kept classes name.  Keys are written sorted
and indented so the output is byte-for-byte reproducible.
"""

import json
import os
import sys

CLASSES = ("scan_activity", "detection_finding")
VERSION = "1.8.0"

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_IN = "/work/shared/reference/ocsf/ocsf-1.8.0.json"
DEFAULT_OUT = os.path.join(HERE, "..", "data", "ocsf", "ocsf-1.8.0-subset.json")


def fail(msg):
    sys.stderr.write("make_subset: %s\n" % msg)
    sys.exit(1)


def reachable_objects(full, class_names):
    """Names of every object reachable from the classes' attributes."""
    objects = full.get("objects", {})
    seen = set()
    todo = []
    for cname in class_names:
        for attr in full["classes"][cname]["attributes"].values():
            if attr.get("object_type"):
                todo.append(attr["object_type"])
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in objects:
            fail("object %r is referenced but not in the schema" % name)
        seen.add(name)
        for attr in objects[name].get("attributes", {}).values():
            if attr.get("object_type"):
                todo.append(attr["object_type"])
    return seen


def subset(full):
    if full.get("version") != VERSION:
        fail("schema version is %r, expected %s" % (full.get("version"), VERSION))
    classes = {}
    for cname in CLASSES:
        if cname not in full.get("classes", {}):
            fail("class %r is not in the schema" % cname)
        classes[cname] = full["classes"][cname]

    objs = reachable_objects(full, CLASSES)
    objects = {name: full["objects"][name] for name in objs}

    cats = full["categories"]
    wanted_cats = {c["category"] for c in classes.values()}
    categories = {k: v for k, v in cats.items() if k != "attributes"}
    categories["attributes"] = {k: v for k, v in cats["attributes"].items()
                                if k in wanted_cats}

    dic = full["dictionary"]
    dictionary = {k: v for k, v in dic.items() if k != "attributes"}
    if "types" not in dictionary:
        fail("the schema has no dictionary.types")

    wanted_profiles = set()
    for c in classes.values():
        wanted_profiles.update(c.get("profiles") or [])
    profiles = {k: v for k, v in full.get("profiles", {}).items()
                if k in wanted_profiles}

    out = {
        "version": full["version"],
        "categories": categories,
        "dictionary": dictionary,
        "classes": classes,
        "objects": objects,
        "profiles": profiles,
        "extensions": full.get("extensions", {}),
    }
    if "compile_version" in full:
        out["compile_version"] = full["compile_version"]

    # every scalar type the kept attributes name must be in dictionary.types
    types = dictionary["types"]["attributes"]
    for kind in ("classes", "objects"):
        for name, item in out[kind].items():
            for aname, attr in item.get("attributes", {}).items():
                t = attr.get("type")
                if t != "object_t" and t not in types:
                    fail("%s %s.%s has type %r, not in dictionary.types"
                         % (kind, name, aname, t))
    return out


def main(argv):
    if len(argv) > 3 or (len(argv) > 1 and argv[1] in ("-h", "--help")):
        sys.stderr.write("usage: make_subset.py [FULL_SCHEMA_JSON [OUT_JSON]]\n")
        return 2
    src = argv[1] if len(argv) > 1 else DEFAULT_IN
    dst = argv[2] if len(argv) > 2 else DEFAULT_OUT
    with open(src, encoding="utf-8") as f:
        full = json.load(f)
    text = json.dumps(subset(full), indent=1, sort_keys=True, ensure_ascii=False,
                      separators=(",", ": ")) + "\n"
    tmp = dst + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, dst)
    out = json.loads(text)
    sys.stdout.write("make_subset: wrote %s (%d bytes): %d classes, %d objects, %d types\n"
                     % (os.path.normpath(dst), len(text.encode("utf-8")), len(out["classes"]),
                        len(out["objects"]), len(out["dictionary"]["types"]["attributes"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
