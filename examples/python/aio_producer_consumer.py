"""asyncio: await deliveries and iterate messages with `async for`, without blocking the event loop."""

import asyncio

from streamlet import aio
from _cluster import Cluster, check


async def run(bootstrap: str, topic: str) -> None:
    async with aio.Producer({"bootstrap.servers": bootstrap}) as producer:
        futures = [await producer.send(topic, f"async {i}") for i in range(5)]
        offsets = [(await f).offset for f in futures]
        print(f"delivered at offsets {offsets}")
    async with aio.Consumer({"bootstrap.servers": bootstrap, "group.id": "aio-example", "auto.offset.reset": "earliest"}) as consumer:
        await consumer.subscribe([topic])
        seen = 0
        async for message in consumer:
            print(f"received {message.value!r}")
            seen += 1
            if seen == 5:
                break
    check(offsets == [0, 1, 2, 3, 4], f"offsets {offsets}")


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("aio")
        asyncio.run(asyncio.wait_for(run(cluster.bootstrap, topic), 30))


if __name__ == "__main__":
    main()
