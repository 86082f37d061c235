#!/usr/bin/env python3
"""ocsf_check shown to pass good records and to fail known-bad ones.

usage: ocsf_check_test.py [SCHEMA_JSON]
  (default: tests/data/ocsf/ocsf-1.8.0-subset.json in this tree)

Builds a known-good Scan Activity and a known-good Detection Finding by hand,
asserts they pass, then feeds variants that each break one rule and asserts
an error names the problem.  Also runs ocsf_check.py as a command.
Prints `ocsf_check_test: N passed, M failed`; exits 1 on any failure.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import ocsf_check  # noqa: E402
from checks import Checks  # noqa: E402

DEFAULT_SCHEMA = os.path.join(HERE, "..", "data", "ocsf", "ocsf-1.8.0-subset.json")

CHECKS = Checks("ocsf_check_test")
ok = CHECKS.ok


# ---- the known-good records ---------------------------------------------------------

T0 = 1727175821000


def common(log_name, profiles, uid):
    return {
        "time": T0,
        "severity_id": 1,
        "severity": "Informational",
        "metadata": {
            "version": "1.8.0",
            "product": {"name": "Microsoft Defender for Endpoint",
                        "vendor_name": "Microsoft", "version": "101.24082.0004"},
            "profiles": profiles,
            "uid": uid,
            "correlation_uid": "job-0001",
            "log_name": log_name,
        },
        "device": {
            "hostname": "rack1compute02",
            "name": "rack1compute02",
            "uid": "/subscriptions/s1/resourceGroups/rg/providers/x/nodes/rack1compute02",
            "type_id": 1,
            "type": "Server",
            "agent_list": [{
                "uid": "a1b2c3",
                "name": "Microsoft Defender for Endpoint",
                "version": "101.24082.0004",
                "type_id": 1,
                "type": "Endpoint Detection and Response",
                "vendor_name": "Microsoft",
            }],
        },
        "cloud": {
            "provider": "Azure",
            "region": "westeurope",
            "account": {"uid": "00000000-1111-2222-3333-444444444444",
                        "type_id": 13, "type": "Azure Subscription"},
        },
        "observables": [
            {"name": "device.hostname", "type_id": 1, "type": "Hostname",
             "value": "rack1compute02"},
            {"name": "device.uid", "type_id": 10, "type": "Resource UID",
             "value": "/subscriptions/s1/resourceGroups/rg/providers/x/nodes/rack1compute02"},
        ],
        "unmapped": {
            "cluster_resource_id": "/subscriptions/s1/resourceGroups/rg/providers/x/clusters/c1",
            "job_id": "job-0001",
            "nested": {"any": [1, "two", {"three": None}], "deep": {"x": True}},
        },
    }


def good_scan():
    r = common("scan.results", ["host", "cloud"], "66744f2a-278c-564d-86ed-18cb6331d875")
    r.update({
        "class_uid": 6007,
        "class_name": "Scan Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": 2,
        "activity_name": "Completed",
        "type_uid": 600702,
        "type_name": "Scan Activity: Completed",
        "start_time": T0 - 60000,
        "end_time": T0,
        "duration": 60000,
        "status_id": 1,
        "status": "Success",
        "num_files": 7323,
        "num_detections": 1,
        "scan": {"uid": "scan-1", "name": "quick scan", "type_id": 1, "type": "Manual"},
    })
    return r


def good_finding():
    r = common("threats", ["cloud", "security_control"], "df98c213-9eb0-5677-9d9a-66590bdbd696")
    r.update({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": 4,
        "severity": "High",
        "finding_info": {
            "uid": "dfb4e572-1903-5f8e-954e-a4d29883eb27",
            "title": "Backdoor:Linux/Mirai.IJ!MTB",
            "types": ["Backdoor"],
            "first_seen_time": T0,
            "last_seen_time": T0,
        },
        "malware": [{"name": "Backdoor:Linux/Mirai.IJ!MTB",
                     "classification_ids": [2], "classifications": ["Backdoor"]}],
        "disposition_id": 15,
        "disposition": "Detected",
        "action_id": 3,
        "action": "Observed",
        "status_id": 1,
        "status": "New",
        "status_detail": "detected",
        "is_alert": True,
        "remediation": {"desc": "Quarantine or remove the file on rack1compute02; run a full scan."},
    })
    return r


# ---- variants ------------------------------------------------------------------------

def setp(rec, path, value):
    """rec with path (dots, [i] as .i) set to value; value DEL deletes."""
    r = copy.deepcopy(rec)
    parts = path.split(".")
    cur = r
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    last = parts[-1]
    if isinstance(cur, list):
        last = int(last)
    if value is DEL:
        del cur[last]
    else:
        cur[last] = value
    return r


DEL = object()


def expect_error(schema, name, rec, *needles):
    """Some error of rec holds every needle."""
    errs = ocsf_check.check(schema, rec)
    hit = any(all(n in e for n in needles) for e in errs)
    ok(hit, "%s: expected an error with %s" % (name, " & ".join(repr(n) for n in needles)),
       errs or ["(no errors)"])


def expect_clean(schema, name, rec):
    errs = ocsf_check.check(schema, rec)
    ok(not errs, "%s: expected no errors" % name, errs)


def run_cases(schema):
    scan, finding = good_scan(), good_finding()
    expect_clean(schema, "good scan activity", scan)
    expect_clean(schema, "good detection finding", finding)
    # the good records have their recommended attributes where it matters
    w = ocsf_check.warnings(schema, finding)
    ok(not any(x.startswith(("finding_info.title:", "metadata.log_name:", "is_alert:")) for x in w),
       "good finding: no warning about attributes it has", w)

    # profiles not declared: device and cloud are unknown in the scan
    bad = setp(scan, "metadata.profiles", [])
    expect_error(schema, "scan without profiles", bad, "device:", "unknown attribute", "host")
    expect_error(schema, "scan without profiles", bad, "cloud:", "unknown attribute", "cloud")
    bad = setp(scan, "metadata.profiles", DEL)
    expect_error(schema, "scan without metadata.profiles", bad, "device:", "unknown attribute")
    # a profile the class does not have
    expect_error(schema, "unknown profile", setp(scan, "metadata.profiles", ["host", "cloud", "nope"]),
                 "metadata.profiles[2]:", "not a profile")
    # cloud declared: cloud is then required
    expect_error(schema, "finding declaring cloud without cloud", setp(finding, "cloud", DEL),
                 "cloud:", "required attribute missing")
    # security_control not declared: disposition/action are unknown
    bad = setp(finding, "metadata.profiles", ["cloud"])
    expect_error(schema, "finding without security_control", bad, "disposition_id:", "unknown attribute")
    expect_error(schema, "finding without security_control", bad, "action:", "unknown attribute")

    expect_error(schema, "device.rack", setp(scan, "device.rack", "rack1"),
                 "device.rack:", "unknown attribute")
    expect_error(schema, "top-level job_id", setp(scan, "job_id", "job-0001"),
                 "job_id:", "unknown attribute")
    expect_error(schema, "version 1.3.0", setp(finding, "metadata.version", "1.3.0"),
                 "metadata.version:", "1.3.0")

    expect_error(schema, "finding_info.uid missing", setp(finding, "finding_info.uid", DEL),
                 "finding_info.uid:", "required attribute missing")
    expect_error(schema, "scan.type_id missing", setp(scan, "scan.type_id", DEL),
                 "scan.type_id:", "required attribute missing")
    expect_error(schema, "time missing", setp(finding, "time", DEL),
                 "time:", "required attribute missing")
    expect_error(schema, "time null", setp(finding, "time", None),
                 "time:", "required attribute missing")
    expect_error(schema, "metadata.product missing", setp(scan, "metadata.product", DEL),
                 "metadata.product:", "required attribute missing")
    expect_error(schema, "remediation.desc missing", setp(finding, "remediation", {}),
                 "remediation.desc:", "required attribute missing")

    expect_error(schema, "time as a string", setp(scan, "time", "2024-09-24T11:03:41Z"),
                 "time:", "expected timestamp_t", "string")
    expect_error(schema, "time as a float", setp(scan, "time", 1727175821000.5),
                 "time:", "expected timestamp_t")
    expect_error(schema, "is_alert as 1", setp(finding, "is_alert", 1),
                 "is_alert:", "expected boolean_t", "integer 1")
    expect_error(schema, "severity_id as true", setp(finding, "severity_id", True),
                 "severity_id:", "expected integer_t", "boolean")
    expect_error(schema, "device.hostname as a number", setp(scan, "device.hostname", 5),
                 "device.hostname:", "expected hostname_t")
    expect_error(schema, "device.ip not an address", setp(scan, "device.ip", "not-an-ip"),
                 "device.ip:", "pattern")

    expect_error(schema, "severity_id out of range", setp(finding, "severity_id", 7),
                 "severity_id:", "7 is not an enum value")
    expect_error(schema, "agent type_id out of range",
                 setp(scan, "device.agent_list.0.type_id", 42),
                 "device.agent_list[0].type_id:", "42 is not an enum value")
    expect_error(schema, "enum id as a string", setp(finding, "status_id", "1"),
                 "status_id:", "expected integer_t")
    expect_error(schema, "classification_ids out of range",
                 setp(finding, "malware.0.classification_ids", [2, 12]),
                 "malware[0].classification_ids[1]:", "12 is not an enum value")

    expect_error(schema, "scan.type contradicts type_id", setp(scan, "scan.type", "quick"),
                 "scan.type:", '"quick"', "type_id 1", "Manual")
    expect_error(schema, "status contradicts status_id", setp(finding, "status", "Resolved"),
                 "status:", "status_id 1")
    expect_error(schema, "classifications contradict ids",
                 setp(finding, "malware.0.classifications", ["Virus"]),
                 "malware[0].classifications[0]:", "Backdoor")
    expect_error(schema, "class_name wrong", setp(scan, "class_name", "Scan"),
                 "class_name:", "Scan Activity")
    expect_error(schema, "sibling without id", setp(finding, "status_id", DEL),
                 "status:", "without status_id")
    # 99 Other: any caption
    bad = setp(setp(scan, "scan.type_id", 99), "scan.type", "quick")
    expect_clean(schema, "scan.type_id 99 with the source's word", bad)

    expect_error(schema, "type_uid wrong", setp(finding, "type_uid", 200402),
                 "type_uid:", "class_uid * 100 + activity_id", "200401")
    expect_error(schema, "category_uid wrong", setp(finding, "category_uid", 6),
                 "category_uid:", "not the category", "2")
    expect_error(schema, "unknown class_uid", setp(finding, "class_uid", 9999),
                 "class_uid:", "9999 is not a class")
    expect_error(schema, "class_uid missing", setp(finding, "class_uid", DEL),
                 "class_uid:", "required attribute missing")

    expect_error(schema, "malware without classification_ids",
                 setp(finding, "malware.0.classification_ids", DEL),
                 "malware[0].classification_ids:", "required attribute missing")
    expect_error(schema, "product with neither name nor uid",
                 setp(scan, "metadata.product", {"vendor_name": "Microsoft"}),
                 "metadata.product:", "at least one of name, uid")
    expect_error(schema, "device with no identity",
                 setp(scan, "device", {"type_id": 1, "type": "Server"}),
                 "device:", "at least one of")
    expect_error(schema, "array where an object is expected",
                 setp(finding, "finding_info", [finding["finding_info"]]),
                 "finding_info:", "expected object finding_info", "array")
    expect_error(schema, "object where an array is expected",
                 setp(finding, "malware", finding["malware"][0]),
                 "malware:", "expected an array")
    expect_error(schema, "unmapped not an object", setp(scan, "unmapped", [1, 2]),
                 "unmapped:", "expected object")
    expect_error(schema, "record not an object", ["x"], "expected a JSON object")

    expect_clean(schema, "null optional attribute", setp(finding, "comment", None))
    expect_clean(schema, "null optional object", setp(scan, "device.agent_list", None))
    expect_clean(schema, "arbitrary nested value in unmapped",
                 setp(scan, "unmapped.weird", {"a": [[{"b": None}], 1.5, False, "s"]}))
    expect_clean(schema, "the datetime profile declared",
                 setp(setp(scan, "metadata.profiles", ["host", "cloud", "datetime"]),
                      "time_dt", "2024-09-24T11:03:41.000Z"))
    expect_error(schema, "time_dt without the datetime profile",
                 setp(scan, "time_dt", "2024-09-24T11:03:41.000Z"),
                 "time_dt:", "unknown attribute", "datetime")

    # warnings are separate from errors
    bad = setp(finding, "finding_info.title", DEL)
    ok(not ocsf_check.check(schema, bad), "missing recommended attribute is not an error",
       ocsf_check.check(schema, bad))
    w = ocsf_check.warnings(schema, bad)
    ok(any(x.startswith("finding_info.title:") and "recommended" in x for x in w),
       "missing recommended attribute is a warning", w)


def run_cli(schema_path):
    tool = os.path.join(HERE, "ocsf_check.py")
    good = json.dumps(good_scan())
    bad = json.dumps(setp(good_scan(), "device.rack", "rack1"))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "records.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(good + "\n" + bad + "\n")
        p = subprocess.run([sys.executable, tool, schema_path, path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        lines = p.stdout.splitlines()
        ok(p.returncode == 1, "cli: exit 1 on a bad record (got %d)" % p.returncode,
           lines + p.stderr.splitlines())
        ok(lines == ["record 2: device.rack: unknown attribute"],
           "cli: names the bad record's line, only it", lines)

        p = subprocess.run([sys.executable, tool, "--quiet", schema_path, path],
                           stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
        ok(p.returncode == 1 and p.stdout.strip() == "1", "cli --quiet: the count",
           [p.stdout])

        p = subprocess.run([sys.executable, tool, schema_path, "-"], input=good + "\n\n",
                           stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
        ok(p.returncode == 0 and p.stdout == "", "cli: a good record on stdin passes",
           [p.stdout])

        p = subprocess.run([sys.executable, tool, schema_path],
                           input=good + "\n{not json\n" + '{"a":1,"a":2}\n',
                           stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
        out = p.stdout.splitlines()
        ok(p.returncode == 1 and len(out) == 2 and out[0].startswith("record 2: invalid JSON")
           and out[1].startswith("record 3: duplicate key"),
           "cli: bad JSON lines are named", out)


def main(argv):
    schema_path = argv[1] if len(argv) > 1 else DEFAULT_SCHEMA
    schema = ocsf_check.load_schema(schema_path)
    ok(schema.get("version") == "1.8.0", "schema version is 1.8.0")
    run_cases(schema)
    run_cli(schema_path)
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
