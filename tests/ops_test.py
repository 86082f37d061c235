#!/usr/bin/python3
"""A worker's operations endpoint end to end (docs/operations.md): broker,
simulator and one worker with metrics.listen=127.0.0.1:0; /readyz 503
before the group's assignment and 200 after, /livez 200, a scan job with
live scrapes through `promtool check metrics`, a real Prometheus server on
127.0.0.1 scraping the worker every second during the job and queried for
up == 1 and a task counter that grew; and a worker pointed at a dead Kafka
exiting 1 within kafka.startup_timeout_seconds with one line on stderr.

usage: ops_test.py BUILD_BIN_DIR SOURCE_DIR
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

BIN, SRC = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SRC, "tests"))
import fleet_test as ft  # noqa: E402  (the stack, check() and its counts)

PROMTOOL, PROMETHEUS = "/usr/bin/promtool", "/usr/bin/prometheus"
SERVING = re.compile(r"serving /metrics, /livez, /readyz on (http://127\.0\.0\.1:(\d+))$")
DEAD_KAFKA_TIMEOUT_S = 3


def get(url, timeout=5):
    """(status, body) of a GET; (0, why) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def free_port():
    """A port nobody listens on now (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpsStack(ft.Stack):
    """The fleet test's stack with no worker of its own: this test starts its
    worker after the broker, to see /readyz before the assignment."""

    def wait_group(self, n, partitions=30, timeout=90):
        if n:
            super().wait_group(n, partitions, timeout)


def dead_kafka_test():
    # bound but not listening: connections to it are refused, and no other
    # process can take the port meanwhile
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        env = dict(os.environ, AZURE_TENANT_ID="11111111-1111-1111-1111-111111111111",
                   AZURE_CLIENT_ID="c", AZURE_CLIENT_SECRET="s")
        start = time.time()
        r = subprocess.run([f"{BIN}/mdefleet-worker",
                            "--set", f"kafka.bootstrap.servers=127.0.0.1:{port}",
                            "--set", f"kafka.startup_timeout_seconds={DEAD_KAFKA_TIMEOUT_S}",
                            "--set", "kafka.log_level=0", "--set", "log.level=error"],
                           capture_output=True, text=True, timeout=60, env=env)
        took = time.time() - start
    lines = r.stderr.splitlines()
    ft.check("dead kafka: exit 1", r.returncode == 1, (r.returncode, r.stderr[:300]))
    ft.check("dead kafka: one line on stderr", len(lines) == 1, r.stderr[:500])
    ft.check("dead kafka: the line names the worker and Kafka",
             bool(lines) and lines[0].startswith("mdefleet-worker: kafka:")
             and f"127.0.0.1:{port}" in lines[0], r.stderr[:300])
    # the timeout, and margin for a busy machine; not "waits forever"
    ft.check(f"dead kafka: ends after about {DEAD_KAFKA_TIMEOUT_S} s",
             DEAD_KAFKA_TIMEOUT_S - 0.5 <= took < DEAD_KAFKA_TIMEOUT_S + 20, f"{took:.1f} s")
    print(f"dead kafka: exit {r.returncode} after {took:.1f} s: {r.stderr.strip()}")


def promtool_check(text, what):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    ft.check(f"promtool check metrics: {what}", r.returncode == 0,
             (r.stdout + r.stderr)[:500])


def prom_query(base, q):
    """The value of an instant query's first sample, or None."""
    status, body = get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
    if status != 200:
        return None
    res = json.loads(body)["data"]["result"]
    return float(res[0]["value"][1]) if res else None


def endpoint_test():
    spec = json.load(open(f"{SRC}/config/sim/demo.json"))
    spec["clusters"][0]["enforcement_level"] = "RealTime"  # a scan job can run at once
    fd, scenario = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(spec, f)
    st = OpsStack(scenario, workers=0, extra_conf="metrics.listen=127.0.0.1:0\n")
    try:
        st.workers.append(st.spawn("worker0", [f"{BIN}/mdefleet-worker", "--config", st.conf]))
        errfile = os.path.join(st.dir, "worker0.err")

        def serving():
            with open(errfile, errors="replace") as f:
                for line in f:
                    m = SERVING.search(line.strip())
                    if m:
                        return m.group(1)
            return None
        url = ft.wait_until(serving, 30, "the worker's 'serving /metrics' line")
        # the endpoint starts before Kafka is joined: the first answer is not ready
        first = ft.wait_until(lambda: (lambda s: s if s[0] else None)(get(url + "/readyz")), 10,
                              "a first answer of /readyz")
        ft.check("readyz: 503 before the assignment", first[0] == 503, first)
        ft.check("readyz: one line naming what is missing",
                 first[1].count("\n") == 1 and "not ready" in first[1], first[1])
        ft.wait_until(lambda: get(url + "/readyz")[0] == 200, 60,
                      "/readyz 200 (assignment and a first token)")
        ft.check("readyz: 200 once assigned with a token", True)
        status, body = get(url + "/livez")
        ft.check("livez: 200", status == 200, (status, body))

        # a real Prometheus, scraping the worker every second
        pport = free_port()
        prom = f"http://127.0.0.1:{pport}"
        pconf = os.path.join(st.dir, "prometheus.yml")
        with open(pconf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\nscrape_configs:\n  - job_name: mdefleet\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{url.rsplit(':', 1)[1]}']\n")
        st.spawn("prometheus", [PROMETHEUS, f"--config.file={pconf}",
                                f"--storage.tsdb.path={os.path.join(st.dir, 'tsdb')}",
                                f"--web.listen-address=127.0.0.1:{pport}", "--log.level=warn"])
        ft.wait_until(lambda: get(prom + "/-/ready")[0] == 200, 60, "Prometheus to be ready")
        ft.wait_until(lambda: prom_query(prom, 'up{job="mdefleet"}') == 1, 30,
                      "Prometheus: up == 1 for the worker", 0.5)
        before = ft.wait_until(
            lambda: (lambda v: [v] if v is not None else None)(
                prom_query(prom, "mdefleet_node_tasks_started_total")), 30,
            "Prometheus: a first sample of mdefleet_node_tasks_started_total", 0.5)[0]
        ft.check("prometheus: up == 1", True)
        promtool_check(get(url + "/metrics")[1], "before the job")

        # the job, with live scrapes while it runs
        job = subprocess.Popen([f"{BIN}/mdefleet-producer", "--config", st.conf, "scan",
                                "--subscription", ft.SUB, "--resource-group", ft.RG,
                                "--cluster", ft.CLUSTER, "--wait", "--timeout", "120"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=st.env, preexec_fn=ft._die_with_parent)
        scraped = 0
        deadline = time.time() + 150
        while job.poll() is None and time.time() < deadline:
            status, text = get(url + "/metrics")
            if status == 200 and scraped < 3:
                promtool_check(text, "a live scrape during the job")
                scraped += 1
            time.sleep(1)
        if job.poll() is None:
            job.kill()
        out, err = job.communicate(timeout=30)
        ft.check("scan --wait: the job ended (exit 3: partly succeeded)", job.returncode == 3,
                 (job.returncode, err[-300:]))
        ft.check("live scrapes during the job", scraped >= 1, scraped)

        # the snapshot is at most a second old, the lag every 5 s: wait for
        # the job's end and a lag sample to show, then read the rest
        def final():
            status, text = get(url + "/metrics")
            done = re.search(r'^mdefleet_jobs_finished_total\{kind="Scan",'
                             r'status="PartiallySucceeded"\} 1$', text, re.M)
            lag = re.search(r"^mdefleet_consumer_lag\{", text, re.M)
            return text if status == 200 and done and lag else None
        text = ft.wait_until(final, 20, "the job's end and a consumer lag in a scrape", 0.5)
        promtool_check(text, "after the job")
        n_nodes = len(spec["clusters"][0]["nodes"])
        for pat, what in [
                (r'^mdefleet_build_info\{version="[^"]+"\} 1$', "build_info"),
                (rf"^mdefleet_node_tasks_started_total {n_nodes}$", "tasks started"),
                (r'^mdefleet_node_tasks_finished_total\{outcome="succeeded",reason=""\} \d+$',
                 "tasks succeeded"),
                (r'^mdefleet_node_tasks_finished_total\{outcome="failed",reason="\w+"\} \d+$',
                 "tasks failed, by reason"),
                (r"^mdefleet_node_tasks_in_flight 0$", "no task in flight"),
                (r'^mdefleet_jobs_finished_total\{kind="Scan",status="PartiallySucceeded"\} 1$',
                 "the job's terminal status"),
                (r'^mdefleet_arm_requests_total\{class="write",code="202"\} \d+$',
                 "ARM writes"),
                (r'^mdefleet_arm_requests_total\{class="read",code="200"\} \d+$', "ARM reads"),
                (r'^mdefleet_arm_budget_tokens\{subscription="[-0-9a-f]+",class="read"\} \d+$',
                 "budget tokens per subscription"),
                (r'^mdefleet_arm_quota_remaining\{subscription="[-0-9a-f]+",class="read"\} \d+$',
                 "remaining quota per subscription"),
                (r'^mdefleet_arm_poll_delay_seconds_bucket\{le="\+Inf"\} [1-9]\d*$',
                 "poll delay histogram"),
                (r'^mdefleet_extract_duration_seconds_count\{outcome="succeeded"\} [1-9]\d*$',
                 "extract duration histogram"),
                (r"^mdefleet_download_bytes_total [1-9]\d*$", "bytes downloaded"),
                (r'^mdefleet_records_produced_total\{topic="mde.scan.results"\} [1-9]\d*$',
                 "records produced by topic"),
                (r"^mdefleet_dlq_records_total 0$", "no DLQ record"),
                (r'^mdefleet_consumer_lag\{topic="mde\.[a-z.]+",partition="\d+"\} \d+$',
                 "consumer lag per partition")]:
            ft.check(f"metrics: {what}", re.search(pat, text, re.M) is not None, pat)

        grown = ft.wait_until(
            lambda: (lambda v: v if v is not None and v > before else None)(
                prom_query(prom, "mdefleet_node_tasks_started_total")), 30,
            "Prometheus: mdefleet_node_tasks_started_total to grow", 0.5)
        ft.check("prometheus: the task counter grew", grown > before, (before, grown))
        ft.check("prometheus: still up == 1", prom_query(prom, 'up{job="mdefleet"}') == 1)
        print(f"prometheus: tasks started {before:.0f} -> {grown:.0f}, "
              f"{scraped} live scrapes through promtool")
    finally:
        st.stop()
        st.remove()
        os.unlink(scenario)
    for p in st.workers:
        ft.check("worker: exit 0 on SIGTERM", p.returncode == 0, p.returncode)


if __name__ == "__main__":
    ft.run_tests("ops_test", [dead_kafka_test, endpoint_test], timed=True)
