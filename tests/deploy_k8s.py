#!/usr/bin/python3
"""deploy/k8s, the kustomize base: rendered by `kubectl kustomize` and
checked for what issue 11 asks of it.

usage: deploy_k8s.py SOURCE_DIR [KUBECTL]
  (run with /usr/bin/python3: Debian's python3-yaml)

Without kubectl it prints one SKIP line and exits 77 (ctest's
SKIP_RETURN_CODE). Checks of the rendered objects: the kinds; the
Deployment's probes (/livez, /readyz on the port of metrics.listen),
resources, non-root and read-only root filesystem with every capability
dropped and seccomp RuntimeDefault, enableServiceLinks false, a termination
grace longer than worker.grace_seconds, the ConfigMap mounted where --config
reads it (every key in it one of config/mdefleet.conf.example), a writable
/tmp, Secret references for AZURE_*, workload identity (pod label,
ServiceAccount annotation), Prometheus scrape annotations; a
PodDisruptionBudget selecting the pods; a KEDA ScaledObject whose kafka
trigger reads the workers' consumer group (worker/loop.c) on node.tasks with
the same brokers, at most node.tasks' partitions (config/topics) replicas.
Then the checker is shown to fail on renders broken on purpose.
Prints `deploy_k8s: N passed, M failed`; exits 1 on any failure.
"""
import copy
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from checks import Checks  # noqa: E402
import yaml  # noqa: E402

CHECKS = Checks("deploy_k8s")
ok = CHECKS.ok
GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class Facts:
    """What the checks compare with, read from the sources."""

    def __init__(self, src):
        with open(os.path.join(src, "config/mdefleet.conf.example")) as f:
            example = f.read()
        self.defaults = dict(re.findall(r"^#([a-z][\w.]*)=(.*)$", example, re.M))
        with open(os.path.join(src, "worker/loop.c")) as f:
            self.group = re.search(r'"group\.id", "([^"]+)"', f.read()).group(1)
        with open(os.path.join(src, "config/topics")) as f:
            rows = [ln.split() for ln in f if ln.strip() and not ln.startswith("#")]
        self.partitions = {r[0]: int(r[1]) for r in rows}


def parse_conf(text):
    conf = {}
    for ln in text.splitlines():
        ln = ln.strip()
        if ln and not ln.startswith("#") and "=" in ln:
            k, v = ln.split("=", 1)
            conf[k.strip()] = v.strip()
    return conf


def by_kind(objs):
    kinds = {}
    for o in objs:
        kinds.setdefault(o.get("kind"), []).append(o)
    return kinds


def check(objs, facts):
    """The problems of one render (empty: none)."""
    bad = []
    kinds = by_kind(objs)
    for k in ("ServiceAccount", "ConfigMap", "Deployment", "PodDisruptionBudget", "ScaledObject"):
        if len(kinds.get(k, [])) != 1:
            bad.append("%d %s objects, not 1" % (len(kinds.get(k, [])), k))
    if bad:
        return bad
    dep, cm = kinds["Deployment"][0], kinds["ConfigMap"][0]
    sa, pdb, so = kinds["ServiceAccount"][0], kinds["PodDisruptionBudget"][0], kinds["ScaledObject"][0]
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    labels = pod["metadata"].get("labels", {})
    annotations = pod["metadata"].get("annotations", {})
    if len(spec["containers"]) != 1:
        return bad + ["%d containers, not 1" % len(spec["containers"])]
    c = spec["containers"][0]

    # the configuration: mounted where --config reads it, known keys only
    args = c.get("args", [])
    path = args[args.index("--config") + 1] if "--config" in args[:-1] else None
    conf = None
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        v = vols.get(m["name"], {})
        if path and v.get("configMap", {}).get("name") == cm["metadata"]["name"]:
            key = os.path.relpath(path, m["mountPath"])
            conf = cm.get("data", {}).get(key)
    if conf is None:
        bad.append("--config %s is not a key of the ConfigMap mounted there" % path)
        conf = ""
    conf = parse_conf(conf)
    for k in conf:
        if k not in facts.defaults and not k.startswith("kafka."):
            bad.append("mdefleet.conf: unknown key %s" % k)
    setting = {**facts.defaults, **conf}

    # probes and metrics on the port of metrics.listen
    listen = setting.get("metrics.listen", "")
    mport = int(listen.rsplit(":", 1)[1]) if re.fullmatch(r".*:\d+", listen) else None
    if not mport:
        bad.append("metrics.listen %r: no port" % listen)
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    for probe, want in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        g = c.get(probe, {}).get("httpGet", {})
        port = ports.get(g.get("port"), g.get("port"))
        if g.get("path") != want or port != mport:
            bad.append("%s: %s on port %s, not %s on %s" % (probe, g.get("path"), port, want, mport))
    scrape = (annotations.get("prometheus.io/scrape"), annotations.get("prometheus.io/port"),
              annotations.get("prometheus.io/path"))
    if scrape != ("true", str(mport), "/metrics"):
        bad.append("scrape annotations %s, not true, %s, /metrics" % (scrape, mport))

    # resources and hardening
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(part, {}):
                bad.append("resources.%s.%s missing" % (part, r))
    psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
        bad.append("runAsNonRoot not set")
    if 0 in (psc.get("runAsUser"), csc.get("runAsUser")):
        bad.append("runAsUser 0")
    if csc.get("readOnlyRootFilesystem") is not True:
        bad.append("readOnlyRootFilesystem not true")
    if csc.get("allowPrivilegeEscalation") is not False:
        bad.append("allowPrivilegeEscalation not false")
    if csc.get("capabilities", {}).get("drop") != ["ALL"]:
        bad.append("capabilities not drop [ALL]")
    seccomp = csc.get("seccompProfile") or psc.get("seccompProfile") or {}
    if seccomp.get("type") != "RuntimeDefault":
        bad.append("seccompProfile not RuntimeDefault")
    tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    if not tmp or "emptyDir" not in vols.get(tmp[0]["name"], {}):
        bad.append("no writable emptyDir on /tmp")
    if spec.get("enableServiceLinks") is not False:
        bad.append("enableServiceLinks not false")
    grace = int(setting["worker.grace_seconds"])
    if not spec.get("terminationGracePeriodSeconds", 30) > grace:
        bad.append("terminationGracePeriodSeconds %s not > worker.grace_seconds %d"
                   % (spec.get("terminationGracePeriodSeconds"), grace))

    # Azure: Secret references, workload identity
    env = {e["name"]: e for e in c.get("env", [])}
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        if not env.get(name, {}).get("valueFrom", {}).get("secretKeyRef", {}).get("name"):
            bad.append("%s: no secretKeyRef" % name)
    for name, e in env.items():
        if name.startswith(("AZURE_", "MDEFLEET_KAFKA_SASL")) and "value" in e:
            bad.append("%s: a literal value, not a Secret reference" % name)
    if labels.get("azure.workload.identity/use") != "true":
        bad.append('pod label azure.workload.identity/use is not "true"')
    if spec.get("serviceAccountName") != sa["metadata"]["name"]:
        bad.append("serviceAccountName %s is not the ServiceAccount" % spec.get("serviceAccountName"))
    cid = sa["metadata"].get("annotations", {}).get("azure.workload.identity/client-id", "")
    if not GUID.fullmatch(cid):
        bad.append("ServiceAccount: azure.workload.identity/client-id %r not a GUID" % cid)
    if setting.get("auth.method") != "workload_identity":
        bad.append("auth.method %s, not workload_identity" % setting.get("auth.method"))

    # the PodDisruptionBudget and KEDA
    sel = pdb["spec"].get("selector", {}).get("matchLabels", {})
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        bad.append("PodDisruptionBudget selects %s, not the pods" % sel)
    if "minAvailable" not in pdb["spec"] and "maxUnavailable" not in pdb["spec"]:
        bad.append("PodDisruptionBudget: no minAvailable or maxUnavailable")
    if so.get("apiVersion") != "keda.sh/v1alpha1":
        bad.append("ScaledObject apiVersion %s" % so.get("apiVersion"))
    ss = so["spec"]
    if ss.get("scaleTargetRef", {}).get("name") != dep["metadata"]["name"]:
        bad.append("ScaledObject scales %s" % ss.get("scaleTargetRef"))
    trig = [t for t in ss.get("triggers", []) if t.get("type") == "kafka"]
    topic = setting["topics.prefix"] + setting["topics.node.tasks"]
    group = setting.get("kafka.group.id", facts.group)
    md = trig[0].get("metadata", {}) if len(trig) == 1 else {}
    if md.get("topic") != topic or md.get("consumerGroup") != group:
        bad.append("kafka trigger on %s/%s, not %s/%s" % (md.get("topic"), md.get("consumerGroup"),
                                                          topic, group))
    if md.get("bootstrapServers") != setting.get("kafka.bootstrap.servers"):
        bad.append("kafka trigger brokers %s, not mdefleet.conf's" % md.get("bootstrapServers"))
    if not re.fullmatch(r"[1-9]\d*", str(md.get("lagThreshold", ""))):
        bad.append("kafka trigger lagThreshold %r" % md.get("lagThreshold"))
    lo, hi = ss.get("minReplicaCount", 0), ss.get("maxReplicaCount", 100)
    parts = facts.partitions.get(setting["topics.node.tasks"], 0)
    if not 1 <= lo <= hi <= parts:
        bad.append("replicas %s..%s, not within 1..%d (node.tasks' partitions)" % (lo, hi, parts))
    return bad


def main():
    src = sys.argv[1]
    kubectl = sys.argv[2] if len(sys.argv) > 2 else shutil.which("kubectl")
    if not kubectl or not os.access(kubectl, os.X_OK):
        print("SKIP: kubectl is not installed (scripts/deps.sh installs it where the "
              "package sources have it), so deploy/k8s cannot be rendered")
        return 77
    p = subprocess.run([kubectl, "kustomize", os.path.join(src, "deploy/k8s")],
                       capture_output=True, text=True, timeout=120)
    if not ok(p.returncode == 0, "kubectl kustomize deploy/k8s exits 0", p.stderr.splitlines()[-5:]):
        return CHECKS.finish()
    objs = [o for o in yaml.safe_load_all(p.stdout) if o]
    facts = Facts(src)
    ok(facts.group == "mdefleet-worker" and facts.partitions.get("node.tasks"),
       "the consumer group and partitions read from the sources")
    bad = check(objs, facts)
    ok(not bad, "the rendered objects", bad)

    def kind(d, k):
        return [o for o in d if o["kind"] == k][0]

    def pod(d):
        return kind(d, "Deployment")["spec"]["template"]

    def ctr(d):
        return pod(d)["spec"]["containers"][0]

    def trigger(d):
        return kind(d, "ScaledObject")["spec"]["triggers"][0]["metadata"]

    faults = {
        "no PodDisruptionBudget": lambda d: d.remove(kind(d, "PodDisruptionBudget")),
        "liveness on /readyz": lambda d: ctr(d)["livenessProbe"]["httpGet"].update(path="/readyz"),
        "readiness on another port": lambda d: ctr(d)["readinessProbe"]["httpGet"].update(port=8080),
        "service links": lambda d: pod(d)["spec"].update(enableServiceLinks=True),
        "a short grace": lambda d: pod(d)["spec"].update(terminationGracePeriodSeconds=30),
        "a writable root": lambda d: ctr(d)["securityContext"].update(readOnlyRootFilesystem=False),
        "capabilities kept": lambda d: ctr(d)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        "no seccomp": lambda d: pod(d)["spec"]["securityContext"].pop("seccompProfile"),
        "root": lambda d: pod(d)["spec"]["securityContext"].update(runAsUser=0),
        "no memory limit": lambda d: ctr(d)["resources"]["limits"].pop("memory"),
        "a literal secret": lambda d: ctr(d)["env"].__setitem__(
            2, {"name": "AZURE_CLIENT_SECRET", "value": "s3cret"}),
        "no workload identity label": lambda d: pod(d)["metadata"]["labels"].pop(
            "azure.workload.identity/use"),
        "no client id": lambda d: kind(d, "ServiceAccount")["metadata"].pop("annotations"),
        "no scrape annotations": lambda d: pod(d)["metadata"].pop("annotations"),
        "KEDA on another topic": lambda d: trigger(d).update(topic="mde.scan.jobs"),
        "KEDA on another group": lambda d: trigger(d).update(consumerGroup="mdefleet"),
        "KEDA on other brokers": lambda d: trigger(d).update(bootstrapServers="kafka:9092"),
        "more replicas than partitions": lambda d: kind(d, "ScaledObject")["spec"].update(
            maxReplicaCount=13),
        "an unknown config key": lambda d: kind(d, "ConfigMap")["data"].update({
            "mdefleet.conf": kind(d, "ConfigMap")["data"]["mdefleet.conf"] + "worker.grace=1\n"}),
        "a grace_seconds above the pod's grace": lambda d: kind(d, "ConfigMap")["data"].update({
            "mdefleet.conf": kind(d, "ConfigMap")["data"]["mdefleet.conf"]
            + "worker.grace_seconds=60\n"}),
        "the config not mounted": lambda d: ctr(d).update(args=["--config", "/etc/other.conf"]),
        "no /tmp": lambda d: ctr(d).update(volumeMounts=ctr(d)["volumeMounts"][:1]),
    }
    for what, edit in faults.items():
        d = copy.deepcopy(objs)
        edit(d)
        ok(check(d, facts), "the checker fails on %s" % what)
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
