"""A consumer with automatic commits: offsets of what poll() handed out are committed in the background
(and on close); a second consumer of the same group continues where the first stopped."""

import streamlet
from _cluster import Cluster, check, consume_until, unique


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("consumer-auto-commit")
        cluster.seed(topic, 10)
        group = unique("auto-commit-group")
        config = dict(cluster.consumer_config(group), **{"enable.auto.commit": True, "auto.commit.interval.ms": 100})
        with streamlet.Consumer(config) as consumer:
            consumer.subscribe([topic])
            first = consume_until(consumer, 6, "the first 6 records")
            print(f"first consumer read offsets {[m.offset for m in first]}")
        # close() committed the position: the next member of the group starts at offset 6.
        with streamlet.Consumer(config) as consumer:
            consumer.subscribe([topic])
            rest = consume_until(consumer, 4, "the remaining 4 records")
            print(f"second consumer read offsets {[m.offset for m in rest]}")
            check([m.offset for m in rest] == [6, 7, 8, 9], "the group did not resume at the committed offset")


if __name__ == "__main__":
    main()
