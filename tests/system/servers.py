"""Host-side servers on a NetLab's link, run on threads of the test process.

Their sockets are created inside the lab namespace (``NetLab.socket``) and bound to the lab's
host-side address, so only the guest can reach them.  The reply servers answer with
``lab_checks.reply_for(data)`` (the bytes reversed) and record what they received; the file
server serves fixed files over HTTP; the NTP responder answers with the times it is given; the
exchange server and :func:`exchange_as_client` are the host's side of the program-test app's
exchange protocol; the JSON server describes each HTTP request it gets; the line server answers
a line upper-cased.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import secrets
import socket
import struct
import threading

from lab_checks import reply_for


class TcpReplyServer:
    """Accepts one connection, reads exactly ``size`` bytes, answers them reversed, closes."""

    def __init__(self, lab, size: int, timeout_s: float = 120.0) -> None:
        self.size = size
        self.received = b""
        self.peer: tuple[str, int] | None = None
        self.error: BaseException | None = None
        self._sock = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((str(lab.host_address), 0))
        self._sock.listen(1)
        self._sock.settimeout(timeout_s)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, self.peer = self._sock.accept()
            with conn:
                conn.settimeout(30)
                data = b""
                while len(data) < self.size:
                    chunk = conn.recv(self.size - len(data))
                    if not chunk:
                        break
                    data += chunk
                self.received = data
                conn.sendall(reply_for(data))
        except BaseException as exc:  # reported by result()
            self.error = exc
        finally:
            self._sock.close()

    def result(self, timeout_s: float = 30.0) -> bytes:
        """Wait for the exchange to finish; return what the guest sent (raises its error)."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError("TCP server still waiting for the guest")
        if self.error:
            raise self.error
        return self.received


class UdpReplyServer:
    """Answers every datagram with its bytes reversed until closed; records them in order."""

    def __init__(self, lab) -> None:
        self.datagrams: list[tuple[bytes, tuple[str, int]]] = []
        self._sock = lab.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((str(lab.host_address), 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.datagrams.append((data, peer))
            self._sock.sendto(reply_for(data), peer)

    def close(self) -> None:
        """Stop serving and close the socket."""
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def connect_to_guest(lab, address: str, port: int, timeout_s: float = 30.0) -> socket.socket:
    """A TCP connection from the host side of ``lab`` to the guest's ``address:port``."""
    sock = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    sock.connect((address, port))
    return sock


class FileServer:
    """Serves ``files`` (``{name: bytes}``) over HTTP/1.0 at ``/<name>`` on the lab's host-side
    address (a free port: :attr:`port`) until :meth:`close`; 404 for anything else.  Records
    every request as ``(client address, path, status)`` in :attr:`requests`."""

    def __init__(self, lab, files: dict[str, bytes]) -> None:
        self.files = dict(files)
        self.requests: list[tuple[str, str, int]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = owner.files.get(self.path.lstrip("/"))
                status = 404 if body is None else 200
                owner.requests.append((self.client_address[0], self.path, status))
                body = b"not found\n" if body is None else body
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((str(lab.host_address), 0), Handler,
                                                       bind_and_activate=False)
        self._server.socket.close()                 # made in the host's namespace: replace it
        self._server.socket = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.server_bind()
        self._server.server_activate()
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving (waits for the serving thread) and close the socket."""
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()


#: Seconds from NTP's epoch (1900-01-01) to the Unix epoch.
NTP_UNIX_OFFSET = 2208988800


class NtpResponder:
    """An NTP server (RFC 5905, mode 4 replies) on UDP port ``port`` of the lab's host-side
    address: the n-th query is answered with the n-th Unix time of ``times`` (seconds, int; the
    timestamp's 32-bit seconds wrap into the next NTP era after 2036-02-07) and a fraction of
    0.5 s; queries beyond ``times`` get no answer.  Records each query as ``(bytes,
    (address, port))`` in :attr:`queries`."""

    def __init__(self, lab, times: list[int], port: int = 123) -> None:
        self.times = list(times)
        self.queries: list[tuple[bytes, tuple[str, int]]] = []
        self.error: BaseException | None = None
        self._sock = lab.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((str(lab.host_address), port))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def reply(query: bytes, unix_time: int) -> bytes:
        """The server's answer to client packet ``query`` carrying ``unix_time``: leap
        indicator 0, the query's version, mode 4, stratum 1 with reference "KILN", the query's
        transmit timestamp as originate timestamp, ``unix_time`` as reference, receive and
        transmit timestamps."""
        version = (query[0] >> 3) & 7
        stamp = struct.pack("!II", (unix_time + NTP_UNIX_OFFSET) % 2**32, 2**31)
        return (struct.pack("!BBbb", version << 3 | 4, 1, query[2], -20) + bytes(8) + b"KILN"
                + stamp + query[40:48] + stamp + stamp)

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    data, peer = self._sock.recvfrom(1024)
                except socket.timeout:
                    continue
                self.queries.append((data, peer))
                index = len(self.queries) - 1
                if len(data) >= 48 and index < len(self.times):
                    self._sock.sendto(self.reply(data, self.times[index]), peer)
        except BaseException as exc:  # kept for the test
            self.error = exc

    def close(self) -> None:
        """Stop answering and close the socket (what the serving thread raised, if anything,
        stays in :attr:`error`)."""
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


# --- the exchange protocol of apps/programs/checks/exchange.py, the host's side --------------

#: Bytes of the server's own at the end of every reply (``OWN`` of the app's module).
EXCHANGE_OWN = 20000
#: Length of the reply's header line (``REPLY_HEAD`` of the app's module).
EXCHANGE_REPLY_HEAD = 80


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_exactly(stream, n: int, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise AssertionError(f"{what}: {len(data)} of {n} bytes before the connection closed")
    return data


def _expect_line(stream, line: bytes, who: str) -> None:
    got = stream.readline(100)
    if got != line:
        raise AssertionError(f"{who}: expected {line!r}, got {got!r}")


@dataclasses.dataclass
class ExchangeSession:
    """One exchange the host served: the client's address, the bytes it sent, the host's own
    bytes it got back (after its bytes reversed)."""

    peer: str
    received: bytes
    own: bytes


class ExchangeServer:
    """The host's server of the exchange protocol (apps/programs/checks/exchange.py) on a free
    port (:attr:`port`) of the lab's host-side address, one thread per connection: it reads
    ``HELLO name n sha``, the n bytes (checked against the digest) and ``GO``, answers ``REPLY``
    with the bytes reversed and :data:`EXCHANGE_OWN` random bytes of its own, waits for ``BYE``
    and closes.  :attr:`sessions` (client name -> :class:`ExchangeSession`) and :attr:`errors`
    (what went wrong, per connection) until :meth:`close`."""

    def __init__(self, lab) -> None:
        self.sessions: dict[str, ExchangeSession] = {}
        self.errors: list[str] = []
        self._sock = lab.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((str(lab.host_address), 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self._sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn, peer[0]), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, peer: str) -> None:
        conn.settimeout(60)
        try:
            with conn, conn.makefile("rb") as stream:
                words = stream.readline(200).split()
                if len(words) != 4 or words[0] != b"HELLO":
                    raise AssertionError(f"{peer}: not a HELLO line: {words!r}")
                name, size, digest = words[1].decode(), int(words[2]), words[3].decode()
                payload = _read_exactly(stream, size, f"{peer} {name}")
                if _sha(payload) != digest:
                    raise AssertionError(f"{peer} {name}: the bytes do not match their digest")
                _expect_line(stream, b"GO\n", f"{peer} {name}")
                own = secrets.token_bytes(EXCHANGE_OWN)
                body = payload[::-1] + own
                conn.sendall(b"REPLY %08d %s\n" % (len(body), _sha(body).encode()) + body)
                _expect_line(stream, b"BYE\n", f"{peer} {name}")
                self.sessions[name] = ExchangeSession(peer, payload, own)
        except Exception as exc:  # reported by the test
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Stop accepting, wait for the connections being served (up to 10 s each)."""
        self._sock.close()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(10)


def exchange_as_client(sock: socket.socket, name: str, payload: bytes) -> bytes:
    """The client's side of the exchange protocol over connected ``sock``: sends ``payload``,
    checks the reply (digest, the bytes reversed, :data:`EXCHANGE_OWN` more), says ``BYE`` and
    waits for the server's close.  Returns the server's own bytes; AssertionError otherwise."""
    sock.sendall(b"HELLO %s %d %s\n" % (name.encode(), len(payload), _sha(payload).encode())
                 + payload + b"GO\n")
    with sock.makefile("rb") as stream:
        head = _read_exactly(stream, EXCHANGE_REPLY_HEAD, f"{name}: the reply's header")
        words = head.split()
        if len(words) != 3 or words[0] != b"REPLY" or not head.endswith(b"\n"):
            raise AssertionError(f"{name}: not a REPLY line: {head!r}")
        size = int(words[1])
        if size != len(payload) + EXCHANGE_OWN:
            raise AssertionError(f"{name}: a reply of {size} bytes to {len(payload)}")
        body = _read_exactly(stream, size, f"{name}: the reply")
        if _sha(body) != words[2].decode():
            raise AssertionError(f"{name}: the reply does not match its digest")
        if body[:len(payload)] != payload[::-1]:
            raise AssertionError(f"{name}: the reply does not start with the bytes reversed")
        sock.sendall(b"BYE\n")
        end = stream.read(1)
        if end != b"":
            raise AssertionError(f"{name}: data after the reply: {end!r}")
    return body[len(payload):]


# --- the Zerynth runtime checks' servers ------------------------------------------------------

class JsonHTTP:
    """An HTTP/1.1 server in the lab namespace answering every request with JSON describing it
    (``method``, ``path``, ``body``), on a free port (:attr:`port`) until :meth:`close`."""

    def __init__(self, lab):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                payload = json.dumps({"method": self.command, "path": self.path,
                                      "body": body}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

        self.server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler,
                                                      bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = lab.socket()
        self.server.socket.bind((str(lab.host_address), 0))
        self.server.socket.listen(8)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class UpperLineServer:
    """A TCP server in the lab namespace answering one line per connection, upper-cased, on a
    free port (:attr:`port`); :attr:`received` keeps the lines, until :meth:`close`."""

    def __init__(self, lab):
        self.sock = lab.socket()
        self.sock.bind((str(lab.host_address), 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(60)
                data = b""
                try:
                    while not data.endswith(b"\n"):
                        chunk = conn.recv(256)
                        if not chunk:
                            break
                        data += chunk
                    self.received.append(data)
                    conn.sendall(data.upper())
                except OSError:
                    pass

    def close(self):
        self.sock.close()
