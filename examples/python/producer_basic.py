"""Fire-and-forget: send records without waiting for or looking at their delivery, then flush."""

import streamlet
from _cluster import WAIT, Cluster, check


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("producer-basic")
        with streamlet.Producer({"bootstrap.servers": cluster.bootstrap}) as producer:
            for i in range(10):
                producer.send(topic, f"message {i}")  # the returned future is dropped on purpose
            producer.flush(WAIT)
        with streamlet.Admin({"bootstrap.servers": cluster.bootstrap}) as admin:
            end = admin.list_offsets({streamlet.TopicPartition(topic, 0): "latest"})
        n = next(iter(end.values())).offset
        print(f"the topic now holds {n} records")
        check(n == 10, f"expected 10 records, found {n}")


if __name__ == "__main__":
    main()
