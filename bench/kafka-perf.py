#!/usr/bin/env python3
"""Throughput/latency benchmark with Apache Kafka's own perf tools (kafka-tools 4.1, Java client).

Starts a broker (streamlet by default, --target kafka for Apache Kafka 4.1 from the Maven jars), creates
one topic per case, runs org.apache.kafka.tools.ProducerPerformance for 100-byte and 1 KiB records with
acks=1 and acks=all, then reads each topic back with org.apache.kafka.tools.ConsumerPerformance (which
joins a consumer group) and with AssignConsumerPerf (tests/interop/java/src, partition assignment, no
group). Prints each tool's own output and a summary table. See bench/README.md.

    bench/kafka-perf.py                       # streamlet (target/debug/streamlet, or $STREAMLET_BIN)
    bench/kafka-perf.py --target kafka        # Apache Kafka 4.1
    bench/kafka-perf.py --records-100 200000 --records-1k 50000 --partitions 1
    bench/kafka-perf.py --bootstrap HOST:PORT # an already running broker
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INTEROP = REPO / "tests" / "interop"
sys.path.insert(0, str(INTEROP))

CP = f"{INTEROP / '.deps' / 'classes'}:{INTEROP / '.deps' / 'lib'}/*"
LOG4J = f"-Dlog4j.configuration=file:{INTEROP / 'java' / 'log4j-client.properties'}"

PRODUCER_RE = re.compile(
    r"(?P<records>\d+) records sent, (?P<rps>[\d.]+) records/sec \((?P<mbps>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
    r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99.9th")


def java(cls: str, *args: str, heap: str = "512m") -> list[str]:
    return [shutil.which("java") or "java", f"-Xmx{heap}", "-XX:+UseG1GC", LOG4J, "-cp", CP, cls, *args]


def run(cmd: list[str], timeout: float, label: str) -> tuple[int, str]:
    """Run, echoing output live (indented), return (status, output)."""
    print(f"\n$ {label}", flush=True)
    out = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stdout:
            out.append(line)
            print("    " + line.rstrip(), flush=True)
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(cmd, timeout)
        rc = proc.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"    !! {label}: timed out after {timeout:.0f}s", flush=True)
        return 124, "".join(out)
    return rc, "".join(out)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                        operation_timeout=20, request_timeout=20)[topic].result(timeout=30)
    deadline = time.monotonic() + 20
    while True:
        md = admin.list_topics(topic, timeout=5).topics.get(topic)
        if md is not None and md.error is None and len(md.partitions) == partitions:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"topic {topic} not visible with {partitions} partitions after 20s")
        time.sleep(0.1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["streamlet", "kafka"], default="streamlet")
    ap.add_argument("--bootstrap", help="use a running broker instead of starting one")
    ap.add_argument("--records-100", type=int, default=int(os.environ.get("BENCH_RECORDS_100", 1_000_000)),
                    help="records per 100-byte case (default 1000000)")
    ap.add_argument("--records-1k", type=int, default=int(os.environ.get("BENCH_RECORDS_1K", 200_000)),
                    help="records per 1 KiB case (default 200000)")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--throughput", type=int, default=-1, help="records/s cap for the producer (-1: none)")
    ap.add_argument("--producer-props", nargs="*", default=[], help="extra producer props key=value")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per tool run")
    ap.add_argument("--skip-setup", action="store_true", help="don't run tests/interop/setup.sh first")
    ap.add_argument("--no-group-consumer", action="store_true",
                    help="skip ConsumerPerformance (it needs consumer groups)")
    args = ap.parse_args()

    if not args.skip_setup:
        subprocess.run([str(INTEROP / "setup.sh")], check=True)
        venv_py = REPO / ".venv" / "bin" / "python"
        in_venv = Path(sys.prefix).resolve() == (REPO / ".venv").resolve()
        if not in_venv and venv_py.exists() and "BENCH_REEXEC" not in os.environ:
            os.environ["BENCH_REEXEC"] = "1"
            os.execv(str(venv_py), [str(venv_py), __file__, *sys.argv[1:], "--skip-setup"])

    from kafka_broker import broker_for

    broker = None
    if args.bootstrap:
        bootstrap = args.bootstrap
        target = "external"
    else:
        target = args.target
        broker = broker_for(target)
        t0 = time.monotonic()
        try:
            broker.start()
        except BaseException:
            broker.cleanup()
            raise
        bootstrap = broker.bootstrap
        print(f"{target} broker at {bootstrap} (started in {time.monotonic() - t0:.1f}s; log {broker.log})")

    results = []
    stamp = int(time.time())
    try:
        cases = [(100, args.records_100, acks) for acks in ("1", "all")] + \
                [(1024, args.records_1k, acks) for acks in ("1", "all")]
        for size, n, acks in cases:
            topic = f"perf-{size}b-acks{acks}-{stamp}"
            create_topic(bootstrap, topic, args.partitions)
            props = [f"bootstrap.servers={bootstrap}", f"acks={acks}", *args.producer_props]
            rc, out = run(java("org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records",
                               str(n), "--record-size", str(size), "--throughput", str(args.throughput),
                               "--producer-props", *props),
                          args.timeout, f"ProducerPerformance {size} B x {n}, acks={acks}")
            m = None
            for m in PRODUCER_RE.finditer(out):
                pass
            row = {"case": f"produce {size}B acks={acks}", "rc": rc}
            if m and rc == 0:
                row.update(m.groupdict())
            results.append(row)

            if acks == "1":  # read each record size back once
                if not args.no_group_consumer:
                    rc, out = run(java("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap,
                                       "--topic", topic, "--messages", str(n), "--timeout", "20000",
                                       "--group", f"perf-{stamp}-{size}"),
                                  args.timeout, f"ConsumerPerformance {size} B x {n} (consumer group)")
                    row = {"case": f"consume {size}B (group)", "rc": rc}
                    data = [ln for ln in out.splitlines() if re.match(r"^\d{4}-\d\d-\d\d .*,", ln)]
                    if rc == 0 and data:
                        f = [x.strip() for x in data[-1].split(",")]
                        # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
                        row.update(rps=f[5], mbps=f[3], records=f[4])
                    results.append(row)
                rc, out = run(java("AssignConsumerPerf", bootstrap, topic, str(n), "20000"),
                              args.timeout, f"AssignConsumerPerf {size} B x {n} (assign, no group)")
                row = {"case": f"consume {size}B (assign)", "rc": rc}
                lines = out.strip().splitlines()
                if rc == 0 and len(lines) >= 2:
                    f = lines[-1].split(",")
                    row.update(records=f[0], rps=f[3], mbps=f[4], first=f[5])
                results.append(row)
    finally:
        if broker is not None:
            broker.stop()
            broker.cleanup()

    print(f"\nSummary ({target}, {args.partitions} partitions; latency in ms, producer send -> ack)")
    hdr = f"{'case':28} {'records':>9} {'records/s':>11} {'MB/s':>8} {'avg':>7} {'max':>7} {'p50':>5} {'p95':>5} {'p99':>5} {'p99.9':>6}"
    print(hdr)
    print("-" * len(hdr))
    failed = 0
    for r in results:
        if r["rc"] != 0 or "rps" not in r:
            failed += 1
            print(f"{r['case']:28} FAILED (exit {r['rc']})")
            continue
        print(f"{r['case']:28} {r.get('records', ''):>9} {float(r['rps']):>11.1f} {float(r['mbps']):>8.2f} "
              f"{r.get('avg', ''):>7} {r.get('max', ''):>7} {r.get('p50', ''):>5} {r.get('p95', ''):>5} "
              f"{r.get('p99', ''):>5} {r.get('p999', ''):>6}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
