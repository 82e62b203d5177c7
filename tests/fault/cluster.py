"""Clusters of broker processes on loopback, every link behind the harness's proxies.

A `Cluster` owns N `Node`s and the `Network`. It gives every ordered pair of nodes (and the workload, "client",
to every node) its own proxy per listener, and starts each node with the connect() shim (netmap.py) mapping
the real ports of the other nodes to *its* proxies, so the addresses in the shared cluster metadata stay real.

Targets plug in as launchers: a subclass of `Node` that knows how to configure, start and probe one process.
- `StreamletSingleNode`: one `streamlet broker` (no node-to-node links).
- `KafkaNode`:           Apache Kafka 4.1 in KRaft combined mode from tests/interop's jars.
- `StreamletClusterNode`: `streamlet broker --config server.properties` with Kafka's names; only when the binary
                          accepts `process.roles` (`streamlet_cluster_supported()` probes it).
The process handling itself (start, readiness, SIGTERM/SIGKILL) is tests/interop/kafka_broker.py's, by import.
"""
from __future__ import annotations

import base64
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import netmap
from proxy import Network

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "interop"))

import kafka_broker  # noqa: E402
from kafka_broker import BrokerError, KafkaBroker, StreamletBroker, free_port, wait_for  # noqa: E402

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

# Every node process is started from one of these threads, which live as long as the harness: kafka_broker
# starts brokers with PR_SET_PDEATHSIG, which fires when the *thread* that forked the child exits, so a broker
# started from a short-lived thread would be SIGKILLed the moment that thread ended.
_LAUNCHER = ThreadPoolExecutor(max_workers=16, thread_name_prefix="node-launcher")
CLIENT = "client"
DEPS_OK = bool(list((kafka_broker.DEPS / "lib").glob("kafka_2.13-*.jar")))


def streamlet_binary() -> str:
    return os.environ.get("STREAMLET_BIN") or str(REPO / "target" / "debug" / "streamlet")


# ---- options shared by every node ----------------------------------------------------------------------------
class NodeOptions:
    """What the nemeses need from a node's environment, fixed when the process starts."""

    def __init__(self, faketime: bool = False, disk_mb: int | None = None):
        self.faketime = faketime and Path(FAKETIME_LIB).exists()
        self.disk_mb = disk_mb


class Node:
    """One broker process of a cluster. Subclasses create `self.broker` (a kafka_broker._Broker)."""

    kind = "abstract"
    endpoints: dict[str, int]  # listener kind ("broker", "controller") -> real port

    def __init__(self, node_id: int, workdir: Path, options: NodeOptions):
        self.node_id = node_id
        self.name = f"n{node_id}"
        self.dir = workdir / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.options = options
        self.netmap: dict[int, int] = {}
        self.clock_file = self.dir / "faketime"
        self.clock_file.write_text("+0\n")
        self.mounted: Path | None = None
        self.broker = None

    # The data dir is a size-limited tmpfs when the disk nemesis is on (mounted before anything writes to it).
    def _mount_data(self, data: Path) -> None:
        if self.options.disk_mb is None:
            return
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.options.disk_mb}m", "tmpfs", str(data)],
                       check=True, capture_output=True, text=True)
        self.mounted = data

    def env_prefix(self) -> list[str]:
        """`env VAR=...` arguments that put this node's shim table (and libfaketime) into its process."""
        env = {netmap.ENV_TABLE: ",".join(f"{a}={b}" for a, b in sorted(self.netmap.items()))}
        libs = [str(netmap.build())]
        if self.options.faketime:
            libs.append(FAKETIME_LIB)
            # The skew is read from a file the clock nemesis rewrites; only the wall clock is skewed (a real
            # NTP step never moves CLOCK_MONOTONIC), and the file is re-read at most once a second.
            env.update({"FAKETIME_TIMESTAMP_FILE": str(self.clock_file), "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                        "FAKETIME_CACHE_DURATION": "1"})
        env["LD_PRELOAD"] = ":".join(libs)
        return ["env", *(f"{k}={v}" for k, v in env.items())]

    @property
    def pid(self) -> int | None:
        p = self.broker.proc if self.broker else None
        return p.pid if p is not None and p.poll() is None else None

    def running(self) -> bool:
        return self.pid is not None

    def start(self) -> None:
        _LAUNCHER.submit(self._start).result()

    def _start(self) -> None:
        self.broker.start()

    def kill(self) -> None:
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGCONT)  # a paused process dies just as well, but reap it cleanly
        self.broker.kill()

    def stop(self, grace: float = 30.0) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGCONT)
        self.broker.stop(grace=grace)

    def pause(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGCONT)

    def skew(self, seconds: float) -> None:
        self.clock_file.write_text(f"{seconds:+.0f}\n")

    def log_tail(self, n: int = 40) -> str:
        return self.broker.log_tail(n) if self.broker else ""

    def cleanup(self) -> None:
        if self.mounted is not None:
            subprocess.run(["umount", "-l", str(self.mounted)], capture_output=True)
            self.mounted = None


# ---- Streamlet, one node -------------------------------------------------------------------------------------
def _wrapper(path: Path, prefix: list[str], binary: str, extra_after_subcommand: list[str]) -> str:
    """A shell script that execs the binary with our environment (exec keeps the pid the signals go to)."""
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"  # noqa: E731
    extra = " ".join(q(a) for a in extra_after_subcommand)
    path.write_text("#!/bin/sh\n"
                    "# written by tests/fault/cluster.py: the shim's table and the clock file for this node\n"
                    f'sub="$1"; shift\nexec {" ".join(q(a) for a in prefix)} {q(binary)} "$sub" {extra} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


class StreamletSingleNode(Node):
    kind = "streamlet"

    def __init__(self, node_id: int, workdir: Path, options: NodeOptions, topic_sets: dict | None = None):
        super().__init__(node_id, workdir, options)
        self._mount_data(self.dir / "data")
        self.endpoints = {"broker": free_port()}
        self.sets = dict(topic_sets or {})

    def _start(self) -> None:
        if self.broker is None:
            wrapper = _wrapper(self.dir / "streamlet.sh", self.env_prefix(), streamlet_binary(), [])
            self.broker = StreamletBroker(workdir=self.dir, port=self.endpoints["broker"], binary=wrapper,
                                          extra_sets=self.sets)
        self.broker.start()


# ---- server.properties for a KRaft cluster, shared by Kafka and Streamlet ------------------------------------
def cluster_properties(node: Node, nodes: list[Node], data_dir: Path) -> dict[str, str]:
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.endpoints['controller']}" for n in nodes)
    rf = str(min(3, len(nodes)))
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{node.endpoints['broker']},"
                     f"CONTROLLER://127.0.0.1:{node.endpoints['controller']}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.endpoints['broker']}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "default.replication.factor": rf,
        "min.insync.replicas": "2" if len(nodes) >= 3 else "1",
        "unclean.leader.election.enable": "false",
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": "2" if len(nodes) >= 3 else "1",
        "group.initial.rebalance.delay.ms": "0",
    }


# ---- Apache Kafka 4.1 ---------------------------------------------------------------------------------------
class _KafkaProcess(KafkaBroker):
    """kafka_broker.KafkaBroker with a cluster's properties, a shared cluster id, and the node's environment."""

    def __init__(self, node: "KafkaNode", **kw):
        super().__init__(workdir=node.dir, heap="320m", **kw)
        self.node = node
        # KafkaBroker picks its own ports; the cluster chose them already.
        self.port = node.endpoints["broker"]
        self.controller_port = node.endpoints["controller"]
        self.bootstrap = f"127.0.0.1:{self.port}"

    def _java(self, *args: str) -> list[str]:
        return self.node.env_prefix() + super()._java(*args)

    def _format(self, cfg: Path) -> None:
        out = subprocess.run(self._java("kafka.tools.StorageTool", "format", "-t", self.node.cluster_id,
                                        "-c", str(cfg), "--ignore-formatted"),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if out.returncode != 0:
            raise BrokerError(f"kafka StorageTool format failed ({out.returncode}):\n{out.stdout}")
        self._formatted = True


class KafkaNode(Node):
    kind = "kafka"

    def __init__(self, node_id: int, workdir: Path, options: NodeOptions):
        super().__init__(node_id, workdir, options)
        self._mount_data(self.dir / "data")
        self.endpoints = {"broker": free_port(), "controller": free_port()}
        self.cluster_id = ""

    def configure(self, nodes: list[Node], cluster_id: str) -> None:
        self.cluster_id = cluster_id
        self.broker = _KafkaProcess(self, start_timeout=180.0,
                                    extra_props=cluster_properties(self, nodes, self.dir / "data"))


# ---- Streamlet, a KRaft-style cluster (issue 12) --------------------------------------------------------------
_probe_result: tuple[bool, str] | None = None


def streamlet_cluster_supported() -> tuple[bool, str]:
    """Does `streamlet broker --config` accept `process.roles`? Starts the binary once with a one-voter config
    and reads its log: today's single broker warns 'unknown broker configuration ignored key=process.roles'."""
    global _probe_result
    if _probe_result is not None:
        return _probe_result
    binary = streamlet_binary()
    if not Path(binary).exists():
        _probe_result = (False, f"no streamlet binary at {binary}")
        return _probe_result
    with tempfile.TemporaryDirectory(prefix="fault-probe-") as d:
        port, cport = free_port(), free_port()
        cfg = Path(d) / "server.properties"
        cfg.write_text(f"process.roles=broker,controller\nnode.id=1\ncontroller.quorum.voters=1@127.0.0.1:{cport}\n"
                       f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}\n"
                       f"controller.listener.names=CONTROLLER\nlog.dirs={d}/data\n")
        proc = subprocess.Popen([binary, "broker", "--config", str(cfg), "--data-dir", f"{d}/data",
                                 "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        err: list[str] = []
        threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
        try:
            wait_for(lambda: proc.poll() is not None or any("broker started" in ln or "process.roles" in ln
                                                            for ln in err), 20, "the probe broker", interval=0.05)
        except BrokerError:
            pass
        finally:
            proc.kill()
            proc.wait()
        text = "".join(err)
        if re.search(r"unknown .*process\.roles", text.replace("\x1b", "")):
            _probe_result = (False, "this streamlet binary ignores process.roles (single broker only; issue 12 "
                                    "has not landed on this branch)")
        elif proc.returncode not in (None, -9, 0) and "broker started" not in text:
            _probe_result = (False, f"the probe broker failed: {text[-500:]}")
        else:
            _probe_result = (True, "streamlet accepts process.roles")
    return _probe_result


class StreamletClusterNode(Node):
    kind = "streamlet-cluster"

    def __init__(self, node_id: int, workdir: Path, options: NodeOptions):
        super().__init__(node_id, workdir, options)
        self._mount_data(self.dir / "data")
        self.endpoints = {"broker": free_port(), "controller": free_port()}

    def configure(self, nodes: list[Node], cluster_id: str) -> None:
        props = cluster_properties(self, nodes, self.dir / "data")
        # Kafka's nodes get the cluster id from `kafka-storage format -t`; Streamlet formats on first start and
        # takes the shared id from `cluster.id`.
        props["cluster.id"] = cluster_id
        cfg = self.dir / "server.properties"
        cfg.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        wrapper = _wrapper(self.dir / "streamlet.sh", self.env_prefix(), streamlet_binary(), ["--config", str(cfg)])
        self.broker = StreamletBroker(workdir=self.dir, port=self.endpoints["broker"], binary=wrapper,
                                      start_timeout=120.0)


LAUNCHERS = {"streamlet": StreamletSingleNode, "kafka": KafkaNode, "streamlet-cluster": StreamletClusterNode}


# ---- the cluster ---------------------------------------------------------------------------------------------
class Cluster:
    def __init__(self, target: str, n: int, workdir: Path, network: Network, options: NodeOptions):
        if target not in LAUNCHERS:
            raise ValueError(f"unknown target {target!r}: {sorted(LAUNCHERS)}")
        if target == "streamlet" and n != 1:
            raise ValueError("target 'streamlet' is a single node; use 'streamlet-cluster' for several")
        if target == "streamlet-cluster":
            ok, why = streamlet_cluster_supported()
            if not ok:
                raise BrokerError(f"streamlet-cluster unavailable: {why}")
        self.target = target
        self.workdir = Path(workdir)
        self.network = network
        self.options = options
        self.nodes: list[Node] = [LAUNCHERS[target](i + 1, self.workdir, options) for i in range(n)]
        cluster_id = "-"
        while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid(): never read as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        for node in self.nodes:
            if hasattr(node, "configure"):
                node.configure(self.nodes, cluster_id)
        self._wire()

    def _wire(self) -> None:
        """One proxy per (source, destination, listener); each source's shim table points at its own proxies."""
        self.client_netmap: dict[int, int] = {}
        for dst in self.nodes:
            for kind, port in dst.endpoints.items():
                for src in self.nodes:
                    if src is not dst:
                        src.netmap[port] = self.network.add_proxy(src.name, dst.name, port)
                if kind == "broker":
                    self.client_netmap[port] = self.network.add_proxy(CLIENT, dst.name, port)

    @property
    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    @property
    def bootstrap(self) -> str:
        """Real addresses: the workload's shim routes them through the client proxies."""
        return ",".join(f"127.0.0.1:{n.endpoints['broker']}" for n in self.nodes)

    def client_env(self) -> dict[str, str]:
        return netmap.env_for(self.client_netmap)

    def start(self) -> None:
        errors = self.start_nodes(self.nodes)
        if errors:
            raise errors[0][1]

    def start_nodes(self, nodes: list[Node]) -> list[tuple[Node, BaseException]]:
        """Start the given nodes together (a KRaft node does not serve before a quorum of voters is up, so
        several dead voters must come back at once); returns the nodes that failed, with why."""
        futures = [(n, _LAUNCHER.submit(n._start)) for n in nodes if not n.running()]
        errors = []
        for n, f in futures:
            try:
                f.result()
            except BaseException as e:  # noqa: BLE001 - reported to the caller
                errors.append((n, e))
        return errors

    def admin_metadata(self, topic: str | None = None, timeout: float = 5.0):
        """Cluster metadata read directly (not through the proxies): the harness is Jepsen's control node."""
        from confluent_kafka.admin import AdminClient

        if not any(n.running() for n in self.nodes):
            return None
        admin = AdminClient({"bootstrap.servers": self.control_bootstrap(),
                             "socket.timeout.ms": int(timeout * 1000)})
        return admin.list_topics(topic=topic, timeout=timeout)

    def leaders(self, topic: str) -> list[Node]:
        try:
            md = self.admin_metadata(topic)
        except Exception:  # noqa: BLE001 - no answer under faults: no leader known
            return []
        if md is None or topic not in md.topics:
            return []
        ids = {p.leader for p in md.topics[topic].partitions.values() if p.leader >= 0}
        return [n for n in self.nodes if n.node_id in ids]

    def control_bootstrap(self) -> str:
        """The live nodes' real addresses, for the harness's own (control-plane) admin calls."""
        return ",".join(f"127.0.0.1:{n.endpoints['broker']}" for n in self.nodes if n.running())

    def kafka_tool(self, main_class: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run one of Kafka's command-line tools (from tests/interop's jars) against the live nodes."""
        cmd = ["java", "-Xmx128m", "-cp", kafka_broker.CLASSPATH, main_class,
               "--bootstrap-server", self.control_bootstrap(), *args]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(cmd, 124, e.stdout or "", f"timed out after {timeout}s")

    def active_controller(self) -> Node | None:
        """The quorum leader, from Kafka's own kafka-metadata-quorum tool (it reads Streamlet's too)."""
        if len(self.nodes) == 1:
            return self.nodes[0]
        if not any(n.running() for n in self.nodes):
            return None
        out = self.kafka_tool("org.apache.kafka.tools.MetadataQuorumCommand", "describe", "--status", timeout=40)
        m = re.search(r"LeaderId:\s*(\d+)", out.stdout)
        if not m:
            return None
        return next((n for n in self.nodes if n.node_id == int(m.group(1))), None)

    def wait_healthy(self, topic: str, partitions: int, timeout: float = 120.0) -> None:
        """Every node up and every partition of `topic` with a leader (after the nemesis healed everything)."""
        errors = self.start_nodes(self.nodes)
        if errors:
            raise errors[0][1]

        def ok():
            md = self.admin_metadata(topic)
            if md is None or topic not in md.topics or md.topics[topic].error is not None:
                return False
            ps = md.topics[topic].partitions
            return len(ps) == partitions and all(p.leader >= 0 and p.error is None for p in ps.values())

        wait_for(ok, timeout, f"every partition of {topic} to have a leader", interval=0.5)

    def shutdown(self) -> None:
        for n in self.nodes:
            try:
                n.resume()
                n.kill()
            except Exception:  # noqa: BLE001 - best effort; the rest still get killed
                pass
            n.cleanup()
