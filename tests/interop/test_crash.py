"""Crash safety: an idempotent confluent-kafka producer (acks=all) keeps writing numbered records while the
broker is SIGKILLed 3 times and restarted on the same data dir and port. Afterwards every acknowledged
record must be there exactly once, in order, at the offset it was acknowledged with; unacknowledged
records may be there at most once.

Runs against the streamlet target only (STREAMLET_INTEROP_CRASH_KAFKA=1 also runs it against Apache Kafka,
to validate the test itself)."""
from __future__ import annotations

import os
import time

import pytest

from clients import ConfluentKafka
from kafka_broker import KafkaBroker, StreamletBroker, free_port

PARTITIONS = 3
KILLS = 3


def _target():
    return os.environ.get("STREAMLET_INTEROP_TARGET", "streamlet")


@pytest.fixture
def crash_broker(request, tmp_path):
    t = _target()
    if t == "kafka" and os.environ.get("STREAMLET_INTEROP_CRASH_KAFKA") != "1":
        pytest.skip("crash test runs against streamlet (set STREAMLET_INTEROP_CRASH_KAFKA=1 for Apache Kafka)")
    if t == "kafka":
        b = KafkaBroker(workdir=tmp_path / "kafka")
    else:
        # pick the port ourselves so a restart can reuse it and the client reconnects to the same address
        b = StreamletBroker(workdir=tmp_path / "streamlet", port=free_port())
    request.node._interop_broker = b
    b.start()
    try:
        yield b
    finally:
        b.stop()


def test_acknowledged_records_survive_sigkill(crash_broker):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

    b = crash_broker
    topic = f"crash-{int(time.time())}"
    ConfluentKafka().create_topic(b.bootstrap, topic, PARTITIONS)

    acked: dict[int, tuple[int, int]] = {}  # record number -> (partition, offset)
    failed: dict[int, str] = {}
    fatal: list[str] = []

    def on_error(err):
        if err.fatal():
            fatal.append(str(err))

    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "message.timeout.ms": 120000, "request.timeout.ms": 10000,
                  "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
                  "topic.metadata.refresh.interval.ms": 1000, "error_cb": on_error})

    def cb(n):
        def done(err, msg):
            if err is None:
                acked[n] = (msg.partition(), msg.offset())
            else:
                failed[n] = str(err)
        return done

    sent = 0

    def produce_for(seconds, rate=2000):
        nonlocal sent
        end = time.monotonic() + seconds
        while time.monotonic() < end and not fatal:
            for _ in range(rate // 100):
                try:
                    p.produce(topic, value=f"rec-{sent:08d}".encode(), key=f"k{sent % 7}".encode(),
                              partition=sent % PARTITIONS, on_delivery=cb(sent))
                    sent += 1
                except BufferError:
                    break
            p.poll(0.01)

    timeline = []
    produce_for(1.5)
    for i in range(KILLS):
        before = len(acked)
        b.kill()
        timeline.append(f"kill {i + 1}: sent={sent} acked={before}")
        produce_for(0.3)          # records queued/in flight while the broker is down
        b.start()
        timeline.append(f"restart {i + 1}: {b.bootstrap}")
        produce_for(2.0)          # reconnect and keep writing
        assert not fatal, f"producer fatal error after restart {i + 1}: {fatal}; {timeline}"
    left = p.flush(120)
    timeline.append(f"end: sent={sent} acked={len(acked)} failed={len(failed)} unflushed={left}")
    assert not fatal, f"producer fatal error: {fatal}; {timeline}"
    assert left == 0, f"{left} records never completed delivery within 120s; {timeline}"
    assert len(acked) > KILLS * 100, f"too few acknowledged records to be meaningful; {timeline}"

    # Read everything back by assignment, up to the high watermark of each partition.
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "crash-unused", "enable.auto.commit": False,
                  "enable.auto.offset.store": False})
    try:
        highs = {}
        for part in range(PARTITIONS):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, part), timeout=20)
            highs[part] = hi
        c.assign([TopicPartition(topic, part, OFFSET_BEGINNING) for part in range(PARTITIONS)])
        pos = {part: 0 for part in range(PARTITIONS)}
        rows: dict[int, list[tuple[int, int]]] = {part: [] for part in range(PARTITIONS)}
        deadline = time.monotonic() + 90
        while any(pos[q] < highs[q] for q in highs) and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    raise KafkaException(m.error())
                rows[m.partition()].append((m.offset(), int(m.value().decode().split("-")[1])))
                pos[m.partition()] = m.offset() + 1
    finally:
        c.close()
    assert all(pos[q] >= highs[q] for q in highs), f"could not read up to the high watermarks {highs}: at {pos}"

    problems = []
    seen: dict[int, tuple[int, int]] = {}
    for part, rs in rows.items():
        nums = [n for _, n in rs]
        if nums != sorted(nums):
            bad = next(i for i in range(1, len(nums)) if nums[i] < nums[i - 1])
            problems.append(f"partition {part}: out of order at offset {rs[bad][0]}: {nums[max(0, bad - 3):bad + 3]}")
        for off, n in rs:
            if n in seen:
                problems.append(f"record {n} present twice: {seen[n]} and {(part, off)}")
            seen[n] = (part, off)
            if n % PARTITIONS != part:
                problems.append(f"record {n} in partition {part}")
    for n, where in sorted(acked.items()):
        if n not in seen:
            problems.append(f"acknowledged record {n} at {where} missing")
        elif seen[n] != where:
            problems.append(f"acknowledged record {n} at {where} read at {seen[n]}")
    unacked_present = len(set(seen) - set(acked))
    timeline.append(f"read {len(seen)} records ({unacked_present} not acknowledged), high watermarks {highs}")
    print("\n".join(timeline))
    assert not problems, f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:30]) + "\n" + "\n".join(timeline)
