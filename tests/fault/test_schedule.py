"""The schedule's choices are a function of its seed, and a short run deals every nemesis it names."""
from __future__ import annotations

from nemesis import Schedule, available


def deal(seed: int, names: list[str], n: int, tmp_path) -> list[str]:
    s = Schedule(None, names, seed, "t", tmp_path / f"nemesis-{seed}.jsonl")
    try:
        return [s._deal() for _ in range(n)]
    finally:
        s.close()


def test_same_seed_same_faults(tmp_path):
    names = available("kafka", 3, faketime=False, disk=True)
    assert deal(7, names, 30, tmp_path) == deal(7, names, 30, tmp_path)
    assert deal(7, names, 30, tmp_path) != deal(8, names, 30, tmp_path)


def test_every_nemesis_once_before_any_twice(tmp_path):
    names = ["kill-random", "pause-random", "partition-halves", "delay"]
    dealt = deal(3, names, 8, tmp_path)
    assert sorted(dealt[:4]) == sorted(names) and sorted(dealt[4:]) == sorted(names)


def test_single_node_has_no_node_to_node_faults():
    names = available("streamlet", 1, faketime=True, disk=True)
    assert "partition-client" in names and "clock" in names
    assert not any(n in names for n in ("partition-halves", "kill-leaders", "kill-controller"))
