"""Rebalance callbacks with an offset store of our own (as when offsets live with the results): nothing is
committed to the group. On revocation each partition's position is saved; on assignment the consumer seeks to
the saved position, so a partition moving to another member is not read twice."""

from typing import Dict, List, Tuple

import streamlet
from streamlet import TopicPartition
from _cluster import Cluster, check, poll_until, unique

Store = Dict[Tuple[str, int], int]


def listener(name: str, store: Store):  # type: ignore[no-untyped-def]
    def on_revoke(consumer: streamlet.Consumer, partitions: List[TopicPartition]) -> None:
        for tp in partitions:
            pos = consumer.position(tp)
            print(f"[{name}] revoked {tp.topic}-{tp.partition}: saving position {pos}")
            store[(tp.topic, tp.partition)] = pos

    def on_assign(consumer: streamlet.Consumer, partitions: List[TopicPartition]) -> None:
        for tp in partitions:
            saved = store.get((tp.topic, tp.partition))
            if saved is None:
                print(f"[{name}] assigned {tp.topic}-{tp.partition}: nothing saved, auto.offset.reset applies")
            else:
                print(f"[{name}] assigned {tp.topic}-{tp.partition}: seeking to saved position {saved}")
                consumer.seek(TopicPartition(tp.topic, tp.partition, saved))

    return on_assign, on_revoke


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("consumer-rebalance-listener", 2)
        cluster.seed(topic, 20)
        config = dict(cluster.consumer_config(unique("listener-group")), **{"enable.auto.commit": False})
        store: Store = {}
        a = streamlet.Consumer(config)
        on_assign, on_revoke = listener("A", store)
        a.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        first = poll_until([a], "A to read the 20 seeded records", lambda n: n >= 20)
        check(len(first) == 20, f"A read {len(first)} records")

        b = streamlet.Consumer(config)
        on_assign, on_revoke = listener("B", store)
        b.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
        poll_until([a, b], "the group to split the partitions", lambda n: len(a.assignment()) == 1 and len(b.assignment()) == 1)
        cluster.seed(topic, 10)
        again = poll_until([a, b], "the 10 new records", lambda n: n >= 10)
        print(f"after the rebalance A and B read {len(again)} records, none twice")
        check(len(again) == 10, f"read {len(again)} records after the rebalance, expected 10")
        b.close()
        a.close()


if __name__ == "__main__":
    main()
