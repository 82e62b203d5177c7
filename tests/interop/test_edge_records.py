"""Record shapes at the edges: null value (tombstone), null and empty keys, empty value, binary (non-UTF-8)
bytes, a 512 KiB value, headers with null and binary values, producer-set timestamps. Written by
confluent-kafka or kafka-python (with and without compression), read back by both with partition assignment."""
from __future__ import annotations

import os
import time
import uuid

import pytest

from clients import ConfluentKafka

TS = 1_600_000_000_123  # CreateTime set by the producer, ms

RECORDS = [
    # (key, value, headers, timestamp)
    (b"tomb", None, [], TS),
    (None, b"no key", [("h", b"v")], TS + 1),
    (b"", b"", [("empty", b"")], TS + 2),
    (b"bin\x00\xff\xfe", bytes(range(256)), [("bin", bytes(range(255, -1, -1))), ("null", None)], TS + 3),
    (b"big", os.urandom(512 * 1024), [("size", b"524288")], TS + 4),
    (b"after-big", b"still here", [], TS + 5),
]


def records_for(producer):
    if producer == "kafka-python":
        # kafka-python 3.0 refuses None header values ("All headers items must be (str, bytes) tuples")
        return [(k, v, [(hk, b"" if hv is None else hv) for hk, hv in h], ts) for k, v, h, ts in RECORDS]
    return RECORDS


def _produce_confluent(bootstrap, topic, compression):
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "client.id": "confluent-kafka", "acks": "all",
                  "compression.type": compression, "linger.ms": 5, "message.timeout.ms": 30000})
    errs = []
    for k, v, h, ts in records_for("confluent-kafka"):
        p.produce(topic, key=k, value=v, headers=h, timestamp=ts, partition=0,
                  on_delivery=lambda err, msg: err and errs.append(str(err)))
    assert p.flush(60) == 0 and not errs, errs


def _produce_kafka_python(bootstrap, topic, compression):
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, client_id="kafka-python", acks="all",
                      compression_type=None if compression == "none" else compression,
                      max_request_size=2 * 1024 * 1024)
    try:
        futs = [p.send(topic, key=k, value=v, headers=h, timestamp_ms=ts, partition=0) for k, v, h, ts in records_for("kafka-python")]
        p.flush(60)
        for f in futs:
            f.get(timeout=60)
    finally:
        p.close(timeout=10)


def _consume_confluent(bootstrap, topic):
    from confluent_kafka import OFFSET_BEGINNING, TIMESTAMP_CREATE_TIME, Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "client.id": "confluent-kafka",
                  "group.id": f"interop-unused-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    got = []
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + 60
        while len(got) < len(RECORDS) and time.monotonic() < deadline:
            for m in c.consume(num_messages=100, timeout=0.5):
                assert not m.error(), m.error()
                tstype, ts = m.timestamp()
                assert tstype == TIMESTAMP_CREATE_TIME, f"timestamp type {tstype}"
                got.append((m.key(), m.value(), [(k, v) for k, v in (m.headers() or [])], ts))
    finally:
        c.close()
    return got


def _consume_kafka_python(bootstrap, topic):
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, client_id="kafka-python", group_id=None,
                      enable_auto_commit=False, auto_offset_reset="earliest")
    got = []
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        deadline = time.monotonic() + 60
        while len(got) < len(RECORDS) and time.monotonic() < deadline:
            for msgs in c.poll(timeout_ms=500).values():
                for m in msgs:
                    assert m.timestamp_type == 0, f"timestamp type {m.timestamp_type}"
                    got.append((m.key, m.value, [(k, v) for k, v in (m.headers or [])], m.timestamp))
    finally:
        c.close()
    return got


PRODUCERS = {"confluent-kafka": _produce_confluent, "kafka-python": _produce_kafka_python}
CONSUMERS = {"confluent-kafka": _consume_confluent, "kafka-python": _consume_kafka_python}


@pytest.mark.parametrize("producer,compression", [("confluent-kafka", "none"), ("confluent-kafka", "zstd"),
                                                  ("kafka-python", "none"), ("kafka-python", "lz4")])
def test_edge_records(broker, topic_name, producer, compression):
    topic = topic_name()
    ConfluentKafka().create_topic(broker.bootstrap, topic, 1)
    PRODUCERS[producer](broker.bootstrap, topic, compression)
    expected = records_for(producer)
    for name, consume in CONSUMERS.items():
        got = consume(broker.bootstrap, topic)
        assert len(got) == len(expected), f"{name}: read {len(got)} of {len(expected)} records"
        for i, ((k, v, h, ts), (gk, gv, gh, gts)) in enumerate(zip(expected, got)):
            assert gk == k, f"{name} record {i}: key {gk!r:.80} != {k!r:.80}"
            assert gv == v, f"{name} record {i}: value differs ({None if gv is None else len(gv)} bytes read, " \
                            f"{None if v is None else len(v)} written)"
            assert gh == h, f"{name} record {i}: headers {gh!r:.200} != {h!r:.200}"
            assert gts == ts, f"{name} record {i}: timestamp {gts} != {ts}"
