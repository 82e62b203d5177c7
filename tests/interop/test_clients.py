"""Each third-party client creates a 3-partition topic, produces keyed and unkeyed records with headers
(uncompressed and with every codec the client supports), and reads them back by partition assignment."""
from __future__ import annotations

import pytest

from clients import CLIENTS, CODECS, check, make_spec

PARTITIONS = 3

CASES = [pytest.param(name, codec, id=f"{name}-{codec}",
                      marks=() if codec in c.codecs else pytest.mark.skip(
                          reason=f"{name} does not support {codec} compression out of the box"))
         for name, c in CLIENTS.items() for codec in CODECS]


@pytest.mark.parametrize("client,codec", CASES)
def test_roundtrip(broker, topic_name, client, codec):
    c = CLIENTS[client]
    topic = topic_name()
    c.create_topic(broker.bootstrap, topic, PARTITIONS)
    spec = make_spec(f"{client}/{codec}", uniform_headers=(client == "kcat"))
    acks = c.produce(broker.bootstrap, topic, codec, spec)
    got = c.consume(broker.bootstrap, topic, PARTITIONS, len(spec))
    check(spec, acks, got, PARTITIONS)


def test_kcat_auto_topic_creation(broker, topic_name):
    """kcat produces to a topic that does not exist yet: the broker creates it with its default of
    1 partition (num.partitions) and the records read back in order from partition 0."""
    from clients import Kcat
    from confluent_kafka.admin import AdminClient

    c = Kcat()
    topic = topic_name("kcat-autocreate")
    spec = [{"p": None, "k": f"k{i % 3}", "v": f"auto #{i:04d}", "h": [["client", "kcat"]]} for i in range(20)]
    c.produce(broker.bootstrap, topic, "none", spec)
    md = AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "confluent-kafka"}).list_topics(topic, timeout=10).topics[topic]
    assert md.error is None and len(md.partitions) == 1, f"auto-created topic: error {md.error}, partitions {md.partitions}"
    got = c.consume(broker.bootstrap, topic, 1, len(spec))
    check(spec, None, got, 1)
