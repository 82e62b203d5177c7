"""Streamlet's Rust clients across leader changes on a 3-node Apache Kafka 4.1 KRaft cluster.

Runs core/tests/client_failover.rs against `KafkaCluster` (kafka_cluster.py: RF=3, min.insync.replicas=2,
unclean election off) with the cluster's `ClusterControl` port, through which the Rust tests SIGKILL the leader
of their partition (twice, restarting it between), the group coordinator and the active controller mid-stream.
One pytest test per Rust test, so that a failure names it; the cargo output and the nodes' logs are printed on
failure. About 2 minutes on the 2-core machine (cluster start ~10 s, each kill and restart ~5-10 s).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_cluster import ClusterControl, KafkaCluster  # noqa: E402

REPO = Path(__file__).resolve().parent.parent.parent
SUITE = "client_failover"
TESTS = [
    "idempotent_producer_loses_duplicates_and_reorders_nothing_across_leader_kills",
    "a_group_member_keeps_consuming_across_leader_and_coordinator_kills_and_resumes_from_committed_offsets",
    "admin_creates_and_describes_topics_across_a_controller_kill",
]

pytestmark = pytest.mark.skipif(os.environ.get("STREAMLET_INTEROP_TARGET", "streamlet") != "streamlet",
                                reason="runs its own Apache Kafka cluster; once per interop run is enough")


@pytest.fixture(scope="module")
def built():
    """Compiles the suite once, outside the tests' time."""
    proc = subprocess.run(["cargo", "test", "--locked", "-p", "streamlet", "--test", SUITE, "--no-run"],
                          cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-5000:]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, built):
    with KafkaCluster(workdir=tmp_path_factory.mktemp("kafka-cluster")) as c:
        control = ClusterControl(c)
        c.control = control
        try:
            yield c
        finally:
            control.close()


@pytest.mark.parametrize("test", TESTS)
def test_rust_client_survives_failover_on_apache_kafka_cluster(cluster, test):
    # Every node back before the next test (a failed test may have left one down).
    for node in cluster.nodes:
        if not cluster.running(node):
            cluster.restart(node)
    env = dict(os.environ, STREAMLET_TEST_CLUSTER_BOOTSTRAP=cluster.bootstrap,
               STREAMLET_TEST_CLUSTER_CONTROL=cluster.control.addr)
    proc = subprocess.run(
        ["cargo", "test", "--locked", "-p", "streamlet", "--test", SUITE, "--", "--exact", test, "--nocapture"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    summary = re.findall(r"test result: .*", out)
    print(f"{test}: {summary[-1] if summary else 'no result line'}")
    print("\n".join(line for line in out.splitlines() if line.startswith("cluster:") or "acknowledged" in line))
    failures = "\n".join(line for line in out.splitlines() if "FAILED" in line or "panicked at" in line)
    assert proc.returncode == 0, (f"{test} failed against the Kafka cluster:\n{failures}\n--- cargo output ---\n"
                                  f"{out[-20000:]}\n--- control ---\n" + "\n".join(cluster.control.log)
                                  + f"\n{cluster.log_tails(30)}")
    assert "SKIPPED" not in out, f"{test} did not run:\n{out[-3000:]}"
    assert "1 passed" in out, f"{test} is not in the suite:\n{out[-3000:]}"
