"""One adapter per third-party client, all with the same three operations:

    create_topic(bootstrap, topic, partitions)
    produce(bootstrap, topic, compression, spec) -> [(partition, offset)] per spec record (None if unknown)
    consume(bootstrap, topic, partitions, count, timeout) -> [Rec] ordered by (partition, offset)

A spec record is a dict {"p": partition or None, "k": key str or None, "v": value str, "h": [[name, value]]}.
Consumption is always by explicit partition assignment from the beginning, never through a consumer group.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPS = HERE / ".deps"
JAVA_CP = f"{DEPS / 'classes'}:{DEPS / 'lib'}/*"
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@dataclass
class Rec:
    p: int
    o: int
    k: str | None
    v: str
    h: list = field(default_factory=list)

    @staticmethod
    def from_json(d: dict) -> "Rec":
        return Rec(d["p"], d["o"], d["k"], d["v"], [list(x) for x in d.get("h") or []])


class ClientError(AssertionError):
    pass


def _run(cmd: list[str], what: str, stdin: str = "", timeout: float = 120.0, env=None) -> str:
    try:
        out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise ClientError(f"{what}: timed out after {timeout}s: {' '.join(cmd)}\nstdout:\n{e.stdout}\n"
                          f"stderr:\n{e.stderr}") from None
    if out.returncode != 0:
        raise ClientError(f"{what}: exit status {out.returncode}: {' '.join(cmd)}\nstderr:\n{out.stderr[-6000:]}"
                          f"\nstdout:\n{out.stdout[-2000:]}")
    return out.stdout


def _b(s: str | None) -> bytes | None:
    return None if s is None else s.encode()


def _s(b: bytes | None) -> str | None:
    return None if b is None else bytes(b).decode()


# ------------------------------------------------------------------------------------------------------
class ConfluentKafka:
    name = "confluent-kafka"
    codecs = CODECS

    def create_topic(self, bootstrap, topic, partitions):
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "confluent-kafka"})
        fut = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=20, request_timeout=20)
        fut[topic].result(timeout=30)
        _wait_partitions(lambda: len(admin.list_topics(topic, timeout=5).topics[topic].partitions), partitions,
                         topic)

    def produce(self, bootstrap, topic, compression, spec, extra=None):
        from confluent_kafka import Producer

        conf = {"bootstrap.servers": bootstrap, "client.id": "confluent-kafka", "acks": "all", "compression.type": compression,
                "linger.ms": 5, "message.timeout.ms": 30000}
        conf.update(extra or {})
        p = Producer(conf)
        results: list = [None] * len(spec)
        errors = []

        def cb(i):
            def done(err, msg):
                if err is not None:
                    errors.append(f"record {i}: {err}")
                else:
                    results[i] = (msg.partition(), msg.offset())
            return done

        for i, r in enumerate(spec):
            kw = {"value": _b(r["v"]), "key": _b(r["k"]), "headers": [(k, _b(v)) for k, v in r["h"]],
                  "on_delivery": cb(i)}
            if r["p"] is not None:
                kw["partition"] = r["p"]
            p.produce(topic, **kw)
            p.poll(0)
        left = p.flush(60)
        if left or errors:
            raise ClientError(f"confluent-kafka produce: {left} undelivered, errors: {errors[:5]}")
        return results

    def consume(self, bootstrap, topic, partitions, count, timeout=60.0):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        # confluent-kafka (Python) refuses to build a Consumer without group.id, even for assign();
        # the group is never joined (no subscribe) and nothing is committed.
        c = Consumer({"bootstrap.servers": bootstrap, "client.id": "confluent-kafka", "group.id": f"interop-unused-{uuid.uuid4().hex[:8]}",
                      "enable.auto.commit": False, "enable.auto.offset.store": False,
                      "enable.partition.eof": False})
        got = []
        try:
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
            deadline = time.monotonic() + timeout
            while len(got) < count and time.monotonic() < deadline:
                for m in c.consume(num_messages=500, timeout=0.5):
                    if m.error():
                        raise ClientError(f"confluent-kafka consume: {m.error()}")
                    got.append(Rec(m.partition(), m.offset(), _s(m.key()), _s(m.value()),
                                   [[k, _s(v)] for k, v in (m.headers() or [])]))
        finally:
            c.close()
        return _sorted_or_fail(self.name, got, count)


# ------------------------------------------------------------------------------------------------------
class KafkaPython:
    name = "kafka-python"
    codecs = CODECS

    def create_topic(self, bootstrap, topic, partitions):
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kafka-python", request_timeout_ms=20000)
        try:
            admin.create_topics([NewTopic(name=topic, num_partitions=partitions, replication_factor=1)],
                                timeout_ms=20000)
            _wait_partitions(lambda: len(admin.describe_topics([topic])[0]["partitions"]), partitions, topic)
        finally:
            admin.close()

    def produce(self, bootstrap, topic, compression, spec):
        from kafka import KafkaProducer

        p = KafkaProducer(bootstrap_servers=bootstrap, client_id="kafka-python", acks="all",
                          compression_type=None if compression == "none" else compression,
                          linger_ms=5, request_timeout_ms=20000, max_in_flight_requests_per_connection=1)
        try:
            futs = [p.send(topic, value=_b(r["v"]), key=_b(r["k"]), partition=r["p"],
                           headers=[(k, _b(v)) for k, v in r["h"]]) for r in spec]
            p.flush(timeout=60)
            out = []
            for f in futs:
                md = f.get(timeout=60)
                out.append((md.partition, md.offset))
            return out
        finally:
            p.close(timeout=10)

    def consume(self, bootstrap, topic, partitions, count, timeout=60.0):
        from kafka import KafkaConsumer, TopicPartition

        c = KafkaConsumer(bootstrap_servers=bootstrap, client_id="kafka-python", group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest")
        got = []
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            deadline = time.monotonic() + timeout
            while len(got) < count and time.monotonic() < deadline:
                for tp, msgs in c.poll(timeout_ms=500).items():
                    for m in msgs:
                        got.append(Rec(m.partition, m.offset, _s(m.key), _s(m.value),
                                       [[k, _s(v)] for k, v in (m.headers or [])]))
        finally:
            c.close()
        return _sorted_or_fail(self.name, got, count)


# ------------------------------------------------------------------------------------------------------
class AioKafka:
    name = "aiokafka"
    codecs = CODECS

    def create_topic(self, bootstrap, topic, partitions):
        async def go():
            from aiokafka.admin import AIOKafkaAdminClient, NewTopic

            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="aiokafka", request_timeout_ms=20000)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(name=topic, num_partitions=partitions, replication_factor=1)],
                                          timeout_ms=20000)
                deadline = time.monotonic() + 20
                while True:
                    d = await admin.describe_topics([topic])
                    if len(d[0]["partitions"]) == partitions and d[0].get("error_code", 0) == 0:
                        break
                    if time.monotonic() > deadline:
                        raise ClientError(f"aiokafka: topic {topic} not visible with {partitions} partitions: {d}")
                    await asyncio.sleep(0.1)
            finally:
                await admin.close()
        asyncio.run(go())

    def produce(self, bootstrap, topic, compression, spec):
        async def go():
            from aiokafka import AIOKafkaProducer

            p = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="aiokafka", acks="all",
                                 compression_type=None if compression == "none" else compression,
                                 linger_ms=5, request_timeout_ms=20000)
            await p.start()
            try:
                futs = [await p.send(topic, value=_b(r["v"]), key=_b(r["k"]), partition=r["p"],
                                     headers=[(k, _b(v)) for k, v in r["h"]]) for r in spec]
                mds = [await f for f in futs]
                return [(md.partition, md.offset) for md in mds]
            finally:
                await p.stop()
        return asyncio.run(go())

    def consume(self, bootstrap, topic, partitions, count, timeout=60.0):
        async def go():
            from aiokafka import AIOKafkaConsumer, TopicPartition

            c = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="aiokafka", group_id=None, enable_auto_commit=False,
                                 auto_offset_reset="earliest")
            await c.start()
            got = []
            try:
                tps = [TopicPartition(topic, p) for p in range(partitions)]
                c.assign(tps)
                await c.seek_to_beginning(*tps)
                deadline = time.monotonic() + timeout
                while len(got) < count and time.monotonic() < deadline:
                    for tp, msgs in (await c.getmany(timeout_ms=500)).items():
                        for m in msgs:
                            got.append(Rec(m.partition, m.offset, _s(m.key), _s(m.value),
                                           [[k, _s(v)] for k, v in (m.headers or [])]))
            finally:
                await c.stop()
            return got
        return _sorted_or_fail(self.name, asyncio.run(go()), count)


# ------------------------------------------------------------------------------------------------------
class _JsonSubprocessClient:
    """Clients driven through a helper program speaking the JSON-lines protocol of java/src/Interop.java."""

    name = ""
    codecs = CODECS

    def cmd(self) -> list[str]:
        raise NotImplementedError

    def create_topic(self, bootstrap, topic, partitions):
        _run(self.cmd() + ["create-topic", bootstrap, topic, str(partitions)], f"{self.name} create-topic")

    def produce(self, bootstrap, topic, compression, spec):
        out = _run(self.cmd() + ["produce", bootstrap, topic, compression], f"{self.name} produce",
                   stdin="".join(json.dumps(r) + "\n" for r in spec))
        res = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(res) != len(spec):
            raise ClientError(f"{self.name} produce: {len(res)} acks for {len(spec)} records:\n{out}")
        return [(r["p"], r["o"]) for r in res]

    def consume(self, bootstrap, topic, partitions, count, timeout=60.0):
        out = _run(self.cmd() + ["consume", bootstrap, topic, str(partitions), str(count), str(int(timeout * 1000))],
                   f"{self.name} consume", timeout=timeout + 60)
        return [Rec.from_json(json.loads(line)) for line in out.splitlines() if line.strip()]


class JavaClient(_JsonSubprocessClient):
    name = "java"

    def cmd(self):
        return [shutil.which("java") or "java", "-Xmx256m", "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                f"-Dlog4j.configuration=file:{HERE / 'java' / 'log4j-client.properties'}",
                "-cp", JAVA_CP, "Interop"]


class KafkaJs(_JsonSubprocessClient):
    name = "kafkajs"
    # kafkajs 2.2.4 ships only GZIP; snappy/lz4/zstd need third-party codec packages
    # (kafkajs-snappy, kafkajs-lz4, ...), which this suite does not install.
    codecs = ["none", "gzip"]

    def cmd(self):
        return [shutil.which("node") or "node", str(HERE / "node" / "interop.js")]


# ------------------------------------------------------------------------------------------------------
class Kcat:
    """kcat (librdkafka). Headers given with -H apply to every record of one invocation, so `produce`
    runs one invocation per run of consecutive spec records sharing (partition, keyed?, headers)."""

    name = "kcat"
    codecs = CODECS
    KEY_DELIM = "|"

    def base(self, bootstrap):
        return [shutil.which("kcat") or "kcat", "-b", bootstrap, "-X", "socket.timeout.ms=20000", "-X", "client.id=kcat"]

    def create_topic(self, bootstrap, topic, partitions):
        # kcat has no admin API: create the topic with confluent-kafka's AdminClient.
        ConfluentKafka().create_topic(bootstrap, topic, partitions)  # (client.id confluent-kafka)

    def produce(self, bootstrap, topic, compression, spec):
        groups: list[tuple[tuple, list]] = []
        for r in spec:
            g = (r["p"], r["k"] is not None, json.dumps(r["h"]))
            if groups and groups[-1][0] == g:
                groups[-1][1].append(r)
            else:
                groups.append((g, [r]))
        for (p, keyed, hjson), recs in groups:
            cmd = self.base(bootstrap) + ["-P", "-t", topic, "-z", compression, "-X", "acks=all"]
            if p is not None:
                cmd += ["-p", str(p)]
            if keyed:
                cmd += ["-K", self.KEY_DELIM]
            for k, v in json.loads(hjson):
                cmd += ["-H", f"{k}={v}"]
            lines = []
            for r in recs:
                assert "\n" not in r["v"] and (r["k"] is None or self.KEY_DELIM not in r["k"])
                lines.append(f"{r['k']}{self.KEY_DELIM}{r['v']}" if keyed else r["v"])
            _run(cmd, "kcat produce", stdin="\n".join(lines) + "\n")
        return [None] * len(spec)

    def consume(self, bootstrap, topic, partitions, count, timeout=60.0):
        got = []
        for p in range(partitions):
            out = _run(self.base(bootstrap) + ["-C", "-t", topic, "-p", str(p), "-o", "beginning", "-e", "-J"],
                       "kcat consume", timeout=timeout)
            for line in out.splitlines():
                if not line.strip():
                    continue
                d = json.loads(line)
                hs = d.get("headers") or []
                got.append(Rec(d["partition"], d["offset"], d.get("key"), d.get("payload"),
                               [[hs[i], hs[i + 1]] for i in range(0, len(hs), 2)]))
        return _sorted_or_fail(self.name, got, count)


# ------------------------------------------------------------------------------------------------------
def _wait_partitions(fn, partitions, topic, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last == partitions:
                return
        except Exception as e:  # noqa: BLE001
            last = repr(e)
        time.sleep(0.1)
    raise ClientError(f"topic {topic} not visible with {partitions} partitions after {timeout}s (last: {last})")


def _sorted_or_fail(name, got, count):
    got.sort(key=lambda r: (r.p, r.o))
    if len(got) < count:
        raise ClientError(f"{name} consume: got {len(got)} of {count} records before the timeout; got: "
                          f"{[(r.p, r.o, r.v) for r in got][:50]}")
    return got


CLIENTS = {c.name: c for c in [Kcat(), ConfluentKafka(), KafkaPython(), AioKafka(), KafkaJs(), JavaClient()]}


# ------------------------------------------------------------------------------------------------------
def make_spec(tag: str, n: int = 36, uniform_headers: bool = False) -> list[dict]:
    """Keyed records (partition chosen by the client's partitioner), keyed and unkeyed records with an
    explicit partition, headers (incl. repeated names and none), non-ASCII text. Every value is unique and
    carries its sequence number. With uniform_headers (kcat), records are grouped so that one group shares
    (partition, keyed?, headers), keeping per-partition produce order = sequence order."""
    if uniform_headers:
        spec = []
        groups = [(None, True)] + [(p, False) for p in range(3)] + [(p, True) for p in range(3)]
        per = max(1, n // len(groups))
        for gi, (p, keyed) in enumerate(groups):
            for j in range(per):
                i = len(spec)
                spec.append({"p": p, "k": f"key-{j % 4}" if keyed else None,
                             "v": f"{tag} #{i:04d} wert-ü-{gi}", "h": [["client", "kcat"], ["tag", tag]]})
        return spec
    spec = []
    for i in range(n):
        kind = i % 4
        if kind == 0:       # keyed, partitioner decides
            p, k = None, f"key-{(i // 4) % 5}"
        elif kind == 1:     # unkeyed, explicit partition
            p, k = (i // 4) % 3, None
        elif kind == 2:     # keyed, explicit partition
            p, k = (i // 4 + 1) % 3, f"pk-{i}"
        else:               # unkeyed, explicit partition, no headers
            p, k = (i // 4 + 2) % 3, None
        h = [] if kind == 3 else [["seq", str(i)], ["tag", tag]] + ([["dup", "a"], ["dup", "b"]] if kind == 2 else [])
        spec.append({"p": p, "k": k, "v": f"{tag} #{i:04d} wert-ü-{kind}", "h": h})
    return spec


def check(spec: list[dict], acks: list, got: list[Rec], partitions: int):
    """Every spec record consumed exactly once with its key, value and headers; explicit partitions
    honoured; same key (partitioner-chosen) -> same partition; per-partition order = produce order;
    offsets strictly increasing per partition; acknowledged (partition, offset) match what was read."""
    problems = []
    by_value: dict[str, list[Rec]] = {}
    for r in got:
        by_value.setdefault(r.v, []).append(r)
    index = {r["v"]: i for i, r in enumerate(spec)}
    for v, rs in by_value.items():
        if v not in index:
            problems.append(f"unexpected record {rs[0]}")
        elif len(rs) > 1:
            problems.append(f"record {v!r} read {len(rs)} times at {[(r.p, r.o) for r in rs]}")
    key_part: dict[str, int] = {}
    for i, s in enumerate(spec):
        rs = by_value.get(s["v"])
        if not rs:
            problems.append(f"record #{i} {s['v']!r} (partition {s['p']}) missing")
            continue
        r = rs[0]
        if r.k != s["k"]:
            problems.append(f"record #{i}: key {r.k!r}, expected {s['k']!r}")
        if [list(x) for x in r.h] != [list(x) for x in s["h"]]:
            problems.append(f"record #{i}: headers {r.h!r}, expected {s['h']!r}")
        if s["p"] is not None and r.p != s["p"]:
            problems.append(f"record #{i}: partition {r.p}, expected {s['p']}")
        if not 0 <= r.p < partitions:
            problems.append(f"record #{i}: partition {r.p} out of range")
        if s["p"] is None and s["k"] is not None:
            if key_part.setdefault(s["k"], r.p) != r.p:
                problems.append(f"key {s['k']!r} in partitions {key_part[s['k']]} and {r.p}")
        if acks and acks[i] is not None and tuple(acks[i]) != (r.p, r.o):
            problems.append(f"record #{i}: acknowledged at {tuple(acks[i])}, read at {(r.p, r.o)}")
    for p in range(partitions):
        rs = [r for r in got if r.p == p and r.v in index]
        offs = [r.o for r in rs]
        if offs != sorted(offs) or len(set(offs)) != len(offs):
            problems.append(f"partition {p}: offsets not strictly increasing: {offs}")
        seqs = [index[r.v] for r in rs]
        if seqs != sorted(seqs):
            problems.append(f"partition {p}: records out of produce order: {seqs}")
    if problems:
        raise AssertionError(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:40]))
