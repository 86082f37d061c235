#!/usr/bin/python3
"""Faults against the contracts (issue 12): the broker's brokers taken down
and given produce errors (mdefleet-broker --control: the mock cluster's
set_down and push_request_errors), and hostile Azure answers from the
simulator's faults. After each: one terminal status per job, every node an
outcome, a worker that keeps serving the next job, or, when the worker
cannot go on, an exit that is not 0 with the reason.

usage: fault_test.py BUILD_BIN_DIR SOURCE_DIR
"""
import json
import os
import sys
import tempfile
import time

import fleet_test as ft

BIN, SRC = sys.argv[1], sys.argv[2]
SUB, RG, CLUSTER = ft.SUB, ft.RG, ft.CLUSTER
check = ft.check


def demo_spec():
    spec = json.load(open(f"{SRC}/config/sim/demo.json"))
    spec["clusters"][0]["enforcement_level"] = "RealTime"
    return spec


def scenario(spec):
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(spec, f)
    return path


def scan_wait(st, what, timeout=240, codes=(0, 3)):
    """A scan through mdefleet-producer --wait: (job id, exit code, output).
    Its exit code: 0 all nodes succeeded, 3 some failed, 1 the job failed."""
    args = ["scan", "--subscription", SUB, "--resource-group", RG, "--cluster", CLUSTER,
            "--wait", "--timeout", str(timeout)]
    r = st.producer(args, timeout=timeout + 60)
    job = r.stdout.split()[0] if r.stdout else ""
    check(f"{what}: the job ended (exit {codes})", r.returncode in codes,
          (r.returncode, r.stdout[-400:], r.stderr[-400:]))
    return job, r.returncode, r.stdout


def one_terminal(st, job, n_nodes, what):
    """The contracts on job.status: one Terminal, an outcome for every node."""
    recs = ft.status_records(st, job)
    terminals = [r for r in recs if r["kind"] == "Terminal"]
    check(f"{what}: exactly one terminal status", len(terminals) == 1,
          [(t["status"], t.get("reason")) for t in terminals])
    nodes = {r["node_outcome"]["node"] for r in recs if r["kind"] == "NodeOutcome"}
    check(f"{what}: an outcome for each of the {n_nodes} nodes", len(nodes) == n_nodes,
          sorted(nodes))
    return terminals[0] if terminals else None


def start_worker(st, name, extra=()):
    argv = [f"{BIN}/mdefleet-worker", "--config", st.conf, "--set",
            "kafka.session.timeout.ms=6000"]
    for kv in extra:
        argv += ["--set", kv]
    w = st.spawn(name, argv)
    st.workers.append(w)
    return w


# ---- broker faults ---------------------------------------------------------------------
def undeliverable_stops_non_zero():
    """Case 6: records that cannot be delivered within message.timeout.ms
    (job.status has no leader) stop the worker with exit 1 and the reason,
    not 0; a worker started once the broker is back ends the job, once."""
    spec = demo_spec()
    path = scenario(spec)
    st = ft.Stack(path, workers=0, control=True)
    try:
        w = start_worker(st, "worker0", ["kafka.message.timeout.ms=4000"])
        st.wait_group(1)
        st.broker_cmd("leader mde.job.status * -1")
        r = st.producer(["scan", "--subscription", SUB, "--resource-group", RG,
                         "--cluster", CLUSTER])
        check("undeliverable: the scan job published", r.returncode == 0, r.stderr[-300:])
        job = r.stdout.split()[0] if r.stdout else ""
        ft.wait_until(lambda: w.poll() is not None, 90,
                      "the worker to stop on records it cannot deliver")
        with open(os.path.join(st.dir, "worker0.err"), errors="replace") as f:
            err = f.read()
        last = err.strip().splitlines()[-1] if err.strip() else ""
        check("undeliverable: the worker exits 1, not 0", w.returncode == 1, w.returncode)
        check("undeliverable: its last line says why",
              "stopped on an error: a record of mde.scan.jobs" in last
              and "not delivered" in last, last)
        st.workers.remove(w)
        st.broker_cmd("leader mde.job.status * 1")
        # wait_group reads worker0.err: the next worker takes the name
        for ext in (".err", ".log"):
            os.rename(os.path.join(st.dir, "worker0" + ext),
                      os.path.join(st.dir, "worker0-stopped" + ext))
        start_worker(st, "worker0")
        st.wait_group(1)
        ft.wait_until(lambda: any(r["kind"] == "Terminal" for r in ft.status_records(st, job)),
                      180, "the job's terminal status from the worker started after the fault",
                      1)
        one_terminal(st, job, len(spec["clusters"][0]["nodes"]), "undeliverable")
    finally:
        st.stop()
        st.remove()
        os.unlink(path)


def produce_errors_and_a_broker_down():
    """Case 9 and a broker outage: 50 NOT_LEADER_FOR_PARTITION answers to
    Produce during a job, then a broker down for 8 s just after the next is
    published: each
    job ends once with every node's outcome, and the worker serves a third
    job after."""
    spec = demo_spec()
    path = scenario(spec)
    n = len(spec["clusters"][0]["nodes"])
    st = ft.Stack(path, workers=1, control=True)
    try:
        st.broker_cmd("errors 0 50 6")
        job, _, _ = scan_wait(st, "produce errors")
        one_terminal(st, job, n, "produce errors")

        # published first (a producer that cannot reach the partition's
        # leader says so and exits 1), then a broker down during the job
        args = ["scan", "--subscription", SUB, "--resource-group", RG, "--cluster", CLUSTER]
        r = st.producer(args)
        job2 = r.stdout.split()[0] if r.stdout else ""
        check("broker down: the scan job published", r.returncode == 0, r.stderr[-300:])
        st.broker_cmd("down 2")
        time.sleep(8)
        st.broker_cmd("up 2")
        ft.wait_until(lambda: any(r["kind"] == "Terminal" for r in ft.status_records(st, job2)),
                      240, "the terminal status of the job run while a broker was down", 1)
        one_terminal(st, job2, n, "broker down")

        job3, _, _ = scan_wait(st, "after the faults")
        one_terminal(st, job3, n, "after the faults")
        check("faults: the worker still runs", st.workers[0].poll() is None)
    finally:
        st.stop()
        st.remove()
        os.unlink(path)
    check("faults: the worker exits 0 on SIGTERM", st.workers[0].returncode == 0,
          st.workers[0].returncode)


# ---- hostile Azure ---------------------------------------------------------------------
def outcomes_by_node(st, job):
    return {r["node_outcome"]["node"]: r["node_outcome"] for r in ft.status_records(st, job)
            if r["kind"] == "NodeOutcome"}


def archive_bomb():
    """Case 3: a node whose archive holds 100 MiB of zeros before the report
    fails with a reason that says so, from the header, not inflated; its
    neighbours succeed; the job ends once and the next is served."""
    spec = demo_spec()
    nodes = spec["clusters"][0]["nodes"]
    bomb = nodes[1]["name"]
    nodes[1]["faults"] = {"archive_bomb_mib": 100}
    path = scenario(spec)
    st = ft.Stack(path, workers=1)
    try:
        job, _, _ = scan_wait(st, "archive bomb")
        t = one_terminal(st, job, len(nodes), "archive bomb")
        check("archive bomb: the job is PartiallySucceeded",
              t is not None and t["status"] == "PartiallySucceeded", t and t["status"])
        outs = outcomes_by_node(st, job)
        o = outs.get(bomb, {})
        check("archive bomb: the node failed UnreadableReport, saying why",
              o.get("result") == "Failed" and o.get("failure") == "UnreadableReport"
              and "more than 64 MiB before mde-agent-information.json" in (o.get("reason") or ""),
              o)
        healthy = {n["name"] for n in nodes if "faults" not in n}
        check("archive bomb: every node without a fault succeeded",
              all(outs.get(k, {}).get("result") == "Succeeded" for k in healthy),
              {k: outs.get(k, {}).get("result") for k in healthy})
        job2, _, _ = scan_wait(st, "after the bomb")
        one_terminal(st, job2, len(nodes), "after the bomb")
    finally:
        st.stop()
        st.remove()
        os.unlink(path)


def paging_loop():
    """Case 4: a machine list whose nextLink loops fails the job with the
    reason in seconds, instead of paging for the operation's hour."""
    spec = demo_spec()
    spec["paging_fault"] = "loop"
    path = scenario(spec)
    st = ft.Stack(path, workers=1)
    try:
        t0 = time.time()
        job, rc, _ = scan_wait(st, "paging loop", timeout=120, codes=(1,))
        took = time.time() - t0
        t = one_terminal(st, job, 0, "paging loop")
        check("paging loop: the job Failed, naming the loop",
              t is not None and t["status"] == "Failed"
              and "a nextLink seen before" in (t.get("reason") or ""), t)
        check(f"paging loop: ended in {took:.0f} s, under 60 s", took < 60)
    finally:
        st.stop()
        st.remove()
        os.unlink(path)


if __name__ == "__main__":
    ft.run_tests("fault_test", [undeliverable_stops_non_zero, produce_errors_and_a_broker_down,
                                archive_bomb, paging_loop], timed=True)
