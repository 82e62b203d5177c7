"""One fault run: start a cluster behind the proxies, run the workload while a seeded schedule of nemeses
breaks things, heal everything, drain, check, plot. Everything lands in one run directory:

    history.jsonl  drain.jsonl   the workload's and the final read's events (history.py)
    nemesis.jsonl                every fault window (nemesis.py)
    result.json                  the checker's verdict, anomaly counts and excerpts, run parameters
    plot.png                     throughput and latency over time, fault windows shaded
    nodes/nN/                    each node's config and logs (data dirs removed when the run is valid)

    python tests/fault/run.py --target streamlet --nemesis kill-random --duration 30 --seed 7
    python tests/fault/run.py --target kafka --nodes 3 --nemesis all --duration 60
Exit status: 0 valid, 1 anomalies found or the drain could not complete, 2 the harness itself failed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import checker  # noqa: E402
import history  # noqa: E402
import nemesis  # noqa: E402
from cluster import Cluster, NodeOptions, kafka_broker  # noqa: E402
from plot import plot  # noqa: E402
from proxy import Network  # noqa: E402

TOPIC = "fault-queue"


def create_topic(cluster: Cluster, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    n = len(cluster.nodes)
    admin = AdminClient({"bootstrap.servers": ",".join(f"127.0.0.1:{x.endpoints['broker']}" for x in cluster.nodes)})
    topic = NewTopic(TOPIC, num_partitions=partitions, replication_factor=min(3, n),
                     config={"min.insync.replicas": "2"} if n >= 3 else {})  # a single node: the default, 1
    for fut in admin.create_topics([topic], operation_timeout=60).values():
        fut.result(timeout=90)
    cluster.wait_healthy(TOPIC, partitions)


def run(target: str, nodes: int, nemeses: list[str], seed: int, duration: float, run_dir: Path,
        partitions: int = 4, rate: float = 100.0, settle: float = 10.0, disk_mb: int | None = None,
        faketime: bool | None = None) -> dict:
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a history must be one run's: never append to an older one
    run_dir.mkdir(parents=True)
    # libfaketime stops a JVM KRaft quorum from forming here (see README): the clock nemesis is Streamlet's.
    if faketime is None:
        faketime = "clock" in nemeses
    if "disk-full" in nemeses and disk_mb is None:
        disk_mb = 256
    params = {"target": target, "nodes": nodes, "nemeses": nemeses, "seed": seed, "duration": duration,
              "partitions": partitions, "rate": rate, "disk_mb": disk_mb, "faketime": faketime,
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    (run_dir / "params.json").write_text(json.dumps(params, indent=1))
    net = Network(seed=seed)
    cluster = None
    workload = None
    schedule = None
    try:
        cluster = Cluster(target, nodes, run_dir / "nodes", net, NodeOptions(faketime=faketime, disk_mb=disk_mb))
        cluster.start()
        create_topic(cluster, partitions)
        env = cluster.client_env()
        common = ["--bootstrap", cluster.bootstrap, "--topic", TOPIC, "--partitions", str(partitions)]
        with open(run_dir / "workload.log", "ab") as wlog:
            workload = subprocess.Popen(
                [sys.executable, str(HERE / "workload.py"), "run", *common, "--history", str(run_dir / "history.jsonl"),
                 "--duration", str(duration + settle), "--rate", str(rate), "--seed", str(seed)],
                env=env, stdout=wlog, stderr=subprocess.STDOUT, preexec_fn=kafka_broker._die_with_parent)
        # Faults start once the workload is running (its first event), not while its interpreter boots.
        hist = run_dir / "history.jsonl"
        kafka_broker.wait_for(lambda: hist.exists() and hist.stat().st_size > 0, 60, "the workload's first event",
                              proc=workload, log=run_dir / "workload.log")
        schedule = nemesis.Schedule(cluster, nemeses, seed, TOPIC, run_dir / "nemesis.jsonl")
        windows = schedule.run(duration) if nemeses else []
        # A node that cannot come back is a finding, not a harness failure: record it, drain what serves.
        recovery_error = None
        try:
            schedule.heal_all()
            cluster.wait_healthy(TOPIC, partitions, timeout=180)
        except Exception as e:  # noqa: BLE001
            recovery_error = repr(e)[:4000]
        try:
            workload.wait(timeout=settle + 120)
        except subprocess.TimeoutExpired:
            workload.kill()
            workload.wait()
        with open(run_dir / "workload.log", "ab") as wlog:
            drain = subprocess.run(
                [sys.executable, str(HERE / "workload.py"), "drain", *common, "--history", str(run_dir / "drain.jsonl"),
                 "--timeout", "120" if recovery_error is None else "30"],
                env=env, stdout=wlog, stderr=subprocess.STDOUT, timeout=200, preexec_fn=kafka_broker._die_with_parent)
        events = history.read(run_dir / "history.jsonl", run_dir / "drain.jsonl")
        result = checker.check(events)
        result["params"] = params
        result["windows"] = windows
        result["faults"] = sorted({w["nemesis"] for w in windows})
        result["drain_exit"] = drain.returncode
        if recovery_error is not None:
            result["recovery_error"] = recovery_error
            if result["verdict"] == "valid":
                result["verdict"], result["valid"] = "unknown", False
        (run_dir / "result.json").write_text(json.dumps(result, indent=1))
        plot(events, windows, run_dir / "plot.png",
             f"{target} x{nodes}, seed {seed}: {result['verdict']} {result['anomaly_counts'] or ''}")
        return result
    finally:
        if workload is not None and workload.poll() is None:
            workload.kill()
            workload.wait()
        if schedule is not None:
            schedule.close()
        if cluster is not None:
            cluster.shutdown()
        net.close()
        # Node data is large and only of interest when something went wrong.
        res = run_dir / "result.json"
        if res.exists() and json.loads(res.read_text()).get("valid"):
            for d in (run_dir / "nodes").glob("n*/data"):
                shutil.rmtree(d, ignore_errors=True)


def summary(result: dict) -> str:
    lines = [f"verdict: {result['verdict']}", f"anomalies: {result['anomaly_counts'] or 'none'}",
             f"faults: {', '.join(result.get('faults', [])) or 'none'}", f"stats: {result['stats']}",
             f"drain: {result['drain']}"]
    if result.get("recovery_error"):
        lines.append(f"recovery after healing failed: {result['recovery_error'][:1500]}")
    for name, insts in result["anomalies"].items():
        lines.append(f"--- {name} ({result['anomaly_counts'][name]}) ---")
        for inst in insts[:3]:
            lines.append("  " + inst["description"])
            for ev in inst["excerpt"]:
                lines.append("    " + json.dumps(ev))
    return "\n".join(lines)


def parse_nemeses(spec: str, target: str, nodes: int) -> list[str]:
    avail = nemesis.available(target, nodes, faketime=target != "kafka", disk=True)
    if spec == "none":
        return []
    if spec == "all":
        return avail
    names = spec.split(",")
    for n in names:
        if n not in avail:
            raise SystemExit(f"nemesis {n!r} not available for {target} x{nodes}: {avail}")
    return names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="streamlet", choices=["streamlet", "kafka", "streamlet-cluster"])
    ap.add_argument("--nodes", type=int, default=None, help="1 for streamlet, 3 (or 5) otherwise")
    ap.add_argument("--nemesis", default="kill-random", help="comma-separated names, 'all' or 'none'")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=30, help="seconds of faults")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--runs-dir", default=str(HERE / "runs"))
    a = ap.parse_args(argv)
    nodes = a.nodes or (1 if a.target == "streamlet" else 3)
    nem = parse_nemeses(a.nemesis, a.target, nodes)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    run_dir = Path(a.runs_dir) / f"{stamp}-{a.target}{nodes}-s{a.seed}"
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        result = run(a.target, nodes, nem, a.seed, a.duration, run_dir, partitions=a.partitions, rate=a.rate)
    except Exception as e:  # noqa: BLE001 - the harness failed, not the system under test
        print(f"harness error: {e!r}\nrun dir: {run_dir}", file=sys.stderr)
        return 2
    print(summary(result))
    print(f"run dir: {run_dir}")
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
