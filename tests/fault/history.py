"""The history of a run: every operation's invocation and completion, as JSON lines.

One line per event: {"time": CLOCK_MONOTONIC ns (comparable across the harness's processes), "process": who,
"type": "invoke" | "ok" | "fail" | "info", "f": "send" | "poll" | "commit" | "assign" | "revoke" | "drain" |
"txn", "op": id pairing a completion with its invocation, "value": ...}. As in Jepsen: "ok" happened, "fail" did
not happen, "info" is indeterminate (may or may not have happened), and an invocation with no completion is
indeterminate too. Lifecycle events (assign, revoke) are single "ok" lines.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path


class HistoryWriter:
    """Thread-safe: producers' delivery callbacks and consumers' loops write from several threads."""

    def __init__(self, path: Path, op_prefix: str = ""):
        self._f = open(path, "a", buffering=1)
        self._lock = threading.Lock()
        self._ops = itertools.count()
        self._prefix = op_prefix

    def new_op(self) -> str:
        return f"{self._prefix}{next(self._ops)}"

    def write(self, process: str, type_: str, f: str, op: str | None, value, **extra) -> None:
        ev = {"time": time.monotonic_ns(), "process": process, "type": type_, "f": f, "op": op, "value": value}
        ev.update(extra)
        line = json.dumps(ev, separators=(",", ":"))
        with self._lock:
            self._f.write(line + "\n")

    def invoke(self, process: str, f: str, value) -> str:
        op = self.new_op()
        self.write(process, "invoke", f, op, value)
        return op

    def close(self) -> None:
        with self._lock:
            self._f.close()


def read(*paths: Path) -> list[dict]:
    """Every event of the given files, in time order, each with an "index" (its position in that order)."""
    events = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            continue
        with open(p) as f:
            for line in f:
                line = line.strip()
                if line:
                    events.append(json.loads(line))
    events.sort(key=lambda e: e["time"])
    for i, e in enumerate(events):
        e["index"] = i
    return events
