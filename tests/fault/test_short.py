"""The short fault runs for CI: a fixed seed each, failing on any anomaly (or on a drain that cannot finish).

Each run's directory (history, nemesis log, result.json, plot.png, node logs) is kept under
tests/fault/runs/short-*; a failure prints the checker's summary with the history excerpts.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import run as fault_run
from cluster import DEPS_OK, streamlet_binary, streamlet_cluster_supported

HERE = Path(__file__).resolve().parent


def run_and_check(tmp_name: str, target: str, nodes: int, nemeses: list[str], seed: int, duration: float) -> dict:
    run_dir = HERE / "runs" / f"short-{tmp_name}-s{seed}"
    result = fault_run.run(target, nodes, nemeses, seed, duration, run_dir)
    summary = fault_run.summary(result) + f"\nrun dir: {run_dir}"
    assert result["valid"], summary
    # The run must have exercised what it claims: faults applied, and writes acknowledged and read.
    assert set(result["faults"]) == set(nemeses), summary
    assert all("error" not in w["detail"] for w in result["windows"]), summary
    assert result["stats"].get("send-ok", 0) > 100, summary
    return result


@pytest.mark.skipif(not Path(streamlet_binary()).exists(), reason="no streamlet binary (cargo build -p streamlet-cli)")
def test_streamlet_single_node_sigkill():
    r = run_and_check("streamlet1", "streamlet", 1, ["kill-random"], seed=11, duration=25)
    assert sum(1 for w in r["windows"] if w["nemesis"] == "kill-random") >= 2


@pytest.mark.skipif(not DEPS_OK, reason="Kafka jars missing: run tests/interop/setup.sh")
def test_kafka_three_nodes_kill_pause_partition():
    run_and_check("kafka3", "kafka", 3, ["kill-random", "pause-random", "partition-halves"], seed=12, duration=40)


def test_streamlet_three_nodes_kill_pause_partition():
    ok, why = streamlet_cluster_supported()
    if not ok:
        pytest.skip(f"3-node Streamlet cluster: {why}")
    run_and_check("streamlet3", "streamlet-cluster", 3, ["kill-random", "pause-random", "partition-halves"],
                  seed=12, duration=40)
