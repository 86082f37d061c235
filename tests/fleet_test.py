#!/usr/bin/python3
"""The fleet end to end on the embedded stack: mdefleet-broker, mdefleet-sim
and mdefleet-worker processes, driven by mdefleet-producer and kcat, checked
with python3-kafka (an independent Kafka client), the project's OCSF checker
(tests/ocsf, from the compiled OCSF 1.8.0 schema) and the topics' JSON
Schemas (schemas/json, with python3-jsonschema).

usage: fleet_test.py BUILD_BIN_DIR SOURCE_DIR
"""
import collections
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from kafka import KafkaConsumer, TopicPartition

BIN, SRC = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SRC, "tests", "ocsf"))
sys.path.insert(0, os.path.join(SRC, "tests"))
import ocsf_check  # noqa: E402
import json_schema_check  # noqa: E402

OCSF = ocsf_check.load_schema(os.path.join(SRC, "tests", "data", "ocsf", "ocsf-1.8.0-subset.json"))
SCHEMAS = json_schema_check.load(os.path.join(SRC, "schemas", "json"))
SUB = "00000000-0000-0000-0000-000000000000"
RG, CLUSTER = "contoso-cluster-rg", "contoso-cluster"
SECRET = "demo-secret"
TOPICS = ["enforcement.requests", "scan.jobs", "node.tasks", "job.status", "scan.results",
          "threats", "node.reports", "tickets", "dlq", "findings.state"]
JSON_TOPICS = ["scan.results", "threats", "node.reports", "tickets"]
REMEDIATED = {"quarantined", "removed", "cleaned", "remediated"}

failures = []
passes = 0


def check(name, cond, detail=""):
    global passes
    if cond:
        passes += 1
    else:
        failures.append(name)
        print(f"FAIL: {name} {detail}", file=sys.stderr)


class Timeout(Exception):
    """A wait ran out; the message names what it waited for."""


def wait_until(cond, timeout, what, step=0.2):
    """Polls cond() until it is true; raises Timeout naming what it waited for."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() >= deadline:
            raise Timeout(f"waited {timeout} s for {what}")
        time.sleep(step)


def wait_file(path, timeout):
    def first_line():
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                return f.readline().strip()
        return None
    return wait_until(first_line, timeout, f"a line in {path}", 0.1)


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    """In each child: SIGKILL when this test dies, however it dies (prctl
    PR_SET_PDEATHSIG), so that no broker, simulator or worker outlives it."""
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Stack:
    """Broker, simulator and workers; every process stopped by its PID."""

    def __init__(self, scenario, workers=3, extra_conf="", control=False):
        self.dir = tempfile.mkdtemp(prefix="mdf-fleet-")
        self.failures_before = len(failures)
        self.procs = []
        self.workers = []
        boot = os.path.join(self.dir, "bootstrap")
        argv = [f"{BIN}/mdefleet-broker", "--bootstrap-file", boot,
                "--topics", f"{SRC}/config/topics"]
        # --control: fault commands on its stdin, answers on its stdout
        self.broker = self.spawn("broker", argv + ["--control"] if control else argv,
                                 control=control)
        self.brokers = wait_file(boot, 30)
        simout = os.path.join(self.dir, "sim.out")
        self.spawn("sim", [f"{BIN}/mdefleet-sim", "--scenario", scenario, "--port", "0"],
                   stdout=simout)
        self.azure = wait_file(simout, 30)
        self.conf = os.path.join(self.dir, "mdefleet.conf")
        with open(self.conf, "w") as f:
            f.write(f"kafka.bootstrap.servers={self.brokers}\n"
                    f"arm.endpoint={self.azure}\nhttp.allow_loopback=true\n"
                    f"blob.allowed_hosts=127.0.0.1\n{extra_conf}")
        self.env = dict(os.environ, AZURE_TENANT_ID="11111111-1111-1111-1111-111111111111",
                        AZURE_CLIENT_ID="demo-client", AZURE_CLIENT_SECRET=SECRET,
                        AZURE_AUTHORITY_HOST=self.azure)
        for i in range(workers):
            # a short session: a dead worker's partitions move within seconds
            self.workers.append(self.spawn(f"worker{i}", [f"{BIN}/mdefleet-worker", "--config",
                                                          self.conf, "--set",
                                                          "kafka.session.timeout.ms=6000"]))
        self.wait_group(workers)

    def wait_group(self, n, partitions=30, timeout=90):
        """Until the n workers share every partition with no rebalance under
        way: a request published during the group's first rebalances could be
        taken twice (at least once), which the exact counts below would see."""
        if n == 0:
            return
        def settled():
            total, done = 0, 0
            for i in range(n):
                last = None
                with open(os.path.join(self.dir, f"worker{i}.err"), errors="replace") as f:
                    for line in f:
                        if " partitions" in line and ("assigned " in line or "revoked " in line):
                            last = line
                if last and "assigned " in last:
                    done += 1
                    total += int(last.split("assigned ")[1].split()[0])
            return done == n and total == partitions
        wait_until(settled, timeout, f"the {n} workers' group to settle on {partitions} partitions")

    def spawn(self, name, argv, stdout=None, control=False):
        out = subprocess.PIPE if control else open(stdout or os.path.join(self.dir, name + ".log"),
                                                   "w")
        err = open(os.path.join(self.dir, name + ".err"), "w")
        # bufsize=0: the control answers are read with select() and readline();
        # a buffered reader would take "ok" in with the bootstrap line, and the
        # next select() would wait for an answer that already came
        p = subprocess.Popen(argv, stdout=out, stderr=err, env=getattr(self, "env", None),
                             stdin=subprocess.PIPE if control else None, bufsize=0,
                             preexec_fn=_die_with_parent)
        self.procs.append(p)
        return p

    def broker_cmd(self, cmd, timeout=30):
        """A --control command; its one-line answer must be "ok". Each partition's
        leader change is a round trip to the mock cluster's thread, which three
        workers keep busy. (A 10 s wait ran out once under stress-ng; the
        buffered read that spawn() no longer does may have been why.)"""
        self.broker.stdin.write((cmd + "\n").encode())
        self.broker.stdin.flush()
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.broker.stdout], [], [], left)[0]:
                raise Timeout(f"waited {timeout} s for the broker's answer to: {cmd}")
            line = self.broker.stdout.readline().decode().strip()
            if line == "ok" or line.startswith("error"):
                check(f"broker: {cmd}", line == "ok", line)
                return
            # the bootstrap list, printed once at the start

    def producer(self, args, timeout=300):
        return subprocess.run([f"{BIN}/mdefleet-producer", "--config", self.conf] + args,
                              capture_output=True, text=True, timeout=timeout, env=self.env)

    def stop(self):
        """Workers first (they leave the group through the broker), then the rest."""
        others = [p for p in self.procs if p not in self.workers]
        for group in (self.workers, others):
            for p in group:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in group:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)

    def remove(self):
        """Removes the stack's folder, or keeps it (and says where) when a
        check failed or an exception is on its way: the logs are the
        evidence."""
        if len(failures) > self.failures_before or sys.exc_info()[0] is not None:
            print(f"logs kept in {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def sim_stats(self):
        """The simulator's /_admin/stats."""
        with urllib.request.urlopen(self.azure + "/_admin/stats", timeout=10) as r:
            return json.load(r)

    def logs(self):
        text = ""
        for name in sorted(os.listdir(self.dir)):
            if name.endswith((".log", ".err")):
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += f.read()
        return text

    def read(self, topic):
        """Every record of mde.<topic>: (headers dict, value bytes)."""
        return [(m["headers"], m["value"]) for m in self.read_full(topic)]

    def read_full(self, topic):
        """Every record of mde.<topic>: dicts of headers, value, key, partition, offset."""
        c = KafkaConsumer(bootstrap_servers=self.brokers, enable_auto_commit=False,
                          consumer_timeout_ms=3000)
        try:
            parts = [TopicPartition("mde." + topic, p)
                     for p in (c.partitions_for_topic("mde." + topic) or [])]
            c.assign(parts)
            c.seek_to_beginning(*parts)
            end = c.end_offsets(parts)
            out = []
            deadline = time.time() + 30
            while any(c.position(p) < end[p] for p in parts):
                if time.time() >= deadline:
                    raise Timeout(f"waited 30 s to read mde.{topic} to its end")
                for recs in c.poll(timeout_ms=500).values():
                    for m in recs:
                        out.append({"headers": {k: v.decode() for k, v in m.headers},
                                    "value": m.value, "key": m.key, "partition": m.partition,
                                    "offset": m.offset})
            return out
        finally:
            c.close()


def jsons(records, job):
    return [json.loads(v) for h, v in records if h.get("correlation-id") == job]


def check_contracts(st, job, what):
    """Every JSON record of the job validates against its topic's JSON
    Schema, and every OCSF record passes the OCSF checker with no error."""
    n_ocsf = n_json = 0
    for topic in JSON_TOPICS:
        for rec in jsons(st.read(topic), job):
            errs = json_schema_check.errors(SCHEMAS, topic, rec)
            check(f"{what}: {topic} record matches schemas/json", not errs, errs[:5])
            n_json += 1
            if topic in ("scan.results", "threats"):
                errs = ocsf_check.check(OCSF, rec)
                check(f"{what}: {topic} record is valid OCSF 1.8.0", not errs, errs[:5])
                n_ocsf += 1
    check(f"{what}: records checked ({n_json} JSON, {n_ocsf} OCSF)", n_json > 0 and n_ocsf > 0)
    print(f"{what}: {n_json} JSON records against their schemas, {n_ocsf} through the OCSF checker")


def check_state(st, job, nodes_ok):
    """findings.state: for every node task of the job, the node's state in
    the same partition under the same key (co-partitioned), valid."""
    tasks = [m for m in st.read_full("node.tasks") if m["headers"].get("correlation-id") == job]
    states = {}
    for m in st.read_full("findings.state"):
        states[(m["partition"], m["key"])] = m  # the latest per key, as compaction keeps
    check("node.tasks: one per node", len(tasks) == nodes_ok, len(tasks))
    for t in tasks:
        s = states.get((t["partition"], t["key"]))
        check("findings.state: the node's state in its task's partition, same key",
              s is not None, (t["partition"], t["key"]))
        if s:
            v = json.loads(s["value"])
            errs = json_schema_check.errors(SCHEMAS, "findings.state", v)
            check("findings.state record matches its schema", not errs, errs[:5])
            check("findings.state names its job and node", v.get("job_id") == job
                  and v.get("node_id", "").encode() == t["key"], v.get("job_id"))


FAILURE_OF_FAULTS = {"agent_not_running": "AgentNotRunning", "252": "TimeLimit"}


def failure_of(faults):
    """The NodeFailure the simulator's faults cause (None: the node scans)."""
    if faults.get("agent_not_running"):
        return "AgentNotRunning"
    if faults.get("exit_code"):
        return FAILURE_OF_FAULTS.get(faults["exit_code"], "OperationFailed")
    return None


def expected_second_job(nodes):
    """What the job after POST /_admin/next-phase publishes, from the
    scenario alone: (scans per host, findings, tickets) where findings are
    (activity, title, host) and tickets (state, kind, host), each sorted."""
    scans, findings, tickets = {}, [], []
    for n in nodes:
        host, nxt = n["name"], n.get("next") or {}
        f1 = failure_of(n.get("faults") or {})
        f2 = failure_of(nxt["faults"] if "faults" in nxt else (n.get("faults") or {}))
        if f2:
            if not f1:
                tickets.append(("open", "node_failure", host))
            elif f1 != f2:
                tickets.append(("open", "node_failure", host))  # the same ticket, updated
            continue
        rep1 = n.get("report", {})
        rep2 = dict(rep1, **nxt.get("report", {}))
        # scanRuntime adds one scan per job; a node whose agent was down
        # has its report's scans and the second job's
        scans[host] = len(rep2.get("scans", [])) + 1 if f1 else 1
        if f1:
            tickets.append(("resolved", "node_failure", host))
        prev = {} if f1 else {(t["name"], t["detected"]): t.get("status", ["detected"])[-1]
                              for t in rep1.get("threats", [])}
        cur = {(t["name"], t["detected"]): t.get("status", ["detected"])[-1]
               for t in rep2.get("threats", [])}
        for k, status in cur.items():
            done = status in REMEDIATED
            if k not in prev:
                findings.append(("Create", k[0], host))
                if not done:
                    tickets.append(("open", "threat", host))
            elif prev[k] != status:
                was_open = prev[k] not in REMEDIATED
                findings.append(("Close" if was_open and done else "Update", k[0], host))
                if was_open and done:
                    tickets.append(("resolved", "threat", host))
                elif not done:
                    tickets.append(("open", "threat", host))
        for k, status in prev.items():
            if k not in cur and status not in REMEDIATED:
                findings.append(("Close", k[0], host))
                tickets.append(("resolved", "threat", host))
    return scans, sorted(findings), sorted(tickets)


# ---- 1. the demo scenario: exactly the expected records per topic ------------------
def demo_test():
    scenario = f"{SRC}/config/sim/demo.json"
    spec = json.load(open(scenario))
    nodes = spec["clusters"][0]["nodes"]
    st = Stack(scenario)
    try:
        r = st.producer(["enforce", "--subscription", SUB, "--resource-group", RG,
                         "--cluster", CLUSTER, "--level", "RealTime", "--wait", "--timeout", "120"])
        check("enforce --wait exit 0", r.returncode == 0, r.stderr)
        r = st.producer(["scan", "--subscription", SUB, "--resource-group", RG,
                         "--cluster", CLUSTER, "--wait", "--timeout", "300"])
        failing = [n for n in nodes if (n.get("faults") or {}).get("agent_not_running")
                   or (n.get("faults") or {}).get("exit_code")]
        check("scan --wait exit 3 (partly succeeded)", r.returncode == 3, r.stdout + r.stderr)
        job = r.stdout.split()[0] if r.stdout else ""
        check("job id printed", len(job) == 36 and uuid.UUID(job).version == 4, r.stdout)

        ok_nodes = [n for n in nodes if n not in failing]
        # the simulator adds the scan that scanRuntime ran to each reachable node's report
        exp_scans = sum(len(n.get("report", {}).get("scans", [])) + 1 for n in ok_nodes)
        exp_threats = sum(len(n.get("report", {}).get("threats", [])) for n in ok_nodes)
        open_threats = sum(1 for n in ok_nodes for t in n.get("report", {}).get("threats", [])
                           if t["status"][-1] not in REMEDIATED)

        # the terminal status came through; the result records it followed
        # were acknowledged, and may still be on their way to a reader
        wait_until(lambda: len(jsons(st.read("node.reports"), job)) >= len(nodes)
                   and len(jsons(st.read("scan.results"), job)) >= exp_scans, 30,
                   "the job's node reports and scan results")
        reports = jsons(st.read("node.reports"), job)
        scans = jsons(st.read("scan.results"), job)
        threats = jsons(st.read("threats"), job)
        tickets = jsons(st.read("tickets"), job)
        check("node.reports: one per node", len(reports) == len(nodes), len(reports))
        check("node.reports: failed nodes", sorted(x["node"] for x in reports
                                                   if x["outcome"] == "failed")
              == sorted(n["name"] for n in failing), reports)
        check("scan.results count", len(scans) == exp_scans, f"{len(scans)} != {exp_scans}")
        check("threats count", len(threats) == exp_threats, f"{len(threats)} != {exp_threats}")
        check("tickets: open threats + failed nodes",
              len(tickets) == open_threats + len(failing), len(tickets))
        check("dlq empty", len(st.read("dlq")) == 0)

        # customer storage: every reachable node's archive read with a
        # storage token; no token of the wrong audience, none on a SAS
        stats = st.sim_stats()
        check("customer storage: one storage-token download per scanned node",
              sum(stats["requests"].get("blob.customer", {}).get(s, 0) for s in ("200", "206"))
              == len(ok_nodes), stats["requests"])
        check("customer storage: no SAS download", "blob.get" not in stats["requests"],
              stats["requests"])
        check("no token presented to the wrong audience", stats["wrong_audience"] == 0, stats)
        check("no Authorization header on a SAS download", stats["authorization_on_sas"] == 0,
              stats)
        planned = [d for d in status_records(st, job) if d["kind"] == "Planned"]
        check("Planned says customer storage, account and container",
              planned and planned[0]["output"] == {
                  "mode": "CustomerStorage", "account": "contosoout",
                  "container": "bmm-run-output",
                  "identity": planned[0]["output"]["identity"]}
              and planned[0]["output"]["identity"].startswith("UserAssignedIdentity /subscriptions/")
              and planned[0]["scan_action"]["status"] == "Completed", planned)

        # OCSF, read by an independent client: valid by the checker (below),
        # and saying what the scenario holds
        machine_names = {n["name"] for n in nodes}
        for sc in scans:
            ok = (sc["class_uid"] == 6007 and sc["scan"]["type"] == "Manual"
                  and sc["unmapped"]["scan_type"] in ("quick", "full")
                  and sc["device"]["hostname"] in machine_names
                  and sc["device"]["agent_list"][0]["uid"]
                  and sc["cloud"]["account"]["uid"] == SUB
                  and sc["unmapped"]["cluster_resource_id"].endswith("/clusters/" + CLUSTER)
                  and "/bareMetalMachines/" in sc["device"]["uid"])
            check("scan result says the scan, the node, its agent and subscription", ok, sc)
        for t in threats:
            ok = (t["class_uid"] == 2004 and t["activity_name"] == "Create"
                  and t["finding_info"]["uid"] and t["malware"][0]["name"] == t["finding_info"]["title"]
                  and t["status"] in ("New", "Resolved") and t["device"]["hostname"] in machine_names
                  and t["device"]["agent_list"][0]["uid"])
            check("threat: a Create of the node's finding with its agent", ok, t)
        eicar = [t for t in threats if "EICAR" in t["finding_info"]["title"]]
        check("EICAR quarantined -> Resolved", eicar and eicar[0]["status"] == "Resolved", eicar)
        kinds = sorted(t["kind"] for t in tickets)
        check("ticket kinds", kinds == sorted(["threat"] * open_threats + ["node_failure"] * len(failing)),
              kinds)
        check("tickets all open", {t["state"] for t in tickets} == {"open"}, tickets)
        check("ticket dedupe keys unique", len({t["dedupe_key"] for t in tickets}) == len(tickets))
        for m in st.read_full("tickets"):
            if m["headers"].get("correlation-id") == job:
                check("ticket keyed by its dedupe_key",
                      m["key"] == json.loads(m["value"])["dedupe_key"].encode(), m["key"])
        check_contracts(st, job, "job 1")
        check_state(st, job, len(nodes))

        # the scenario changes; the next job publishes only the changes
        second_job(st, nodes, job, threats, tickets)

        # every record carries its headers
        for topic in ("scan.results", "threats", "node.reports", "tickets", "job.status"):
            for h, v in st.read(topic):
                if h.get("correlation-id") != job:
                    continue
                check(f"{topic} headers", h.get("content-type") and h.get("event-id")
                      and uuid.UUID(h["event-id"]), h)

        # job status: accepted, planned, one outcome per node, one terminal
        kinds = status_kinds(st, job)
        check("job.status: Accepted, Planned, 12 outcomes, 1 Terminal",
              kinds == {"Accepted": 1, "Planned": 1, "NodeOutcome": len(nodes), "Terminal": 1},
              kinds)

        # a malformed record goes to the DLQ and the worker carries on
        subprocess.run(["kcat", "-P", "-b", st.brokers, "-t", "mde.scan.jobs", "-k", "junk"],
                       input=b"\xc3\x01not avro at all", timeout=30, check=True)
        # a scan job published by hand as JSON with kcat is processed
        job2 = str(uuid.uuid4())
        rec = {"job_id": job2, "requested_at": int(time.time() * 1000), "subscription_id": SUB,
               "resource_group": RG, "cluster": CLUSTER, "nodes": ["rack1compute01"]}
        subprocess.run(["kcat", "-P", "-b", st.brokers, "-t", "mde.scan.jobs", "-k", "kcat"],
                       input=json.dumps(rec).encode(), timeout=30, check=True)
        wait_until(lambda: status_kinds(st, job2).get("Terminal") == 1, 120,
                   "the terminal status of the job published with kcat", 1)
        dlq = st.read("dlq")
        check("malformed record in the DLQ", len(dlq) == 1, len(dlq))
        if dlq:
            check("DLQ record is Avro with the reason and the bytes",
                  dlq[0][1][:2] == b"\xc3\x01" and b"not avro at all" in dlq[0][1], dlq[0])

        # secrets: not in any record, not in any log line
        for topic in TOPICS:
            for h, v in st.read(topic):
                check(f"no secret in {topic}", SECRET.encode() not in v and b"sig=" not in v)
        logs = st.logs()
        check("no client secret in logs", SECRET not in logs)
        check("no SAS signature in logs", "sig=" not in logs)
    finally:
        st.stop()
        st.remove()
        for i, w in enumerate(st.workers):
            check(f"worker {i} exits 0 on SIGTERM", w.returncode == 0, w.returncode)


def second_job(st, nodes, job1, threats1, tickets1):
    with urllib.request.urlopen(urllib.request.Request(st.azure + "/_admin/next-phase",
                                                       method="POST"), timeout=10) as r:
        phase = json.load(r)
    check("next-phase changes the scenario", phase.get("phase") == 1
          and phase.get("nodes_changed", 0) > 0, phase)
    r = st.producer(["scan", "--subscription", SUB, "--resource-group", RG,
                     "--cluster", CLUSTER, "--wait", "--timeout", "300"])
    job = r.stdout.split()[0] if r.stdout else ""
    check("job 2: scan --wait ends", r.returncode in (0, 3) and len(job) == 36, r.stdout + r.stderr)
    exp_scans, exp_findings, exp_tickets = expected_second_job(nodes)
    wait_until(lambda: len(jsons(st.read("node.reports"), job)) >= len(nodes)
               and len(jsons(st.read("scan.results"), job)) >= sum(exp_scans.values()), 30,
               "job 2's node reports and scan results")
    scans = jsons(st.read("scan.results"), job)
    threats = jsons(st.read("threats"), job)
    tickets = jsons(st.read("tickets"), job)
    got_scans = collections.Counter(x["device"]["hostname"] for x in scans)
    check("job 2: only the new scans, per node", dict(got_scans) == exp_scans,
          (dict(got_scans), exp_scans))
    got = sorted((t["activity_name"], t["finding_info"]["title"], t["device"]["hostname"])
                 for t in threats)
    check("job 2: exactly the findings created, updated and closed", got == exp_findings,
          (got, exp_findings))
    got = sorted((t["state"], t["kind"], t["hostname"]) for t in tickets)
    check("job 2: exactly the tickets opened and resolved", got == exp_tickets, (got, exp_tickets))
    check("job 2: at least one finding closed and one ticket resolved",
          any(f[0] == "Close" for f in exp_findings)
          and any(t[0] == "resolved" for t in exp_tickets), (exp_findings, exp_tickets))
    # a finding keeps its uid across its activities, a ticket its key
    uid1 = {(t["finding_info"]["title"], t["device"]["hostname"]): t["finding_info"]["uid"]
            for t in threats1}
    for t in threats:
        k = (t["finding_info"]["title"], t["device"]["hostname"])
        if t["activity_name"] != "Create":
            check("job 2: a closed finding has the uid it was created with",
                  uid1.get(k) == t["finding_info"]["uid"], (k, uid1.get(k)))
            check("job 2: the change's own time (the history key) and first seen",
                  t["time"] >= t["finding_info"]["first_seen_time"], t)
        check("job 2: a closed finding is Resolved, a new one New",
              t["status"] == ("New" if t["activity_name"] == "Create" else "Resolved"), t)
    keys1 = {(t["kind"], t["hostname"]): t["dedupe_key"] for t in tickets1}
    for t in tickets:
        if t["state"] == "resolved":
            check("job 2: a ticket resolves under the key it opened with",
                  keys1.get((t["kind"], t["hostname"])) == t["dedupe_key"], t)
            check("job 2: a resolved ticket says why", t["resolution"], t)
    reports = jsons(st.read("node.reports"), job)
    check("job 2: node.reports one per node", len(reports) == len(nodes), len(reports))
    check_contracts(st, job, "job 2")
    check_state(st, job, len(nodes))


def status_records(st, job):
    """Every JobStatus of a job, decoded with codec_tool."""
    out = []
    for h, v in st.read("job.status"):
        if h.get("correlation-id") != job:
            continue
        r = subprocess.run([CODEC_TOOL, "decode", "JobStatus"], input=v, capture_output=True,
                           timeout=10)
        if r.returncode == 0:
            out.append(json.loads(r.stdout))
    return out


def status_kinds(st, job):
    """Counts JobStatus kinds of a job, decoding Avro with codec_tool."""
    kinds = {}
    for h, v in st.read("job.status"):
        if h.get("correlation-id") != job:
            continue
        r = subprocess.run([CODEC_TOOL, "decode", "JobStatus"], input=v, capture_output=True,
                           timeout=10)
        if r.returncode != 0:
            kinds["undecodable"] = kinds.get("undecodable", 0) + 1
            continue
        k = json.loads(r.stdout)["kind"]
        kinds[k] = kinds.get(k, 0) + 1
    return kinds


# ---- 2. a worker killed with SIGKILL in the middle of a job ---------------------------
def kill_test():
    spec = json.load(open(f"{SRC}/config/sim/demo.json"))
    spec["clusters"][0]["enforcement_level"] = "RealTime"
    spec["durations"]["extract_seconds"] = 150  # 3 s each at the demo's time scale
    # the deprecated Cluster Manager storage (SAS URLs) stays covered here
    spec["clusters"][0]["command_output"] = {"mode": "cluster_manager"}
    path = tempfile.mktemp(suffix=".json")
    json.dump(spec, open(path, "w"))
    nodes = [n["name"] for n in spec["clusters"][0]["nodes"]]
    st = Stack(path, workers=3, extra_conf="worker.max_inflight=2\n")
    try:
        r = st.producer(["scan", "--subscription", SUB, "--resource-group", RG,
                         "--cluster", CLUSTER])
        check("scan published", r.returncode == 0, r.stderr)
        job = r.stdout.split()[0]
        wait_until(lambda: status_kinds(st, job).get("NodeOutcome", 0) >= 2, 120,
                   "2 node outcomes before the SIGKILL", 0.5)
        victim = st.workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        wait_until(lambda: status_kinds(st, job).get("Terminal", 0) >= 1, 240,
                   "the terminal status after the SIGKILL", 1)
        outcome_ids, terminal_ids, terminal_statuses = {}, set(), set()
        for h, v in st.read("job.status"):
            if h.get("correlation-id") != job:
                continue
            d = json.loads(subprocess.run([CODEC_TOOL, "decode", "JobStatus"], input=v,
                                          capture_output=True, timeout=10).stdout)
            if d["kind"] == "NodeOutcome":
                outcome_ids.setdefault(d["node_outcome"]["node"], set()).add(h["event-id"])
            if d["kind"] == "Terminal":
                terminal_ids.add(h["event-id"])
                terminal_statuses.add(d["status"])
        check("after SIGKILL: every node has an outcome", sorted(outcome_ids) == sorted(nodes),
              sorted(outcome_ids))
        stats = st.sim_stats()
        check("cluster-manager storage: archives read by their SAS, with no token",
              stats["requests"].get("blob.get", {}).get("200", 0) > 0
              and "blob.customer" not in stats["requests"]
              and stats["authorization_on_sas"] == 0 and stats["wrong_audience"] == 0, stats)
        check("after SIGKILL: duplicates carry the same event id",
              all(len(ids) == 1 for ids in outcome_ids.values()), outcome_ids)
        check("after SIGKILL: the job ends with one terminal status", len(terminal_ids) == 1,
              terminal_ids)
        # a copy of the terminal status (same event id) must also say the same
        check("after SIGKILL: every terminal record says the same",
              terminal_statuses == {"PartiallySucceeded"}, terminal_statuses)
        for topic, key in (("scan.results", lambda d: (d["device"]["name"], d.get("start_time"))),
                           ("threats", lambda d: (d["finding_info"]["uid"], d["activity_id"])),
                           ("tickets", lambda d: (d["dedupe_key"], d["state"])),
                           ("node.reports", lambda d: d["node"])):
            ids = {}
            for h, v in st.read(topic):
                if h.get("correlation-id") == job:
                    ids.setdefault(key(json.loads(v)), set()).add(h["event-id"])
            check(f"after SIGKILL: {topic} duplicates share event ids",
                  all(len(s) == 1 for s in ids.values()), ids)
    finally:
        st.stop()
        st.remove()
        os.unlink(path)


# ---- 3. SIGKILL between a node's results and its state ---------------------------
def state_crash_test():
    """The state topic has no leader, so the workers' state writes wait;
    the job's results are all acknowledged; the worker is killed. A new
    worker redoes the tasks from the state before: the same records under
    the same event ids, nothing missing, and then the state."""
    spec = json.load(open(f"{SRC}/config/sim/demo.json"))
    spec["clusters"][0]["enforcement_level"] = "RealTime"
    path = tempfile.mktemp(suffix=".json")
    json.dump(spec, open(path, "w"))
    nodes = spec["clusters"][0]["nodes"]
    st = Stack(path, workers=1, control=True)
    try:
        st.broker_cmd("leader mde.findings.state * -1")
        r = st.producer(["scan", "--subscription", SUB, "--resource-group", RG,
                         "--cluster", CLUSTER, "--wait", "--timeout", "300"])
        job = r.stdout.split()[0] if r.stdout else ""
        check("crash: the job ends while no state can be written", r.returncode == 3,
              r.stdout + r.stderr)

        def ids(topic):
            return collections.Counter(m["headers"]["event-id"] for m in st.read_full(topic)
                                       if m["headers"].get("correlation-id") == job)
        wait_until(lambda: len(ids("node.reports")) == len(nodes), 30,
                   "the node reports of the job before the SIGKILL")
        first = {t: ids(t) for t in JSON_TOPICS}
        check("crash: each record once before the SIGKILL",
              all(c and max(c.values()) == 1 for c in first.values()),
              {t: len(c) for t, c in first.items()})
        victim = st.workers.pop()
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        # readable again (a partition without a leader cannot be read either)
        st.broker_cmd("leader mde.findings.state * 1")
        check("crash: the killed worker wrote no state", len(st.read_full("findings.state")) == 0)
        st.workers.append(st.spawn("worker1", [f"{BIN}/mdefleet-worker", "--config", st.conf,
                                               "--set", "kafka.session.timeout.ms=6000"]))
        wait_until(lambda: len({m["key"] for m in st.read_full("findings.state")}) == len(nodes),
                   180, "the state of every node, written by the worker that redid the tasks", 1)
        for t in JSON_TOPICS:
            again = ids(t)
            check(f"crash: {t}: every record again under the same event id, none new",
                  set(again) == set(first[t]) and all(n == 2 for n in again.values()),
                  (len(first[t]), dict(collections.Counter(again.values()))))
        check_state(st, job, len(nodes))
        check_contracts(st, job, "crash")
    finally:
        st.stop()
        st.remove()
        os.unlink(path)


# ---- 4. a worker joining mid-job: the partitions move, the jobs end once ------------
def rebalance_test():
    spec = json.load(open(f"{SRC}/config/sim/demo.json"))
    spec["clusters"][0]["enforcement_level"] = "RealTime"
    path = tempfile.mktemp(suffix=".json")
    json.dump(spec, open(path, "w"))
    # the shortest job timeout: a job left behind by the old owner of its
    # job.status partition would end a second time, TimedOut, after it
    st = Stack(path, workers=1, extra_conf="worker.max_inflight=3\njob.timeout_seconds=60\n")
    try:
        start = time.time()
        jobs = []
        for _ in range(3):
            r = st.producer(["scan", "--subscription", SUB, "--resource-group", RG,
                             "--cluster", CLUSTER])
            check("rebalance: scan published", r.returncode == 0, r.stderr)
            jobs.append(r.stdout.split()[0] if r.stdout else "")
        # the second worker joins while the jobs run
        wait_until(lambda: status_kinds(st, jobs[0]).get("NodeOutcome", 0) >= 1, 120,
                   "the first node outcome of the first job", 0.5)
        st.workers.append(st.spawn("worker1", [f"{BIN}/mdefleet-worker", "--config", st.conf,
                                               "--set", "kafka.session.timeout.ms=6000"]))
        # past the 60 s job timeout, so that a second, late terminal status
        # would show: a window to watch, not a wait for something to happen
        time.sleep(max(0, start + 75 - time.time()))
        terminals = {}
        for h, v in st.read("job.status"):
            if h.get("correlation-id") not in jobs:
                continue
            d = json.loads(subprocess.run([CODEC_TOOL, "decode", "JobStatus"], input=v,
                                          capture_output=True, timeout=10).stdout)
            if d["kind"] == "Terminal":
                terminals.setdefault(d["job_id"], set()).add((d["status"], h["event-id"]))
        for j in jobs:
            got = terminals.get(j, set())
            check("rebalance: one terminal status per job, the same in every copy",
                  len(got) == 1 and next(iter(got))[0] == "PartiallySucceeded", (j, got))
    finally:
        st.stop()
        st.remove()
        os.unlink(path)


def run_tests(name, steps, timed=False):
    """The main of a fleet-style test: runs steps in order, a Timeout counting
    as one failure; ctest's SIGTERM unwinds, so that every Stack is stopped
    by its PIDs. Prints "N passed, M failed" and exits 1 on any failure."""
    def on_sigterm(sig, frame):
        raise SystemExit(f"{name}: stopped by signal {sig}")
    signal.signal(signal.SIGTERM, on_sigterm)
    start = time.time()
    try:
        for step in steps:
            step()
    except Timeout as e:
        print(f"FAIL: {e}", file=sys.stderr)
        failures.append(str(e))
    took = f" in {time.time() - start:.0f} s" if timed else ""
    print(f"{passes} passed, {len(failures)} failed{took}")
    sys.exit(1 if failures else 0)


CODEC_TOOL = os.path.join(BIN, "codec_tool")
if __name__ == "__main__":
    # FLEET_TESTS=name,name: only those (when working on one)
    only = [t for t in os.environ.get("FLEET_TESTS", "").split(",") if t]
    run_tests("fleet_test", [t for t in (demo_test, kill_test, state_crash_test, rebalance_test)
                             if not only or t.__name__ in only])
