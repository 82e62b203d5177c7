"""A node that was the active controller rejoins its cluster after a SIGKILL.

Found by bench/cluster-bench.py: the restarted node read its committed Raft vote, took itself for the leader until
it heard of the newer term, and its first (barrier) append was refused, so it exited with "cannot open the metadata
log: not the active controller". The fault harness's kill-controller nemesis had not caught it because it finds
the controller with Kafka's kafka-metadata-quorum tool, which needs DescribeQuorum (not served yet).
"""
from __future__ import annotations

import time

import pytest

from cluster import Cluster, NodeOptions, streamlet_cluster_supported
from proxy import Network


def _controller(cluster: Cluster, exclude: int | None = None) -> int:
    """The active controller's node id, from Metadata (asked of the live nodes directly)."""
    from confluent_kafka.admin import AdminClient

    live = ",".join(f"127.0.0.1:{n.endpoints['broker']}" for n in cluster.nodes if n.node_id != exclude and n.running())
    deadline = time.monotonic() + 30
    while True:
        try:
            c = AdminClient({"bootstrap.servers": live}).list_topics(timeout=5).controller_id
            if c not in (-1, exclude):
                return c
        except Exception:  # a node still starting or just killed
            pass
        assert time.monotonic() < deadline, "no active controller within 30 s"
        time.sleep(0.2)


def test_a_killed_controller_rejoins_the_cluster(tmp_path):
    ok, why = streamlet_cluster_supported()
    if not ok:
        pytest.skip(why)
    net = Network()
    cluster = Cluster("streamlet-cluster", 3, tmp_path, net, NodeOptions())
    try:
        cluster.start()
        for _ in range(2):
            ctrl = _controller(cluster)
            node = next(n for n in cluster.nodes if n.node_id == ctrl)
            node.kill()
            assert _controller(cluster, exclude=ctrl) != ctrl
            node.start()  # exited 1 before the fix
            assert node.running()
    finally:
        cluster.shutdown()
        net.close()
