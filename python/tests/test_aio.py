import asyncio

import pytest

import streamlet
from streamlet import aio, TopicPartition
from conftest import consumer_config


async def ticking(stop: asyncio.Event) -> int:
    ticks = 0
    while not stop.is_set():
        ticks += 1
        await asyncio.sleep(0.005)
    return ticks


def test_producer_and_consumer_roundtrip(bootstrap, topic, unique):
    async def main():
        async with aio.Producer({"bootstrap.servers": bootstrap}) as p:
            md = await p.send_and_wait(topic, b"one", key=b"k")
            assert (md.topic, md.offset) == (topic, 0)
            fut = await p.send(topic, b"two", headers={"h": b"x"})
            assert (await fut).offset == 1
            await p.flush(5)
        async with aio.Consumer(consumer_config(bootstrap, unique("g"), enable_auto_commit=False)) as c:
            await c.subscribe([topic])
            got = []
            async for m in c:
                got.append(m)
                if len(got) == 2:
                    break
            assert [(m.value, m.offset) for m in got] == [(b"one", 0), (b"two", 1)]
            await c.commit(got[-1])
            assert (await c.committed([TopicPartition(topic, 0)]))[0].offset == 2
            assert (await c.position([TopicPartition(topic, 0)]))[0].offset == 2
            await c.seek(TopicPartition(topic, 0, 0))
            assert (await c.poll(10)).offset == 0
            assert await c.assignment() == [TopicPartition(topic, 0)]
    asyncio.run(main())


def test_delivery_errors_raise_from_await(bootstrap, topic):
    async def main():
        async with aio.Producer({"bootstrap.servers": bootstrap}) as p:
            await p.send_and_wait(topic, b"learn metadata")
            with pytest.raises(streamlet.UnknownTopicOrPartitionError):
                await p.send_and_wait(topic, b"x", partition=4)
    asyncio.run(main())


def test_waiting_consumer_does_not_block_the_loop(bootstrap, topic, unique):
    async def main():
        async with aio.Consumer(consumer_config(bootstrap, unique("g"))) as c:
            await c.assign([TopicPartition(topic, 0, streamlet.OFFSET_END)])
            stop = asyncio.Event()
            ticker = asyncio.ensure_future(ticking(stop))
            assert await c.poll(0.5) is None
            stop.set()
            assert await ticker > 20
            task = asyncio.ensure_future(c.poll(None))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with aio.Producer({"bootstrap.servers": bootstrap}) as p:
                await p.send_and_wait(topic, b"after cancel")
            m = await c.poll(10)
            assert m is not None and m.value == b"after cancel"
    asyncio.run(main())


def test_consume_pause_resume(bootstrap, topic, unique):
    async def main():
        async with aio.Producer({"bootstrap.servers": bootstrap}) as p:
            for i in range(3):
                await p.send(topic, b"%d" % i)
            await p.flush()
        tp = TopicPartition(topic, 0)
        async with aio.Consumer(consumer_config(bootstrap, unique("g"))) as c:
            await c.assign([TopicPartition(topic, 0, streamlet.OFFSET_BEGINNING)])
            await c.pause([tp])
            assert await c.consume(3, 0.3) == []
            await c.resume([tp])
            got = []
            while len(got) < 3:
                got += await c.consume(3 - len(got), 5)
            assert [m.value for m in got] == [b"0", b"1", b"2"]
    asyncio.run(main())
