"""Producer interceptors: one prefixes every value with a timestamp, one counts successes and failures.
on_send runs inside send(); on_acknowledgement inside poll()/flush(), on this thread."""

import time
from typing import Optional

import streamlet
from _cluster import WAIT, Cluster, check, consume_until


class TimestampPrefix:
    def on_send(self, record: streamlet.ProducerRecord) -> streamlet.ProducerRecord:
        record.value = f"{int(time.time() * 1000)},".encode() + bytes(record.value or b"")
        return record


class Counter:
    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0

    def on_acknowledgement(self, metadata: Optional[streamlet.RecordMetadata], error: Optional[streamlet.KafkaError]) -> None:
        if error is None:
            self.ok += 1
        else:
            self.failed += 1

    def close(self) -> None:
        print(f"counter closing: {self.ok} succeeded, {self.failed} failed")


def main() -> None:
    with Cluster() as cluster:
        topic = cluster.create_topic("producer-interceptors")
        counter = Counter()
        with streamlet.Producer({"bootstrap.servers": cluster.bootstrap}, interceptors=[TimestampPrefix(), counter]) as producer:
            for i in range(5):
                producer.send(topic, f"message {i}")
            producer.flush(WAIT)
            producer.send(topic, "to a missing partition", partition=9)
            producer.flush(WAIT)
        check((counter.ok, counter.failed) == (5, 1), f"counted {counter.ok} ok / {counter.failed} failed")
        with streamlet.Consumer(cluster.consumer_config("interceptor-check")) as consumer:
            consumer.subscribe([topic])
            for m in consume_until(consumer, 5, "the prefixed records"):
                print(f"stored value: {m.value!r}")
                ts, _, rest = (m.value or b"").partition(b",")
                check(ts.isdigit() and rest.startswith(b"message "), f"value not prefixed: {m.value!r}")


if __name__ == "__main__":
    main()
