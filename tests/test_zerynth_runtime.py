"""The Zerynth runtime face (``kiln.zerynth``): builtins, ``streams``, ``timers``, ``threading``.

Each name is checked against what Zerynth's standard library documents (core-zerynth-stdlib's
``__builtins__.py``, ``streams.py``, ``timers.py``, ``threading.py``; docs-v3), with bad
arguments refused by a clear exception.  Streams run over real sockets on loopback (a Kiln
Zerynth socket against a CPython peer) and over a real process's standard input and output;
programs run under the launcher (``python -m kiln.app``) where the behaviour is the program's
(threads keeping it alive, an exception ending it, ``new_exception`` across modules).
"""
from __future__ import annotations

import io
import math
import os
import socket as std
import subprocess
import sys
import textwrap
import threading as std_threading
import time

import pytest

from kiln.errors import UnsupportedError
from kiln.zerynth import builtins as zb
from kiln.zerynth import streams, timers
from kiln.zerynth import threading as zthreading
from kiln.zerynth.zbytes import zbytearray

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")


def run_app(tmp_path, source, extra=None, stdin=None, timeout=60):
    """Run ``source`` as main.py under the launcher (Zerynth face); the CompletedProcess."""
    (tmp_path / "main.py").write_text(textwrap.dedent(source))
    for name, text in (extra or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return subprocess.run([sys.executable, "-m", "kiln.app", str(tmp_path / "main.py")],
                          input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def default_stream():
    """Restore print's default stream after the test."""
    saved = zb.default_stream()
    yield
    zb.set_default_stream(saved)


class Collect:
    """A stream that keeps what is written to it."""

    def __init__(self):
        self.parts = []

    def write(self, s):
        self.parts.append(s)
        return len(s)

    @property
    def text(self):
        return "".join(self.parts)


# --- constants --------------------------------------------------------------------------------
def test_constants_have_zerynths_values():
    assert (zb.NANOS, zb.MICROS, zb.MILLIS, zb.SECONDS) == (0, 1, 2, 3)
    assert [zb.PRIO_IDLE, zb.PRIO_LOWEST, zb.PRIO_LOWER, zb.PRIO_LOW, zb.PRIO_NORMAL,
            zb.PRIO_HIGH, zb.PRIO_HIGHER, zb.PRIO_HIGHEST] == list(range(8))
    assert (zb.SERIAL0, zb.SERIAL7) == (0, 7)


def test_app_sees_the_builtins_without_importing_them(tmp_path):
    r = run_app(tmp_path, """
        print(MILLIS, MICROS, SECONDS, PRIO_NORMAL, PRIO_HIGHEST, SERIAL0)
        print(callable(thread), callable(random), callable(new_exception), hex(255))
        print(issubclass(UnsupportedError, RuntimeError), issubclass(InvalidPinError,
              PeripheralError), IOError is OSError)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["2 1 3 4 7 0", "True True True 0xff", "True True True"]


# --- sleep ------------------------------------------------------------------------------------
@pytest.mark.parametrize("amount, unit, seconds", [
    (120, None, 0.12), (120, zb.MILLIS, 0.12), (120_000, zb.MICROS, 0.12),
    (300, zb.MICROS, 0.0003), (0.15, zb.SECONDS, 0.15), (200_000, zb.NANOS, 0.0002)])
def test_sleep_waits_at_least_the_time_in_its_unit(amount, unit, seconds):
    start = time.monotonic()
    zb.sleep(amount) if unit is None else zb.sleep(amount, unit)
    assert time.monotonic() - start >= seconds


def test_sleep_lets_other_threads_run():
    ticks = []
    t = std_threading.Thread(target=lambda: [ticks.append(1) or time.sleep(0.01)
                                             for _ in range(5)])
    t.start()
    zb.sleep(200)
    t.join()
    assert len(ticks) == 5


@pytest.mark.parametrize("args, exc, text", [
    ((-1,), ValueError, "time must be a finite number >= 0"),
    ((math.nan,), ValueError, "time"), ((math.inf,), ValueError, "time"),
    (("10",), TypeError, "time must be a number"), ((True,), TypeError, "time"),
    ((10, 7), ValueError, "time_unit must be"), ((10, "ms"), ValueError, "time_unit"),
    ((10, True), ValueError, "time_unit")])
def test_sleep_refuses_bad_arguments(args, exc, text):
    with pytest.raises(exc, match=text):
        zb.sleep(*args)


# --- random -----------------------------------------------------------------------------------
def test_random_without_arguments_is_a_32_bit_integer():
    values = [zb.random() for _ in range(2000)]
    assert all(isinstance(v, int) and 0 <= v < 2**32 for v in values)
    assert max(values) > 2**31 and len(set(values)) > 1990


def test_random_a_b_covers_the_closed_range():
    values = [zb.random(0, 3) for _ in range(2000)]
    assert set(values) == {0, 1, 2, 3}
    assert zb.random(5, 5) == 5
    assert -10 <= zb.random(-10, -7) <= -7
    big = zb.random(0, 2**100)
    assert 0 <= big <= 2**100


@pytest.mark.parametrize("args, exc, text", [
    ((1,), TypeError, "no arguments or two"), ((1, 2, 3), TypeError, "no arguments or two"),
    ((3, 1), ValueError, "a must be <= b"), ((1.0, 2), TypeError, "a must be an int"),
    ((1, "2"), TypeError, "b must be an int"), ((True, 2), TypeError, "a must be an int")])
def test_random_refuses_bad_arguments(args, exc, text):
    with pytest.raises(exc, match=text):
        zb.random(*args)


# --- hex --------------------------------------------------------------------------------------
def test_hex_with_prefix():
    assert zb.hex(255) == "0xff" and zb.hex(-42) == "-0x2a" and zb.hex(0) == "0x0"
    assert zb.hex(255, "") == "ff" and zb.hex(4096, prefix="$") == "$1000"
    with pytest.raises(TypeError, match="x must be an integer"):
        zb.hex(1.5)
    with pytest.raises(TypeError, match="prefix must be a str"):
        zb.hex(1, 0)


# --- new_exception ----------------------------------------------------------------------------
def test_new_exception_makes_a_subclass_with_its_message():
    cls = zb.new_exception("SensorError", ValueError, "sensor did not answer")
    assert cls.__name__ == "SensorError" and issubclass(cls, ValueError)
    assert str(cls()) == "sensor did not answer" and str(cls("other")) == "other"
    bare = zb.new_exception("Bare", OSError)
    assert issubclass(bare, OSError) and str(bare(5, "x")) == "[Errno 5] x"


@pytest.mark.parametrize("args, exc, text", [
    ((1, ValueError), TypeError, "name must be a str"),
    (("not valid", ValueError), ValueError, "name must be an identifier"),
    (("E", int), TypeError, "parent must be an exception class"),
    (("E", "ValueError"), TypeError, "parent must be an exception class"),
    (("E", ValueError, 3), TypeError, "msg must be a str")])
def test_new_exception_refuses_bad_arguments(args, exc, text):
    with pytest.raises(exc, match=text):
        zb.new_exception(*args)


def test_new_exception_statement_defines_a_program_wide_name(tmp_path):
    r = run_app(tmp_path, """
        import errors_mod
        new_exception(LocalError, errors_mod.ModError, "local failure")
        try:
            errors_mod.fail()
        except ModError as e:              # defined in another module, visible by name here
            print("caught", type(e).__name__, e, issubclass(ModError, IOError))
        try:
            raise LocalError
        except ModError as e:
            print("caught", type(e).__name__, e)
        def inner():
            new_exception(InnerError, Exception)
            return InnerError
        print(inner() is InnerError)
    """, extra={"errors_mod.py": """
        new_exception(ModError, IOError, "module failure")
        def fail():
            raise ModError
    """})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["caught ModError module failure True",
                                     "caught LocalError local failure", "True"]


# --- print and the default stream ------------------------------------------------------------
def test_print_writes_to_a_stream_in_one_write(default_stream):
    out = Collect()
    zb.print("a", 1, [2], stream=out)
    zb.print("x", "y", sep="-", end="!", stream=out)
    zb.print(stream=out)
    assert out.parts == ["a 1 [2]\n", "x-y!", "\n"]


def test_print_default_stream_and_none_discards(default_stream, capsys):
    zb.print("to the console")
    assert capsys.readouterr().out == "to the console\n"
    out = Collect()
    zb.set_default_stream(out)
    zb.print("to out")
    zb.set_default_stream(None)
    zb.print("discarded")
    assert out.text == "to out\n" and capsys.readouterr().out == ""
    buf = io.StringIO()
    zb.print("file", file=buf)                  # CPython's keyword still works
    assert buf.getvalue() == "file\n"


def test_print_refuses_bad_arguments(default_stream):
    with pytest.raises(TypeError, match="sep must be None or a str"):
        zb.print("a", sep=1, stream=Collect())
    with pytest.raises(TypeError, match="end must be None or a str"):
        zb.print("a", end=b"\n", stream=Collect())
    with pytest.raises(AttributeError):
        zb.print("a", stream=42)
    with pytest.raises(TypeError, match="write"):
        zb.set_default_stream(42)


def test_app_changes_the_default_stream_through_builtins(tmp_path):
    r = run_app(tmp_path, """
        import streams
        class Upper:
            def write(self, s):
                streams.serial(set_default=False).write(s.upper())
        __builtins__.__default_stream = Upper()
        print("shouted")
        __builtins__.__default_stream = None
        print("lost")
        streams.serial()                 # back to the console, as Zerynth programs start
        print("plain", __default_stream is not None)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["SHOUTED", "plain True"]


# --- thread -----------------------------------------------------------------------------------
def test_thread_runs_fun_with_args_and_returns_the_started_thread():
    done = std_threading.Event()
    seen = []

    def fun(a, b):
        seen.append((a, b, std_threading.current_thread()))
        done.set()

    t = zb.thread(fun, 1, "two")
    assert done.wait(5)
    t.join(5)
    assert isinstance(t, std_threading.Thread) and not t.is_alive()
    assert seen == [(1, "two", t)] and t is not std_threading.main_thread()


@pytest.mark.parametrize("prio, nice", [(zb.PRIO_LOWEST, 15), (zb.PRIO_LOW, 5),
                                        (zb.PRIO_NORMAL, 0), (zb.PRIO_HIGHEST, -15)])
def test_thread_priority_is_the_threads_nice_value(prio, nice):
    assert os.geteuid() == 0, "raising a thread's priority needs root: run the tests as root"
    base = os.getpriority(os.PRIO_PROCESS, os.getpid())
    got = []
    t = zb.thread(lambda: got.append(os.getpriority(os.PRIO_PROCESS,
                                                    std_threading.get_native_id())), prio=prio)
    t.join(5)
    assert got == [max(-20, min(19, base + nice))]
    assert os.getpriority(os.PRIO_PROCESS, os.getpid()) == base   # only the thread changed


@pytest.mark.parametrize("args, kwargs, exc, text", [
    ((42,), {}, TypeError, "fun must be callable"),
    ((print,), {"prio": 8}, ValueError, "prio must be PRIO_IDLE"),
    ((print,), {"prio": -1}, ValueError, "prio must be"),
    ((print,), {"prio": "high"}, TypeError, "prio must be an int"),
    ((print,), {"size": 1.5}, TypeError, "size must be an int")])
def test_thread_refuses_bad_arguments(args, kwargs, exc, text):
    with pytest.raises(exc, match=text):
        zb.thread(*args, **kwargs)


def test_threads_keep_the_program_alive_after_main_returns(tmp_path):
    r = run_app(tmp_path, """
        def worker(n, delay):
            for i in range(3):
                print("thread", n, i)
                sleep(delay)
        thread(worker, 1, 50)
        thread(worker, 2, 80)
        print("main done")
    """)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] in ("main done", "thread 1 0", "thread 2 0")
    assert sorted(lines) == sorted(["main done"] + [f"thread {n} {i}" for n in (1, 2)
                                                    for i in range(3)])


def test_an_exception_in_main_ends_the_program_with_its_threads(tmp_path):
    start = time.monotonic()
    r = run_app(tmp_path, """
        def forever():
            while True:
                sleep(100)
        thread(forever)
        sleep(200)
        raise ValueError("main failed")
    """, timeout=30)
    assert r.returncode == 1 and "ValueError: main failed" in r.stderr
    assert time.monotonic() - start < 25


def test_an_exception_in_a_thread_is_printed_and_the_program_goes_on(tmp_path):
    r = run_app(tmp_path, """
        def bad():
            raise KeyError("in thread")
        t = thread(bad)
        t.join()
        print("main goes on")
    """)
    assert r.returncode == 0
    assert "KeyError: 'in thread'" in r.stderr and r.stdout == "main goes on\n"


# --- zbytearray -------------------------------------------------------------------------------
def test_zbytearray_compares_and_searches_with_str():
    line = zbytearray(b"GET /index.html HTTP/1.1\r\n")
    assert line != "\r\n" and zbytearray(b"\r\n") == "\r\n" and "\r\n" == zbytearray(b"\r\n")
    assert line == b"GET /index.html HTTP/1.1\r\n" and line != "GET"
    assert line.startswith("GET") and line.endswith("\r\n") and "index" in line
    assert line.find("HTTP") == 16 and line.count("/") == 2 and line.index(" ") == 3
    assert line[:3] == "GET" and isinstance(line[:3], zbytearray) and line[0] == ord("G")
    assert line.split(" ")[1] == "/index.html" and line.strip() == "GET /index.html HTTP/1.1"
    assert line.rstrip("\r\n").lower().endswith("http/1.1")
    assert repr(zbytearray(b"ok")) == "bytearray(b'ok')" == str(zbytearray(b"ok"))
    assert zbytearray("caf\u00e9".encode()) == "caf\u00e9" and zbytearray(b"x") != "\udc80"


# --- streams.serial: the console --------------------------------------------------------------
def test_serial_is_the_console_and_the_default_stream(tmp_path):
    r = run_app(tmp_path, """
        import streams
        s = streams.serial()
        print("via print")
        n = s.write("direct\\n")
        s.write(b"bytes\\n")
        print(n, s.baud, s.drvname == SERIAL0)
        line = s.readline()
        print("line", line, line == "first line\\n")
        print("read", s.read(3), "available", s.available())
        print("rest", s.readline(), "eof", s.read(5))
        s.close()
        try:
            s.write("x")
        except OSError as e:
            print("closed", e.errno)
    """, stdin="first line\nabcdef\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "via print", "direct", "bytes", "7 115200 True",
        "line bytearray(b'first line\\n') True", "read bytearray(b'abc') available 4",
        "rest bytearray(b'def\\n') eof bytearray(b'')", "closed 9"]


def test_serial_readline_with_a_buffer_and_a_separator(tmp_path):
    r = run_app(tmp_path, """
        import streams
        s = streams.serial(set_default=False)
        buf = bytearray(b"> ")
        print(s.readline(";", buffer=buf, size=10, ofs=2), buf)
        print(s.readline(sep=";"))
        print(s.readline(buffer=bytearray(4)))     # cut at the buffer's size
    """, stdin="ab;cd;longline\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["bytearray(b'> ab;') bytearray(b'> ab;')",
                                     "bytearray(b'cd;')", "bytearray(b'long')"]


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"drvname": zb.SERIAL1}, UnsupportedError, "SERIAL1 does not exist"),
    ({"drvname": "ser1"}, TypeError, "drvname must be an int"),
    ({"baud": 0}, ValueError, "baud must be >= 1"), ({"baud": 9600.0}, TypeError, "baud"),
    ({"parity": 5}, ValueError, "parity must be one of"),
    ({"stopbits": 3}, ValueError, "stopbits"), ({"bitsize": 1}, ValueError, "bitsize"),
    ({"rxsize": -1}, ValueError, "rxsize"), ({"set_default": 1}, TypeError, "set_default")])
def test_serial_refuses_bad_arguments(kwargs, exc, text, default_stream):
    with pytest.raises(exc, match=text):
        streams.serial(**kwargs)


def test_stream_base_class_and_argument_checks(default_stream):
    s = streams.serial(set_default=False)
    with pytest.raises(ValueError, match="sep must be one character"):
        s.readline(sep="ab")
    with pytest.raises(ValueError, match="size must be >= 0"):
        s.read(-1)
    with pytest.raises(TypeError, match="buffer must be a bytearray"):
        s.readline(buffer=b"xx", size=2)
    with pytest.raises(ValueError, match="must be larger than ofs"):
        s.readline(buffer=bytearray(4), size=4, ofs=4)
    with pytest.raises(TypeError, match="buffer must be str, bytes or bytearray"):
        s.write(12)
    with pytest.raises(NotImplementedError):
        streams.stream().read(1)


# --- streams.SocketStream over real sockets ---------------------------------------------------
@pytest.fixture
def pair():
    """``(kiln, peer)``: a connected Kiln Zerynth socket and its CPython peer on loopback."""
    from networking import socket as zsocket
    listener = std.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    kiln = zsocket.socket()
    kiln.connect(listener.getsockname())
    peer, _ = listener.accept()
    listener.close()
    peer.settimeout(10)
    yield kiln, peer
    kiln.close()
    peer.close()


def test_socketstream_reads_lines_then_the_socket_directly(pair):
    kiln, peer = pair
    peer.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY;more")
    client = streams.SocketStream(kiln)
    lines = []
    line = client.readline()
    while line != "\n" and line != "\r\n":      # Mini_Web_Server's loop, as written
        lines.append(line)
        line = client.readline()
    assert lines == ["GET / HTTP/1.1\r\n", "Host: x\r\n"]
    assert client.readline(sep=";") == "BODY;"
    assert kiln.recv(4) == bytearray(b"more")   # nothing was read past the line
    peer.sendall(b"12345678")
    assert client.read(5) == "12345" and client.read(3) == "678"
    peer.shutdown(std.SHUT_WR)
    assert client.readline() == "" and client.read(4) == ""


def test_socketstream_write_and_print_to_it(pair, default_stream):
    kiln, peer = pair
    client = streams.SocketStream(kiln)
    assert client.write("caf\u00e9 ") == 6 and client.write(b"bytes ") == 6
    assert client.write(bytearray(b"ba ")) == 3 and client.write(memoryview(b"mv\n")) == 3
    zb.print("HTTP/1.1 200 OK\r", stream=client)
    zb.print("<html>", 42, "</html>", stream=client)
    expected = "caf\u00e9 bytes ba mv\nHTTP/1.1 200 OK\r\n<html> 42 </html>\n".encode()
    got = b""
    while len(got) < len(expected):
        got += peer.recv(4096)
    assert got == expected
    client.close()
    assert kiln.fileno() == -1


def test_socketstream_readline_keeps_a_line_cut_by_a_timeout(pair):
    kiln, peer = pair
    kiln.settimeout(200)
    client = streams.SocketStream(kiln)
    peer.sendall(b"par")
    with pytest.raises(TimeoutError):
        client.readline()
    peer.sendall(b"tial\nnext\n")
    assert client.readline() == "partial\n" and client.readline() == "next\n"
    peer.sendall(b"abc")
    with pytest.raises(TimeoutError):
        client.readline()
    assert client.read(2) == "ab"                 # the kept bytes come first, in order
    peer.sendall(b"d\n")
    assert client.readline() == "cd\n"


def test_socketstream_readline_into_a_buffer(pair):
    kiln, peer = pair
    client = streams.SocketStream(kiln)
    peer.sendall(b"0123456789\nshort\n")
    buf = bytearray(b"xx")
    assert client.readline(buffer=buf, size=6, ofs=2) is buf
    assert buf == bytearray(b"xx0123")
    assert client.readline() == "456789\n" and client.readline() == "short\n"


class NoPeekSocket:
    """A socket-like object whose recv refuses flags (as a TLS socket might)."""

    def __init__(self, sock):
        self.sock = sock

    def recv(self, n, flags=0):
        if flags:
            raise ValueError("flags not supported")
        return self.sock.recv(n)

    def recv_into(self, buf, n=-1):
        return self.sock.recv_into(buf, n)

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def test_socketstream_over_a_socket_without_peek(pair):
    kiln, peer = pair
    client = streams.SocketStream(NoPeekSocket(kiln))
    peer.sendall(b"one\ntwo\nrest")
    assert client.readline() == "one\n" and client.readline() == "two\n"
    assert kiln.recv(4) == bytearray(b"rest")


def test_socketstream_refuses_what_is_not_a_socket():
    with pytest.raises(TypeError, match="sock must be a socket"):
        streams.SocketStream(5)


# --- timers -----------------------------------------------------------------------------------
def test_timer_stopwatch_counts_milliseconds():
    t = timers.timer()
    with pytest.raises(RuntimeError, match="not started"):
        t.get()
    with pytest.raises(RuntimeError, match="not started"):
        t.reset()
    t.start()
    time.sleep(0.12)
    first = t.get()
    assert isinstance(first, int) and first >= 120
    elapsed = t.reset()
    assert elapsed >= first and t.get() < elapsed
    assert timers.Timer is timers.timer
    before = timers.now()
    time.sleep(0.05)
    assert isinstance(before, int) and timers.now() - before >= 50


def test_one_shot_calls_once_on_the_timers_thread():
    fired = []
    done = std_threading.Event()
    t = timers.timer()
    start = time.monotonic()

    def fun(arg):
        fired.append((arg, std_threading.current_thread().name, time.monotonic() - start))
        done.set()

    t.one_shot(150, fun, "payload")
    assert done.wait(5)
    time.sleep(0.3)
    assert len(fired) == 1
    arg, thread_name, after = fired[0]
    assert arg == "payload" and thread_name == "zerynth-timers" and after >= 0.15


def test_interval_repeats_until_cleared_and_calls_argumentless_functions():
    calls = []
    t = timers.timer()

    def tick():                                # Zerynth's examples pass no-argument functions
        calls.append(time.monotonic())

    t.interval(50, tick)
    deadline = time.monotonic() + 5
    while len(calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    t.clear()
    count = len(calls)
    time.sleep(0.2)
    assert count >= 5 and len(calls) <= count + 1     # a call in progress may finish
    gaps = [b - a for a, b in zip(calls, calls[1:count])]
    assert all(g >= 0.04 for g in gaps)
    received = []
    t.one_shot(10, lambda arg: received.append(arg))   # one parameter, arg None: fun(None)
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert received == [None]


def test_rearming_replaces_the_alarm_and_destroy_ends_it():
    calls = []
    t = timers.timer()
    t.one_shot(100, calls.append, "first")
    t.one_shot(150, calls.append, "second")
    time.sleep(0.4)
    assert calls == ["second"]
    t.interval(30, calls.append, "tick")
    t.destroy()
    time.sleep(0.15)
    assert calls == ["second"]
    with pytest.raises(RuntimeError, match="destroyed"):
        t.one_shot(10, print)


def test_a_failing_callback_is_printed_and_the_interval_goes_on(capsys):
    calls = []
    t = timers.timer()

    def flaky(arg):
        calls.append(arg)
        if len(calls) == 1:
            raise ValueError("first call fails")

    t.interval(30, flaky, 7)
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    t.clear()
    assert calls[:3] == [7, 7, 7]
    assert "ValueError: first call fails" in capsys.readouterr().err


@pytest.mark.parametrize("method, args, exc, text", [
    ("one_shot", (-1, print), ValueError, "delay must be a finite number >= 0"),
    ("one_shot", ("10", print), TypeError, "delay must be a number"),
    ("one_shot", (10, 42), TypeError, "fun must be callable"),
    ("interval", (0, print), ValueError, "period must be > 0"),
    ("interval", (math.nan, print), ValueError, "period")])
def test_timer_refuses_bad_arguments(method, args, exc, text):
    with pytest.raises(exc, match=text):
        getattr(timers.timer(), method)(*args)


def test_an_armed_timer_keeps_the_program_running(tmp_path):
    r = run_app(tmp_path, """
        import timers
        t = timers.timer()
        t.start()
        def later():
            print("fired after", t.get() >= 300)
        t.one_shot(300, later)
        print("main done")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["main done", "fired after True"]


# --- threading --------------------------------------------------------------------------------
def test_lock_timeouts_are_milliseconds():
    lock = zthreading.Lock()
    assert lock.acquire() is True and lock.locked()
    start = time.monotonic()
    assert lock.acquire(timeout=150) is False
    assert time.monotonic() - start >= 0.15
    assert lock.acquire(False) is False
    t = std_threading.Thread(target=lock.release)     # any thread may release it
    t.start()
    t.join()
    assert lock.acquire(blocking=False) is True
    lock.release()
    lock.release()                                    # unlocked: nothing happens
    with lock:
        assert lock.locked()
    assert not lock.locked()


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"blocking": False, "timeout": 10}, ValueError, "can't specify a timeout"),
    ({"timeout": "1"}, TypeError, "timeout must be a number of milliseconds"),
    ({"timeout": math.nan}, ValueError, "timeout"),
    ({"blocking": 1}, TypeError, "blocking must be True or False")])
def test_lock_refuses_bad_arguments(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        zthreading.Lock().acquire(**kwargs)


def test_semaphore_counts():
    sem = zthreading.Semaphore(2)
    assert sem.acquire() and sem.acquire(timeout=10)
    assert sem.acquire(timeout=50) is False and sem.acquire(False) is False
    sem.release()
    assert sem.acquire(False) is True
    with pytest.raises(ValueError, match="value must be >= 0"):
        zthreading.Semaphore(-1)
    with pytest.raises(TypeError, match="value must be an int"):
        zthreading.Semaphore(1.5)


def test_semaphore_at_zero_waits_for_a_release():
    """acquire() without a timeout blocks until another thread releases (it must not take
    CPython's timeout=-1 as expired), and takes the one released."""
    sem = zthreading.Semaphore(0)
    released = []

    def release():
        released.append(True)                           # before the release: then acquire()
        sem.release()                                   # may return, not before
    std_threading.Timer(0.1, release).start()
    assert sem.acquire() is True and released == [True]
    assert sem.acquire(False) is False
    std_threading.Timer(0.05, sem.release).start()
    with sem:                                           # __enter__ waits as acquire() does
        assert sem.acquire(False) is False


def test_event_wait_in_milliseconds():
    ev = zthreading.Event()
    start = time.monotonic()
    assert ev.wait(100) is False and time.monotonic() - start >= 0.1
    std_threading.Timer(0.05, ev.set).start()
    assert ev.wait() is True and ev.is_set()
    ev.clear()
    assert not ev.is_set()


def test_condition_producer_consumer():
    cv = zthreading.Condition()
    items = []
    got = []

    def consumer():
        cv.acquire()
        while not items:
            cv.wait()
        got.append(items.pop())
        cv.release()

    t = std_threading.Thread(target=consumer)
    t.start()
    time.sleep(0.05)
    cv.acquire()
    items.append("item")
    cv.notify()
    cv.release()
    t.join(5)
    assert got == ["item"]
    with cv:
        start = time.monotonic()
        assert cv.wait(80) is False and time.monotonic() - start >= 0.08
        assert cv.wait_for(lambda: "ready", 10) == "ready"
        assert cv.wait_for(lambda: 0, 30) == 0
    with pytest.raises(RuntimeError, match="acquired first"):
        cv.notify()
    with pytest.raises(RuntimeError, match="acquired first"):
        cv.wait(10)
    shared = zthreading.Lock()
    other = zthreading.Condition(shared)
    with other:
        assert shared.locked()
    with pytest.raises(TypeError, match="lock must be a threading.Lock"):
        zthreading.Condition(std_threading.Lock())


def test_thread_class():
    seen = []
    t = zthreading.Thread(target=lambda a: seen.append(a), args=("x",))
    assert not t.is_alive() and t.ident is None
    t.start()
    t.join()
    assert seen == ["x"] and not t.is_alive() and t.exc is None
    assert t.ident > 0 and t.name == f"Thread-{t.ident}" and str(t) == t.name
    with pytest.raises(RuntimeError, match="only be started once"):
        t.start()

    class Failing(zthreading.Thread):
        def run(self):
            time.sleep(0.2)
            raise KeyError("kept")

    f = Failing(name="failing")
    f.start(prio=zb.PRIO_LOW)
    f.join(50)                                    # milliseconds: still running
    assert f.is_alive()
    f.join()
    assert isinstance(f.exc, KeyError) and f.name == "failing"
    with pytest.raises(TypeError, match="target must be callable"):
        zthreading.Thread(target=3)


def test_zerynth_examples_multi_thread_and_timers_run_as_published(tmp_path):
    """Zerynth's own examples (core-zerynth-stdlib/examples), bounded: their endless loops
    end on an exception after a few rounds."""
    r = run_app(tmp_path, """
        import streams
        import timers
        import threading
        streams.serial()
        lock = threading.Lock()
        rounds = {}
        def threadfn(number, delay):
            while rounds.get(number, 0) < 3:
                lock.acquire()
                print("I am the thread", number)
                print("I run every:", delay, "msec")
                lock.release()
                rounds[number] = rounds.get(number, 0) + 1
                sleep(delay)
        thread(threadfn, 1, 50)
        thread(threadfn, 2, 100)
        seconds = 0
        def secondpassed():
            global seconds
            seconds += 1
        tsec = timers.timer()
        tsec.interval(100, secondpassed)
        tsec.start()
        while seconds < 3:
            sleep(20)
        tsec.clear()
        # (a tick may land between the loop's test and clear(): at least 3, not exactly)
        print("seconds", seconds >= 3, "timer runs since", tsec.get() >= 300)
    """)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out.count("I am the thread 1") == 3 and out.count("I am the thread 2") == 3
    assert "I run every: 50 msec" in out and "seconds True timer runs since True" in out
