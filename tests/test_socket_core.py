"""Behaviour shared by both faces of the Kiln socket core (``kiln.net.core``).

Run once per face (the ``face`` fixture): garbage collection closes the descriptor, select/poll
through ``fileno()``, the context manager, EINTR handling with Python signal handlers (PEP 475:
handler runs, the call resumes with its deadline recomputed, a handler's exception propagates),
the GIL released during blocking calls, no descriptor leaks, bulk transfers over TCP/IPv6/AF_UNIX,
Kiln-to-Kiln connections and kernel filtering on connected UDP sockets.
"""
from __future__ import annotations

import errno
import gc
import hashlib
import os
import select
import socket as std
import struct
import time
import weakref

import pytest

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")

STREAM_KINDS = ("ipv4", "ipv6", "unix")


def open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


class HandlerError(Exception):
    """Raised by a test's signal handler; must propagate out of the interrupted call."""


# ------------------------------------------------------------------------------------------
# Garbage collection, close, context manager
# ------------------------------------------------------------------------------------------
def test_garbage_collected_socket_closes_its_fd(face):
    gc.collect()
    before = open_fd_count()
    s = face.socket()
    fd = s.fileno()
    ref = weakref.ref(s)
    assert open_fd_count() == before + 1
    del s
    gc.collect()
    assert ref() is None
    assert open_fd_count() == before
    with pytest.raises(OSError) as info:
        os.fstat(fd)
    assert info.value.errno == errno.EBADF


def test_garbage_collected_connection_gives_peer_eof(peers, face):
    lsock, addr = peers.ref_listener("ipv4")
    s = face.socket()
    s.connect(addr)
    ref, _ = lsock.accept()
    peers.track(ref).settimeout(5)
    del s
    gc.collect()
    assert ref.recv(10) == b""


def test_socket_in_reference_cycle_is_closed_by_gc(face):
    gc.collect()
    before = open_fd_count()
    holder = {"sock": face.socket()}
    holder["self"] = holder
    del holder
    gc.collect()
    assert open_fd_count() == before


def test_context_manager_closes_on_exception_and_does_not_swallow_it(face):
    gc.collect()
    before = open_fd_count()
    with pytest.raises(ZeroDivisionError):
        with face.socket() as s:
            assert open_fd_count() == before + 1
            1 / 0
    assert open_fd_count() == before
    with pytest.raises(OSError) as info:
        s.getsockname()
    assert info.value.errno == errno.EBADF


def test_with_returns_the_socket_itself(face):
    s = face.socket()
    with s as entered:
        assert entered is s


# ------------------------------------------------------------------------------------------
# select / poll through fileno()
# ------------------------------------------------------------------------------------------
def test_select_sees_readability_via_fileno_and_object(peers, face):
    ks, ref = peers.stream_pair(face, "ipv4")
    assert select.select([ks.fileno()], [], [], 0) == ([], [], [])
    r, w, _ = select.select([ks], [ks], [], 0)
    assert r == [] and w == [ks]
    ref.sendall(b"wake")
    r, _, _ = select.select([ks], [], [], 5)
    assert r == [ks]
    assert face.recv_exact(ks, 4) == b"wake"


def test_poll_sees_readability_and_hangup(peers, face):
    ks, ref = peers.stream_pair(face, "ipv4")
    poller = select.poll()
    poller.register(ks, select.POLLIN)
    assert poller.poll(0) == []
    ref.sendall(b"x")
    assert poller.poll(5000) == [(ks.fileno(), select.POLLIN)]
    assert face.recv_exact(ks, 1) == b"x"
    poller.unregister(ks)
    poller.register(ks.fileno(), select.POLLIN)
    ref.close()
    events = poller.poll(5000)
    assert events and events[0][0] == ks.fileno() and events[0][1] & select.POLLIN


def test_listening_socket_is_readable_when_a_client_waits(peers, face):
    ls, addr = peers.kiln_listener(face, "ipv4")
    assert select.select([ls], [], [], 0)[0] == []
    peers.ref_connect("ipv4", addr)
    assert select.select([ls], [], [], 5)[0] == [ls]
    conn, _ = ls.accept()
    conn.close()


# ------------------------------------------------------------------------------------------
# EINTR and Python signal handlers (PEP 475)
# ------------------------------------------------------------------------------------------
def test_signal_handler_runs_during_blocking_recv_which_then_continues(peers, face, signals):
    ks, ref = peers.stream_pair(face, "ipv4")
    calls = []
    signals.install(lambda signum, frame: calls.append(time.monotonic()))
    start = time.monotonic()
    signals.send_later([0.1])
    peers.background(lambda: ref.sendall(b"after signal"), delay=0.35)
    data = face.recv_exact(ks, 12)
    elapsed = time.monotonic() - start
    assert data == b"after signal"
    assert len(calls) == 1, "the Python signal handler did not run during the blocking call"
    assert calls[0] - start < 0.3, "the handler only ran after the call returned"
    assert elapsed >= 0.3


def test_signal_handler_exception_propagates_out_of_recv(peers, face, signals):
    ks, ref = peers.stream_pair(face, "ipv4")

    def handler(signum, frame):
        raise HandlerError("from handler")

    signals.install(handler)
    signals.send_later([0.1])
    start = time.monotonic()
    with pytest.raises(HandlerError):
        ks.recv(10)
    assert time.monotonic() - start < 2.0
    signals.join()
    ref.sendall(b"still ok")  # the socket survives the interrupted call
    assert face.recv_exact(ks, 8) == b"still ok"


#: SIGUSR1 every 100 ms for 2 s: a call that restarted its full timeout on each EINTR would not
#: time out before the signals stop (>= 2.5 s); a correct one ends at its deadline.
SIGNAL_STORM = [0.1 * i for i in range(1, 21)]


def test_timeout_deadline_is_not_restarted_by_signals(peers, face, signals):
    ks, ref = peers.stream_pair(face, "ipv4")
    calls = []
    signals.install(lambda signum, frame: calls.append(time.monotonic()))
    face.settimeout(ks, 0.5)
    start = time.monotonic()
    signals.send_later(SIGNAL_STORM)
    with pytest.raises(TimeoutError):
        ks.recv(10)
    elapsed = time.monotonic() - start
    signals.stop()
    assert calls and calls[0] - start < 0.45, "no handler ran during the blocking call"
    assert 0.49 <= elapsed < 1.3


def test_connect_timeout_fires(peers, face):
    _, addr = peers.full_listener()
    s = peers.track(face.socket())
    face.settimeout(s, 0.2)
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        s.connect(addr)
    assert 0.19 <= time.monotonic() - start < 2.0
    assert info.value.args[0] == errno.ETIMEDOUT


def test_signals_during_connect_neither_break_nor_stretch_it(peers, face, signals):
    _, addr = peers.full_listener()
    s = peers.track(face.socket())
    calls = []
    signals.install(lambda signum, frame: calls.append(time.monotonic()))
    face.settimeout(s, 0.5)
    start = time.monotonic()
    signals.send_later(SIGNAL_STORM)
    with pytest.raises(TimeoutError):  # not EALREADY from a naive connect() retry
        s.connect(addr)
    elapsed = time.monotonic() - start
    signals.stop()
    assert calls and calls[0] - start < 0.45, "no handler ran during the blocking connect"
    assert 0.49 <= elapsed < 1.3


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["blocking", "timed"])
def test_connect_interrupted_by_signal_still_completes(peers, face, signals, timeout):
    """EINTR leaves the handshake running: connect must wait for it, not restart it."""
    lsock, addr = peers.full_listener()
    calls = []
    signals.install(lambda signum, frame: calls.append(1))
    signals.send_later([0.1])

    def free_the_queue():
        conn, _ = lsock.accept()  # the kernel retransmits our SYN after ~1 s and accepts it
        peers.track(conn)

    peers.background(free_the_queue, delay=0.2)
    s = peers.track(face.socket())
    face.settimeout(s, timeout)
    start = time.monotonic()
    s.connect(addr)
    assert time.monotonic() - start > 0.2, "connect did not block: the test proves nothing"
    assert tuple(s.getpeername()) == addr
    assert calls == [1]


def test_signal_during_accept_is_retried(peers, face, signals):
    ls, addr = peers.kiln_listener(face, "ipv4")
    calls = []
    signals.install(lambda signum, frame: calls.append(1))
    signals.send_later([0.1])
    peers.background(lambda: peers.ref_connect("ipv4", addr), delay=0.3)
    conn, _ = ls.accept()
    conn.close()
    assert calls == [1]


def test_signal_during_recvfrom_is_retried(peers, face, signals):
    s = peers.track(face.socket(face.module.AF_INET, face.module.SOCK_DGRAM))
    s.bind(("127.0.0.1", 0))
    ref, _ = peers.ref_dgram("ipv4")
    calls = []
    signals.install(lambda signum, frame: calls.append(1))
    signals.send_later([0.1])
    peers.background(lambda: ref.sendto(b"dgram", tuple(s.getsockname())), delay=0.3)
    data, _ = s.recvfrom(100)
    assert bytes(data) == b"dgram" and calls == [1]


def test_signal_during_blocked_sendall_loses_and_duplicates_nothing(peers, face, signals):
    ks, ref = peers.stream_pair(face, "ipv4")
    payload = os.urandom(24 << 20)  # far more than the loopback socket buffers hold
    calls = []
    signals.install(lambda signum, frame: calls.append(time.monotonic()))
    start = time.monotonic()
    signals.send_later([0.1, 0.2])

    def read_all_later():
        time.sleep(0.4)
        data = peers.read_exact(ref, len(payload))
        return hashlib.sha256(data).hexdigest(), len(data)

    reader = peers.background(read_all_later)
    assert ks.sendall(payload) is None
    assert reader.result() == (hashlib.sha256(payload).hexdigest(), len(payload))
    assert calls and calls[0] - start < 0.35, (
        "the signal handler did not run while sendall was blocked (it ran "
        f"{[round(c - start, 3) for c in calls]} s after start; the reader starts at 0.4 s)")
    assert 1 <= len(calls) <= 2  # two signals; the kernel may merge them if both are pending


# ------------------------------------------------------------------------------------------
# The GIL is released while blocked
# ------------------------------------------------------------------------------------------
def test_other_threads_run_while_recv_blocks(peers, face):
    ks, ref = peers.stream_pair(face, "ipv4")
    face.settimeout(ks, 3.0)
    counter = [0]

    def busy_then_send():
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            counter[0] += 1
        ref.sendall(b"done")

    peers.background(busy_then_send)
    try:
        data = face.recv_exact(ks, 4)
    except TimeoutError:
        pytest.fail("recv held the GIL: the sender thread never ran")
    assert data == b"done"
    assert counter[0] > 1000


def test_other_threads_run_while_accept_blocks(peers, face):
    ls, addr = peers.kiln_listener(face, "ipv4")
    face.settimeout(ls, 3.0)
    peers.background(lambda: peers.ref_connect("ipv4", addr), delay=0.1)
    try:
        conn, _ = ls.accept()
    except TimeoutError:
        pytest.fail("accept held the GIL: the connecting thread never ran")
    conn.close()


def test_recv_blocking_in_a_thread_does_not_stall_the_main_thread(peers, face):
    ks, ref = peers.stream_pair(face, "ipv4")
    receiver = peers.background(lambda: face.recv_exact(ks, 5))
    time.sleep(0.05)
    start = time.monotonic()
    spins = 0
    while time.monotonic() - start < 0.2:
        spins += 1
    assert spins > 1000, "main thread starved while another thread was blocked in recv"
    ref.sendall(b"hello")
    assert receiver.result() == b"hello"


def test_full_duplex_send_and_recv_from_two_threads(peers, face):
    ks, ref = peers.stream_pair(face, "ipv4")
    up = os.urandom(4 << 20)
    down = os.urandom(4 << 20)
    ref_reader = peers.background(lambda: peers.read_exact(ref, len(up)))
    ref_writer = peers.background(lambda: ref.sendall(down))
    kiln_writer = peers.background(lambda: ks.sendall(up))
    assert face.recv_exact(ks, len(down)) == down
    kiln_writer.result()
    ref_writer.result()
    assert ref_reader.result() == up


# ------------------------------------------------------------------------------------------
# Bulk data, every stream family, both directions, Kiln on both ends
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_sendall_8mib_arrives_intact(peers, face, kind):
    ks, ref = peers.stream_pair(face, kind)
    payload = os.urandom(8 << 20)
    reader = peers.background(lambda: hashlib.sha256(peers.read_to_eof(ref)).hexdigest())
    assert ks.sendall(payload) is None
    ks.shutdown(std.SHUT_WR)
    assert reader.result() == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_receive_8mib_intact(peers, face, kind):
    ks, ref = peers.stream_pair(face, kind)
    payload = os.urandom(8 << 20)
    peers.background(lambda: ref.sendall(payload))
    assert face.recv_exact(ks, len(payload)) == payload


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_kiln_server_and_kiln_client_talk(peers, face, kind):
    ls, addr = peers.kiln_listener(face, kind)
    client = peers.track(face.socket(face.family(kind), face.module.SOCK_STREAM))
    client.connect(addr)
    conn, _ = ls.accept()
    peers.track(conn)
    client.sendall(b"request")
    assert face.recv_exact(conn, 7) == b"request"
    conn.sendall(b"response")
    assert face.recv_exact(client, 8) == b"response"


def test_send_on_unconnected_stream_socket_is_an_oserror(face):
    with face.socket() as s:
        with pytest.raises(OSError) as info:
            s.send(b"nobody listens")
        assert info.value.args[0] in (errno.ENOTCONN, errno.EPIPE)


def test_send_after_peer_reset_raises_instead_of_killing_the_process(peers, face):
    """SIGPIPE must not terminate the interpreter: a broken pipe is an OSError."""
    ks, ref = peers.stream_pair(face, "ipv4")
    ref.setsockopt(std.SOL_SOCKET, std.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    ref.close()
    face.settimeout(ks, 2.0)
    with pytest.raises(OSError) as info:
        for _ in range(100):
            ks.sendall(b"x" * 65536)
            time.sleep(0.01)
    assert info.value.args[0] in (errno.EPIPE, errno.ECONNRESET)


# ------------------------------------------------------------------------------------------
# Connected UDP: the kernel drops datagrams from other senders
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["ipv4", "ipv6"])
def test_connected_udp_ignores_other_senders(peers, face, kind):
    s = peers.track(face.socket(face.family(kind), face.module.SOCK_DGRAM))
    s.bind(peers.bind_address(kind))
    chosen, chosen_addr = peers.ref_dgram(kind)
    stranger, _ = peers.ref_dgram(kind)
    s.connect(chosen_addr)
    me = tuple(s.getsockname())[:2]
    stranger.sendto(b"from stranger", me)
    chosen.sendto(b"from chosen", me)
    assert bytes(s.recv(100)) == b"from chosen"
    face.settimeout(s, 0.2)
    with pytest.raises(TimeoutError):
        s.recv(100)


def test_unconnected_udp_receives_from_everyone(peers, face):
    s = peers.track(face.socket(face.module.AF_INET, face.module.SOCK_DGRAM))
    s.bind(("127.0.0.1", 0))
    a, _ = peers.ref_dgram("ipv4")
    b, _ = peers.ref_dgram("ipv4")
    a.sendto(b"a", tuple(s.getsockname()))
    b.sendto(b"b", tuple(s.getsockname()))
    got = {bytes(s.recvfrom(10)[0]) for _ in range(2)}
    assert got == {b"a", b"b"}


# ------------------------------------------------------------------------------------------
# Timeouts and non-blocking mode, per face unit
# ------------------------------------------------------------------------------------------
def test_timeout_fires_between_bounds_on_udp(peers, face):
    s = peers.track(face.socket(face.module.AF_INET, face.module.SOCK_DGRAM))
    s.bind(("127.0.0.1", 0))
    face.settimeout(s, 0.2)
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        s.recvfrom(10)
    assert 0.19 <= time.monotonic() - start < 2.0
    assert info.value.args[0] == errno.ETIMEDOUT


def test_nonblocking_recv_is_eagain_immediately(peers, face):
    ks, ref = peers.stream_pair(face, "ipv6")
    face.settimeout(ks, 0)
    start = time.monotonic()
    with pytest.raises(BlockingIOError) as info:
        ks.recv(1)
    assert time.monotonic() - start < 0.5
    assert info.value.args[0] == errno.EAGAIN


def test_nonblocking_send_on_full_buffer_is_eagain(peers, face):
    ks, ref = peers.stream_pair(face, "ipv4")
    face.settimeout(ks, 0)
    chunk = bytes(1 << 20)
    sent = 0
    with pytest.raises(BlockingIOError) as info:
        for _ in range(256):  # loopback socket buffers hold a few MiB at most
            sent += ks.send(chunk)
    assert info.value.args[0] == errno.EAGAIN
    assert sent > 0
    ks.shutdown(std.SHUT_WR)
    assert len(peers.read_to_eof(ref)) == sent  # every byte reported sent was sent, no more


# ------------------------------------------------------------------------------------------
# Sizes: a bufsize far larger than the data, the largest UDP datagram
# ------------------------------------------------------------------------------------------
def test_huge_bufsize_with_little_data_returns_just_the_data(peers, face):
    ks, ref = peers.stream_pair(face, "ipv4")
    ref.sendall(b"tiny")
    ref.shutdown(std.SHUT_WR)
    data = ks.recv(16 << 20)
    assert bytes(data) == b"tiny"


@pytest.mark.parametrize("kind", ["ipv4", "ipv6"])
def test_largest_udp_datagram_round_trips(peers, face, kind):
    s = peers.track(face.socket(face.family(kind), face.module.SOCK_DGRAM))
    s.bind(peers.bind_address(kind))
    ref, ref_addr = peers.ref_dgram(kind)
    payload = os.urandom(65507 if kind == "ipv4" else 65527)
    ref.sendto(payload, tuple(s.getsockname())[:2])
    data, _ = s.recvfrom(65535)
    assert bytes(data) == payload
    assert s.sendto(payload, ref_addr) == len(payload)
    assert ref.recv(65535) == payload


# ------------------------------------------------------------------------------------------
# No descriptor leaks
# ------------------------------------------------------------------------------------------
def test_many_sockets_opened_and_closed_leave_no_fds(face):
    gc.collect()
    before = open_fd_count()
    for _ in range(200):
        face.socket().close()
    for _ in range(50):
        with face.socket(face.module.AF_INET6, face.module.SOCK_DGRAM):
            pass
    assert open_fd_count() == before


def test_failed_connects_leave_no_fds(peers, face):
    holder = peers.ref_socket("ipv4")
    holder.bind(("127.0.0.1", 0))
    gc.collect()
    before = open_fd_count()
    for _ in range(20):
        s = face.socket()
        with pytest.raises(ConnectionRefusedError):
            s.connect(holder.getsockname())
        s.close()
    assert open_fd_count() == before


def test_failed_socket_creation_leaves_no_fds(face):
    gc.collect()
    before = open_fd_count()
    for _ in range(20):
        with pytest.raises(OSError):
            face.module.socket(face.module.AF_INET, face.module.SOCK_STREAM,
                               face.module.IPPROTO_UDP)  # kernel: EPROTONOSUPPORT
    gc.collect()
    assert open_fd_count() == before


def test_accepted_sockets_are_released(peers, face):
    ls, addr = peers.kiln_listener(face, "ipv4")
    clients = [peers.ref_connect("ipv4", addr) for _ in range(5)]
    gc.collect()
    before = open_fd_count()
    for _ in clients:
        conn, _ = ls.accept()
        conn.close()
    assert open_fd_count() == before
