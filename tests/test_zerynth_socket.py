"""The Zerynth face, ``from networking import socket``, against stdlib reference peers on loopback.

Every item of /work/shared/seeds/zerynth-socket.md plus the Kiln API description: constants,
exception names, socket(), fileno, connect, close, bind, listen, accept, recv (blocks until
``bufsize`` bytes or EOF, returns a bytearray), recv_into, recvfrom, recvfrom_into, send, sendall,
sendto, settimeout (integer milliseconds), gettimeout, setblocking, setsockopt/getsockopt,
getsockname/getpeername, shutdown, context manager, IPv4/IPv6/AF_UNIX addresses.
"""
from __future__ import annotations

import array
import errno
import os
import select
import socket as std
import stat
import struct
import time

import pytest

import networking
from networking import socket

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")

STREAM_KINDS = ("ipv4", "ipv6", "unix")
DGRAM_KINDS = ("ipv4", "ipv6", "unix")


def open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def wait_readable(sock, seconds: float = 5.0) -> None:
    """Block (at most ``seconds``) until ``sock`` has data to read, or fail the test."""
    readable, _, _ = select.select([sock.fileno()], [], [], seconds)
    assert readable, "socket did not become readable"


# ------------------------------------------------------------------------------------------
# Module contents
# ------------------------------------------------------------------------------------------
CONSTANTS = [
    "AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM", "IPPROTO_TCP", "IPPROTO_UDP",
    "IPPROTO_IP", "IPPROTO_IPV6", "SOL_SOCKET", "SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE",
    "SO_BROADCAST", "SO_RCVBUF", "SO_SNDBUF", "SO_ERROR", "SO_TYPE", "TCP_NODELAY",
    "TCP_KEEPIDLE", "MSG_PEEK", "MSG_DONTWAIT", "MSG_WAITALL", "SHUT_RD", "SHUT_WR", "SHUT_RDWR",
]


@pytest.mark.parametrize("name", CONSTANTS)
def test_constant_has_the_linux_value(name):
    assert getattr(socket, name) == getattr(std, name)


def test_networking_exports_zerynth_exception_names():
    assert networking.ConnectionError is ConnectionError
    assert networking.IOError is OSError
    assert issubclass(networking.TimeoutError, OSError)
    assert issubclass(networking.ResolveError, OSError)
    for name in ("ConnectionTimeoutError", "NetworkGenericError"):
        cls = getattr(networking, name)
        assert isinstance(cls, type) and issubclass(cls, Exception), name


# ------------------------------------------------------------------------------------------
# Creation, attributes, fileno
# ------------------------------------------------------------------------------------------
def test_default_socket_is_tcp_over_ipv4():
    with socket.socket() as s:
        assert (s.family, s.type, s.proto) == (socket.AF_INET, socket.SOCK_STREAM,
                                              socket.IPPROTO_TCP)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
        assert s.getsockopt(socket.SOL_SOCKET, std.SO_PROTOCOL) == std.IPPROTO_TCP
        assert s.getsockopt(socket.SOL_SOCKET, std.SO_DOMAIN) == std.AF_INET


def test_dgram_with_default_proto_picks_udp():
    with socket.socket(type=socket.SOCK_DGRAM) as s:
        assert s.type == socket.SOCK_DGRAM
        assert s.proto == socket.IPPROTO_UDP
        assert s.getsockopt(socket.SOL_SOCKET, std.SO_PROTOCOL) == std.IPPROTO_UDP


def test_fileno_is_the_underlying_socket_descriptor():
    with socket.socket() as s:
        fd = s.fileno()
        assert isinstance(fd, int) and fd >= 0
        assert stat.S_ISSOCK(os.fstat(fd).st_mode)


@pytest.mark.parametrize("args,expected_errno", [
    ((std.AF_INET, std.SOCK_STREAM, std.IPPROTO_UDP), errno.EPROTONOSUPPORT),
    ((12345, std.SOCK_STREAM, 0), errno.EAFNOSUPPORT),
], ids=["udp-over-stream", "unknown-family"])
def test_creation_failure_raises_ioerror(args, expected_errno):
    with pytest.raises(IOError) as info:
        socket.socket(*args)
    assert info.value.errno == expected_errno


def test_fileno_argument_adopts_an_existing_descriptor(peers):
    lsock, addr = peers.ref_listener("ipv4")
    raw = std.create_connection(addr, timeout=5)
    ref, _ = lsock.accept()
    peers.track(ref)
    raw.settimeout(None)  # blocking fd
    fd = raw.detach()
    s = peers.track(socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP,
                                  fileno=fd))
    assert s.fileno() == fd and s.gettimeout() is None
    assert s.getpeername() == addr
    s.sendall(b"adopted")
    ref.settimeout(5)
    assert peers.read_exact(ref, 7) == b"adopted"
    s.close()
    with pytest.raises(OSError) as info:
        os.fstat(fd)
    assert info.value.errno == errno.EBADF


# ------------------------------------------------------------------------------------------
# The seed's first example: sock.sendall("Hello World!")
# ------------------------------------------------------------------------------------------
def test_seed_example_program_sends_hello_world(peers):
    lsock, (ip, port) = peers.ref_listener("ipv4")
    sock = peers.track(socket.socket(type=socket.SOCK_STREAM))
    sock.connect((ip, port))
    assert sock.sendall("Hello World!") is None
    ref, _ = lsock.accept()
    peers.track(ref).settimeout(5)
    assert peers.read_exact(ref, 12) == b"Hello World!"


@pytest.mark.parametrize("method", ["send", "sendall"])
def test_str_data_is_sent_as_utf8(peers, zerynth, method):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    text = "héllo €uro ✓"
    encoded = text.encode("utf-8")
    sent = getattr(ks, method)(text)
    if method == "send":
        assert sent == len(encoded)
    assert peers.read_exact(ref, len(encoded)) == encoded


def test_sendto_str_is_utf8(peers):
    ref, addr = peers.ref_dgram("ipv4")
    s = peers.track(socket.socket(type=socket.SOCK_DGRAM))
    assert s.sendto("µdp", addr) == len("µdp".encode())
    assert ref.recv(64) == "µdp".encode()


# ------------------------------------------------------------------------------------------
# connect / bind / listen / accept / names
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_accept_returns_socket_and_peer_address(peers, zerynth, kind):
    ls, addr = peers.kiln_listener(zerynth, kind)
    client = peers.ref_connect(kind, addr)
    conn, peer_addr = ls.accept()
    peers.track(conn)
    assert isinstance(conn, socket.socket)
    assert conn.family == zerynth.family(kind) and conn.type == socket.SOCK_STREAM
    if kind == "ipv6":
        assert peer_addr == client.getsockname()  # 4-tuple (ip, port, flowinfo, scope_id)
        assert len(peer_addr) == 4
    elif kind == "ipv4":
        assert peer_addr == client.getsockname()
    client.sendall(b"ping")
    assert conn.recv(4) == bytearray(b"ping")
    conn.sendall(b"pong")
    assert peers.read_exact(client, 4) == b"pong"


@pytest.mark.parametrize("kind", ["ipv4", "ipv6"])
def test_getsockname_and_getpeername(peers, zerynth, kind):
    ks, ref = peers.stream_pair(zerynth, kind)
    assert tuple(ks.getpeername()) == ref.getsockname()
    assert tuple(ks.getsockname()) == ref.getpeername()
    if kind == "ipv6":
        assert ks.getsockname()[0] == "::1" and len(ks.getsockname()) == 4


def test_bind_int_port_binds_ipv4_wildcard(peers):
    probe = peers.ref_socket("ipv4")
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    s = peers.track(socket.socket())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(port)
    assert tuple(s.getsockname()) == ("0.0.0.0", port)


def test_bind_int_port_binds_ipv6_wildcard(peers):
    s = peers.track(socket.socket(socket.AF_INET6))
    s.bind(0)
    host, port, flowinfo, scope_id = s.getsockname()
    assert host == "::" and port > 0


def test_bind_zero_picks_an_ephemeral_port_and_listen_default_backlog_accepts(peers):
    s = peers.track(socket.socket())
    s.bind(0)
    s.listen()
    port = s.getsockname()[1]
    assert 0 < port <= 65535
    client = peers.ref_connect("ipv4", ("127.0.0.1", port))
    conn, addr = s.accept()
    peers.track(conn)
    assert tuple(addr) == client.getsockname()


@pytest.mark.parametrize("backlog,expected", [(None, 2), (0, 0), (5, 5)],
                         ids=["default-maxlog", "zero", "five"])
def test_listen_maxlog_sets_the_kernel_backlog(peers, backlog, expected):
    s = peers.track(socket.socket())
    s.bind(("127.0.0.1", 0))
    if backlog is None:
        s.listen()
    else:
        s.listen(backlog)
    assert peers.listen_backlog(s) == expected


def test_ipv6_four_tuple_address_is_accepted(peers, zerynth):
    lsock, (ip, port) = peers.ref_listener("ipv6")
    s = peers.track(socket.socket(socket.AF_INET6))
    s.connect((ip, port, 0, 0))
    ref, _ = lsock.accept()
    peers.track(ref).settimeout(5)
    assert tuple(s.getpeername()) == (ip, port, 0, 0)
    s.sendall(b"v6")
    assert peers.read_exact(ref, 2) == b"v6"


def test_so_reuseport_lets_two_sockets_bind_one_port(peers):
    a = peers.track(socket.socket(type=socket.SOCK_DGRAM))
    b = peers.track(socket.socket(type=socket.SOCK_DGRAM))
    for s in (a, b):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    a.bind(("127.0.0.1", 0))
    b.bind(a.getsockname())
    assert tuple(b.getsockname()) == tuple(a.getsockname())


def test_connect_refused_raises_connection_refused(peers):
    holder = peers.ref_socket("ipv4")
    holder.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    s = peers.track(socket.socket())
    with pytest.raises(ConnectionRefusedError) as info:
        s.connect(holder.getsockname())
    assert info.value.errno == errno.ECONNREFUSED


def test_unix_path_as_bytes_and_str(peers):
    lsock, path = peers.ref_listener("unix")
    s1 = peers.track(socket.socket(socket.AF_UNIX))
    s1.connect(path)
    s2 = peers.track(socket.socket(socket.AF_UNIX))
    s2.connect(os.fsencode(path))
    for s in (s1, s2):
        ref, _ = lsock.accept()
        peers.track(ref).settimeout(5)
        s.sendall(b"x")
        assert ref.recv(1) == b"x"
        assert s.getpeername() in (path, os.fsencode(path))


def test_unix_abstract_namespace(peers):
    name = f"\0kiln-test-{os.getpid()}-{time.monotonic_ns()}"
    ls = peers.track(socket.socket(socket.AF_UNIX))
    ls.bind(name)
    ls.listen()
    assert ls.getsockname() in (name, name.encode())
    client = peers.ref_socket("unix")
    client.connect(name)
    conn, _ = ls.accept()
    peers.track(conn)
    client.sendall(b"abstract")
    assert conn.recv(8) == bytearray(b"abstract")


# ------------------------------------------------------------------------------------------
# recv on streams: blocks until bufsize bytes, short only at EOF, returns bytearray
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_recv_blocks_until_bufsize_bytes_arrived(peers, zerynth, kind):
    ks, ref = peers.stream_pair(zerynth, kind)
    ref.sendall(b"abc")
    peers.background(lambda: ref.sendall(b"defgh"), delay=0.2)
    start = time.monotonic()
    data = ks.recv(8)
    elapsed = time.monotonic() - start
    assert type(data) is bytearray
    assert data == bytearray(b"abcdefgh")
    assert elapsed >= 0.15, "recv returned before bufsize bytes arrived"


def test_recv_returns_shorter_data_at_eof_then_empty(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ref.sendall(b"abc")
    ref.shutdown(std.SHUT_WR)
    assert ks.recv(10) == bytearray(b"abc")
    again = ks.recv(10)
    assert type(again) is bytearray and again == bytearray()


def test_recv_zero_returns_empty_without_blocking(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    zerynth.settimeout(ks, 2.0)
    start = time.monotonic()
    assert ks.recv(0) == bytearray()
    assert time.monotonic() - start < 1.0


def test_recv_msg_peek_leaves_data_queued(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ref.sendall(b"peekaboo")
    assert ks.recv(4, socket.MSG_PEEK) == bytearray(b"peek")
    assert ks.recv(8) == bytearray(b"peekaboo")


def test_recv_msg_dontwait_with_nothing_queued_raises_eagain(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    with pytest.raises(BlockingIOError) as info:
        ks.recv(4, socket.MSG_DONTWAIT)
    assert info.value.errno == errno.EAGAIN


def test_recv_into_fills_whole_buffer_by_default(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ref.sendall(b"12")
    peers.background(lambda: ref.sendall(b"345678"), delay=0.2)
    buf = bytearray(8)
    start = time.monotonic()
    assert ks.recv_into(buf) == 8
    assert time.monotonic() - start >= 0.15
    assert buf == bytearray(b"12345678")


def test_recv_into_bufsize_fills_only_the_prefix(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ref.sendall(b"abcdef")
    buf = bytearray(b"........")
    assert ks.recv_into(buf, 3) == 3
    assert buf == bytearray(b"abc.....")
    view = memoryview(buf)[4:]
    assert ks.recv_into(view, 3) == 3
    assert buf == bytearray(b"abc.def.")


def test_recv_into_accepts_any_writable_buffer(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    payload = struct.pack("=4i", 1, -2, 3, 70000)
    ref.sendall(payload)
    arr = array.array("i", [0, 0, 0, 0])
    assert ks.recv_into(arr) == 16  # sizes are in bytes, not items
    assert arr.tolist() == [1, -2, 3, 70000]
    ref.sendall(payload[::-1])
    assert ks.recv_into(arr, 16) == 16
    assert arr.tobytes() == payload[::-1]


def test_recv_into_short_count_at_eof(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ref.sendall(b"xy")
    ref.close()
    buf = bytearray(10)
    assert ks.recv_into(buf) == 2
    assert buf[:2] == bytearray(b"xy")
    assert ks.recv_into(buf) == 0


# ------------------------------------------------------------------------------------------
# Datagrams: recv/recvfrom/recvfrom_into/sendto, truncation, connected filtering
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", DGRAM_KINDS)
def test_recvfrom_returns_bytearray_and_sender(peers, zerynth, kind):
    s = peers.track(socket.socket(zerynth.family(kind), socket.SOCK_DGRAM))
    s.bind(peers.bind_address(kind))
    ref, ref_addr = peers.ref_dgram(kind)
    ref.sendto(b"datagram", s.getsockname())
    data, sender = s.recvfrom(100)
    assert type(data) is bytearray and data == bytearray(b"datagram")
    if kind == "unix":
        assert sender in (ref_addr, os.fsencode(ref_addr))
    else:
        assert tuple(sender)[:2] == ref.getsockname()[:2]


@pytest.mark.parametrize("kind", DGRAM_KINDS)
def test_sendto_returns_count_and_peer_sees_sender(peers, zerynth, kind):
    s = peers.track(socket.socket(zerynth.family(kind), socket.SOCK_DGRAM))
    s.bind(peers.bind_address(kind))
    ref, addr = peers.ref_dgram(kind)
    assert s.sendto(b"to-you", addr) == 6
    data, sender = ref.recvfrom(100)
    assert data == b"to-you"
    if kind != "unix":
        assert sender[:2] == tuple(s.getsockname())[:2]


def test_datagram_recv_returns_one_datagram_truncated_to_bufsize(peers):
    s = peers.track(socket.socket(type=socket.SOCK_DGRAM))
    s.bind(("127.0.0.1", 0))
    ref, _ = peers.ref_dgram("ipv4")
    ref.sendto(b"0123456789", s.getsockname())
    ref.sendto(b"second", s.getsockname())
    assert s.recv(4) == bytearray(b"0123")
    assert s.recv(100) == bytearray(b"second")


def test_recvfrom_into_fills_buffer_and_returns_count_and_sender(peers):
    s = peers.track(socket.socket(type=socket.SOCK_DGRAM))
    s.bind(("127.0.0.1", 0))
    ref, _ = peers.ref_dgram("ipv4")
    ref.sendto(b"hello", s.getsockname())
    ref.sendto(b"truncated!", s.getsockname())
    buf = bytearray(16)
    nbytes, sender = s.recvfrom_into(buf)
    assert nbytes == 5 and buf[:5] == bytearray(b"hello")
    assert tuple(sender) == ref.getsockname()
    nbytes, _ = s.recvfrom_into(buf, 4)
    assert nbytes == 4 and buf[:5] == bytearray(b"truno")  # byte 4 untouched


def test_connected_udp_send_and_recv_without_address(peers):
    ref, addr = peers.ref_dgram("ipv4")
    s = peers.track(socket.socket(type=socket.SOCK_DGRAM))
    s.connect(addr)
    assert s.send(b"hi") == 2
    data, sender = ref.recvfrom(10)
    assert data == b"hi"
    ref.sendto(b"back", sender)
    assert s.recv(10) == bytearray(b"back")


# ------------------------------------------------------------------------------------------
# send / sendall
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [bytes, bytearray, memoryview, lambda b: array.array("B", b)],
                         ids=["bytes", "bytearray", "memoryview", "array"])
def test_send_accepts_buffer_types(peers, zerynth, make):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    n = ks.send(make(b"buffer!"))
    assert 0 < n <= 7
    assert peers.read_exact(ref, n) == b"buffer!"[:n]


def test_sendall_accepts_multibyte_itemsize_buffer(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    arr = array.array("i", [1, 2, 3])
    ks.sendall(arr)
    assert peers.read_exact(ref, arr.itemsize * 3) == arr.tobytes()


def test_sendall_memoryview_slice(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.sendall(memoryview(b"0123456789")[3:7])
    assert peers.read_exact(ref, 4) == b"3456"


# ------------------------------------------------------------------------------------------
# Timeouts in milliseconds, non-blocking mode, buffered partial data
# ------------------------------------------------------------------------------------------
def test_gettimeout_reports_milliseconds_none_and_zero():
    with socket.socket() as s:
        assert s.gettimeout() is None
        s.settimeout(250)
        assert s.gettimeout() == 250
        s.settimeout(0)
        assert s.gettimeout() == 0
        s.settimeout(None)
        assert s.gettimeout() is None
        s.setblocking(False)
        assert s.gettimeout() == 0
        s.setblocking(True)
        assert s.gettimeout() is None


def test_recv_timeout_200ms_fires_on_time(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.settimeout(200)
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        ks.recv(10)
    elapsed = time.monotonic() - start
    assert 0.19 <= elapsed < 2.0
    exc = info.value
    assert isinstance(exc, OSError) and isinstance(exc, networking.TimeoutError)
    assert exc.errno == errno.ETIMEDOUT and exc.args[0] == errno.ETIMEDOUT


def test_accept_timeout_fires(peers, zerynth):
    ls, _ = peers.kiln_listener(zerynth, "ipv4")
    ls.settimeout(200)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        ls.accept()
    assert 0.19 <= time.monotonic() - start < 2.0


def test_recvfrom_timeout_fires(peers):
    s = peers.track(socket.socket(type=socket.SOCK_DGRAM))
    s.bind(("127.0.0.1", 0))
    s.settimeout(200)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        s.recvfrom(10)
    assert 0.19 <= time.monotonic() - start < 2.0


def test_sendall_timeout_when_peer_never_reads(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.settimeout(300)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        ks.sendall(bytes(64 << 20))
    assert 0.29 <= time.monotonic() - start < 3.0


def test_bytes_received_before_timeout_are_kept_for_next_recv(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.settimeout(200)
    ref.sendall(b"abc")
    with pytest.raises(TimeoutError):
        ks.recv(10)
    ref.sendall(b"defghij")
    assert ks.recv(10) == bytearray(b"abcdefghij")


def test_bytes_received_before_recv_into_timeout_are_kept(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.settimeout(200)
    ref.sendall(b"12")
    buf = bytearray(6)
    with pytest.raises(TimeoutError):
        ks.recv_into(buf)
    ref.sendall(b"3456")
    assert ks.recv_into(buf) == 6
    assert buf == bytearray(b"123456")
    ref.sendall(b"78")
    assert ks.recv(2) == bytearray(b"78")


def test_nonblocking_recv_with_nothing_raises_blocking_io_error(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.settimeout(0)
    start = time.monotonic()
    with pytest.raises(BlockingIOError) as info:
        ks.recv(10)
    assert time.monotonic() - start < 0.5
    assert info.value.errno == errno.EAGAIN


def test_nonblocking_recv_returns_what_is_available(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.setblocking(False)
    ref.sendall(b"abc")
    wait_readable(ks)
    assert ks.recv(100) == bytearray(b"abc")


def test_nonblocking_sendall_that_cannot_finish_raises(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.settimeout(0)
    with pytest.raises(BlockingIOError) as info:
        ks.sendall(bytes(64 << 20))  # far more than the socket buffers hold
    assert info.value.errno == errno.EAGAIN


def test_settimeout_none_restores_blocking(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.settimeout(0)
    ks.settimeout(None)
    peers.background(lambda: ref.sendall(b"late"), delay=0.2)
    assert ks.recv(4) == bytearray(b"late")


# ------------------------------------------------------------------------------------------
# Socket options
# ------------------------------------------------------------------------------------------
def test_setsockopt_int_value_and_getsockopt_roundtrip():
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 65536
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def test_getsockopt_with_buflen_returns_raw_bytes():
    with socket.socket(type=socket.SOCK_DGRAM) as s:
        raw = s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE, 4)
        assert isinstance(raw, (bytes, bytearray)) and len(raw) == 4
        assert struct.unpack("i", raw)[0] == socket.SOCK_DGRAM


def test_setsockopt_buffer_value_is_passed_verbatim():
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, std.SO_LINGER, struct.pack("ii", 1, 7))
        onoff, linger = struct.unpack("ii", s.getsockopt(socket.SOL_SOCKET, std.SO_LINGER, 8))
        assert (onoff != 0, linger) == (True, 7)


def test_so_broadcast_and_keepalive():
    with socket.socket(type=socket.SOCK_DGRAM) as u, socket.socket() as t:
        u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        assert u.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) != 0
        t.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        t.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 42)
        assert t.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 42


# ------------------------------------------------------------------------------------------
# shutdown / close / context manager
# ------------------------------------------------------------------------------------------
def test_shutdown_wr_sends_eof_but_keeps_receiving(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.sendall(b"last words")
    ks.shutdown(socket.SHUT_WR)
    assert peers.read_to_eof(ref) == b"last words"
    ref.sendall(b"reply")
    assert ks.recv(5) == bytearray(b"reply")


def test_shutdown_rdwr_peer_sees_eof(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    ks.shutdown(socket.SHUT_RDWR)
    assert ref.recv(10) == b""


def test_close_sends_eof_and_releases_fd(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    before = open_fd_count()
    ks.close()
    assert open_fd_count() == before - 1
    assert ref.recv(10) == b""
    ks.close()  # closing twice is fine


def test_context_manager_returns_socket_and_closes_it(peers):
    lsock, addr = peers.ref_listener("ipv4")
    with socket.socket() as s:
        assert isinstance(s, socket.socket)
        s.connect(addr)
        ref, _ = lsock.accept()
        peers.track(ref).settimeout(5)
    assert ref.recv(1) == b""
    with pytest.raises(OSError) as info:
        s.send(b"x")
    assert info.value.errno == errno.EBADF


# ------------------------------------------------------------------------------------------
# Bulk: one recv call gathers 8 MiB (sendall of 8 MiB is in test_socket_core.py for both faces)
# ------------------------------------------------------------------------------------------
def test_recv_8mib_in_one_call(peers, zerynth):
    ks, ref = peers.stream_pair(zerynth, "ipv4")
    payload = os.urandom(8 << 20)
    peers.background(lambda: ref.sendall(payload))
    data = ks.recv(len(payload))
    assert len(data) == len(payload) and data == payload
