"""The workload, after Jepsen's Kafka "queue" workload, run as its own process (so the connect() shim routes
its connections through the client proxies): producers send unique integer values to the partitions of one
topic; consumers read them, by `assign` (every partition, offsets committed to their own group) and by
`subscribe` (one group, rebalancing), and commit what they polled. Every invocation and completion goes to
the history (history.py).

    python workload.py run   --bootstrap B --topic T --partitions P --duration S --history H [...]
    python workload.py drain --bootstrap B --topic T --partitions P --history H --timeout S

`drain` is the final read after every fault healed: one consumer assigned to every partition from the log
start, reading until it reaches the high watermark it fetched first; its last event says whether it got there.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, OFFSET_STORED, Consumer, KafkaError, KafkaException, Producer, \
    TopicPartition

from history import HistoryWriter


def producer_config(bootstrap: str) -> dict:
    # FAULT_RDKAFKA_DEBUG=eos (etc.) puts librdkafka's own debug log into workload.log, to explain an anomaly.
    debug = {"debug": os.environ["FAULT_RDKAFKA_DEBUG"]} if os.environ.get("FAULT_RDKAFKA_DEBUG") else {}
    return {**debug,
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        # An unacknowledged send becomes "info" (indeterminate) after this; short enough to finish a run.
        "message.timeout.ms": 30000,
        "request.timeout.ms": 10000,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.max.ms": 1000,
        "topic.metadata.refresh.interval.ms": 5000,
    }


def consumer_config(bootstrap: str, group: str) -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.max.ms": 1000,
        "topic.metadata.refresh.interval.ms": 5000,
    }


class Workload:
    def __init__(self, args):
        self.a = args
        # Op ids must be unique across the history files of a run: "w" for the workload, "d" for the drain.
        self.h = HistoryWriter(Path(args.history), op_prefix="w" if args.mode == "run" else "d")
        self.stop = threading.Event()
        self.rng = random.Random(args.seed)
        self.values = iter(range(1, 1 << 62))  # unique across the run (one workload process per run)
        self.values_lock = threading.Lock()
        self.process_ids = iter(range(1 << 30))
        self.pid_lock = threading.Lock()

    def next_process(self, kind: str) -> str:
        with self.pid_lock:
            return f"{kind}{next(self.process_ids)}"

    def next_value(self) -> int:
        with self.values_lock:
            return next(self.values)

    # ---- producers ---------------------------------------------------------------------------------------
    def producer(self, index: int) -> None:
        rng = random.Random(self.a.seed * 1000 + index)
        period = self.a.producers / max(1.0, self.a.rate)
        while not self.stop.is_set():
            proc = self.next_process("p")
            p = Producer(producer_config(self.a.bootstrap))
            fatal = threading.Event()
            next_at = time.monotonic()
            while not self.stop.is_set() and not fatal.is_set():
                partition = rng.randrange(self.a.partitions)
                value = self.next_value()
                op = self.h.invoke(proc, "send", {"partition": partition, "value": value})

                def done(err, msg, op=op, partition=partition, value=value, proc=proc):
                    if err is None:
                        self.h.write(proc, "ok", "send", op, {"partition": msg.partition(), "value": value,
                                                              "offset": msg.offset()})
                    else:
                        if err.fatal():
                            fatal.set()
                        # Indeterminate: a timed-out or failed idempotent send may still have been appended.
                        self.h.write(proc, "info", "send", op, {"partition": partition, "value": value},
                                     error=err.name())

                try:
                    p.produce(self.a.topic, value=str(value).encode(), key=str(partition).encode(),
                              partition=partition, on_delivery=done)
                except (BufferError, KafkaException) as e:
                    self.h.write(proc, "fail", "send", op, {"partition": partition, "value": value},
                                 error=repr(e))  # never handed to the client: definitely not sent
                p.poll(0)
                next_at += period
                if next_at < time.monotonic():
                    next_at = time.monotonic()  # behind (a stall): no burst to catch up
                # poll() returns early whenever it serves a callback, so loop until the send is due.
                while (delay := next_at - time.monotonic()) > 0 and not self.stop.is_set():
                    p.poll(delay)
            # Sends still in flight get their answer (or their timeout) before this producer goes away.
            p.flush(self.a.flush_timeout)
            if fatal.is_set():
                self.h.write(proc, "info", "crash", None, None, error="fatal producer error; new producer")

    # ---- consumers ---------------------------------------------------------------------------------------
    def consumer(self, mode: str, index: int) -> None:
        while not self.stop.is_set():
            proc = self.next_process("a" if mode == "assign" else "g")
            group = f"fault-assign-{index}" if mode == "assign" else "fault-group"
            c = Consumer(consumer_config(self.a.bootstrap, group))
            try:
                if mode == "assign":
                    parts = [TopicPartition(self.a.topic, p, OFFSET_STORED) for p in range(self.a.partitions)]
                    c.assign(parts)
                    self.h.write(proc, "ok", "assign", None, {"partitions": list(range(self.a.partitions))})
                else:
                    def on_assign(consumer, parts, proc=proc):
                        self.h.write(proc, "ok", "assign", None, {"partitions": sorted(p.partition for p in parts)})

                    def on_revoke(consumer, parts, proc=proc):
                        self.h.write(proc, "ok", "revoke", None, {"partitions": sorted(p.partition for p in parts)})

                    c.subscribe([self.a.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
                self.poll_loop(c, proc)
            except KafkaException as e:
                self.h.write(proc, "info", "crash", None, None, error=repr(e))
            finally:
                try:
                    c.close()
                except Exception:  # noqa: BLE001 - closing under faults may fail; the next consumer starts
                    pass

    def poll_loop(self, c: Consumer, proc: str) -> None:
        while not self.stop.is_set():
            op = self.h.invoke(proc, "poll", None)
            msgs = c.consume(200, 0.5)
            got, errors = [], []
            for m in msgs:
                if m.error() is not None:
                    errors.append(m.error().name())
                else:
                    got.append([m.partition(), m.offset(), int(m.value())])
            self.h.write(proc, "ok", "poll", op, {"msgs": got}, **({"errors": errors} if errors else {}))
            if got:
                offsets = {}
                for p, o, _ in got:
                    offsets[p] = max(offsets.get(p, -1), o + 1)
                cop = self.h.invoke(proc, "commit", {"offsets": sorted(offsets.items())})
                try:
                    c.commit(asynchronous=False)
                    self.h.write(proc, "ok", "commit", cop, {"offsets": sorted(offsets.items())})
                except KafkaException as e:
                    err = e.args[0]
                    kind = "fail" if isinstance(err, KafkaError) and not err.retriable() else "info"
                    self.h.write(proc, kind, "commit", cop, {"offsets": sorted(offsets.items())}, error=str(err))

    def run(self) -> int:
        threads = [threading.Thread(target=self.producer, args=(i,), name=f"producer-{i}")
                   for i in range(self.a.producers)]
        threads += [threading.Thread(target=self.consumer, args=("assign", i), name=f"assign-{i}")
                    for i in range(self.a.assign_consumers)]
        threads += [threading.Thread(target=self.consumer, args=("subscribe", i), name=f"group-{i}")
                    for i in range(self.a.group_consumers)]
        for t in threads:
            t.start()
        self.stop.wait(self.a.duration)
        self.stop.set()
        for t in threads:
            t.join()
        self.h.close()
        return 0

    # ---- the final read ----------------------------------------------------------------------------------
    def drain(self) -> int:
        proc = "drain"
        deadline = time.monotonic() + self.a.timeout
        c = Consumer({**consumer_config(self.a.bootstrap, "fault-drain")})
        high: dict[int, int] = {}
        try:
            while len(high) < self.a.partitions and time.monotonic() < deadline:
                for p in range(self.a.partitions):
                    if p not in high:
                        try:
                            high[p] = c.get_watermark_offsets(TopicPartition(self.a.topic, p), timeout=5)[1]
                        except KafkaException:
                            pass
            if len(high) < self.a.partitions:
                self.h.write(proc, "fail", "drain", None, {"high": high}, error="no high watermark")
                return 1
            c.assign([TopicPartition(self.a.topic, p, OFFSET_BEGINNING) for p in range(self.a.partitions)])
            position = {p: -1 for p in range(self.a.partitions)}
            while time.monotonic() < deadline and any(position[p] + 1 < high[p] for p in high):
                op = self.h.invoke(proc, "poll", None)
                msgs = c.consume(500, 1.0)
                got = []
                for m in msgs:
                    if m.error() is None:
                        got.append([m.partition(), m.offset(), int(m.value())])
                        position[m.partition()] = max(position[m.partition()], m.offset())
                # Offsets without records (control batches) end a partition too: ask where the consumer is.
                for tp in c.position([TopicPartition(self.a.topic, p) for p in range(self.a.partitions)]):
                    if tp.offset >= 0:
                        position[tp.partition] = max(position[tp.partition], tp.offset - 1)
                self.h.write(proc, "ok", "poll", op, {"msgs": got})
            complete = all(position[p] + 1 >= high[p] for p in high)
            self.h.write(proc, "ok" if complete else "fail", "drain", None,
                         {"high": high, "position": {p: position[p] + 1 for p in position}},
                         **({} if complete else {"error": "deadline before the high watermark"}))
            return 0 if complete else 1
        finally:
            c.close()
            self.h.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["run", "drain"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--history", required=True)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=200, help="sends per second, all producers together")
    ap.add_argument("--assign-consumers", type=int, default=1)
    ap.add_argument("--group-consumers", type=int, default=2)
    ap.add_argument("--flush-timeout", type=float, default=60)
    ap.add_argument("--timeout", type=float, default=120, help="drain: give up after this many seconds")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    w = Workload(a)
    signal.signal(signal.SIGTERM, lambda *_: w.stop.set())
    return w.run() if a.mode == "run" else w.drain()


if __name__ == "__main__":
    sys.exit(main())
