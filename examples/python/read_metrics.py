#!/usr/bin/python3
"""Read the pipeline's metrics topics from Python, as a dashboard builder would.

Reads moe.wafer-metrics (the emulator's per-policy totals) and moe.predictor-metrics (the
predictor's live accuracy) with Debian's python3-confluent-kafka and python3-avro, decodes each
record with the released Avro schemas in the repository (single-object encoding: C3 01, the writer
schema's CRC-64-AVRO fingerprint, then the Avro body), and prints the latest record per key as two
tables. No Java involved.

    /usr/bin/python3 examples/python/read_metrics.py --bootstrap 127.0.0.1:19092

A record that is not single-object encoded, or whose writer schema is not a released version, is
counted and reported, not fatal. Exit 0 when it read records of both topics, 1 when it did not
within --timeout seconds, 2 for bad arguments or unreadable schemas.
"""
import argparse
import io
import json
import os
import sys
import time
import uuid

import avro.io
import avro.schema
from confluent_kafka import Consumer, KafkaException

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMAS = os.path.join(HERE, "..", "..", "schemas", "src", "main", "resources", "io", "expertcast",
                               "schemas", "released")
TOPICS = {"moe.wafer-metrics": "WaferMetrics", "moe.predictor-metrics": "PredictorMetrics"}

# CRC-64-AVRO (the Avro specification's "Schema Fingerprints"): the fingerprint of a schema's
# parsing canonical form.
EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def fingerprint(canonical):
    fp = EMPTY
    for b in canonical.encode("utf-8"):
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def canonical(schema, namespace=None, seen=None):
    """The Avro specification's Parsing Canonical Form, written out here: python3-avro 1.11's
    canonical_form wraps primitives ({"type": "string"}), which changes the fingerprint."""
    seen = set() if seen is None else seen
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return json.dumps(schema)
        full = schema if "." in schema or namespace is None else namespace + "." + schema
        return json.dumps(full)
    if isinstance(schema, list):
        return "[" + ",".join(canonical(s, namespace, seen) for s in schema) + "]"
    kind = schema["type"]
    if kind in PRIMITIVES:
        return json.dumps(kind)
    if kind in ("record", "error", "enum", "fixed"):
        name = schema["name"]
        ns = schema.get("namespace", namespace)
        full = name if "." in name or not ns else ns + "." + name
        ns = full.rsplit(".", 1)[0] if "." in full else None
        if full in seen:
            return json.dumps(full)
        seen.add(full)
        parts = ['"name":' + json.dumps(full), '"type":' + json.dumps("record" if kind == "error" else kind)]
        if kind in ("record", "error"):
            parts.append('"fields":[' + ",".join(
                '{"name":' + json.dumps(f["name"]) + ',"type":' + canonical(f["type"], ns, seen) + "}"
                for f in schema["fields"]) + "]")
        elif kind == "enum":
            parts.append('"symbols":' + json.dumps(schema["symbols"], separators=(",", ":")))
        else:
            parts.append('"size":' + str(int(schema["size"])))
        return "{" + ",".join(parts) + "}"
    if kind == "array":
        return '{"type":"array","items":' + canonical(schema["items"], namespace, seen) + "}"
    if kind == "map":
        return '{"type":"map","values":' + canonical(schema["values"], namespace, seen) + "}"
    return canonical(kind, namespace, seen)


def load_versions(schemas_dir, name):
    """Every released version of a record: {fingerprint: schema}, and the newest as the reader schema."""
    folder = os.path.join(schemas_dir, name)
    files = sorted((f for f in os.listdir(folder) if f.startswith("v") and f.endswith(".avsc")),
                   key=lambda f: int(f[1:-5]))
    if not files:
        raise ValueError("no released versions of %s in %s" % (name, folder))
    writers = {}
    schema = None
    for f in files:
        with open(os.path.join(folder, f), encoding="utf-8") as src:
            text = src.read()
        schema = avro.schema.parse(text)
        writers[fingerprint(canonical(json.loads(text)))] = schema
    return writers, schema


class Decoder:
    def __init__(self, schemas_dir, name):
        self.writers, self.reader = load_versions(schemas_dir, name)

    def decode(self, data):
        if data is None or len(data) < 10 or data[0] != 0xC3 or data[1] != 0x01:
            raise ValueError("not Avro single-object encoded")
        fp = int.from_bytes(data[2:10], "little")
        writer = self.writers.get(fp)
        if writer is None:
            raise ValueError("writer schema %016x is not a released version" % fp)
        return avro.io.DatumReader(writer, self.reader).read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))


def read(bootstrap, schemas_dir, timeout, idle):
    decoders = {topic: Decoder(schemas_dir, name) for topic, name in TOPICS.items()}
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "expertcast-python-example-" + uuid.uuid4().hex[:8],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    latest = {topic: {} for topic in TOPICS}
    problems = []
    try:
        consumer.subscribe(list(TOPICS))
        deadline = time.monotonic() + timeout
        last_record = None
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                if last_record is not None and time.monotonic() - last_record > idle and all(latest.values()):
                    break  # caught up with both topics
                continue
            if msg.error():
                problems.append("%s: %s" % (msg.topic(), msg.error()))
                continue
            last_record = time.monotonic()
            try:
                value = decoders[msg.topic()].decode(msg.value())
            except Exception as e:  # a record we cannot read is reported, never fatal
                problems.append("%s partition %d offset %d: %s" % (msg.topic(), msg.partition(), msg.offset(), e))
                continue
            key = msg.key().decode("utf-8", "replace") if msg.key() else ""
            latest[msg.topic()][key] = value
    finally:
        consumer.close()
    return latest, problems


def wafer_table(records):
    rows = sorted(records.values(), key=lambda r: (r["model"], ["base", "ep", "allo", "pred", "allo+pred"].index(r["policy"])
                                                   if r["policy"] in ("base", "ep", "allo", "pred", "allo+pred") else 9))
    base = {r["model"]: r["throughputTokensPerS"] for r in rows if r["policy"] == "base"}
    out = ["%-18s %-10s %8s %10s %8s %10s %8s" % ("model", "policy", "passes", "tokens/s", "vs base", "hops", "in time")]
    for r in rows:
        speed = r["throughputTokensPerS"] / base[r["model"]] if base.get(r["model"]) else float("nan")
        commands = r.get("prefetchUsed", 0) + r.get("prefetchLate", 0) + r.get("prefetchExpired", 0)
        in_time = "%.1f %%" % (100.0 * r["prefetchUsed"] / commands) if commands else "-"
        out.append("%-18s %-10s %8d %10.0f %7.2fx %10d %8s" % (r["model"], r["policy"], r["passes"],
                                                              r["throughputTokensPerS"], speed, r["hops"], in_time))
    return "\n".join(out)


def predictor_table(records):
    rows = sorted((r for r in records.values() if r.get("tag", "*") == "*"), key=lambda r: (r["model"], r["predictor"]))
    out = ["%-18s %-26s %3s %9s %9s %9s %9s" % ("model", "predictor", "n", "recall", "precision", "hit rate", "samples")]
    for r in rows:
        out.append("%-18s %-26s %3d %9.4f %9.4f %9.4f %9d" % (r["model"], r["predictor"], r["n"], r["recall"],
                                                            r["precision"], r["hitRate"], r["samples"]))
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers (default %(default)s)")
    p.add_argument("--schemas", default=DEFAULT_SCHEMAS, help="the released schemas folder (default: the repository's)")
    p.add_argument("--timeout", type=float, default=30, help="give up after this many seconds (default %(default)s)")
    p.add_argument("--idle", type=float, default=2, help="stop when no record came for this long (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the latest records as JSON instead of tables")
    args = p.parse_args(argv)
    try:
        latest, problems = read(args.bootstrap, args.schemas, args.timeout, args.idle)
    except (OSError, ValueError) as e:
        print("read_metrics: cannot load the schemas: %s" % e, file=sys.stderr)
        return 2
    except KafkaException as e:
        print("read_metrics: %s" % e, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(latest, indent=1, default=str))
    else:
        print("moe.wafer-metrics (latest per model/policy)")
        print(wafer_table(latest["moe.wafer-metrics"]))
        print()
        print("moe.predictor-metrics (latest per model/predictor, all requests)")
        print(predictor_table(latest["moe.predictor-metrics"]))
    for problem in problems:
        print("skipped: " + problem, file=sys.stderr)
    missing = [t for t, records in latest.items() if not records]
    if missing:
        print("read_metrics: no records on %s within %.0f s" % (", ".join(missing), args.timeout), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
