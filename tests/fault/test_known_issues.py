"""Findings of the fault harness in Streamlet that are not fixed yet, each as a small reproduction.

Each is `xfail(strict=True)`: it runs in the short campaign, passes CI while the bug is there, and turns CI red
the day the bug is fixed (XPASS), so the marker is removed and the test becomes a plain regression test.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import run as fault_run
from cluster import BrokerError, Cluster, NodeOptions, streamlet_binary
from proxy import Network


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")
@pytest.mark.skipif(not Path(streamlet_binary()).exists(), reason="no streamlet binary")
@pytest.mark.xfail(strict=True, raises=BrokerError,
                   reason="Streamlet: recovery after SIGKILL reads through each segment's whole preallocated "
                          "index and time index (10 MiB each) via shared mappings; on tmpfs every such read fault "
                          "allocates a page, so a broker with 4 partitions cannot restart on a 64 MiB tmpfs "
                          "holding 36 KiB of data: it dies with SIGBUS, without a log line")
def test_streamlet_restarts_after_sigkill_on_a_small_filesystem(tmp_path):
    net = Network()
    cluster = Cluster("streamlet", 1, tmp_path, net, NodeOptions(disk_mb=64))
    node = cluster.nodes[0]
    try:
        cluster.start()
        fault_run.create_topic(cluster, 4)
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": f"127.0.0.1:{node.endpoints['broker']}", "acks": "all",
                      "enable.idempotence": True})
        for i in range(400):
            p.produce(fault_run.TOPIC, str(i).encode(), partition=i % 4)
        assert p.flush(30) == 0
        st = os.statvfs(node.mounted)
        assert (st.f_blocks - st.f_bfree) * st.f_frsize < 1 << 20  # well under 1 MiB of 64 MiB in use
        node.kill()
        try:
            node.start()
        except BrokerError as e:
            # "process exited with status -7": SIGBUS while recovering. Any other failure is a new finding.
            assert "status -7" in str(e), str(e)
            raise
    finally:
        cluster.shutdown()
        net.close()
