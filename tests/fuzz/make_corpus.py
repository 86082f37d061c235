#!/usr/bin/python3
"""Seed corpora and dictionaries of the fuzz harnesses (tests/fuzz/README.md),
made from the tests' own data at build time, so that no sample is kept twice.

usage: make_corpus.py SOURCE_DIR OUT_DIR

Writes OUT_DIR/corpus/<harness>/<sha1 of the seed> and OUT_DIR/dict/<harness>.dict
(replacing what an earlier run wrote). The seeds come from tests/data/**
(reports, the ARM specification's examples, records, scenarios),
config/*.conf* and config/sim/*.json, the JSON and other string literals of
the unit tests (tests/test_*.c), for the codec the samples of
tests/interop_avro.py encoded with python3-avro, and the inputs kept in
tests/fuzz/found/<harness>/ (those that found a bug). The dictionaries are
tests/fuzz/*.dict plus the keys and short strings of the seeds and of the
code under test.
"""
import glob
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import sys
import tarfile
import warnings

HARNESSES = ["report", "tarball", "codec", "arm", "config", "url", "time", "scenario"]
ENTRY = "mde-agent-information.json"  # MDF_REPORT_ENTRY_NAME
ENTRY_PATH = "hostfs/tmp/runcommand/" + ENTRY  # where the extract puts it
MTIME = 1700000000  # fixed, so that the same data gives the same seeds

URL_RE = re.compile(r"https?://[^\s\"'<>)\]\\]+")
TIME_RE = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)?")
WORD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{1,47}$")


class Out:
    def __init__(self, root):
        self.root = root
        self.counts = {h: 0 for h in HARNESSES}
        self.words = {h: set() for h in HARNESSES}
        for sub in ("corpus", "dict"):
            shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
        for h in HARNESSES:
            os.makedirs(os.path.join(root, "corpus", h))
        os.makedirs(os.path.join(root, "dict"))

    def seed(self, harness, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        path = os.path.join(self.root, "corpus", harness, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.counts[harness] += 1

    def word(self, harness, w):
        if isinstance(w, str):
            w = w.encode("utf-8")
        if 0 < len(w) <= 64:
            self.words[harness].add(w)


# ---- reading the sources ----------------------------------------------------

def read(path, mode="r"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        return f.read()


C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'",
             "a": "\a", "b": "\b", "f": "\f", "v": "\v", "?": "?"}


def c_unescape(body):
    """The bytes of a C string literal's body: characters as UTF-8, escapes
    as the bytes they stand for."""
    out, i = bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        e = body[i + 1]
        if e == "x":
            m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        else:
            out += C_ESCAPES.get(e, e).encode("utf-8")
            i += 2
    return bytes(out)


def c_literals(path):
    """The string literals of a C file, adjacent ones joined as the compiler
    joins them; comments and character constants skipped."""
    text = read(path)
    tok = re.compile(r'/\*.*?\*/|//[^\n]*|\'(?:\\.|[^\\\'])*\'|"((?:\\.|[^\\"\n])*)"', re.S)
    lits, cur, last_end = [], None, 0
    for m in tok.finditer(text):
        if m.group(1) is None:
            continue
        between = text[last_end:m.start()]
        if cur is not None and between.strip() == "":
            cur.append(m.group(1))
        else:
            if cur is not None:
                lits.append("".join(cur))
            cur = [m.group(1)]
        last_end = m.end()
    if cur is not None:
        lits.append("".join(cur))
    return [c_unescape(s) for s in lits]


def json_objects(blobs):
    for b in blobs:
        s = b.strip()
        if s.startswith(b"{"):
            try:
                yield b, json.loads(s)
            except ValueError:
                pass


def walk_json(v, keys):
    """Keys and short string values of a JSON value, into keys."""
    if isinstance(v, dict):
        for k, x in v.items():
            if WORD_RE.match(k):
                keys.add(k)
            walk_json(x, keys)
    elif isinstance(v, list):
        for x in v:
            walk_json(x, keys)
    elif isinstance(v, str) and WORD_RE.match(v) and len(v) <= 32:
        keys.add(v)


def source_words(paths):
    """The identifier-like string literals of C sources (the JSON keys and
    enum strings the code looks for)."""
    words = set()
    for p in paths:
        for lit in c_literals(p):
            try:
                s = lit.decode("ascii")
            except UnicodeDecodeError:
                continue
            if WORD_RE.match(s) and not s.endswith(".h"):  # not the #includes
                words.add(s)
    return words


# ---- the harnesses -----------------------------------------------------------

def tgz(members):
    """A tar.gz of (path, data or None for a folder) in order, as bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for path, data in members:
            info = tarfile.TarInfo(path)
            info.mtime = MTIME
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                t.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def reports(src, out):
    seeds = [read(os.path.join(src, "tests/data", n), "rb")
             for n in ("sample-report.json", "nexus-doc-example.json")]
    seeds += [b for b, _ in json_objects(c_literals(os.path.join(src, "tests/test_report.c")))]
    for s in seeds:
        out.seed("report", s)
        walk_json(json.loads(s), out.words["report"])
    for w in source_words([os.path.join(src, "lib/mde/report.c")]):
        out.word("report", w)
    # the archive: as the extract writes it, and shapes the reader must sort out
    for s in seeds[:2]:
        dirs = [("hostfs/", None), ("hostfs/tmp/", None), ("hostfs/tmp/runcommand/", None)]
        out.seed("tarball", tgz(dirs + [(ENTRY_PATH, s)]))
        out.seed("tarball", tgz([("other.txt", b"x" * 700), (ENTRY, s)]))
        out.seed("tarball", tgz([("hostfs/" + ENTRY + "/", None), ("a/" + ENTRY, s)]))
        out.seed("tarball", tgz([(ENTRY_PATH + ".bak", s[:100]), (ENTRY_PATH, s), (ENTRY, b"{}")]))
        out.seed("report", tgz(dirs + [(ENTRY_PATH, s)]))
    out.seed("tarball", tgz([("empty/", None)]))
    out.seed("tarball", tgz([(ENTRY, b"")]))
    for w in (ENTRY, ENTRY_PATH, "hostfs/", "ustar", "ustar  ", "././@LongLink", b"\x1f\x8b\x08"):
        out.word("tarball", w)


def codec(src, out):
    sys.path.insert(0, os.path.join(src, "tests"))
    warnings.simplefilter("ignore")
    import avro.schema  # python3-avro, as tests/interop_avro.py uses
    import interop_avro as ia
    for i, name in enumerate(ia.TYPES):
        text = read(os.path.join(src, "schemas", name + ".avsc"))
        sch = avro.schema.parse(text)
        walk_json(json.loads(text), out.words["codec"])
        fp = struct.pack("<Q", ia.crc64(ia.canonical(json.loads(text)).encode("utf-8")))
        out.word("codec", b"\xc3\x01" + fp)
        pick = bytes([i])  # the harness's first byte: the record type
        for rec in ia.FULL[name] + [ia.MINIMAL[name]]:
            out.seed("codec", pick + json.dumps(rec).encode("utf-8"))
            if rec is ia.MINIMAL[name]:
                rec = ia.with_defaults(sch, rec)
            body = ia.py_encode(sch, ia.to_py(sch, rec))
            out.seed("codec", pick + b"\xc3\x01" + fp + body)
            out.seed("codec", pick + b"\x00\x00\x00\x10\x92" + body)
    # the unit tests' JSON records, as each type (the harness finds which fit)
    for b, _ in json_objects(c_literals(os.path.join(src, "tests/test_codec.c"))):
        for i in range(len(ia.TYPES)):
            out.seed("codec", bytes([i]) + b)
    out.word("codec", b"\x00\x00\x00\x00\x01")


def arm(src, out):
    for path in sorted(glob.glob(os.path.join(src, "tests/data/arm-examples/*.json"))):
        raw = read(path, "rb")
        doc = json.loads(raw)
        out.seed("arm", raw)
        walk_json(doc, out.words["arm"])
        # the payloads themselves: what the decoders are given
        for resp in doc.get("responses", {}).values():
            if isinstance(resp, dict) and "body" in resp:
                out.seed("arm", json.dumps(resp["body"], indent=2))
        for v in doc.get("parameters", {}).values():
            if isinstance(v, dict):
                out.seed("arm", json.dumps(v))
    for b, v in json_objects(c_literals(os.path.join(src, "tests/test_arm_decode.c"))):
        out.seed("arm", b)
        walk_json(v, out.words["arm"])
    # more shapes of JSON for the reader: the records of the JSON topics
    for path in sorted(glob.glob(os.path.join(src, "tests/data/records/*.jsonl"))):
        for line in read(path, "rb").splitlines()[:3]:
            out.seed("arm", line)
    for w in source_words([os.path.join(src, "lib/azure/arm_decode.c")]):
        out.word("arm", w)


def config(src, out):
    example = read(os.path.join(src, "config/mdefleet.conf.example"))
    out.seed("config", example)
    # every setting at its default, uncommented, together and one by one
    lines = [m.group(1) for m in re.finditer(r"^#([a-z][a-z0-9_.-]*=.*)$", example, re.M)]
    out.seed("config", "\n".join(lines) + "\n")
    for line in lines:
        out.seed("config", line + "\n")
        key, _, value = line.partition("=")
        out.word("config", key + "=")
        out.word("config", value)
    for lit in c_literals(os.path.join(src, "tests/test_config.c")):
        if b"=" in lit and not lit.startswith(b"%"):
            out.seed("config", lit)
    for w in ("kafka.", "true", "false", "yes", "no", "#", " = ", "\r\n", "*.", "http://",
              "https://", "127.0.0.1", ":0"):
        out.word("config", w)


def texts(src):
    """Every text the URL and time seeds are looked for in."""
    # not tests/data/ocsf: the OCSF schema's links are not URLs mdefleet meets
    paths = sorted(p for p in glob.glob(os.path.join(src, "tests/data/**/*.json*"), recursive=True)
                   if "/ocsf/" not in p)
    paths += sorted(glob.glob(os.path.join(src, "config/*.conf*")))
    paths += sorted(glob.glob(os.path.join(src, "config/sim/*.json")))
    for p in paths:
        yield read(p)
    for p in sorted(glob.glob(os.path.join(src, "tests/test_*.c"))):
        for lit in c_literals(p):
            yield lit.decode("utf-8", errors="replace")


def urls_times(src, out):
    for text in texts(src):
        for m in URL_RE.finditer(text):
            out.seed("url", m.group(0))
        for m in TIME_RE.finditer(text):
            out.seed("time", m.group(0))


def scenarios(src, out):
    paths = sorted(glob.glob(os.path.join(src, "tests/data/sim/*.json")))
    paths += sorted(glob.glob(os.path.join(src, "config/sim/*.json")))
    for p in paths:
        raw = read(p, "rb")
        out.seed("scenario", raw)
        walk_json(json.loads(raw), out.words["scenario"])
    for w in source_words([os.path.join(src, "sim/scenario.c")]):
        out.word("scenario", w)


# ---- dictionaries ------------------------------------------------------------

def dict_entry(w):
    s = "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else "\\x%02x" % b
                for b in w)
    return '"%s"' % s


def write_dicts(src, out):
    base = {"report": "json", "arm": "json", "codec": "json", "scenario": "json",
            "tarball": None, "config": None, "url": "url", "time": "time"}
    for h in HARNESSES:
        parts = []
        if base[h]:
            parts.append(read(os.path.join(src, "tests/fuzz", base[h] + ".dict")).rstrip("\n"))
        if out.words[h]:
            parts.append("# from the seeds and the code under test (make_corpus.py)")
            # JSON harnesses: a key is most useful with its quotes
            quote = base[h] == "json"
            words = sorted({w.encode("utf-8") if isinstance(w, str) else w for w in out.words[h]})
            parts += [dict_entry(b'"' + w + b'"' if quote else w) for w in words]
        with open(os.path.join(out.root, "dict", h + ".dict"), "w", encoding="ascii") as f:
            f.write("\n".join(parts) + "\n")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    src, root = sys.argv[1], sys.argv[2]
    out = Out(root)
    reports(src, out)
    codec(src, out)
    arm(src, out)
    config(src, out)
    urls_times(src, out)
    scenarios(src, out)
    # inputs that once found a bug: seeds from then on, so every run retries them
    for h in HARNESSES:
        for path in sorted(glob.glob(os.path.join(src, "tests/fuzz/found", h, "*"))):
            out.seed(h, read(path, "rb"))
    write_dicts(src, out)
    empty = [h for h in HARNESSES if out.counts[h] == 0]
    if empty:
        print("make_corpus: no seeds for %s" % ", ".join(empty), file=sys.stderr)
        return 1
    print("make_corpus: " + ", ".join("%s %d" % (h, out.counts[h]) for h in HARNESSES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
