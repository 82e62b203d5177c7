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
