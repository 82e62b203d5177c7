"""A custom partitioner: a callable (topic, key, partition_count) -> partition, called inside send()."""

from typing import Optional

import streamlet
from _cluster import Cluster, check


def vip_first(topic: str, key: Optional[bytes], partition_count: int) -> int:
    """VIP customers get partition 0 to themselves; everyone else shares the others."""
    if key is not None and key.startswith(b"vip-"):
        return 0
    return 1 + (sum(key or b"") % (partition_count - 1))


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("producer-custom-partitioner", 3)
        with streamlet.Producer({"bootstrap.servers": cluster.bootstrap}, partitioner=vip_first) as producer:
            for key in ("vip-ann", "bob", "vip-cem", "dora", "eve"):
                md = producer.send(topic, f"order from {key}", key=key).result(10)
                print(f"{key} -> partition {md.partition}")
                check((md.partition == 0) == key.startswith("vip-"), f"{key} landed on partition {md.partition}")


if __name__ == "__main__":
    main()
