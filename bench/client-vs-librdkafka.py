#!/usr/bin/env python3
"""Streamlet's Rust client vs librdkafka, against the same broker in the same run.

Streamlet's side is `streamlet perf produce|consume` (the Rust producer and consumer, release build);
librdkafka's side is bench/rdkafka_perf.c, a C program on Debian's librdkafka (installed here with apt when
missing), so neither side pays for a scripting language. Both print Kafka's perf-tool report line; this script
adds each client process's CPU time (user+sys, from wait4) and prints a table.

    bench/client-vs-librdkafka.py                         # streamlet broker (target/release/streamlet)
    bench/client-vs-librdkafka.py --target kafka          # Apache Kafka 4.1 from tests/interop/.deps
    bench/client-vs-librdkafka.py --records-100 2000000 --records-1k 300000 --partitions 3 --acks 1

Each case produces into a fresh topic with each client (Streamlet first, then librdkafka), then each client
reads its own topic back. Producer settings are each client's defaults plus `acks`; `--set k=v` adds a
setting to both.
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
sys.path.insert(0, str(REPO / "tests" / "interop"))

LINE = re.compile(r"(?P<n>\d+) records (?:sent|received), (?P<rps>[\d.]+) records/sec \((?P<mbps>[\d.]+) MB/sec\)"
                  r"(?:, (?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
                  r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th)?")


def ensure_rdkafka_perf() -> Path:
    if subprocess.run(["dpkg", "-s", "librdkafka-dev"], capture_output=True).returncode != 0:
        print("installing librdkafka-dev (Debian) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "librdkafka-dev"], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), stdout=subprocess.DEVNULL)
    out = REPO / "target" / "bench" / "rdkafka_perf"
    src = REPO / "bench" / "rdkafka_perf.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", "-O2", "-Wall", "-o", str(out), str(src), "-lrdkafka"], check=True)
    return out


def timed(cmd: list[str], timeout: float) -> tuple[str, float]:
    """Runs cmd; returns (its output, CPU seconds it used)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if time.monotonic() > deadline:
        raise RuntimeError(f"{cmd[0]} took longer than {timeout}s")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}")
    return out, ru.ru_utime + ru.ru_stime


def parse(out: str) -> dict:
    found = [m for m in LINE.finditer(out)]
    if not found:
        raise RuntimeError(f"no report line in:\n{out[-2000:]}")
    return {k: v for k, v in found[-1].groupdict().items()}


def create_topic(bootstrap: str, streamlet: str, topic: str, partitions: int):
    subprocess.run([streamlet, "topics", "--bootstrap-server", bootstrap, "--create", "--topic", topic,
                    "--partitions", str(partitions), "--replication-factor", "1"], check=True, capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["streamlet", "kafka"], default="streamlet")
    ap.add_argument("--records-100", type=int, default=2_000_000)
    ap.add_argument("--records-1k", type=int, default=500_000)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--acks", default="1")
    ap.add_argument("--set", action="append", default=[], metavar="K=V")
    ap.add_argument("--skip-build", action="store_true")
    a = ap.parse_args()

    if not a.skip_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "streamlet-cli"], cwd=REPO, check=True)
    streamlet = os.environ.get("STREAMLET_BIN", str(REPO / "target" / "release" / "streamlet"))
    os.environ["STREAMLET_BIN"] = streamlet
    rdk = str(ensure_rdkafka_perf())
    from kafka_broker import broker_for

    rows = []
    with broker_for(a.target) as b:
        print(f"broker: {a.target} at {b.bootstrap}", flush=True)
        for size, n in ((100, a.records_100), (1024, a.records_1k)):
            props = [f"acks={a.acks}", *a.set]
            for client in ("streamlet", "librdkafka"):
                topic = f"bench-{client}-{size}-{int(time.time() * 1000)}"
                create_topic(b.bootstrap, streamlet, topic, a.partitions)
                if client == "streamlet":
                    prod = [streamlet, "perf", "produce", "--bootstrap-server", b.bootstrap, "--topic", topic,
                            "--num-records", str(n), "--record-size", str(size), "--throughput", "-1",
                            *sum((["--producer-property", p] for p in props), [])]
                    cons = [streamlet, "perf", "consume", "--bootstrap-server", b.bootstrap, "--topic", topic,
                            "--messages", str(n), *sum((["--consumer-property", p] for p in a.set), [])]
                else:
                    prod = [rdk, "produce", b.bootstrap, topic, str(n), str(size), *props]
                    cons = [rdk, "consume", b.bootstrap, topic, str(n), *a.set]
                out, cpu = timed(prod, 600)
                p = parse(out)
                rows.append((client, "produce", size, p, cpu))
                print(f"{client:10} produce {size:5}B: {out.strip().splitlines()[-1]}  [cpu {cpu:.2f}s]", flush=True)
                out, cpu = timed(cons, 600)
                c = parse(out)
                rows.append((client, "consume", size, c, cpu))
                print(f"{client:10} consume {size:5}B: {out.strip().splitlines()[-1]}  [cpu {cpu:.2f}s]", flush=True)

    print(f"\n## Streamlet Rust client vs librdkafka ({a.target} broker, {a.partitions} partitions, acks={a.acks})")
    print(f"{'client':11}{'op':9}{'size':>6}{'records':>10}{'rec/s':>12}{'MB/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'cpu s':>8}"
          f"{'cpu us/rec':>11}")
    for client, op, size, r, cpu in rows:
        n = int(r["n"])
        print(f"{client:11}{op:9}{size:>6}{n:>10}{float(r['rps']):>12.0f}{float(r['mbps']):>9.1f}"
              f"{(r['p50'] or '-'):>8}{(r['p99'] or '-'):>8}{cpu:>8.2f}{cpu / n * 1e6:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
