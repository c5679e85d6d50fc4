"""The MicroPython face, ``import usocket``, against stdlib reference peers on loopback.

Every item of /work/shared/seeds/micropython-socket.md plus the Kiln API description: constants,
getaddrinfo (and its opaque sockaddr), inet_pton/inet_ntop, socket(), close, bind, listen, accept,
connect, send, sendall, recv (returns as soon as any data), sendto, recvfrom, setsockopt
(int or buffer), settimeout (seconds), setblocking, makefile, read, readinto, readline, write,
the OSError-with-errno-in-args[0] error model, IPv4/IPv6/AF_UNIX addresses.
"""
from __future__ import annotations

import array
import errno
import os
import select
import socket as std
import struct
import time

import pytest

import usocket

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")


def kernel_view(sock) -> std.socket:
    """A stdlib socket on a dup of ``sock``'s fd: an independent view of the kernel's state.

    The caller must close it (it owns only the duplicate descriptor).
    """
    return std.socket(fileno=os.dup(sock.fileno()))


def wait_readable(sock, seconds: float = 5.0) -> None:
    readable, _, _ = select.select([sock.fileno()], [], [], seconds)
    assert readable, "socket did not become readable"


# ------------------------------------------------------------------------------------------
# Module contents
# ------------------------------------------------------------------------------------------
CONSTANTS = [
    "AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM", "IPPROTO_TCP", "IPPROTO_UDP",
    "SOL_SOCKET", "SO_REUSEADDR", "SO_KEEPALIVE", "SO_BROADCAST", "SO_RCVBUF", "SO_SNDBUF",
]


@pytest.mark.parametrize("name", CONSTANTS)
def test_constant_has_the_linux_value(name):
    assert getattr(usocket, name) == getattr(std, name)


def test_socket_error_alias_is_absent_or_oserror():
    # The seed: "MicroPython does NOT have this exception" - if present it may only be OSError.
    assert getattr(usocket, "error", OSError) is OSError


# ------------------------------------------------------------------------------------------
# socket(): defaults and automatic protocol
# ------------------------------------------------------------------------------------------
def test_default_socket_is_tcp_over_ipv4():
    with usocket.socket() as s, kernel_view(s) as view:
        assert (view.family, view.type, view.proto) == (std.AF_INET, std.SOCK_STREAM,
                                                       std.IPPROTO_TCP)


@pytest.mark.parametrize("af", ["AF_INET", "AF_INET6"])
def test_sock_dgram_selects_udp(af):
    with usocket.socket(getattr(usocket, af), usocket.SOCK_DGRAM) as s, kernel_view(s) as view:
        assert view.type == std.SOCK_DGRAM and view.proto == std.IPPROTO_UDP


def test_positional_only_construction_with_explicit_proto():
    with usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM, usocket.IPPROTO_TCP) as s:
        assert s.fileno() >= 0


# ------------------------------------------------------------------------------------------
# recv / recvfrom / send / sendto
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["ipv4", "ipv6", "unix"])
def test_recv_returns_bytes_as_soon_as_any_data_arrived(peers, usock, kind):
    ks, ref = peers.stream_pair(usock, kind)
    ref.sendall(b"abc")
    start = time.monotonic()
    data = ks.recv(100)
    assert type(data) is bytes and data == b"abc"
    assert time.monotonic() - start < 1.0, "recv waited for more than the available data"


def test_recv_at_eof_returns_empty_bytes(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.close()
    assert ks.recv(10) == b""


def test_recv_never_returns_more_than_bufsize(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"0123456789")
    assert ks.recv(4) == b"0123"
    assert usock.recv_exact(ks, 6) == b"456789"


def test_send_returns_count_and_data_arrives(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    n = ks.send(b"some data")
    assert isinstance(n, int) and 0 < n <= 9
    assert peers.read_exact(ref, n) == b"some data"[:n]


def test_sendall_returns_after_everything_is_queued(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    payload = bytes(range(256)) * 1024
    ks.sendall(payload)
    assert peers.read_exact(ref, len(payload)) == payload


@pytest.mark.parametrize("kind", ["ipv4", "ipv6", "unix"])
def test_sendto_and_recvfrom_with_tuple_addresses(peers, usock, kind):
    s = peers.track(usock.socket(usock.family(kind), usocket.SOCK_DGRAM))
    s.bind(peers.bind_address(kind))
    ref, ref_addr = peers.ref_dgram(kind)
    assert s.sendto(b"ping", ref_addr) == 4
    data, sender = ref.recvfrom(10)
    assert data == b"ping"
    ref.sendto(b"pong", sender)
    data, sender2 = s.recvfrom(10)
    assert type(data) is bytes and data == b"pong"
    if kind == "unix":
        assert sender2 in (ref_addr, os.fsencode(ref_addr))
    else:
        assert tuple(sender2)[:2] == ref.getsockname()[:2]
        if kind == "ipv6":
            assert len(tuple(sender2)) == 4


# ------------------------------------------------------------------------------------------
# bind / listen / accept / connect / names / shutdown
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backlog", [None, 0, 3, -5])
def test_listen_backlog_optional_and_negative_is_clamped_to_zero(peers, usock, backlog):
    ls = peers.track(usocket.socket())
    ls.bind(("127.0.0.1", 0))
    if backlog is None:
        ls.listen()
        assert peers.listen_backlog(ls) > 0  # "a default reasonable value"
    else:
        ls.listen(backlog)
        assert peers.listen_backlog(ls) == max(backlog, 0)
    client = peers.ref_connect("ipv4", tuple(ls.getsockname()))
    conn, addr = ls.accept()
    peers.track(conn)
    assert isinstance(conn, usocket.socket)
    assert tuple(addr) == client.getsockname()


def test_ipv6_four_tuple_address_is_accepted(peers, usock):
    lsock, (ip, port) = peers.ref_listener("ipv6")
    s = peers.track(usocket.socket(usocket.AF_INET6))
    s.connect((ip, port, 0, 0))
    ref, _ = lsock.accept()
    peers.track(ref).settimeout(5)
    assert tuple(s.getpeername()) == (ip, port, 0, 0)


@pytest.mark.parametrize("kind", ["ipv4", "ipv6"])
def test_getsockname_getpeername(peers, usock, kind):
    ks, ref = peers.stream_pair(usock, kind)
    assert tuple(ks.getpeername()) == ref.getsockname()
    assert tuple(ks.getsockname()) == ref.getpeername()
    if kind == "ipv6":
        assert len(tuple(ks.getsockname())) == 4


def test_connect_refused_is_oserror_with_errno_in_args0(peers, usock):
    holder = peers.ref_socket("ipv4")
    holder.bind(("127.0.0.1", 0))
    s = peers.track(usock.socket())
    with pytest.raises(OSError) as info:
        s.connect(holder.getsockname())
    assert info.value.args[0] == errno.ECONNREFUSED


def test_bind_twice_is_an_oserror(peers, usock):
    s = peers.track(usock.socket())
    s.bind(("127.0.0.1", 0))
    with pytest.raises(OSError) as info:
        s.bind(("127.0.0.1", 0))
    assert info.value.args[0] == errno.EINVAL


def test_shutdown_wr_gives_peer_eof(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.write(b"bye")
    ks.shutdown(std.SHUT_WR)
    assert peers.read_to_eof(ref) == b"bye"


def test_close_gives_peer_eof_and_twice_is_fine(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.close()
    ks.close()
    assert ref.recv(10) == b""


# ------------------------------------------------------------------------------------------
# Timeouts in seconds, non-blocking mode
# ------------------------------------------------------------------------------------------
def test_settimeout_float_seconds_raises_oserror_etimedout(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.settimeout(0.2)
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        ks.recv(10)
    assert 0.19 <= time.monotonic() - start < 2.0
    assert info.value.args[0] == errno.ETIMEDOUT
    assert isinstance(info.value, TimeoutError)


def test_read_timeout_keeps_partial_data(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.settimeout(0.2)
    ref.sendall(b"par")
    with pytest.raises(OSError) as info:
        ks.read(6)
    assert info.value.args[0] == errno.ETIMEDOUT
    ref.sendall(b"tial")
    assert ks.read(7) == b"partial"


@pytest.mark.parametrize("make_nonblocking", ["settimeout0", "setblocking"])
def test_nonblocking_recv_with_nothing_is_eagain(peers, usock, make_nonblocking):
    ks, ref = peers.stream_pair(usock, "ipv4")
    if make_nonblocking == "settimeout0":
        ks.settimeout(0)
    else:
        ks.setblocking(False)
    with pytest.raises(OSError) as info:
        ks.recv(10)
    assert info.value.args[0] == errno.EAGAIN


def test_setblocking_true_is_settimeout_none(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.settimeout(0.05)
    ks.setblocking(True)
    peers.background(lambda: ref.sendall(b"late"), delay=0.25)
    assert ks.recv(4) == b"late"  # would have timed out after 50 ms if still timed


def test_accept_timeout(peers, usock):
    ls, _ = peers.kiln_listener(usock, "ipv4")
    ls.settimeout(0.2)
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        ls.accept()
    assert info.value.args[0] == errno.ETIMEDOUT
    assert 0.19 <= time.monotonic() - start < 2.0


def test_nonblocking_accept_with_no_client_is_eagain(peers, usock):
    ls, _ = peers.kiln_listener(usock, "ipv4")
    ls.setblocking(False)
    with pytest.raises(OSError) as info:
        ls.accept()
    assert info.value.args[0] == errno.EAGAIN


# ------------------------------------------------------------------------------------------
# Stream interface: read / readinto / readline / write / makefile
# ------------------------------------------------------------------------------------------
def test_read_size_has_no_short_reads(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"abc")
    peers.background(lambda: ref.sendall(b"defgh"), delay=0.2)
    start = time.monotonic()
    data = ks.read(8)
    assert type(data) is bytes and data == b"abcdefgh"
    assert time.monotonic() - start >= 0.15


def test_read_without_size_reads_until_eof(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    payload = os.urandom(300_000)

    def send_and_close():
        ref.sendall(payload)
        ref.shutdown(std.SHUT_WR)

    peers.background(send_and_close, delay=0.05)
    assert ks.read() == payload


def test_read_size_short_only_at_eof(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"xyz")
    ref.shutdown(std.SHUT_WR)
    assert ks.read(10) == b"xyz"
    assert ks.read(10) == b""


def test_nonblocking_read_returns_available_or_none(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.setblocking(False)
    assert ks.read(10) is None
    ref.sendall(b"some")
    wait_readable(ks)
    assert ks.read(10) == b"some"


def test_readinto_has_no_short_reads(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"12")
    peers.background(lambda: ref.sendall(b"3456"), delay=0.2)
    buf = bytearray(6)
    assert ks.readinto(buf) == 6
    assert buf == bytearray(b"123456")


def test_readinto_nbytes_limits_the_read(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"abcdef")
    buf = bytearray(b"------")
    assert ks.readinto(buf, 4) == 4
    assert buf == bytearray(b"abcd--")
    assert ks.readinto(memoryview(buf)[4:]) == 2
    assert buf == bytearray(b"abcdef")


def test_readinto_counts_bytes_not_items(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    payload = struct.pack("=4i", 7, -8, 9, 100000)
    ref.sendall(payload)
    arr = array.array("i", [0, 0, 0, 0])
    assert ks.readinto(arr) == 16
    assert arr.tolist() == [7, -8, 9, 100000]


def test_nonblocking_readinto_returns_count_or_none(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.setblocking(False)
    buf = bytearray(10)
    assert ks.readinto(buf) is None
    ref.sendall(b"abc")
    wait_readable(ks)
    assert ks.readinto(buf) == 3 and buf[:3] == bytearray(b"abc")


def test_readline_returns_lines_and_does_not_overread(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"first\nsecond\nrest")
    assert ks.readline() == b"first\n"
    assert ks.read(7) == b"second\n"
    ref.sendall(b" of it")
    ref.shutdown(std.SHUT_WR)
    assert ks.readline() == b"rest of it"
    assert ks.readline() == b""


def test_readline_waits_for_the_newline(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"hal")
    peers.background(lambda: ref.sendall(b"f\nnext"), delay=0.2)
    assert ks.readline() == b"half\n"
    assert ks.recv(4) == b"next"


def test_write_blocking_has_no_short_writes(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    payload = os.urandom(4 << 20)
    reader = peers.background(lambda: peers.read_exact(ref, len(payload)))
    assert ks.write(payload) == len(payload)
    assert reader.result() == payload


def test_write_nonblocking_is_short_then_none_when_buffer_full(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.setblocking(False)
    chunk = bytes(1 << 20)
    results = []
    for _ in range(256):  # loopback buffers hold a few MiB at most
        n = ks.write(chunk)
        results.append(n)
        if n is None:
            break
    assert results[-1] is None, "non-blocking write never reported a full buffer"
    written = [n for n in results if n is not None]
    assert written and all(0 < n <= len(chunk) for n in written)
    ks.setblocking(True)
    ks.shutdown(std.SHUT_WR)
    ref.settimeout(10)
    assert len(peers.read_to_eof(ref)) == sum(written)


@pytest.mark.parametrize("mode", ["rb", "wb", "rwb"])
def test_makefile_stream_reads_writes_and_closes_socket(peers, usock, mode):
    ks, ref = peers.stream_pair(usock, "ipv4")
    before = os.listdir("/proc/self/fd")
    f = ks.makefile(mode)
    if "r" in mode:
        ref.sendall(b"via file\n")
        assert f.readline() == b"via file\n"
    if "w" in mode:
        f.write(b"out")
        assert peers.read_exact(ref, 3) == b"out"
    f.close()
    assert ref.recv(10) == b""  # closing the file closed the socket: peer sees EOF
    assert len(os.listdir("/proc/self/fd")) <= len(before) - 1
    with pytest.raises(OSError) as info:
        ks.send(b"x")
    assert info.value.args[0] == errno.EBADF


def test_makefile_buffering_argument_is_ignored(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    f = ks.makefile("rwb", 4096)
    f.write(b"unbuffered")  # must reach the peer without any flush()
    assert peers.read_exact(ref, 10) == b"unbuffered"
    f.close()


def test_context_manager_closes(peers, usock):
    lsock, addr = peers.ref_listener("ipv4")
    with usocket.socket() as s:
        s.connect(addr)
        ref, _ = lsock.accept()
        peers.track(ref).settimeout(5)
    assert ref.recv(1) == b""


# ------------------------------------------------------------------------------------------
# setsockopt: int or buffer value
# ------------------------------------------------------------------------------------------
def test_setsockopt_int_value_reaches_the_kernel():
    with usocket.socket() as s:
        s.setsockopt(usocket.SOL_SOCKET, usocket.SO_REUSEADDR, 1)
        s.setsockopt(usocket.SOL_SOCKET, usocket.SO_KEEPALIVE, 1)
        with kernel_view(s) as view:
            assert view.getsockopt(std.SOL_SOCKET, std.SO_REUSEADDR) == 1
            assert view.getsockopt(std.SOL_SOCKET, std.SO_KEEPALIVE) == 1


def test_setsockopt_buffer_value_reaches_the_kernel():
    with usocket.socket() as s:
        s.setsockopt(usocket.SOL_SOCKET, std.SO_LINGER, struct.pack("ii", 1, 9))
        s.setsockopt(usocket.SOL_SOCKET, usocket.SO_BROADCAST, struct.pack("i", 1))
        with kernel_view(s) as view:
            onoff, secs = struct.unpack("ii", view.getsockopt(std.SOL_SOCKET, std.SO_LINGER, 8))
            assert onoff != 0 and secs == 9
            assert view.getsockopt(std.SOL_SOCKET, std.SO_BROADCAST) == 1


# ------------------------------------------------------------------------------------------
# getaddrinfo and its opaque sockaddr
# ------------------------------------------------------------------------------------------
def test_getaddrinfo_numeric_ipv4_returns_5_tuples(peers):
    lsock, (ip, port) = peers.ref_listener("ipv4")
    infos = usocket.getaddrinfo("127.0.0.1", port)
    assert isinstance(infos, list) and infos
    for info in infos:
        assert len(info) == 5
        family, type_, proto, canonname, sockaddr = info
        assert family == usocket.AF_INET
        assert type_ in (usocket.SOCK_STREAM, usocket.SOCK_DGRAM, std.SOCK_RAW)
        assert isinstance(proto, int) and isinstance(canonname, str)
    stream = [info for info in infos if info[1] == usocket.SOCK_STREAM]
    assert stream, "no SOCK_STREAM entry without a type filter"
    with usocket.socket() as s:  # the opaque sockaddr names 127.0.0.1:port
        s.connect(stream[0][-1])
        assert tuple(s.getpeername()) == ("127.0.0.1", port)
    conn, _ = lsock.accept()
    conn.close()


def test_getaddrinfo_type_filter_and_sockaddr_connects(peers, usock):
    lsock, (ip, port) = peers.ref_listener("ipv4")
    infos = usocket.getaddrinfo("127.0.0.1", port, 0, usocket.SOCK_STREAM)
    assert infos and all(info[1] == usocket.SOCK_STREAM for info in infos)
    s = peers.track(usocket.socket())
    s.connect(infos[0][-1])
    ref, _ = lsock.accept()
    peers.track(ref).settimeout(5)
    s.sendall(b"via sockaddr")
    assert peers.read_exact(ref, 12) == b"via sockaddr"


def test_getaddrinfo_proto_filter():
    infos = usocket.getaddrinfo("127.0.0.1", 53, 0, 0, usocket.IPPROTO_UDP)
    assert infos
    assert all(info[2] == usocket.IPPROTO_UDP and info[1] == usocket.SOCK_DGRAM
               for info in infos)


def test_getaddrinfo_ipv6_sockaddr_binds_and_sendto(peers, usock):
    ref, (ip, port) = peers.ref_dgram("ipv6")
    infos = usocket.getaddrinfo("::1", port, usocket.AF_INET6, usocket.SOCK_DGRAM)
    assert infos and all(info[0] == usocket.AF_INET6 for info in infos)
    target = infos[0][-1]
    s = peers.track(usocket.socket(usocket.AF_INET6, usocket.SOCK_DGRAM))
    local = usocket.getaddrinfo("::1", 0, usocket.AF_INET6, usocket.SOCK_DGRAM)[0][-1]
    s.bind(local)
    assert s.sendto(b"six", target) == 3
    data, sender = ref.recvfrom(10)
    assert data == b"six" and sender[:2] == tuple(s.getsockname())[:2]


def test_getaddrinfo_failure_is_oserror_with_negative_eai_code():
    with pytest.raises(OSError) as info:
        usocket.getaddrinfo("not-a-number", 80, 0, 0, 0, std.AI_NUMERICHOST)  # no DNS involved
    assert info.value.args[0] == std.EAI_NONAME
    assert info.value.args[0] < 0


# ------------------------------------------------------------------------------------------
# inet_pton / inet_ntop
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("af,text", [
    ("AF_INET", "1.2.3.4"), ("AF_INET", "127.0.0.1"), ("AF_INET", "255.255.255.255"),
    ("AF_INET6", "::1"), ("AF_INET6", "2001:db8::8:800:200c:417a"), ("AF_INET6", "::ffff:1.2.3.4"),
])
def test_inet_pton_ntop_match_the_c_library(af, text):
    family = getattr(usocket, af)
    packed = usocket.inet_pton(family, text)
    assert type(packed) is bytes and packed == std.inet_pton(family, text)
    assert usocket.inet_ntop(family, packed) == std.inet_ntop(family, packed)


def test_inet_seed_examples():
    assert usocket.inet_ntop(usocket.AF_INET, b"\x7f\0\0\1") == "127.0.0.1"
    assert usocket.inet_pton(usocket.AF_INET, "1.2.3.4") == b"\x01\x02\x03\x04"
