"""The harness's network: one fault-injecting TCP proxy per link, all on one asyncio loop in a thread.

A link is an ordered pair (source, destination) of node names ("n1", "n2", ..., and "client" for the workload).
Each proxy forwards the connections that `source` opens to one listener of `destination`. Faults are kept per
*direction of traffic* (bytes flowing from a to b), not per proxy, because a Kafka link carries both directions on
connections opened by either side: cutting "n1 -> n2" stalls n1's requests on connections n1 opened to n2 *and*
n1's responses on connections n2 opened to n1.

Faults (all reversible; `heal()` clears every one):
- cut(a, b):    bytes from a to b are held, as packets dropped by a firewall are (TCP retransmits, the peer sees a
                stall, not an error). A new connection on a link cut in either direction is not forwarded until
                healed: its SYN/ACK would be lost. Held bytes flow again on heal, as retransmissions would.
- drop(a, b):   the connections between a and b (either way) are reset and new ones refused, as a firewall
                REJECT does: the peers see errors at once.
- delay(a, b, ms, jitter_ms): every chunk from a to b is delivered ms (+- jitter, seeded) later, order kept.
Bytes are never silently discarded from a live stream: TCP never does that, and doing it would only test the
framing code of the peers.
"""
from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field

CHUNK = 64 * 1024
QUEUE_CHUNKS = 32  # per direction per connection: bounded, so a stalled direction pushes back on its sender


@dataclass(eq=False)  # identity-hashed: kept in a set of live connections
class _Conn:
    src: str
    dst: str
    writers: list = field(default_factory=list)
    tasks: list = field(default_factory=list)

    def abort(self) -> None:
        for w in self.writers:
            try:
                w.transport.abort()  # RST, not FIN: a rejected link, not a polite close
            except Exception:  # noqa: BLE001 - already closed
                pass
        for t in self.tasks:
            t.cancel()


class Network:
    """Owns the proxies and the fault state. Thread-safe: every public method runs on the loop's thread."""

    def __init__(self, seed: int = 0, host: str = "127.0.0.1"):
        self.host = host
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-network", daemon=True)
        self._thread.start()
        self._servers: list[asyncio.base_events.Server] = []
        self._open: dict[tuple[str, str], asyncio.Event] = {}   # direction (a, b) -> set while bytes may flow
        self._delay: dict[tuple[str, str], tuple[float, float]] = {}
        self._dropped: set[tuple[str, str]] = set()
        self._conns: set[_Conn] = set()
        self.proxies: dict[tuple[str, str, int], int] = {}     # (src, dst, target port) -> proxy port
        self.counters = {"accepted": 0, "refused": 0, "bytes": 0}

    # ---- plumbing -------------------------------------------------------------------------------------------
    def _call(self, fn, *args):
        """Run fn(*args) on the loop and return its result (awaiting it if it is a coroutine)."""
        async def run():
            r = fn(*args)
            if asyncio.iscoroutine(r):
                r = await r
            return r
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def _gate(self, a: str, b: str) -> asyncio.Event:
        ev = self._open.get((a, b))
        if ev is None:
            ev = self._open[(a, b)] = asyncio.Event()
            ev.set()
        return ev

    # ---- proxies --------------------------------------------------------------------------------------------
    def add_proxy(self, src: str, dst: str, target_port: int) -> int:
        """Listen on a free loopback port; forward to host:target_port as the link src -> dst. Returns the port."""
        key = (src, dst, target_port)
        if key in self.proxies:
            return self.proxies[key]

        async def start():
            server = await asyncio.start_server(
                lambda r, w: self._serve(src, dst, target_port, r, w), self.host, 0)
            self._servers.append(server)
            return server.sockets[0].getsockname()[1]

        port = self._call(start)
        self.proxies[key] = port
        return port

    async def _serve(self, src, dst, target_port, creader, cwriter):
        self.counters["accepted"] += 1
        conn = _Conn(src, dst, writers=[cwriter])
        self._conns.add(conn)
        try:
            # A connection is established only when SYN and SYN/ACK both get through; the client may give up
            # meanwhile (its connect timeout), and then the held socket is released.
            while not (self._gate(src, dst).is_set() and self._gate(dst, src).is_set()) \
                    and not self._is_dropped(src, dst):
                await asyncio.sleep(0.1)
                if creader.at_eof() or cwriter.is_closing():
                    return
            if self._is_dropped(src, dst):
                self.counters["refused"] += 1
                return
            try:
                ureader, uwriter = await asyncio.open_connection(self.host, target_port)
            except OSError:
                self.counters["refused"] += 1
                return  # destination down: the client sees the connection close, as with a refused connect
            conn.writers.append(uwriter)
            up = asyncio.ensure_future(self._pump(src, dst, creader, uwriter))
            down = asyncio.ensure_future(self._pump(dst, src, ureader, cwriter))
            conn.tasks += [up, down]
            await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        except (asyncio.CancelledError, ConnectionError, OSError):
            pass
        finally:
            conn.abort() if self._is_dropped(src, dst) else self._close(conn)
            self._conns.discard(conn)

    @staticmethod
    def _close(conn: _Conn) -> None:
        for t in conn.tasks:
            t.cancel()
        for w in conn.writers:
            try:
                w.close()
            except Exception:  # noqa: BLE001
                pass

    def _is_dropped(self, a: str, b: str) -> bool:
        return (a, b) in self._dropped or (b, a) in self._dropped

    async def _pump(self, a: str, b: str, reader, writer):
        """Bytes from a to b: read as they come, deliver when due and when the direction is open."""
        q: asyncio.Queue = asyncio.Queue(QUEUE_CHUNKS)

        async def deliver():
            while True:
                due, data = await q.get()
                if data is None:
                    break
                now = self._loop.time()
                if due > now:
                    await asyncio.sleep(due - now)
                await self._gate(a, b).wait()
                writer.write(data)
                await writer.drain()
                self.counters["bytes"] += len(data)
            if writer.can_write_eof():
                writer.write_eof()

        d = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(CHUNK)
                ms, jitter = self._delay.get((a, b), (0.0, 0.0))
                due = self._loop.time() + max(0.0, ms + self._rng.uniform(-jitter, jitter)) / 1000.0
                await q.put((due, data or None))
                if not data:
                    break
            await d
        finally:
            d.cancel()

    # ---- faults ---------------------------------------------------------------------------------------------
    def cut(self, a: str, b: str) -> None:
        """Stall bytes flowing from a to b (one way). cut(a, b) and cut(b, a) make a two-way partition."""
        self._call(lambda: self._gate(a, b).clear())

    def drop(self, a: str, b: str) -> None:
        """Reset live connections between a and b (either way) and refuse new ones."""
        def do():
            self._dropped.add((a, b))
            for c in list(self._conns):
                if {c.src, c.dst} == {a, b}:
                    c.abort()
        self._call(do)

    def delay(self, a: str, b: str, ms: float, jitter_ms: float = 0.0) -> None:
        self._call(lambda: self._delay.__setitem__((a, b), (float(ms), float(jitter_ms))))

    def heal(self) -> None:
        def do():
            self._dropped.clear()
            self._delay.clear()
            for ev in self._open.values():
                ev.set()
        self._call(do)

    def faults(self) -> dict:
        """The current fault state, for the nemesis log."""
        def do():
            return {"cut": sorted(f"{a}->{b}" for (a, b), ev in self._open.items() if not ev.is_set()),
                    "dropped": sorted(f"{a}->{b}" for a, b in self._dropped),
                    "delay": {f"{a}->{b}": v for (a, b), v in self._delay.items()}}
        return self._call(do)

    def close(self) -> None:
        async def stop():
            for s in self._servers:
                s.close()
            for c in list(self._conns):
                c.abort()
        try:
            self._call(stop)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
