"""Host-side TLS peers of the TLS system test, in a NetLab's namespace: an HTTPS server
(CPython's ``http.server`` over ``ssl``), a bulk-data TLS server, Debian's Mosquitto broker on
8883 with its ``mosquitto_pub``/``mosquitto_sub`` clients, and a CPython ``ssl`` client for the
board's TLS server.  Certificates come from :class:`tls_pki.TestPki`, made at test time.
"""
from __future__ import annotations

import hashlib
import http.server
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path


def server_context(pki, leaf) -> ssl.SSLContext:
    """A CPython server context with ``leaf``'s certificate (TLS 1.2 and 1.3)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(leaf.cert, leaf.key)
    # CPython's default list leaves out no suite the guest asks for (AES-GCM, ChaCha20, and
    # AES-CBC-SHA256 for the fallback mode): stated here so a change of default shows.
    context.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE-ECDSA-AES128-SHA256")
    return context


class HttpsServer:
    """Serves ``body`` at ``path`` over HTTPS on ``lab.host_address`` (any port); records the
    requests (method, path, Host header) it answered."""

    def __init__(self, lab, context: ssl.SSLContext, path: str, body: bytes) -> None:
        self.requests: list[tuple[str, str, str]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(("GET", self.path, self.headers.get("Host", "")))
                if self.path != path:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((str(lab.host_address), 0), Handler,
                                                     bind_and_activate=False)
        self.httpd.socket.close()
        sock = lab.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.httpd.socket = context.wrap_socket(sock, server_side=True)
        self.httpd.server_bind()
        self.httpd.server_activate()
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(10)


class BulkServer:
    """For each TLS connection: reads ``BULK <mode> <up> <down>\\n`` and ``up`` bytes, answers
    the SHA-256 of what it received, then sends ``down_data``[:down].  Records per connection
    ``{mode, received, digest, version, cipher, error}``."""

    def __init__(self, lab, context: ssl.SSLContext, down_data: bytes) -> None:
        self.down_data = down_data
        self.sessions: list[dict] = []
        self._context = context
        self._sock = lab.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((str(lab.host_address), 0))
        self._sock.listen(4)
        self._sock.settimeout(0.2)          # close() is seen within this
        self.port = self._sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            session: dict = {}
            self.sessions.append(session)
            try:
                conn.settimeout(120)
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    session.update(cipher=tls.cipher()[0], version=tls.version())
                    header = b""
                    while not header.endswith(b"\n"):
                        chunk = tls.recv(1)
                        if not chunk:
                            raise ConnectionError("closed before the header")
                        header += chunk
                    _, mode, up, down = header.decode().split()
                    session["mode"] = mode
                    h, got = hashlib.sha256(), 0
                    while got < int(up):
                        chunk = tls.recv(min(1 << 16, int(up) - got))
                        if not chunk:
                            break
                        h.update(chunk)
                        got += len(chunk)
                    session.update(received=got, digest=h.hexdigest())
                    tls.sendall(h.digest())
                    tls.sendall(self.down_data[:int(down)])
                    tls.unwrap()
            except Exception as exc:  # reported by the test through sessions
                session["error"] = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        """Stop accepting (a session in progress finishes first) and close the socket."""
        self._stop = True
        self._thread.join(130)
        self._sock.close()


class Mosquitto:
    """Debian's ``mosquitto`` in the lab namespace on ``host_address:port``: TLS with the test
    CA, a client certificate required (its CN is the user name), no anonymous clients.
    ``publish``/``subscribe`` run ``mosquitto_pub``/``mosquitto_sub`` as the host's client
    ``client`` (a certificate of the CA) in the lab namespace, verifying the broker by the
    address (the broker's certificate names it)."""

    def __init__(self, lab, pki, broker, client, workdir: Path, port: int = 8883) -> None:
        self.lab, self.pki, self.client, self.port = lab, pki, client, port
        self.log = workdir / "mosquitto.log"
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {port} {lab.host_address}\n"
            f"cafile {pki.ca.cert}\ncertfile {broker.cert}\nkeyfile {broker.key}\n"
            "require_certificate true\nuse_identity_as_username true\n"
            "allow_anonymous false\npersistence false\n"
            f"log_dest file {self.log}\nlog_type all\n"
            # The test runs as root: without this mosquitto switches to the user "mosquitto",
            # which cannot read the test's files.
            "user root\n")
        self.proc = lab.spawn(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while True:
            try:
                with lab.socket() as probe:
                    probe.connect((str(lab.host_address), port))
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"mosquitto did not start: "
                                         f"{self.proc.stderr.read().decode()}{self.log_text()}")
                time.sleep(0.1)

    def _client_args(self) -> list[str]:
        return ["-h", str(self.lab.host_address), "-p", str(self.port),
                "--cafile", str(self.pki.ca.cert), "--cert", str(self.client.cert),
                "--key", str(self.client.key)]

    def publish(self, topic: str, message: str, retain: bool = False) -> None:
        """Publish ``message`` to ``topic`` with QoS 1 (``retain``: kept for late subscribers)."""
        result = self.lab.run(["mosquitto_pub", *self._client_args(), "-q", "1", "-t", topic,
                               "-m", message, *(["-r"] if retain else [])], timeout=30)
        assert result.returncode == 0, f"mosquitto_pub failed: {result.stderr}\n{self.log_text()}"

    def subscribe(self, topic: str, count: int, timeout_s: int) -> subprocess.Popen:
        """Start ``mosquitto_sub`` for ``count`` messages of ``topic`` (``topic payload`` per
        line on its stdout); it exits after them, or after ``timeout_s`` seconds."""
        return self.lab.spawn(["mosquitto_sub", *self._client_args(), "-q", "1", "-t", topic,
                               "-C", str(count), "-W", str(timeout_s), "-v"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def log_text(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def exchange_with_board(lab, address: str, port: int, pki, client, board_name: str,
                        data: bytes) -> dict:
    """Connect to the board's TLS server as ``client`` (its certificate), verify the board's
    certificate with the test CA and the name ``board_name``, send ``data`` (length-prefixed)
    and read the answer (SHA-256, then the data reversed)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(pki.ca.cert))
    context.load_cert_chain(client.cert, client.key)
    sock = lab.socket()
    sock.settimeout(120)
    sock.connect((address, port))
    with context.wrap_socket(sock, server_hostname=board_name) as tls:
        facts = {"cipher": tls.cipher()[0], "version": tls.version(),
                 "board_cert": hashlib.sha256(tls.getpeercert(True)).hexdigest()}
        tls.sendall(len(data).to_bytes(4, "big") + data)
        answer = b""
        while len(answer) < 32 + len(data):
            chunk = tls.recv(1 << 16)
            if not chunk:
                break
            answer += chunk
    facts.update(digest=answer[:32], reply=answer[32:])
    return facts


def pem_module(**pems: bytes) -> str:
    """Source of a Python module that defines each keyword as a bytes constant (the PEMs)."""
    return "".join(f"{name} = {pem!r}\n" for name, pem in pems.items())
