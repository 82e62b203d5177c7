"""pytest fixtures for the interop suite.

STREAMLET_INTEROP_TARGET=streamlet (default) runs `streamlet broker` ($STREAMLET_BIN or
<repo>/target/debug/streamlet); STREAMLET_INTEROP_TARGET=kafka runs Apache Kafka 4.1 from the Maven jars.
The broker is started once per session; its log is printed in the report of every failed test.
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_broker import broker_for  # noqa: E402

TARGET = os.environ.get("STREAMLET_INTEROP_TARGET", "streamlet")


def pytest_report_header(config):
    return f"interop target: {TARGET}"


@pytest.fixture(scope="session")
def target() -> str:
    return TARGET


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    kw = {}
    if TARGET == "kafka" and os.environ.get("STREAMLET_INTEROP_API_LOG") == "1":
        kw["request_log"] = True
    b = broker_for(TARGET, workdir=tmp_path_factory.mktemp(f"broker-{TARGET}"), **kw)
    _started.append(b)
    b.start()
    try:
        yield b
    finally:
        b.stop()


_started = []


def pytest_terminal_summary(terminalreporter):
    for b in _started:
        if getattr(b, "request_log", None) and b.request_log.exists():
            from request_summary import render, summarize

            terminalreporter.section("APIs and versions sent by each client (Apache Kafka request log)")
            terminalreporter.write_line(render(summarize(b.request_log)))


@pytest.fixture
def topic_name(request):
    def make(prefix: str = "") -> str:
        base = (prefix or request.node.name).replace("[", "-").replace("]", "").replace("_", "-")
        return f"{base[:60]}-{uuid.uuid4().hex[:6]}"
    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        # tests that start their own broker (test_crash.py) set item._interop_broker
        b = getattr(item, "_interop_broker", None) or item.funcargs.get("broker")
        if b is not None:
            rep.sections.append((f"{TARGET} broker log (tail of {b.log})", b.log_tail(120)))
