#!/usr/bin/python3
"""No secret, token or SAS in any log line, in both log formats: broker,
simulator and a worker (fleet_test.Stack) at log.level=debug with
librdkafka's debug contexts on, two scan jobs through mdefleet-producer
--wait at debug (one cluster whose results are SAS URLs, one reading the
customer's storage with storage tokens, with a refused token and an expired
SAS among the nodes). Then, in every line of the worker's and the
producer's stderr:
  - not the client secret (AZURE_CLIENT_SECRET), raw or percent-encoded;
  - no bearer token of the simulator's shape (64 hex digits: one is fetched
    from the simulator to show the pattern finds a real one);
  - no "sig=" (a SAS signature), raw or percent-encoded;
  - in json, every line one JSON object with time, level, msg, program and
    pid; in text, every line "TIME LEVEL PROGRAM[PID]: ...".
Lines known to be there are looked for too (the job planned, a job_id and
node field, a librdkafka debug line, the ignored Kubernetes service link),
so a test that reads nothing fails. Last, log.level=error silences
librdkafka's own debug output (kafka.debug=all) in the producer.

usage: log_secrets_test.py BUILD_BIN_DIR SOURCE_DIR
"""
import json
import os
import re
import sys
import urllib.parse
import urllib.request

import fleet_test as ft

BIN, SRC = sys.argv[1], sys.argv[2]
SCENARIO = os.path.join(SRC, "tests", "data", "sim", "secrets.json")
SECRET = json.load(open(SCENARIO))["auth"]["clients"][0]["client_secret"]
TENANT = json.load(open(SCENARIO))["auth"]["tenant"]
SUB, RG = ft.SUB, ft.RG
CLUSTERS = {"sas-cluster": 3, "cust-cluster": 2}
TOKEN_RE = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
SIG_RE = re.compile(r"sig(=|%3d)", re.IGNORECASE)
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"error", "warn", "info", "debug"}
KAFKA_DEBUG = "generic,broker,topic,metadata,cgrp,msg,protocol,security,conf"

check = ft.check
# the loop's own lines, in either format (librdkafka's debug lines say
# "assigned" and "partitions" too)
GROUP_RE = re.compile(r'(?:\]: |"msg":")(assigned|revoked) (\d+) partitions')


class Stack(ft.Stack):
    def wait_group(self, n, partitions=30, timeout=90):
        """fleet_test's wait, reading only the worker loop's lines."""
        if n == 0:
            return
        def settled():
            total = done = 0
            for i in range(n):
                with open(os.path.join(self.dir, f"worker{i}.err"), errors="replace") as f:
                    found = GROUP_RE.findall(f.read())
                if found and found[-1][0] == "assigned":
                    done += 1
                    total += int(found[-1][1])
            return done == n and total == partitions
        ft.wait_until(settled, timeout, f"the {n} workers' group to settle on {partitions} "
                      "partitions")


def secret_hits(name, text, quiet=False):
    """The leaks in text: [(what, line)]; each printed unless quiet."""
    hits = []
    for line in text.splitlines():
        if SECRET in line or urllib.parse.quote(SECRET, safe="") in line:
            hits.append(("client secret", line))
        if TOKEN_RE.search(line):
            hits.append(("bearer token", line))
        if SIG_RE.search(line):
            hits.append(("SAS sig", line))
    for what, line in [] if quiet else hits[:3]:
        print(f"{name}: {what} in: {line[:300]}", file=sys.stderr)
    return hits


def sim_token(azure):
    """A token from the simulator, as the worker gets them."""
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "demo-client",
                                   "client_secret": SECRET,
                                   "scope": "https://management.azure.com/.default"}).encode()
    req = urllib.request.Request(f"{azure}/{TENANT}/oauth2/v2.0/token", data=body)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["access_token"]


def check_lines(fmt, program, text):
    """Every line in the format; returns the parsed JSON objects (json)."""
    objs, bad = [], []
    text_re = re.compile(r"^\S+Z (error|warn|info|debug) " + re.escape(program) + r"\[\d+\]: ")
    for line in text.splitlines():
        if fmt == "text":
            if not text_re.match(line):
                bad.append(line)
            continue
        try:
            o = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not (isinstance(o, dict) and {"time", "level", "msg", "program", "pid"} <= o.keys()
                and TIME_RE.match(str(o["time"])) and o["level"] in LEVELS
                and o["program"] == program and isinstance(o["pid"], int)
                and all(isinstance(v, str) for k, v in o.items() if k != "pid")):
            bad.append(line)
        objs.append(o)
    check(f"{fmt}: {program}: every line is a {fmt} log line", not bad, bad[:3])
    check(f"{fmt}: {program}: some lines", len(text.splitlines()) > 10)
    return objs


def run(fmt):
    os.environ["MDEFLEET_PORT"] = "tcp://10.0.0.7:9090"  # as a Kubernetes Service injects
    os.environ["MDEFLEET_SERVICE_PORT_METRICS"] = "9090"
    ft.SECRET = SECRET
    st = Stack(SCENARIO, workers=1,
                  extra_conf=f"log.level=debug\nlog.format={fmt}\nkafka.debug={KAFKA_DEBUG}\n")
    try:
        token = sim_token(st.azure)
        check(f"{fmt}: the token pattern finds a real simulator token",
              TOKEN_RE.search(f"Authorization: Bearer {token}") is not None, token)
        check(f"{fmt}: the finder flags a secret, a token and a sig=",
              len(secret_hits("self-check", f"x {SECRET}\ny {token}\nz ?sig%3Dabc", True)) == 3)
        jobs, producer_err = [], ""
        for cluster in CLUSTERS:
            r = st.producer(["scan", "--subscription", SUB, "--resource-group", RG,
                             "--cluster", cluster, "--wait", "--timeout", "240"])
            check(f"{fmt}: scan {cluster} --wait ended (exit 0 or 3)", r.returncode in (0, 3),
                  r.stdout[-500:] + r.stderr[-500:])
            jobs.append(r.stdout.split()[0] if r.stdout else "")
            producer_err += r.stderr
    finally:
        st.stop()
        del os.environ["MDEFLEET_PORT"]
        del os.environ["MDEFLEET_SERVICE_PORT_METRICS"]
    for p in st.workers:
        check(f"{fmt}: the worker stopped cleanly (exit 0 on SIGTERM)", p.returncode == 0,
              p.returncode)
    with open(os.path.join(st.dir, "worker0.err"), errors="replace") as f:
        worker_err = f.read()
    print(f"{fmt}: worker {len(worker_err.splitlines())} lines, "
          f"producer {len(producer_err.splitlines())} lines")

    for name, text in (("worker", worker_err), ("producer", producer_err)):
        check(f"{fmt}: {name}: no secret, token or sig in its logs",
              not secret_hits(f"{fmt} {name}", text))
    others = ""
    for name in ("broker.log", "broker.err", "sim.err"):
        with open(os.path.join(st.dir, name), errors="replace") as f:
            others += f.read()
    check(f"{fmt}: nor in the broker's and simulator's output",
          not secret_hits(f"{fmt} broker, sim", others))

    w = check_lines(fmt, "mdefleet-worker", worker_err)
    p = check_lines(fmt, "mdefleet-producer", producer_err)
    # lines known to be there: the test reads what it thinks it reads
    for job, (cluster, n) in zip(jobs, CLUSTERS.items()):
        check(f"{fmt}: the worker logged job {cluster} planned",
              f"job {job} planned: {n} nodes" in worker_err, job)
    check(f"{fmt}: the service links were ignored at debug",
          "MDEFLEET_PORT: ignored (a Kubernetes service link)" in worker_err
          and "MDEFLEET_SERVICE_PORT_METRICS: ignored" in worker_err)
    if fmt == "text":
        check("text: librdkafka's debug lines through the logger",
              re.search(r" debug mdefleet-worker\[\d+\]: kafka rdkafka#consumer-\d+ \w+: ",
                        worker_err) is not None)
        check("text: no fields in text lines", '"job_id"' not in worker_err)
        st.remove()
        return
    kafka = [o for o in w if o.get("facility") and o.get("instance", "").startswith("rdkafka#")]
    check("json: librdkafka's lines with facility and instance", len(kafka) > 0)
    check("json: librdkafka's debug lines at debug", any(o["level"] == "debug" for o in kafka))
    check("json: the producer's librdkafka lines too",
          any(o.get("instance", "").startswith("rdkafka#producer") for o in p))
    check("json: job_id and node fields on the executor's lines",
          any(o.get("job_id") == jobs[0] and o.get("node") == "sas01" for o in w))
    check("json: job_id and cluster fields on the planner's lines",
          any(o.get("job_id") == jobs[1] and o.get("cluster") == "cust-cluster"
              and "planned" in o["msg"] for o in w))
    st.remove()


def level_filters_kafka():
    """log.level=error: none of librdkafka's debug lines (kafka.debug=all)."""
    st = Stack(SCENARIO, workers=0)
    try:
        r = st.producer(["--set", "log.level=error", "--set", "kafka.debug=all", "enforce",
                         "--subscription", SUB, "--resource-group", RG, "--cluster",
                         "sas-cluster", "--level", "Audit"], timeout=120)
        check("log.level=error: the producer published", r.returncode == 0, r.stderr[-300:])
        check("log.level=error: no librdkafka debug line", "kafka" not in r.stderr,
              r.stderr[:300])
        r = st.producer(["--set", "log.level=debug", "--set", "kafka.debug=all", "enforce",
                         "--subscription", SUB, "--resource-group", RG, "--cluster",
                         "sas-cluster", "--level", "Audit"], timeout=120)
        check("log.level=debug: librdkafka's debug lines (the same run, shown to appear)",
              r.returncode == 0 and " debug mdefleet-producer[" in r.stderr
              and "kafka rdkafka#producer" in r.stderr, r.stderr[-300:])
    finally:
        st.stop()
        st.remove()


if __name__ == "__main__":
    ft.run_tests("log_secrets_test", [lambda: run("text"), lambda: run("json"),
                                      level_filters_kafka])
