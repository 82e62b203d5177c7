"""A delivery callback per record: it runs inside poll()/flush() on this thread and prints where each record
landed (or why it failed)."""

from typing import List, Optional

import streamlet
from _cluster import WAIT, Cluster, check


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("producer-callback", 3)
        delivered: List[streamlet.RecordMetadata] = []

        def on_delivery(err: Optional[streamlet.KafkaError], md: streamlet.RecordMetadata) -> None:
            if err is not None:
                print(f"delivery to {md.topic} failed: {err}")
            else:
                print(f"delivered to {md.topic}-{md.partition} at offset {md.offset}")
                delivered.append(md)

        with streamlet.Producer({"bootstrap.servers": cluster.bootstrap, "linger.ms": 5}) as producer:
            for i in range(10):
                producer.send(topic, f"message {i}", key=f"key-{i}", on_delivery=on_delivery)
                producer.poll(0)  # serve the callbacks that are ready, without waiting
            producer.flush(WAIT)  # waits for the rest and serves their callbacks
        check(len(delivered) == 10, f"expected 10 delivery reports, got {len(delivered)}")


if __name__ == "__main__":
    main()
