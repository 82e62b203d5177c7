"""The checker on hand-written histories: a clean one passes, and each anomaly is found, with its excerpt."""
from __future__ import annotations

import pytest

from checker import ANOMALIES, check


class H:
    """Builds a history: each call appends events with increasing times."""

    def __init__(self):
        self.events: list[dict] = []
        self.ops = 0

    def ev(self, process, type_, f, op, value, **extra):
        e = {"time": len(self.events), "process": process, "type": type_, "f": f, "op": op, "value": value}
        e.update(extra)
        e["index"] = len(self.events)
        self.events.append(e)
        return e

    def send(self, proc, p, val, offset=None, outcome="ok"):
        self.ops += 1
        op = f"s{self.ops}"
        self.ev(proc, "invoke", "send", op, {"partition": p, "value": val})
        if outcome == "ok":
            self.ev(proc, "ok", "send", op, {"partition": p, "value": val, "offset": offset})
        elif outcome is not None:
            self.ev(proc, outcome, "send", op, {"partition": p, "value": val}, error="timed out")
        return op

    def poll(self, proc, msgs):
        self.ops += 1
        op = f"r{self.ops}"
        self.ev(proc, "invoke", "poll", op, None)
        self.ev(proc, "ok", "poll", op, {"msgs": [list(m) for m in msgs]})

    def assign(self, proc, parts):
        self.ev(proc, "ok", "assign", None, {"partitions": parts})

    def drain(self, high, ok=True):
        self.ev("drain", "ok" if ok else "fail", "drain", None,
                {"high": high, "position": dict(high)})


def clean() -> H:
    h = H()
    h.send("p0", 0, 1, 0)
    h.send("p0", 0, 2, 1)
    h.send("p1", 1, 3, 0)
    h.send("p1", 0, 4, None, outcome="info")  # indeterminate, never read: fine
    h.assign("a0", [0, 1])
    h.poll("a0", [(0, 0, 1), (0, 1, 2)])
    h.poll("a0", [(1, 0, 3)])
    h.poll("drain", [(0, 0, 1), (0, 1, 2), (1, 0, 3)])
    h.drain({0: 2, 1: 1})
    return h


def only(result, anomaly):
    assert result["anomaly_counts"] == {anomaly: result["anomaly_counts"][anomaly]}, result["anomaly_counts"]
    inst = result["anomalies"][anomaly][0]
    assert inst["description"] and inst["excerpt"]
    return inst


def test_clean_history_is_valid():
    r = check(clean().events)
    assert r["valid"], r
    assert r["verdict"] == "valid"
    assert r["stats"]["send-ok"] == 3 and r["stats"]["send-info"] == 1


def test_indeterminate_send_that_was_written_is_fine():
    h = clean()
    h.poll("a0", [(0, 2, 4)])  # the "info" send did land
    assert check(h.events)["valid"]


def test_lost_write():
    h = H()
    h.send("p0", 0, 1, 0)
    h.send("p0", 0, 2, 1)
    h.send("p0", 0, 3, 2)
    h.poll("drain", [(0, 0, 1), (0, 2, 3)])
    h.drain({0: 3})
    r = check(h.events)
    # The drain read offset 0 then 2 while offset 1 was acknowledged: a skip as well as a loss.
    assert set(r["anomaly_counts"]) == {"lost-write", "poll-skip"}
    inst = r["anomalies"]["lost-write"][0]
    assert "value 2" in inst["description"]
    assert any(e["f"] == "send" and e["type"] == "ok" and e["value"]["value"] == 2 for e in inst["excerpt"])


def test_send_acknowledged_without_offset_counts_when_read_and_when_lost():
    h = clean()
    h.send("p0", 1, 9, None)
    h.poll("a0", [(1, 1, 9)])
    assert check(h.events)["valid"]
    h = clean()
    h.send("p0", 1, 9, None)
    only(check(h.events), "lost-write")


def test_lost_write_when_log_ends_before_the_acknowledged_offset():
    h = H()
    h.send("p0", 0, 1, 0)
    h.send("p0", 0, 2, 1)
    h.poll("drain", [(0, 0, 1)])
    h.drain({0: 1})  # truncated below an acknowledged offset
    only(check(h.events), "lost-write")


def test_unseen_write_without_a_complete_drain():
    h = H()
    h.send("p0", 0, 1, 0)
    h.send("p0", 0, 2, 1)
    h.poll("a0", [(0, 0, 1)])
    h.drain({0: 2}, ok=False)
    r = check(h.events)
    only(r, "unseen-write")
    assert r["verdict"] == "invalid"


def test_no_drain_and_no_anomaly_is_unknown():
    h = H()
    h.send("p0", 0, 1, 0)
    h.poll("a0", [(0, 0, 1)])
    r = check(h.events)
    assert not r["valid"] and r["verdict"] == "unknown"


def test_duplicate():
    h = clean()
    h.poll("a0", [(0, 5, 1)])  # value 1 again, at another offset
    h.events[-1]["index"] = len(h.events) - 1
    r = check(h.events)
    assert "duplicate" in r["anomaly_counts"]
    assert "value 1" in r["anomalies"]["duplicate"][0]["description"]


def test_inconsistent_offset():
    h = H()
    h.send("p0", 0, 1, 0)
    h.send("p0", 0, 2, 1)
    h.poll("a0", [(0, 0, 1), (0, 1, 7)])
    h.poll("drain", [(0, 0, 1), (0, 1, 2)])
    h.drain({0: 2})
    r = check(h.events)
    assert "inconsistent-offset" in r["anomaly_counts"]
    assert "offset 1" in r["anomalies"]["inconsistent-offset"][0]["description"]


def test_nonmonotonic_send():
    h = H()
    h.send("p0", 0, 1, 5)
    h.send("p0", 0, 2, 4)  # invoked later, acknowledged lower
    h.poll("drain", [(0, 4, 2), (0, 5, 1)])
    h.drain({0: 6})
    only(check(h.events), "nonmonotonic-send")


def test_sends_of_different_producers_may_interleave():
    h = H()
    h.send("p0", 0, 1, 5)
    h.send("p1", 0, 2, 4)
    h.poll("drain", [(0, 4, 2), (0, 5, 1)])
    h.drain({0: 6})
    assert check(h.events)["valid"]


def test_nonmonotonic_poll():
    h = clean()
    h.poll("a0", [(0, 0, 1)])  # back to offset 0 with no reassignment
    r = check(h.events)
    only(r, "nonmonotonic-poll")


def test_reassignment_allows_rereading():
    h = clean()
    h.assign("a0", [0])
    h.poll("a0", [(0, 0, 1)])
    assert check(h.events)["valid"]


def test_poll_skip():
    h = H()
    for i in range(3):
        h.send("p0", 0, i + 1, i)
    h.poll("a0", [(0, 0, 1)])
    h.poll("a0", [(0, 2, 3)])  # offset 1 (value 2) exists and was skipped
    h.poll("drain", [(0, 0, 1), (0, 1, 2), (0, 2, 3)])
    h.drain({0: 3})
    inst = only(check(h.events), "poll-skip")
    assert "skipping offset 1" in inst["description"]


def test_gap_with_no_known_record_is_not_a_skip():
    h = H()
    h.send("p0", 0, 1, 0)
    h.send("p0", 0, 2, 2)  # offset 1 is, say, a control batch: nobody ever saw a record there
    h.poll("a0", [(0, 0, 1), (0, 2, 2)])
    h.poll("drain", [(0, 0, 1), (0, 2, 2)])
    h.drain({0: 3})
    assert check(h.events)["valid"]


def txn_history(commit_before_read=True, aborted=False):
    h = H()
    h.ev("t0", "invoke", "txn", "t1", {"txn": "x1", "sends": [[0, 10]]})
    if commit_before_read:
        h.ev("t0", "invoke", "txn-commit", "c1", {"txn": "x1"})
    h.poll("a0", [(0, 0, 10)])
    if not commit_before_read:
        h.ev("t0", "invoke", "txn-commit", "c1", {"txn": "x1"})
    h.ev("t0", "fail" if aborted else "ok", "txn", "t1", {"txn": "x1", "sends": [[0, 10]]})
    h.poll("drain", [(0, 0, 10)])
    h.drain({0: 1})
    return h


def test_committed_transaction_read_after_commit_is_fine():
    assert check(txn_history().events)["valid"]


def test_aborted_read():
    only(check(txn_history(aborted=True).events), "aborted-read")


def test_precommitted_read():
    only(check(txn_history(commit_before_read=False).events), "precommitted-read")


@pytest.mark.parametrize("anomaly", ANOMALIES)
def test_every_anomaly_has_a_test(anomaly):
    name = "test_" + anomaly.replace("-", "_")
    assert any(g.startswith(name) for g in globals()), f"no test named {name}*"
