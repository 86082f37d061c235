#!/usr/bin/python3
"""Sweep benchmark: how close a scan of N bare-metal machines gets to the
lower bound that Azure Resource Manager's request budget sets.

ARM gives each subscription a token bucket: reads 250 burst + 25/s, writes
200 burst + 10/s, refilled in real seconds. Every node costs one
runDataExtracts write (and polls, which are reads), so a subscription s with
N_s nodes cannot be swept faster than

    bound_s = max(0, N_s - 200) / 10 + scanRuntime + extract      (seconds)

scanRuntime and extract being the simulated run times times time_scale (60 s
and 90 s at 0.1: 6 s and 9 s). The sweep's bound is the largest bound_s over
its subscriptions. It leaves out the planner's writes (one scanRuntime per
cluster), so even a perfect fleet shows a ratio a little over 1.

Each row starts mdefleet-broker, mdefleet-sim and W workers on 127.0.0.1,
publishes one scan job per 100-node cluster and waits for every job's
terminal status on mde.job.status: wall time is from the first scan.jobs
record to the last terminal record. bench/README.md explains the columns.

usage: sweep.py [--build DIR] [--rows 200x1,2000x3,2000x3x2] [--set KEY=VALUE]... [--strict]
"""
import argparse
import collections
import ctypes
import fcntl
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import avro.io
import avro.schema
from kafka import KafkaConsumer, TopicPartition

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(SRC, "bench", "out")
TIME_SCALE, EXTRACT_S, SCAN_S = 0.1, 90, 60  # simulated seconds
READS, WRITES = (250, 25), (200, 10)          # burst, per second
RACKS, PER_RACK = 10, 10                      # 100 nodes a cluster
SUBS = ["5eed0001-0000-4000-8000-000000000001", "5eed0002-0000-4000-8000-000000000002"]
TENANT, CLIENT, SECRET = "11111111-1111-1111-1111-111111111111", "bench-client", "bench-secret"
ROLE_TOPICS = {"planner": ("enforcement.requests", "scan.jobs"), "executor": ("node.tasks",),
               "tracker": ("job.status",)}  # what each worker role subscribes to
ARM_READS = ("cluster.get", "bmm.list", "bmm.get", "operation.get")
ARM_WRITES = ("cluster.patch", "cluster.scanRuntime", "bmm.runDataExtracts",
              "bmm.runDataExtractsRestricted")
# the default rows, in order, each with its own worker configuration
DEFAULT_ROWS = {"200x1": {}, "1000x1": {}, "2000x1": {"worker.max_inflight": "2000"},
                "2000x3": {}, "2000x3x2": {}}
PEAK_RE = re.compile(r"stopped: peak (\d+) tasks in flight")
_libc = ctypes.CDLL(None, use_errno=True)


class BenchError(Exception):
    """Something could not run; one line, naming what."""


class Row:
    """NxW[xS]: N nodes in N/100 clusters, W workers, S subscriptions."""

    def __init__(self, spec, extra_conf):
        m = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?", spec)
        self.n, self.workers, self.subs = (int(m[1]), int(m[2]), int(m[3] or 1)) if m else (0,) * 3
        per = RACKS * PER_RACK
        if not self.n or self.n % per or self.workers < 1 \
                or not 1 <= self.subs <= min(len(SUBS), self.n // per):
            raise BenchError(f"--rows: {spec!r} is not NxW[xS] with N a multiple of {per}, "
                             f"W >= 1 and S in 1..{len(SUBS)} (e.g. 2000x3x2)")
        self.name = f"{self.n}x{self.workers}" + (f"x{self.subs}" if self.subs > 1 else "")
        self.conf = dict(DEFAULT_ROWS.get(self.name, {}), **extra_conf)
        self.dir = os.path.join(OUT, self.name)
        # [(cluster, subscription)], the subscriptions alternating
        self.clusters = [(f"bench{i:03d}", SUBS[i % self.subs]) for i in range(self.n // per)]
        per_sub = [per * sum(s == sub for _, s in self.clusters) for sub in SUBS[:self.subs]]
        self.bound = max(max(0, n - WRITES[0]) / WRITES[1] for n in per_sub) \
            + (SCAN_S + EXTRACT_S) * TIME_SCALE


def scenario(row):
    """The simulator's scenario: customer storage, every agent running."""
    clusters = []
    for name, sub in row.clusters:
        c = {"resource_group": f"{name}-rg", "name": name, "enforcement_level": "RealTime",
             "managed_resource_group": f"{name}-managed-rg",
             "command_output": {"mode": "customer", "account": "benchout",
                                "container": "bmm-run-output"},
             "nodes": [{"name": f"{name}r{r:02d}n{k:02d}", "rack": f"rack{r:02d}"}
                       for r in range(RACKS) for k in range(PER_RACK)]}
        if row.subs > 1:
            c["subscription"] = sub
        clusters.append(c)
    return {"time_scale": TIME_SCALE, "subscription": SUBS[0],
            "auth": {"tenant": TENANT, "clients": [{"client_id": CLIENT, "client_secret": SECRET}]},
            "budgets": {"reads": {"burst": READS[0], "per_second": READS[1]},
                        "writes": {"burst": WRITES[0], "per_second": WRITES[1]}},
            "durations": {"extract_seconds": EXTRACT_S, "scan_runtime_seconds": SCAN_S},
            "clusters": clusters}


def wait_until(cond, timeout, what, step=0.2, alive=None):
    """Polls cond() until true; at the deadline a BenchError naming `what`
    (a string, or a function giving one). alive() raises if a process died."""
    deadline = time.time() + timeout
    while not (v := cond()):
        if alive:
            alive()
        if time.time() >= deadline:
            raise BenchError(f"waited {timeout:.0f} s for {what() if callable(what) else what}")
        time.sleep(step)
    return v


def text(path):
    """A file's text so far ("" before it exists)."""
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


def first_line(path):
    return text(path).split("\n")[0].strip() or None


def proc_kib(pid, field):
    """VmRSS or VmHWM of a live process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M)[1])


class Fleet:
    """The processes of one row, logs in its directory, each stopped by its PID."""

    def __init__(self, row, bindir):
        self.row, self.bin, self.dir = row, bindir, row.dir
        self.procs, self.workers = {}, []  # name -> Popen, in start order
        # reproducible: no MDEFLEET_* setting from the caller's environment
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MDEFLEET_")}
        self.env.update(AZURE_TENANT_ID=TENANT, AZURE_CLIENT_ID=CLIENT, AZURE_CLIENT_SECRET=SECRET)

    def spawn(self, name, argv):
        with open(os.path.join(self.dir, name + ".out"), "w") as out, \
                open(os.path.join(self.dir, name + ".err"), "w") as err:
            # PR_SET_PDEATHSIG: the child dies with the bench, however it dies
            p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 env=self.env, preexec_fn=lambda: _libc.prctl(1, signal.SIGKILL))
        self.procs[name] = p
        return p

    def alive(self):
        for name, p in self.procs.items():
            if p.poll() is not None:
                err = text(os.path.join(self.dir, name + ".err")).strip().split("\n")[-1]
                raise BenchError(f"{name} exited with status {p.returncode}: {err[:200]}")

    def start(self):
        boot, simout = os.path.join(self.dir, "bootstrap"), os.path.join(self.dir, "sim.out")
        self.spawn("broker", [f"{self.bin}/mdefleet-broker", "--bootstrap-file", boot,
                              "--topics", f"{SRC}/config/topics"])
        self.brokers = wait_until(lambda: first_line(boot), 30, "the broker's bootstrap file",
                                  0.1, self.alive)
        self.spawn("sim", [f"{self.bin}/mdefleet-sim", "--scenario",
                           os.path.join(self.dir, "scenario.json"), "--bind", "127.0.0.1",
                           "--port", "0"])
        self.azure = wait_until(lambda: first_line(simout), 30, "the simulator's URL", 0.1,
                                self.alive)
        self.env["AZURE_AUTHORITY_HOST"] = self.azure
        self.conf = os.path.join(self.dir, "mdefleet.conf")
        with open(self.conf, "w") as f:
            f.write(f"kafka.bootstrap.servers={self.brokers}\narm.endpoint={self.azure}\n"
                    "http.allow_loopback=true\nblob.allowed_hosts=127.0.0.1\n"
                    # The mock cluster answers an empty fetch only after the whole
                    # fetch.wait.max.ms (500 ms by default), where a real broker answers
                    # as soon as a record arrives: without this each of the sweep's three
                    # Kafka hops would add up to 0.5 s no real deployment has.
                    "kafka.fetch.wait.max.ms=20\n")
            f.writelines(f"{k}={v}\n" for k, v in self.row.conf.items())
        for i in range(self.row.workers):
            self.workers.append(self.spawn(f"worker{i}", [f"{self.bin}/mdefleet-worker",
                                                          "--config", self.conf]))
        self.wait_group()

    def wait_group(self, timeout=90):
        """Until the workers share every partition, no rebalance under way."""
        roles = self.row.conf.get("worker.roles", ",".join(ROLE_TOPICS)).split(",")
        topics = {t for r in roles for t in ROLE_TOPICS.get(r.strip(), ())}
        with open(f"{SRC}/config/topics") as f:
            want = sum(int(w[1]) for w in map(str.split, f) if w and w[0] in topics)

        def assigned(i):  # partitions of worker i after its last rebalance, or None
            last = re.findall(r"(assigned|revoked) (\d+) partitions",
                              text(os.path.join(self.dir, f"worker{i}.err")))[-1:]
            return int(last[0][1]) if last and last[0][0] == "assigned" else None

        def settled():
            got = [assigned(i) for i in range(len(self.workers))]
            return None not in got and sum(got) == want
        wait_until(settled, timeout, f"the {len(self.workers)} workers' group to settle on "
                   f"{want} partitions", 0.2, self.alive)

    def sim(self, path, method="GET"):
        with urllib.request.urlopen(urllib.request.Request(self.azure + path, method=method),
                                    timeout=10) as r:
            return json.load(r)

    def producer(self, jobs_file):
        r = subprocess.run([f"{self.bin}/mdefleet-producer", "--config", self.conf,
                            "--file", jobs_file], capture_output=True, text=True, timeout=120,
                           env=self.env)
        if r.returncode != 0:
            raise BenchError(f"mdefleet-producer exited {r.returncode}: {r.stderr.strip()[:200]}")
        return r.stdout.split()

    def stop(self):
        """SIGTERM, then SIGKILL after a deadline: workers first (they leave
        the group through the broker; 45 s > worker.grace_seconds), then the rest."""
        others = [p for p in self.procs.values() if p not in self.workers]
        for group, grace in ((self.workers, 45), (others, 10)):
            for p in group:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            deadline = time.time() + grace
            for p in group:
                try:
                    p.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)


class StatusReader:
    """Follows mde.scan.jobs and mde.job.status from their beginning."""

    def __init__(self, brokers):
        with open(f"{SRC}/schemas/JobStatus.avsc") as f:
            self.avro = avro.io.DatumReader(avro.schema.parse(f.read()))
        self.c = KafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False)
        parts = [TopicPartition(t, p) for t in ("mde.scan.jobs", "mde.job.status")
                 for p in self.c.partitions_for_topic(t) or []]
        if not parts:
            raise BenchError("no partitions of mde.scan.jobs and mde.job.status on the broker")
        self.c.assign(parts)
        self.c.seek_to_beginning(*parts)
        self.published = {}  # job id -> Kafka timestamp (ms) of its scan.jobs record
        self.terminal = {}   # job id -> (Kafka timestamp of its first Terminal, status)
        self.outcomes = {}   # (job id, node) -> NodeOutcome (copies collapse)

    def decode(self, value):
        """A JobStatus in single-object (C3 01 + fingerprint) or Confluent framing."""
        skip = 10 if value[:2] == b"\xc3\x01" else 5 if value[:1] == b"\x00" else None
        if skip is None:
            raise BenchError(f"a job.status record in no Avro framing: {value[:16]!r}")
        return self.avro.read(avro.io.BinaryDecoder(io.BytesIO(value[skip:])))

    def poll(self):
        for recs in self.c.poll(timeout_ms=500).values():
            for m in recs:
                if m.topic == "mde.scan.jobs":
                    job = dict(m.headers).get("correlation-id", b"").decode()
                    self.published.setdefault(job, m.timestamp)
                    continue
                d = self.decode(m.value)
                if d["kind"] == "NodeOutcome":
                    self.outcomes[(d["job_id"], d["node_outcome"]["node"])] = d["node_outcome"]
                elif d["kind"] == "Terminal":
                    self.terminal.setdefault(d["job_id"], (m.timestamp, d["status"]))


def run_row(row, bindir):
    """Runs one row; returns its measurements, also in bench/out/<row>/result.json."""
    os.makedirs(row.dir, exist_ok=True)
    for name in os.listdir(row.dir):
        os.unlink(os.path.join(row.dir, name))
    with open(os.path.join(row.dir, "scenario.json"), "w") as f:
        json.dump(scenario(row), f, indent=1)
    jobs_file = os.path.join(row.dir, "jobs.jsonl")
    with open(jobs_file, "w") as f:
        f.writelines(json.dumps({"type": "scan", "subscription": sub, "cluster": name,
                                 "resource_group": f"{name}-rg"}) + "\n"
                     for name, sub in row.clusters)
    fleet, reader = Fleet(row, bindir), None
    try:
        fleet.start()
        idle = [proc_kib(w.pid, "VmRSS") for w in fleet.workers]
        reader = StatusReader(fleet.brokers)
        fleet.sim("/_admin/reset-stats", "POST")  # the sweep's requests only
        t_start = time.time() * 1000
        jobs = fleet.producer(jobs_file)
        if len(jobs) != len(row.clusters):
            raise BenchError(f"mdefleet-producer printed {len(jobs)} job ids, "
                             f"not {len(row.clusters)}")

        def all_ended():
            reader.poll()
            return all(j in reader.terminal for j in jobs)
        wait_until(all_ended, 3 * row.bound + 60, lambda: "the terminal status of every job on "
                   f"mde.job.status ({sum(j not in reader.terminal for j in jobs)} of {len(jobs)}"
                   f" jobs still open, {len(reader.outcomes)} node outcomes seen)", 0, fleet.alive)
        stats = fleet.sim("/_admin/stats")
        hwm = [proc_kib(w.pid, "VmHWM") for w in fleet.workers]
    finally:
        if reader:
            reader.c.close()
        fleet.stop()
    peaks = [PEAK_RE.findall(text(os.path.join(row.dir, f"worker{i}.err")))[-1:]
             for i in range(row.workers)]
    peaks = [int(p[0]) if p else None for p in peaks]
    mine = [o for (job, _), o in reader.outcomes.items() if job in jobs]
    failed = collections.Counter(o["failure"] or "Other" for o in mine
                                 if o["result"] != "Succeeded")
    if len(mine) < row.n:
        failed["NoOutcome"] = row.n - len(mine)  # e.g. a job that failed before its fan-out
    req = stats.get("requests", {})
    # as the simulator counts per subscription: reads and writes that took a token, and 429s
    reads, writes = (sum(n for r in routes for st, n in req.get(r, {}).items() if st != "429")
                     for routes in (ARM_READS, ARM_WRITES))
    throttled = sum(req.get(r, {}).get("429", 0) for r in ARM_READS + ARM_WRITES)
    # workers that ran no task have no figure; one that did not log its peak spoils the row's
    per_node = [(h - i) / p for h, i, p in zip(hwm, idle, peaks) if p]
    kib = max(per_node) if per_node and None not in peaks else None
    t0 = min(reader.published.get(j, t_start) for j in jobs)
    wall = (max(reader.terminal[j][0] for j in jobs) - t0) / 1000
    res = {"row": row.name, "n": row.n, "workers": row.workers, "subs": row.subs,
           "conf": row.conf, "wall_s": wall, "bound_s": row.bound, "ratio": wall / row.bound,
           "arm_reads": reads, "arm_writes": writes, "throttled_429": throttled,
           "subscriptions": stats.get("subscriptions") or {
               SUBS[0]: {"reads": reads, "writes": writes, "throttled": throttled}},
           "failed": dict(failed), "job_status": sorted({reader.terminal[j][1] for j in jobs}),
           "idle_rss_kib": idle, "vmhwm_kib": hwm, "peak_inflight": peaks,
           "kib_per_inflight": kib,
           "sim_stats": stats}
    with open(os.path.join(row.dir, "result.json"), "w") as f:
        json.dump(res, f, indent=1)
    return res


HEAD = ("N", "workers", "subs", "wall s", "bound s", "ratio", "reads/node", "429s",
        "failed nodes", "RSS MiB", "KiB/inflight")
LINE = "{:>5}  {:>7}  {:>4}  {:>7}  {:>7}  {:>5}  {:>10}  {:>6}  {:<24}  {:>7}  {:>12}"


def row_cells(row, res):
    if "error" in res:
        return [row.n, row.workers, row.subs, "-", f"{row.bound:.0f}"] + ["-"] * 3 \
            + ["ERROR (see above)", "-", "-"]
    failed = ",".join(f"{k}:{v}" for k, v in sorted(res["failed"].items())) or "0"
    kib = res["kib_per_inflight"]
    return [row.n, row.workers, row.subs, f"{res['wall_s']:.1f}", f"{row.bound:.0f}",
            f"{res['ratio']:.2f}", f"{res['arm_reads'] / row.n:.2f}", res["throttled_429"],
            failed, f"{max(res['vmhwm_kib']) / 1024:.1f}", "-" if kib is None else f"{kib:.1f}"]


def verdict(rows, passed, detail):
    return f"{'PASS' if passed else 'FAIL'} ({detail})" if rows else "SKIP (no row measured it)"


def targets(results):
    """[(target, verdict)]: PASS or FAIL with the figure, SKIP when no row measured it."""
    ok = [r for r in results.values() if "error" not in r]
    ratio = max(ok, key=lambda r: r["ratio"], default=None)
    reads = max(ok, key=lambda r: r["arm_reads"] / r["n"], default=None)
    thr = sum(r["failed"].get("Throttled", 0) for r in ok)
    r1 = [r for r in ok if r["row"] == "2000x1"]
    kib = r1[0]["kib_per_inflight"] if r1 else None
    r2 = [r for r in ok if r["subs"] == 2]
    return [
        ("ratio <= 1.10 in every row",
         verdict(ok, ratio and ratio["ratio"] <= 1.10,
                 ratio and f"worst {ratio['row']} {ratio['ratio']:.2f}")),
        ("0 Throttled nodes", verdict(ok, thr == 0, f"{thr} in all rows")),
        ("reads/node <= 1.3 in every row",
         verdict(ok, reads and reads["arm_reads"] / reads["n"] <= 1.3,
                 reads and f"worst {reads['row']} {reads['arm_reads'] / reads['n']:.2f}")),
        ("<= 8 KiB per in-flight task (2000x1)",
         verdict(r1, kib is not None and kib <= 8, "no 'stopped: peak' line in the worker log"
                 if kib is None else f"{kib:.1f} KiB")),
        ("2 subscriptions in the time of one (wall <= 1.10 x bound)",
         verdict(r2, all(r["ratio"] <= 1.10 for r in r2),
                 ", ".join(f"{r['row']} {r['ratio']:.2f}" for r in r2))),
    ]


def lock_out():
    """One sweep at a time: rows share bench/out/<row>/, and two sweeps skew
    each other's times. The lock file says which process holds it."""
    os.makedirs(OUT, exist_ok=True)
    lock = open(os.path.join(OUT, "sweep.lock"), "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        print(f"sweep.py: another sweep is running (pid {lock.read().strip() or '?'})",
              file=sys.stderr)
        sys.exit(2)
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--rows", default=",".join(DEFAULT_ROWS),
                    help="rows NxW[xS], comma separated (default: %(default)s)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="worker configuration for every row (repeatable)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = ap.parse_args()
    bindir = os.path.join(os.path.abspath(args.build), "bin")
    try:
        if any("=" not in s for s in args.set):
            raise BenchError("--set takes KEY=VALUE")
        extra = dict(s.split("=", 1) for s in args.set)
        rows = [Row(s.strip(), extra) for s in args.rows.split(",") if s.strip()]
        if not rows:
            raise BenchError("--rows: no row")
        for prog in ("mdefleet-broker", "mdefleet-sim", "mdefleet-worker", "mdefleet-producer"):
            if not os.access(f"{bindir}/{prog}", os.X_OK):
                raise BenchError(f"{bindir}/{prog} not found (build first: make build)")
    except BenchError as e:
        print(f"sweep.py: {e}", file=sys.stderr)
        sys.exit(2)
    lock = lock_out()  # noqa: F841 (held until exit)
    print(f"sweep: time_scale {TIME_SCALE}, extract {EXTRACT_S * TIME_SCALE:g} s, scanRuntime "
          f"{SCAN_S * TIME_SCALE:g} s, ARM budgets reads {READS[0]} + {READS[1]}/s, writes "
          f"{WRITES[0]} + {WRITES[1]}/s; logs in {OUT}/<row>/", flush=True)
    results = {}
    for row in rows:
        print(f"  {row.name}: bound {row.bound:.0f} s ...", end=" ", flush=True)
        t = time.time()
        try:
            results[row.name] = run_row(row, bindir)
            print(f"done in {time.time() - t:.0f} s", flush=True)
        except KeyboardInterrupt:
            print(f"interrupted; logs: {row.dir}/", flush=True)
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 (the row could not run: say why, go on)
            if not isinstance(e, BenchError):
                e = f"{type(e).__name__}: {e}"
            results[row.name] = {"error": str(e)}
            print(f"FAILED: {e}\n    logs: {row.dir}/", flush=True)
    print("\n" + LINE.format(*HEAD).rstrip())
    for row in rows:
        print(LINE.format(*row_cells(row, results[row.name])).rstrip())
    verdicts = targets(results)
    print()
    for name, v in verdicts:
        print(f"{name:<60} {v}")
    if any("error" in r for r in results.values()):
        sys.exit(2)
    if args.strict and any(v.startswith("FAIL") for _, v in verdicts):
        sys.exit(1)


def _on_sigterm(sig, frame):
    raise KeyboardInterrupt  # unwind, so that every process is stopped by its PID


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    main()
