import itertools
import os
import threading
import time
from typing import Callable, Iterator

import pytest

import streamlet

_ids = itertools.count()


@pytest.fixture(scope="session")
def broker() -> Iterator[streamlet.Broker]:
    with streamlet.Broker(config={"group.initial.rebalance.delay.ms": 0, "auto.create.topics.enable": False,
                                  "offsets.topic.num.partitions": 2}) as b:
        yield b


@pytest.fixture
def bootstrap(broker: streamlet.Broker) -> str:
    return broker.bootstrap_servers


@pytest.fixture
def admin(bootstrap: str) -> Iterator[streamlet.Admin]:
    with streamlet.Admin({"bootstrap.servers": bootstrap}) as a:
        yield a


@pytest.fixture
def unique() -> Callable[[str], str]:
    """A fresh name per call: tests share one broker."""
    return lambda prefix: f"{prefix}-{os.getpid()}-{next(_ids)}"


@pytest.fixture
def topic(admin: streamlet.Admin, unique: Callable[[str], str]) -> str:
    name = unique("t")
    admin.create_topics([streamlet.NewTopic(name, 1)])
    return name


@pytest.fixture
def topic3(admin: streamlet.Admin, unique: Callable[[str], str]) -> str:
    name = unique("t3")
    admin.create_topics([streamlet.NewTopic(name, 3)])
    return name


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 15.0, step: Callable[[], object] = lambda: time.sleep(0.01)) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        step()


def consumer_config(bootstrap: str, group: str, **extra: object) -> dict:
    cfg = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
           "session.timeout.ms": 10000, "heartbeat.interval.ms": 500}
    cfg.update({k.replace("_", "."): v for k, v in extra.items()})
    return cfg


def produce(bootstrap: str, topic: str, n: int, partition=None, key=None) -> None:
    with streamlet.Producer({"bootstrap.servers": bootstrap, "linger.ms": 1}) as p:
        for i in range(n):
            p.send(topic, f"v{i}".encode(), key=key, partition=partition)
        p.flush(10)


def drain(consumer: streamlet.Consumer, n: int, timeout: float = 15.0) -> list:
    out: list = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"got {len(out)} of {n} messages in {timeout}s")
        out.extend(consumer.consume(n - len(out), 0.2))
    return out


class Ticker(threading.Thread):
    """Counts while another thread blocks in a native call: proves the GIL was released."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.count += 1
            time.sleep(0.001)
