"""Shared by the examples: where the cluster is (BOOTSTRAP, or an embedded broker), topic creation, checks."""

import os
import sys
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

import streamlet

WAIT = 10.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def check(ok: bool, what: str) -> None:
    if not ok:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


class Cluster:
    """BOOTSTRAP from the environment, or an embedded broker on a free port (closed on exit)."""

    def __init__(self) -> None:
        self.broker: Optional[streamlet.Broker] = None
        env = os.environ.get("BOOTSTRAP", "").strip()
        if env:
            self.bootstrap = env
            print(f"using the cluster at {env}")
        else:
            self.broker = streamlet.Broker(config={"group.initial.rebalance.delay.ms": 0})
            self.bootstrap = self.broker.bootstrap_servers
            print(f"started an embedded broker at {self.bootstrap}")

    def create_topic(self, prefix: str, partitions: int = 1) -> str:
        name = unique(prefix)
        with streamlet.Admin({"bootstrap.servers": self.bootstrap}) as admin:
            admin.create_topics([streamlet.NewTopic(name, partitions)])
        print(f"created topic {name} with {partitions} partition(s)")
        return name

    def seed(self, topic: str, n: int) -> None:
        with streamlet.Producer({"bootstrap.servers": self.bootstrap}) as p:
            for i in range(n):
                p.send(topic, f"record-{i}", key=f"key-{i}")
            p.flush(WAIT)

    def consumer_config(self, group: str) -> Dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, "group.id": group, "auto.offset.reset": "earliest"}

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.broker is not None:
            self.broker.close()


def consume_until(consumer: streamlet.Consumer, n: int, what: str) -> List[streamlet.Message]:
    got: List[streamlet.Message] = []
    deadline = time.monotonic() + WAIT
    while len(got) < n:
        check(time.monotonic() < deadline, f"timed out waiting for {what} ({len(got)} of {n})")
        got += consumer.consume(n - len(got), 0.1)
    return got


def poll_until(consumers: List[streamlet.Consumer], what: str, done: Callable[[int], bool]) -> List[streamlet.Message]:
    got: List[streamlet.Message] = []
    deadline = time.monotonic() + WAIT
    while not done(len(got)):
        check(time.monotonic() < deadline, f"timed out waiting for {what}")
        for c in consumers:
            got += c.consume(100, 0.02)
    return got
