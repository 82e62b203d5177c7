"""Choosing the partition: explicitly, or through the key (records with one key always share a partition)."""

import streamlet
from _cluster import Cluster, check


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("producer-partition-key", 4)
        with streamlet.Producer({"bootstrap.servers": cluster.bootstrap}) as producer:
            md = producer.send(topic, "to partition 2", partition=2).result(10)
            print(f"explicit partition: {md.partition}")
            check(md.partition == 2, "the explicit partition was not used")
            for user in ("alice", "bob", "carol"):
                parts = {producer.send(topic, f"event of {user}", key=user).result(10).partition for _ in range(5)}
                print(f"key {user!r} -> partition(s) {sorted(parts)}")
                check(len(parts) == 1, f"key {user} spread over {parts}")


if __name__ == "__main__":
    main()
