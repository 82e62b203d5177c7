"""asyncio façade: the same clients, with every blocking call run on a worker thread so the event loop never
blocks.

    async with aio.Producer(config) as p:
        md = await p.send_and_wait("topic", b"value")     # or: fut = await p.send(...); md = await fut
    async with aio.Consumer(config) as c:
        await c.subscribe(["topic"])
        async for msg in c: ...

Callbacks (delivery callbacks, interceptors, rebalance callbacks) run on the client's worker thread, not on
the event loop thread; rebalance callbacks receive the underlying synchronous `streamlet.Consumer`.
"""

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, TypeVar, Union

from . import _native
from ._native import Message, RecordMetadata, TopicPartition

__all__ = ["Producer", "Consumer"]

T = TypeVar("T")
Config = Mapping[str, Union[str, int, float, bool]]
_SLICE = 0.1


class _Worker:
    """One thread that runs a client's blocking calls in order."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False)


def _settle(fut: "asyncio.Future[RecordMetadata]", err: Optional[BaseException], md: RecordMetadata) -> None:
    if fut.done():
        return
    if err is not None:
        fut.set_exception(err)
    else:
        fut.set_result(md)


class Producer:
    """`await send(...)` enqueues the record and returns an asyncio future of its RecordMetadata;
    `await send_and_wait(...)` waits for the delivery. A background thread serves delivery reports."""

    def __init__(self, config: Config, *, interceptors: Sequence[Any] = (), partitioner: Optional[Callable[[str, Optional[bytes], int], int]] = None) -> None:
        self.producer = _native.Producer(dict(config), interceptors=list(interceptors), partitioner=partitioner)
        self._worker = _Worker("streamlet-aio-producer")
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve, name="streamlet-aio-delivery", daemon=True)
        self._poller.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(_SLICE)

    async def send(self, topic: str, value: Any = None, key: Any = None, partition: Optional[int] = None,
                   headers: Any = None, timestamp: Optional[int] = None) -> "asyncio.Future[RecordMetadata]":
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[RecordMetadata]" = loop.create_future()

        def on_delivery(err: Optional[BaseException], md: RecordMetadata) -> None:
            loop.call_soon_threadsafe(_settle, fut, err, md)

        await self._worker.run(self.producer.send, topic, value, key, partition, headers, timestamp, on_delivery)
        return fut

    async def send_and_wait(self, topic: str, value: Any = None, key: Any = None, partition: Optional[int] = None,
                            headers: Any = None, timestamp: Optional[int] = None) -> RecordMetadata:
        return await (await self.send(topic, value, key, partition, headers, timestamp))

    async def flush(self, timeout: Optional[float] = None) -> None:
        await self._worker.run(self.producer.flush, timeout)

    async def close(self, timeout: Optional[float] = None) -> None:
        try:
            await self._worker.run(self.producer.close, timeout)
        finally:
            self._stop.set()
            await asyncio.get_running_loop().run_in_executor(None, self._poller.join)
            self._worker.shutdown()

    async def __aenter__(self) -> "Producer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Consumer:
    """Every method is a coroutine; waits happen on a worker thread in short slices so that cancelling the
    awaiting task takes effect promptly. A message fetched for a cancelled `poll` is kept for the next one."""

    def __init__(self, config: Config, *, interceptors: Sequence[Any] = (), on_commit: Optional[Callable[..., Any]] = None) -> None:
        self.consumer = _native.Consumer(dict(config), interceptors=list(interceptors), on_commit=on_commit)
        self._worker = _Worker("streamlet-aio-consumer")
        self._stash: List[Message] = []
        self._closed = False

    async def subscribe(self, topics: Union[str, Iterable[str]], on_assign: Optional[Callable[..., Any]] = None,
                        on_revoke: Optional[Callable[..., Any]] = None, on_lost: Optional[Callable[..., Any]] = None) -> None:
        t = topics if isinstance(topics, str) else list(topics)
        await self._worker.run(self.consumer.subscribe, t, on_assign, on_revoke, on_lost)

    async def unsubscribe(self) -> None:
        await self._worker.run(self.consumer.unsubscribe)

    async def assign(self, partitions: Iterable[TopicPartition]) -> None:
        await self._worker.run(self.consumer.assign, list(partitions))

    async def _slice(self, num: int, timeout: float) -> List[Message]:
        if self._stash:
            out, self._stash = self._stash[:num], self._stash[num:]
            return out
        job = asyncio.ensure_future(self._worker.run(self.consumer.consume, num, timeout))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            # The worker still finishes its slice: keep what it fetched for the next call.
            job.add_done_callback(lambda j: self._stash.extend(j.result()) if not j.cancelled() and j.exception() is None else None)
            raise

    async def poll(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next message, waiting up to `timeout` seconds (None: forever)."""
        got = await self.consume(1, timeout)
        return got[0] if got else None

    async def consume(self, num_messages: int = 1, timeout: Optional[float] = None) -> List[Message]:
        """Up to `num_messages` messages: returns once some arrived (at most `num_messages`) or `timeout` passed."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None or timeout < 0 else loop.time() + timeout
        while True:
            left = _SLICE if deadline is None else max(0.0, min(_SLICE, deadline - loop.time()))
            got = await self._slice(num_messages, left)
            if got or (deadline is not None and loop.time() >= deadline):
                return got

    def __aiter__(self) -> "Consumer":
        return self

    async def __anext__(self) -> Message:
        while not self._closed:
            got = await self._slice(1, _SLICE)
            if got:
                return got[0]
        raise StopAsyncIteration

    async def commit(self, message: Optional[Message] = None, offsets: Optional[Sequence[TopicPartition]] = None,
                     asynchronous: bool = False) -> None:
        await self._worker.run(self.consumer.commit, message, offsets, asynchronous)

    async def committed(self, partitions: Sequence[TopicPartition], timeout: Optional[float] = None) -> List[TopicPartition]:
        return await self._worker.run(self.consumer.committed, list(partitions), timeout)

    async def position(self, partitions: Sequence[TopicPartition]) -> List[TopicPartition]:
        return await self._worker.run(self.consumer.position, list(partitions))

    async def seek(self, partition: TopicPartition) -> None:
        self._stash = [m for m in self._stash if (m.topic, m.partition) != (partition.topic, partition.partition)]
        await self._worker.run(self.consumer.seek, partition)

    async def pause(self, partitions: Sequence[TopicPartition]) -> None:
        await self._worker.run(self.consumer.pause, list(partitions))

    async def resume(self, partitions: Sequence[TopicPartition]) -> None:
        await self._worker.run(self.consumer.resume, list(partitions))

    async def assignment(self) -> List[TopicPartition]:
        return await self._worker.run(self.consumer.assignment)

    async def close(self) -> None:
        self._closed = True
        try:
            await self._worker.run(self.consumer.close)
        finally:
            self._worker.shutdown()

    async def __aenter__(self) -> "Consumer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
