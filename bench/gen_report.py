#!/usr/bin/python3
"""Generate a large, realistic MDE report (mde-agent-information.json) for
bench/run.sh.

Usage: /usr/bin/python3 bench/gen_report.py OUT [--scans N] [--threats N] [--seed S]

Standard library only; the output depends only on the arguments (fixed seed).

Shape (see /work/shared/reference/mde-report.md, sections 1, 2, 5, 6):
  diagnosticInformation{realTimeProtectionStats, eventProviderStats},
  mdeDefinitions, generalHealth (camelCase, wrapped
  {"displayValue","isManaged","value"} settings, int64 values as strings),
  mdeConfiguration, scanList (camelCase, int64 values as strings),
  threatInformation{list:{threats:{scans:[...]}}, quarantineList}.

threatInformation.list.threats.scans holds the same scans as scanList, in
the same order, in snake_case with real numbers, so a parser that merges the
two lists by type + start time has real work to do. The threat entries
({"threat":{tracking_id,name,type},"detection_time","history"}) are spread
over those scans; quarantineList repeats the entries whose latest history
value is "quarantined".

Layout: jq-style pretty printing (2-space indent, '": "' after keys), except
that every element of the two scan arrays is written on one line (with
jq-like ", " / ": " separators inside). Fully pretty-printed, the default
200,000 scans / 20,000 threats come to about 95 MB, above mdefleet-report's
default 64 MiB input cap; one scan per line puts the defaults at about
63 MB, between 60 MB and 64 MiB, while keeping the same number of JSON
values to parse.
"""

import argparse
import json
import os
import random
import sys
import uuid

MIB64 = 64 * 1024 * 1024

# 2015-01-01T00:00:00Z in ms: the first scan starts here.
EPOCH0_MS = 1420070400000

# (CARO name, threat.type, weight). Names from Defender signature dumps
# (reference section 4); the old-style EICAR name is accepted too.
THREAT_NAMES = [
    ("Virus:DOS/EICAR_Test_File", "virus", 30),
    ("EICAR-Test-File (not a virus)", "virus", 2),
    ("Backdoor:Linux/Mirai.IJ!MTB", "virus", 10),
    ("Trojan:Linux/Mirai.B!xp", "virus", 8),
    ("DDoS:Linux/Mirai.KA!MTB", "virus", 6),
    ("Trojan:Linux/Xorddos.A!xp", "virus", 9),
    ("Backdoor:Linux/XorDDoSRootkit.A", "virus", 4),
    ("Backdoor:Linux/Tsunami.K!xp", "virus", 5),
    ("Trojan:Linux/CoinMiner.D!xp", "virus", 12),
    ("HackTool:Linux/Portscan.B!xp", "potentially_unwanted_application", 8),
    ("Trojan:Linux/MsfShellBin.F", "virus", 6),
]

# Threat histories: (sequence of values, weight). Keys are ms and increase.
# About 12 % end in "quarantined" and land in quarantineList as well.
HISTORIES = [
    (("detected", "quarantined", "removed"), 30),
    (("quarantined", "removed"), 14),
    (("detected", "removed"), 12),
    (("detected", "cleaned"), 10),
    (("detected", "quarantined"), 8),
    (("quarantined",), 4),
    (("detected",), 10),
    (("detected", "allowed"), 7),
    (("detected", "quarantined", "allowed"), 5),
]


def pretty(obj, depth):
    """jq-style pretty print, every line indented by 2*depth spaces.

    The first line carries no indent so it can follow a key or a comma."""
    pad = "  " * depth
    return json.dumps(obj, indent=2, ensure_ascii=False).replace("\n", "\n" + pad)


def wrapped(value, managed=False, display=True):
    return {"displayValue": display, "isManaged": managed, "value": value}


def make_scans(rng, n):
    """Chronological scans: mostly quick, some full, with gaps between."""
    scans = []
    t = EPOCH0_MS + rng.randrange(0, 3600 * 1000)
    for _ in range(n):
        if rng.random() < 0.12:
            kind = "full"
            duration = rng.randrange(30 * 60 * 1000, 180 * 60 * 1000)
            files = rng.randrange(150000, 950000)
        else:
            kind = "quick"
            duration = rng.randrange(40 * 1000, 75 * 1000)
            files = rng.randrange(1500, 2300)
        start = t
        end = start + duration
        scans.append((kind, start, end, files))
        t = end + rng.randrange(2 * 60 * 1000, 20 * 60 * 1000)
    return scans


def make_threat(rng, start, end, names, name_w, hists, hist_w):
    name, ttype = rng.choices(names, weights=name_w)[0]
    detection = rng.randrange(start, end + 1)
    seq = rng.choices(hists, weights=hist_w)[0]
    history = []
    key = detection
    for i, value in enumerate(seq):
        if i > 0:
            if value == "quarantined":
                key += rng.randrange(5, 2000)  # automatic remediation
            else:
                key += rng.randrange(60 * 1000, 3 * 86400 * 1000)  # operator
        history.append({"key": key, "value": value})
    tracking = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    entry = {
        "threat": {"tracking_id": tracking, "name": name, "type": ttype},
        "detection_time": detection,
        "history": history,
    }
    return entry, seq[-1] == "quarantined"


def small_sections(rng, last_ms, n_threats):
    rtp = {
        "counters": [
            {
                "id": 1000 + i,
                "name": name,
                "path": path,
                "total_files_scanned": str(rng.randrange(10**6, 10**9)),
                "total_scan_time": str(rng.randrange(10**7, 10**10)),
                "max_file_scan_time": str(rng.randrange(10**3, 10**6)),
                "scanned_file_paths": files,
                "is_active": active,
            }
            for i, (name, path, files, active) in enumerate([
                ("containerd", "/usr/bin/containerd", ["/var/lib/containerd/io.containerd.content.v1.content/blobs/sha256"], True),
                ("kubelet", "/usr/bin/kubelet", ["/var/lib/kubelet/pods"], True),
                ("dockerd", "/usr/bin/dockerd", ["/var/lib/docker/overlay2"], False),
                ("rsyslogd", "/usr/sbin/rsyslogd", ["/var/log/messages", "/var/log/secure"], True),
                ("python3", "/usr/bin/python3", ["/tmp"], False),
            ])
        ]
    }
    event_provider = {
        "ebpf": {
            "eventsReceived": str(rng.randrange(10**8, 10**10)),
            "eventsDropped": str(rng.randrange(0, 10**4)),
            "eventsFiltered": str(rng.randrange(10**6, 10**8)),
            "lastEventTime": str(last_ms),
        },
        "fanotify": {
            "eventsReceived": str(rng.randrange(10**8, 10**10)),
            "eventsDropped": "0",
            "permissionEventsTimedOut": str(rng.randrange(0, 100)),
        },
    }
    defs_version = "1.417.472.0"
    defs_updated = str(last_ms - 42 * 60 * 1000)
    definitions = {
        "$type": "getHealthDefinitionsResult",
        "definitionsVersion": defs_version,
        "definitionsUpdated": defs_updated,
        "definitionsUpdatedMinutesAgo": 42,
        "definitionsStatus": {"$type": "upToDate"},
        "engineVersion": "1.1.24080.4",
    }
    health = {
        "$type": "getHealthAllResult",
        "healthy": True,
        "healthIssues": [],
        "licensed": True,
        "appVersion": "101.24082.0004",
        "engineVersion": "1.1.24080.4",
        "definitionsVersion": defs_version,
        "definitionsUpdated": defs_updated,
        "definitionsUpdatedMinutesAgo": 42,
        "definitionsStatus": {"$type": "upToDate"},
        "productExpiration": str(last_ms + 280 * 86400 * 1000),
        "orgId": "11111111-2222-3333-4444-555555555555",
        "edrMachineId": "%040x" % rng.getrandbits(160),
        "machineGuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "edrConfigurationVersion": "30.199999.main.2024.09.10.04-9f0ab1c2",
        "logLevel": "info",
        "releaseRing": "Production",
        "realTimeProtectionAvailable": True,
        "realTimeProtectionSubsystem": "fanotify",
        "supplementaryEventsSubsystem": "ebpf",
        "networkProtectionStatus": "stopped",
        "conflictingApplications": [],
        "troubleshootingMode": False,
        "realTimeProtectionEnabled": wrapped(True, managed=True),
        "passiveModeEnabled": wrapped(False, managed=True),
        "behaviorMonitoring": wrapped("enabled", managed=True),
        "tamperProtection": wrapped("audit"),
        "cloudEnabled": wrapped(True, managed=True),
        "cloudDiagnosticEnabled": wrapped(False),
        "cloudAutomaticSampleSubmissionConsent": wrapped("safe"),
        "automaticDefinitionUpdateEnabled": wrapped(True, managed=True),
        "edrDeviceTags": wrapped([]),
        "edrGroupIds": wrapped(""),
        "edrEarlyPreviewEnabled": wrapped("disabled"),
        "networkProtectionEnforcementLevel": wrapped("disabled"),
        "functionalityMode": wrapped("full"),
        "managedBy": wrapped("MDE"),
        "proxy": wrapped(""),
        "telemetryClient": wrapped("enabled"),
    }
    configuration = {
        "antivirusEngine": {
            "enforcementLevel": "real_time",
            "behaviorMonitoring": "enabled",
            "scanArchives": True,
            "maximumOnDemandScanThreads": 2,
            "exclusionsMergePolicy": "merge",
            "exclusions": [
                {"$type": "excludedPath", "isDirectory": True, "path": "/var/lib/kubelet/pods"},
                {"$type": "excludedPath", "isDirectory": True, "path": "/var/lib/containerd"},
                {"$type": "excludedFileExtension", "extension": ".vhdx"},
                {"$type": "excludedFileName", "name": "etcd"},
            ],
            "allowedThreats": ["EICAR-Test-File (not a virus)"],
            "threatTypeSettingsMergePolicy": "merge",
            "threatTypeSettings": [
                {"key": "potentially_unwanted_application", "value": "block"},
                {"key": "archive_bomb", "value": "audit"},
            ],
        },
        "cloudService": {
            "enabled": True,
            "diagnosticLevel": "optional",
            "automaticSampleSubmissionConsent": "safe",
            "automaticDefinitionUpdateEnabled": True,
        },
        "features": {"behaviorMonitoring": "enabled"},
    }
    return rtp, event_provider, definitions, health, configuration


def generate(out, n_scans, n_threats, seed):
    rng = random.Random(seed)
    if n_threats > 0 and n_scans == 0:
        raise SystemExit("gen_report.py: --threats needs at least one scan")

    scans = make_scans(rng, n_scans)

    names = [(n, t) for n, t, _ in THREAT_NAMES]
    name_w = [w for _, _, w in THREAT_NAMES]
    hists = [h for h, _ in HISTORIES]
    hist_w = [w for _, w in HISTORIES]
    per_scan = {}
    quarantined = []
    for idx in sorted(rng.randrange(n_scans) for _ in range(n_threats)):
        kind, start, end, files = scans[idx]
        entry, in_quarantine = make_threat(rng, start, end, names, name_w, hists, hist_w)
        per_scan.setdefault(idx, []).append(entry)
        if in_quarantine:
            quarantined.append(entry)

    last_ms = scans[-1][2] if scans else EPOCH0_MS
    rtp, event_provider, definitions, health, configuration = small_sections(
        rng, last_ms, n_threats)

    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        w = f.write
        w("{\n")
        w('  "diagnosticInformation": {\n')
        w('    "realTimeProtectionStats": ' + pretty(rtp, 2) + ",\n")
        w('    "eventProviderStats": ' + pretty(event_provider, 2) + "\n")
        w("  },\n")
        w('  "mdeDefinitions": ' + pretty(definitions, 1) + ",\n")
        w('  "generalHealth": ' + pretty(health, 1) + ",\n")
        w('  "mdeConfiguration": ' + pretty(configuration, 1) + ",\n")

        # scanList: camelCase, keys in mdatp's (alphabetical) order, int64 as
        # strings, threats [] as in the Nexus example.
        w('  "scanList": [')
        sep = "\n"
        for kind, start, end, files in scans:
            w(sep)
            w('    {"endTime": "%d", "filesScanned": "%d", "startTime": "%d", '
              '"state": "succeeded", "threats": [], "type": "%s"}'
              % (end, files, start, kind))
            sep = ",\n"
        w("\n  ],\n" if scans else "],\n")

        # threatInformation.list: the same scans, snake_case, real numbers,
        # with the threat entries found during each scan.
        w('  "threatInformation": {\n')
        w('    "list": {\n')
        w('      "threats": {\n')
        w('        "scans": [')
        sep = "\n"
        for idx, (kind, start, end, files) in enumerate(scans):
            threats = per_scan.get(idx)
            w(sep)
            w('          {"type": "%s", "start_time": %d, "end_time": %d, '
              '"files_scanned": %d, "threats": %s, "state": "succeeded"}'
              % (kind, start, end, files,
                 json.dumps(threats, ensure_ascii=False) if threats else "[]"))
            sep = ",\n"
        w("\n        ]\n" if scans else "]\n")
        w("      }\n")
        w("    },\n")
        quarantine = {"type": "quarantined", "threats": quarantined}
        w('    "quarantineList": ' + pretty(quarantine, 2) + "\n")
        w("  }\n")
        w("}\n")
    os.replace(tmp, out)
    return len(quarantined)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output path (written atomically)")
    ap.add_argument("--scans", type=int, default=200000,
                    help="scan entries in scanList and in the threat list (default 200000)")
    ap.add_argument("--threats", type=int, default=20000,
                    help="threat entries spread over the scans (default 20000)")
    ap.add_argument("--seed", type=int, default=20240917,
                    help="random seed (default 20240917)")
    args = ap.parse_args()
    if args.scans < 0 or args.threats < 0:
        ap.error("--scans and --threats must be >= 0")

    n_quarantined = generate(args.out, args.scans, args.threats, args.seed)
    size = os.path.getsize(args.out)
    note = "" if size <= MIB64 else " (WARNING: above the 64 MiB default input cap)"
    print("%s: %d bytes (%.1f MB, %.1f MiB), %d scans, %d threats, %d quarantined%s"
          % (args.out, size, size / 1e6, size / 1048576.0, args.scans,
             args.threats, n_quarantined, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
