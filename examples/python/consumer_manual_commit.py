"""Manual commits: synchronous after each processed batch, asynchronous (reported to on_commit inside a
later poll) in between."""

from typing import List, Optional

import streamlet
from streamlet import TopicPartition
from _cluster import Cluster, check, consume_until, unique


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("consumer-manual-commit")
        cluster.seed(topic, 20)
        group = unique("manual-group")
        reports: List[str] = []

        def on_commit(err: Optional[streamlet.KafkaError], offsets: List[TopicPartition]) -> None:
            reports.append(f"async commit of {[(tp.partition, tp.offset) for tp in offsets]}: {err or 'ok'}")

        config = dict(cluster.consumer_config(group), **{"enable.auto.commit": False})
        with streamlet.Consumer(config, on_commit=on_commit) as consumer:
            consumer.subscribe([topic])
            batch = consume_until(consumer, 10, "a first batch")
            consumer.commit(asynchronous=False)  # everything handed out so far: offset 10
            committed = consumer.committed([TopicPartition(topic, 0)])[0].offset
            print(f"processed {len(batch)} records, committed synchronously up to {committed}")
            check(committed == 10, f"committed {committed}")
            for m in consume_until(consumer, 10, "the rest"):
                consumer.commit(message=m, asynchronous=True)
            while len(reports) < 10:
                consumer.poll(0.1)  # async commit reports are served here
            print(reports[-1])
        with streamlet.Consumer(config) as consumer:
            final = consumer.committed([TopicPartition(topic, 0)])[0].offset
            print(f"the group's committed offset is now {final}")
            check(final == 20, f"committed {final}")


if __name__ == "__main__":
    main()
