"""Synchronous send: wait on each record's future (concurrent.futures style) before sending the next."""

import streamlet
from _cluster import Cluster, check


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("producer-sync")
        with streamlet.Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"}) as producer:
            for i in range(5):
                md = producer.send(topic, f"message {i}").result(timeout=10)
                print(f"message {i} stored at offset {md.offset}")
                check(md.offset == i, f"unexpected offset {md.offset}")
            try:
                producer.send(topic, "nowhere", partition=7).result(timeout=10)
                check(False, "a send to a missing partition succeeded")
            except streamlet.UnknownTopicOrPartitionError as e:
                print(f"as expected: {e.name} (retriable={e.retriable})")


if __name__ == "__main__":
    main()
