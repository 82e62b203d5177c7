"""The checker: reads a history (history.py) and finds the anomalies of Jepsen's Kafka queue checker.

Anomalies (each instance comes with a minimal excerpt: the few history events that prove it):
- lost-write:          a send was acknowledged (ok, at partition p offset o) and no read ever returned its value,
                       although the reads got past o (the final drain reads every partition to its high watermark).
- unseen-write:        acknowledged, never read, and no read got as far as its offset (only possible when the
                       drain did not complete: then we cannot tell lost from not-yet-read).
- duplicate:           one value at two or more offsets (as acknowledged or as read).
- inconsistent-offset: one (partition, offset) holding two or more values.
- nonmonotonic-send:   one producer's acknowledged offsets in a partition go backwards, in invocation order
                       (an idempotent producer keeps its order per partition).
- nonmonotonic-poll:   one consumer reads a partition at an offset not above the previous one it read, with no
                       assignment change in between.
- poll-skip:           one consumer goes from offset o1 to o2 > o1 + 1 in a partition while some record is known
                       (acknowledged or read by anyone) at an offset in between.
- aborted-read:        a read returned a value of a transaction that aborted.
- precommitted-read:   a read returned a value of a transaction before that transaction's commit was invoked.
The last two need transactional histories ("txn" and "txn-commit" events); the workload does not write them
yet (transactions are a later issue), so today they can only be exercised by hand-written histories.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import history

ANOMALIES = ["lost-write", "unseen-write", "duplicate", "inconsistent-offset", "nonmonotonic-send",
             "nonmonotonic-poll", "poll-skip", "aborted-read", "precommitted-read"]
MAX_INSTANCES = 20  # per anomaly in the report; the counts are always complete


def _slim(ev: dict, keep: tuple | None = None) -> dict:
    """An event for an excerpt; a poll's messages cut down to those of interest (p, offset or value)."""
    e = {k: v for k, v in ev.items() if k != "value"}
    v = ev.get("value")
    if isinstance(v, dict) and "msgs" in v and keep is not None:
        p, offsets, values = keep
        msgs = [m for m in v["msgs"] if m[0] == p and (m[1] in offsets or m[2] in values)]
        e["value"] = {"msgs": msgs, "msgs_total": len(v["msgs"])}
    else:
        e["value"] = v
    return e


class Checker:
    def __init__(self, events: list[dict]):
        self.events = events
        self.found: dict[str, list[dict]] = {a: [] for a in ANOMALIES}
        self.counts: dict[str, int] = {a: 0 for a in ANOMALIES}
        invokes = {e["op"]: e for e in events if e["type"] == "invoke" and e.get("op") is not None}
        self.invoke_of = lambda ev: invokes.get(ev.get("op"))
        # acknowledged sends: value -> (partition, offset, completion event)
        self.acked: dict[int, tuple[int, int, dict]] = {}
        # every observation of (partition, offset, value): from acks and reads
        self.at_offset: dict[tuple[int, int], dict[int, dict]] = defaultdict(dict)
        self.offsets_of: dict[int, dict[tuple[int, int], dict]] = defaultdict(dict)
        self.read_values: dict[int, dict] = {}
        self.max_read: dict[int, int] = defaultdict(lambda: -1)
        self.drain: dict | None = None
        self.stats = defaultdict(int)
        self._index()

    def add(self, anomaly: str, description: str, excerpt: list[dict]) -> None:
        self.counts[anomaly] += 1
        if len(self.found[anomaly]) < MAX_INSTANCES:
            excerpt = sorted({e["index"]: e for e in excerpt if e is not None}.values(), key=lambda e: e["index"])
            self.found[anomaly].append({"description": description, "excerpt": excerpt})

    def _index(self) -> None:
        for ev in self.events:
            f, t, v = ev["f"], ev["type"], ev.get("value")
            if f == "send":
                if t == "invoke":
                    self.stats["send-invoked"] += 1
                else:
                    self.stats[f"send-{t}"] += 1
                if t == "ok":
                    p, o, val = v["partition"], v.get("offset"), v["value"]
                    self.acked.setdefault(val, (p, o, ev))
                    # librdkafka acknowledges some sends without an offset (an idempotent retry the broker
                    # answered DUPLICATE_SEQUENCE_NUMBER): acknowledged, position unknown.
                    if o is not None:
                        self.at_offset[(p, o)].setdefault(val, ev)
                        self.offsets_of[val].setdefault((p, o), {}).setdefault("ack", ev)
                    else:
                        self.stats["send-ok-without-offset"] += 1
            elif f == "poll" and t == "ok":
                for p, o, val in v["msgs"]:
                    self.stats["records-read"] += 1
                    self.at_offset[(p, o)].setdefault(val, ev)
                    self.offsets_of[val].setdefault((p, o), {}).setdefault("read", ev)
                    self.read_values.setdefault(val, ev)
                    self.max_read[p] = max(self.max_read[p], o)
            elif f == "drain" and t in ("ok", "fail"):
                self.drain = ev
        if self.drain is not None and self.drain["type"] == "ok":
            for p, pos in self.drain["value"].get("position", {}).items():
                self.max_read[int(p)] = max(self.max_read[int(p)], pos - 1)
        self.stats["values-read"] = len(self.read_values)

    # ---- the checks --------------------------------------------------------------------------------------
    def check_lost_and_unseen(self) -> None:
        drained = self.drain is not None and self.drain["type"] == "ok"
        for val, (p, o, ok) in sorted(self.acked.items(), key=lambda kv: (kv[1][0], kv[1][1] or -1)):
            if val in self.read_values:
                continue
            if drained or (o is not None and self.max_read[p] >= o):
                self.add("lost-write", f"value {val} acknowledged at partition {p} offset {o}, never read; reads "
                                       f"reached offset {self.max_read[p]} of partition {p}",
                         [self.invoke_of(ok), _slim(ok), *(x for x in [self._reader_past(p, o)] if x),
                          *([self.drain] if drained else [])])
            else:
                self.add("unseen-write", f"value {val} acknowledged at partition {p} offset {o}, never read; no "
                                         f"read got past offset {self.max_read[p]}", [self.invoke_of(ok), _slim(ok)])

    def _reader_past(self, p: int, o: int) -> dict | None:
        """The first poll that read partition p beyond offset o: proof the reads got there."""
        for (pp, oo), vals in sorted(self.at_offset.items()):
            if pp == p and (o is None or oo > o):
                for ev in vals.values():
                    if ev["f"] == "poll":
                        return _slim(ev, (p, {oo}, set()))
        return None

    def check_duplicates_and_inconsistent(self) -> None:
        for (p, o), vals in sorted(self.at_offset.items()):
            if len(vals) > 1:
                self.add("inconsistent-offset", f"partition {p} offset {o} holds values {sorted(vals)}",
                         [_slim(ev, (p, {o}, set())) for ev in vals.values()])
        for val, where in sorted(self.offsets_of.items()):
            if len(where) > 1:
                # The send (invocation and acknowledgement) and the first read at each offset.
                evs = [_slim(ev, (p, {o}, {val})) for (p, o), kinds in where.items() for ev in kinds.values()]
                acks = [ev for kinds in where.values() for k, ev in kinds.items() if k == "ack"]
                self.add("duplicate", f"value {val} at {sorted(where)} (partition, offset)",
                         [self.invoke_of(a) for a in acks] + evs)

    def check_nonmonotonic_send(self) -> None:
        last: dict[tuple[str, int], tuple[int, dict]] = {}
        oks = [e for e in self.events if e["f"] == "send" and e["type"] == "ok" and e["value"].get("offset") is not None]
        oks.sort(key=lambda e: (self.invoke_of(e) or e)["index"])  # invocation order
        for ev in oks:
            p, o = ev["value"]["partition"], ev["value"]["offset"]
            key = (ev["process"], p)
            if key in last and o <= last[key][0]:
                prev = last[key][1]
                self.add("nonmonotonic-send", f"producer {ev['process']} partition {p}: offset {o} acknowledged "
                                              f"for a later send than offset {last[key][0]}",
                         [self.invoke_of(prev), prev, self.invoke_of(ev), ev])
            last[key] = (o, ev)

    def check_polls(self) -> None:
        known_offsets: dict[int, list[int]] = defaultdict(list)
        for (p, o) in self.at_offset:
            known_offsets[p].append(o)
        for p in known_offsets:
            known_offsets[p].sort()
        import bisect

        last: dict[tuple[str, int], tuple[int, dict]] = {}
        for ev in self.events:
            proc = ev["process"]
            if ev["f"] in ("assign", "revoke"):
                for key in [k for k in last if k[0] == proc]:
                    del last[key]
                continue
            if ev["f"] != "poll" or ev["type"] != "ok":
                continue
            for p, o, val in ev["value"]["msgs"]:
                key = (proc, p)
                if key in last:
                    prev_o, prev_ev = last[key]
                    if o <= prev_o:
                        self.add("nonmonotonic-poll", f"consumer {proc} partition {p}: read offset {o} after "
                                                      f"offset {prev_o}",
                                 [_slim(prev_ev, (p, {prev_o}, set())), _slim(ev, (p, {o}, set()))])
                    elif o > prev_o + 1:
                        ks = known_offsets[p]
                        i = bisect.bisect_right(ks, prev_o)
                        if i < len(ks) and ks[i] < o:
                            skipped = ks[i]
                            witness = next(iter(self.at_offset[(p, skipped)].values()))
                            self.add("poll-skip", f"consumer {proc} partition {p}: read offset {o} right after "
                                                  f"offset {prev_o}, skipping offset {skipped} (and maybe more)",
                                     [_slim(prev_ev, (p, {prev_o}, set())), _slim(ev, (p, {o}, set())),
                                      _slim(witness, (p, {skipped}, set()))])
                last[key] = (o, ev)

    def check_transactions(self) -> None:
        """Aborted and precommitted reads. A "txn" op's value is {"sends": [[partition, value], ...]}; its
        completion "ok" = committed, "fail" = aborted; a "txn-commit" invoke (same "txn" id) marks the moment
        the commit was asked for."""
        txn_of_value: dict[int, dict] = {}
        commit_invoked: dict[str, dict] = {}
        for ev in self.events:
            if ev["f"] == "txn" and ev["type"] == "invoke":
                for _, val in ev["value"]["sends"]:
                    txn_of_value[val] = ev
            elif ev["f"] == "txn-commit" and ev["type"] == "invoke":
                commit_invoked.setdefault(ev["value"]["txn"], ev)
        if not txn_of_value:
            return
        outcome = {e["op"]: e for e in self.events if e["f"] == "txn" and e["type"] in ("ok", "fail")}
        for ev in self.events:
            if ev["f"] != "poll" or ev["type"] != "ok":
                continue
            for p, o, val in ev["value"]["msgs"]:
                txn = txn_of_value.get(val)
                if txn is None:
                    continue
                done = outcome.get(txn["op"])
                if done is not None and done["type"] == "fail":
                    self.add("aborted-read", f"value {val} of aborted transaction {txn['value'].get('txn')} read "
                                             f"at partition {p} offset {o}", [txn, done, _slim(ev, (p, {o}, set()))])
                commit = commit_invoked.get(txn["value"].get("txn"))
                if commit is None or commit["index"] > ev["index"]:
                    self.add("precommitted-read", f"value {val} of transaction {txn['value'].get('txn')} read at "
                                                  f"partition {p} offset {o} before its commit was invoked",
                             [txn, _slim(ev, (p, {o}, set())), *([commit] if commit else [])])

    def run(self) -> dict:
        self.check_lost_and_unseen()
        self.check_duplicates_and_inconsistent()
        self.check_nonmonotonic_send()
        self.check_polls()
        self.check_transactions()
        drained = self.drain is not None and self.drain["type"] == "ok"
        anomalies = {a: n for a, n in self.counts.items() if n}
        return {
            "valid": not anomalies and drained,
            "verdict": "valid" if not anomalies and drained else ("invalid" if anomalies else "unknown"),
            "drain": None if self.drain is None else {"type": self.drain["type"], **(self.drain.get("value") or {}),
                                                      **({"error": self.drain["error"]} if "error" in self.drain
                                                         else {})},
            "anomaly_counts": anomalies,
            "anomalies": {a: v for a, v in self.found.items() if v},
            "stats": dict(self.stats),
        }


def check(events: list[dict]) -> dict:
    return Checker(events).run()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Check a fault-run history (JSON lines files).")
    ap.add_argument("history", nargs="+")
    a = ap.parse_args(argv)
    result = check(history.read(*[Path(p) for p in a.history]))
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
