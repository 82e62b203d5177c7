import concurrent.futures
import logging
import threading

import pytest

import streamlet
from streamlet import TopicPartition
from conftest import consumer_config, drain


def read_all(bootstrap, topic, n, partitions=1):
    with streamlet.Consumer(consumer_config(bootstrap, f"reader-{topic}")) as c:
        c.assign([TopicPartition(topic, p, streamlet.OFFSET_BEGINNING) for p in range(partitions)])
        return drain(c, n)


def test_send_returns_a_future_with_metadata(bootstrap, topic):
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        fut = p.send(topic, b"v", key=b"k")
        md = fut.result(10)
        assert (md.topic, md.partition, md.offset) == (topic, 0, 0)
        assert md.timestamp > 0
        assert fut.done() and not fut.running() and not fut.cancelled() and not fut.cancel()
        assert fut.exception(1) is None
        assert p.send(topic, b"w").result(10).offset == 1


def test_bytes_str_none_and_headers(bootstrap, topic):
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        p.send(topic, "text", key="key", headers=[("a", b"1"), ("a", "2"), ("n", None)])
        p.send(topic, None, key=None, headers={"d": b"x"}, timestamp=1234)
        p.send(topic, bytearray(b"ba"), key=memoryview(b"mv"))
        p.flush(10)
    m = read_all(bootstrap, topic, 3)
    assert (m[0].key, m[0].value, m[0].headers) == (b"key", b"text", [("a", b"1"), ("a", b"2"), ("n", None)])
    assert (m[1].key, m[1].value, m[1].headers, m[1].timestamp) == (None, None, [("d", b"x")], 1234)
    assert m[1].timestamp_type == streamlet.TIMESTAMP_CREATE_TIME
    assert (m[2].key, m[2].value) == (b"mv", b"ba")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"value": 5}, "value must be bytes"),
    ({"key": 1.5}, "key must be bytes"),
    ({"headers": [("a",)]}, r"\(name, value\) tuple"),
    ({"headers": {1: b"x"}}, "header names must be str"),
    ({"headers": [("h", 3)]}, "header 'h'"),
    ({"headers": 7}, "headers must be"),
])
def test_bad_argument_types_are_value_errors(bootstrap, topic, kwargs, fragment):
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        with pytest.raises(ValueError, match=fragment) as e:
            p.send(topic, **kwargs)
        assert isinstance(e.value, streamlet.InvalidArgumentError)


def test_on_delivery_runs_in_poll_on_the_calling_thread(bootstrap, topic):
    calls = []
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        fut = p.send(topic, b"x", on_delivery=lambda err, md: calls.append((err, md.offset, threading.get_ident())))
        fut.result(10)
        assert calls == [], "callbacks must wait for poll"
        assert p.poll(5) == 1
        assert calls == [(None, 0, threading.get_ident())]
        assert p.poll(0) == 0


def test_flush_serves_callbacks_and_poll_timeout(bootstrap, topic):
    got = []
    with streamlet.Producer({"bootstrap.servers": bootstrap, "linger.ms": 50}) as p:
        for i in range(100):
            p.send(topic, b"%d" % i, on_delivery=lambda err, md: got.append(md.offset))
        p.flush(10)
        assert sorted(got) == list(range(100))
        assert p.poll(0.05) == 0


def test_delivery_callback_exception_propagates_from_poll(bootstrap, topic):
    def boom(err, md):
        raise RuntimeError("from callback")
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        p.send(topic, b"x", on_delivery=boom).result(10)
        with pytest.raises(RuntimeError, match="from callback"):
            p.poll(5)


def test_add_done_callback_before_and_after_completion(bootstrap, topic):
    seen = []
    with streamlet.Producer({"bootstrap.servers": bootstrap, "linger.ms": 20}) as p:
        fut = p.send(topic, b"x")
        fut.add_done_callback(lambda f: seen.append(("before", f.result().offset, threading.get_ident())))
        p.flush(10)
        assert seen == [("before", 0, threading.get_ident())]
        fut.add_done_callback(lambda f: seen.append(("after", f.done())))
        assert seen[-1] == ("after", True)


def test_errors_come_through_future_and_callback(bootstrap, topic):
    errs = []
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        p.send(topic, b"learn the metadata").result(10)
        fut = p.send(topic, b"x", partition=7, on_delivery=lambda err, md: errs.append((err, md.topic, md.offset)))
        with pytest.raises(streamlet.UnknownTopicOrPartitionError) as e:
            fut.result(5)
        assert e.value.code == 3 and e.value.name == "UNKNOWN_TOPIC_OR_PARTITION" and e.value.retriable
        assert isinstance(fut.exception(), streamlet.UnknownTopicOrPartitionError)
        p.poll(5)
        assert isinstance(errs[0][0], streamlet.KafkaError) and errs[0][1:] == (topic, -1)


def test_message_too_large(bootstrap, topic):
    with streamlet.Producer({"bootstrap.servers": bootstrap, "max.request.size": 1000}) as p:
        with pytest.raises(streamlet.MessageTooLargeError, match="max.request.size"):
            p.send(topic, b"x" * 2000).result(5)


def test_result_timeout_is_concurrent_futures_timeout(bootstrap, unique):
    missing = unique("missing")
    with streamlet.Producer({"bootstrap.servers": bootstrap, "delivery.timeout.ms": 60000, "request.timeout.ms": 30000}) as p:
        fut = p.send(missing, b"x", partition=0)
        with pytest.raises(concurrent.futures.TimeoutError):
            fut.result(0.2)
        assert not fut.done()
        p.close(0)
        with pytest.raises(streamlet.ClosedError):
            fut.result(5)


def test_unknown_topic_blocks_max_block_ms(bootstrap, unique):
    with streamlet.Producer({"bootstrap.servers": bootstrap, "max.block.ms": 300}) as p:
        with pytest.raises(streamlet.KafkaTimeoutError) as e:
            p.send(unique("nope"), b"x").result(5)
        assert e.value.name == "_TIMED_OUT" and e.value.retriable


def test_send_after_close_fails_with_closed(bootstrap, topic):
    p = streamlet.Producer({"bootstrap.servers": bootstrap})
    p.close()
    p.close()
    with pytest.raises(streamlet.ClosedError) as e:
        p.send(topic, b"x").result(5)
    assert e.value.code == -197


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="linger.ms") as e:
        streamlet.Producer({"bootstrap.servers": "127.0.0.1:9", "linger.ms": "soon"})
    assert isinstance(e.value, streamlet.ConfigError) and e.value.key == "linger.ms"
    with pytest.raises(streamlet.ConfigError, match="bootstrap.servers"):
        streamlet.Producer({})
    with pytest.raises(streamlet.ConfigError, match="acks"):
        streamlet.Producer({"bootstrap.servers": "127.0.0.1:9", "acks": [1]})


def test_explicit_partition_and_key_partitioning(bootstrap, topic3):
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        assert p.send(topic3, b"x", partition=2).result(10).partition == 2
        parts = {p.send(topic3, b"x", key=b"same").result(10).partition for _ in range(5)}
        assert len(parts) == 1


def test_custom_partitioner(bootstrap, topic3):
    calls = []

    def by_length(topic, key, count):
        calls.append((topic, key, count, threading.get_ident()))
        return len(key or b"") % count

    with streamlet.Producer({"bootstrap.servers": bootstrap}, partitioner=by_length) as p:
        assert p.send(topic3, b"v", key=b"ab").result(10).partition == 2
        assert p.send(topic3, b"v").result(10).partition == 0
        assert p.send(topic3, b"v", key=b"a", partition=1).result(10).partition == 1
    assert calls[0] == (topic3, b"ab", 3, threading.get_ident())
    assert len(calls) == 2


def test_partitioner_exception_raises_from_send(bootstrap, topic3):
    def bad(topic, key, count):
        raise KeyError("no partition for you")
    with streamlet.Producer({"bootstrap.servers": bootstrap}, partitioner=bad) as p:
        with pytest.raises(KeyError, match="no partition"):
            p.send(topic3, b"v")
    with pytest.raises(ValueError, match="partitioner"):
        streamlet.Producer({"bootstrap.servers": bootstrap}, partitioner=42)


class Prefixer:
    def __init__(self):
        self.acks = []
        self.closed = 0
        self.thread = None

    def on_send(self, record):
        record.value = b"pre-" + record.value
        record.headers = list(record.headers) + [("via", b"prefixer")]
        return record

    def on_acknowledgement(self, metadata, error):
        self.thread = threading.get_ident()
        self.acks.append((metadata.offset if metadata else None, error))

    def close(self):
        self.closed += 1


class Broken:
    def on_send(self, record):
        raise RuntimeError("broken on_send")

    def on_acknowledgement(self, metadata, error):
        raise RuntimeError("broken on_acknowledgement")


def test_interceptors_modify_count_and_close(bootstrap, topic, caplog):
    pre = Prefixer()
    with caplog.at_level(logging.ERROR, logger="streamlet"):
        with streamlet.Producer({"bootstrap.servers": bootstrap}, interceptors=[Broken(), pre]) as p:
            p.send(topic, b"a").result(10)
            p.send(topic, b"b", partition=9)
            p.flush(10)
            assert pre.thread == threading.get_ident()
    assert pre.closed == 1
    ok = [a for a in pre.acks if a[1] is None]
    failed = [a for a in pre.acks if a[1] is not None]
    assert ok == [(0, None)]
    assert failed[0][0] is None and isinstance(failed[0][1], streamlet.UnknownTopicOrPartitionError)
    assert any("on_send raised; skipped" in r.message for r in caplog.records)
    assert any("on_acknowledgement raised; skipped" in r.message for r in caplog.records)
    (m,) = read_all(bootstrap, topic, 1)
    assert m.value == b"pre-a" and m.headers == [("via", b"prefixer")]


def test_interceptor_returning_wrong_type_is_skipped(bootstrap, topic, caplog):
    class Wrong:
        def on_send(self, record):
            return "not a record"
    with caplog.at_level(logging.ERROR, logger="streamlet"):
        with streamlet.Producer({"bootstrap.servers": bootstrap}, interceptors=[Wrong()]) as p:
            assert p.send(topic, b"kept").result(10).offset == 0
    assert any("on_send must return a ProducerRecord" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_blocking_calls_release_the_gil(bootstrap, topic):
    from conftest import Ticker
    t = Ticker()
    t.start()
    with streamlet.Producer({"bootstrap.servers": bootstrap}) as p:
        before = t.count
        p.poll(0.3)
        assert t.count - before > 20, "another thread could not run during poll"
    t.stop.set()


def test_producer_record_repr_and_defaults():
    r = streamlet.ProducerRecord("t", b"v")
    assert r.headers == [] and r.partition is None and "ProducerRecord(topic=\"t\"" in repr(r)
