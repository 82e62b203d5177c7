#!/usr/bin/env python3
"""Produce throughput, latency and failover time on a 3-node cluster: RF=3, acks=all, min.insync.replicas=2.

The same load generators run against every target, so that a Streamlet cluster and an Apache Kafka cluster
on this machine compare like with like:

- throughput and latency: `streamlet perf produce` (Streamlet's Rust producer, release build) and
  bench/rdkafka_perf.c (librdkafka), each with acks=all and enable.idempotence=true, uncapped, into a fresh
  topic (RF=3, `--partitions`) per client and record size; records/s, MB/s (payload), p50/p99/max latency
  (send -> acknowledgement, including time queued in the client, as Kafka's ProducerPerformance measures);
- latency: one partition, `--latency-rate` records/s of 1 KiB for `--latency-seconds` from each client (no
  queueing at that rate): p50/p99/max send -> acknowledgement;
- failover: one partition, RF=3, a steady `--failover-rate` records/s from each client; after a second the
  partition leader is SIGKILLed. The failover time is the longest send -> acknowledgement latency of the run:
  the record sent just before the kill is acknowledged only by the new leader, so this is the time from the kill
  to the first successful produce on the new leader (within 1/rate). Streamlet's producer runs as
  `streamlet perf produce --throughput R` (its "max latency"); librdkafka as confluent-kafka in this process
  (paced here; the C tool has no rate cap), which also checks the figure against the kill instant (kill -> first
  acknowledgement of a record sent after it). Every record must be acknowledged (no loss).

    bench/cluster-bench.py                       # Apache Kafka 4.1, 3 KRaft nodes (tests/interop/kafka_cluster.py)
    bench/cluster-bench.py --target streamlet    # 3 `streamlet broker --config nodeN.properties` processes
    bench/cluster-bench.py --records-100 300000 --records-1k 100000 --skip-rdkafka
    bench/cluster-bench.py --set batch.size=1000000 --skip-failover    # librdkafka's batch size for both

Each client runs with its own defaults plus acks=all and enable.idempotence=true; they differ most in
`batch.size` (Streamlet, like the Java client: 16384; librdkafka: 1000000), which bounds what one request carries
at RF=3 latencies: `--set batch.size=1000000` gives both librdkafka's.

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
import subprocess
import sys
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
        # Streamlet formats an empty data dir itself; the shared cluster id (Kafka's `format -t`) is `cluster.id`.
        return StreamletNode(self.dir / f"node{node_id}", self.binary, node_id, port, controller_port, voters,
                             {**self.props, "cluster.id": cluster_id}, self.start_timeout)


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
                rate: float = -1, extra: list[str] = ()) -> list[str]:
    props = [*PRODUCE_PROPS, *extra]
    if client == "streamlet":
        return [streamlet, "perf", "produce", "--bootstrap-server", bootstrap, "--topic", topic, "--num-records",
                str(n), "--record-size", str(size), "--throughput", str(rate),
                *sum((["--producer-property", p] for p in props), [])]
    return [rdk, "produce", bootstrap, topic, str(n), str(size), *props]


class LeaderKill:
    """SIGKILLs the partition's leader on a thread of its own (the load goes on meanwhile) and notes when."""

    def __init__(self, cluster, topic: str):
        self.cluster, self.topic = cluster, topic
        self.leader = cluster.await_leader(topic, 0)
        self.thread = threading.Thread(target=self._run)
        self.started = False

    def _run(self):
        self.at = time.monotonic()
        self.cluster.kill(self.leader)
        self.new_leader = self.cluster.await_leader(self.topic, 0, not_on=self.leader)
        self.elected_s = time.monotonic() - self.at

    def start(self):
        self.started = True
        self.thread.start()

    def finish(self):
        """Waits for the election, then brings the killed node back into the ISR for the next run."""
        self.thread.join(120)
        self.cluster.restart(self.leader)
        self.cluster.await_isr(self.topic, 0, 3)


def paced_streamlet(cluster, streamlet: str, topic: str, size: int, rate: int, seconds: float,
                    kill: LeaderKill | None = None) -> dict:
    """`streamlet perf produce --throughput rate` for `seconds`; with `kill`, the leader dies after 1 s."""
    n = int(rate * seconds)
    cmd = produce_cmd("streamlet", streamlet, None, cluster.bootstrap, topic, n, size, rate)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    if kill:
        time.sleep(1.0)  # the load shape: a second of steady producing before the kill
        kill.start()
    rc = proc.wait(timeout=seconds + 180)
    reader.join(10)
    out = "".join(lines)
    if rc != 0:
        raise RuntimeError(f"streamlet perf produce failed ({rc}):\n{out[-3000:]}")
    r = parse(out)
    return {"records": int(r["n"]), "sent": n, "p50": float(r["p50"]), "p99": float(r["p99"]), "max": float(r["max"])}


def paced_librdkafka(cluster, topic: str, size: int, rate: int, seconds: float, kill: LeaderKill | None = None) -> dict:
    """confluent-kafka (librdkafka) at `rate` records/s for `seconds`, timing every record; with `kill`, the
    leader dies after 1 s and `first_after_kill` is the kill -> first acknowledgement of a record sent after it."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "log_level": 0})
    n = int(rate * seconds)
    sent, acked, failed = [0.0] * n, [0.0] * n, []

    def report(err, msg):
        i = int(msg.value()[:12])
        if err is not None:
            failed.append(f"{i}: {err}")
        else:
            acked[i] = time.monotonic()

    pad = b"x" * max(0, size - 12)
    start = time.monotonic()
    for i in range(n):
        due = start + i / rate
        while (now := time.monotonic()) < due:
            p.poll(due - now)
        if kill and not kill.started and now - start >= 1.0:
            kill.start()
        sent[i] = time.monotonic()
        p.produce(topic, value=f"{i:012d}".encode() + pad, partition=0, on_delivery=report)
    p.flush(180)
    done = sum(1 for a in acked if a)
    if failed or done != n:
        raise RuntimeError(f"librdkafka: {done} of {n} acknowledged; failures: {failed[:5]}")
    lat = sorted((a - s) * 1000 for a, s in zip(acked, sent))
    out = {"records": done, "sent": n, "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)], "max": lat[-1]}
    if kill:
        kill.thread.join(120)
        out["first_after_kill"] = min(a - kill.at for a, s in zip(acked, sent) if s >= kill.at) * 1000
    return out


def paced(client: str, cluster, streamlet: str, topic: str, size: int, rate: int, seconds: float,
          kill: LeaderKill | None = None) -> dict:
    if client == "streamlet":
        return paced_streamlet(cluster, streamlet, topic, size, rate, seconds, kill)
    return paced_librdkafka(cluster, topic, size, rate, seconds, kill)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=sorted(LAUNCHERS), default="kafka")
    ap.add_argument("--records-100", type=int, default=500_000, help="records of 100 B per client")
    ap.add_argument("--records-1k", type=int, default=150_000, help="records of 1 KiB per client")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--failover-rate", type=int, default=1000, help="records/s during the leader kill")
    ap.add_argument("--failover-seconds", type=float, default=10.0)
    ap.add_argument("--skip-rdkafka", action="store_true", help="only Streamlet's producer")
    ap.add_argument("--skip-failover", action="store_true")
    ap.add_argument("--latency-rate", type=int, default=2000, help="records/s of 1 KiB for the latency run")
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument("--set", action="append", default=[], metavar="K=V",
                    help="a producer setting for both clients in the throughput runs (repeatable)")
    ap.add_argument("--streamlet-bin", default=os.environ.get("STREAMLET_BIN",
                                                              str(REPO / "target" / "release" / "streamlet")))
    a = ap.parse_args()
    if not Path(a.streamlet_bin).exists():
        print(f"{a.streamlet_bin} missing: cargo build --release -p streamlet-cli", file=sys.stderr)
        return 2
    rdk = None if a.skip_rdkafka else str(_client_vs_librdkafka().ensure_rdkafka_perf())
    clients = ["streamlet"] + ([] if a.skip_rdkafka else ["librdkafka"])

    rows, latencies, failovers = [], [], []
    cluster = LAUNCHERS[a.target](a)
    t0 = time.monotonic()
    cluster.start()
    try:
        print(f"{a.target} cluster up in {time.monotonic() - t0:.1f}s at {cluster.bootstrap}", flush=True)
        for size, n in ((100, a.records_100), (1024, a.records_1k)):
            for client in clients:
                topic = f"bench-{client}-{size}"
                create_topic(cluster, a.streamlet_bin, topic, a.partitions)
                out = run(produce_cmd(client, a.streamlet_bin, rdk, cluster.bootstrap, topic, n, size, extra=a.set), 900)
                r = parse(out)
                rows.append((client, size, r))
                print(f"{client:10} {size:5} B: {LINE.search(out).group(0)}", flush=True)
        for client in clients:
            topic = f"latency-{client}"
            create_topic(cluster, a.streamlet_bin, topic, 1)
            r = paced(client, cluster, a.streamlet_bin, topic, 1024, a.latency_rate, a.latency_seconds)
            latencies.append((client, r))
            print(f"latency {client}: {r}", flush=True)
        for client in [] if a.skip_failover else clients:
            topic = f"failover-{client}"
            create_topic(cluster, a.streamlet_bin, topic, 1)
            kill = LeaderKill(cluster, topic)
            r = paced(client, cluster, a.streamlet_bin, topic, 100, a.failover_rate, a.failover_seconds, kill)
            kill.finish()
            r.update(client=client, killed=kill.leader, new_leader=kill.new_leader, elected_s=kill.elected_s)
            failovers.append(r)
            print(f"failover {client}: {r}", flush=True)
    finally:
        cluster.stop_all()
        cluster.cleanup()

    print(f"\n## Produce on a 3-node {a.target} cluster (RF=3, acks=all, min.insync.replicas=2, idempotent, "
          f"{a.partitions} partitions{', ' + ' '.join(a.set) if a.set else ''})")
    print(f"| client | record | records | records/s | MB/s | p50 ms | p99 ms | max ms |")
    print(f"|---|---:|---:|---:|---:|---:|---:|---:|")
    for client, size, r in rows:
        print(f"| {client} | {size} B | {int(r['n'])} | {float(r['rps']):.0f} | {float(r['mbps']):.1f} | {r['p50']} "
              f"| {r['p99']} | {float(r['max']):.0f} |")
    print(f"\n## Latency at {a.latency_rate} records/s of 1 KiB, one partition (send -> acknowledgement)")
    print("| client | p50 ms | p99 ms | max ms | records acked / sent |")
    print("|---|---:|---:|---:|---:|")
    for client, r in latencies:
        print(f"| {client} | {r['p50']:.0f} | {r['p99']:.0f} | {r['max']:.0f} | {r['records']} / {r['sent']} |")
    if not failovers:
        return 0
    print(f"\n## Failover: leader SIGKILL -> first successful produce on the new leader ({a.failover_rate} records/s)")
    print("| client | failover ms (max send->ack) | kill -> first ack of a later send ms | leader elected after s "
          "| records acked / sent |")
    print("|---|---:|---:|---:|---:|")
    for f in failovers:
        first = f"{f['first_after_kill']:.0f}" if "first_after_kill" in f else "-"
        print(f"| {f['client']} | {f['max']:.0f} | {first} | {f['elected_s']:.1f} | {f['records']} / {f['sent']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
