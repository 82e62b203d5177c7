#!/usr/bin/env python3
"""Produce throughput, latency and failover time on a 3-node cluster: RF=3, acks=all, min.insync.replicas=2.

The same load generators run against every target, so that a Streamlet cluster and an Apache Kafka cluster
on this machine compare like with like:

- throughput and latency: `streamlet perf produce` (Streamlet's Rust producer, release build) and
  bench/rdkafka_perf.c (librdkafka), each with acks=all and enable.idempotence=true, uncapped, into a fresh
  topic (RF=3, `--partitions`) per client and record size; records/s, MB/s (payload), p50/p99/max latency
  (send -> acknowledgement, including time queued in the client, as Kafka's ProducerPerformance measures);
- failover: one partition, RF=3, a steady `--failover-rate` records/s from each client; after a second the
  partition leader is SIGKILLed. The failover time is the longest send -> acknowledgement latency of the run:
  the record sent just before the kill is acknowledged only by the new leader, so this is the time from the kill
  to the first successful produce on the new leader (within 1/rate). Streamlet's producer runs as
  `streamlet perf produce --throughput R` (its "max latency"); librdkafka as confluent-kafka in this process,
  which also checks the figure against the kill instant (kill -> first acknowledgement of a record sent after
  it). Every record must be acknowledged (no loss).

    bench/cluster-bench.py                       # Apache Kafka 4.1, 3 KRaft nodes (tests/interop/kafka_cluster.py)
    bench/cluster-bench.py --target streamlet    # 3 `streamlet broker --config nodeN.properties` processes
    bench/cluster-bench.py --records-100 300000 --records-1k 100000 --skip-rdkafka

Targets are launchers (`LAUNCHERS`): a cluster object with `start()`, `stop_all()`, `bootstrap`, `kill(node)`,
`restart(node)`, `await_leader(topic, partition, not_on=None)` and `await_isr(topic, partition, size)`.
`StreamletCluster` below is the hook for Streamlet's own cluster (issue 12): it writes each node a Kafka-style
properties file (`process.roles`, `node.id`, `controller.quorum.voters`, `listeners`, `controller.listener.names`,
`log.dirs`, and the same RF=3 settings as the Kafka cluster) and starts `target/release/streamlet broker --config
nodeN.properties`; it runs once `streamlet broker` accepts `--config` and forms a cluster.

Both clusters use `broker.session.timeout.ms=3000` (Kafka's default is 9000): a killed leader is replaced about
that long after the kill, so failover figures depend on it more than on anything else.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "interop"))

from kafka_broker import BrokerError, _Broker, _die_with_parent, metadata_ok, port_open, wait_for  # noqa: E402
from kafka_cluster import CLUSTER_PROPS, KafkaCluster, LoopbackCluster  # noqa: E402

# The report line of Kafka's perf tools (streamlet perf produce and rdkafka_perf print it too).
LINE = re.compile(r"(?P<n>\d+) records sent, (?P<rps>[\d.]+) records/sec \((?P<mbps>[\d.]+) MB/sec\), "
                  r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
                  r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th")


def _client_vs_librdkafka():
    """bench/client-vs-librdkafka.py (a hyphenated script), for its rdkafka_perf build step."""
    spec = importlib.util.spec_from_file_location("client_vs_librdkafka", REPO / "bench" / "client-vs-librdkafka.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------------- launchers

class StreamletNode(_Broker):
    """One `streamlet broker --config nodeN.properties` process, combined broker+controller."""

    def __init__(self, workdir: Path, binary: str, node_id: int, port: int, controller_port: int, voters: str,
                 props: dict[str, str], start_timeout: float):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.binary, self.node_id, self.port, self.start_timeout = binary, node_id, port, start_timeout
        self.bootstrap = f"127.0.0.1:{port}"
        self.log = self.dir / "streamlet.log"
        self.config = self.dir / f"node{node_id}.properties"
        all_props = {
            "process.roles": "broker,controller",
            "node.id": str(node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            **props,
        }
        self.config.write_text("".join(f"{k}={v}\n" for k, v in all_props.items()))

    def launch(self) -> None:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([self.binary, "broker", "--config", str(self.config)], stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    def await_ready(self, timeout: float | None = None) -> None:
        timeout = timeout or self.start_timeout
        try:
            wait_for(lambda: port_open("127.0.0.1", self.port) and metadata_ok(self.bootstrap), timeout,
                     f"streamlet node {self.node_id} to serve Metadata at {self.bootstrap}", self.proc, self.log,
                     interval=0.3)
        except BaseException:
            self.stop(grace=5)
            raise


class StreamletCluster(LoopbackCluster):
    """Streamlet's own cluster (issue 12): the hook. Same ports, voters and RF=3 settings as KafkaCluster."""

    def __init__(self, binary: str, **kw):
        self.binary = binary
        if not Path(binary).exists():
            raise BrokerError(f"{binary} not found: cargo build --release -p streamlet-cli (or --streamlet-bin)")
        super().__init__(**kw)

    def make_node(self, node_id, port, controller_port, voters, cluster_id):
        # Streamlet formats an empty data dir itself and agrees on the cluster id through the quorum.
        return StreamletNode(self.dir / f"node{node_id}", self.binary, node_id, port, controller_port, voters,
                             self.props, self.start_timeout)


LAUNCHERS = {
    "kafka": lambda a: KafkaCluster(),
    "streamlet": lambda a: StreamletCluster(binary=a.streamlet_bin),
}


# ---------------------------------------------------------------------------------------------- runs

def run(cmd: list[str], timeout: float) -> str:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return proc.stdout


def parse(out: str) -> dict:
    found = list(LINE.finditer(out))
    if not found:
        raise RuntimeError(f"no report line in:\n{out[-2000:]}")
    return found[-1].groupdict()


def create_topic(cluster, streamlet: str, topic: str, partitions: int) -> None:
    run([streamlet, "topics", "--bootstrap-server", cluster.bootstrap, "--create", "--topic", topic,
         "--partitions", str(partitions), "--replication-factor", "3"], 60)
    for p in range(partitions):
        cluster.await_isr(topic, p, 3)


PRODUCE_PROPS = ["acks=all", "enable.idempotence=true"]


def produce_cmd(client: str, streamlet: str, rdk: str | None, bootstrap: str, topic: str, n: int, size: int,
                rate: float = -1) -> list[str]:
    if client == "streamlet":
        return [streamlet, "perf", "produce", "--bootstrap-server", bootstrap, "--topic", topic, "--num-records",
                str(n), "--record-size", str(size), "--throughput", str(rate),
                *sum((["--producer-property", p] for p in PRODUCE_PROPS), [])]
    return [rdk, "produce", bootstrap, topic, str(n), str(size), *PRODUCE_PROPS]


def failover_streamlet(cluster, streamlet: str, topic: str, rate: int, seconds: float) -> dict:
    """`streamlet perf produce --throughput rate` across a leader kill; its max latency is the failover time."""
    n = int(rate * seconds)
    cmd = produce_cmd("streamlet", streamlet, None, cluster.bootstrap, topic, n, 100, rate)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    time.sleep(1.0)  # the load shape: a second of steady producing before the kill
    leader = cluster.await_leader(topic, 0)
    killed_at = time.monotonic()
    cluster.kill(leader)
    new_leader = cluster.await_leader(topic, 0, not_on=leader)
    elected = time.monotonic() - killed_at
    rc = proc.wait(timeout=seconds + 180)
    reader.join(10)
    out = "".join(lines)
    if rc != 0:
        raise RuntimeError(f"streamlet perf produce failed across the leader kill ({rc}):\n{out[-3000:]}")
    r = parse(out)
    cluster.restart(leader)
    cluster.await_isr(topic, 0, 3)
    return {"client": "streamlet", "killed": leader, "new_leader": new_leader, "failover_ms": float(r["max"]),
            "elected_s": elected, "records": int(r["n"]), "sent": n}


def failover_librdkafka(cluster, topic: str, rate: int, seconds: float) -> dict:
    """confluent-kafka (librdkafka) at `rate` records/s across a leader kill, timing every record."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "log_level": 0})
    sent: dict[int, float] = {}
    acked: dict[int, float] = {}
    failed: list[str] = []

    def report(err, msg):
        i = int(msg.value()[:12])
        if err is not None:
            failed.append(f"{i}: {err}")
        else:
            acked[i] = time.monotonic()

    n = int(rate * seconds)
    start = time.monotonic()
    killed_at = None
    leader = cluster.await_leader(topic, 0)
    killer: threading.Thread | None = None
    kill_info: dict = {}

    def kill():
        kill_info["at"] = time.monotonic()
        cluster.kill(leader)
        kill_info["new_leader"] = cluster.await_leader(topic, 0, not_on=leader)
        kill_info["elected_s"] = time.monotonic() - kill_info["at"]

    for i in range(n):
        due = start + i / rate
        while (now := time.monotonic()) < due:
            p.poll(due - now)
        if killer is None and now - start >= 1.0:
            killer = threading.Thread(target=kill)
            killer.start()
        sent[i] = time.monotonic()
        p.produce(topic, value=f"{i:012d}".encode() + b"x" * 88, partition=0, on_delivery=report)
    p.flush(180)
    killer.join(120)
    killed_at = kill_info["at"]
    if failed or len(acked) != n:
        raise RuntimeError(f"librdkafka: {len(acked)} of {n} acknowledged; failures: {failed[:5]}")
    max_latency = max(acked[i] - sent[i] for i in range(n))
    after = [acked[i] - killed_at for i in range(n) if sent[i] >= killed_at]
    cluster.restart(leader)
    cluster.await_isr(topic, 0, 3)
    return {"client": "librdkafka", "killed": leader, "new_leader": kill_info["new_leader"],
            "failover_ms": max_latency * 1000, "first_after_kill_ms": min(after) * 1000,
            "elected_s": kill_info["elected_s"], "records": len(acked), "sent": n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=sorted(LAUNCHERS), default="kafka")
    ap.add_argument("--records-100", type=int, default=500_000, help="records of 100 B per client")
    ap.add_argument("--records-1k", type=int, default=150_000, help="records of 1 KiB per client")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--failover-rate", type=int, default=1000, help="records/s during the leader kill")
    ap.add_argument("--failover-seconds", type=float, default=10.0)
    ap.add_argument("--skip-rdkafka", action="store_true", help="only Streamlet's producer")
    ap.add_argument("--streamlet-bin", default=os.environ.get("STREAMLET_BIN",
                                                              str(REPO / "target" / "release" / "streamlet")))
    a = ap.parse_args()
    if not Path(a.streamlet_bin).exists():
        print(f"{a.streamlet_bin} missing: cargo build --release -p streamlet-cli", file=sys.stderr)
        return 2
    rdk = None if a.skip_rdkafka else str(_client_vs_librdkafka().ensure_rdkafka_perf())
    clients = ["streamlet"] + ([] if a.skip_rdkafka else ["librdkafka"])

    rows, failovers = [], []
    cluster = LAUNCHERS[a.target](a)
    t0 = time.monotonic()
    cluster.start()
    try:
        print(f"{a.target} cluster up in {time.monotonic() - t0:.1f}s at {cluster.bootstrap}", flush=True)
        for size, n in ((100, a.records_100), (1024, a.records_1k)):
            for client in clients:
                topic = f"bench-{client}-{size}"
                create_topic(cluster, a.streamlet_bin, topic, a.partitions)
                out = run(produce_cmd(client, a.streamlet_bin, rdk, cluster.bootstrap, topic, n, size), 900)
                r = parse(out)
                rows.append((client, size, r))
                print(f"{client:10} {size:5} B: {LINE.search(out).group(0)}", flush=True)
        for client in clients:
            topic = f"failover-{client}"
            create_topic(cluster, a.streamlet_bin, topic, 1)
            f = (failover_streamlet(cluster, a.streamlet_bin, topic, a.failover_rate, a.failover_seconds)
                 if client == "streamlet" else failover_librdkafka(cluster, topic, a.failover_rate, a.failover_seconds))
            failovers.append(f)
            print(f"failover {client}: {f}", flush=True)
    finally:
        cluster.stop_all()
        cluster.cleanup()

    print(f"\n## Produce on a 3-node {a.target} cluster (RF=3, acks=all, min.insync.replicas=2, idempotent, "
          f"{a.partitions} partitions)")
    print(f"| client | record | records | records/s | MB/s | p50 ms | p99 ms | max ms |")
    print(f"|---|---:|---:|---:|---:|---:|---:|---:|")
    for client, size, r in rows:
        print(f"| {client} | {size} B | {int(r['n'])} | {float(r['rps']):.0f} | {float(r['mbps']):.1f} | {r['p50']} "
              f"| {r['p99']} | {float(r['max']):.0f} |")
    print(f"\n## Failover: leader SIGKILL -> first successful produce on the new leader ({a.failover_rate} records/s)")
    print("| client | failover ms (max send->ack) | kill -> first ack of a later send ms | leader elected after s "
          "| records acked / sent |")
    print("|---|---:|---:|---:|---:|")
    for f in failovers:
        first = f"{f['first_after_kill_ms']:.0f}" if "first_after_kill_ms" in f else "-"
        print(f"| {f['client']} | {f['failover_ms']:.0f} | {first} | {f['elected_s']:.1f} | {f['records']} / {f['sent']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
