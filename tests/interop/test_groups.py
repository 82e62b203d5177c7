"""Consumer groups (classic protocol): every client as a group member against a 6-partition topic.

Each member is a subprocess (group_member.py for confluent-kafka / kafka-python / aiokafka, node/groups.js for
kafkajs, java/src/GroupInterop.java for the Java client) speaking JSON lines: it reports its assignment and
every record it reads, and takes `commit` / `close` on stdin; a SIGKILL stands for a crashed member.

  - split: two members of one group split the partitions (disjoint, all 6, the assignor's layout) and every
    record is read exactly once, per assignor the client has (range, roundrobin, cooperative-sticky);
  - takeover: one member leaves (close) or is SIGKILLed, the other gets all 6 partitions within the session
    timeout (plus slack) and reads what is produced next;
  - committed offsets survive a consumer restart and a broker restart (SIGKILL, same port and data dir);
  - two groups each read every record; kcat -G; mixed groups (Java + confluent-kafka, Streamlet + Java,
    Streamlet + confluent-kafka); Streamlet's own Rust consumer (core/examples/interop_group_member.rs) is a
    client like the others;
  - (streamlet) time for 50 consumers on a 100-partition topic to reach a stable assignment.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from clients import JAVA_CP, ConfluentKafka
from kafka_broker import HERE, KafkaBroker, StreamletBroker, _die_with_parent, free_port

TARGET = os.environ.get("STREAMLET_INTEROP_TARGET", "streamlet")
PARTITIONS = 6
SESSION_MS = 6000          # Kafka's default group.min.session.timeout.ms is 6000
STABLE_TIMEOUT = 45.0      # joining/rebalancing two members
TAKEOVER_SLACK = 10.0      # takeover after a kill must happen within session timeout + this
RESTART_TIMEOUT = 180.0    # broker restart in test_commit_survives_broker_restart (timed separately)

ASSIGNORS = {
    "confluent-kafka": ["range", "roundrobin", "cooperative-sticky"],
    "kafka-python": ["range", "roundrobin", "cooperative-sticky"],
    "aiokafka": ["range", "roundrobin"],            # aiokafka 0.14 has no cooperative protocol
    "kafkajs": ["roundrobin"],                      # kafkajs 2.2.4 ships only the round-robin assigner
    "java": ["range", "roundrobin", "cooperative-sticky"],
    "streamlet": ["range", "roundrobin", "cooperative-sticky"],   # Streamlet's own Rust consumer
}
STREAMLET_MEMBER = os.environ.get("STREAMLET_MEMBER_BIN",
                                  str(HERE.parent.parent / "target" / "debug" / "examples" / "interop_group_member"))
GROUP_CLIENTS = list(ASSIGNORS)


def default_assignor(client: str) -> str:
    return ASSIGNORS[client][0]


# ------------------------------------------------------------------------------------------------------
class Member:
    """One group member subprocess; a reader thread collects its JSON events."""

    def __init__(self, client, bootstrap, topic, group, assignor, session_ms=SESSION_MS, name=""):
        self.client, self.name = client, name or client
        if client == "kafkajs":
            cmd = [shutil.which("node") or "node", str(HERE / "node" / "groups.js"), bootstrap, topic, group,
                   assignor, str(session_ms)]
        elif client == "streamlet":
            cmd = [STREAMLET_MEMBER, bootstrap, topic, group, assignor, str(session_ms)]
        elif client == "java":
            cmd = [shutil.which("java") or "java", "-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                   f"-Dlog4j.configuration=file:{HERE / 'java' / 'log4j-client.properties'}",
                   "-cp", JAVA_CP, "GroupInterop", "member", bootstrap, topic, group, assignor, str(session_ms)]
        else:
            cmd = [sys.executable, str(HERE / "group_member.py"), client, bootstrap, topic, group, assignor,
                   str(session_ms)]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1, preexec_fn=_die_with_parent)
        self.events: list[dict] = []
        self.stderr: list[str] = []
        self.lock = threading.Lock()
        self.parts: list[int] | None = None
        self.assign_times: list[tuple[float, list[int]]] = []
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "noise", "line": line}
            with self.lock:
                self.events.append(ev)
                if ev.get("ev") == "assign":
                    self.parts = ev["parts"]
                    self.assign_times.append((time.monotonic(), ev["parts"]))

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    # ---- views
    def recs(self) -> list[dict]:
        with self.lock:
            return [e for e in self.events if e.get("ev") == "rec"]

    def errors(self) -> list[str]:
        with self.lock:
            return [e["msg"] for e in self.events if e.get("ev") == "error"]

    def of(self, kind) -> list[dict]:
        with self.lock:
            return [e for e in self.events if e.get("ev") == kind]

    def describe(self) -> str:
        return (f"{self.name} (pid {self.proc.pid}, exit {self.proc.poll()}): assignment {self.parts}, "
                f"{len(self.recs())} records, errors {self.errors()[-5:]}, "
                f"assignments {[p for _, p in self.assign_times][-6:]}\n    stderr: "
                + "\n    ".join(self.stderr[-15:]))

    # ---- control
    def send(self, cmd: str):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def commit(self, timeout=30.0) -> dict[int, int]:
        n = len(self.of("committed"))
        self.send("commit")
        wait(lambda: len(self.of("committed")) > n, timeout, f"{self.name} to commit", [self])
        return {int(p): o for p, o in self.of("committed")[-1]["offsets"].items()}

    def close(self, timeout=45.0):
        self.send("close")
        wait(lambda: self.of("closed") or self.proc.poll() is not None, timeout, f"{self.name} to close", [self])
        self.proc.wait(timeout=timeout)
        assert self.of("closed"), f"{self.name} exited without closing cleanly: {self.describe()}"

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def wait(cond, timeout, what, members=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        for m in members:
            if m.proc.poll() is not None and not m.of("closed"):
                raise AssertionError(f"{m.name} died while waiting for {what}: {m.describe()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n  "
                         + "\n  ".join(m.describe() for m in members))


def split_ok(members, partitions=PARTITIONS):
    """Each member's current assignment is non-empty, they are disjoint and cover every partition."""
    ps = [m.parts for m in members]
    if any(not p for p in ps):
        return False
    flat = [x for p in ps for x in p]
    return sorted(flat) == list(range(partitions))


def wait_split(members, what="a stable split", timeout=STABLE_TIMEOUT, hold=1.5):
    """Wait for split_ok, then require it to hold for `hold` s (no rebalance still under way)."""
    while True:
        wait(lambda: split_ok(members), timeout, what, members)
        snap = [list(m.parts) for m in members]
        time.sleep(hold)
        if [m.parts for m in members] == snap:
            return snap


@pytest.fixture
def members(request):
    started: list[Member] = []

    def start(*a, **kw) -> Member:
        m = Member(*a, **kw)
        started.append(m)
        return m
    yield start
    for m in started:
        m.stop()
    for m in started:  # shown by pytest only when the test failed
        print(m.describe())


def produce(bootstrap, topic, tag, n=60):
    """n records, n/6 per partition (explicit partitions); values carry the tag and the sequence number."""
    spec = [{"p": i % PARTITIONS, "k": f"k{i}", "v": f"{tag}-{i:04d}", "h": []} for i in range(n)]
    acks = ConfluentKafka().produce(bootstrap, topic, "none", spec)
    assert all(a is not None for a in acks)
    return [s["v"] for s in spec], acks


def group_id(prefix="g"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_topic(bootstrap, topic_name, partitions=PARTITIONS):
    t = topic_name()
    ConfluentKafka().create_topic(bootstrap, t, partitions)
    return t


def wait_values(members, values, timeout=45.0, settle=1.0):
    """All `values` read across `members`; then `settle` s more to catch duplicates. Returns {value: [member]}."""
    want = set(values)

    def have():
        return want <= {r["v"] for m in members for r in m.recs()}
    wait(have, timeout, f"{len(want)} records", members)
    time.sleep(settle)
    seen: dict[str, list[str]] = {}
    for m in members:
        for r in m.recs():
            seen.setdefault(r["v"], []).append(m.name)
    return seen


def assert_once(seen, values, what=""):
    dup = {v: w for v, w in seen.items() if v in set(values) and len(w) > 1}
    missing = [v for v in values if v not in seen]
    assert not dup and not missing, f"{what}: read more than once: {dict(list(dup.items())[:10])}; missing {missing[:10]}"


def expected_layouts(assignor):
    if assignor == "range":
        return [[0, 1, 2], [3, 4, 5]]
    if assignor == "roundrobin":
        return [[0, 2, 4], [1, 3, 5]]
    return None  # sticky: any balanced split


# ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("client,assignor", [(c, a) for c in GROUP_CLIENTS for a in ASSIGNORS[c]])
def test_two_members_split(broker, members, topic_name, client, assignor):
    b = broker
    topic = new_topic(b.bootstrap, topic_name)
    g = group_id()
    m1 = members(client, b.bootstrap, topic, g, assignor, name=f"{client}#1")
    wait(lambda: m1.parts == list(range(PARTITIONS)), STABLE_TIMEOUT, "member 1 to own all partitions", [m1])
    m2 = members(client, b.bootstrap, topic, g, assignor, name=f"{client}#2")
    t0 = time.monotonic()
    split = wait_split([m1, m2])
    took = time.monotonic() - t0
    assert sorted(len(s) for s in split) == [3, 3], f"unbalanced split {split}"
    # kafkajs's round-robin assigner walks the partitions in metadata order, not sorted: no fixed layout
    layouts = expected_layouts(assignor) if client != "kafkajs" else None
    if layouts:
        assert sorted(split) == layouts, f"{assignor} assignor: split {split}, expected {layouts}"
    values, acks = produce(b.bootstrap, topic, "split")
    seen = wait_values([m1, m2], values)
    assert_once(seen, values, "two members")
    for m, parts in ((m1, split[0]), (m2, split[1])):
        wrong = [r for r in m.recs() if r["p"] not in parts]
        assert not wrong, f"{m.name} read records of partitions it does not own ({parts}): {wrong[:5]}"
    print(f"{client} {assignor}: split {split} {took:.1f}s after the second member started")


@pytest.mark.parametrize("how", ["close", "kill"])
@pytest.mark.parametrize("client", GROUP_CLIENTS)
def test_takeover(broker, members, topic_name, client, how):
    b = broker
    topic = new_topic(b.bootstrap, topic_name)
    g = group_id()
    a = default_assignor(client)
    m1 = members(client, b.bootstrap, topic, g, a, name=f"{client}#1")
    wait(lambda: m1.parts, STABLE_TIMEOUT, "member 1 to get an assignment", [m1])
    m2 = members(client, b.bootstrap, topic, g, a, name=f"{client}#2")
    wait_split([m1, m2])
    first, _ = produce(b.bootstrap, topic, "before")
    assert_once(wait_values([m1, m2], first), first, "before the takeover")
    m1.commit()
    m2.commit()

    t0 = time.monotonic()
    if how == "close":
        m2.close()
    else:
        m2.kill()
    limit = SESSION_MS / 1000 + TAKEOVER_SLACK
    wait(lambda: m1.parts == list(range(PARTITIONS)), limit,
         f"member 1 to own all {PARTITIONS} partitions after member 2 {how}", [m1])
    took = time.monotonic() - t0
    second, _ = produce(b.bootstrap, topic, "after")
    seen = wait_values([m1], second)
    assert_once(seen, second, "after the takeover")
    m2_first = {r["v"] for r in m2.recs()} & set(first)
    reread = [r for r in m1.recs() if r["v"] in m2_first]
    assert not reread, f"member 1 re-read records member 2 had committed: {reread[:5]}"
    assert_once(wait_values([m1, m2], first, settle=0), first, "before records, overall")
    print(f"{client} member 2 {how}: member 1 owned all partitions after {took:.1f}s (session {SESSION_MS} ms)")


@pytest.mark.parametrize("client", GROUP_CLIENTS)
def test_commit_survives_consumer_restart(broker, members, topic_name, client):
    b = broker
    topic = new_topic(b.bootstrap, topic_name)
    g = group_id()
    a = default_assignor(client)
    first, acks = produce(b.bootstrap, topic, "first", n=30)
    m1 = members(client, b.bootstrap, topic, g, a, name=f"{client}#1")
    assert_once(wait_values([m1], first), first, "first consumer")
    committed = m1.commit()
    ends = {}
    for p, o in acks:
        ends[p] = max(ends.get(p, -1), o + 1)
    assert committed == ends, f"committed {committed}, expected the log end offsets {ends}"
    m1.close()

    second, _ = produce(b.bootstrap, topic, "second", n=30)
    m2 = members(client, b.bootstrap, topic, g, a, name=f"{client}#2")
    seen = wait_values([m2], second, settle=2.0)
    assert_once(seen, second, "second consumer")
    reread = [r for r in m2.recs() if r["v"] in set(first)]
    assert not reread, f"the restarted consumer re-read {len(reread)} committed records: {reread[:5]}"
    firsts = {}
    for r in m2.recs():
        firsts.setdefault(r["p"], r["o"])
    assert firsts == ends, f"restarted consumer began at {firsts}, committed {ends}"


@pytest.fixture
def own_broker(request, tmp_path):
    bk = KafkaBroker(workdir=tmp_path / "kafka") if TARGET == "kafka" else \
        StreamletBroker(workdir=tmp_path / "streamlet", port=free_port())
    request.node._interop_broker = bk
    bk.start()
    try:
        yield bk
    finally:
        bk.stop()


@pytest.mark.parametrize("client", GROUP_CLIENTS)
def test_commit_survives_broker_restart(own_broker, members, topic_name, client):
    b = own_broker
    topic = new_topic(b.bootstrap, topic_name)
    g = group_id()
    a = default_assignor(client)
    first, acks = produce(b.bootstrap, topic, "first", n=30)
    m1 = members(client, b.bootstrap, topic, g, a, name=f"{client}#1")
    assert_once(wait_values([m1], first), first, "before the restart")
    committed = m1.commit()
    ends = {}
    for p, o in acks:
        ends[p] = max(ends.get(p, -1), o + 1)
    assert committed == ends, f"committed {committed}, expected {ends}"
    m1.close()

    # The restart gets a generous start timeout so that the offsets are checked even when recovery after the
    # SIGKILL is slow; how long it took is asserted last, against the harness's usual start timeout.
    b.kill()
    usual_start_timeout, b.start_timeout = b.start_timeout, RESTART_TIMEOUT
    t0 = time.monotonic()
    b.start()
    restart_took = time.monotonic() - t0
    b.start_timeout = usual_start_timeout
    second, _ = produce(b.bootstrap, topic, "second", n=30)
    m2 = members(client, b.bootstrap, topic, g, a, name=f"{client}#2")
    seen = wait_values([m2], second, timeout=60.0, settle=2.0)
    assert_once(seen, second, "after the broker restart")
    reread = [r for r in m2.recs() if r["v"] in set(first)]
    assert not reread, f"after a broker restart the consumer re-read {len(reread)} committed records: {reread[:5]}"
    firsts = {}
    for r in m2.recs():
        firsts.setdefault(r["p"], r["o"])
    assert firsts == ends, f"after the broker restart the consumer began at {firsts}, committed {ends}"
    print(f"{client}: broker restarted (after SIGKILL) in {restart_took:.1f}s")
    assert restart_took <= usual_start_timeout, (
        f"offsets survived, but the broker took {restart_took:.1f}s to listen again after the SIGKILL "
        f"(harness start timeout {usual_start_timeout:.0f}s)")


@pytest.mark.parametrize("client", GROUP_CLIENTS)
def test_two_groups_each_read_everything(broker, members, topic_name, client):
    b = broker
    topic = new_topic(b.bootstrap, topic_name)
    a = default_assignor(client)
    ga, gb = group_id("ga"), group_id("gb")
    ma = members(client, b.bootstrap, topic, ga, a, name=f"{client}@A")
    mb = members(client, b.bootstrap, topic, gb, a, name=f"{client}@B")
    wait(lambda: ma.parts == list(range(PARTITIONS)) and mb.parts == list(range(PARTITIONS)), STABLE_TIMEOUT,
         "both groups to own every partition", [ma, mb])
    values, _ = produce(b.bootstrap, topic, "both")
    for m in (ma, mb):
        assert_once(wait_values([m], values), values, m.name)


def test_kcat_balanced_consumer(broker, topic_name):
    """kcat -G: one balanced consumer reads every record once and commits (auto commit on close); a second run
    in the same group reads only what was produced since."""
    b = broker
    topic = new_topic(b.bootstrap, topic_name)
    g = group_id("kcat")
    first, _ = produce(b.bootstrap, topic, "first")

    def run():
        cmd = [shutil.which("kcat") or "kcat", "-b", b.bootstrap, "-X", "client.id=kcat", "-G", g,
               "-X", f"session.timeout.ms={SESSION_MS}", "-X", "auto.offset.reset=earliest",
               "-e", "-J", "-q", topic]  # no -o: kcat -G would apply it to every assigned partition
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        assert out.returncode == 0, f"kcat -G exit {out.returncode}\nstderr:\n{out.stderr[-4000:]}"
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()], out.stderr

    got, err = run()
    vals = [r["payload"] for r in got]
    seen = {}
    for v in vals:
        seen.setdefault(v, []).append("kcat")
    assert_once(seen, first, f"kcat -G (stderr: {err[-2000:]})")
    second, _ = produce(b.bootstrap, topic, "second", n=12)
    got2, err2 = run()
    vals2 = [r["payload"] for r in got2]
    assert sorted(vals2) == sorted(second), \
        f"second kcat -G run read {len(vals2)} records, expected the 12 new ones: {vals2[:20]}\n{err2[-2000:]}"


MIXED = [("java", "confluent-kafka"), ("streamlet", "java"), ("streamlet", "confluent-kafka")]


@pytest.mark.parametrize("first,second", MIXED)
@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
def test_mixed_group(broker, members, topic_name, assignor, first, second):
    b = broker
    topic = new_topic(b.bootstrap, topic_name)
    g = group_id("mixed")
    m1 = members(first, b.bootstrap, topic, g, assignor, name=first)
    wait(lambda: m1.parts == list(range(PARTITIONS)), STABLE_TIMEOUT, f"{first} to own all partitions", [m1])
    m2 = members(second, b.bootstrap, topic, g, assignor, name=second)
    split = wait_split([m1, m2])
    assert sorted(len(s) for s in split) == [3, 3], f"unbalanced split {split}"
    if assignor == "range":
        assert sorted(split) == [[0, 1, 2], [3, 4, 5]], f"range split {split}"
    values, _ = produce(b.bootstrap, topic, "mixed")
    assert_once(wait_values([m1, m2], values), values, "mixed group")


# ------------------------------------------------------------------------------------------------------
REBALANCE_CONSUMERS = 50
REBALANCE_PARTITIONS = 100
REBALANCE_TIMEOUT = 180.0


@pytest.mark.skipif(TARGET != "streamlet" and os.environ.get("STREAMLET_INTEROP_REBALANCE_KAFKA") != "1",
                    reason="timing runs against streamlet (STREAMLET_INTEROP_REBALANCE_KAFKA=1 for Apache Kafka)")
def test_rebalance_time_50_consumers(broker, topic_name):
    """50 confluent-kafka consumers (one process, one polling thread each, range assignor) subscribe to a
    100-partition topic at once; time until every partition is assigned exactly once (and stays so for 3 s)."""
    from confluent_kafka import Consumer

    b = broker
    topic = new_topic(b.bootstrap, topic_name, REBALANCE_PARTITIONS)
    g = group_id("fifty")
    owned: dict[int, list[int]] = {}
    errors: list[str] = []
    stop = threading.Event()

    def run(i):
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": g, "client.id": f"c{i}",
                      "partition.assignment.strategy": "range", "session.timeout.ms": 30000,
                      "heartbeat.interval.ms": 3000, "enable.auto.commit": False,
                      "error_cb": lambda e: errors.append(f"c{i}: {e}")})
        try:
            c.subscribe([topic])
            while not stop.is_set():
                c.poll(0.1)
                owned[i] = sorted(tp.partition for tp in c.assignment())
        finally:
            c.close()

    def stable():
        if len(owned) < REBALANCE_CONSUMERS:
            return False
        flat = sorted(p for ps in list(owned.values()) for p in ps)
        return flat == list(range(REBALANCE_PARTITIONS)) and all(owned.values())

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(REBALANCE_CONSUMERS)]
    for t in threads:
        t.start()
    try:
        deadline = t0 + REBALANCE_TIMEOUT
        while True:
            while not stable():
                assert time.monotonic() < deadline, (
                    f"no stable assignment of {REBALANCE_PARTITIONS} partitions to {REBALANCE_CONSUMERS} consumers "
                    f"within {REBALANCE_TIMEOUT}s: {len(owned)} consumers reported, "
                    f"{sum(1 for v in owned.values() if v)} with partitions, "
                    f"{len({p for v in owned.values() for p in v})} partitions owned; errors {errors[-10:]}")
                time.sleep(0.02)
            took = time.monotonic() - t0
            snap = {i: list(v) for i, v in owned.items()}
            time.sleep(3.0)
            if {i: list(v) for i, v in owned.items()} == snap:
                break
        print(f"\n{REBALANCE_CONSUMERS} confluent-kafka consumers, {REBALANCE_PARTITIONS} partitions: "
              f"stable assignment after {took:.2f}s")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
