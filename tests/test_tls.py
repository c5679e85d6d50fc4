"""TLS on both socket faces against real peers: CPython's ``ssl`` server and ``openssl s_server``,
with a test PKI made at test time (``tls_pki``).

Verification (valid chain and name, wrong name, expired, unknown CA), client certificates
(required, presented, missing), server-side TLS on the board (CPython as the client), TLS 1.2
and 1.3 forced from either end, kernel TLS on and off with identical bytes (64 MiB each way,
hashed) and ``ktls()`` telling the truth, and 10,000 handshakes with the descriptor count and
the RSS flat.  Each failure must raise the exception the face documents with the cause named.
"""
from __future__ import annotations

import errno
import hashlib
import os
import socket as std
import ssl
import threading
import time

import pytest

from tls_peers import (LOCALHOST, RecordPeer, cpython_client_context, cpython_server_context,
                       kiln_client)

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")

FACES = ("usocket", "zerynth")


def _exchange(sock, face: str, data: bytes, reply_len: int) -> bytes:
    """Send ``data`` and read ``reply_len`` bytes back with the face's own calls."""
    if face == "usocket":
        sock.write(data)
        return sock.read(reply_len)
    sock.sendall(data)
    return bytes(sock.recv(reply_len))


def _peer_cert(sock, face: str) -> bytes:
    return sock.getpeercert(True)


def _version(sock, face: str) -> str:
    """The protocol version from the face's ``cipher()``."""
    info = sock.cipher()
    return info[1] if face == "usocket" else info[2]


# ---- valid chain and name -------------------------------------------------------------------
@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("server_cert", ["server-ec", "server-rsa"])
def test_valid_chain_and_name_against_openssl_s_server(face, server_cert, pki, tls_servers):
    server = tls_servers.openssl(server_cert)
    with kiln_client(face, server.address, pki) as s:
        reply = _exchange(s, face, b"hello kiln\n", 11)
        assert reply == b"nlik olleh\n"
        assert _peer_cert(s, face) == pki.der(server_cert), "getpeercert(True) is the leaf (DER)"
        assert _version(s, face) == "TLSv1.3"
    server.wait()
    assert "CONNECTION ESTABLISHED" in server.stop()


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_valid_chain_and_name_against_cpython(face, hostname, pki, tls_servers):
    """The name is checked as a DNS name or as an IP address (subjectAltName IP)."""
    def handler(tls):
        tls.sendall(tls.recv(100).upper())
    server = tls_servers.cpython(cpython_server_context(pki), handler)
    with kiln_client(face, server.address, pki, hostname=hostname) as s:
        assert _exchange(s, face, b"abc", 3) == b"ABC"
    assert server.join() == [("ok", None)]


# ---- verification failures ----------------------------------------------------------------
def _expect_verify_failure(face, server, pki, cause, **kwargs):
    from kiln.net import tls
    before = _fds()
    with pytest.raises(tls.SSLCertVerificationError) as info:
        kiln_client(face, server.address, pki, **kwargs)
    if hasattr(server, "join"):
        server.join()           # its side of the connection is closed
    exc = info.value
    assert f"({cause})" in str(exc), str(exc)
    # As each face documents: MicroPython raises ValueError, Zerynth ConnectionAbortedError.
    assert isinstance(exc, ValueError) and isinstance(exc, ConnectionAbortedError)
    assert exc.errno == errno.ECONNABORTED and exc.reason == "CERTIFICATE_VERIFY_FAILED"
    assert exc.verify_code != 0 and exc.verify_message
    assert _fds() == before, "the failed socket's descriptor was left open"
    return exc


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("peer", ["cpython", "openssl"])
def test_wrong_name_is_refused_naming_the_mismatch(face, peer, pki, tls_servers):
    server = (tls_servers.cpython(cpython_server_context(pki)) if peer == "cpython"
              else tls_servers.openssl("server-ec"))
    _expect_verify_failure(face, server, pki, "name mismatch", hostname="example.com")


@pytest.mark.parametrize("face", FACES)
def test_wrong_ip_is_refused_naming_the_mismatch(face, pki, tls_servers):
    server = tls_servers.cpython(cpython_server_context(pki))
    exc = _expect_verify_failure(face, server, pki, "name mismatch", hostname="10.1.2.3")
    assert "IP address mismatch" in exc.verify_message


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("peer", ["cpython", "openssl"])
def test_expired_certificate_is_refused_naming_expiry(face, peer, pki, tls_servers):
    server = (tls_servers.cpython(cpython_server_context(pki, "expired-ec")) if peer == "cpython"
              else tls_servers.openssl("expired-ec"))
    _expect_verify_failure(face, server, pki, "expired")


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("peer", ["cpython", "openssl"])
def test_unknown_ca_is_refused_naming_it(face, peer, pki, tls_servers):
    server = (tls_servers.cpython(cpython_server_context(pki, "unknown-ec")) if peer == "cpython"
              else tls_servers.openssl("unknown-ec"))
    _expect_verify_failure(face, server, pki, "unknown CA")


@pytest.mark.parametrize("face", FACES)
def test_trusting_another_ca_refuses_a_valid_server(face, pki, tls_servers):
    server = tls_servers.cpython(cpython_server_context(pki))
    _expect_verify_failure(face, server, pki, "unknown CA", ca="stranger")


@pytest.mark.parametrize("face", FACES)
def test_server_refusing_the_client_alert_is_named(face, pki, tls_servers):
    """The peer's alert is reported as such (here: the server wants TLS 1.3, Kiln offers 1.2)."""
    from kiln.net import tls
    server = tls_servers.openssl("server-ec", ["-tls1_3"])
    with pytest.raises(tls.TLSHandshakeError) as info:
        kiln_client(face, server.address, pki, version="1.2")
    assert "protocol version" in str(info.value), str(info.value)
    assert isinstance(info.value, ConnectionAbortedError)


# ---- client certificates (mutual TLS) -----------------------------------------------------------
@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("cert", ["client-ec", "client-rsa"])
def test_client_certificate_presented_to_cpython(face, version, cert, pki, tls_servers):
    def handler(tls):
        der = tls.getpeercert(binary_form=True)
        tls.sendall(tls.recv(10))
        return der
    server = tls_servers.cpython(cpython_server_context(pki, version=version,
                                                       client_cert="required"), handler)
    with kiln_client(face, server.address, pki, cert=cert) as s:
        assert _exchange(s, face, b"mtls", 4) == b"mtls"
        assert _version(s, face) == f"TLSv{version}"
    assert server.join() == [("ok", pki.der(cert))]


@pytest.mark.parametrize("face", FACES)
def test_client_certificate_presented_to_openssl(face, pki, tls_servers):
    server = tls_servers.openssl("server-ec", ["-Verify", "1", "-CAfile", pki.ca])
    with kiln_client(face, server.address, pki, cert="client-ec") as s:
        assert _exchange(s, face, b"ab\n", 3) == b"ba\n"
    server.wait()
    out = server.stop()
    assert "Peer certificate: CN = kiln-client" in out and "Verification: OK" in out, out


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("peer", ["cpython", "openssl"])
def test_client_certificate_required_but_missing_names_the_cause(face, version, peer, pki,
                                                                  tls_servers):
    """TLS 1.2: the handshake fails with the server's alert.  TLS 1.3: the client finishes its
    handshake before the server checks, so the alert ("certificate required") comes with the
    first send or read -- as an SSLError naming it, never as a bare "connection reset" (the
    server closes with our last bytes unread, so the kernel resets the connection while the
    alert still waits in our receive queue)."""
    from kiln.net import tls
    if peer == "cpython":
        server = tls_servers.cpython(cpython_server_context(pki, version=version,
                                                           client_cert="required"))
    else:
        server = tls_servers.openssl("server-ec", ["-Verify", "1", "-CAfile", pki.ca,
                                                   f"-tls1_{version[-1]}"])
    with pytest.raises(tls.SSLError) as info:
        s = kiln_client(face, server.address, pki)
        try:
            s.settimeout(5 if face == "usocket" else 5000)
            s.send(b"x\n")
            s.recv(1)
        finally:
            s.close()
    message = str(info.value)
    if version == "1.2":
        assert isinstance(info.value, tls.TLSHandshakeError)
        assert "TLS handshake failed: handshake alert from the peer: " in message, message
    else:
        assert "client certificate required by the peer" in message, message
    if peer == "cpython":
        kind, exc = server.join()[0]
        assert kind == "error" and "certificate" in str(exc), exc
    else:
        server.wait()
        assert "peer did not return a certificate" in server.stop()


# ---- server-side TLS on the board ---------------------------------------------------------------
def _cpython_client(address, pki, results, cert=None, version=None, payload=b"ping"):
    def run():
        try:
            ctx = cpython_client_context(pki, cert=cert, version=version)
            with std.create_connection(address, timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as c:
                    c.sendall(payload)
                    reply = b""
                    while len(reply) < len(payload):
                        chunk = c.recv(100)
                        if not chunk:
                            break
                        reply += chunk
                    results.append(("ok", reply, c.version()))
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results.append(("error", exc))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("server_cert", ["server-ec", "server-rsa"])
def test_micropython_server_side_wrap_with_cpython_client(version, server_cert, pki, peers):
    import usocket
    from kiln.net import utls
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.chain(server_cert), pki.key(server_cert))
    ls = peers.track(usocket.socket())
    ls.bind((LOCALHOST, 0))
    ls.listen(1)
    results = []
    t = _cpython_client(ls.getsockname(), pki, results, version=version)
    conn, _ = ls.accept()
    peers.track(conn)
    tls = peers.track(ctx.wrap_socket(conn, server_side=True))
    tls.write(tls.read(4)[::-1])
    t.join(10)
    assert results == [("ok", b"gnip", f"TLSv{version}")]
    assert tls.getpeercert(True) is None, "no client certificate was asked for"


@pytest.mark.parametrize("present", [True, False], ids=["client-cert", "no-client-cert"])
def test_micropython_server_requiring_a_client_certificate(present, pki, peers):
    import usocket
    from kiln.net import utls
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.chain("server-ec"), pki.key("server-ec"))
    ctx.load_verify_locations(cadata=pki.der("root"))           # DER bytes, MicroPython style
    ctx.verify_mode = utls.CERT_REQUIRED
    ls = peers.track(usocket.socket())
    ls.bind((LOCALHOST, 0))
    ls.listen(1)
    results = []
    t = _cpython_client(ls.getsockname(), pki, results, cert="client-ec" if present else None,
                        version="1.2")
    conn, _ = ls.accept()
    peers.track(conn)
    if present:
        tls = peers.track(ctx.wrap_socket(conn, server_side=True))
        assert tls.getpeercert(True) == pki.der("client-ec")
        tls.write(tls.read(4))
        t.join(10)
        assert results == [("ok", b"ping", "TLSv1.2")]
    else:
        with pytest.raises(utls.TLSHandshakeError, match="client certificate required"):
            ctx.wrap_socket(conn, server_side=True)
        t.join(10)
        assert results[0][0] == "error"


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_zerynth_server_sslsocket_accepts_tls(version, pki, peers):
    from kiln.net import zssl
    ctx = zssl.create_ssl_context(clicert=pki.pem("server-ec") + pki.pem("inter"),
                                  pkey=pki.key_pem("server-ec"),
                                  options=zssl.CERT_NONE | zssl.CLIENT_AUTH)
    ls = peers.track(zssl.sslsocket(ctx=ctx))
    ls.bind((LOCALHOST, 0))
    ls.listen(2)
    results = []
    t = _cpython_client(ls.getsockname(), pki, results, version=version, payload=b"zerynth")
    conn, addr = ls.accept()
    peers.track(conn)
    assert isinstance(conn, zssl.sslsocket) and addr[0] == LOCALHOST
    data = conn.recv(7)                      # Zerynth's recv(n) waits for n bytes
    assert isinstance(data, bytearray) and data == b"zerynth"
    conn.sendall(data.upper())
    t.join(10)
    assert results == [("ok", b"ZERYNTH", f"TLSv{version}")]


def test_zerynth_server_requiring_a_client_certificate(pki, peers):
    from kiln.net import zssl
    ctx = zssl.create_ssl_context(cacert=pki.pem("root"), clicert=pki.pem("server-ec") +
                                  pki.pem("inter"), pkey=pki.key_pem("server-ec"),
                                  options=zssl.CERT_REQUIRED | zssl.CLIENT_AUTH)
    ls = peers.track(zssl.sslsocket(ctx=ctx))
    ls.bind((LOCALHOST, 0))
    ls.listen(2)
    results = []
    t = _cpython_client(ls.getsockname(), pki, results, cert="client-rsa", payload=b"x")
    conn, _ = ls.accept()
    peers.track(conn)
    assert conn.getpeercert() == pki.der("client-rsa")
    conn.sendall(conn.recv(1))
    t.join(10)
    assert results[0][:2] == ("ok", b"x")
    # Without a client certificate the handshake is refused, as ConnectionAbortedError.
    results.clear()
    t = _cpython_client(ls.getsockname(), pki, results, version="1.2")
    with pytest.raises(ConnectionAbortedError, match="client certificate required"):
        ls.accept()
    t.join(10)
    assert results[0][0] == "error"


# ---- protocol versions --------------------------------------------------------------------------
@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("forced_by", ["server", "kiln"])
def test_tls_1_2_and_1_3_forced_from_either_end(face, version, forced_by, pki, tls_servers):
    server = tls_servers.openssl("server-ec", [f"-tls1_{version[-1]}"] if forced_by == "server"
                                 else [])
    with kiln_client(face, server.address, pki,
                     version=version if forced_by == "kiln" else None) as s:
        assert _version(s, face) == f"TLSv{version}"
        assert _exchange(s, face, b"v\n", 2) == b"v\n"
    server.wait()
    assert f"Protocol version: TLSv{version}" in server.stop()


# ---- bulk transfer, kernel TLS on and off ---------------------------------------------------------
BULK = 64 << 20


def _kernel_has_tls() -> bool:
    """True when this kernel offers the ``tls`` upper-layer protocol (kernel TLS)."""
    with std.socket() as ls, std.socket() as c:
        ls.bind((LOCALHOST, 0))
        ls.listen(1)
        c.connect(ls.getsockname())
        conn, _ = ls.accept()
        with conn:
            try:
                c.setsockopt(std.IPPROTO_TCP, 31, b"tls")      # TCP_ULP
                return True
            except OSError:
                return False


def _stream(seed: int) -> tuple[bytes, str]:
    """64 MiB of pseudo-random data (a 1 MiB block rotated per MiB) and its SHA-256."""
    block = hashlib.shake_256(str(seed).encode()).digest(1 << 20)
    data = b"".join(block[i:] + block[:i] for i in range(0, BULK >> 20))
    return data, hashlib.sha256(data).hexdigest()


@pytest.mark.watchdog(120)
@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("ktls", [True, False], ids=["ktls-on", "ktls-off"])
def test_64_mib_each_way_hashed_ktls_on_and_off(face, ktls, pki, tls_servers):
    """The CPython server hashes what Kiln sends and sends its own 64 MiB back; both hashes
    must match; ``ktls()`` must say what the kernel does (nothing on a kernel without the
    ``tls`` module; where it has one, the directions OpenSSL handed over)."""
    up, up_hash = _stream(1)
    down, down_hash = _stream(2)

    def handler(tls):
        h = hashlib.sha256()
        got = 0
        buf = bytearray(1 << 20)
        while got < BULK:
            n = tls.recv_into(buf)
            if not n:
                break
            h.update(memoryview(buf)[:n])
            got += n
        tls.sendall(down)
        return got, h.hexdigest()

    server = tls_servers.cpython(cpython_server_context(pki), handler)
    s = kiln_client(face, server.address, pki, ktls=ktls)
    try:
        offload = s.ktls()
        if not ktls or not _kernel_has_tls():
            assert offload == (False, False)
        else:
            assert offload[0], "the kernel offers TLS and the cipher is AES-GCM: send offloaded"
        s.sendall(up)
        h = hashlib.sha256()
        got = 0
        buf = bytearray(1 << 20)
        while got < BULK:
            n = s.recv_into(buf, min(len(buf), BULK - got)) if face == "zerynth" else \
                s.readinto(buf, min(len(buf), BULK - got))
            if not n:
                break
            h.update(memoryview(buf)[:n])
            got += n
        assert got == BULK and h.hexdigest() == down_hash, "download altered"
        assert s.ktls() == offload
    finally:
        s.close()
    assert server.join(60) == [("ok", (BULK, up_hash))], "upload altered"


# ---- many handshakes: no descriptor or memory growth ------------------------------------------------
def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


HANDSHAKES = 10_000


@pytest.mark.watchdog(120)
def test_10000_handshakes_keep_descriptors_and_rss_flat(pki, tls_servers):
    """10,000 full TLS 1.3 handshakes (ECDSA P-256) of the MicroPython face against
    ``openssl s_server`` (each closed with close_notify); the descriptor count is unchanged
    and the RSS grows less than 2 MiB between the 1,000th and the 10,000th handshake."""
    import usocket
    from kiln.net import utls
    server = tls_servers.openssl("server-ec", ["-no_ticket"], naccept=HANDSHAKES)
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=pki.ca)
    fds = _fds()
    start = time.monotonic()
    rss_at_1000 = 0
    for i in range(HANDSHAKES):
        s = usocket.socket()
        s.connect(server.address)
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.close()
        if i == 999:
            rss_at_1000 = _rss_kib()
            assert _fds() == fds
    elapsed = time.monotonic() - start
    growth = _rss_kib() - rss_at_1000
    assert _fds() == fds, "descriptors leaked"
    assert growth < 2048, f"RSS grew {growth} KiB over 9,000 handshakes"
    server.wait(30)
    print(f"{HANDSHAKES} handshakes in {elapsed:.1f} s; RSS growth {growth} KiB")
