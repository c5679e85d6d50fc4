"""Host-side servers on a NetLab's link, run on threads of the test process.

Their sockets are created inside the lab namespace (``NetLab.socket``) and bound to the lab's
host-side address, so only the guest can reach them.  Each answers with
``lab_checks.reply_for(data)`` (the bytes reversed) and records what it received.
"""
from __future__ import annotations

import socket
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
