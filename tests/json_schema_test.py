#!/usr/bin/python3
"""The topics' JSON Schemas (schemas/json) shown to accept mdefleet's
records and to reject known-bad ones.

usage: json_schema_test.py SCHEMAS_DIR RECORDS_DIR
  (run with /usr/bin/python3: Debian's python3-jsonschema)

RECORDS_DIR holds <topic>.jsonl, real records of each JSON topic. Checks:
every schema is a valid 2020-12 schema with $id, title and description,
every member described and objects closed; the definitions the schemas
share are the same in each, and NodeFailure is the one of
schemas/JobStatus.avsc; load() refuses an empty directory, a directory
missing a topic and an invalid schema; every committed record passes (and
the OCSF ones pass tests/ocsf/ocsf_check.py too); their event ids are the
UUIDv5 docs/topics.md describes; variants along other code paths pass;
mutations that each break one rule are rejected by an error naming the
path; json_schema_check.py works as a command.
Prints `json_schema_test: N passed, M failed`; exits 1 on any failure.
"""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import json_schema_check as jsc  # noqa: E402
from checks import Checks  # noqa: E402

TOPICS = jsc.TOPICS
CHECKS = Checks("json_schema_test")
ok = CHECKS.ok


# ---- the schemas themselves ----------------------------------------------------------

CONSTRAINTS = ("if", "then", "else", "not", "allOf", "dependentRequired")


def walk_schema(s, where, problems, constraint=False):
    """Every member of a declared object has a description, and the object
    is closed; the subschemas of if/then/else/not/allOf only constrain."""
    if isinstance(s, list):
        for i, x in enumerate(s):
            walk_schema(x, "%s[%d]" % (where, i), problems, constraint)
        return
    if not isinstance(s, dict):
        return
    if "properties" in s and not constraint:
        if s.get("additionalProperties") is not False:
            problems.append("%s: an object without additionalProperties: false" % where)
        for name, sub in s["properties"].items():
            if not isinstance(sub, dict) or not sub.get("description"):
                problems.append("%s.properties.%s: no description" % (where, name))
        for name in s.get("required", []):
            if name not in s["properties"]:
                problems.append("%s: requires %s, which it does not declare" % (where, name))
    for key, sub in s.items():
        if key in ("enum", "const", "required", "description"):
            continue
        walk_schema(sub, "%s.%s" % (where, key), problems, constraint or key in CONSTRAINTS)


def check_schemas(schemas_dir):
    raw = {}
    for t in TOPICS:
        path = os.path.join(schemas_dir, t + jsc.SUFFIX)
        if not ok(os.path.isfile(path), "schema of %s exists (%s)" % (t, path)):
            continue
        with open(path, encoding="utf-8") as f:
            raw[t] = json.load(f)
    try:
        validators = jsc.load(schemas_dir)
    except jsc.SchemaProblem as e:
        ok(False, "load(%s)" % schemas_dir, [str(e)])
        return None, raw
    ok(set(TOPICS) <= set(validators), "load() has every topic", sorted(validators))
    ids = set()
    for t, s in raw.items():
        ok(s.get("$schema") == jsc.DRAFT, "%s: $schema is 2020-12" % t)
        sid = s.get("$id", "")
        ok(sid.startswith("https://") and sid.endswith("/" + t + jsc.SUFFIX) and sid not in ids,
           "%s: $id is an absolute URL naming the file, unique" % t, [sid])
        ids.add(sid)
        ok(bool(s.get("title")) and bool(s.get("description")), "%s: title, description" % t)
        problems = []
        walk_schema(s, t, problems)
        ok(not problems, "%s: members described, objects closed" % t, problems)

    # what the schemas share is the same in each
    shared = {}
    for t, s in raw.items():
        for name, d in s.get("$defs", {}).items():
            shared.setdefault(name, []).append((t, d))
    for name, uses in sorted(shared.items()):
        first = uses[0][1]
        ok(all(d == first for _, d in uses), "$defs/%s is the same in %s" % (
            name, ", ".join(t for t, _ in uses)))

    # NodeFailure as schemas/JobStatus.avsc has it
    avsc = os.path.join(schemas_dir, "..", "JobStatus.avsc")
    symbols = None
    if os.path.isfile(avsc):
        with open(avsc, encoding="utf-8") as f:
            symbols = find_enum(json.load(f), "NodeFailure")
    ok(symbols is not None, "NodeFailure found in %s" % avsc)
    for t, s in raw.items():
        nf = s.get("$defs", {}).get("node_failure")
        if nf is not None:
            ok(nf.get("enum") == symbols, "%s: node_failure is JobStatus.avsc's NodeFailure" % t,
               [str(nf.get("enum")), str(symbols)])
    return validators, raw


def find_enum(avro, name):
    if isinstance(avro, dict):
        if avro.get("type") == "enum" and avro.get("name") == name:
            return avro.get("symbols")
        avro = list(avro.values())
    if isinstance(avro, list):
        for x in avro:
            found = find_enum(x, name)
            if found is not None:
                return found
    return None


def check_load_refuses(schemas_dir):
    with tempfile.TemporaryDirectory() as d:
        try:
            jsc.load(d)
            ok(False, "load() refuses an empty directory")
        except jsc.SchemaProblem as e:
            ok(all(t in str(e) for t in TOPICS), "load() refuses an empty directory", [str(e)])
        for t in TOPICS:
            if os.path.isfile(os.path.join(schemas_dir, t + jsc.SUFFIX)):
                shutil.copy(os.path.join(schemas_dir, t + jsc.SUFFIX), d)
        missing = os.path.join(d, "tickets" + jsc.SUFFIX)
        if os.path.exists(missing):
            os.remove(missing)
        try:
            jsc.load(d)
            ok(False, "load() refuses a directory without tickets" + jsc.SUFFIX)
        except jsc.SchemaProblem as e:
            ok("tickets" + jsc.SUFFIX in str(e), "load() names the missing schema", [str(e)])
        with open(missing, "w") as f:
            json.dump({"$schema": jsc.DRAFT, "type": "objekt"}, f)
        try:
            jsc.load(d)
            ok(False, "load() refuses an invalid schema")
        except jsc.SchemaProblem as e:
            ok("tickets" in str(e) and "not a valid schema" in str(e),
               "load() refuses an invalid schema", [str(e)])
        with open(missing, "w") as f:
            json.dump({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}, f)
        try:
            jsc.load(d)
            ok(False, "load() refuses a schema of another draft")
        except jsc.SchemaProblem as e:
            ok("2020-12" in str(e), "load() refuses a schema of another draft", [str(e)])


# ---- the committed records ---------------------------------------------------------------


def read_records(records_dir):
    records = {}
    for t in TOPICS:
        path = os.path.join(records_dir, t + ".jsonl")
        if not ok(os.path.isfile(path), "records of %s exist (%s)" % (t, path)):
            records[t] = []
            continue
        with open(path, encoding="utf-8") as f:
            records[t] = [json.loads(line) for line in f if line.strip()]
        ok(len(records[t]) >= 2, "%s: at least 2 records" % t)
    return records


def check_records(v, records):
    for t, recs in records.items():
        for i, r in enumerate(recs, 1):
            e = jsc.errors(v, t, r)
            ok(not e, "%s record %d passes" % (t, i), e)


def check_ocsf(records):
    """The committed OCSF records are OCSF too (the project's checker)."""
    sys.path.insert(0, os.path.join(HERE, "ocsf"))
    try:
        import ocsf_check
    except ImportError:
        ok(False, "tests/ocsf/ocsf_check.py importable")
        return
    schema = ocsf_check.load_schema(os.path.join(HERE, "data", "ocsf", "ocsf-1.8.0-subset.json"))
    for t in ("scan.results", "threats"):
        for i, r in enumerate(records[t], 1):
            e = ocsf_check.check(schema, r)
            ok(not e, "%s record %d is valid OCSF 1.8.0" % (t, i), e)


# Event ids as docs/topics.md gives them: UUIDv5 in mdefleet's namespace over
# the parts joined by U+001F (lib/core/eventid.c).
NS = uuid.uuid5(uuid.NAMESPACE_DNS, "mdefleet.events")


def uuid5(*parts):
    return str(uuid.uuid5(NS, "\x1f".join(parts)))


def check_ids(records):
    ok(str(NS) == "e3090702-c101-5c24-9063-44e50d768b5b", "mdefleet's namespace")
    for r in records["scan.results"]:
        u = r["unmapped"]
        ok(r["metadata"]["uid"] == uuid5(u["cluster_resource_id"], u["node_resource_id"], "scan",
                                         u.get("scan_type", ""), str(r.get("start_time", "")),
                                         str(r.get("end_time", ""))),
           "scan.results: metadata.uid is uuid5(cluster, node, scan, type, start, end)")
    for r in records["threats"]:
        u = r["unmapped"]
        ok(r["finding_info"]["uid"] == uuid5(u["cluster_resource_id"], u["node_resource_id"],
                                             "finding", u["tracking_id"]),
           "threats: finding_info.uid is uuid5(cluster, node, finding, tracking id)")
    for r in records["node.reports"]:
        ok(r["event_id"] == uuid5(r["job_id"], r["node_id"], "node-report"),
           "node.reports: event_id is uuid5(job, node, node-report)")
    findings = {r["finding_info"]["uid"] for r in records["threats"]}
    for r in records["tickets"]:
        d = r["details"]
        what = r["finding_uid"] if r["kind"] == "threat" else "node_failure"
        ok(r["dedupe_key"] == uuid5(d["cluster_id"], d["node_id"], "ticket", what),
           "tickets: dedupe_key is uuid5(cluster, node, ticket, finding uid | node_failure)")
        if r["kind"] == "threat":
            ok(r["finding_uid"] in findings, "tickets: finding_uid is a finding on threats")


# ---- variants and mutations --------------------------------------------------------------


def pick(records, topic, **want):
    """The first committed record whose top-level members have the values
    given (a dotted key reaches into objects)."""
    for r in records[topic]:
        if all(get(r, k.replace("__", ".")) == v for k, v in want.items()):
            return copy.deepcopy(r)
    raise LookupError("no %s record with %s" % (topic, want))


def get(r, dotted):
    for k in dotted.split("."):
        r = r.get(k) if isinstance(r, dict) else None
    return r


def setp(r, dotted, value):
    """Sets (or, with DELETE, removes) a dotted member; [n] indexes."""
    keys = dotted.split(".")
    for k in keys[:-1]:
        r = r[int(k)] if isinstance(r, list) else r[k]
    last = keys[-1]
    if isinstance(r, list):
        r[int(last)] = value
    elif value is DELETE:
        del r[last]
    else:
        r[last] = value
    return r


DELETE = object()


def variant(base, **changes):
    r = copy.deepcopy(base)
    for k, v in changes.items():
        setp(r, k.replace("__", "."), v)
    return r


def good_variants(records):
    """Records along code paths the demo did not take, built as the code
    would write them: each must pass."""
    out = []
    scan = pick(records, "scan.results", severity_id=1)
    # an unknown state word: Other, and activity_name carries it
    out.append(("scan: state running (99 Other)", "scan.results", variant(
        scan, activity_id=99, activity_name="running", type_uid=600799,
        type_name="Scan Activity: Other", status_id=0, status="Unknown", status_detail="running")))
    out.append(("scan: failed (6 Error, Failure)", "scan.results", variant(
        scan, activity_id=6, activity_name="Error", type_uid=600706,
        type_name="Scan Activity: Error", status_id=2, status="Failure", status_detail="failed")))
    out.append(("scan: Cancelled (status Unknown)", "scan.results", variant(
        scan, activity_id=3, activity_name="Cancelled", type_uid=600703,
        type_name="Scan Activity: Cancelled", status_id=0, status="Unknown",
        status_detail="canceled")))
    # a scan the report says nothing about: no state, type, times or counts
    bare = variant(scan, activity_id=0, activity_name="Unknown", type_uid=600700,
                   type_name="Scan Activity: Unknown", status_id=0, status="Unknown",
                   scan__name="scan")
    for k in ("start_time", "end_time", "duration", "num_files", "num_detections",
              "status_detail", "unmapped.scan_type", "device.agent_list", "device.region",
              "cloud.region", "unmapped.rack_id", "metadata.product.version"):
        setp(bare, k, DELETE)
    out.append(("scan: nothing known but the node", "scan.results", bare))

    create = pick(records, "threats", activity_id=1, status_id=1)
    update = variant(create, activity_id=2, activity_name="Update", type_uid=200402,
                     type_name="Detection Finding: Update", status_id=2, status="In Progress")
    update["finding_info"]["modified_time"] = update["finding_info"].pop("created_time")
    out.append(("threat: Update, In Progress", "threats", update))
    gone = variant(create, activity_id=3, activity_name="Close", type_uid=200403,
                   type_name="Detection Finding: Close", status_id=4, status="Resolved",
                   status_detail="gone from the report", is_alert=False)
    gone["finding_info"]["modified_time"] = gone["finding_info"].pop("created_time")
    del gone["remediation"]
    out.append(("threat: Close of a threat gone from the report", "threats", gone))
    hack = variant(create, severity_id=2, severity="Low")
    hack["malware"][0].update(classification_ids=[99], classifications=["HackTool"],
                              severity_id=2, severity="Low")
    hack["finding_info"]["types"] = ["HackTool"]
    out.append(("threat: HackTool (99 Other, Low)", "threats", hack))
    unknown = variant(create, severity_id=3, severity="Medium", disposition_id=99,
                      disposition="suspended", status_detail="suspended")
    unknown["malware"][0].update(name="Unknown threat", classification_ids=[0],
                                 classifications=["Unknown"], severity_id=3, severity="Medium")
    unknown["finding_info"]["title"] = "Unknown threat"
    del unknown["finding_info"]["types"], unknown["unmapped"]["tracking_id"]
    out.append(("threat: no name, an unknown status word", "threats", unknown))
    allowed = variant(create, disposition_id=1, disposition="Allowed", action_id=1,
                      action="Allowed", status_detail="allowed")
    out.append(("threat: allowed by the user (still open)", "threats", allowed))

    failed = pick(records, "node.reports", outcome="failed")
    out.append(("node report: failed without a reason, not counted", "node.reports",
                variant(failed, reason=None, published=None)))
    ok_report = pick(records, "node.reports", outcome="succeeded")
    sparse = variant(ok_report, rack_id=None, last_scan=None,
                     warnings=["scans[2].end_time: time out of range: -1"])
    for k in list(sparse["health"]):
        if k != "issues":
            sparse["health"][k] = None
    sparse["health"]["issues"] = None
    out.append(("node report: a report that states nothing", "node.reports", sparse))

    tick = pick(records, "tickets", kind="threat", state="open")
    gone_t = variant(tick, state="resolved", resolution="gone from the report",
                     details__family=None, details__detection_time=None)
    out.append(("ticket: resolved, threat gone", "tickets", gone_t))
    nf = pick(records, "tickets", kind="node_failure", state="open")
    out.append(("ticket: node failure, other kind, no reason", "tickets", variant(
        nf, failure="DownloadExpired", severity="medium", details__reason=None, occurrences=2,
        details__rack_id=None)))

    st = pick(records, "findings.state", failure=None)
    st["threats"][0].update(tracking_id="", status="", status_key=None, detection=None)
    out.append(("state: a threat with no tracking id, status or times", "findings.state", st))
    return out


def mutations(records):
    """(what, topic, record, path an error must name)."""
    m = []

    def add(what, topic, rec, path):
        m.append((what, topic, rec, path))

    scan = pick(records, "scan.results", severity_id=1)
    low = pick(records, "scan.results", severity_id=2)
    T = "scan.results"
    add("missing class_uid", T, variant(scan, class_uid=DELETE), "$.class_uid")
    add("class_uid of the other class", T, variant(scan, class_uid=2004), "$.class_uid")
    add("time as RFC 3339 text", T, variant(scan, time="2024-09-24T07:07:00.755Z"), "$.time")
    add("time as a float", T, variant(scan, time=1727161620755.5), "$.time")
    add("start_time as a string of digits", T, variant(scan, start_time="1727161562000"),
        "$.start_time")
    add("an unknown top-level field", T, variant(scan, raw={}), "$.raw")
    add("an unknown member of unmapped", T, variant(scan, unmapped__subscription="x"),
        "$.unmapped.subscription")
    add("activity_id out of set", T, variant(scan, activity_id=4), "$.activity_id")
    add("activity_name not the caption", T, variant(scan, activity_name="Done"),
        "$.activity_name")
    add("status_id not the activity's", T, variant(scan, status_id=2, status="Failure"),
        "$.status_id")
    add("type_uid not class*100+activity", T, variant(scan, type_uid=600703), "$.type_uid")
    add("Other with a mapped word", T, variant(
        scan, activity_id=99, activity_name="succeeded", type_uid=600799,
        type_name="Scan Activity: Other", status_id=0, status="Unknown"), "$.activity_name")
    add("Unknown with a status_detail", T, variant(
        scan, activity_id=0, activity_name="Unknown", type_uid=600700,
        type_name="Scan Activity: Unknown", status_id=0, status="Unknown"), "$.status_detail")
    add("metadata.uid not a uuid", T, variant(scan, metadata__uid="404418ee-4ea3"),
        "$.metadata.uid")
    add("metadata.uid upper case", T, variant(
        scan, metadata__uid=scan["metadata"]["uid"].upper()), "$.metadata.uid")
    add("metadata.uid a v4 uuid", T, variant(
        scan, metadata__uid="404418ee-4ea3-43b6-a46f-2125e1157783"), "$.metadata.uid")
    add("correlation_uid not a uuid", T, variant(scan, metadata__correlation_uid="job-1"),
        "$.metadata.correlation_uid")
    add("log_name of another topic", T, variant(scan, metadata__log_name="threats"),
        "$.metadata.log_name")
    add("profiles of the other class", T, variant(
        scan, metadata__profiles=["cloud", "security_control"]), "$.metadata.profiles")
    add("metadata.version 1.3.0", T, variant(scan, metadata__version="1.3.0"),
        "$.metadata.version")
    add("Low without detections", T, variant(scan, severity_id=2, severity="Low"),
        "$.num_detections")
    add("Informational with detections", T, variant(low, severity_id=1,
                                                    severity="Informational"),
        "$.num_detections")
    add("device.hostname null", T, variant(scan, device__hostname=None), "$.device.hostname")
    add("device.uid not an ARM id", T, variant(scan, device__uid="rack2control01"),
        "$.device.uid")
    add("device.type_id 2", T, variant(scan, device__type_id=2), "$.device.type_id")
    add("observable of the wrong type", T, variant(scan, observables__0__type_id=10),
        "$.observables[0].type_id")
    add("agent_list empty", T, variant(scan, device__agent_list=[]), "$.device.agent_list")
    add("duration without start_time", T, variant(scan, start_time=DELETE), "$")
    add("num_files negative", T, variant(scan, num_files=-1), "$.num_files")
    add("timezone_offset 60", T, variant(scan, timezone_offset=60), "$.timezone_offset")
    add("cloud.provider AWS", T, variant(scan, cloud__provider="AWS"), "$.cloud.provider")
    add("scan.name without scan", T, variant(scan, scan__name="quick"), "$.scan.name")
    add("a record that is not an object", T, [scan], "$")

    create = pick(records, "threats", activity_id=1, status_id=1)
    close = pick(records, "threats", activity_id=3)
    T = "threats"
    add("activity_id 4 on a threat", T, variant(create, activity_id=4), "$.activity_id")
    add("class_uid of Scan Activity", T, variant(create, class_uid=6007), "$.class_uid")
    add("category_uid 6", T, variant(create, category_uid=6), "$.category_uid")
    add("missing finding_info.uid", T, variant(create, finding_info__uid=DELETE),
        "$.finding_info.uid")
    add("finding_info.uid not a uuid", T, variant(create, finding_info__uid="3f0d11ed"),
        "$.finding_info.uid")
    add("time as a string", T, variant(create, time="1727204784000"), "$.time")
    add("a Create with modified_time", T, variant(
        create, finding_info__modified_time=1727204784000), "$.finding_info.modified_time")
    add("a Close with created_time", T, variant(
        close, finding_info__created_time=1727204784000), "$.finding_info.created_time")
    add("a Close still New", T, variant(close, status_id=1, status="New"), "$.status_id")
    add("an Update New", T, variant(create, activity_id=2, activity_name="Update",
                                    type_uid=200402, type_name="Detection Finding: Update"),
        "$.status_id")
    add("status caption of another id", T, variant(create, status="Resolved"), "$.status")
    add("open but not an alert", T, variant(create, is_alert=False), "$.is_alert")
    add("open without remediation", T, variant(create, remediation=DELETE), "$.remediation")
    add("resolved with remediation", T, variant(close, remediation={"desc": "x"}),
        "$.remediation")
    add("quarantined but Observed", T, variant(close, action_id=3, action="Observed"),
        "$.action_id")
    add("detected but Denied", T, variant(create, action_id=2, action="Denied"), "$.action_id")
    add("quarantined but open", T, variant(create, disposition_id=3, disposition="Quarantined",
                                           action_id=2, action="Denied"), "$.status_id")
    add("disposition caption of another id", T, variant(create, disposition="Quarantined"),
        "$.disposition")
    add("disposition_id 2 (not one mdefleet writes)", T, variant(create, disposition_id=2),
        "$.disposition_id")
    add("classification caption of another id", T, variant(
        create, malware__0__classifications=["Trojan"]), "$.malware[0].classifications")
    add("classification_ids 12 (no such class)", T, variant(
        create, malware__0__classification_ids=[12]), "$.malware[0].classification_ids[0]")
    add("malware severity not the finding's", T, variant(
        create, malware__0__severity_id=5, malware__0__severity="Critical"),
        "$.malware[0].severity_id")
    add("two malware", T, variant(create, malware=create["malware"] * 2), "$.malware")
    add("severity caption of another id", T, variant(create, severity="Low"), "$.severity")
    add("severity_id 0", T, variant(create, severity_id=0), "$.severity_id")
    add("status_detail null", T, variant(create, status_detail=None), "$.status_detail")
    add("unmapped.tracking_id null", T, variant(create, unmapped__tracking_id=None),
        "$.unmapped.tracking_id")
    add("unmapped.scan_type on a threat", T, variant(create, unmapped__scan_type="quick"),
        "$.unmapped.scan_type")
    add("is_alert as a string", T, variant(create, is_alert="true"), "$.is_alert")
    add("last_seen_time as text", T, variant(
        create, finding_info__last_seen_time="2026-12-02T18:00:00Z"),
        "$.finding_info.last_seen_time")
    add("an unknown top-level field", T, variant(create, confidence=90), "$.confidence")

    ok_r = pick(records, "node.reports", outcome="succeeded")
    bad_r = pick(records, "node.reports", outcome="failed")
    T = "node.reports"
    add("outcome out of set", T, variant(ok_r, outcome="ok"), "$.outcome")
    add("missing health", T, variant(ok_r, health=DELETE), "$.health")
    add("succeeded with a failure", T, variant(ok_r, failure="TimeLimit"), "$.failure")
    add("succeeded with a reason", T, variant(ok_r, reason="x"), "$.reason")
    add("succeeded without health", T, variant(ok_r, health=None), "$.health")
    add("failed without a failure", T, variant(bad_r, failure=None), "$.failure")
    add("failure not a NodeFailure", T, variant(bad_r, failure="Crashed"), "$.failure")
    add("failed with health", T, variant(bad_r, health=ok_r["health"]), "$.health")
    add("failed with a last scan", T, variant(bad_r, last_scan=ok_r["last_scan"]),
        "$.last_scan")
    add("time as a string", T, variant(ok_r, time="1796234976846"), "$.time")
    add("definitions_updated as RFC 3339 text", T, variant(
        ok_r, health__definitions_updated="2024-09-24T07:00:00Z"),
        "$.health.definitions_updated")
    add("healthy as a word", T, variant(ok_r, health__healthy="yes"), "$.health.healthy")
    add("an unknown member of health", T, variant(ok_r, health__cloud_protection=True),
        "$.health.cloud_protection")
    add("health member missing", T, variant(ok_r, health__org_id=DELETE), "$.health.org_id")
    add("counts.scans negative", T, variant(ok_r, counts__scans=-1), "$.counts.scans")
    add("published member missing", T, variant(ok_r, published__tickets_resolved=DELETE),
        "$.published.tickets_resolved")
    add("last_scan.start_time as text", T, variant(
        ok_r, last_scan__start_time="2026-12-02T18:00:00Z"), "$.last_scan.start_time")
    add("event_id not a uuid", T, variant(ok_r, event_id="a376c451"), "$.event_id")
    add("node_id not an ARM id", T, variant(ok_r, node_id="rack2compute02"), "$.node_id")
    add("cluster_id a machine's id", T, variant(ok_r, cluster_id=ok_r["node_id"]),
        "$.cluster_id")
    add("job_id null", T, variant(ok_r, job_id=None), "$.job_id")
    add("hostname null", T, variant(ok_r, hostname=None), "$.hostname")
    add("warnings null", T, variant(ok_r, warnings=None), "$.warnings")
    add("a warning not a string", T, variant(ok_r, warnings=[1]), "$.warnings[0]")
    add("an unknown top-level field", T, variant(ok_r, mode="delta"), "$.mode")

    th = pick(records, "tickets", kind="threat", state="open")
    th_res = pick(records, "tickets", kind="threat", state="resolved")
    nf = pick(records, "tickets", kind="node_failure", state="open")
    nf_res = pick(records, "tickets", kind="node_failure", state="resolved")
    T = "tickets"
    add("state closed", T, variant(th, state="closed"), "$.state")
    add("kind out of set", T, variant(th, kind="incident"), "$.kind")
    add("missing dedupe_key", T, variant(th, dedupe_key=DELETE), "$.dedupe_key")
    add("dedupe_key not a uuid", T, variant(th, dedupe_key="8e8d3c6e-07cb-5169-9a5d"),
        "$.dedupe_key")
    add("open with a resolution", T, variant(th, resolution="remediated (removed)"),
        "$.resolution")
    add("resolved without a resolution", T, variant(th_res, resolution=None), "$.resolution")
    add("a threat resolved as scanned successfully", T, variant(
        th_res, resolution="scanned successfully"), "$.resolution")
    add("a node failure resolved as remediated", T, variant(
        nf_res, resolution="remediated (removed)"), "$.resolution")
    add("threat without finding_uid", T, variant(th, finding_uid=None), "$.finding_uid")
    add("node failure with a finding_uid", T, variant(nf, finding_uid=th["finding_uid"]),
        "$.finding_uid")
    add("threat with a failure", T, variant(th, failure="TimeLimit"), "$.failure")
    add("node failure without a failure", T, variant(nf, failure=None), "$.failure")
    add("node failure of an unknown kind", T, variant(nf, failure="Crash"), "$.failure")
    add("node failure with threat details", T, variant(nf, details__threat="x"),
        "$.details.threat")
    add("threat details without tracking_id", T, variant(th, details__tracking_id=DELETE),
        "$.details.tracking_id")
    add("details.detection_time as text", T, variant(
        th, details__detection_time="2024-09-24T19:06:24Z"), "$.details.detection_time")
    add("severity in upper case", T, variant(th, severity="HIGH"), "$.severity")
    add("AgentNotRunning not high", T, variant(nf, severity="medium"), "$.severity")
    add("TimeLimit not medium", T, variant(nf, failure="TimeLimit", severity="high"),
        "$.severity")
    add("first_seen as a string", T, variant(th, first_seen="1727204784000"), "$.first_seen")
    add("occurrences negative", T, variant(th, occurrences=-1), "$.occurrences")
    add("hostname null", T, variant(th, hostname=None), "$.hostname")
    add("summary null", T, variant(th, summary=None), "$.summary")
    add("event_id not a uuid", T, variant(th, event_id=""), "$.event_id")
    add("an unknown top-level field", T, variant(th, priority=1), "$.priority")

    st = pick(records, "findings.state", failure=None)
    st_f = pick(records, "findings.state", threats=[])
    T = "findings.state"
    add("another version", T, variant(st, v=2), "$.v")
    add("a scan that is not an event id", T, variant(st, scans__0="scan-1"), "$.scans[0]")
    add("open as a word", T, variant(st, threats__0__open="yes"), "$.threats[0].open")
    add("a threat status null", T, variant(st, threats__0__status=None), "$.threats[0].status")
    add("a tracking id past its cut", T, variant(st, threats__0__tracking_id="x" * 80),
        "$.threats[0].tracking_id")
    add("a threat without uid", T, variant(st, threats__0__uid=DELETE), "$.threats[0].uid")
    add("an unknown member of a threat", T, variant(st, threats__0__severity=4),
        "$.threats[0].severity")
    add("a threat's first_seen as text", T, variant(
        st, threats__0__first_seen="2024-09-24T19:06:24Z"), "$.threats[0].first_seen")
    add("failure of an unknown kind", T, variant(st_f, failure__kind="Crash"),
        "$.failure.kind")
    add("failure without reason", T, variant(st_f, failure__reason=DELETE), "$.failure.reason")
    add("failure.reason null", T, variant(st_f, failure__reason=None), "$.failure.reason")
    add("missing dropped", T, variant(st, dropped=DELETE), "$.dropped")
    add("dropped negative", T, variant(st, dropped=-1), "$.dropped")
    add("time as a string", T, variant(st, time="1796234976846"), "$.time")
    add("node_id null", T, variant(st, node_id=None), "$.node_id")
    add("an unknown top-level field", T, variant(st, mode="delta"), "$.mode")
    return m


def named(errs, path):
    """An error line is about path itself (not a path that merely starts
    with the same letters)."""
    return any(e.startswith(path + ":") for e in errs)


def check_variants(v, records):
    for what, topic, rec in good_variants(records):
        e = jsc.errors(v, topic, rec)
        ok(not e, "accepted: %s" % what, e)
    topics_seen = set()
    for what, topic, rec, path in mutations(records):
        e = jsc.errors(v, topic, rec)
        if ok(bool(e), "%s: rejected: %s" % (topic, what)):
            ok(named(e, path), "%s: %s: an error names %s" % (topic, what, path), e)
        topics_seen.add(topic)
    ok(topics_seen == set(TOPICS), "mutations for every topic", sorted(topics_seen))


# ---- the command ---------------------------------------------------------------------------


def check_cli(schemas_dir, records_dir):
    tool = os.path.join(HERE, "json_schema_check.py")

    def run(*args):
        p = subprocess.run([sys.executable, tool] + list(args), capture_output=True, text=True)
        return p.returncode, p.stdout.splitlines(), p.stderr

    for t in TOPICS:
        rc, out, err = run(schemas_dir, t, os.path.join(records_dir, t + ".jsonl"))
        ok(rc == 0 and not out, "command: %s records pass" % t, out + [err])
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(records_dir, "tickets.jsonl"), encoding="utf-8") as f:
            good = json.loads(f.readline())
        bad = variant(good, state="closed", occurrences="1")
        path = os.path.join(d, "t.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n{not json\n")
        rc, out, err = run(schemas_dir, "tickets", path)
        ok(rc == 1 and len(out) == 2, "command: exit 1, one line per bad record", out + [err])
        ok(len(out) == 2 and out[0].startswith(path + ":3: $.occurrences: ")
           and out[0].endswith("[+1 more]"),
           "command: FILE:LINE: path: message", out)
        ok(len(out) == 2 and out[1].startswith(path + ":4: $: not JSON"),
           "command: a line that is not JSON", out)
        rc, out, err = run("--all", schemas_dir, "tickets", path)
        ok(rc == 1 and any(":3: $.state: " in x for x in out) and len(out) == 3,
           "command --all: every problem", out)
        rc, out, err = run(schemas_dir, "job.status", path)
        ok(rc == 2 and "no schema" in err, "command: an unknown topic is a usage error", [err])
        rc, out, err = run(d, "tickets", path)
        ok(rc == 2 and "no schema for" in err, "command: a directory without schemas", [err])
        rc, out, err = run(schemas_dir, "tickets")
        ok(rc == 2 and "usage" in err, "command: usage", [err])


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: json_schema_test.py SCHEMAS_DIR RECORDS_DIR\n")
        return 2
    schemas_dir, records_dir = sys.argv[1], sys.argv[2]
    v, _ = check_schemas(schemas_dir)
    check_load_refuses(schemas_dir)
    records = read_records(records_dir)
    if v is not None and all(records.values()):
        check_records(v, records)
        check_ocsf(records)
        check_ids(records)
        check_variants(v, records)
        check_cli(schemas_dir, records_dir)
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
