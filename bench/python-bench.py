#!/usr/bin/env python3
"""Python client throughput: Streamlet's Python package against confluent-kafka (librdkafka), same broker,
same run. Produces N records of S bytes from Python with each client, then consumes each topic back.

    bench/python-bench.sh                      # builds the release extension into bench/python-bench.venv, runs this
    python bench/python-bench.py --records 1000000 --size 100 --partitions 4 [--bootstrap HOST:PORT]

Without --bootstrap it starts an embedded Streamlet broker (streamlet.Broker) in this process. Both clients
get the same settings: acks=1, linger.ms=5, batch.size=512 KiB, no idempotence, no compression, keyless records; the
consumers assign every partition from the beginning, fetch up to 10 MiB per partition (50 MiB per request),
take batches of 10,000 with consume() and touch every value. MB/s counts payload bytes (10^6 bytes).
"""

import argparse
import os
import time

import confluent_kafka
import streamlet
from streamlet import TopicPartition

BATCH = 10000


def produce_streamlet(bootstrap: str, topic: str, n: int, payload: bytes) -> float:
    p = streamlet.Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5, "batch.size": 524288,
                            "buffer.memory": 256 * 1024 * 1024, "enable.idempotence": False})
    start = time.perf_counter()
    send = p.send
    for _ in range(n):
        send(topic, payload)
    p.flush()
    elapsed = time.perf_counter() - start
    p.close()
    return elapsed


def produce_confluent(bootstrap: str, topic: str, n: int, payload: bytes) -> float:
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5, "batch.size": 524288,
                                  "queue.buffering.max.messages": 2000000, "queue.buffering.max.kbytes": 262144,
                                  "enable.idempotence": False})
    start = time.perf_counter()
    produce = p.produce
    for _ in range(n):
        try:
            produce(topic, payload)
        except BufferError:
            p.poll(0.01)
            produce(topic, payload)
    remaining = p.flush(300)
    elapsed = time.perf_counter() - start
    assert remaining == 0, f"confluent-kafka left {remaining} records undelivered"
    return elapsed


def consume_streamlet(bootstrap: str, topic: str, n: int, partitions: int) -> float:
    c = streamlet.Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}", "enable.auto.commit": False,
                            "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760, "max.poll.records": BATCH})
    c.assign([TopicPartition(topic, p, streamlet.OFFSET_BEGINNING) for p in range(partitions)])
    got = nbytes = 0
    start = time.perf_counter()
    while got < n:
        msgs = c.consume(BATCH, 1.0)
        for m in msgs:
            nbytes += len(m.value)
        got += len(msgs)
    elapsed = time.perf_counter() - start
    c.close()
    assert got == n and nbytes == n * len(m.value)
    return elapsed


def consume_confluent(bootstrap: str, topic: str, n: int, partitions: int) -> float:
    # Fetch sizes as large as the Streamlet consumer's, and librdkafka's prefetch queue deep enough for them.
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}", "enable.auto.commit": False,
                                  "auto.offset.reset": "earliest", "fetch.max.bytes": 52428800,
                                  "max.partition.fetch.bytes": 10485760, "queued.min.messages": 1000000})
    c.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in range(partitions)])
    got = nbytes = 0
    start = time.perf_counter()
    while got < n:
        msgs = c.consume(BATCH, 1.0)
        for m in msgs:
            assert m.error() is None, m.error()
            nbytes += len(m.value())
        got += len(msgs)
    elapsed = time.perf_counter() - start
    c.close()
    assert got == n
    return elapsed


def line(what: str, n: int, size: int, secs: float) -> str:
    return f"{what:<34} {n / secs:>12,.0f} records/s {n * size / secs / 1e6:>9.1f} MB/s  ({secs:.2f} s)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--bootstrap", default=None)
    args = ap.parse_args()
    payload = os.urandom(args.size)
    broker = None
    if args.bootstrap:
        bootstrap = args.bootstrap
    else:
        broker = streamlet.Broker()
        bootstrap = broker.bootstrap_servers
    try:
        with streamlet.Admin({"bootstrap.servers": bootstrap}) as admin:
            suffix = os.urandom(3).hex()
            topics = {who: f"pybench-{who}-{suffix}" for who in ("streamlet", "confluent")}
            admin.create_topics([streamlet.NewTopic(t, args.partitions) for t in topics.values()])
        print(f"{args.records:,} records x {args.size} B, {args.partitions} partitions, broker {bootstrap}"
              f" ({'embedded' if broker else 'external'}); confluent-kafka {confluent_kafka.version()},"
              f" librdkafka {confluent_kafka.libversion()[0]}")
        results = [
            ("produce  streamlet (Python)", produce_streamlet(bootstrap, topics["streamlet"], args.records, payload)),
            ("produce  confluent-kafka", produce_confluent(bootstrap, topics["confluent"], args.records, payload)),
            ("consume  streamlet (Python)", consume_streamlet(bootstrap, topics["streamlet"], args.records, args.partitions)),
            ("consume  confluent-kafka", consume_confluent(bootstrap, topics["confluent"], args.records, args.partitions)),
        ]
        for what, secs in results:
            print(line(what, args.records, args.size, secs), flush=True)
    finally:
        if broker is not None:
            broker.close()


if __name__ == "__main__":
    main()
