"""Start and stop brokers for interop tests and benchmarks.

`KafkaBroker` runs the Apache Kafka 4.1 broker from the Maven Central jars in tests/interop/.deps/lib
(installed by setup.sh) in KRaft combined mode (broker+controller, node.id=1) on free loopback ports,
in a temp dir. `StreamletBroker` runs `streamlet broker`. Both expose `.bootstrap` ("HOST:PORT"),
`.stop()`, `.kill()`, `.start()` (again, same data dir and port), `.log_tail()`, and are context managers.

Usable without pytest:  python tests/interop/kafka_broker.py [kafka|streamlet]   (prints bootstrap,
runs until Ctrl-C).
"""
from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEPS = HERE / ".deps"
CLASSPATH = f"{DEPS / 'classes'}:{DEPS / 'lib'}/*"


class BrokerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(cond, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None,
             interval: float = 0.1):
    """Poll cond() until truthy; raise BrokerError naming `what` after `timeout` s or if proc exits."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"process exited with status {proc.returncode} while waiting for {what}"
                              + (f"\n--- {log} ---\n{tail(log)}" if log else ""))
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last_exc = e
        time.sleep(interval)
    raise BrokerError(f"timed out after {timeout}s waiting for {what}"
                      + (f" (last error: {last_exc!r})" if last_exc else "")
                      + (f"\n--- {log} ---\n{tail(log)}" if log else ""))


def tail(path: Path | None, n: int = 80) -> str:
    if path is None or not Path(path).exists():
        return "(no log)"
    lines = Path(path).read_text(errors="replace").splitlines()
    return "\n".join(lines[-n:])


def new_cluster_id() -> str:
    """A random KRaft cluster id (base64url of a UUID), never starting with "-": as Kafka's Uuid.randomUuid(),
    since StorageTool would read such an id as an option."""
    cluster_id = "-"
    while cluster_id.startswith("-"):
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    return cluster_id


def metadata_ok(bootstrap: str, timeout: float = 5.0) -> bool:
    """True when a Metadata request through a real client (librdkafka) lists at least one broker."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "client.id": "interop-readiness",
                         "socket.timeout.ms": int(timeout * 1000)})
    md = admin.list_topics(timeout=timeout)
    return len(md.brokers) > 0


def _die_with_parent():
    """preexec_fn: the broker gets SIGKILL if the test process dies without cleaning up (Linux only). The signal
    follows the *thread* that started the broker: start brokers from threads that live as long as they should."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def _terminate(proc: subprocess.Popen, grace: float) -> tuple[int, bool]:
    """SIGTERM, SIGKILL after `grace` s. Returns (exit status, whether SIGKILL was needed)."""
    if proc.poll() is not None:
        return proc.returncode, False
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=grace), False
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10), True


class _Broker:
    bootstrap: str
    log: Path
    proc: subprocess.Popen | None = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()

    def log_tail(self, n: int = 80) -> str:
        return tail(self.log, n)

    def kill(self) -> None:
        """SIGKILL (crash) the broker and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, grace: float = 15.0) -> tuple[int, bool] | None:
        """SIGTERM, then SIGKILL after `grace` seconds. Returns (exit status, SIGKILL needed)."""
        if self.proc is not None:
            return _terminate(self.proc, grace)
        return None

    def cleanup(self) -> None:
        pass


class KafkaBroker(_Broker):
    """Apache Kafka 4.1 (KRaft combined mode) from the Maven jars."""

    def __init__(self, workdir: str | Path | None = None, start_timeout: float = 90.0,
                 extra_props: dict[str, str] | None = None, heap: str = "768m", request_log: bool = False,
                 node_id: int = 1, cluster_id: str | None = None, port: int | None = None,
                 controller_port: int | None = None, voters: str | None = None):
        """One KRaft node. Alone (the defaults) it is its own quorum; `KafkaCluster` (kafka_cluster.py) makes
        several share one `cluster_id` and one `voters` list ("ID@HOST:PORT,...") with the ports it picked."""
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="interop-kafka-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.start_timeout = start_timeout
        self.extra_props = extra_props or {}
        self.heap = heap
        # request_log: every request (header with client id, API key and version) to requests.log
        self.request_log = self.dir / "requests.log" if request_log else None
        self.node_id = node_id
        self.cluster_id = cluster_id or new_cluster_id()
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        self.voters = voters or f"{node_id}@127.0.0.1:{self.controller_port}"
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log = self.dir / "kafka.log"
        self._formatted = False
        if not list((DEPS / "lib").glob("kafka_2.13-*.jar")):
            raise BrokerError(f"Kafka jars missing in {DEPS / 'lib'}: run tests/interop/setup.sh")

    def _java(self, *args: str) -> list[str]:
        java = shutil.which("java") or "java"
        return [java, f"-Xms128m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}",
                f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
                "-cp", CLASSPATH, *args]

    def _write_config(self) -> Path:
        props = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.quorum.voters": self.voters,
            "log.dirs": str(self.dir / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.flush.interval.messages": "9223372036854775807",
        }
        props.update(self.extra_props)
        cfg = self.dir / "server.properties"
        cfg.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        logfile = self.log
        # slf4j-reload4j is the binding on the classpath (see java/pom.xml); log4j2 config for completeness.
        (self.dir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, F\n"
            "log4j.appender.F=org.apache.log4j.FileAppender\n"
            f"log4j.appender.F.File={logfile}\n"
            "log4j.appender.F.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.F.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka.request.logger=WARN\n"
            "log4j.logger.org.apache.kafka.raft=WARN\n"
            + ("log4j.logger.kafka.request.logger=DEBUG, R\n"
               "log4j.additivity.kafka.request.logger=false\n"
               "log4j.appender.R=org.apache.log4j.FileAppender\n"
               f"log4j.appender.R.File={self.request_log}\n"
               "log4j.appender.R.layout=org.apache.log4j.PatternLayout\n"
               "log4j.appender.R.layout.ConversionPattern=%m%n\n" if self.request_log else "")
        )
        (self.dir / "log4j2.properties").write_text(
            "rootLogger.level=INFO\nrootLogger.appenderRef.f.ref=F\n"
            f"appender.f.type=File\nappender.f.name=F\nappender.f.fileName={logfile}\n"
            "appender.f.layout.type=PatternLayout\nappender.f.layout.pattern=[%d] %p %m (%c)%n\n"
        )
        return cfg

    def _format(self, cfg: Path) -> None:
        out = subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(cfg),
                                        "--ignore-formatted"),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if out.returncode != 0:
            raise BrokerError(f"kafka StorageTool format failed ({out.returncode}):\n{out.stdout}")
        self._formatted = True

    def launch(self) -> None:
        """Formats the data dir on first use and starts the JVM, without waiting for it to serve: a node of a
        several-voter quorum cannot answer Metadata until enough voters are up."""
        if self.proc is not None and self.proc.poll() is None:
            raise BrokerError("already running")
        import confluent_kafka  # noqa: F401 - readiness check needs it; fail now, not after a timeout

        cfg = self._write_config()
        if not self._formatted:
            self._format(cfg)
        self.stdout = open(self.dir / "kafka.stdout", "ab")
        self.proc = subprocess.Popen(self._java("kafka.Kafka", str(cfg)), stdout=self.stdout,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir,
                                     preexec_fn=_die_with_parent)

    def await_ready(self, timeout: float | None = None) -> None:
        """Waits until the node accepts connections and answers Metadata; stops it and raises with its log tail
        when it does not within `timeout` (default: start_timeout) seconds or exits."""
        timeout = timeout or self.start_timeout
        deadline = time.monotonic() + timeout
        try:
            wait_for(lambda: port_open("127.0.0.1", self.port), timeout,
                     f"Kafka node {self.node_id} to accept connections on {self.bootstrap}", self.proc, self.log)
            wait_for(lambda: metadata_ok(self.bootstrap), max(1.0, deadline - time.monotonic()),
                     f"a Metadata request to Kafka node {self.node_id} at {self.bootstrap} to succeed",
                     self.proc, self.log, interval=0.5)
        except BaseException:
            self.stop(grace=5)
            raise

    def start(self) -> None:
        self.launch()
        self.await_ready()

    def log_tail(self, n: int = 80) -> str:
        return tail(self.log, n) + "\n--- stdout/stderr ---\n" + tail(self.dir / "kafka.stdout", 20)

    def cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


LISTENING_RE = re.compile(r"listening on (\S+:\d+)")


class StreamletBroker(_Broker):
    """`streamlet broker` (path from $STREAMLET_BIN or <repo>/target/debug/streamlet)."""

    def __init__(self, workdir: str | Path | None = None, port: int = 0, start_timeout: float = 30.0,
                 extra_sets: dict[str, str] | None = None, binary: str | None = None):
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="interop-streamlet-"))
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.start_timeout = start_timeout
        self.sets = {"group.initial.rebalance.delay.ms": "0", **(extra_sets or {})}
        self.binary = binary or os.environ.get("STREAMLET_BIN") or str(REPO / "target" / "debug" / "streamlet")
        self.log = self.dir / "streamlet.stderr"
        self.bootstrap = ""
        if not Path(self.binary).exists():
            raise BrokerError(f"streamlet binary not found at {self.binary} "
                              "(build it with `cargo build -p streamlet-cli` or set STREAMLET_BIN)")

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise BrokerError("already running")
        cmd = [self.binary, "broker", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"]
        for k, v in self.sets.items():
            cmd += ["--set", f"{k}={v}"]
        self.stderr = open(self.log, "ab")
        self.stderr.write(f"\n=== start: {' '.join(cmd)}\n".encode())
        self.stderr.flush()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL,
                                     text=True, bufsize=1, preexec_fn=_die_with_parent)
        found: list[str] = []
        lines: list[str] = []

        def reader(proc=self.proc):
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                m = LISTENING_RE.search(line)
                if m and not found:
                    found.append(m.group(1))
            # keep draining until EOF so the broker never blocks on a full pipe

        threading.Thread(target=reader, daemon=True).start()
        try:
            addr = wait_for(lambda: found[0] if found else None, self.start_timeout,
                            "streamlet to print 'listening on HOST:PORT' on stdout", self.proc, self.log)
        except BrokerError as e:
            self.stop(grace=5)
            raise BrokerError(f"{e}\n--- stdout ---\n" + "\n".join(lines[-20:])) from None
        self.bootstrap = addr
        self.port = int(addr.rsplit(":", 1)[1])  # a restart reuses the same port

    def cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def broker_for(target: str, **kw) -> _Broker:
    if target == "kafka":
        return KafkaBroker(**kw)
    if target == "streamlet":
        return StreamletBroker(**kw)
    raise BrokerError(f"unknown target {target!r}: use 'streamlet' or 'kafka'")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STREAMLET_INTEROP_TARGET", "streamlet")
    with broker_for(target) as b:
        print(b.bootstrap, flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
