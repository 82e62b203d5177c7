"""Streamlet's Rust client suites (core/tests/client_*.rs) against Apache Kafka 4.1.

The same tests that run against an embedded Streamlet broker in `cargo test` run here against a real Kafka
broker (KRaft, from the Maven Central jars), through STREAMLET_TEST_EXTERNAL_BOOTSTRAP. One test per suite so
that a failure names it; the cargo output (every test's name and result) is printed on failure. Tests that
restart the broker or need other broker settings say `SKIPPED on the external broker` and are counted here.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_broker import KafkaBroker  # noqa: E402

REPO = Path(__file__).resolve().parent.parent.parent
SUITES = ["client_cluster", "client_producer", "client_consumer", "client_admin"]

pytestmark = pytest.mark.skipif(os.environ.get("STREAMLET_INTEROP_TARGET", "streamlet") != "streamlet",
                                reason="runs its own Apache Kafka broker; once per interop run is enough")


@pytest.fixture(scope="module")
def kafka(tmp_path_factory):
    # The settings tests/common/mod.rs expects of the external broker (EXTERNAL_BROKER_CONFIG).
    b = KafkaBroker(workdir=tmp_path_factory.mktemp("rust-client-kafka"),
                    extra_props={"offsets.topic.num.partitions": "1", "num.partitions": "1",
                                 "group.initial.rebalance.delay.ms": "0", "auto.create.topics.enable": "true"})
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.mark.parametrize("suite", SUITES)
def test_rust_client_suite_passes_against_apache_kafka(kafka, suite):
    env = dict(os.environ, STREAMLET_TEST_EXTERNAL_BOOTSTRAP=kafka.bootstrap)
    proc = subprocess.run(
        ["cargo", "test", "--locked", "-p", "streamlet", "--test", suite, "--", "--test-threads=1", "--nocapture"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    summary = re.findall(r"test result: .*", out)
    skipped = out.count("SKIPPED on the external broker")
    print(f"{suite}: {summary[-1] if summary else 'no result line'}; {skipped} skipped (embedded-only)")
    # The failing tests' names and panics first: CI reports keep only the start of a long message.
    failures = "\n".join(line for line in out.splitlines() if "FAILED" in line or "panicked at" in line)
    assert proc.returncode == 0, (f"{suite} failed against Apache Kafka:\n{failures}\n--- cargo output ---\n{out[-20000:]}"
                                  f"\n--- kafka log ---\n{kafka.log_tail(30)}")
