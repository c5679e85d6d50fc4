"""Shared fixtures for the Kiln socket test suite.

The implementation under test (``networking.socket`` and ``usocket``) is always checked against an
independent reference peer: CPython's stdlib :mod:`socket` module, running either inline (the
kernel buffers what it sends) or in a short-lived background thread.  Everything runs on loopback
(127.0.0.1, ::1) or on AF_UNIX paths inside a private temporary directory.

Fixtures that only the socket suite uses (``watchdog``, ``no_fd_leak``) are *not* autouse: the
socket test modules opt in through ``pytestmark``, so slow tests owned by others (``tests/system``)
are not affected.  Nothing here imports the implementation at import time, so a broken build
fails the socket tests, not the collection of every other test module.
"""
from __future__ import annotations

import faulthandler
import gc
import os
import shutil
import signal
import socket as std
import struct
import tempfile
import threading
import time
from types import ModuleType
from typing import Any, Callable

import pytest

from socket_faces import Face, load_face  # noqa: E402,F401  (shared with test modules)

#: Workers, groups, order and private temporary directories of the whole suite (tests/parallel.py).
pytest_plugins = ["parallel"]

#: Default per-test time limit (seconds) of the ``watchdog`` fixture.
WATCHDOG_SECONDS = 20
#: Extra seconds after the soft limit before faulthandler kills the whole run (a test stuck in C
#: code that never returns to the interpreter cannot be interrupted any other way).
WATCHDOG_HARD_EXTRA = 15


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "watchdog(seconds): per-test time limit of the `watchdog` fixture"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Remember each phase's report on the item so teardown fixtures can tell a failed test."""
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


# --------------------------------------------------------------------------------------------
# Watchdog and fd-leak guard
# --------------------------------------------------------------------------------------------
class WatchdogTimeout(Exception):
    """Raised in the main thread when a test exceeds its ``watchdog`` limit."""


@pytest.fixture
def watchdog(request: pytest.FixtureRequest):
    """Fail the test (SIGALRM) if it runs longer than its limit; kill the run if it stays stuck.

    The limit is ``WATCHDOG_SECONDS`` or the ``@pytest.mark.watchdog(seconds)`` value.  The soft
    limit raises :class:`WatchdogTimeout` from a SIGALRM handler, which only works if the blocking
    call under test handles EINTR and runs Python signal handlers; the hard limit
    (faulthandler, exits the process after dumping every thread's stack) covers the case where it
    does not.  Tests must therefore not use ``signal.alarm``/``ITIMER_REAL`` themselves.
    """
    marker = request.node.get_closest_marker("watchdog")
    seconds = int(marker.args[0]) if marker else WATCHDOG_SECONDS

    def expired(signum, frame):
        raise WatchdogTimeout(f"test exceeded its {seconds}s watchdog (hung blocking call?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    faulthandler.dump_traceback_later(seconds + WATCHDOG_HARD_EXTRA, exit=True)
    try:
        yield seconds
    finally:
        signal.alarm(0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


def open_fds() -> set[tuple[str, str]]:
    """Open descriptors as ``(number, target)`` pairs; the target (``socket:[inode]``, a path)
    tells a reused descriptor number apart from the original."""
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            fds.add((name, os.readlink(f"/proc/self/fd/{name}")))
        except FileNotFoundError:  # the listdir handle itself, or closed meanwhile
            pass
    return fds


@pytest.fixture
def no_fd_leak(request: pytest.FixtureRequest):
    """Assert the test (and its fixtures) leave no new file descriptor open behind them.

    Descriptors opened during the test and still open after teardown (and after a garbage
    collection, which closes unreachable sockets) are leaks.  Skipped when the test itself failed:
    its traceback keeps sockets alive and the leak report would only hide the real failure.
    """
    before = open_fds()
    yield
    call_report = getattr(request.node, "rep_call", None)
    if call_report is None or call_report.failed:
        return
    leaked = open_fds() - before
    if leaked:  # only pay for a full collection when something may be pending
        gc.collect()
        leaked = open_fds() - before
    # A peer thread of the test (an HTTP server's handler) may still be closing its side of a
    # connection the test just ended: a descriptor that is still open after a second is a leak.
    deadline = time.monotonic() + 1.0
    while leaked and time.monotonic() < deadline:
        time.sleep(0.02)
        leaked = open_fds() - before
    assert not leaked, f"test leaked file descriptor(s): {sorted(leaked)}"


# --------------------------------------------------------------------------------------------
# The two faces under test
# --------------------------------------------------------------------------------------------
@pytest.fixture(params=["zerynth", "usocket"])
def face(request: pytest.FixtureRequest) -> Face:
    """Each face of the socket core in turn."""
    return load_face(request.param)


@pytest.fixture
def zerynth() -> Face:
    """The Zerynth face only (``networking.socket``)."""
    return load_face("zerynth")


@pytest.fixture
def usock() -> Face:
    """The MicroPython face only (``usocket``)."""
    return load_face("usocket")


# --------------------------------------------------------------------------------------------
# Reference peers on loopback
# --------------------------------------------------------------------------------------------
STD_FAMILY = {"ipv4": std.AF_INET, "ipv6": std.AF_INET6, "unix": std.AF_UNIX}
LOOPBACK_HOST = {"ipv4": "127.0.0.1", "ipv6": "::1"}


@pytest.fixture
def short_tmp():
    """A private directory with a short path (AF_UNIX paths are limited to 107 bytes)."""
    path = tempfile.mkdtemp(prefix="kiln-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def require_ipv6_loopback() -> None:
    """Fail with the fix spelled out when this host has no IPv6 loopback address."""
    try:
        with std.socket(std.AF_INET6, std.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:
        pytest.fail(f"IPv6 loopback ::1 is unavailable ({exc}); the socket tests need it: "
                    "sysctl -w net.ipv6.conf.lo.disable_ipv6=0", pytrace=False)


class Peers:
    """Factory of reference peers (stdlib sockets) and helper threads, all cleaned up at teardown.

    Addresses are returned in the form a Kiln face accepts: ``(ip, port)`` for IPv4,
    ``(ip, port)`` for IPv6 (the faces accept the short form and return 4-tuples), a ``str`` path
    for AF_UNIX.
    """

    def __init__(self, tmpdir: str) -> None:
        self._tmpdir = tmpdir
        self._counter = 0
        self._closables: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    # -- bookkeeping ---------------------------------------------------------------------
    def track(self, sock: Any) -> Any:
        """Close ``sock`` (a Kiln or stdlib socket) at teardown; returns it."""
        self._closables.append(sock)
        return sock

    def unix_path(self) -> str:
        """A fresh AF_UNIX filesystem path inside the private temp directory."""
        self._counter += 1
        return os.path.join(self._tmpdir, f"s{self._counter}")

    def close_all(self) -> None:
        """Join helper threads, close every tracked socket, re-raise a helper's error."""
        for t in self._threads:
            t.join(timeout=10)
        for sock in reversed(self._closables):
            try:
                sock.close()
            except OSError:
                pass
        self._closables.clear()
        stuck = [t.name for t in self._threads if t.is_alive()]
        assert not stuck, f"peer threads still running at teardown: {stuck}"
        if self._errors:
            raise self._errors[0]

    # -- threads -------------------------------------------------------------------------
    def background(self, fn: Callable[[], Any], delay: float = 0.0, name: str = "peer"
                   ) -> "Background":
        """Run ``fn`` after ``delay`` seconds in a daemon thread; errors fail the test.

        Returns a handle whose ``.result(timeout)`` joins the thread and returns ``fn``'s value.
        """
        handle = Background(fn, delay, name, self._errors)
        self._threads.append(handle.thread)
        handle.thread.start()
        return handle

    # -- addresses and reference sockets -------------------------------------------------
    def bind_address(self, kind: str) -> Any:
        """An address a socket of ``kind`` can bind to (ephemeral port / fresh path)."""
        if kind == "unix":
            return self.unix_path()
        if kind == "ipv6":
            require_ipv6_loopback()
        return (LOOPBACK_HOST[kind], 0)

    def ref_socket(self, kind: str, type: int = std.SOCK_STREAM) -> std.socket:
        """A tracked, unbound stdlib socket of ``kind``."""
        return self.track(std.socket(STD_FAMILY[kind], type))

    def ref_listener(self, kind: str) -> tuple[std.socket, Any]:
        """A listening stdlib stream socket on loopback; returns ``(listener, address)``."""
        lsock = self.ref_socket(kind)
        if kind != "unix":
            lsock.setsockopt(std.SOL_SOCKET, std.SO_REUSEADDR, 1)
        lsock.bind(self.bind_address(kind))
        lsock.listen(16)
        return lsock, face_address(kind, lsock.getsockname())

    def ref_dgram(self, kind: str) -> tuple[std.socket, Any]:
        """A bound stdlib datagram socket on loopback; returns ``(sock, address)``."""
        sock = self.ref_socket(kind, std.SOCK_DGRAM)
        sock.bind(self.bind_address(kind))
        sock.settimeout(5)
        return sock, face_address(kind, sock.getsockname())

    def stream_pair(self, face: Face, kind: str) -> tuple[Any, std.socket]:
        """A Kiln client socket connected to a stdlib server-side socket; ``(kiln, ref)``.

        The Kiln socket is created, connected (the kernel completes the handshake against the
        listen backlog, no thread needed) and tracked; the reference side has a 5 s timeout.
        """
        lsock, addr = self.ref_listener(kind)
        ks = self.track(face.socket(face.family(kind), face.module.SOCK_STREAM))
        ks.connect(addr)
        lsock.settimeout(5)
        ref, _ = lsock.accept()
        self.track(ref)
        ref.settimeout(5)
        return ks, ref

    def kiln_listener(self, face: Face, kind: str) -> tuple[Any, Any]:
        """A listening Kiln stream socket on loopback; returns ``(listener, address)``."""
        ls = self.track(face.socket(face.family(kind), face.module.SOCK_STREAM))
        ls.bind(self.bind_address(kind))
        ls.listen(8)
        return ls, face_address(kind, ls.getsockname())

    def full_listener(self) -> tuple[std.socket, Any]:
        """An IPv4 loopback listener whose accept queue is full; ``(listener, address)``.

        The listener has backlog 0 and one connection already queued, so the kernel drops every
        further SYN: a connect() to the address blocks until its timeout (nothing leaves loopback).
        """
        lsock = self.ref_socket("ipv4")
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(0)
        filler = self.ref_socket("ipv4")
        filler.settimeout(5)
        filler.connect(lsock.getsockname())
        return lsock, lsock.getsockname()

    @staticmethod
    def listen_backlog(sock: Any) -> int:
        """The accept-queue limit the kernel applied to listening TCP socket ``sock``.

        Read from ``TCP_INFO`` (``tcpi_sacked`` holds ``sk_max_ack_backlog`` for a listener).
        """
        with std.socket(fileno=os.dup(sock.fileno())) as view:
            info = view.getsockopt(std.IPPROTO_TCP, std.TCP_INFO, 104)
        assert info[0] == 10, "not a listening TCP socket"  # tcpi_state == TCP_LISTEN
        return struct.unpack_from("=I", info, 28)[0]

    @staticmethod
    def read_exact(sock: std.socket, nbytes: int) -> bytes:
        """Read exactly ``nbytes`` from a stdlib socket (fewer only at EOF)."""
        buf = bytearray()
        while len(buf) < nbytes:
            chunk = sock.recv(min(nbytes - len(buf), 1 << 20))
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    @staticmethod
    def read_to_eof(sock: std.socket) -> bytes:
        """Read from a stdlib socket until the peer shuts down its sending side."""
        buf = bytearray()
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return bytes(buf)
            buf += chunk

    def ref_connect(self, kind: str, address: Any) -> std.socket:
        """A tracked stdlib stream socket connected to ``address``."""
        sock = self.ref_socket(kind)
        sock.settimeout(5)
        sock.connect(std_address(kind, address))
        return sock


class Background:
    """Handle on a helper thread started by :meth:`Peers.background`."""

    def __init__(self, fn: Callable[[], Any], delay: float, name: str,
                 errors: list[BaseException]) -> None:
        self._fn = fn
        self._delay = delay
        self._errors = errors
        self._value: Any = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        if self._delay:
            time.sleep(self._delay)
        try:
            self._value = self._fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test at teardown/result
            self._error = exc
            self._errors.append(exc)

    def result(self, timeout: float = 10.0) -> Any:
        """Join the thread (at most ``timeout`` s) and return the function's value or raise."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"background {self.thread.name} did not finish"
        if self._error is not None:
            self._errors.remove(self._error)
            raise self._error
        return self._value


def face_address(kind: str, std_sockname: Any) -> Any:
    """Convert a stdlib ``getsockname()`` result into the address form the faces accept."""
    if kind == "unix":
        return std_sockname if isinstance(std_sockname, str) else std_sockname.decode()
    return (std_sockname[0], std_sockname[1])


def std_address(kind: str, address: Any) -> Any:
    """Convert a face address (tuple or path, as returned by a Kiln socket) for stdlib use."""
    if kind == "unix":
        return address
    return tuple(address)


@pytest.fixture
def peers(no_fd_leak, short_tmp) -> Peers:
    """A :class:`Peers` factory; every socket and thread it made is closed/joined at teardown."""
    p = Peers(short_tmp)
    try:
        yield p
    finally:
        p.close_all()


class SignalDriver:
    """Installs a SIGUSR1 handler and delivers SIGUSR1 to the main thread on a schedule."""

    signum = signal.SIGUSR1

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def install(self, handler: Callable[[int, Any], None]) -> None:
        """Install ``handler`` for SIGUSR1 (restored to the previous handler at teardown)."""
        signal.signal(self.signum, handler)

    def send_later(self, delays: list[float]) -> threading.Thread:
        """Deliver SIGUSR1 to the main thread at each of ``delays`` (seconds from now).

        Uses ``pthread_kill`` so the signal interrupts the main thread's blocking syscall
        (EINTR) rather than landing on an arbitrary thread.
        """
        if signal.getsignal(self.signum) in (signal.SIG_DFL, None):
            raise RuntimeError("install() a handler first: SIGUSR1's default action kills us")
        main_id = threading.main_thread().ident
        start = time.monotonic()

        def run() -> None:
            for d in delays:
                if self._stop.wait(max(0.0, start + d - time.monotonic())):
                    return
                signal.pthread_kill(main_id, self.signum)

        t = threading.Thread(target=run, name="sigusr1-sender", daemon=True)
        self._threads.append(t)
        t.start()
        return t

    def stop(self) -> None:
        """Cancel every signal not yet delivered."""
        self._stop.set()

    def join(self) -> None:
        """Cancel pending signals and wait for the sender threads to finish."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory):
    """The test PKI (``tls_pki``), made once per session with the openssl command."""
    from tls_pki import make_pki
    return make_pki(tmp_path_factory.mktemp("pki"))


class TlsServers:
    """Starts the TLS peers of ``tls_peers`` and stops every one at teardown."""

    def __init__(self, pki: Any, tmpdir: str) -> None:
        self.pki = pki
        self.tmpdir = tmpdir
        self._running: list[Any] = []

    def cpython(self, context: Any, handler: Any = None, count: int = 1, **options: Any) -> Any:
        """A CPython ``ssl`` server thread (``tls_peers.CPythonServer``)."""
        from tls_peers import CPythonServer
        server = CPythonServer(context, handler, count, **options)
        self._running.append(server)
        return server

    def openssl(self, name: str = "server-ec", extra: list[str] | None = None,
                naccept: int = 1) -> Any:
        """An ``openssl s_server -rev`` process (``tls_peers.OpenSSLServer``)."""
        from tls_peers import OpenSSLServer
        server = OpenSSLServer(self.pki, name, extra, naccept, self.tmpdir)
        self._running.append(server)
        return server

    def stop_all(self) -> None:
        for server in reversed(self._running):
            if hasattr(server, "proc"):
                if not server._log.closed:
                    server.stop()
            else:
                server.close()
        self._running.clear()


@pytest.fixture
def tls_servers(pki, short_tmp):
    """A :class:`TlsServers` factory; every server it started is stopped at teardown."""
    servers = TlsServers(pki, short_tmp)
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture
def signals():
    """A :class:`SignalDriver`; joins its sender threads, then restores the SIGUSR1 handler."""
    previous = signal.getsignal(signal.SIGUSR1)
    driver = SignalDriver()
    try:
        yield driver
    finally:
        driver.join()
        signal.signal(signal.SIGUSR1, previous)
