#!/usr/bin/python3
"""Interoperability of the C codec with python3-avro (an independent Avro
implementation), through tests/codec_tool.

usage: interop_avro.py CODEC_TOOL SCHEMAS_DIR

For every record type:
  * the Parsing Canonical Form and CRC-64-AVRO fingerprint computed here
    (own implementation, written from the specification) equal codec_tool's,
    and python-avro's canonical form agrees once its known quirk is undone;
  * records written by python-avro, framed here (single-object and
    Confluent), decode in codec_tool to the same values;
  * records encoded by codec_tool (from full and from minimal JSON) carry
    the right framing and decode in python-avro to the same values, with
    python-avro's idea of the defaults.
Exits non-zero on any mismatch.
"""
import datetime
import io
import json
import os
import re
import struct
import subprocess
import sys
import warnings

import avro.io
import avro.schema

TYPES = ["EnforcementChange", "ScanJob", "NodeTask", "JobStatus", "DeadLetter"]
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
CRC64_EMPTY = 0xC15D213AA4D7A795

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("MISMATCH: " + what, file=sys.stderr)
    return cond


# ---- CRC-64-AVRO and Parsing Canonical Form, from the specification ------

def _crc64_table():
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (CRC64_EMPTY if fp & 1 else 0)
        table.append(fp)
    return table


CRC64_TABLE = _crc64_table()


def crc64(data):
    fp = CRC64_EMPTY
    for b in data:
        fp = (fp >> 8) ^ CRC64_TABLE[(fp ^ b) & 0xFF]
    return fp


def canonical(schema, ns="", defined=None):
    """Parsing Canonical Form of a schema given as parsed JSON."""
    if defined is None:
        defined = set()
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return json.dumps(schema)
        full = schema if "." in schema or not ns else ns + "." + schema
        if full not in defined and schema in defined:
            full = schema
        return json.dumps(full)
    if isinstance(schema, list):
        return "[" + ",".join(canonical(b, ns, defined) for b in schema) + "]"
    t = schema["type"]
    if isinstance(t, (dict, list)):
        return canonical(t, ns, defined)
    if t in PRIMITIVES:
        return json.dumps(t)
    if t in ("record", "error", "enum", "fixed"):
        name = schema["name"]
        if "." in name:
            full = name
        else:
            space = schema.get("namespace", ns)
            full = space + "." + name if space else name
        defined.add(full)
        inner = full.rpartition(".")[0]
        parts = ['"name":' + json.dumps(full), '"type":' + json.dumps(t)]
        if t in ("record", "error"):
            fields = ['{"name":%s,"type":%s}' % (json.dumps(f["name"]), canonical(f["type"], inner, defined))
                      for f in schema["fields"]]
            parts.append('"fields":[' + ",".join(fields) + "]")
        elif t == "enum":
            parts.append('"symbols":' + json.dumps(schema["symbols"], separators=(",", ":")))
        else:
            parts.append('"size":%d' % schema["size"])
        return "{" + ",".join(parts) + "}"
    if t == "array":
        return '{"type":"array","items":%s}' % canonical(schema["items"], ns, defined)
    if t == "map":
        return '{"type":"map","values":%s}' % canonical(schema["values"], ns, defined)
    return canonical(t, ns, defined)  # {"type": "SomeName"}


def self_test():
    """The implementation above against the specification's own vectors
    (share/test/data/schema-tests.txt), so that it can judge the C one."""
    vectors = [
        ('"null"', '"null"', 7195948357588979594),
        ('{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
         '{"name":"x.y.foo","type":"record","fields":[]}', 5916914534497305771),
        ('{"name":"PigValue","type":"record","fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
         '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
         -1759257747318642341),
    ]
    for text, want, fp in vectors:
        got = canonical(json.loads(text))
        assert got == want, (got, want)
        assert crc64(got.encode()) == fp & 0xFFFFFFFFFFFFFFFF, text


# ---- JSON form <-> python-avro datum --------------------------------------

def json_fits(sch, v):
    t = sch.type
    if v is None:
        return t == "null"
    if isinstance(v, bool):
        return t == "boolean"
    if isinstance(v, int):
        return t in ("int", "long", "float", "double")
    if isinstance(v, str):
        return t in ("string", "enum", "bytes", "fixed")
    if isinstance(v, dict):
        return t in ("record", "map")
    if isinstance(v, list):
        return t == "array"
    return False


def to_py(sch, v):
    """The JSON form (ms integers, bytes as code points) as python-avro wants it."""
    if isinstance(sch, avro.schema.UnionSchema):
        for b in sch.schemas:
            if json_fits(b, v):
                return to_py(b, v)
        raise ValueError("no branch for %r" % (v,))
    t = sch.type
    if t == "record":
        return {f.name: to_py(f.type, v[f.name]) for f in sch.fields}
    if t == "array":
        return [to_py(sch.items, x) for x in v]
    if t == "map":
        return {k: to_py(sch.values, x) for k, x in v.items()}
    if t in ("bytes", "fixed"):
        return v.encode("latin-1")
    if getattr(sch, "logical_type", None) == "timestamp-millis":
        return EPOCH + datetime.timedelta(milliseconds=v)
    return v


def from_py(sch, v):
    if isinstance(sch, avro.schema.UnionSchema):
        for b in sch.schemas:
            if avro.io.validate(b, v):
                return from_py(b, v)
        raise ValueError("no branch for %r" % (v,))
    t = sch.type
    if t == "record":
        return {f.name: from_py(f.type, v[f.name]) for f in sch.fields}
    if t == "array":
        return [from_py(sch.items, x) for x in v]
    if t == "map":
        return {k: from_py(sch.values, x) for k, x in v.items()}
    if t in ("bytes", "fixed"):
        return v.decode("latin-1")
    if isinstance(v, datetime.datetime):
        return (v - EPOCH) // datetime.timedelta(milliseconds=1)
    return v


def with_defaults(sch, rec):
    """A minimal record completed with python-avro's field defaults."""
    out = dict(rec)
    for f in sch.fields:
        if f.name not in out:
            assert f.has_default, f.name
            out[f.name] = f.default
    return out


def py_encode(sch, datum):
    buf = io.BytesIO()
    avro.io.DatumWriter(sch).write(datum, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def py_decode(sch, body):
    buf = io.BytesIO(body)
    datum = avro.io.DatumReader(sch).read(avro.io.BinaryDecoder(buf))
    check(buf.tell() == len(body), "python-avro left %d bytes of the body" % (len(body) - buf.tell()))
    return datum


# ---- samples (JSON form) ---------------------------------------------------

SUB = "11111111-2222-3333-4444-555555555555"
JOB = "0b6c1d2e-1f20-4a3b-8c4d-5e6f708192a3"
CLUSTER_ID = ("/subscriptions/" + SUB + "/resourceGroups/rg-nexus/providers/"
              "Microsoft.NetworkCloud/clusters/cluster-01")
OUTCOME_OK = {"node": "bmm-1", "machine_name": "rack1compute01", "result": "Succeeded", "failure": None,
              "reason": None, "scans": 3, "threats": 1, "finished_at": 1714564900000}
OUTCOME_FAIL = {"node": "bmm-2", "machine_name": None, "result": "Failed", "failure": "DownloadExpired",
                "reason": "AuthenticationFailed: SAS expired \u00e9\u4e2d\U0001F600", "scans": 0,
                "threats": 0, "finished_at": 1714564950001}
STATUS = {"event_id": "1d2e3f40-5162-4738-890a-bcdef0123456", "job_id": JOB, "time": 1714565000000,
          "job_kind": "Scan", "cluster_id": CLUSTER_ID, "kind": "Accepted", "node_count": None,
          "node_outcome": None, "status": None, "outcomes": [], "enforcement": None, "reason": None,
          "output": None, "scan_action": None}

FULL = {
    "EnforcementChange": [
        {"request_id": "6f1c2a8e-3b7d-4c1e-9a55-0d2f4e6b8a10", "requested_at": 1714564800000,
         "subscription_id": SUB, "resource_group": "rg-nexus", "cluster": "cluster-01",
         "level": "RealTime", "requested_by": "alice@example.com"},
        {"request_id": "6F1C2A8E-3B7D-4C1E-9A55-0D2F4E6B8A10", "requested_at": 0,
         "subscription_id": SUB, "resource_group": "rg", "cluster": "c", "level": "Disabled",
         "requested_by": None},
    ],
    "ScanJob": [
        {"job_id": JOB, "requested_at": 1714564800123, "subscription_id": SUB, "resource_group": "rg-nexus",
         "cluster": "cluster-01", "managed_resource_group": "rg-managed",
         "nodes": ["bmm-%d" % i for i in range(70)], "limit_time_seconds": 14400, "requested_by": "cron"},
    ],
    "NodeTask": [
        {"task_id": "a0b1c2d3-e4f5-4617-8899-aabbccddeeff", "job_id": JOB, "created_at": 1714564801000,
         "subscription_id": SUB, "resource_group": "rg-nexus", "cluster": "cluster-01",
         "managed_resource_group": "rg-managed", "node": "bmm-1", "machine_name": "rack1compute01",
         "rack_id": "/subscriptions/" + SUB + "/resourceGroups/rg-managed/providers/"
                    "Microsoft.NetworkCloud/racks/rack1",
         "limit_time_seconds": 600, "attempt": 2147483647, "location": "eastus"},
    ],
    "JobStatus": [
        STATUS,
        dict(STATUS, kind="Planned", node_count=12),
        dict(STATUS, kind="Planned", node_count=3,
             output={"mode": "CustomerStorage", "account": "contosoout", "container": "bmm-output",
                     "identity": "UserAssignedIdentity /subscriptions/x/resourceGroups/y/providers/"
                                 "Microsoft.ManagedIdentity/userAssignedIdentities/z"},
             scan_action={"status": "Completed", "message": "Scan completed", "correlation_id": "c-1",
                          "start_time": 1714564810000, "end_time": 1714564820000}),
        dict(STATUS, kind="Planned", node_count=3,
             output={"mode": "ClusterManager", "account": None, "container": None, "identity": None}),
        dict(STATUS, kind="NodeOutcome", node_outcome=OUTCOME_FAIL),
        dict(STATUS, kind="NodeOutcome", node_outcome=dict(OUTCOME_FAIL, failure="DownloadForbidden")),
        dict(STATUS, kind="Terminal", status="PartiallySucceeded", outcomes=[OUTCOME_OK, OUTCOME_FAIL] * 40,
             reason="1 of 2 nodes failed"),
        dict(STATUS, job_kind="Enforcement", kind="EnforcementResult", status="Succeeded",
             enforcement={"requested_level": "OnDemand", "confirmed_level": "OnDemand",
                          "previous_level": None}),
    ],
    "DeadLetter": [
        {"event_id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "time": -1, "source_topic": "scan.jobs",
         "source_partition": 3, "source_offset": 9007199254740993, "reason": "bad framing",
         "payload": bytes(range(256)).decode("latin-1"), "key": "k\u0080\u00ff",
         "correlation_id": JOB},
    ],
}

MINIMAL = {
    "EnforcementChange": {"request_id": "6f1c2a8e-3b7d-4c1e-9a55-0d2f4e6b8a10", "requested_at": 1,
                          "subscription_id": SUB, "resource_group": "rg", "cluster": "c", "level": "Audit"},
    "ScanJob": {"job_id": JOB, "requested_at": 1714564800123, "subscription_id": SUB,
                "resource_group": "rg", "cluster": "c"},
    "NodeTask": {"task_id": "a0b1c2d3-e4f5-4617-8899-aabbccddeeff", "job_id": JOB, "created_at": 2,
                 "subscription_id": SUB, "resource_group": "rg", "cluster": "c",
                 "managed_resource_group": "m", "node": "n", "limit_time_seconds": 60},
    "JobStatus": {"event_id": "1d2e3f40-5162-4738-890a-bcdef0123456", "job_id": JOB, "time": 3,
                  "job_kind": "Scan", "cluster_id": CLUSTER_ID, "kind": "Accepted"},
    "DeadLetter": {"event_id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "time": 4, "source_topic": "t",
                   "source_partition": 0, "source_offset": 0, "reason": "r", "payload": ""},
}


# ---- the checks ------------------------------------------------------------

def run_tool(tool, args, data=b""):
    return subprocess.run([tool] + args, input=data, capture_output=True, timeout=60)


def tool_ok(tool, args, data=b""):
    r = run_tool(tool, args, data)
    if r.returncode != 0:
        raise RuntimeError("codec_tool %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r


def check_type(tool, schemas_dir, name):
    text = open(os.path.join(schemas_dir, name + ".avsc"), encoding="utf-8").read()
    sch = avro.schema.parse(text)

    canon = canonical(json.loads(text))
    fp = crc64(canon.encode("utf-8"))
    c_canon = tool_ok(tool, ["canonical", name]).stdout.decode().rstrip("\n")
    c_fp = int(tool_ok(tool, ["fingerprint", name]).stdout, 16)
    check(c_canon == canon, "%s canonical form:\n  C:  %s\n  py: %s" % (name, c_canon, canon))
    check(c_fp == fp, "%s fingerprint C %016x, py %016x" % (name, c_fp, fp))
    # python-avro 1.11 writes a primitive with a logicalType as {"type":"X"}
    # where the specification wants "X"; otherwise it must agree
    pyavro = re.sub(r'\{"type":"(%s)"\}' % "|".join(PRIMITIVES), r'"\1"', sch.canonical_form)
    check(pyavro == canon, "%s python-avro canonical form differs:\n  %s" % (name, pyavro))

    for i, rec in enumerate(FULL[name]):
        what = "%s sample %d" % (name, i)
        body = py_encode(sch, to_py(sch, rec))
        # python-avro -> C, both framings
        for framing, frame, want_id in (("single", b"\xC3\x01" + struct.pack("<Q", fp), 0),
                                        ("confluent", b"\x00" + struct.pack(">I", 4242), 4242)):
            r = tool_ok(tool, ["decode", name], frame + body)
            check(json.loads(r.stdout) == rec, "%s: python-avro %s -> C decode:\n  %s" % (what, framing, r.stdout))
            check(("schema_id %d" % want_id) in r.stderr.decode(), "%s: schema id %s" % (what, r.stderr))
        # C -> python-avro, both framings
        for framing, hdr in (("single", b"\xC3\x01" + struct.pack("<Q", fp)),
                             ("confluent", b"\x00\x00\x00\x00\x07")):
            out = tool_ok(tool, ["encode", name, framing, "7"], json.dumps(rec).encode()).stdout
            check(out[:len(hdr)] == hdr, "%s: C %s header %s" % (what, framing, out[:len(hdr)].hex()))
            check(out[len(hdr):] == body, "%s: C %s body differs from python-avro's" % (what, framing))
            got = from_py(sch, py_decode(sch, out[len(hdr):]))
            check(got == rec, "%s: C %s -> python-avro decode:\n  %r" % (what, framing, got))

    # defaults: C fills them, python-avro reads them back as its own defaults
    want = with_defaults(sch, MINIMAL[name])
    out = tool_ok(tool, ["encode", name, "single"], json.dumps(MINIMAL[name]).encode()).stdout
    got = from_py(sch, py_decode(sch, out[10:]))
    check(got == want, "%s minimal: C defaults -> python-avro:\n  %r\n  %r" % (name, got, want))

    # a python-avro record of another type is refused by fingerprint
    other = TYPES[(TYPES.index(name) + 1) % len(TYPES)]
    r = run_tool(tool, ["decode", other], b"\xC3\x01" + struct.pack("<Q", fp) + py_encode(sch, to_py(sch, FULL[name][0])))
    check(r.returncode != 0 and ("is a " + name).encode() in r.stderr,
          "%s decoded as %s: rc %d %s" % (name, other, r.returncode, r.stderr))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    tool, schemas_dir = sys.argv[1], sys.argv[2]
    warnings.simplefilter("ignore")  # python-avro warns about logical types it converts
    self_test()
    for name in TYPES:
        check_type(tool, schemas_dir, name)
    if failures:
        print("%d mismatches" % len(failures), file=sys.stderr)
        return 1
    print("interop with python-avro: %d record types, all agree" % len(TYPES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
