#!/usr/bin/python3
"""docker/compose.yaml, docker/Dockerfile and .dockerignore: rendered by
Debian's docker-compose and checked for what issue 11 asks of them.

usage: deploy_compose.py SOURCE_DIR [DOCKER_COMPOSE]
  (run with /usr/bin/python3: Debian's python3-yaml)

`docker-compose config` (alone and with --profile sim) must exit 0 without
a Docker engine or network (nothing is pulled or built), then the rendered
services are checked: Kafka has a healthcheck; the topics job waits for a
healthy Kafka, retries and does not restart; every worker waits for a
healthy Kafka and the topics job's success, restarts on failure and has a
stop grace longer than worker.grace_seconds; the sim profile has the
simulator, 3 workers in its network namespace with the loopback settings
and the demo credentials, and a demo job; every pulled image is pinned by
digest. The Dockerfile: base images pinned by digest, a numeric non-root
user, MDEFLEET_METRICS_LISTEN=:9464 exposed, a HEALTHCHECK on /readyz.
Then every check is shown to fail on an input broken on purpose.
Prints `deploy_compose: N passed, M failed`; exits 1 on any failure.
"""
import copy
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from checks import Checks  # noqa: E402
import yaml  # noqa: E402

CHECKS = Checks("deploy_compose")
ok = CHECKS.ok
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def grace_default(src):
    """worker.grace_seconds' default, from config/mdefleet.conf.example."""
    with open(os.path.join(src, "config/mdefleet.conf.example")) as f:
        m = re.search(r"^#worker\.grace_seconds=(\d+)$", f.read(), re.M)
    return int(m.group(1))


def seconds(text):
    """A compose duration ("45s", "1m30s") in seconds; None if unreadable."""
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(text))
    if not m or not any(m.groups()):
        return None
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def depends(svc, name):
    d = svc.get("depends_on") or {}
    return d.get(name, {}).get("condition") if isinstance(d, dict) else None


def check_compose(doc, grace, demo):
    """The problems of one rendered compose document (empty: none)."""
    bad = []
    s = doc.get("services", {})
    for name in ("kafka", "topics", "worker", "sim", "worker-sim-1", "demo"):
        if name not in s:
            bad.append("service %s missing" % name)
    if bad:
        return bad
    hc = s["kafka"].get("healthcheck", {}).get("test") or ["NONE"]
    if hc[0] == "NONE" or "9092" not in " ".join(hc):
        bad.append("kafka: no healthcheck on the broker's port")
    topics = s["topics"]
    if depends(topics, "kafka") != "service_healthy":
        bad.append("topics: does not wait for a healthy kafka")
    if str(topics.get("restart", "no")) != "no":
        bad.append("topics: a job restarts (it must end)")
    if "attempt" not in " ".join(topics.get("command") or []):
        bad.append("topics: no retries")
    for name, svc in s.items():
        image = svc.get("image", "")
        if "build" not in svc and not DIGEST.search(image) and name != "demo":
            bad.append("%s: image %s not pinned by digest" % (name, image))
        if name == "demo" and image != s["worker"].get("image"):
            bad.append("demo: not the worker image")
        if "restart" not in svc:
            bad.append("%s: no restart policy" % name)
    workers = [n for n in s if n == "worker" or n.startswith("worker-sim-")]
    if len(workers) != 4:
        bad.append("workers: %s, not worker and worker-sim-1..3" % workers)
    for name in workers:
        w = s[name]
        if depends(w, "kafka") != "service_healthy":
            bad.append("%s: does not wait for a healthy kafka" % name)
        if depends(w, "topics") != "service_completed_successfully":
            bad.append("%s: does not wait for the topics job to succeed" % name)
        if w.get("restart") not in ("on-failure", "always", "unless-stopped"):
            bad.append("%s: restart %r" % (name, w.get("restart")))
        g = seconds(w.get("stop_grace_period", "10s"))
        if g is None or g <= grace:
            bad.append("%s: stop_grace_period %s not > worker.grace_seconds %d"
                       % (name, w.get("stop_grace_period"), grace))
        if w.get("build", {}).get("target") != "worker":
            bad.append("%s: not the Dockerfile's worker target" % name)
    if s["worker"].get("profiles") != ["azure"]:
        bad.append("worker: not in the azure profile alone")
    # the sim profile
    sim = s["sim"]
    for name in ["sim", "demo"] + [n for n in workers if n != "worker"]:
        if s[name].get("profiles") != ["sim"]:
            bad.append("%s: not in the sim profile" % name)
    if sim.get("build", {}).get("target") != "sim":
        bad.append("sim: not the Dockerfile's sim target")
    port = str(sim.get("environment", {}).get("MDEFLEET_SIM_PORT", ""))
    published = {str(p.get("target")) for p in sim.get("ports", []) if isinstance(p, dict)}
    published |= {str(p).rsplit(":", 1)[-1].split("/")[0] for p in sim.get("ports", [])
                  if isinstance(p, str)}
    base = "http://127.0.0.1:%s" % port
    client = demo["auth"]["clients"][0]
    metrics = set()
    for name in (n for n in workers if n != "worker"):
        w = s[name]
        env = w.get("environment", {})
        if w.get("network_mode") != "service:sim":
            bad.append("%s: not in sim's network namespace" % name)
        if depends(w, "sim") != "service_healthy":
            bad.append("%s: does not wait for a healthy sim" % name)
        want = {
            "MDEFLEET_ARM_ENDPOINT": base,
            "AZURE_AUTHORITY_HOST": base,
            "MDEFLEET_HTTP_ALLOW_LOOPBACK": "true",
            "MDEFLEET_BLOB_ALLOWED_HOSTS": "127.0.0.1",
            "MDEFLEET_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "AZURE_TENANT_ID": demo["auth"]["tenant"],
            "AZURE_CLIENT_ID": client["client_id"],
            "AZURE_CLIENT_SECRET": client["client_secret"],
        }
        for k, v in want.items():
            if str(env.get(k)) != v:
                bad.append("%s: %s=%r, not %r" % (name, k, env.get(k), v))
        listen = str(env.get("MDEFLEET_METRICS_LISTEN", ""))
        mport = listen.rsplit(":", 1)[-1]
        if not listen.startswith(":") or mport in metrics or mport not in published:
            bad.append("%s: metrics %r not its own port published on sim" % (name, listen))
        metrics.add(mport)
        if depends(s["demo"], name) != "service_healthy":
            bad.append("demo: does not wait for a ready %s" % name)
    if port not in published:
        bad.append("sim: its port %r not published" % port)
    if "mdefleet-producer scan" not in " ".join(s["demo"].get("command") or []):
        bad.append("demo: runs no scan job")
    return bad


def dockerfile_lines(text):
    """The Dockerfile's instructions, continuation lines joined."""
    return re.sub(r"\\\n", " ", re.sub(r"^\s*#.*\n", "", text, flags=re.M)).splitlines()


def check_dockerfile(text, ignore):
    bad = []
    lines = dockerfile_lines(text)
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    froms = [ln.split()[1] for ln in lines if ln.startswith("FROM ")]
    stages = {ln.split()[-1] for ln in lines if ln.startswith("FROM ") and " AS " in ln}
    for f in froms:
        ref = args.get(f[2:-1], f) if f.startswith("${") else f
        if ref not in stages and not (ref.startswith("debian:12") and DIGEST.search(ref)):
            bad.append("FROM %s: not debian:12* pinned by digest" % ref)
    for stage in ("build", "base", "sim", "worker"):
        if stage not in stages:
            bad.append("no stage %s" % stage)
    final = text[text.rfind("\nFROM "):]
    final_lines = dockerfile_lines(final)
    if not re.search(r"^FROM base AS worker$", final, re.M):
        bad.append("the last (default) stage is not the worker")
    users = [ln.split()[1] for ln in final_lines if ln.startswith("USER ")]
    if not users or not re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]):
        bad.append("worker: USER %s is not a numeric non-root user" % users)
    if "ENV MDEFLEET_METRICS_LISTEN=:9464" not in final_lines:
        bad.append("worker: MDEFLEET_METRICS_LISTEN=:9464 not set")
    if "EXPOSE 9464" not in final_lines:
        bad.append("worker: 9464 not exposed")
    hc = [ln for ln in final_lines if ln.startswith("HEALTHCHECK ")]
    if not hc or "/readyz" not in hc[0] or "MDEFLEET_METRICS_LISTEN" not in hc[0]:
        bad.append("worker: no HEALTHCHECK on /readyz at the metrics port")
    if "COPY . ." in text and not {".git", "build*", "bench/out"} <= set(ignore.split()):
        bad.append(".dockerignore: does not exclude .git, build*, bench/out")
    return bad


def render(compose, src, profile):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "DOCKER_", "COMPOSE_"))}
    env["HOME"] = os.environ.get("TMPDIR", "/tmp")
    cmd = [compose, "-f", os.path.join(src, "docker/compose.yaml")]
    cmd += ["--profile", profile] if profile else []
    p = subprocess.run(cmd + ["config"], capture_output=True, text=True, env=env, timeout=120)
    ok(p.returncode == 0, "docker-compose config %s exits 0" % (profile or ""),
       p.stderr.strip().splitlines()[-5:])
    ok("WARNING" not in p.stderr, "docker-compose config %s warns of nothing" % (profile or ""),
       p.stderr.strip().splitlines()[-5:])
    return yaml.safe_load(p.stdout) if p.returncode == 0 else None


def must_fail(checker, what, *args):
    bad = checker(*args)
    ok(bad, "the checker fails on %s" % what)


def main():
    src = sys.argv[1]
    compose = sys.argv[2] if len(sys.argv) > 2 else "docker-compose"
    grace = grace_default(src)
    with open(os.path.join(src, "config/sim/demo.json")) as f:
        demo = json.load(f)
    docs = [render(compose, src, None), render(compose, src, "sim")]
    for doc in docs:
        if doc is None:
            return CHECKS.finish()
        bad = check_compose(doc, grace, demo)
        ok(not bad, "compose: the rendered services", bad)
    with open(os.path.join(src, "docker/Dockerfile")) as f:
        dockerfile = f.read()
    with open(os.path.join(src, ".dockerignore")) as f:
        ignore = f.read()
    bad = check_dockerfile(dockerfile, ignore)
    ok(not bad, "Dockerfile and .dockerignore", bad)

    # the checkers fail on broken inputs, one fault each
    good = docs[1]

    def broken(edit):
        d = copy.deepcopy(good)
        edit(d["services"])
        return d

    faults = {
        "no kafka healthcheck": lambda s: s["kafka"].pop("healthcheck"),
        "workers after a started topics job": lambda s: s["worker-sim-2"]["depends_on"]["topics"]
        .update(condition="service_started"),
        "a worker without restart": lambda s: s["worker"].pop("restart"),
        "a short grace": lambda s: s["worker"].update(stop_grace_period="%ds" % grace),
        "an unpinned kafka": lambda s: s["kafka"].update(image="apache/kafka:3.9.0"),
        "a sim worker on its own network": lambda s: s["worker-sim-1"].pop("network_mode"),
        "a sim worker without loopback": lambda s: s["worker-sim-3"]["environment"]
        .update(MDEFLEET_HTTP_ALLOW_LOOPBACK="false"),
        "two sim workers on one metrics port": lambda s: s["worker-sim-2"]["environment"]
        .update(MDEFLEET_METRICS_LISTEN=":9464"),
        "the sim outside its profile": lambda s: s["sim"].pop("profiles"),
        "no demo job": lambda s: s.pop("demo"),
        "a restarting topics job": lambda s: s["topics"].update(restart="on-failure"),
    }
    for what, edit in faults.items():
        must_fail(check_compose, what, broken(edit), grace, demo)
    dfaults = {
        "an unpinned base": ("debian:12-slim@sha256:", "debian:12-slim#"),
        "a root user": ("USER 10001:10001\n# /metrics", "USER root\n# /metrics"),
        "a named user": ("USER 10001:10001\n# /metrics", "USER mdefleet\n# /metrics"),
        "a healthcheck on /livez": ("/readyz\"", "/livez\""),
        "no metrics port": ("EXPOSE 9464", "EXPOSE 9000"),
    }
    for what, (old, new) in dfaults.items():
        ok(old in dockerfile, "the fault %s applies" % what)
        must_fail(check_dockerfile, what, dockerfile.replace(old, new), ignore)
    must_fail(check_dockerfile, "a .dockerignore keeping .git", dockerfile,
              ignore.replace(".git\n", ""))
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
