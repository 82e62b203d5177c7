"""One consumer-group member of a Python client, driven over stdin/stdout (JSON lines), for test_groups.py.

    python group_member.py CLIENT BOOTSTRAP TOPIC GROUP ASSIGNOR SESSION_TIMEOUT_MS
        CLIENT: confluent-kafka | kafka-python | aiokafka
        ASSIGNOR: range | roundrobin | cooperative-sticky

Same protocol as node/groups.js and java/src/GroupInterop.java:
  stdout: {"ev": "assign", "parts": [sorted partitions]}   whenever the assignment changes
          {"ev": "rec", "p": P, "o": O, "v": VALUE}          every record consumed
          {"ev": "committed", "offsets": {"P": NEXT, ...}}   after a synchronous commit of the consumed positions
          {"ev": "closed"}                                   after close (LeaveGroup), then exit 0
          {"ev": "error", "msg": ...}                        client errors (the member keeps going)
  stdin:  "commit" | "close"  (one a line; EOF = close)
Subscribes to TOPIC, auto.offset.reset=earliest, auto commit off, heartbeat interval 1 s.
"""
from __future__ import annotations

import asyncio
import json
import queue
import sys
import threading

CLIENT, BOOTSTRAP, TOPIC, GROUP, ASSIGNOR, SESSION_MS = sys.argv[1:7]
SESSION_MS = int(SESSION_MS)
HEARTBEAT_MS = 1000

_out_lock = threading.Lock()


def emit(**ev):
    with _out_lock:
        sys.stdout.write(json.dumps(ev) + "\n")
        sys.stdout.flush()


def stdin_commands() -> queue.Queue:
    q: queue.Queue = queue.Queue()

    def read():
        for line in sys.stdin:
            if line.strip():
                q.put(line.strip())
        q.put("close")
    threading.Thread(target=read, daemon=True).start()
    return q


class Tracker:
    def __init__(self):
        self.parts: list[int] | None = None
        self.next: dict[int, int] = {}

    def assignment(self, parts):
        parts = sorted(parts)
        if parts != self.parts:
            self.parts = parts
            emit(ev="assign", parts=parts)

    def rec(self, p, o, v):
        self.next[p] = o + 1
        emit(ev="rec", p=p, o=o, v=None if v is None else bytes(v).decode())


def run_confluent():
    from confluent_kafka import Consumer

    c = Consumer({"bootstrap.servers": BOOTSTRAP, "client.id": "confluent-kafka", "group.id": GROUP,
                  "partition.assignment.strategy": ASSIGNOR, "session.timeout.ms": SESSION_MS,
                  "heartbeat.interval.ms": HEARTBEAT_MS, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "enable.partition.eof": False,
                  "error_cb": lambda e: emit(ev="error", msg=str(e))})
    t, cmds = Tracker(), stdin_commands()
    c.subscribe([TOPIC])
    while True:
        for m in c.consume(num_messages=100, timeout=0.1):
            if m.error():
                emit(ev="error", msg=str(m.error()))
                continue
            t.rec(m.partition(), m.offset(), m.value())
        t.assignment(tp.partition for tp in c.assignment() if tp.topic == TOPIC)
        while not cmds.empty():
            cmd = cmds.get()
            if cmd == "commit":
                from confluent_kafka import TopicPartition

                offs = [TopicPartition(TOPIC, p, o) for p, o in t.next.items() if p in (t.parts or [])]
                res = c.commit(offsets=offs, asynchronous=False) if offs else []
                bad = [tp for tp in res or [] if tp.error]
                if bad:
                    emit(ev="error", msg=f"commit: {bad}")
                emit(ev="committed", offsets={str(tp.partition): tp.offset for tp in res or []})
            elif cmd == "close":
                c.close()
                emit(ev="closed")
                return


def run_kafka_python():
    from kafka import KafkaConsumer
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
                "cooperative-sticky": CooperativeStickyAssignor}[ASSIGNOR]
    c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, client_id="kafka-python", group_id=GROUP,
                      partition_assignment_strategy=[assignor], session_timeout_ms=SESSION_MS,
                      heartbeat_interval_ms=HEARTBEAT_MS, auto_offset_reset="earliest", enable_auto_commit=False)
    t, cmds = Tracker(), stdin_commands()
    c.subscribe([TOPIC])
    while True:
        # kafka-python 3.0 sometimes never finished joining with 100 ms polls (seen against Kafka too)
        for tp, msgs in c.poll(timeout_ms=500).items():
            for m in msgs:
                t.rec(m.partition, m.offset, m.value)
        t.assignment(tp.partition for tp in c.assignment() if tp.topic == TOPIC)
        while not cmds.empty():
            cmd = cmds.get()
            if cmd == "commit":
                from kafka import OffsetAndMetadata, TopicPartition

                offs = {TopicPartition(TOPIC, p): OffsetAndMetadata(o, "", -1) for p, o in t.next.items()
                        if p in (t.parts or [])}
                c.commit(offs)
                emit(ev="committed", offsets={str(tp.partition): om.offset for tp, om in offs.items()})
            elif cmd == "close":
                c.close()
                emit(ev="closed")
                return


def run_aiokafka():
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from aiokafka.structs import OffsetAndMetadata

    assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[ASSIGNOR]

    async def go():
        c = AIOKafkaConsumer(TOPIC, bootstrap_servers=BOOTSTRAP, client_id="aiokafka", group_id=GROUP,
                             partition_assignment_strategy=(assignor,), session_timeout_ms=SESSION_MS,
                             heartbeat_interval_ms=HEARTBEAT_MS, auto_offset_reset="earliest",
                             enable_auto_commit=False)
        t, cmds = Tracker(), stdin_commands()
        await c.start()
        while True:
            for tp, msgs in (await c.getmany(timeout_ms=100)).items():
                for m in msgs:
                    t.rec(m.partition, m.offset, m.value)
            t.assignment(tp.partition for tp in c.assignment() if tp.topic == TOPIC)
            while not cmds.empty():
                cmd = cmds.get()
                if cmd == "commit":
                    offs = {TopicPartition(TOPIC, p): OffsetAndMetadata(o, "") for p, o in t.next.items()
                            if p in (t.parts or [])}
                    await c.commit(offs)
                    emit(ev="committed", offsets={str(tp.partition): om.offset for tp, om in offs.items()})
                elif cmd == "close":
                    await c.stop()
                    emit(ev="closed")
                    return
    asyncio.run(go())


if __name__ == "__main__":
    {"confluent-kafka": run_confluent, "kafka-python": run_kafka_python, "aiokafka": run_aiokafka}[CLIENT]()
