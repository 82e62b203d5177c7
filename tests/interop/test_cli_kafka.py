"""The `streamlet` command-line tools (topics, console producer/consumer, consumer groups) against Apache Kafka 4.1.

One Kafka broker serves the whole module (start-up costs 10-20 s); with STREAMLET_INTEROP_TARGET=kafka the
session's broker is reused instead. The tools run as the built binary ($STREAMLET_BIN or
<repo>/target/debug/streamlet), with their output and exit codes checked.
"""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from kafka_broker import REPO, KafkaBroker

TARGET = os.environ.get("STREAMLET_INTEROP_TARGET", "streamlet")
BINARY = os.environ.get("STREAMLET_BIN") or str(REPO / "target" / "debug" / "streamlet")
TOOL_TIMEOUT = 60


@pytest.fixture(scope="module")
def kafka(request, tmp_path_factory):
    if not Path(BINARY).exists():
        pytest.fail(f"streamlet binary not found at {BINARY}: build it with `cargo build -p streamlet-cli`")
    if TARGET == "kafka":
        yield request.getfixturevalue("broker")
        return
    b = KafkaBroker(workdir=tmp_path_factory.mktemp("cli-kafka"))
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(autouse=True)
def _attach_broker_log(request, kafka):
    # conftest's report hook prints this broker's log when a test fails.
    request.node._interop_broker = kafka


def streamlet(kafka, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    cmd = [BINARY, *args, "--bootstrap-server", kafka.bootstrap]
    try:
        return subprocess.run(cmd, input=input or "", capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`{' '.join(cmd)}` did not finish within {TOOL_TIMEOUT} s; stderr: {e.stderr}")


def ok(p: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert p.returncode == 0, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def fails(p: subprocess.CompletedProcess, code: int, text: str) -> subprocess.CompletedProcess:
    assert p.returncode == code and text in p.stderr, f"expected exit {code} mentioning {text!r}: exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def eventually(cond, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def test_topics_lifecycle(kafka):
    t = name("cli-topics")
    p = ok(streamlet(kafka, "topics", "--create", "--topic", t, "--partitions", "3", "--replication-factor", "1",
                     "--config", "retention.ms=86400000"))
    assert p.stdout.strip() == f"Created topic {t}."
    fails(streamlet(kafka, "topics", "--create", "--topic", t, "--partitions", "3"), 1, "TOPIC_ALREADY_EXISTS")
    ok(streamlet(kafka, "topics", "--create", "--topic", t, "--if-not-exists"))
    assert t in ok(streamlet(kafka, "topics", "--list")).stdout.splitlines()

    lines = ok(streamlet(kafka, "topics", "--describe", "--topic", t)).stdout.splitlines()
    assert lines[0].startswith(f"Topic: {t}\tTopicId: "), lines
    assert "\tPartitionCount: 3\tReplicationFactor: 1\t" in lines[0], lines
    assert "retention.ms=86400000" in lines[0], lines
    assert [l.split("\t")[2] for l in lines[1:]] == ["Partition: 0", "Partition: 1", "Partition: 2"], lines
    assert all("\tLeader: 1\tReplicas: 1\tIsr: 1" in l for l in lines[1:]), lines
    fails(streamlet(kafka, "topics", "--describe", "--topic", name("absent")), 1, "UNKNOWN_TOPIC_OR_PARTITION")

    ok(streamlet(kafka, "topics", "--alter", "--topic", t, "--partitions", "4"))
    fails(streamlet(kafka, "topics", "--alter", "--topic", t, "--partitions", "2"), 1, "INVALID_PARTITIONS")
    eventually(lambda: "PartitionCount: 4" in streamlet(kafka, "topics", "--describe", "--topic", t).stdout,
               "the topic to show 4 partitions")

    ok(streamlet(kafka, "topics", "--delete", "--topic", t))
    eventually(lambda: t not in ok(streamlet(kafka, "topics", "--list")).stdout.splitlines(),
               "the deleted topic to leave the list")


def test_console_round_trip_with_keys_and_headers(kafka):
    t = name("cli-console")
    ok(streamlet(kafka, "topics", "--create", "--topic", t, "--partitions", "1", "--replication-factor", "1"))
    ok(streamlet(kafka, "console-producer", "--topic", t, "--property", "parse.key=true", "--property",
                 "key.separator=:", "--acks", "all", "--compression-codec", "lz4", input="a:1\nb:2\nc:3\n"))
    ok(streamlet(kafka, "console-producer", "--topic", t, "--property", "parse.headers=true",
                 "--compression-codec", "zstd", input="h1:x,h2:y\tplain\n"))
    p = ok(streamlet(kafka, "console-consumer", "--topic", t, "--from-beginning", "--max-messages", "4",
                     "--timeout-ms", "20000", "--property", "print.key=true", "--property", "print.offset=true",
                     "--property", "print.partition=true", "--property", "print.headers=true"))
    assert p.stdout.splitlines() == [
        "Partition:0\tOffset:0\tNO_HEADERS\ta\t1",
        "Partition:0\tOffset:1\tNO_HEADERS\tb\t2",
        "Partition:0\tOffset:2\tNO_HEADERS\tc\t3",
        "Partition:0\tOffset:3\th1:x,h2:y\tnull\tplain",
    ], p.stdout
    assert "Processed a total of 4 messages" in p.stderr

    p = ok(streamlet(kafka, "console-consumer", "--topic", t, "--partition", "0", "--offset", "2",
                     "--max-messages", "1", "--timeout-ms", "20000", "--isolation-level", "read_committed"))
    assert p.stdout == "3\n"
    fails(streamlet(kafka, "console-consumer", "--topic", name("absent"), "--timeout-ms", "1000"), 1,
          "UNKNOWN_TOPIC_OR_PARTITION")


def test_producer_reports_refused_records(kafka):
    t = name("cli-small")
    ok(streamlet(kafka, "topics", "--create", "--topic", t, "--partitions", "1", "--replication-factor", "1",
                 "--config", "max.message.bytes=300"))
    p = fails(streamlet(kafka, "console-producer", "--topic", t, "--sync", input=f"fine\n{'x' * 2000}\nalso fine\n"),
              1, "MESSAGE_TOO_LARGE")
    assert "line 2 was not delivered" in p.stderr, p.stderr
    p = ok(streamlet(kafka, "console-consumer", "--topic", t, "--from-beginning", "--max-messages", "2",
                     "--timeout-ms", "20000"))
    assert p.stdout.splitlines() == ["fine", "also fine"]


def test_group_commits_printed_offsets_and_reset(kafka):
    t, g = name("cli-group"), name("cli-g")
    ok(streamlet(kafka, "topics", "--create", "--topic", t, "--partitions", "1", "--replication-factor", "1"))
    ok(streamlet(kafka, "console-producer", "--topic", t, input="".join(f"m{i}\n" for i in range(5))))
    p = ok(streamlet(kafka, "console-consumer", "--topic", t, "--group", g, "--from-beginning", "--max-messages", "2",
                     "--timeout-ms", "30000"))
    assert p.stdout.splitlines() == ["m0", "m1"]

    def row():
        out = ok(streamlet(kafka, "consumer-groups", "--describe", "--group", g)).stdout
        return next((l.split() for l in out.splitlines() if l.startswith(g + " ")), None)

    # The group may still be leaving (Kafka answers PreparingRebalance briefly): wait for it to be empty.
    eventually(lambda: row() == [g, t, "0", "2", "5", "3", "-", "-", "-"], "the group to show offset 2 of 5")
    assert g in ok(streamlet(kafka, "consumer-groups", "--list")).stdout.splitlines()

    p = ok(streamlet(kafka, "consumer-groups", "--reset-offsets", "--group", g, "--topic", t, "--to-earliest",
                     "--execute"))
    assert p.stdout.splitlines()[-1].split() == [g, t, "0", "0"]
    p = ok(streamlet(kafka, "console-consumer", "--topic", t, "--group", g, "--max-messages", "5",
                     "--timeout-ms", "30000"))
    assert p.stdout.splitlines() == [f"m{i}" for i in range(5)]

    eventually(lambda: streamlet(kafka, "consumer-groups", "--delete", "--group", g).returncode == 0,
               "the group to be deleted")
    fails(streamlet(kafka, "consumer-groups", "--describe", "--group", g), 1, "does not exist")


def test_perf_tools(kafka):
    t = name("cli-perf")
    ok(streamlet(kafka, "topics", "--create", "--topic", t, "--partitions", "2", "--replication-factor", "1"))
    p = ok(streamlet(kafka, "perf", "produce", "--topic", t, "--num-records", "2000", "--record-size", "100",
                     "--throughput", "-1", "--producer-property", "acks=all"))
    last = p.stdout.splitlines()[-1]
    assert last.startswith("2000 records sent, ") and last.endswith(" ms 99.9th."), p.stdout
    p = ok(streamlet(kafka, "perf", "consume", "--topic", t, "--messages", "2000", "--timeout", "30000"))
    last = p.stdout.splitlines()[-1]
    assert last.startswith("2000 records received, ") and last.endswith(" ms 99.9th."), p.stdout


def test_dump_log_reads_kafka_segments(kafka):
    if not hasattr(kafka, "dir"):
        pytest.skip("the broker's data directory is not known")
    t = name("cli-dump")
    ok(streamlet(kafka, "topics", "--create", "--topic", t, "--partitions", "1", "--replication-factor", "1"))
    ok(streamlet(kafka, "console-producer", "--topic", t, "--sync", "--compression-codec", "snappy",
                 "--property", "parse.key=true", input="k0\tv0\nk1\tv1\n"))
    seg = Path(kafka.dir) / "data" / f"{t}-0" / ("0" * 20)
    p = subprocess.run([BINARY, "dump-log", "--print-data-log", f"{seg}.log", f"{seg}.index", f"{seg}.timeindex"],
                       capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    ok(p)
    batches = [l for l in p.stdout.splitlines() if l.startswith("baseOffset:")]
    assert len(batches) == 2, p.stdout
    assert all("compresscodec: snappy" in b and "isvalid: true" in b for b in batches), p.stdout
    records = [l for l in p.stdout.splitlines() if l.startswith("| offset:")]
    assert [r.split(" key: ")[1] for r in records] == ["k0 payload: v0", "k1 payload: v1"], p.stdout
