import os
import signal
import threading
import time

import pytest

import streamlet
from streamlet import OFFSET_BEGINNING, OFFSET_END, OFFSET_INVALID, TopicPartition
from conftest import Ticker, consumer_config, drain, produce, wait_for


def test_subscribe_poll_and_message_fields(bootstrap, topic, unique):
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        p.send(topic, b"v", key=b"k", headers=[("h", b"1")], timestamp=42).result(10)
    assigned = []
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.subscribe(topic, on_assign=lambda cons, parts: assigned.append((cons, parts, threading.get_ident())))
        assert c.subscription() == [topic]
        m = c.poll(15)
        assert m is not None
        assert (m.topic, m.partition, m.offset, m.key, m.value, m.headers, m.timestamp) == (topic, 0, 0, b"k", b"v", [("h", b"1")], 42)
        assert "Message" in repr(m)
        assert assigned[0][0] is c and assigned[0][1] == [TopicPartition(topic, 0)] and assigned[0][2] == threading.get_ident()
        assert c.assignment() == [TopicPartition(topic, 0)]
        assert c.poll(0.1) is None


def test_consume_batch_and_iteration(bootstrap, topic, unique):
    produce(bootstrap, topic, 10)
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.subscribe([topic])
        batch = drain(c, 4)
        assert [m.offset for m in batch] == [0, 1, 2, 3]
        rest = []
        for m in c:
            rest.append(m.offset)
            if len(rest) == 6:
                break
        assert rest == [4, 5, 6, 7, 8, 9]
        assert c.consume(5, 0.2) == []
        with pytest.raises(ValueError, match="num_messages"):
            c.consume(0)


def test_iteration_ends_when_closed(bootstrap, topic, unique):
    c = streamlet.Consumer(consumer_config(bootstrap, unique("g")))
    c.assign([TopicPartition(topic, 0)])
    threading.Timer(0.3, c.close).start()
    assert list(c) == []


def test_commit_sync_committed_and_position(bootstrap, topic, unique):
    produce(bootstrap, topic, 5)
    group = unique("g")
    tp = TopicPartition(topic, 0)
    with streamlet.Consumer(consumer_config(bootstrap, group, enable_auto_commit=False)) as c:
        c.subscribe([topic])
        msgs = drain(c, 3)
        assert c.committed([tp]) == [TopicPartition(topic, 0, OFFSET_INVALID)]
        c.commit(msgs[0])
        assert c.committed(tp)[0].offset == 1
        c.commit(offsets=[TopicPartition(topic, 0, 2)])
        assert c.committed([tp])[0].offset == 2
        c.commit()
        assert c.committed([tp])[0].offset == 3
        assert c.position(tp) == 3
        assert c.position([tp]) == [TopicPartition(topic, 0, 3)]
        with pytest.raises(ValueError, match="must not be negative"):
            c.commit(offsets=[TopicPartition(topic, 0, -5)])
    with streamlet.Consumer(consumer_config(bootstrap, group)) as c:
        c.subscribe([topic])
        assert c.poll(15).offset == 3


def test_commit_async_reports_to_on_commit(bootstrap, topic, unique):
    produce(bootstrap, topic, 3)
    reports = []
    cfg = consumer_config(bootstrap, unique("g"), enable_auto_commit=False)
    with streamlet.Consumer(cfg, on_commit=lambda err, parts: reports.append((err, parts, threading.get_ident()))) as c:
        c.subscribe([topic])
        drain(c, 3)
        c.commit(asynchronous=True)
        wait_for(lambda: bool(reports), "the async commit report", step=lambda: c.poll(0.05))
    assert reports[0] == (None, [TopicPartition(topic, 0, 3)], threading.get_ident())


def test_auto_commit_on_close(bootstrap, topic, unique):
    produce(bootstrap, topic, 4)
    group = unique("g")
    with streamlet.Consumer(consumer_config(bootstrap, group, auto_commit_interval_ms=60000)) as c:
        c.subscribe([topic])
        drain(c, 4)
    with streamlet.Consumer(consumer_config(bootstrap, group)) as c:
        assert c.committed([TopicPartition(topic, 0)])[0].offset == 4


def test_assign_with_offsets_and_seek(bootstrap, topic, unique):
    produce(bootstrap, topic, 6)
    tp = TopicPartition(topic, 0)
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.assign([TopicPartition(topic, 0, 4)])
        assert [m.offset for m in drain(c, 2)] == [4, 5]
        c.seek(TopicPartition(topic, 0, 1))
        assert c.poll(10).offset == 1
        c.seek(TopicPartition(topic, 0, OFFSET_BEGINNING))
        assert c.poll(10).offset == 0
        c.seek(TopicPartition(topic, 0, OFFSET_END))
        assert c.position(tp) == 6
        c.seek_to_beginning([tp])
        assert c.position(tp) == 0
        c.seek_to_end(tp)
        assert c.position(tp) == 6
        assert c.get_watermark_offsets(tp) == (0, 6)
        with pytest.raises(streamlet.IllegalStateError, match="not assigned"):
            c.seek(TopicPartition(topic, 5, 0))
        c.assign([])
        assert c.assignment() == []


def test_pause_and_resume(bootstrap, topic, unique):
    produce(bootstrap, topic, 2)
    tp = TopicPartition(topic, 0)
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.assign([tp])
        c.pause([tp])
        assert c.paused() == [tp]
        assert c.poll(0.5) is None
        c.resume(tp)
        assert c.paused() == []
        assert c.poll(10).offset == 0


def test_errors(bootstrap, topic, unique):
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        with pytest.raises(streamlet.IllegalStateError) as e:
            c.poll(0)
        assert e.value.name == "_STATE" and not e.value.retriable
        with pytest.raises(ValueError, match="TopicPartition"):
            c.assign(["not a tp"])
        c.assign([TopicPartition(topic, 0)])
        with pytest.raises(streamlet.IllegalStateError, match="unsubscribe first"):
            c.subscribe([topic])
    with pytest.raises(streamlet.ConfigError) as e:
        streamlet.Consumer({"bootstrap.servers": bootstrap, "session.timeout.ms": "long"})
    assert e.value.key == "session.timeout.ms"
    c = streamlet.Consumer(consumer_config(bootstrap, unique("g")))
    c.close()
    c.close()
    with pytest.raises(streamlet.ClosedError):
        c.poll(0)
    noreset = consumer_config(bootstrap, unique("g"), auto_offset_reset="none")
    with streamlet.Consumer(noreset) as c:
        c.assign([TopicPartition(topic, 0)])
        with pytest.raises(streamlet.NoOffsetForPartitionError):
            c.poll(5)


def test_rebalance_revoke_between_two_members(bootstrap, topic3, unique):
    group = unique("g")
    events = []
    cfg = consumer_config(bootstrap, group, partition_assignment_strategy="range")
    a = streamlet.Consumer(cfg)
    b = streamlet.Consumer(cfg)
    try:
        a.subscribe([topic3], on_assign=lambda c, p: events.append(("a+", len(p))), on_revoke=lambda c, p: events.append(("a-", len(p))))
        wait_for(lambda: len(a.assignment()) == 3, "a owning all partitions", step=lambda: a.poll(0.05))
        b.subscribe([topic3])

        def step():
            a.poll(0.05)
            b.poll(0.05)
        wait_for(lambda: len(a.assignment()) + len(b.assignment()) == 3 and b.assignment(), "a and b sharing", step=step)
        assert ("a+", 3) in events and ("a-", 3) in events
    finally:
        b.close()
        a.close()
    assert events[-1][0] == "a-"


def test_rebalance_callback_exception_raises_from_poll(bootstrap, topic, unique):
    def bad(consumer, partitions):
        raise LookupError("on_assign failed")
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.subscribe([topic], on_assign=bad)
        with pytest.raises(LookupError, match="on_assign failed"):
            wait_for(lambda: False, "never", step=lambda: c.poll(0.1))


def test_own_offsets_seek_on_assign(bootstrap, topic, unique):
    produce(bootstrap, topic, 5)
    store = {TopicPartition(topic, 0): 3}

    def on_assign(consumer, partitions):
        for tp in partitions:
            consumer.seek(TopicPartition(tp.topic, tp.partition, store.get(tp, OFFSET_BEGINNING)))
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"), enable_auto_commit=False)) as c:
        c.subscribe([topic], on_assign=on_assign)
        assert c.poll(15).offset == 3


def test_poll_releases_the_gil(bootstrap, topic, unique):
    t = Ticker()
    t.start()
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.assign([TopicPartition(topic, 0, OFFSET_END)])
        before = t.count
        assert c.poll(0.4) is None
        assert t.count - before > 20
    t.stop.set()


def test_ctrl_c_interrupts_a_blocking_poll(bootstrap, topic, unique):
    # A process started in the background by a non-interactive shell (as CI may run us) inherits SIGINT as
    # ignored, and Python then installs no KeyboardInterrupt handler: install it for this test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
            c.assign([TopicPartition(topic, 0, OFFSET_END)])
            threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
            start = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                c.poll(30)
            assert time.monotonic() - start < 5
    finally:
        signal.signal(signal.SIGINT, previous)


def test_unsubscribe_revokes(bootstrap, topic, unique):
    revoked = []
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.subscribe([topic], on_revoke=lambda cons, p: revoked.append(p))
        wait_for(lambda: bool(c.assignment()), "assignment", step=lambda: c.poll(0.05))
        c.unsubscribe()
        assert revoked == [[TopicPartition(topic, 0)]] and c.subscription() == []


def test_topic_partition_value_semantics():
    a = TopicPartition("t", 1, 5)
    assert a == TopicPartition("t", 1, 5) and a != TopicPartition("t", 1)
    assert hash(a) == hash(TopicPartition("t", 1, 5))
    assert sorted([TopicPartition("t", 2), TopicPartition("t", 1)])[0].partition == 1
    assert TopicPartition("t").offset == OFFSET_INVALID and repr(TopicPartition("t", 1)) == 'TopicPartition("t", 1)'


class Upper:
    def __init__(self):
        self.commits = []
        self.closed = 0
        self.threads = set()

    def on_consume(self, messages):
        self.threads.add(threading.get_ident())
        return [m for m in messages if m.value != b"drop"]

    def on_commit(self, offsets):
        self.commits.append(offsets)

    def close(self):
        self.closed += 1


class Faulty:
    def on_consume(self, messages):
        raise RuntimeError("faulty on_consume")

    def on_commit(self, offsets):
        raise RuntimeError("faulty on_commit")


def test_consumer_interceptors(bootstrap, topic, unique, caplog):
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        for v in (b"a", b"drop", b"b"):
            p.send(topic, v)
    ic = Upper()
    cfg = consumer_config(bootstrap, unique("g"), enable_auto_commit=False)
    with caplog.at_level("ERROR", logger="streamlet"):
        with streamlet.Consumer(cfg, interceptors=[Faulty(), ic]) as c:
            c.subscribe([topic])
            got = []
            wait_for(lambda: len(got) >= 2, "two messages", step=lambda: got.extend(c.consume(3, 0.2)))
            assert [m.value for m in got] == [b"a", b"b"]
            c.commit()
            assert ic.commits == [[TopicPartition(topic, 0, 3)]]
            assert ic.threads == {threading.get_ident()}
    assert ic.closed == 1
    assert any("on_consume raised; skipped" in r.message for r in caplog.records)
    assert any("on_commit raised; skipped" in r.message for r in caplog.records)


def test_pattern_subscription(bootstrap, admin, unique):
    base = unique("pat")
    admin.create_topics([f"{base}-a", f"{base}-b", f"{base}x"])
    produce(bootstrap, f"{base}-a", 1)
    produce(bootstrap, f"{base}-b", 1)
    produce(bootstrap, f"{base}x", 1)
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.subscribe([f"^{base}-.*"])
        got = drain(c, 2)
        assert sorted(m.topic for m in got) == [f"{base}-a", f"{base}-b"]
        assert c.poll(0.3) is None
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        c.subscribe([f"^{base}-a$", f"{base}x"])
        assert sorted(m.topic for m in drain(c, 2)) == [f"{base}-a", f"{base}x"]
    with streamlet.Consumer(consumer_config(bootstrap, unique("g"))) as c:
        with pytest.raises(streamlet.InvalidArgumentError, match="pattern"):
            c.subscribe(["^(unclosed"])
