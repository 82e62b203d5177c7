"""auto.offset.reset=earliest with a brand-new group: it has no committed offsets, so it reads the topic from
the start; with 'latest' it would only see new records."""

import streamlet
from _cluster import Cluster, check, consume_until, unique


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("consumer-reset-earliest")
        cluster.seed(topic, 5)
        config = {"bootstrap.servers": cluster.bootstrap, "group.id": unique("fresh-group"), "auto.offset.reset": "earliest"}
        with streamlet.Consumer(config) as consumer:
            consumer.subscribe([topic])
            got = consume_until(consumer, 5, "the records written before the group existed")
            for m in got:
                print(f"offset {m.offset}: {m.value!r}")
            check(got[0].offset == 0, "the new group did not start at the beginning")
        latest = dict(config, **{"group.id": unique("late-group"), "auto.offset.reset": "latest"})
        with streamlet.Consumer(latest) as consumer:
            consumer.subscribe([topic])
            check(consumer.poll(1.0) is None, "a 'latest' group saw old records")
            print("a group with auto.offset.reset=latest saw none of them")


if __name__ == "__main__":
    main()
