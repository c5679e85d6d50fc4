"""The TLS faces as each ecosystem documents them, against CPython's ``ssl`` server.

MicroPython (``tls`` = ``kiln.net.utls``, ``ssl`` = ``kiln.net.ussl``): defaults
(``tls.SSLContext`` verifies and needs ``server_hostname``; ``ssl`` does not verify and warns
once), certificates and keys as paths, PEM or DER bytes, PEM text; ``get_ciphers``/``set_ciphers``
with IANA names; ``getpeercert(True)``, ``cipher()``; a deferred handshake
(``do_handshake_on_connect=False``), also non-blocking; the stream methods; ``close()`` sends
close_notify.  Zerynth (``ssl`` = ``kiln.net.zssl``): ``create_ssl_context`` with bytes, str
(trailing NUL) and resources; the default context warns once; ``recv(n)`` waits for ``n`` bytes
across records; timeouts in milliseconds.  Both: a verifying client with no CA of its own uses
the image's CA bundle (``KILN_TLS_CA_BUNDLE``).
"""
from __future__ import annotations

import select
import socket as std
import ssl
import time

import pytest

from tls_peers import LOCALHOST, cpython_client_context, cpython_server_context, kiln_client

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")


def _echo(tls):
    data = tls.recv(1000)
    tls.sendall(data)
    return data


def _connected_usocket(address):
    import usocket
    s = usocket.socket()
    s.connect(address)
    return s


# ---- MicroPython: defaults ------------------------------------------------------------------------
def test_tls_client_context_verifies_and_needs_server_hostname(pki, tls_servers):
    from kiln.net import utls
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    assert ctx.verify_mode == utls.CERT_REQUIRED
    server = tls_servers.cpython(cpython_server_context(pki), lambda tls: None)
    s = _connected_usocket(server.address)
    try:
        with pytest.raises(ValueError, match="CERT_REQUIRED requires server_hostname"):
            ctx.wrap_socket(s)
    finally:
        s.close()
    server.close()
    assert utls.SSLContext(utls.PROTOCOL_TLS_SERVER).verify_mode == utls.CERT_NONE


def test_ssl_wrap_socket_default_does_not_verify_and_warns_once(pki, tls_servers, capfd,
                                                                monkeypatch):
    """micropython-lib's ``ssl.wrap_socket(sock)`` defaults to CERT_NONE: it connects to a server
    no CA vouches for, and the first such connection prints one warning line."""
    from kiln.net import ussl, utls
    monkeypatch.setattr(utls, "_warned", False)
    server = tls_servers.cpython(cpython_server_context(pki, "unknown-ec"), _echo, count=2)
    for _ in range(2):
        s = ussl.wrap_socket(_connected_usocket(server.address))
        s.write(b"hi")
        assert s.read(2) == b"hi"
        s.close()
    err = capfd.readouterr().err
    assert err.count("warning") == 1 and "ssl.wrap_socket()" in err and "CERT_REQUIRED" in err
    assert len(err.strip().splitlines()) == 1
    assert ussl.SSLContext(ussl.PROTOCOL_TLS_CLIENT).verify_mode == ussl.CERT_NONE
    server.join()


# ---- MicroPython: certificate and key forms --------------------------------------------------------
CERT_FORMS = {
    "paths": lambda pki: (pki.chain("server-ec"), pki.key("server-ec")),
    "PEM bytes": lambda pki: ((pki.dir / "server-ec-chain.pem").read_bytes(),
                              pki.key_pem("server-ec")),
    "DER bytes": lambda pki: (pki.der("server-ec"), pki.key_der("server-ec")),
    "PEM str": lambda pki: ((pki.dir / "server-ec-chain.pem").read_text(),
                            pki.key_pem("server-ec").decode()),
}


@pytest.mark.parametrize("form", list(CERT_FORMS))
def test_server_certificate_and_key_as_path_pem_or_der(form, pki, peers):
    """``load_cert_chain`` takes paths or the data (PEM or DER); a CPython client verifies the
    result (the DER form carries the leaf only, so that client also trusts the intermediate)."""
    import usocket
    from kiln.net import utls
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*CERT_FORMS[form](pki))
    ls = peers.track(usocket.socket())
    ls.bind((LOCALHOST, 0))
    ls.listen(1)
    client_ctx = cpython_client_context(pki)
    client_ctx.load_verify_locations(pki.cert("inter"))
    got = []
    t = peers.background(lambda: got.append(_cpython_exchange(client_ctx, ls.getsockname())))
    conn, _ = ls.accept()
    tls = peers.track(ctx.wrap_socket(peers.track(conn), server_side=True))
    tls.write(tls.read(5))
    t.result()
    assert got == [b"hello"]


def _cpython_exchange(ctx, address, payload=b"hello"):
    with std.create_connection(address, timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as c:
            c.sendall(payload)
            reply = b""
            while len(reply) < len(payload):
                chunk = c.recv(100)
                if not chunk:
                    break
                reply += chunk
            return reply


def _ending_in_zero(der: bytes) -> bytes:
    """``der`` with its last byte (inside the signature or the key) set to 0: still parses."""
    return der[:-1] + b"\0"


def test_der_data_ending_in_a_zero_byte_is_not_cut(pki):
    """Zerynth's PEM strings end with a NUL byte that loading strips; DER data must keep its
    own trailing zero byte (one certificate or key in 256 ends with one)."""
    from kiln.net import tls, zssl
    cert = _ending_in_zero(pki.der("root"))
    tls.Context().load_verify_locations(cadata=cert)
    zssl.create_ssl_context(cacert=cert)
    server = tls.Context(True)
    with pytest.raises(ValueError, match="does not match the certificate"):
        # The key parses (it is not cut) and is then found not to belong to the certificate.
        server.load_cert_chain(_ending_in_zero(pki.der("server-ec")),
                               _ending_in_zero(pki.key_der("server-rsa")))
    with pytest.raises(ValueError, match="create_ssl_context\\(\\) argument 'pkey'.*does not "
                                         "match"):
        zssl.create_ssl_context(clicert=_ending_in_zero(pki.der("client-ec")),
                                pkey=_ending_in_zero(pki.key_der("server-rsa")),
                                options=zssl.CERT_NONE | zssl.SERVER_AUTH)


CA_FORMS = {
    "cafile": lambda pki: {"cafile": pki.ca},
    "cadata PEM str": lambda pki: {"cadata": pki.pem("root").decode()},
    "cadata PEM bytes": lambda pki: {"cadata": pki.pem("root")},
    "cadata DER bytes": lambda pki: {"cadata": pki.der("root")},
}


@pytest.mark.parametrize("form", list(CA_FORMS))
def test_trusted_ca_as_path_pem_or_der(form, pki, tls_servers):
    from kiln.net import utls
    server = tls_servers.cpython(cpython_server_context(pki), _echo)
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(**CA_FORMS[form](pki))
    with ctx.wrap_socket(_connected_usocket(server.address), server_hostname="localhost") as s:
        s.write(b"abc")
        assert s.read(3) == b"abc"
    server.join()


# ---- MicroPython: ciphers, peer certificate -------------------------------------------------------
@pytest.mark.parametrize("suite,version", [
    ("TLS_CHACHA20_POLY1305_SHA256", "TLSv1.3"),
    ("TLS_AES_128_GCM_SHA256", "TLSv1.3"),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLSv1.2"),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLSv1.2"),
])
def test_set_ciphers_with_iana_names_is_what_the_connection_uses(suite, version, pki,
                                                                 tls_servers):
    from kiln.net import utls
    server = tls_servers.cpython(cpython_server_context(pki), _echo)
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=pki.ca)
    ctx.set_ciphers([suite])
    assert ctx.get_ciphers() == [suite]
    with ctx.wrap_socket(_connected_usocket(server.address), server_hostname="localhost") as s:
        assert s.cipher() == (suite, version)
        s.write(b"x")
        assert s.read(1) == b"x"
    server.join()


def test_set_ciphers_again_replaces_the_earlier_choice(pki, tls_servers):
    """A TLS 1.3-only choice, then a TLS 1.2-only one: the second wins (the first must not leave
    TLS 1.2 switched off, which would leave no protocol version at all)."""
    from kiln.net import utls
    server = tls_servers.cpython(cpython_server_context(pki), _echo)
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=pki.ca)
    ctx.set_ciphers(["TLS_AES_128_GCM_SHA256"])
    ctx.set_ciphers(["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"])
    assert ctx.get_ciphers() == ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
    with ctx.wrap_socket(_connected_usocket(server.address), server_hostname="localhost") as s:
        assert s.cipher() == ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLSv1.2")
        s.write(b"2")
        assert s.read(1) == b"2"
    server.join()


def test_get_ciphers_lists_iana_names(pki):
    from kiln.net import utls
    names = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT).get_ciphers()
    assert "TLS_AES_256_GCM_SHA384" in names and "TLS_CHACHA20_POLY1305_SHA256" in names
    assert all(n.startswith("TLS_") for n in names)


def test_getpeercert_binary_form_only(pki, tls_servers):
    from kiln.net import utls
    server = tls_servers.cpython(cpython_server_context(pki), _echo)
    with kiln_client("usocket", server.address, pki) as s:
        assert s.getpeercert(True) == pki.der("server-ec")
        with pytest.raises(NotImplementedError, match="binary_form=True"):
            s.getpeercert()
        assert s.ktls() in ((False, False), (True, False), (True, True), (False, True))
        s.write(b"z")
        assert s.read(1) == b"z"
    server.join()
    assert isinstance(s, utls.SSLSocket)


# ---- MicroPython: deferred and non-blocking handshakes ---------------------------------------------
def test_deferred_handshake_finishes_on_first_write(pki, tls_servers):
    from kiln.net import tls, utls
    server = tls_servers.cpython(cpython_server_context(pki), _echo)
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=pki.ca)
    with ctx.wrap_socket(_connected_usocket(server.address), server_hostname="localhost",
                         do_handshake_on_connect=False) as s:
        assert not tls.established(s) and s.cipher() is None
        s.write(b"deferred")
        assert tls.established(s)
        assert s.read(8) == b"deferred"
    server.join()


def test_non_blocking_handshake_with_poll(pki, peers):
    """A non-blocking socket: ``do_handshake()`` raises EAGAIN (BlockingIOError) until the
    handshake is done; poll on the fd tells when to call again.  (The server starts its side
    0.3 s late, so the first call cannot complete the handshake.)"""
    from kiln.net import tls, utls
    lsock, address = peers.ref_listener("ipv4")
    lsock.settimeout(10)

    def serve():
        conn, _ = lsock.accept()
        with conn:
            time.sleep(0.3)
            conn.settimeout(10)
            with cpython_server_context(pki).wrap_socket(conn, server_side=True) as t:
                _echo(t)
    handle = peers.background(serve, name="late-server")
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=pki.ca)
    raw = _connected_usocket(address)
    raw.setblocking(False)
    s = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    try:
        waits = 0
        deadline = time.monotonic() + 10
        while True:
            try:
                s.do_handshake()
                break
            except BlockingIOError:
                waits += 1
                select.select([s], [], [], max(0.0, deadline - time.monotonic()))
        assert waits >= 1 and tls.established(s)
        s.setblocking(True)
        s.write(b"nb")
        assert s.read(2) == b"nb"
    finally:
        s.close()
    handle.result()


# ---- MicroPython: stream methods, close_notify -----------------------------------------------------
def test_stream_methods_and_makefile(pki, tls_servers):
    def handler(tls):
        tls.sendall(b"line one\nline two\n" + b"x" * 40000 + b"\nrest")
        tls.recv(100)
    server = tls_servers.cpython(cpython_server_context(pki), handler)
    with kiln_client("usocket", server.address, pki) as s:
        f = s.makefile("rwb")
        assert f is s
        assert f.readline() == b"line one\n" and s.readline() == b"line two\n"
        buf = bytearray(40001)
        assert s.readinto(buf) == 40001 and buf == b"x" * 40000 + b"\n"
        assert s.read(4) == b"rest"
        assert s.write("done") == 4
    server.join()


@pytest.mark.parametrize("close", ["close_notify", "no close_notify"])
def test_close_sends_close_notify(close, pki, tls_servers):
    """The peer sees a clean TLS close, not a truncation: CPython with ``suppress_ragged_eofs``
    off reads b"" after a close_notify and raises SSLEOFError without one (the control case: the
    fd closed under the TLS socket's feet)."""
    import os

    def handler(tls):
        assert tls.recv(10) == b"bye"
        try:
            return tls.recv(10)
        except ssl.SSLEOFError as exc:
            return type(exc).__name__
    server = tls_servers.cpython(cpython_server_context(pki), handler,
                                 suppress_ragged_eofs=False)
    s = kiln_client("usocket", server.address, pki)
    s.write(b"bye")
    if close == "close_notify":
        s.close()
    else:
        os.close(s.detach())
    assert server.join() == [("ok", b"" if close == "close_notify" else "SSLEOFError")]


# ---- Zerynth --------------------------------------------------------------------------------------
class Resource:
    """What Zerynth's ``open("resource://...")`` gives: ``size()`` and ``read(n)``."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def size(self) -> int:
        return len(self.data)

    def read(self, n: int) -> bytes:
        return self.data[:n]


@pytest.mark.parametrize("form", ["bytes", "bytearray", "str with NUL", "resource"])
def test_zerynth_context_material_forms(form, pki, tls_servers):
    from kiln.net import zssl
    convert = {"bytes": bytes, "bytearray": bytearray,
               "str with NUL": lambda b: b.decode() + "\0", "resource": Resource}[form]
    server = tls_servers.cpython(cpython_server_context(pki, client_cert="required"), _echo)
    ctx = zssl.create_ssl_context(cacert=convert(pki.pem("root")),
                                  clicert=convert(pki.pem("client-ec")),
                                  pkey=convert(pki.key_pem("client-ec")), hostname="localhost",
                                  options=zssl.CERT_REQUIRED | zssl.SERVER_AUTH)
    s = zssl.sslsocket(ctx=ctx)
    try:
        s.connect(server.address)
        s.sendall(b"zz")
        assert s.recv(2) == bytearray(b"zz")
    finally:
        s.close()
    server.join()


def test_zerynth_default_context_does_not_verify_and_warns_once(pki, tls_servers, capfd,
                                                                monkeypatch):
    from kiln.net import zssl
    monkeypatch.setattr(zssl, "_warned", False)
    server = tls_servers.cpython(cpython_server_context(pki, "unknown-ec"), _echo, count=2)
    for _ in range(2):
        s = zssl.sslsocket()
        try:
            s.connect(server.address)
            s.sendall(b"d")
            assert s.recv(1) == b"d"
        finally:
            s.close()
    err = capfd.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "sslsocket.connect()" in err
    server.join()


@pytest.mark.parametrize("mode", ["non-blocking", "timed out"])
def test_zerynth_connect_never_lets_bytes_out_in_the_clear(mode, pki, peers):
    """A non-blocking sslsocket's connect() raises EINPROGRESS like a plain socket's, and a
    connect() that timed out goes on in the kernel: a send on such a socket, once connected,
    must start the TLS handshake, never send the bytes in the clear (it did)."""
    from kiln.net import zssl
    s = peers.track(zssl.sslsocket())
    if mode == "non-blocking":
        lsock, address = peers.ref_listener("ipv4")
        s.setblocking(False)
        with pytest.raises(BlockingIOError):
            s.connect(address)
    else:
        lsock, address = peers.full_listener()    # our SYN is dropped: connect() times out
        s.settimeout(100)
        with pytest.raises(TimeoutError):
            s.connect(address)
        lsock.settimeout(5)
        peers.track(lsock.accept()[0])            # room in the queue: the SYN's retry gets in
        s.setblocking(False)
    assert select.select([], [s], [], 10)[1], "the connection never completed"
    lsock.settimeout(5)
    conn, _ = lsock.accept()
    peers.track(conn)
    try:
        s.send(b"secret password")
    except BlockingIOError:
        pass                                     # the handshake waits for the server
    conn.settimeout(5)
    first = conn.recv(5)
    assert first[:1] == b"\x16" and first[1:2] == b"\x03", f"not a TLS record: {first!r}"


def test_zerynth_recv_waits_for_n_bytes_across_records(pki, tls_servers):
    """Zerynth's ``recv(n)`` returns once ``n`` bytes arrived, here in three records sent 0.1 s
    apart; a timeout (milliseconds) raises TimeoutError and keeps what arrived."""
    def handler(tls):
        for part in (b"a" * 10, b"b" * 20, b"c" * 30):
            tls.sendall(part)
            time.sleep(0.1)
        tls.recv(1)
    server = tls_servers.cpython(cpython_server_context(pki), handler)
    with kiln_client("zerynth", server.address, pki) as s:
        data = s.recv(60)
        assert isinstance(data, bytearray) and data == b"a" * 10 + b"b" * 20 + b"c" * 30
        s.settimeout(150)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            s.recv(1)
        assert 0.1 < time.monotonic() - start < 2
        s.settimeout(None)
        s.sendall(b"!")
    server.join()


# ---- both faces: the image's CA bundle --------------------------------------------------------------
@pytest.mark.parametrize("face", ["usocket", "zerynth"])
@pytest.mark.parametrize("bundle", ["holds the root", "lacks it"])
def test_verifying_client_without_a_ca_uses_the_image_bundle(face, bundle, pki, tls_servers,
                                                             monkeypatch):
    from kiln.net import tls, utls, zssl
    monkeypatch.setenv("KILN_TLS_CA_BUNDLE", pki.ca if bundle == "holds the root"
                       else pki.cert("stranger"))
    server = tls_servers.cpython(cpython_server_context(pki), _echo)

    def connect():
        if face == "usocket":
            ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
            return ctx.wrap_socket(_connected_usocket(server.address), server_hostname="localhost")
        ctx = zssl.create_ssl_context(hostname="localhost",
                                      options=zssl.CERT_REQUIRED | zssl.SERVER_AUTH)
        zssl._contexts.pop(ctx, None)         # a fresh context reads the bundle of this test
        s = zssl.sslsocket(ctx=ctx)
        try:
            s.connect(server.address)
        except BaseException:
            s.close()
            raise
        return s

    if bundle == "lacks it":
        with pytest.raises(tls.SSLCertVerificationError, match="unknown CA"):
            connect()
    else:
        with connect() as s:
            s.send(b"ok")
            assert bytes(s.recv(2)) == b"ok"
    server.join()


def test_wrap_socket_on_a_nonblocking_socket_finishes_the_handshake(pki):
    """MicroPython's wrap_socket(do_handshake_on_connect=True) returns with the handshake done
    also when the socket is non-blocking (it loops until then); the TLS socket stays
    non-blocking (a read with nothing there returns None)."""
    import ssl as cpython_ssl
    import socket as std
    import threading
    from kiln.net import usocket, utls
    server_ctx = cpython_ssl.SSLContext(cpython_ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki.chain("server-ec"), pki.key("server-ec"))
    listener = std.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve():
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
            tls_conn.sendall(tls_conn.recv(10))
            done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = utls.CERT_NONE
        sock = usocket.socket()
        sock.connect(listener.getsockname())
        sock.setblocking(False)
        tls = ctx.wrap_socket(sock, server_hostname="localhost")
        assert tls.gettimeout() == 0.0 and tls.cipher() is not None
        assert tls.read(5) is None
        tls.setblocking(True)
        tls.write(b"hello")
        assert tls.read(5) == b"hello"
        tls.close()
    finally:
        done.set()
        thread.join(10)
        listener.close()
