"""Streamlet's Python clients mixed with confluent-kafka (librdkafka) on one Streamlet broker."""

import time

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

import streamlet
from streamlet import TopicPartition
from conftest import consumer_config


def ck_config(bootstrap, group):
    return {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "range", "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500, "enable.auto.commit": False}


def test_one_group_of_a_streamlet_and_a_confluent_consumer(bootstrap, topic3, unique):
    """A Streamlet producer's records, read by a group holding one consumer of each kind."""
    group = unique("mixed")
    ours = streamlet.Consumer(consumer_config(bootstrap, group, partition_assignment_strategy="range", enable_auto_commit=False))
    theirs = confluent_kafka.Consumer(ck_config(bootstrap, group))
    try:
        ours.subscribe([topic3])
        theirs.subscribe([topic3])
        got_ours, got_theirs = [], []

        def step():
            got_ours.extend((m.partition, m.offset, m.value) for m in ours.consume(100, 0.05))
            for m in theirs.consume(100, 0.05):
                assert m.error() is None, m.error()
                got_theirs.append((m.partition(), m.offset(), m.value()))

        deadline = time.monotonic() + 30
        while not (ours.assignment() and theirs.assignment()
                   and len(ours.assignment()) + len(theirs.assignment()) == 3):
            assert time.monotonic() < deadline, "the mixed group never shared the partitions"
            step()
        with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
            for i in range(300):
                p.send(topic3, b"m%d" % i, key=b"k%d" % i)
            p.flush(10)
        while len(got_ours) + len(got_theirs) < 300:
            assert time.monotonic() < deadline, f"only {len(got_ours)} + {len(got_theirs)} of 300 arrived"
            step()
        assert got_ours and got_theirs, "both members should have received records"
        assert sorted(v for _, _, v in got_ours + got_theirs) == sorted(b"m%d" % i for i in range(300))
        assert not ({p for p, _, _ in got_ours} & {p for p, _, _ in got_theirs})
        ours.commit()
        theirs.commit(asynchronous=False)
    finally:
        theirs.close()
        ours.close()
    with streamlet.Admin({"bootstrap.servers": bootstrap}) as a:
        committed = a.list_group_offsets(group)
    assert sum(committed.values()) == 300


def test_confluent_producer_read_by_streamlet_consumer(bootstrap, topic, unique):
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(50):
        p.produce(topic, value=b"c%d" % i, key=b"key", headers=[("src", b"librdkafka")], timestamp=1000 + i)
    assert p.flush(10) == 0
    group = unique("g")
    with streamlet.Consumer(consumer_config(bootstrap, group, enable_auto_commit=False)) as c:
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + 15
        while len(got) < 50:
            assert time.monotonic() < deadline
            got += c.consume(50 - len(got), 0.2)
        assert [m.value for m in got] == [b"c%d" % i for i in range(50)]
        assert got[7].key == b"key" and got[7].headers == [("src", b"librdkafka")] and got[7].timestamp == 1007
        c.commit()
    # The offsets Streamlet committed are what a confluent-kafka member of the group resumes from.
    ck = confluent_kafka.Consumer(ck_config(bootstrap, group))
    try:
        (tp,) = ck.committed([confluent_kafka.TopicPartition(topic, 0)], timeout=10)
        assert tp.offset == 50
    finally:
        ck.close()
