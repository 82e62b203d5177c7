"""Nemeses: the faults, each a start/stop pair, and a seeded schedule that applies them alone or combined.

Every fault window is recorded (nemesis.jsonl in the run directory) with CLOCK_MONOTONIC times, the same clock
as the history's, so the checker's excerpts and the plots line up with them.

    kill-random / kill-leaders / kill-controller   SIGKILL, restarted when the window ends
    pause-random / pause-leaders                   SIGSTOP, SIGCONT when the window ends
    partition-isolate / -halves / -bridge / -one-way / -client   through the proxies (proxy.Network)
    delay                                          latency with jitter on every link
    clock                                          wall-clock skew via libfaketime (only where it is preloaded)
    disk-full                                      fill a node's size-limited tmpfs data dir, free it after
    rolling-restart                                SIGTERM each node in turn, restart, wait until it serves
    reassign                                       new replica lists for every partition, preferred election
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

from cluster import CLIENT, Cluster, Node


class Nemesis:
    name = "abstract"

    def __init__(self, cluster: Cluster, rng: random.Random, topic: str):
        self.c = cluster
        self.rng = rng
        self.topic = topic

    def start(self) -> dict:
        """Apply the fault; return what was done (for the log)."""
        raise NotImplementedError

    def stop(self) -> None:
        """Undo it."""
        raise NotImplementedError

    def pick(self, how: str) -> list[Node]:
        nodes = self.c.nodes
        if how == "random" or len(nodes) == 1:
            return [self.rng.choice(nodes)]
        if how == "leaders":
            return self.c.leaders(self.topic) or [self.rng.choice(nodes)]
        if how == "controller":
            ctl = self.c.active_controller()
            return [ctl] if ctl else [self.rng.choice(nodes)]
        raise ValueError(how)


class Kill(Nemesis):
    def __init__(self, *a, how: str = "random"):
        super().__init__(*a)
        self.how = how
        self.name = f"kill-{how}"
        self.victims: list[Node] = []

    def start(self):
        self.victims = self.pick(self.how)
        for n in self.victims:
            n.kill()
        return {"nodes": [n.name for n in self.victims]}

    def stop(self):
        errors = self.c.start_nodes(self.victims)
        if errors:
            raise errors[0][1]


class Pause(Nemesis):
    def __init__(self, *a, how: str = "random"):
        super().__init__(*a)
        self.how = how
        self.name = f"pause-{how}"
        self.victims: list[Node] = []

    def start(self):
        self.victims = self.pick(self.how)
        for n in self.victims:
            n.pause()
        return {"nodes": [n.name for n in self.victims]}

    def stop(self):
        for n in self.victims:
            n.resume()


class Partition(Nemesis):
    """Cuts between groups of nodes; the client's links are left alone except by the 'client' shape (the only
    one a single node has)."""

    def __init__(self, *a, shape: str = "halves"):
        super().__init__(*a)
        self.shape = shape
        self.name = f"partition-{shape}"

    def _cuts(self) -> list[tuple[str, str]]:
        names = list(self.c.names)
        self.rng.shuffle(names)
        if self.shape == "client" or len(names) == 1:
            node = self.rng.choice(names)
            return [(CLIENT, node), (node, CLIENT)]
        if self.shape == "isolate":
            a, rest = names[:1], names[1:]
            return [(x, y) for x in a for y in rest] + [(y, x) for x in a for y in rest]
        if self.shape == "halves":
            k = len(names) // 2  # minority first
            a, b = names[:k], names[k:]
            return [(x, y) for x in a for y in b] + [(y, x) for x in a for y in b]
        if self.shape == "bridge":
            # Two sides that cannot talk, and one node that talks to both (Jepsen's bridge).
            rest = names[1:]  # names[0] is the bridge: no cut touches it
            k = len(rest) // 2
            a, b = rest[:k], rest[k:]
            return [(x, y) for x in a for y in b] + [(y, x) for x in a for y in b]
        if self.shape == "one-way":
            x, y = names[0], names[1]
            return [(x, y)]
        raise ValueError(self.shape)

    def start(self):
        cuts = self._cuts()
        for a, b in cuts:
            self.c.network.cut(a, b)
        return {"cut": [f"{a}->{b}" for a, b in cuts]}

    def stop(self):
        self.c.network.heal()


class Delay(Nemesis):
    name = "delay"

    def start(self):
        ms = self.rng.choice([50, 100, 250, 500])
        names = self.c.names + [CLIENT]
        for a in names:
            for b in names:
                if a != b:
                    self.c.network.delay(a, b, ms, ms / 2)
        return {"ms": ms, "jitter_ms": ms / 2}

    def stop(self):
        self.c.network.heal()


class Clock(Nemesis):
    name = "clock"

    def start(self):
        victims = self.rng.sample(self.c.nodes, k=self.rng.randint(1, len(self.c.nodes)))
        skews = {}
        for n in victims:
            s = self.rng.choice([-1, 1]) * self.rng.choice([5, 60, 600, 86400])
            n.skew(s)
            skews[n.name] = s
        return {"skew_s": skews}

    def stop(self):
        for n in self.c.nodes:
            n.skew(0)


def fill_to_the_last_byte(path: Path) -> None:
    """Fills the file system holding `path` with a balloon file there: fallocate as much as it has, then top up
    with writes until ENOSPC."""
    st = os.statvfs(path.parent)
    try:
        with open(path, "wb") as f:
            os.posix_fallocate(f.fileno(), 0, max(0, st.f_bavail * st.f_frsize - 4096))
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    except OSError:
        pass  # ENOSPC: full


class DiskFull(Nemesis):
    name = "disk-full"
    BALLOON = ".fault-balloon"

    def start(self):
        victims = [n for n in self.c.nodes if n.mounted is not None]
        victims = self.rng.sample(victims, k=1) if victims else []
        for n in victims:
            fill_to_the_last_byte(n.mounted / self.BALLOON)
        return {"nodes": [n.name for n in victims]}

    def stop(self):
        for n in self.c.nodes:
            if n.mounted is not None:
                try:
                    (n.mounted / self.BALLOON).unlink()
                except FileNotFoundError:
                    pass


class RollingRestart(Nemesis):
    """Not a window of its own making: the window is the time the roll takes."""
    name = "rolling-restart"

    def start(self):
        order = list(self.c.nodes)
        for n in order:
            n.stop(grace=60)
            n.start()
        return {"order": [n.name for n in order]}

    def stop(self):
        pass


class Reassign(Nemesis):
    """Partition reassignment and leader election under load, with Kafka's own tools (they speak the protocol,
    so issue 12's Streamlet cluster is driven the same way): every partition of the topic gets a new replica
    list (a new order for RF = nodes, new replicas on bigger clusters), then a preferred-leader election moves
    leadership to the new first replica."""
    name = "reassign"

    def start(self):
        from confluent_kafka import ElectionType, TopicPartition

        md = self.c.admin_metadata(self.topic)
        if md is None or self.topic not in md.topics:
            return {"error": "no metadata"}
        ids = [n.node_id for n in self.c.nodes]
        plan = []
        for p, pm in sorted(md.topics[self.topic].partitions.items()):
            rf = len(pm.replicas)
            replicas = self.rng.sample(ids, rf)
            if replicas == list(pm.replicas):
                replicas = replicas[1:] + replicas[:1]
            plan.append({"topic": self.topic, "partition": p, "replicas": replicas})
        path = self.c.workdir / f"reassign-{time.monotonic_ns()}.json"
        path.write_text(json.dumps({"version": 1, "partitions": plan}))
        out = self.c.kafka_tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                                "--reassignment-json-file", str(path), "--execute")
        detail = {"plan": {x["partition"]: x["replicas"] for x in plan}, "reassign_exit": out.returncode}
        if out.returncode != 0:
            detail["error"] = out.stdout[-500:] + out.stderr[-500:]
            return detail
        # Leadership follows once the new first replica is in the ISR; ask for it (errors such as
        # ELECTION_NOT_NEEDED or PREFERRED_LEADER_NOT_AVAILABLE are part of life under faults).
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.c.control_bootstrap()})
        try:
            res = admin.elect_leaders(ElectionType.PREFERRED,
                                      [TopicPartition(self.topic, x["partition"]) for x in plan]).result(timeout=30)
            detail["elected"] = {tp.partition: (str(err.name()) if err else "ok") for tp, err in res.items()}
        except Exception as e:  # noqa: BLE001
            detail["elected"] = repr(e)[:300]
        return detail

    def stop(self):
        pass


def make(name: str, cluster: Cluster, rng: random.Random, topic: str) -> Nemesis:
    kind, _, arg = name.partition("-")
    if kind == "kill":
        return Kill(cluster, rng, topic, how=arg)
    if kind == "pause":
        return Pause(cluster, rng, topic, how=arg)
    if kind == "partition":
        return Partition(cluster, rng, topic, shape=arg)
    simple = {"delay": Delay, "clock": Clock, "disk-full": DiskFull, "rolling-restart": RollingRestart,
              "reassign": Reassign}
    if name in simple:
        return simple[name](cluster, rng, topic)
    raise ValueError(f"unknown nemesis {name!r}")


def available(target: str, nodes: int, faketime: bool, disk: bool) -> list[str]:
    """The nemeses that make sense for a target (a single node has no node-to-node links or controller to
    find; the clock only where libfaketime is preloaded; disk-full only on a tmpfs data dir)."""
    names = ["kill-random", "pause-random", "delay", "rolling-restart"]
    if nodes > 1:
        names += ["kill-leaders", "kill-controller", "pause-leaders", "partition-isolate", "partition-halves",
                  "partition-one-way", "partition-bridge", "reassign"]
    else:
        names.append("partition-client")
    if faketime:
        names.append("clock")
    if disk:
        names.append("disk-full")
    return names


class Schedule:
    """Seeded: the same seed, nemeses and durations give the same sequence of faults and targets (the
    targets a fault *finds*, like the current leaders, depend on the cluster)."""

    def __init__(self, cluster: Cluster, nemeses: list[str], seed: int, topic: str, log: Path,
                 quiet: tuple[float, float] = (2.0, 5.0), hold: tuple[float, float] = (3.0, 10.0),
                 combine: float = 0.3):
        self.c = cluster
        self.nemeses = nemeses
        self.rng = random.Random(seed)
        self.topic = topic
        self.log = open(log, "w", buffering=1)
        self.quiet, self.hold, self.combine = quiet, hold, combine
        self.windows: list[dict] = []
        self._deck: list[str] = []
        self.stopped = threading.Event()

    def _deal(self) -> str:
        """Nemeses come from a shuffled deck, reshuffled when empty: every one is used once before any is used
        twice, so even a short run exercises all it names."""
        if not self._deck:
            self._deck = list(self.nemeses)
            self.rng.shuffle(self._deck)
        return self._deck.pop()

    def _record(self, ev: dict) -> None:
        self.log.write(json.dumps(ev) + "\n")

    def run(self, duration: float) -> list[dict]:
        end = time.monotonic() + duration
        while not self.stopped.is_set():
            if self.stopped.wait(self.rng.uniform(*self.quiet)) or time.monotonic() >= end:
                break
            k = 2 if len(self.nemeses) > 1 and self.rng.random() < self.combine else 1
            names: list[str] = []
            while len(names) < k:
                n = self._deal()
                if n not in names:
                    names.append(n)
            chosen = [make(n, self.c, self.rng, self.topic) for n in names]
            hold = self.rng.uniform(*self.hold)
            active = []
            for nem in chosen:
                t0 = time.monotonic_ns()
                try:
                    detail = nem.start()
                except Exception as e:  # noqa: BLE001 - a fault that could not be applied is logged, not fatal
                    detail = {"error": repr(e)}
                self._record({"time": t0, "nemesis": nem.name, "phase": "start", "detail": detail})
                active.append((nem, t0, detail))
            self.stopped.wait(max(0.0, min(hold, end - time.monotonic())))
            for nem, t0, detail in reversed(active):
                try:
                    nem.stop()
                    err = None
                except Exception as e:  # noqa: BLE001
                    err = repr(e)
                t1 = time.monotonic_ns()
                self._record({"time": t1, "nemesis": nem.name, "phase": "stop", **({"error": err} if err else {})})
                self.windows.append({"nemesis": nem.name, "start": t0, "end": t1, "detail": detail})
        return self.windows

    def heal_all(self) -> None:
        """Whatever is still broken: the network, paused or dead nodes, clocks, full disks."""
        self.c.network.heal()
        for n in self.c.nodes:
            n.resume()
            n.skew(0)
        DiskFull(self.c, self.rng, self.topic).stop()
        failed = []
        # A node found dead here died of something other than a nemesis that restarts it: say how.
        died = {n.name: n.broker.proc.returncode for n in self.c.nodes
                if not n.running() and n.broker is not None and n.broker.proc is not None}
        if died:
            self._record({"time": time.monotonic_ns(), "nemesis": "heal-all", "phase": "found-dead",
                          "exit_status": died})
        for n, e in self.c.start_nodes(self.c.nodes):
            failed.append(f"{n.name}: {e!r}"[:2000])
        self._record({"time": time.monotonic_ns(), "nemesis": "heal-all", "phase": "stop",
                      **({"error": failed} if failed else {})})
        if failed:
            raise RuntimeError("nodes that did not restart after healing: " + "; ".join(failed))

    def close(self) -> None:
        self.log.close()
