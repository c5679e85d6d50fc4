"""select and poll over Kiln sockets: MicroPython's ``uselect`` (``import select``/``uselect``
under ``--api micropython``) and CPython's API in ``kiln.select`` (``import select`` under
``--api zerynth``), both served by ``kiln.poll``.

The point of Kiln's own select: a socket holding bytes Kiln took from the kernel (a read that
timed out, see docs/sockets.md) is readable although the kernel's queue is empty.  Each such case
first checks that CPython's own ``select.poll`` sees nothing on the descriptor, so a pass means
the held bytes were counted.  Also: every documented call and its bad input, registered objects
of every kind (Kiln sockets of both faces and a subclass, plain descriptors, objects with
``fileno()``, MicroPython ``ioctl`` streams), one-shot ``ipoll``, hang-ups, signals, threads.
"""
from __future__ import annotations

import errno
import os
import select as std_select
import signal
import socket as std
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import kiln.select as cselect
import uselect
import usocket
from networking import socket as zsocket
from socket_faults import queued_bytes, reset

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")

FACES = {"zerynth": zsocket, "usocket": usocket}
HELD = b"held-bytes"          # what the timed-out read takes and Kiln keeps
LONG_MS = 5000                 # a wait that only ends early if the object is ready


class Pair:
    """A connected Kiln socket ``k`` of one face and its stdlib peer ``peer``."""

    def __init__(self, face: str, cls=None):
        module = FACES[face]
        self.face = face
        with std.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            self.k = (cls or module.socket)()
            self.k.connect(listener.getsockname())
            self.peer, _ = listener.accept()

    def hold(self, data: bytes = HELD) -> None:
        """Make ``k`` hold ``data``: a read waiting for more times out after taking it."""
        self.peer.sendall(data)
        if self.face == "zerynth":
            self.k.settimeout(50)                 # ms
            with pytest.raises(TimeoutError):
                self.k.recv(len(data) + 100)      # waits for len + 100 bytes
        else:
            self.k.settimeout(0.05)               # s
            with pytest.raises(OSError) as info:
                self.k.read(len(data) + 100)
            assert info.value.args[0] == errno.ETIMEDOUT
        assert self.k.pending() == len(data)
        assert queued_bytes(self.k.fileno()) == 0
        # CPython's own poll cannot see them: the kernel has nothing for this descriptor.
        std_poll = std_select.poll()
        std_poll.register(self.k.fileno(), std_select.POLLIN)
        assert std_poll.poll(0) == []

    def read_held(self) -> bytes:
        self.k.settimeout(0)
        return bytes(self.k.recv(100))

    def close(self) -> None:
        self.k.close()
        self.peer.close()

    def __enter__(self) -> "Pair":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture(params=sorted(FACES))
def pair(request):
    p = Pair(request.param)
    yield p
    p.close()


# ---- held bytes make a socket readable ----------------------------------------------------------

def test_uselect_poll_reports_held_bytes(pair):
    pair.hold()
    p = uselect.poll()
    p.register(pair.k, uselect.POLLIN)
    assert p.poll(LONG_MS) == [(pair.k, uselect.POLLIN)]
    assert p.poll(-1) == [(pair.k, uselect.POLLIN)]          # no limit: still at once
    assert [(o, e) for o, e in p.ipoll(LONG_MS)] == [(pair.k, uselect.POLLIN)]
    assert pair.read_held() == HELD
    assert pair.k.pending() == 0
    assert p.poll(0) == []


def test_uselect_select_reports_held_bytes(pair):
    pair.hold()
    assert uselect.select([pair.k], [], [], LONG_MS / 1000) == ([pair.k], [], [])
    assert uselect.select([pair.k], [], [], None) == ([pair.k], [], [])
    assert pair.read_held() == HELD
    assert uselect.select([pair.k], [], [], 0) == ([], [], [])


def test_kiln_select_poll_reports_held_bytes_by_descriptor(pair):
    pair.hold()
    p = cselect.poll()
    p.register(pair.k, cselect.POLLIN)
    assert p.poll(LONG_MS) == [(pair.k.fileno(), cselect.POLLIN)]
    assert p.poll() == [(pair.k.fileno(), cselect.POLLIN)]
    assert pair.read_held() == HELD
    assert p.poll(0) == []


def test_kiln_select_select_reports_held_bytes(pair):
    pair.hold()
    assert cselect.select([pair.k], [], [], LONG_MS / 1000) == ([pair.k], [], [])
    assert cselect.select([pair.k], [pair.k], [pair.k], None) == ([pair.k], [pair.k], [])
    assert pair.read_held() == HELD
    assert cselect.select([pair.k], [], [], 0) == ([], [], [])


def test_held_bytes_only_count_for_pollin(pair):
    pair.hold()
    p = uselect.poll()
    p.register(pair.k, uselect.POLLOUT)
    assert p.poll(0) == [(pair.k, uselect.POLLOUT)]        # writable, not "readable"
    p.modify(pair.k, 0)
    assert p.poll(0) == []
    p.modify(pair.k, uselect.POLLIN | uselect.POLLOUT)
    assert p.poll(0) == [(pair.k, uselect.POLLIN | uselect.POLLOUT)]
    assert pair.read_held() == HELD


@pytest.mark.parametrize("face", sorted(FACES))
def test_subclass_of_a_kiln_socket_with_held_bytes(face):
    class Mine(FACES[face].socket):
        pass

    p = Pair(face, Mine)
    try:
        p.hold()
        assert type(p.k) is Mine
        assert uselect.select([p.k], [], [], LONG_MS / 1000)[0] == [p.k]
        poller = uselect.poll()
        poller.register(p.k, uselect.POLLIN)
        assert poller.poll(LONG_MS) == [(p.k, uselect.POLLIN)]
        assert p.read_held() == HELD
    finally:
        p.close()


def test_held_bytes_wake_a_poll_waiting_on_other_objects(pair):
    """An idle socket and one holding bytes: poll returns the holder only, at once."""
    other = Pair(pair.face)
    try:
        pair.hold()
        p = uselect.poll()
        p.register(other.k, uselect.POLLIN)
        p.register(pair.k, uselect.POLLIN)
        assert p.poll(LONG_MS) == [(pair.k, uselect.POLLIN)]
    finally:
        other.close()


# ---- the kernel side --------------------------------------------------------------------------

def test_poll_waits_for_data_from_another_thread(pair):
    p = uselect.poll()
    p.register(pair.k, uselect.POLLIN)
    assert p.poll(0) == []
    timer = threading.Timer(0.05, pair.peer.sendall, (b"late",))
    timer.start()
    try:
        assert p.poll(LONG_MS) == [(pair.k, uselect.POLLIN)]
    finally:
        timer.join()
    pair.k.settimeout(None)
    assert bytes(pair.k.recv(4)) == b"late"


def test_poll_timeout_returns_empty_list(pair):
    p = uselect.poll()
    p.register(pair.k, uselect.POLLIN)
    assert p.poll(20) == []
    assert p.poll(0.5) == []                # a float of ms is fine
    assert list(p.ipoll(20)) == []
    assert cselect.poll().poll(1) == []
    assert uselect.select([pair.k], [], [], 0.02) == ([], [], [])


def test_register_default_mask_and_reregistering_modifies(pair):
    p = uselect.poll()
    p.register(pair.k)                       # POLLIN | POLLOUT
    assert p.poll(0) == [(pair.k, uselect.POLLOUT)]
    pair.peer.sendall(b"x")
    assert p.poll(LONG_MS) == [(pair.k, uselect.POLLIN | uselect.POLLOUT)]
    p.register(pair.k, uselect.POLLIN)      # registering again = modify
    assert p.poll(0) == [(pair.k, uselect.POLLIN)]
    assert len(p) == 1


def test_unregister_and_modify_of_unknown_objects(pair):
    p = uselect.poll()
    p.unregister(pair.k)                     # MicroPython: ignored
    with pytest.raises(OSError) as info:
        p.modify(pair.k, uselect.POLLIN)
    assert info.value.args[0] == errno.ENOENT
    p.register(pair.k, uselect.POLLOUT)
    p.unregister(pair.k)
    assert p.poll(0) == []


def test_ipoll_one_shot_clears_the_mask_until_modify(pair):
    p = uselect.poll()
    p.register(pair.k, uselect.POLLOUT)
    assert [(o, e) for o, e in p.ipoll(0, 1)] == [(pair.k, uselect.POLLOUT)]
    assert list(p.ipoll(0, 1)) == []         # mask is 0 now
    assert p.poll(0) == []
    p.modify(pair.k, uselect.POLLOUT)
    assert list(p.ipoll(0)) == [(pair.k, uselect.POLLOUT)]
    assert list(p.ipoll(0)) == [(pair.k, uselect.POLLOUT)]   # without the flag: stays


def test_ipoll_skips_objects_unregistered_during_iteration(pair):
    other = Pair(pair.face)
    try:
        p = uselect.poll()
        p.register(pair.k, uselect.POLLOUT)
        p.register(other.k, uselect.POLLOUT)
        seen = []
        for obj, ev in p.ipoll(0):
            seen.append(obj)
            p.unregister(other.k if obj is pair.k else pair.k)
        assert len(seen) == 1
    finally:
        other.close()


def test_hangup_and_error_are_reported_even_with_mask_0(pair):
    p = uselect.poll()
    p.register(pair.k, 0)
    assert p.poll(0) == []
    reset(pair.peer)                         # RST
    ((obj, ev),) = p.poll(LONG_MS)
    assert obj is pair.k and ev & (uselect.POLLHUP | uselect.POLLERR)
    assert ev & ~(uselect.POLLHUP | uselect.POLLERR) == 0


def test_eof_is_readable(pair):
    pair.peer.shutdown(std.SHUT_WR)
    assert uselect.select([pair.k], [], [], LONG_MS / 1000)[0] == [pair.k]
    pair.k.settimeout(None)
    assert bytes(pair.k.recv(10)) == b""


def test_closed_socket_after_registration_reports_pollnval(pair):
    p = uselect.poll()
    p.register(pair.k, uselect.POLLIN)
    os.close(pair.k.detach())                # the number stays free: nothing else opens
    assert p.poll(0) == [(pair.k, 0x20)]      # POLLNVAL


# ---- objects of every kind ----------------------------------------------------------------------

def test_plain_descriptors_and_fileno_objects():
    r, w = os.pipe()
    try:
        with open(w, "wb", buffering=0, closefd=False) as wfile:
            p = uselect.poll()
            p.register(r, uselect.POLLIN)
            p.register(wfile, uselect.POLLOUT)
            assert p.poll(0) == [(wfile, uselect.POLLOUT)]
            os.write(w, b"z")
            assert sorted(p.poll(0), key=lambda t: str(t[0])) == sorted(
                [(r, uselect.POLLIN), (wfile, uselect.POLLOUT)], key=lambda t: str(t[0]))
            assert uselect.select([r], [wfile], [], 0) == ([r], [wfile], [])
            c = cselect.poll()
            c.register(wfile, cselect.POLLOUT)
            c.register(r)
            assert sorted(c.poll(0)) == sorted([(w, cselect.POLLOUT), (r, cselect.POLLIN)])
    finally:
        os.close(r)
        os.close(w)


def test_same_descriptor_through_two_objects():
    """MicroPython keys registrations by object: an int and a socket with the same fd are two."""
    with Pair("usocket") as pair:
        fd = pair.k.fileno()
        p = uselect.poll()
        p.register(pair.k, uselect.POLLOUT)
        p.register(fd, uselect.POLLOUT)
        assert sorted(p.poll(0), key=lambda t: isinstance(t[0], int)) == [
            (pair.k, uselect.POLLOUT), (fd, uselect.POLLOUT)]
        # CPython's poll keys by descriptor: the second registration replaces the first.
        c = cselect.poll()
        c.register(pair.k, cselect.POLLOUT)
        c.register(fd, cselect.POLLOUT)
        assert c.poll(0) == [(fd, cselect.POLLOUT)]
        c.unregister(pair.k)
        assert c.poll(0) == []


class IoctlFlag:
    """A MicroPython-style stream without a descriptor: readiness through ``ioctl``."""

    def __init__(self):
        self.ready = False
        self.calls = 0

    def ioctl(self, req, arg):
        self.calls += 1
        assert req == 3                       # MP_STREAM_POLL
        return arg & uselect.POLLIN if self.ready else 0


def test_ioctl_stream_object_is_polled():
    flag = IoctlFlag()
    p = uselect.poll()
    p.register(flag, uselect.POLLIN)
    assert p.poll(0) == []
    timer = threading.Timer(0.05, setattr, (flag, "ready", True))
    timer.start()
    try:
        assert p.poll(LONG_MS) == [(flag, uselect.POLLIN)]
    finally:
        timer.join()
    assert flag.calls >= 2
    assert uselect.select([flag], [], [], 0) == ([flag], [], [])


def test_ioctl_returning_garbage_is_refused():
    class Bad:
        def ioctl(self, req, arg):
            return "yes"

    p = uselect.poll()
    p.register(Bad(), uselect.POLLIN)
    with pytest.raises(TypeError, match="ioctl"):
        p.poll(0)


# ---- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("obj,exc,words", [
    ("sock", TypeError, "argument 'obj'"),
    (None, TypeError, "argument 'obj'"),
    (3.0, TypeError, "argument 'obj'"),
    (True, TypeError, "argument 'obj'"),
    (-1, ValueError, ">= 0"),
    (2**40, OverflowError, "out of range"),
])
def test_register_refuses_what_cannot_be_polled(obj, exc, words):
    with pytest.raises(exc, match=words):
        uselect.poll().register(obj)
    with pytest.raises(exc):
        uselect.select([obj], [], [], 0)


def test_fileno_returning_garbage_is_refused():
    class Odd:
        def fileno(self):
            return "three"

    with pytest.raises(TypeError, match="fileno"):
        uselect.poll().register(Odd())


@pytest.mark.parametrize("face", sorted(FACES))
def test_closed_socket_is_refused(face):
    s = FACES[face].socket()
    s.close()
    with pytest.raises(OSError) as info:
        uselect.poll().register(s)
    assert info.value.errno == errno.EBADF and "closed" in str(info.value)
    with pytest.raises(OSError) as info:
        uselect.select([s], [], [], 0)
    assert info.value.errno == errno.EBADF
    # CPython's select refuses a negative descriptor with ValueError.
    with pytest.raises(ValueError, match="negative"):
        cselect.select([s], [], [], 0)
    with pytest.raises(ValueError, match="negative"):
        cselect.poll().register(s)


@pytest.mark.parametrize("mask,exc", [("1", TypeError), (1.0, TypeError), (None, TypeError),
                                      (True, TypeError), (-1, ValueError),
                                      (1 << 16, ValueError)])
def test_bad_event_masks(pair, mask, exc):
    p = uselect.poll()
    with pytest.raises(exc, match="eventmask"):
        p.register(pair.k, mask)
    p.register(pair.k)
    with pytest.raises(exc, match="eventmask"):
        p.modify(pair.k, mask)


@pytest.mark.parametrize("timeout,exc", [("1", TypeError), (True, TypeError), ([], TypeError),
                                         (float("nan"), ValueError), (1e300, ValueError)])
def test_bad_timeouts(timeout, exc):
    p = uselect.poll()
    with pytest.raises(exc, match="timeout"):
        p.poll(timeout)
    with pytest.raises(exc, match="timeout"):
        p.ipoll(timeout)
    with pytest.raises(exc, match="timeout"):
        uselect.select([], [], [], timeout)
    with pytest.raises(exc, match="timeout"):
        cselect.select([], [], [], timeout)
    with pytest.raises(exc, match="timeout"):
        cselect.poll().poll(timeout)


def test_negative_timeouts_per_face(pair):
    pair.peer.sendall(b"x")
    p = uselect.poll()
    p.register(pair.k, uselect.POLLIN)
    assert p.poll(-5) == [(pair.k, uselect.POLLIN)]           # MicroPython: no limit
    assert uselect.select([pair.k], [], [], -1)[0] == [pair.k]
    c = cselect.poll()
    c.register(pair.k, cselect.POLLIN)
    assert c.poll(-1) == [(pair.k.fileno(), cselect.POLLIN)]   # CPython poll: no limit
    with pytest.raises(ValueError, match="timeout"):
        cselect.select([pair.k], [], [], -1)                   # CPython select: refused


def test_ipoll_bad_flags():
    with pytest.raises(TypeError, match="flags"):
        uselect.poll().ipoll(0, "1")


def test_select_lists_must_be_iterables():
    with pytest.raises(TypeError, match="rlist"):
        uselect.select(3, [], [], 0)
    with pytest.raises(TypeError, match="xlist"):
        cselect.select([], [], None, 0)


def test_select_on_a_descriptor_that_is_not_open():
    r, w = os.pipe()
    os.close(w)
    os.close(r)
    with pytest.raises(OSError) as info:
        uselect.select([r], [], [], 0)
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        cselect.select([r], [], [], 0)
    assert info.value.errno == errno.EBADF


def test_kiln_select_poll_errors_as_cpython(pair):
    c = cselect.poll()
    with pytest.raises(KeyError):
        c.unregister(pair.k)
    with pytest.raises(OSError) as info:
        c.modify(pair.k, cselect.POLLIN)
    assert info.value.errno == errno.ENOENT
    with pytest.raises(TypeError, match="'fd'"):
        c.register("x")
    with pytest.raises(ValueError, match="negative"):
        c.register(-3)


# ---- signals and threads --------------------------------------------------------------------

class HandlerError(Exception):
    pass


def test_signal_handler_exception_ends_the_wait(pair):
    p = uselect.poll()
    p.register(pair.k, uselect.POLLIN)

    def handler(signum, frame):
        raise HandlerError()

    previous = signal.signal(signal.SIGUSR1, handler)
    timer = threading.Timer(0.05, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGUSR1))
    timer.start()
    try:
        with pytest.raises(HandlerError):
            p.poll(-1)
        p2 = uselect.poll()
        p2.register(pair.k, uselect.POLLIN)
        timer2 = threading.Timer(0.05, signal.pthread_kill,
                                 (threading.main_thread().ident, signal.SIGUSR1))
        timer2.start()
        with pytest.raises(HandlerError):
            uselect.select([pair.k], [], [])
        timer2.join()
    finally:
        timer.join()
        signal.signal(signal.SIGUSR1, previous)


def test_signal_handler_that_returns_keeps_waiting(pair):
    """EINTR is retried (PEP 475): the poll goes on and returns the data sent later."""
    calls = []
    previous = signal.signal(signal.SIGUSR1, lambda *a: calls.append(1))

    def later():
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
        time.sleep(0.05)
        pair.peer.sendall(b"after")

    p = uselect.poll()
    p.register(pair.k, uselect.POLLIN)
    thread = threading.Thread(target=later)
    thread.start()
    try:
        assert p.poll(LONG_MS) == [(pair.k, uselect.POLLIN)]
    finally:
        thread.join()
        signal.signal(signal.SIGUSR1, previous)
    assert calls == [1]


def test_register_from_another_thread_during_a_poll(pair):
    """Changes made while a poll waits (GIL released) are safe and apply to the next poll."""
    other = Pair(pair.face)
    try:
        p = uselect.poll()
        p.register(pair.k, uselect.POLLIN)

        def meddle():
            time.sleep(0.02)
            for _ in range(200):
                p.register(other.k, uselect.POLLOUT)
                p.unregister(other.k)
            p.register(other.k, uselect.POLLOUT)
            pair.peer.sendall(b"go")

        thread = threading.Thread(target=meddle)
        thread.start()
        assert p.poll(LONG_MS) == [(pair.k, uselect.POLLIN)]
        thread.join()
        assert sorted(p.poll(0), key=lambda t: t[0] is other.k) == [
            (pair.k, uselect.POLLIN), (other.k, uselect.POLLOUT)]
    finally:
        other.close()


def test_one_poll_object_polled_by_two_threads_at_once(pair):
    p = uselect.poll()
    p.register(pair.k, uselect.POLLIN)
    waiter = threading.Thread(target=p.poll, args=(LONG_MS,))
    waiter.start()
    try:
        deadline = time.monotonic() + LONG_MS / 1000
        while True:          # until the waiter is inside its poll
            try:
                p.poll(0)
            except RuntimeError as e:
                assert "another thread" in str(e)
                break
            assert time.monotonic() < deadline, "the other thread never polled"
            time.sleep(0.005)
    finally:
        pair.peer.sendall(b"wake")
        waiter.join()


# ---- the faces as apps import them -------------------------------------------------------------

def _run_app(tmp_path, source, api):
    (tmp_path / "main.py").write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "kiln.app", "--api", api,
                           str(tmp_path / "main.py")], capture_output=True, text=True,
                          timeout=60)


def test_micropython_app_imports_select_and_uselect(tmp_path):
    r = _run_app(tmp_path, """
        import select, uselect, socket
        print(select is uselect, select.__name__)
        print(sorted(n for n in dir(select) if not n.startswith("_")))
        s = socket.socket()
        p = select.poll()
        p.register(s, select.POLLOUT)
        print(p.poll(0)[0][0] is s)
        s.close()
    """, "micropython")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "True uselect",
        "['POLLERR', 'POLLHUP', 'POLLIN', 'POLLOUT', 'poll', 'select']",
        "True",
    ]


def test_zerynth_app_imports_cpython_select_counting_held_bytes(tmp_path):
    r = _run_app(tmp_path, """
        import select
        import selectors
        import socket
        print(select.__name__, selectors.select.__name__)
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        s = socket.socket()
        s.connect(srv.getsockname())
        conn, _ = srv.accept()
        conn.send("abc")
        s.settimeout(50)
        try:
            s.recv(10)                       # waits for 10 bytes: times out holding 3
        except TimeoutError:
            print("held", s.pending())
        print(select.select([s], [], [], 5) == ([s], [], []))
        p = select.poll()
        p.register(s, select.POLLIN)
        print(p.poll(5000) == [(s.fileno(), select.POLLIN)])
        print(s.recv(3))
        for x in (s, conn, srv):
            x.close()
    """, "zerynth")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["kiln.select select", "held 3", "True", "True",
                                     "bytearray(b'abc')"]
