"""A 3-node Apache Kafka 4.1 KRaft cluster on loopback, for failover tests and benchmarks.

Every node is a combined broker+controller (`KafkaBroker` from kafka_broker.py, one data dir and two free ports
each), all formatted with one cluster id and listed in one `controller.quorum.voters`. `LoopbackCluster` holds
what does not depend on the implementation (ports, lifecycle, leader/ISR/coordinator lookups through librdkafka),
so that bench/cluster-bench.py runs a Streamlet cluster through the same object. Topics default to
RF=3 with `min.insync.replicas=2` and unclean leader election off, as a production cluster would run; broker
fencing is faster than Kafka's defaults (`broker.session.timeout.ms`) so that a killed leader is replaced in
seconds, not tens of seconds.

    with KafkaCluster() as c:
        c.kill(c.leader_of("t", 0))      # SIGKILL
        c.restart(node)                  # same data dir and ports, waits until it serves again
        c.active_controller()            # the quorum leader, from the nodes' quorum-state files

`ClusterControl` serves those operations on a loopback TCP port, one text line per command, so that a test in
another process (the Rust failover suite, core/tests/client_failover.rs) can kill and restart nodes mid-stream.

Usable without pytest:  python tests/interop/kafka_cluster.py   (prints bootstrap and control address, runs
until Ctrl-C).
"""
from __future__ import annotations

import json
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

from kafka_broker import BrokerError, KafkaBroker, free_port, new_cluster_id, wait_for

# RF=3 defaults and fast failure detection. Everything else is kafka_broker.py's single-node configuration.
CLUSTER_PROPS = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "unclean.leader.election.enable": "false",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    # A SIGKILLed broker is fenced (and its leaderships move) when it misses heartbeats for this long.
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",
    # The tests kill leaders on purpose: do not move leadership back behind their back.
    "auto.leader.rebalance.enable": "false",
    "num.io.threads": "2",
    "num.replica.fetchers": "1",
}


def java_string_hash(s: str) -> int:
    """Java's String.hashCode (UTF-16 code units), as the group coordinator uses to place a group."""
    data, h = s.encode("utf-16-be"), 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


class LoopbackCluster:
    """N combined broker+controller nodes on loopback, each with its own data dir and two free ports, sharing
    one voters list and one cluster id. Subclasses make the nodes (`make_node`): Apache Kafka here
    (`KafkaCluster`), Streamlet in bench/cluster-bench.py. A node has `bootstrap`, `proc`, `launch()`,
    `await_ready(timeout)`, `kill()`, `stop(grace)` and `log_tail(n)` (kafka_broker's `_Broker`)."""

    def __init__(self, workdir: str | Path | None = None, nodes: int = 3, extra_props: dict[str, str] | None = None,
                 start_timeout: float = 150.0):
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="interop-cluster-"))
        self.start_timeout = start_timeout
        self.props = {**CLUSTER_PROPS, **(extra_props or {})}
        cluster_id = new_cluster_id()
        used: set[int] = set()
        while len(used) < 2 * nodes:  # free_port may hand out a port twice (bound and closed in between)
            used.add(free_port())
        it = iter(sorted(used))
        ports = {i: (next(it), next(it)) for i in range(1, nodes + 1)}
        voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in ports.items())
        self.nodes = {i: self.make_node(i, p, c, voters, cluster_id) for i, (p, c) in ports.items()}
        self.bootstrap = ",".join(n.bootstrap for n in self.nodes.values())
        self.offsets_partitions = int(self.props["offsets.topic.num.partitions"])

    def make_node(self, node_id: int, port: int, controller_port: int, voters: str, cluster_id: str):
        raise NotImplementedError

    def cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_all()
        self.cleanup()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Starts every node, then waits (bounded by start_timeout) until each serves Metadata and the cluster
        lists all of them; on failure every node is stopped and the error carries the failing node's log."""
        try:
            for n in self.nodes.values():
                n.launch()
            deadline = time.monotonic() + self.start_timeout
            for n in self.nodes.values():
                n.await_ready(max(1.0, deadline - time.monotonic()))
            wait_for(lambda: len(self.live_brokers()) == len(self.nodes), max(1.0, deadline - time.monotonic()),
                     f"all {len(self.nodes)} brokers to be registered and unfenced")
        except BaseException as e:
            self.stop_all()
            if isinstance(e, BrokerError):
                raise BrokerError(f"{e}\n{self.log_tails(20)}") from None
            raise

    def kill(self, node: int) -> None:
        """SIGKILL: no controlled shutdown, leadership moves only when the controller fences the node."""
        self.nodes[node].kill()

    def stop(self, node: int, grace: float = 30.0) -> None:
        """SIGTERM: a controlled shutdown (leadership moves away before the node exits)."""
        self.nodes[node].stop(grace)

    def restart(self, node: int) -> None:
        """Starts a stopped or killed node again (same data dir and ports) and waits until it serves."""
        n = self.nodes[node]
        n.kill()
        n.launch()
        n.await_ready()

    def running(self, node: int) -> bool:
        p = self.nodes[node].proc
        return p is not None and p.poll() is None

    def stop_all(self) -> None:
        for n in self.nodes.values():
            n.stop(grace=10)

    def log_tails(self, n: int = 30) -> str:
        return "\n".join(f"--- node {i} ---\n{b.log_tail(n)}" for i, b in self.nodes.items())

    # ------------------------------------------------------------------ who does what

    def _admin(self):
        from confluent_kafka.admin import AdminClient

        live = ",".join(n.bootstrap for i, n in self.nodes.items() if self.running(i)) or self.bootstrap
        # log_level 0: librdkafka would log every refused connection to a node killed on purpose.
        return AdminClient({"bootstrap.servers": live, "client.id": "kafka-cluster-fixture", "log_level": 0})

    def live_brokers(self) -> set[int]:
        """Broker ids in the cluster's metadata (Kafka lists only registered, unfenced brokers)."""
        return set(self._admin().list_topics(timeout=5).brokers)

    def partition(self, topic: str, partition: int):
        """The partition's metadata (confluent_kafka PartitionMetadata: leader, replicas, isrs) from a live node."""
        md = self._admin().list_topics(topic, timeout=5)
        t = md.topics.get(topic)
        if t is None or t.error is not None or partition not in t.partitions:
            raise BrokerError(f"no metadata for {topic}-{partition}: {t.error if t else 'unknown topic'}")
        return t.partitions[partition]

    def leader_of(self, topic: str, partition: int) -> int:
        """The partition's current leader id (-1 while it has none)."""
        return self.partition(topic, partition).leader

    def await_leader(self, topic: str, partition: int, not_on: int | None = None, timeout: float = 60.0) -> int:
        """Waits until the partition has a live leader (other than `not_on`) and returns it."""
        def ok():
            leader = self.leader_of(topic, partition)  # raises (retried) while the topic is unknown
            return leader if leader >= 0 and leader != not_on and self.running(leader) else None
        return wait_for(ok, timeout, f"a leader for {topic}-{partition} other than {not_on}")

    def await_isr(self, topic: str, partition: int, size: int, timeout: float = 90.0) -> list[int]:
        """Waits until the partition's ISR has `size` members (a restarted node caught up and rejoined)."""
        return wait_for(lambda: (lambda isr: isr if len(isr) >= size else None)(self.partition(topic, partition).isrs),
                        timeout, f"{topic}-{partition} to have {size} in-sync replicas")

    def offsets_partition(self, group: str) -> int:
        """The __consumer_offsets partition of a group: abs(hashCode(group)) % offsets.topic.num.partitions, as
        Kafka's GroupCoordinator places it (Utils.abs maps Integer.MIN_VALUE to 0)."""
        h = java_string_hash(group)
        return (0 if h == -(1 << 31) else abs(h)) % self.offsets_partitions

    def coordinator_of(self, group: str) -> int:
        """The group coordinator: the leader of the group's __consumer_offsets partition (waits until
        __consumer_offsets exists and the partition has a live leader)."""
        return self.await_leader("__consumer_offsets", self.offsets_partition(group))

class KafkaCluster(LoopbackCluster):
    """Apache Kafka 4.1 nodes (kafka_broker.KafkaBroker), formatted with one cluster id."""

    def __init__(self, workdir: str | Path | None = None, nodes: int = 3, extra_props: dict[str, str] | None = None,
                 start_timeout: float = 150.0, heap: str = "512m"):
        self.heap = heap
        super().__init__(workdir, nodes, extra_props, start_timeout)

    def make_node(self, node_id: int, port: int, controller_port: int, voters: str, cluster_id: str):
        return KafkaBroker(workdir=self.dir / f"node{node_id}", start_timeout=self.start_timeout,
                           extra_props=self.props, heap=self.heap, node_id=node_id, cluster_id=cluster_id, port=port,
                           controller_port=controller_port, voters=voters)

    def active_controller(self) -> int:
        """The KRaft quorum leader, read from the live nodes' `quorum-state` files (each node persists the
        leader and epoch it knows on every election): the live node named at the highest epoch."""
        best = (-1, -1)
        for i, n in self.nodes.items():
            if not self.running(i):
                continue
            for f in (n.dir / "data").glob("__cluster_metadata-0/quorum-state"):
                try:
                    st = json.loads(f.read_text())
                except (OSError, ValueError):
                    continue
                epoch, leader = st.get("leaderEpoch", -1), st.get("leaderId", -1)
                if epoch > best[0] and leader >= 0:
                    best = (epoch, leader)
        leader = best[1]
        if leader < 0 or not self.running(leader):
            raise BrokerError(f"no live active controller (quorum-state says {best})")
        return leader

    def await_controller(self, not_on: int | None = None, timeout: float = 60.0) -> int:
        def ok():
            try:
                c = self.active_controller()
            except BrokerError:
                return None
            return c if c != not_on else None
        return wait_for(ok, timeout, f"an active controller other than {not_on}")



class ClusterControl:
    """Serves `KafkaCluster` operations to another process over loopback TCP: one command line in, one answer
    line out ("ok ..." or "error ..."). Commands:

        leader TOPIC PARTITION           -> ok NODE
        kill-leader TOPIC PARTITION      -> ok NODE      (SIGKILL; answers once a new leader is elected)
        kill-coordinator GROUP           -> ok NODE      (answers once the group's partition has a new leader)
        kill-controller                  -> ok NODE      (answers once another controller is active)
        restart NODE                     -> ok NODE      (answers once the node serves again)
        await-isr TOPIC PARTITION SIZE   -> ok ISR,...
    """

    def __init__(self, cluster: KafkaCluster):
        self.cluster = cluster
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.log: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _serve(self) -> None:
        # Clients are served one at a time on this thread, which lives as long as the control: a node that a
        # command restarts is this thread's child, and kafka_broker's PR_SET_PDEATHSIG SIGKILLs a child when the
        # *thread* that started it exits (a thread per client would take its restarted nodes down with it).
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._client(conn)

    def _client(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rw") as f:
            for line in f:
                started = time.monotonic()
                try:
                    answer = "ok " + self.handle(line.split())
                except Exception as e:  # noqa: BLE001 - reported to the caller, who fails its test
                    answer = "error " + " ".join(str(e).split())[:2000]
                self.log.append(f"{line.strip()} -> {answer[:200]} ({time.monotonic() - started:.1f}s)")
                f.write(answer + "\n")
                f.flush()

    def handle(self, cmd: list[str]) -> str:
        c = self.cluster
        match cmd:
            case ["leader", topic, p]:
                return str(c.leader_of(topic, int(p)))
            case ["kill-leader", topic, p]:
                node = c.await_leader(topic, int(p))
                c.kill(node)
                c.await_leader(topic, int(p), not_on=node)
                return str(node)
            case ["kill-coordinator", group]:
                node = c.coordinator_of(group)
                c.kill(node)
                c.await_leader("__consumer_offsets", c.offsets_partition(group), not_on=node)
                return str(node)
            case ["kill-controller"]:
                node = c.active_controller()
                c.kill(node)
                c.await_controller(not_on=node)
                return str(node)
            case ["restart", node]:
                c.restart(int(node))
                return node
            case ["await-isr", topic, p, size]:
                return ",".join(map(str, c.await_isr(topic, int(p), int(size))))
        raise BrokerError(f"unknown command {' '.join(cmd)!r}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # SIGTERM too stops the nodes and removes the temp dir (a background job ignores Ctrl-C's SIGINT).
    signal.signal(signal.SIGTERM, _interrupt)
    with KafkaCluster() as cluster:
        control = ClusterControl(cluster)
        print(f"bootstrap {cluster.bootstrap}\ncontrol {control.addr}\ncontroller {cluster.active_controller()}",
              flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
