"""Records produced by one client are read by another (the batch format, compression and headers written
by one implementation must decode in another)."""
from __future__ import annotations

import pytest

from clients import CLIENTS, check, make_spec

PARTITIONS = 3

PAIRS = [
    ("java", "confluent-kafka", "zstd"),
    ("confluent-kafka", "java", "lz4"),
    ("kafka-python", "kafkajs", "gzip"),
    ("kafkajs", "aiokafka", "gzip"),
    ("aiokafka", "kcat", "snappy"),
    ("kcat", "kafka-python", "none"),
    ("java", "kafkajs", "none"),
    ("confluent-kafka", "kafka-python", "zstd"),
]


@pytest.mark.parametrize("producer,consumer,codec", [pytest.param(*p, id="{}-to-{}-{}".format(*p)) for p in PAIRS])
def test_cross_client(broker, topic_name, producer, consumer, codec):
    prod, cons = CLIENTS[producer], CLIENTS[consumer]
    topic = topic_name()
    prod.create_topic(broker.bootstrap, topic, PARTITIONS)
    spec = make_spec(f"{producer}->{consumer}/{codec}", uniform_headers=(producer == "kcat"))
    acks = prod.produce(broker.bootstrap, topic, codec, spec)
    got = cons.consume(broker.bootstrap, topic, PARTITIONS, len(spec))
    check(spec, acks, got, PARTITIONS)
