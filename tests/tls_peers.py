"""Real TLS peers for the TLS tests, all on loopback and all stopped by their owner.

- :class:`CPythonServer`: CPython's :mod:`ssl` server in a thread, one handler per connection.
- :class:`OpenSSLServer`: ``openssl s_server`` in a subprocess (``-rev``: each line comes back
  reversed), killed by :meth:`OpenSSLServer.stop`.
- :class:`RecordPeer`: a CPython TLS endpoint driven through ``ssl.MemoryBIO`` over a plain
  stdlib socket, so the *test* decides which bytes of which record go out when (half a record,
  a record then a reset, truncation without close_notify).  Only the test peer does this; Kiln
  itself runs OpenSSL on its socket's fd.

And the Kiln side: :func:`kiln_client` makes a TLS client of either face the way an app does
(MicroPython: ``usocket`` + ``tls.SSLContext.wrap_socket``; Zerynth: ``ssl.sslsocket`` with a
``create_ssl_context`` tuple, whose ``connect`` handshakes).
"""
from __future__ import annotations

import os
import re
import signal
import socket as std
import ssl
import subprocess
import threading
import time
from typing import Any, Callable

from tls_pki import Pki

LOCALHOST = "127.0.0.1"


# ---- CPython contexts ------------------------------------------------------------------------
def cpython_server_context(pki: Pki, name: str = "server-ec", *, version: str | None = None,
                           client_cert: str | None = None) -> ssl.SSLContext:
    """A CPython server context presenting ``name``'s chain; ``version`` "1.2"/"1.3" forces one
    protocol version; ``client_cert`` "required"/"optional" asks for a client certificate signed
    by the test root."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    chain = pki.chain(name) if os.path.exists(pki.chain(name)) else pki.cert(name)
    ctx.load_cert_chain(chain, pki.key(name))
    if version is not None:
        v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
        ctx.minimum_version = ctx.maximum_version = v
    if client_cert is not None:
        ctx.load_verify_locations(pki.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if client_cert == "required" else ssl.CERT_OPTIONAL
    return ctx


def cpython_client_context(pki: Pki, *, cert: str | None = None,
                           version: str | None = None) -> ssl.SSLContext:
    """A verifying CPython client context trusting the test root (``cert``: a client
    certificate to present)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca)
    if cert is not None:
        ctx.load_cert_chain(pki.cert(cert), pki.key(cert))
    if version is not None:
        v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
        ctx.minimum_version = ctx.maximum_version = v
    return ctx


# ---- CPython's ssl server in a thread -----------------------------------------------------------
class CPythonServer:
    """Accepts ``count`` connections on 127.0.0.1, wraps each with ``context`` (server side) and
    calls ``handler(tls_socket)``.  ``results`` holds ``("ok", value)`` or ``("error", exc)``
    per connection (a failed handshake is an error the test may expect)."""

    def __init__(self, context: ssl.SSLContext, handler: Callable[[ssl.SSLSocket], Any] | None
                 = None, count: int = 1, timeout: float = 10.0,
                 suppress_ragged_eofs: bool = True) -> None:
        self.context = context
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self.handler = handler or (lambda s: s.recv(100))
        self.count = count
        self.timeout = timeout
        self.results: list[tuple[str, Any]] = []
        self.listener = std.socket()
        self.listener.bind((LOCALHOST, 0))
        self.listener.listen(16)
        self.listener.settimeout(timeout)
        self.address = (LOCALHOST, self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, name="cpython-tls-server",
                                       daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for _ in range(self.count):
            try:
                conn, _ = self.listener.accept()
            except OSError as exc:
                self.results.append(("error", exc))
                return
            conn.settimeout(self.timeout)
            try:
                with self.context.wrap_socket(
                        conn, server_side=True,
                        suppress_ragged_eofs=self.suppress_ragged_eofs) as tls:
                    self.results.append(("ok", self.handler(tls)))
            except Exception as exc:  # noqa: BLE001 - reported to the test
                self.results.append(("error", exc))
            finally:
                conn.close()

    def join(self, timeout: float = 20.0) -> list[tuple[str, Any]]:
        """Wait for every connection to be served; return ``results``."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the CPython TLS server did not finish"
        return self.results

    def close(self) -> None:
        self.listener.close()
        self.thread.join(self.timeout + 5)


# ---- openssl s_server --------------------------------------------------------------------------
class OpenSSLServer:
    """``openssl s_server -rev`` on 127.0.0.1 (an ephemeral port), serving ``naccept``
    connections with ``name``'s certificate chain.  ``extra`` are more s_server options
    (``-tls1_2``, ``-Verify 1`` ...).  :meth:`stop` kills it; :attr:`output` is what it printed."""

    def __init__(self, pki: Pki, name: str = "server-ec", extra: list[str] | None = None,
                 naccept: int = 1, tmpdir: str = "/tmp") -> None:
        args = ["openssl", "s_server", "-accept", f"{LOCALHOST}:0", "-naccept", str(naccept),
                "-cert", pki.cert(name), "-key", pki.key(name), "-rev"]
        if os.path.exists(pki.chain(name)):
            args += ["-cert_chain", pki.cert("inter")]
        args += extra or []
        self.log_path = os.path.join(tmpdir, f"s_server-{os.getpid()}-{id(self)}.log")
        self._log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            match = re.search(r"^ACCEPT .*:(\d+)$", self.output, re.M)
            if match:
                self.address = (LOCALHOST, int(match.group(1)))
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"openssl s_server did not start: {self.output}")
            time.sleep(0.02)

    @property
    def output(self) -> str:
        with open(self.log_path) as f:
            return f.read()

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for s_server to exit (after ``naccept`` connections); its exit status."""
        return self.proc.wait(timeout)

    def stop(self) -> str:
        """Kill s_server (if still running); return its output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        text = open(self.log_path).read()
        os.unlink(self.log_path)
        return text


# ---- a peer that controls record boundaries ---------------------------------------------------------
class RecordPeer:
    """A CPython TLS endpoint over the plain stdlib socket ``sock`` through ``ssl.MemoryBIO``.

    :meth:`handshake` runs the handshake; :meth:`records` encrypts application data and returns
    the TLS records *without sending them*, so the test sends whatever part it likes with
    ``sock``; :meth:`send` encrypts and sends; :meth:`read` decrypts what Kiln sent;
    :meth:`close_notify` returns the close_notify alert record."""

    def __init__(self, sock: std.socket, context: ssl.SSLContext, server_side: bool = True,
                 server_hostname: str | None = None) -> None:
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                    server_hostname=server_hostname)

    def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def _pull(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    def handshake(self) -> None:
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                if not self._pull():
                    raise ConnectionError("the peer closed during the handshake")
        self.flush()

    def records(self, data: bytes) -> bytes:
        """The TLS records carrying ``data`` (at most 16 KiB of plaintext each), not sent."""
        view = memoryview(data)
        while view:
            n = self.obj.write(view)
            view = view[n:]
        return self.outgoing.read()

    def send(self, data: bytes) -> None:
        self.sock.sendall(self.records(data))

    def read(self, n: int) -> bytes:
        """Exactly ``n`` decrypted bytes from Kiln (fewer only at its close_notify/EOF)."""
        out = bytearray()
        while len(out) < n:
            try:
                chunk = self.obj.read(n - len(out))
            except ssl.SSLWantReadError:
                self.flush()
                if not self._pull():
                    break
                continue
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def close_notify(self) -> bytes:
        """The close_notify alert (not sent)."""
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()


# ---- Kiln clients --------------------------------------------------------------------------------
def kiln_client(face: str, address: tuple[str, int], pki: Pki, *, hostname: str = "localhost",
                verify: bool = True, cert: str | None = None, ca: str | None = None,
                ktls: bool = True, version: str | None = None) -> Any:
    """A connected, handshaken Kiln TLS client of ``face`` ("usocket": MicroPython's tls,
    "zerynth": Zerynth's ssl).  ``ca`` names the CA to trust (default: the test root), ``cert``
    a client certificate; ``ktls`` and ``version`` ("1.2"/"1.3") set the Kiln context."""
    ca_name = ca or "root"
    if face == "usocket":
        import usocket
        from kiln.net import utls
        ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
        if verify:
            ctx.load_verify_locations(cafile=pki.cert(ca_name))
        else:
            ctx.verify_mode = utls.CERT_NONE
        if cert is not None:
            ctx.load_cert_chain(pki.cert(cert), pki.key(cert))
        _tune(ctx._context, ktls, version)
        sock = usocket.socket()
        try:
            sock.connect(address)
            return ctx.wrap_socket(sock, server_hostname=hostname)
        finally:
            sock.close()        # detached by wrap_socket (a no-op then), closed if it failed
    if face == "zerynth":
        from kiln.net import zssl
        options = (zssl.CERT_REQUIRED if verify else zssl.CERT_NONE) | zssl.SERVER_AUTH
        ctx = zssl.create_ssl_context(cacert=pki.pem(ca_name) if verify else "",
                                      clicert=pki.pem(cert) if cert else "",
                                      pkey=pki.key_pem(cert) if cert else "",
                                      hostname=hostname if verify else "", options=options)
        _tune(zssl._context(ctx), ktls, version)
        sock = zssl.sslsocket(ctx=ctx)
        try:
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock
    raise ValueError(f"unknown face {face!r}")


def _tune(context: Any, ktls: bool, version: str | None) -> None:
    from kiln.net import tls
    context.ktls = ktls
    low, high = {"1.2": (tls.TLS_1_2, tls.TLS_1_2), "1.3": (tls.TLS_1_3, tls.TLS_1_3),
                 None: (tls.TLS_1_2, tls.TLS_1_3)}[version]
    context.minimum_version = low       # set every time: Zerynth's contexts are cached per tuple
    context.maximum_version = high
