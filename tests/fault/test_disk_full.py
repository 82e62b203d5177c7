"""Regression tests for what the fault harness found in Streamlet on small and full filesystems.

The harness found a broker with 4 partitions that could not restart after SIGKILL on a 64 MiB tmpfs holding 36 KiB
of data: each active segment's `.index` / `.timeindex` was a sparse 10 MiB file, and recovery touched its pages
through a shared mapping, which allocates on tmpfs; past the filesystem's size the kernel killed the process with
SIGBUS (exit -7) and no log line. Index files now grow in reserved (`posix_fallocate`) 64 KiB chunks
(`core/src/storage/mmap_index.rs`), so no store or read goes to a page without a block behind it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import run as fault_run
from cluster import Cluster, NodeOptions, streamlet_binary
from nemesis import fill_to_the_last_byte
from proxy import Network


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")
@pytest.mark.skipif(not Path(streamlet_binary()).exists(), reason="no streamlet binary")
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
        node.start()  # raised BrokerError("process exited with status -7 ...") before the fix
    finally:
        cluster.shutdown()
        net.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")
@pytest.mark.skipif(not Path(streamlet_binary()).exists(), reason="no streamlet binary")
def test_streamlet_keeps_serving_through_a_full_filesystem(tmp_path):
    """A full disk under produce load used to kill the broker with SIGBUS (a store into an unallocated index
    page). Now appends fail with a storage error, the broker stays up, and once there is room again writes are
    acknowledged and everything acknowledged survives a SIGKILL."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    net = Network()
    cluster = Cluster("streamlet", 1, tmp_path, net, NodeOptions(disk_mb=64))
    node = cluster.nodes[0]
    try:
        cluster.start()
        fault_run.create_topic(cluster, 4)
        bootstrap = f"127.0.0.1:{node.endpoints['broker']}"
        acked: list[tuple[int, int]] = []

        def on_delivery(err, msg):
            if err is None:
                acked.append((msg.partition(), msg.offset()))

        balloon = node.mounted / ".balloon"
        fill_to_the_last_byte(balloon)
        # Not idempotent: an idempotent producer needs a producer id, and allocating one writes the metadata log.
        # Once (not reproduced since) InitProducerId kept failing with KAFKA_STORAGE_ERROR after the disk had room
        # again; until that is understood this test checks the data path only.
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False,
                      "message.timeout.ms": 8000, "linger.ms": 5})
        for i in range(30_000):
            while True:
                try:
                    p.produce(fault_run.TOPIC, b"x" * 100, partition=i % 4, on_delivery=on_delivery)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        p.flush(30)
        assert node.running(), f"the broker died on a full disk:\n{node.log_tail()}"

        balloon.unlink()
        before = len(acked)
        p2 = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False})
        for i in range(400):
            p2.produce(fault_run.TOPIC, b"after", partition=i % 4, on_delivery=on_delivery)
        assert p2.flush(30) == 0
        assert len(acked) == before + 400, "writes are acknowledged again once there is room"

        node.kill()
        node.start()
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "disk-full-check", "enable.auto.commit": False})
        ends = {p_: c.get_watermark_offsets(TopicPartition(fault_run.TOPIC, p_), timeout=10)[1] for p_ in range(4)}
        c.close()
        for partition, offset in acked:
            assert offset < ends[partition], f"acknowledged {partition}@{offset} is gone after a restart: {ends}"
    finally:
        cluster.shutdown()
        net.close()

