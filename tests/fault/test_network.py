"""The proxy's faults and the connect() shim, each on its own (no broker): an echo server behind a proxy, and
real processes (Python, the JVM, the Rust `streamlet` binary) whose connects the shim rewrites."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import netmap
from proxy import Network

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


class EchoServer:
    """Echoes every byte back; counts bytes received, so one-way cuts can be told apart."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    def _echo(self, c):
        with c:
            while True:
                try:
                    data = c.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                self.received += len(data)
                try:
                    c.sendall(data)
                except OSError:
                    return

    def close(self):
        self.sock.close()


@pytest.fixture
def net():
    n = Network(seed=1)
    yield n
    n.close()


@pytest.fixture
def echo():
    e = EchoServer()
    yield e
    e.close()


def recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_forwards_both_ways(net, echo):
    port = net.add_proxy("a", "b", echo.port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        payload = os.urandom(300_000)
        threading.Thread(target=s.sendall, args=(payload,), daemon=True).start()
        assert recv_exactly(s, len(payload)) == payload


def test_two_way_cut_stalls_then_heals(net, echo):
    port = net.add_proxy("a", "b", echo.port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"x")
        assert recv_exactly(s, 1) == b"x"
        net.cut("a", "b")
        net.cut("b", "a")
        s.sendall(b"held")
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(10)
        assert echo.received == 1  # the bytes never reached b
        net.heal()
        s.settimeout(5)
        assert recv_exactly(s, 4) == b"held"  # delivered after healing, as TCP retransmission would


def test_one_way_cut_lets_requests_through_but_not_responses(net, echo):
    port = net.add_proxy("a", "b", echo.port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"1")
        assert recv_exactly(s, 1) == b"1"
        net.cut("b", "a")
        s.sendall(b"2")
        assert wait_until(lambda: echo.received == 2)  # a -> b still flows
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(10)  # b -> a does not
        net.heal()
        s.settimeout(5)
        assert recv_exactly(s, 1) == b"2"


def test_cut_is_per_direction_of_traffic_not_per_proxy(net, echo):
    # A connection opened by b to a (proxy b->a) carries a's responses: cut(a, b) must stall those too.
    port = net.add_proxy("b", "a", echo.port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"1")
        assert recv_exactly(s, 1) == b"1"
        net.cut("a", "b")
        s.sendall(b"2")
        assert wait_until(lambda: echo.received == 2)
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(10)
        net.heal()


def test_new_connection_on_cut_link_is_not_forwarded(net, echo):
    port = net.add_proxy("a", "b", echo.port)
    net.cut("b", "a")  # the SYN/ACK would be lost
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"z")
        time.sleep(0.3)
        assert echo.connections == 0
        net.heal()
        s.settimeout(5)
        assert recv_exactly(s, 1) == b"z"
    assert echo.connections == 1


def test_drop_resets_and_refuses(net, echo):
    port = net.add_proxy("a", "b", echo.port)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"1")
    assert recv_exactly(s, 1) == b"1"
    net.drop("a", "b")
    with pytest.raises((ConnectionError, OSError)):
        s.sendall(b"2")
        recv_exactly(s, 1)
    s.close()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s2:
        s2.settimeout(2)
        assert s2.recv(1) == b""  # refused: closed before anything is forwarded
    net.heal()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s3:
        s3.sendall(b"3")
        assert recv_exactly(s3, 1) == b"3"


def test_delay_adds_latency_in_one_direction(net, echo):
    port = net.add_proxy("a", "b", echo.port)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"w")
        recv_exactly(s, 1)
        t0 = time.monotonic()
        s.sendall(b"f")
        recv_exactly(s, 1)
        fast = time.monotonic() - t0
        net.delay("a", "b", 300)
        t0 = time.monotonic()
        s.sendall(b"s")
        recv_exactly(s, 1)
        slow = time.monotonic() - t0
    assert slow >= 0.29 and fast < 0.2


# ---- the shim ------------------------------------------------------------------------------------------------
DIAL_PY = r"""
import socket, sys
fam, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET)
s.settimeout(5)
s.connect((host, port))
s.sendall(b"hello")
print(s.recv(5).decode())
"""


@pytest.mark.parametrize("family,host", [("4", "127.0.0.1"), ("4", "127.0.0.2"), ("6", "::ffff:127.0.0.1")])
def test_shim_rewrites_python_connects(net, echo, family, host):
    # Port 1 is never listening: only the rewrite makes the connect succeed, and it must land on the proxy.
    port = net.add_proxy("client", "b", echo.port)
    env = netmap.env_for({1: port})
    out = subprocess.run([sys.executable, "-c", DIAL_PY, family, host, "1"], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello"
    assert net.counters["accepted"] == 1


def test_shim_leaves_other_destinations_alone(echo):
    env = netmap.env_for({1: 2})
    out = subprocess.run([sys.executable, "-c", DIAL_PY, "4", "127.0.0.1", str(echo.port)], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello"


DIAL_JAVA = """
import java.net.*; import java.nio.channels.*; import java.nio.*;
public class Dial { public static void main(String[] a) throws Exception {
  // NIO, as Kafka's network layer: SocketChannel.connect -> libnio -> connect(2) on a dual-stack socket
  SocketChannel c = SocketChannel.open(new InetSocketAddress(a[0], Integer.parseInt(a[1])));
  c.write(ByteBuffer.wrap("hello".getBytes())); ByteBuffer b = ByteBuffer.allocate(5);
  while (b.hasRemaining()) c.read(b); System.out.println(new String(b.array())); } }
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no java on PATH")
def test_shim_rewrites_jvm_connects(net, echo, tmp_path):
    src = tmp_path / "Dial.java"
    src.write_text(DIAL_JAVA)
    port = net.add_proxy("client", "b", echo.port)
    out = subprocess.run(["java", str(src), "127.0.0.1", "1"], env=netmap.env_for({1: port}),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello"
    assert net.counters["accepted"] == 1


def test_shim_rewrites_rust_connects(net, tmp_path):
    """The streamlet binary (tokio/mio -> libc connect) reaches a real broker only through the rewrite."""
    sys.path.insert(0, str(REPO / "tests" / "interop"))
    from kafka_broker import StreamletBroker, BrokerError

    try:
        broker = StreamletBroker(workdir=tmp_path / "b")
    except BrokerError as e:
        pytest.skip(str(e))
    with broker:
        port = net.add_proxy("client", "n1", broker.port)
        out = subprocess.run([broker.binary, "topics", "--bootstrap-server", "127.0.0.1:1", "--list"],
                             env=netmap.env_for({1: port}), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert net.counters["accepted"] >= 1
