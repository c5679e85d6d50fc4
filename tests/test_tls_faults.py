"""TLS fault suite: every read path of both faces over TLS keeps the plain socket's rules.

The peer is a CPython TLS server driven through ``ssl.MemoryBIO`` (``tls_peers.RecordPeer``), so
the test controls the record boundaries: it sends a patterned prefix as whole records plus *half*
of the next record, injects a fault while the read under test is blocked (``socket_faults``
watches the kernel to know when), then sends the rest and reads on with the same call.  Nothing
the read already took may be lost or duplicated (the held-bytes rule, docs/sockets.md); OpenSSL
keeps the half record.  Faults: a timeout mid-record, a reset mid-stream, truncation without
close_notify (end of stream, as CPython's and MicroPython's default), a raising signal handler
on a blocking and on a timeout socket.

Also: a reset and a timeout in the middle of the handshake, non-blocking reads while a record is
incomplete, ``pending()`` counting the bytes OpenSSL decrypted (``SSL_pending``) that a poll on
the fd cannot see, and a hostile peer sending malformed records and handshake messages (a clean
OSError subclass, no crash, no hang, no descriptor left open).
"""
from __future__ import annotations

import errno
import os
import select
import socket as std
import struct
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from socket_faults import interrupt_main, pattern, reset, wait_until_blocked_in_read
from tls_peers import RecordPeer, cpython_server_context, kiln_client

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")

BIG = 65536        # what a filling read asks for: more than the prefix
PREFIX = 40000     # three TLS records (16 KiB of plaintext each at most), less than BIG


class HandlerError(Exception):
    """Raised by the test's SIGUSR1 handler inside the read under test."""


@dataclass(frozen=True)
class ReadPath:
    face: str
    name: str
    read: Callable[[Any], bytes]
    line: bool = False


def _into(call: Callable[[bytearray], int]) -> bytes:
    buf = bytearray(BIG)
    n = call(buf)
    return bytes(buf[:n])


PATHS = [
    ReadPath("zerynth", "recv(n)-waits-for-n", lambda s: bytes(s.recv(BIG))),
    ReadPath("zerynth", "recv_into", lambda s: _into(s.recv_into)),
    ReadPath("zerynth", "recvfrom", lambda s: bytes(s.recvfrom(BIG)[0])),
    ReadPath("usocket", "recv", lambda s: s.recv(BIG)),
    ReadPath("usocket", "recv_into", lambda s: _into(s.recv_into)),
    ReadPath("usocket", "read", lambda s: s.read()),
    ReadPath("usocket", "read(n)", lambda s: s.read(BIG)),
    ReadPath("usocket", "readinto", lambda s: _into(s.readinto)),
    ReadPath("usocket", "readline", lambda s: s.readline(), line=True),
]
FAULTS = ["timeout-mid-record", "reset-mid-stream", "truncation-without-close-notify",
          "signal-blocking", "signal-timeout"]
EXPECTED = {"timeout-mid-record": TimeoutError, "reset-mid-stream": ConnectionResetError,
            "truncation-without-close-notify": type(None),
            "signal-blocking": HandlerError, "signal-timeout": HandlerError}


def tls_pair(face: str, pki, peers, version: str | None = None) -> tuple[Any, std.socket,
                                                                          RecordPeer]:
    """A Kiln TLS client of ``face`` connected to a :class:`RecordPeer` server; returns
    ``(kiln, raw peer socket, peer)``."""
    lsock, address = peers.ref_listener("ipv4")
    context = cpython_server_context(pki, version=version)

    def serve():
        conn, _ = lsock.accept()
        conn.settimeout(10)
        peer = RecordPeer(conn, context)
        try:
            peer.handshake()
        except BaseException:
            conn.close()
            raise
        return conn, peer

    lsock.settimeout(10)
    handle = peers.background(serve, name="record-peer")
    ks = peers.track(kiln_client(face, address, pki))
    conn, peer = handle.result()
    peers.track(conn)
    return ks, conn, peer


def read_until_fault_or_eof(path: ReadPath, sock: Any) -> tuple[bytes, BaseException | None]:
    got = bytearray()
    while True:
        try:
            chunk = path.read(sock)
        except (OSError, HandlerError) as exc:
            return bytes(got), exc
        assert chunk is not None, "a blocking read returned None"
        if not chunk:
            return bytes(got), None
        got += chunk


def _settimeout(sock: Any, face: str, seconds: float | None) -> None:
    if seconds is None or face == "usocket":
        sock.settimeout(seconds)
    else:
        sock.settimeout(int(seconds * 1000))


def _params():
    for path in PATHS:
        for fault in FAULTS:
            yield pytest.param(path, fault, id=f"{path.face}-{path.name}-{fault}")


@pytest.mark.parametrize("path,fault", list(_params()))
def test_bytes_taken_before_a_fault_come_back_first(path, fault, pki, peers, signals):
    ks, ref, peer = tls_pair(path.face, pki, peers)
    if path.line:
        first, rest = b"abc" + pattern(PREFIX, 1).replace(b"\n", b"."), b"def\n"
    else:
        first, rest = pattern(PREFIX, 1), pattern(3000, 2)
    first_records, rest_records = peer.records(first), peer.records(rest)
    half = len(rest_records) // 2              # inside rest's (only) record
    assert len(rest) < 16384

    if fault in ("timeout-mid-record", "signal-timeout"):
        _settimeout(ks, path.face, 0.3 if fault == "timeout-mid-record" else 30.0)
    if fault.startswith("signal"):
        def handler(signum, frame):
            raise HandlerError("raised by the signal handler")
        signals.install(handler)
        peers.background(lambda: (wait_until_blocked_in_read(ks.fileno()), interrupt_main()),
                         name="interrupter")
    elif fault == "reset-mid-stream":
        peers.background(lambda: (wait_until_blocked_in_read(ks.fileno()), reset(ref)),
                         name="resetter")

    ref.sendall(first_records + rest_records[:half])
    if fault == "truncation-without-close-notify":
        ref.shutdown(std.SHUT_WR)                  # a FIN, no close_notify, half a record
    before, exc = read_until_fault_or_eof(path, ks)
    assert isinstance(exc, EXPECTED[fault]), f"expected {EXPECTED[fault].__name__}, got {exc!r}"

    expected = first
    if fault in ("timeout-mid-record", "signal-blocking", "signal-timeout"):
        _settimeout(ks, path.face, None)
        ref.sendall(rest_records[half:] + peer.close_notify())
        ref.shutdown(std.SHUT_WR)
        expected = first + rest
    after, exc = read_until_fault_or_eof(path, ks)
    assert exc is None, f"reading on after the {fault} raised {exc!r}"
    total = before + after
    assert len(total) == len(expected), (
        f"{len(expected) - len(total)} bytes lost ({len(before)} read before the {fault}, "
        f"{len(after)} after)")
    assert total == expected, "bytes came back out of order or altered"


# ---- the handshake cut short --------------------------------------------------------------------
def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _client_hello_then(peers, action: Callable[[std.socket], None]):
    """A raw server that reads the ClientHello and then does ``action(conn)``; its address."""
    lsock, address = peers.ref_listener("ipv4")
    lsock.settimeout(10)

    def serve():
        conn, _ = lsock.accept()
        with conn:
            conn.settimeout(10)
            head = conn.recv(5, std.MSG_WAITALL)
            assert head[:1] == b"\x16", "no TLS handshake record from Kiln"
            conn.recv(struct.unpack("!H", head[3:5])[0], std.MSG_WAITALL)
            action(conn)
    return peers.background(serve, name="raw-tls-server"), address


@pytest.mark.parametrize("face", ["usocket", "zerynth"])
@pytest.mark.parametrize("when", ["before-server-hello", "inside-server-flight"])
def test_peer_reset_mid_handshake_is_a_clean_oserror(face, when, pki, peers, tls_servers):
    """The peer resets during the handshake: an OSError (ConnectionResetError, or the
    handshake error naming the early close), no hang, and the Kiln socket's descriptor closed
    (the MicroPython face never returns the half-made TLS socket)."""
    if when == "inside-server-flight":
        # A real server flight from a RecordPeer, cut in the middle, then a reset.
        lsock, address = peers.ref_listener("ipv4")
        lsock.settimeout(10)

        def serve():
            conn, _ = lsock.accept()
            conn.settimeout(10)
            peer = RecordPeer(conn, cpython_server_context(pki))
            peer._pull()
            try:
                peer.obj.do_handshake()
            except Exception:  # noqa: BLE001 - wants the client's next flight
                pass
            flight = peer.outgoing.read()
            conn.sendall(flight[:len(flight) // 2])
            time.sleep(0.2)
            reset(conn)
        handle = peers.background(serve, name="resetting-server")
    else:
        handle, address = _client_hello_then(peers, reset)
    before = _fds()
    with pytest.raises(OSError) as info:
        s = kiln_client(face, address, pki)
        s.close()
    handle.result()
    assert isinstance(info.value, (ConnectionResetError, ConnectionAbortedError)), info.value
    assert _fds() == before, "the failed TLS socket's descriptor is still open"


@pytest.mark.parametrize("face", ["usocket", "zerynth"])
def test_handshake_timeout_is_bounded_and_closes_the_wrapped_socket(face, pki, peers):
    """A server that never answers the ClientHello: the socket's timeout bounds the whole
    handshake (TimeoutError), the descriptor of a TLS socket the app never got is closed."""
    import usocket
    from kiln.net import utls, zssl
    gate = []
    handle, address = _client_hello_then(peers, lambda conn: gate.append(conn.recv(1)))
    before = _fds()
    start = time.monotonic()
    if face == "usocket":
        ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=pki.ca)
        raw = usocket.socket()
        raw.settimeout(0.5)
        raw.connect(address)
        with pytest.raises(TimeoutError):
            ctx.wrap_socket(raw, server_hostname="localhost")
        assert raw.fileno() == -1, "wrap_socket consumed the socket"
    else:
        ctx = zssl.create_ssl_context(cacert=pki.pem("root"), hostname="localhost",
                                      options=zssl.CERT_REQUIRED | zssl.SERVER_AUTH)
        s = zssl.sslsocket(ctx=ctx)
        s.settimeout(500)
        with pytest.raises(TimeoutError):
            s.connect(address)
        s.close()       # the app's own socket object: it closes it
    elapsed = time.monotonic() - start
    handle.result()
    assert 0.4 < elapsed < 5, elapsed
    assert _fds() == before, "descriptor left open after the handshake timed out"


# ---- non-blocking reads, pending bytes -----------------------------------------------------------
@pytest.mark.parametrize("face", ["usocket", "zerynth"])
def test_non_blocking_reads_while_a_record_is_incomplete(face, pki, peers):
    """Half a record: a non-blocking read has nothing to give (usocket: recv raises EAGAIN,
    read/readline return None; Zerynth: BlockingIOError) -- and loses nothing; once the rest
    arrives the socket polls readable and the whole record comes out."""
    ks, ref, peer = tls_pair(face, pki, peers)
    data = pattern(5000, 3) + b"\n"
    records = peer.records(data)
    ks.setblocking(False)
    ref.sendall(records[:len(records) // 2])
    wait_for_queued(ks, len(records) // 2)
    for _ in range(3):
        with pytest.raises(BlockingIOError) as info:
            ks.recv(100)
        assert info.value.errno == errno.EAGAIN
        if face == "usocket":
            assert ks.read() is None and ks.read(10) is None and ks.readline() is None
            assert ks.readinto(bytearray(10)) is None
        else:
            with pytest.raises(BlockingIOError):
                ks.recv_into(bytearray(10))
    assert ks.pending() == 0, "no decrypted byte yet"
    ref.sendall(records[len(records) // 2:])
    poller = select.poll()
    poller.register(ks.fileno(), select.POLLIN)
    assert poller.poll(5000), "the rest of the record arrived: the fd polls readable"
    got = bytearray()
    while len(got) < len(data):
        chunk = ks.readline() if face == "usocket" else ks.recv(len(data) - len(got))
        got += chunk
    assert got == data


def wait_for_queued(ks, sent: int) -> None:
    """Wait until at least ``sent`` bytes are in ``ks``'s kernel receive queue (the server's
    session tickets may come before them)."""
    from socket_faults import queued_bytes
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if queued_bytes(ks.fileno()) >= sent:
            return
        time.sleep(0.01)
    raise AssertionError("the half record never reached the socket")


@pytest.mark.parametrize("face", ["usocket", "zerynth"])
def test_pending_counts_bytes_openssl_decrypted(face, pki, peers):
    """A read of 10 bytes from a 1,000-byte record leaves 990 decrypted bytes inside OpenSSL:
    the kernel queue is empty, so a poll on the fd says "not readable" -- ``pending()`` is what
    tells a poll/select layer the socket is readable, and a non-blocking read returns them."""
    ks, ref, peer = tls_pair(face, pki, peers)
    data = pattern(1000, 4)
    ref.sendall(peer.records(data))
    first = ks.recv(10)
    assert bytes(first) == data[:10]
    assert ks.pending() == 990
    poller = select.poll()
    poller.register(ks.fileno(), select.POLLIN)
    assert poller.poll(0) == [], "the record was read whole: the kernel queue is empty"
    ks.setblocking(False)
    rest = ks.recv(990)
    assert bytes(rest) == data[10:] and ks.pending() == 0
    # Bytes held after a timeout count as well (the held-bytes rule), with SSL_pending's.
    _settimeout(ks, face, 0.2)
    ref.sendall(peer.records(data[:600]))
    if face == "zerynth":
        with pytest.raises(TimeoutError):
            ks.recv(1000)                       # took 600, waited for 400 more: held
        assert ks.pending() == 600
    ks.close()
    assert ks.pending() == 0


# ---- a hostile peer ----------------------------------------------------------------------------
def _record(content_type: int, body: bytes, version: bytes = b"\x03\x03",
            length: int | None = None) -> bytes:
    return bytes([content_type]) + version + struct.pack("!H", len(body) if length is None
                                                         else length) + body


def _handshake_msg(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


HOSTILE_SERVERS = {
    # What the server answers to Kiln's ClientHello.
    "garbage-bytes": os.urandom(64).replace(b"\x16", b"\x00") + b"\r\n",
    "http-response": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    "truncated-record-header": b"\x16\x03\x03",
    "oversized-record-length": _record(22, b"\x02" * 64, length=0xFFFF),
    "record-length-beyond-limit": _record(22, b"\x02" * 64, length=18500),
    "zero-length-handshake-record": _record(22, b""),
    "bad-record-version": _record(22, _handshake_msg(2, b"\x00" * 40), version=b"\x7f\x7f"),
    "unknown-content-type": _record(99, b"\x01\x02\x03\x04"),
    "server-hello-bad-length": _record(22, b"\x02\xff\xff\xff" + b"\x03\x03" + b"\x00" * 34),
    "server-hello-garbage-body": _record(22, _handshake_msg(2, os.urandom(60))),
    "server-hello-wrong-version": _record(22, _handshake_msg(
        2, b"\x02\x00" + b"\x11" * 32 + b"\x00" + b"\x13\x01" + b"\x00" + b"\x00\x00")),
    "client-hello-from-server": _record(22, _handshake_msg(1, b"\x03\x03" + b"\x00" * 40)),
    "finished-first": _record(22, _handshake_msg(20, b"\x00" * 32)),
    "alert-decode-error": _record(21, b"\x02\x32"),
    "app-data-before-handshake": _record(23, b"hello, I am not TLS"),
    "huge-handshake-message": _record(22, b"\x0b\xff\xff\xff" + b"\x00" * 100),
}


@pytest.mark.parametrize("face", ["usocket", "zerynth"])
@pytest.mark.parametrize("close_after", [True, False], ids=["then-close", "then-silence"])
@pytest.mark.parametrize("answer", list(HOSTILE_SERVERS))
def test_hostile_server_during_the_handshake(face, answer, close_after, pki, peers):
    """Malformed records and handshake messages: an OSError subclass naming a TLS failure (the
    handshake error) within the timeout, never a crash or a hang; the descriptor closed."""
    from kiln.net import tls
    release = []

    def act(conn):
        conn.sendall(HOSTILE_SERVERS[answer])
        if not close_after:
            for _ in range(100):               # keep the connection open, silent, for ~1 s
                if release:
                    break
                time.sleep(0.01)
    handle, address = _client_hello_then(peers, act)
    before = _fds()
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        _hostile_client(face, address, pki, timeout=0.5).close()
    release.append(True)
    handle.result()
    exc = info.value
    assert time.monotonic() - start < 5
    if close_after or not isinstance(exc, TimeoutError):
        assert isinstance(exc, tls.TLSHandshakeError), repr(exc)
        assert str(exc).startswith("[Errno 103] TLS handshake failed: ") and len(str(exc)) > 40
    # then-silence with an incomplete record: the timeout is the honest answer.
    assert _fds() == before, "descriptor left open"


def _hostile_client(face: str, address, pki, timeout: float):
    import usocket
    from kiln.net import utls, zssl
    if face == "usocket":
        ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=pki.ca)
        raw = usocket.socket()
        raw.settimeout(timeout)
        try:
            raw.connect(address)
            return ctx.wrap_socket(raw, server_hostname="localhost")
        finally:
            raw.close()
    ctx = zssl.create_ssl_context(cacert=pki.pem("root"), hostname="localhost",
                                  options=zssl.CERT_REQUIRED | zssl.SERVER_AUTH)
    s = zssl.sslsocket(ctx=ctx)
    s.settimeout(int(timeout * 1000))
    try:
        s.connect(address)
    except BaseException:
        s.close()
        raise
    return s


HOSTILE_RECORDS = {
    # What the peer sends after a good handshake, in place of application data.
    "garbage-app-record": lambda peer: _record(23, os.urandom(100)),
    "flipped-ciphertext-bit": lambda peer: _flip(peer.records(b"x" * 100), 30),
    "record-overflow": lambda peer: _record(23, os.urandom(18000)),
    "handshake-type-after-handshake": lambda peer: _record(22, b"\x00" * 50),
    "plaintext-alert-after-handshake": lambda peer: _record(21, b"\x02\x28"),
    "ccs-after-handshake": lambda peer: _record(20, b"\x01"),
    "version-garbage": lambda peer: _record(23, os.urandom(40), version=b"\x01\x01"),
}


def _flip(data: bytes, index: int) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize("face", ["usocket", "zerynth"])
@pytest.mark.parametrize("bad", list(HOSTILE_RECORDS))
def test_hostile_records_after_the_handshake(face, bad, pki, peers):
    """A bad record where application data should be: SSLError (an OSError, errno EPROTO)
    naming the failure; what came before it is delivered first; afterwards the socket closes
    cleanly (no close_notify is attempted on a broken connection)."""
    from kiln.net import tls
    ks, ref, peer = tls_pair(face, pki, peers)
    good = b"good bytes first\n"
    ref.sendall(peer.records(good))
    assert (ks.readline() if face == "usocket" else bytes(ks.recv(len(good)))) == good
    _settimeout(ks, face, 5)
    ref.sendall(HOSTILE_RECORDS[bad](peer))
    with pytest.raises(tls.SSLError) as info:
        ks.recv(100)
    exc = info.value
    assert exc.errno == errno.EPROTO and str(exc).startswith("[Errno 71] TLS failure: "), exc
    assert not isinstance(exc, tls.TLSHandshakeError)
    ks.close()
