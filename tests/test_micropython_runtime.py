"""The MicroPython runtime face (kiln.mpy, ``--api micropython``): every module and call against
MicroPython's documented behaviour (docs/library/time.rst, micropython.rst, gc.rst, sys.rst,
os.rst, deflate.rst and extmod/modtime.c), and an app that uses them through the launcher."""
from __future__ import annotations

import errno
import gc
import gzip
import io
import json
import os
import pty
import subprocess
import sys
import termios
import textwrap
import threading
import time
import weakref
import zlib

import pytest

from kiln.app.micropython import ALIASES
from kiln.mpy import deflate, micropython, scheduler, ugc, uos, usys, utime, uzlib

PERIOD = 2 ** 30          # MICROPY_PY_TIME_TICKS_PERIOD on MicroPython's 32-bit boards
HALF = PERIOD // 2
TICKS_MAX = PERIOD - 1


def run_app(app_dir, source, *, timeout=60, extra=None, stdin=None):
    """Run ``source`` as ``main.py`` of ``app_dir`` under ``--api micropython``."""
    (app_dir / "main.py").write_text(textwrap.dedent(source))
    for name, text in (extra or {}).items():
        (app_dir / name).write_text(textwrap.dedent(text))
    return subprocess.run([sys.executable, "-m", "kiln.app", "--api", "micropython",
                           str(app_dir / "main.py")], capture_output=True, text=True,
                          timeout=timeout, stdin=stdin)


# ---- time: ticks ----------------------------------------------------------------------------
def test_ticks_max_is_the_documented_period_minus_one():
    # time.rst: "Find out TICKS_MAX used by this port: print(ticks_add(0, -1))"
    assert utime.ticks_add(0, -1) == TICKS_MAX


@pytest.mark.parametrize("start", [0, 1, 12345, HALF - 1, HALF, TICKS_MAX - 99, TICKS_MAX])
@pytest.mark.parametrize("delta", [0, 1, 100, -100, 200, HALF - 1, -(HALF - 1)])
def test_ticks_add_and_diff_are_inverse_across_the_wrap(start, delta):
    # modtime.c: ticks_diff(ticks_add(T, delta), T) == delta and
    #            ticks_diff(T, ticks_add(T, delta)) == -delta
    later = utime.ticks_add(start, delta)
    assert 0 <= later <= TICKS_MAX
    assert later == (start + delta) % PERIOD
    assert utime.ticks_diff(later, start) == delta
    assert utime.ticks_diff(start, later) == -delta


def test_ticks_diff_at_the_wrap_boundary():
    assert utime.ticks_diff(0, TICKS_MAX) == 1            # one tick after the wrap
    assert utime.ticks_diff(TICKS_MAX, 0) == -1
    assert utime.ticks_diff(5, TICKS_MAX - 4) == 10
    # time.rst: apart by TICKS_PERIOD/2-1 gives that value; by TICKS_PERIOD/2 it wraps negative
    assert utime.ticks_diff(HALF - 1, 0) == HALF - 1
    assert utime.ticks_diff(HALF, 0) == -HALF
    assert utime.ticks_diff(0, HALF) == -HALF


@pytest.mark.parametrize("delta", [HALF, -HALF, HALF + 1, -HALF - 1, 2 ** 64])
def test_ticks_add_refuses_intervals_ticks_diff_cannot_represent(delta):
    with pytest.raises(OverflowError, match="ticks interval overflow"):
        utime.ticks_add(0, delta)


def test_deadline_pattern_of_the_docs_works_across_the_wrap(monkeypatch):
    clock = [(TICKS_MAX - 50) * 1_000_000]                 # 50 ms before ticks_ms wraps
    monkeypatch.setattr(utime, "_clock_ns", lambda: clock[0])
    deadline = utime.ticks_add(utime.ticks_ms(), 200)
    assert deadline < 200                                  # the deadline is past the wrap
    steps = 0
    while utime.ticks_diff(deadline, utime.ticks_ms()) > 0:
        clock[0] += 10_000_000
        steps += 1
    assert steps == 20


@pytest.mark.parametrize("func,unit_ns", [("ticks_ms", 1_000_000), ("ticks_us", 1_000),
                                          ("ticks_cpu", 1)])
def test_ticks_wrap_at_the_period(monkeypatch, func, unit_ns):
    tick = getattr(utime, func)
    clock = [(PERIOD - 3) * unit_ns]
    monkeypatch.setattr(utime, "_clock_ns", lambda: clock[0])
    before = tick()
    clock[0] += 10 * unit_ns
    after = tick()
    assert before == PERIOD - 3 and after == 7
    assert utime.ticks_diff(after, before) == 10


def test_ticks_follow_the_monotonic_clock():
    t0, u0, c0 = utime.ticks_ms(), utime.ticks_us(), utime.ticks_cpu()
    time.sleep(0.05)
    assert 45 <= utime.ticks_diff(utime.ticks_ms(), t0) < 5000
    assert 45_000 <= utime.ticks_diff(utime.ticks_us(), u0) < 5_000_000
    assert utime.ticks_diff(utime.ticks_cpu(), c0) != 0
    for value in (utime.ticks_ms(), utime.ticks_us(), utime.ticks_cpu()):
        assert 0 <= value <= TICKS_MAX


@pytest.mark.parametrize("call,name", [
    (lambda: utime.ticks_diff(1.0, 0), "ticks1"), (lambda: utime.ticks_diff(0, "1"), "ticks2"),
    (lambda: utime.ticks_add(None, 1), "ticks"), (lambda: utime.ticks_add(0, 1.5), "delta"),
    (lambda: utime.sleep_ms(1.5), "ms"), (lambda: utime.sleep_us("5"), "us"),
])
def test_ticks_and_sleeps_refuse_non_integers_naming_the_argument(call, name):
    with pytest.raises(TypeError, match=f"'{name}'"):
        call()


# ---- time: sleeps, calendar -----------------------------------------------------------------
def test_sleep_ms_and_sleep_us_delay_at_least_the_time_given():
    t = time.monotonic_ns()
    utime.sleep_ms(30)
    assert time.monotonic_ns() - t >= 30_000_000
    for us in (1, 50, 150, 2500):
        t = time.monotonic_ns()
        utime.sleep_us(us)
        assert time.monotonic_ns() - t >= us * 1000


def test_negative_sleeps_return_at_once():
    t = time.monotonic()
    utime.sleep_ms(-1000)
    utime.sleep_us(-10 ** 9)
    assert time.monotonic() - t < 0.5


def test_gmtime_localtime_mktime_use_micropythons_8_tuples():
    assert utime.gmtime(0) == (1970, 1, 1, 0, 0, 0, 3, 1)      # a Thursday, day 1
    assert utime.gmtime(951782400) == (2000, 2, 29, 0, 0, 0, 1, 60)
    now = int(time.time())
    local = utime.localtime(now)
    assert len(local) == 8 and local == tuple(time.localtime(now))[:8]
    assert utime.mktime(local) == now and isinstance(utime.mktime(local), int)
    assert utime.mktime(tuple(time.localtime(now))) == now       # 9-tuples too
    assert len(utime.localtime()) == 8
    with pytest.raises(TypeError, match="length 8 or 9"):
        utime.mktime((2000, 1, 1, 0, 0, 0, 0))
    with pytest.raises(TypeError):
        utime.mktime(5)


def test_time_face_keeps_cpythons_time():
    assert utime.time is time.time and utime.time_ns is time.time_ns
    assert utime.monotonic is time.monotonic and utime.struct_time is time.struct_time
    assert 0 < utime.time_ns() - time.time_ns() + 10 ** 9
    assert {"ticks_ms", "sleep_ms", "time", "strftime"} <= set(utime.__all__)


# ---- micropython ----------------------------------------------------------------------------
def test_const_native_viper():
    assert micropython.const(123) == 123 and micropython.const(b"\x00\xff") == b"\x00\xff"

    def f(x):
        return x * 2
    assert micropython.native(f) is f and micropython.viper(f) is f and f(21) == 42


def test_heap_lock_depth_nests():
    assert micropython.heap_locked() == 0
    micropython.heap_lock()
    micropython.heap_lock()
    assert micropython.heap_locked() == 2
    assert micropython.heap_unlock() == 1
    assert micropython.heap_unlock() == 0
    assert micropython.heap_unlock() == 0


def test_alloc_emergency_exception_buf_checks_its_argument():
    assert micropython.alloc_emergency_exception_buf(100) is None
    with pytest.raises(ValueError, match="'size'"):
        micropython.alloc_emergency_exception_buf(-1)
    with pytest.raises(TypeError, match="'size'"):
        micropython.alloc_emergency_exception_buf("100")


def test_mem_info_and_qstr_info_print_their_report(capsys):
    micropython.mem_info()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("stack: ") and " out of " in lines[0]
    used, size = (int(w) for w in lines[0][len("stack: "):].split(" out of "))
    assert 0 < used < size
    assert lines[1].startswith("GC: total: ") and "used: " in lines[1] and "free: " in lines[1]
    micropython.mem_info(True)
    verbose = capsys.readouterr().out
    assert "generation 0" in verbose and "gc counts" in verbose
    micropython.qstr_info()
    assert capsys.readouterr().out.startswith("qstr pool")


def test_stack_use_grows_with_the_call_depth():
    def down(n):
        return micropython.stack_use() if n == 0 else down(n - 1)
    shallow, deep = down(1), down(200)
    assert 0 < shallow < deep
    assert deep - shallow >= 199 * 8 * 10          # at least a frame header per call


def test_opt_level_drops_asserts_in_modules_imported_afterwards(tmp_path):
    r = run_app(tmp_path, """
        import micropython
        print(micropython.opt_level())
        import before
        micropython.opt_level(1)
        print(micropython.opt_level())
        import after
        print(before.check(), after.check())
    """, extra={n: "def check():\n    try:\n        assert False\n    except AssertionError:\n"
                   "        return 'asserts on'\n    return 'asserts off'\n"
                for n in ("before.py", "after.py")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "asserts", "on", "asserts", "off"]


def test_opt_level_refuses_bad_levels():
    with pytest.raises(ValueError, match="'level'"):
        micropython.opt_level(-1)
    with pytest.raises(TypeError, match="'level'"):
        micropython.opt_level("1")


def test_kbd_intr_sets_the_terminals_interrupt_character(monkeypatch):
    master, slave = pty.openpty()
    stdin = os.fdopen(slave, "r")
    try:
        monkeypatch.setattr(sys, "stdin", stdin)
        micropython.kbd_intr(-1)
        assert termios.tcgetattr(slave)[6][termios.VINTR] == b"\x00"
        os.write(master, b"\x03\n")                 # Ctrl-C now reaches stdin as data
        assert os.read(slave, 10) == b"\x03\n"
        micropython.kbd_intr(3)
        assert termios.tcgetattr(slave)[6][termios.VINTR] == b"\x03"
        os.write(master, b"\x03\n")                 # the tty takes it as the interrupt key
        assert os.read(slave, 10) == b"\n"
        with pytest.raises(ValueError, match="'chr'"):
            micropython.kbd_intr(256)
        with pytest.raises(TypeError, match="'chr'"):
            micropython.kbd_intr("c")
    finally:
        micropython.kbd_intr(3)
        stdin.close()
        os.close(master)


def test_kbd_intr_without_a_terminal_is_recorded(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    micropython.kbd_intr(-1)
    micropython.kbd_intr(3)


def test_ringio_is_a_fifo_of_fixed_size():
    r = micropython.RingIO(8)
    assert r.write(b"0123456789") == 8 and r.any() == 8
    assert r.read(3) == b"012" and r.write(b"ab\ncd") == 3
    assert r.readline() == b"34567ab\n" and r.read() == b""
    assert micropython.RingIO(bytearray(8)).write(b"0123456789") == 7
    buf = bytearray(4)
    r.write(b"xyz")
    assert r.readinto(buf, 2) == 2 and buf[:2] == b"xy" and r.readinto(buf) == 1
    with pytest.raises(TypeError, match="'buf'"):
        r.write(5)


# ---- micropython.schedule -------------------------------------------------------------------
def _drain(timeout=2.0):
    end = time.monotonic() + timeout
    while scheduler.pending() and time.monotonic() < end:
        time.sleep(0.001)


def test_schedule_runs_the_function_soon_in_the_main_thread():
    calls = []
    micropython.schedule(lambda arg: calls.append((arg, threading.current_thread().name)), 42)
    total = 0
    for i in range(100000):              # plain bytecode: the call happens between opcodes
        total += i
        if calls:
            break
    assert calls == [(42, threading.main_thread().name)]


def test_schedule_from_a_thread_runs_during_a_blocking_socket_read(peers, usock):
    """The main thread is blocked in recv: the scheduled call runs there, then the read goes on
    and returns the peer's bytes (nothing lost)."""
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.settimeout(5)
    seen = []

    def callback(arg):
        seen.append((arg, threading.current_thread() is threading.main_thread(), time.monotonic()))

    def later():
        micropython.schedule(callback, "from thread")
        time.sleep(0.3)
        ref.sendall(b"data")
    peers.background(later, delay=0.1)
    start = time.monotonic()
    assert ks.read(4) == b"data"
    assert len(seen) == 1 and seen[0][:2] == ("from thread", True)
    assert seen[0][2] - start < 0.35                # before the bytes came, not after


def test_scheduled_functions_never_nest_and_run_in_order():
    log = []

    def first(arg):
        micropython.schedule(second, None)
        time.sleep(0.01)            # a sleep would run pending calls, but not inside this one
        log.append("first done")

    def second(arg):
        log.append("second")
    micropython.schedule(first, None)
    _drain()
    assert log == ["first done", "second"]


def test_schedule_queue_holds_four_calls():
    results = []

    def filler(arg):
        for i in range(4):
            micropython.schedule(results.append, i)
        try:
            micropython.schedule(results.append, 99)
        except RuntimeError as exc:
            results.append(str(exc))
    micropython.schedule(filler, None)
    _drain()
    assert results == ["schedule queue full", 0, 1, 2, 3]


def test_exception_in_a_scheduled_function_reaches_the_main_thread():
    def boom(arg):
        raise ValueError(arg)
    with pytest.raises(ValueError, match="scheduled"):
        micropython.schedule(boom, "scheduled")
        for _ in range(10 ** 6):
            pass
    _drain()
    assert scheduler.pending() == 0


def test_schedule_kbd_intr_raises_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt):
        micropython.schedule(micropython.kbd_intr, None)
        for _ in range(10 ** 6):
            pass


def test_schedule_refuses_a_non_callable():
    with pytest.raises(TypeError, match="'func'"):
        micropython.schedule(5, None)


def test_sleep_ms_runs_pending_calls_when_the_signal_is_not_installed(monkeypatch):
    ran = []
    monkeypatch.setattr(scheduler, "_installed", False)
    monkeypatch.setattr(scheduler, "install", lambda: False)
    scheduler.schedule(ran.append, 1)
    for _ in range(10 ** 5):
        pass
    assert ran == []                     # no signal: it waits ...
    utime.sleep_ms(0)                    # ... for a sleep (time.rst: sleep_ms(0) runs them)
    assert ran == [1]


# ---- gc -------------------------------------------------------------------------------------
def _meminfo(field):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def test_mem_alloc_follows_the_process_memory():
    before = ugc.mem_alloc()
    block = bytearray(64 << 20)
    block[::4096] = b"\x01" * len(block[::4096])           # touch every page
    grown = ugc.mem_alloc()
    del block
    shrunk = ugc.mem_alloc()
    assert grown - before >= 60 << 20
    assert grown - shrunk >= 60 << 20


def test_mem_free_is_the_kernels_available_memory():
    free = ugc.mem_free()
    assert abs(free - _meminfo("MemAvailable")) < 256 << 20
    assert free > 0


def test_threshold_collects_after_the_process_grew_by_the_amount():
    class Node:
        pass

    def cyclic_garbage(count):
        """Reference cycles holding 2 MiB each: only a collection frees them."""
        refs = []
        for _ in range(count):
            a, b = Node(), Node()
            a.other, b.other = b, a
            a.data = bytearray(2 << 20)
            a.data[::4096] = b"\x01" * len(a.data[::4096])
            refs.append(weakref.ref(a))
        return refs

    def run_for(seconds, first):
        """Go on making garbage (a program at work) until ``first`` is collected."""
        end = time.monotonic() + seconds
        while any(r() is not None for r in first) and time.monotonic() < end:
            cyclic_garbage(1)
            time.sleep(0.05)

    assert ugc.threshold() == -1
    gc.collect()
    gc.set_threshold(10 ** 9)          # CPython's own trigger stays out of the way
    try:
        first = cyclic_garbage(2)
        run_for(0.6, first)
        assert all(r() is not None for r in first), "collected without a threshold"
        gc.collect()
        assert ugc.threshold(1 << 20) is None and ugc.threshold() == 1 << 20
        first = cyclic_garbage(2)
        run_for(5, first)
        assert all(r() is None for r in first), "the threshold did not collect"
    finally:
        ugc.threshold(-5)
        gc.set_threshold(700, 10, 10)
        gc.collect()
    assert ugc.threshold() == -1


def test_threshold_refuses_non_integers():
    with pytest.raises(TypeError, match="'amount'"):
        ugc.threshold(1.5)


def test_gc_face_keeps_cpythons_gc():
    assert ugc.collect is gc.collect and ugc.isenabled is gc.isenabled
    assert {"mem_free", "mem_alloc", "threshold", "collect", "enable"} <= set(ugc.__all__)


# ---- sys ------------------------------------------------------------------------------------
def _raise_and_catch():
    try:
        raise ValueError("boom")
    except ValueError as exc:
        return exc


def test_print_exception_writes_the_traceback_to_stdout_by_default(capsys):
    usys.print_exception(_raise_and_catch())
    out, err = capsys.readouterr()
    assert out.startswith("Traceback (most recent call last):\n") and err == ""
    assert "_raise_and_catch" in out and out.endswith("ValueError: boom\n")


def test_print_exception_to_a_file_and_to_a_socket(peers, usock):
    f = io.StringIO()
    usys.print_exception(_raise_and_catch(), f)
    assert f.getvalue().endswith("ValueError: boom\n")
    ks, ref = peers.stream_pair(usock, "ipv4")
    usys.print_exception(_raise_and_catch(), ks)
    ks.close()
    assert peers.read_to_eof(ref).decode().endswith("ValueError: boom\n")


def test_print_exception_refuses_what_it_cannot_print():
    with pytest.raises(TypeError, match="'exc'"):
        usys.print_exception("not an exception")
    with pytest.raises(TypeError, match="'file'"):
        usys.print_exception(ValueError(), 5)


def test_sys_face_writes_go_to_the_interpreters_sys(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    usys.stdout = stream
    assert sys.stdout is stream and usys.stdout is stream
    assert usys.path is sys.path and usys.modules is sys.modules


def test_atexit_keeps_one_function_and_runs_it_at_exit(tmp_path):
    r = run_app(tmp_path, """
        import sys
        print(sys.atexit(lambda: print("first")))
        second = lambda: print("second")
        print(sys.atexit(second) is not None)
        print(sys.atexit(None) is second)
        sys.atexit(lambda: print("last"))
        print("main done")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["None", "True", "True", "main done", "last"]


# ---- os -------------------------------------------------------------------------------------
def test_ilistdir_lists_names_types_inodes_sizes(tmp_path):
    (tmp_path / "file.txt").write_bytes(b"12345")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    entries = {e[0]: e for e in uos.ilistdir(str(tmp_path))}
    assert entries["file.txt"] == ("file.txt", 0x8000, os.stat(tmp_path / "file.txt").st_ino, 5)
    assert entries["sub"][1:] == (0x4000, os.stat(tmp_path / "sub").st_ino, -1)
    assert entries["link"][1] == 0
    assert {e[0] for e in uos.ilistdir(bytes(tmp_path))} == {b"file.txt", b"sub", b"link"}
    with pytest.raises(FileNotFoundError):
        uos.ilistdir(str(tmp_path / "missing"))


def test_os_face_keeps_cpythons_os():
    assert uos.listdir is os.listdir and uos.path is os.path and uos.uname is os.uname


# ---- deflate and uzlib ----------------------------------------------------------------------
TEXT = b"MicroPython on Kiln " * 500 + bytes(range(256))


@pytest.mark.parametrize("fmt,decompress", [
    (deflate.RAW, lambda d: zlib.decompress(d, -15)),
    (deflate.AUTO, lambda d: zlib.decompress(d, -15)),
    (deflate.ZLIB, zlib.decompress), (deflate.GZIP, gzip.decompress)])
def test_deflateio_compresses_what_cpython_decompresses(fmt, decompress):
    out = io.BytesIO()
    with deflate.DeflateIO(out, fmt) as d:
        d.write(TEXT[:1000])
        d.write(TEXT, 1000, 5000)           # py/stream.c's write(buf, off, max_len)
        d.write(TEXT, 6000)                 # write(buf, max_len)
    assert decompress(out.getvalue()) == TEXT[:1000] + TEXT[1000:6000] + TEXT[:6000]


@pytest.mark.parametrize("fmt,compress", [
    (deflate.AUTO, zlib.compress), (deflate.AUTO, gzip.compress), (deflate.ZLIB, zlib.compress),
    (deflate.GZIP, gzip.compress),
    (deflate.RAW, lambda d: zlib.compress(d, wbits=-15))])
def test_deflateio_decompresses_what_cpython_compresses(fmt, compress):
    with deflate.DeflateIO(io.BytesIO(compress(TEXT)), fmt) as d:
        assert d.read(10) == TEXT[:10]
        buf = bytearray(100)
        assert d.readinto(buf, 1000) == 100 and buf == TEXT[10:110]     # nbytes clamped
        assert d.readline(5) == TEXT[110:115]
        assert d.read() == TEXT[115:]
        assert d.read(10) == b""


class OnlyRead:
    """A stream with nothing but read(): not seekable, not a socket."""

    def __init__(self, data):
        self._f = io.BytesIO(data)

    def read(self, n=-1):
        return self._f.read(n)


@pytest.mark.parametrize("wrap", [io.BytesIO, OnlyRead])
def test_deflateio_never_reads_past_the_compressed_data(wrap):
    source = wrap(zlib.compress(TEXT) + b"NEXT RECORD")
    assert deflate.DeflateIO(source, deflate.ZLIB).read() == TEXT
    assert source.read() == b"NEXT RECORD"


def test_deflateio_on_a_socket_leaves_the_next_bytes_in_it(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(gzip.compress(TEXT) + b"after the stream")
    assert deflate.DeflateIO(ks).read() == TEXT
    assert ks.read(16) == b"after the stream"


def test_deflateio_json_example_of_the_docs(tmp_path):
    config = {"ssid": "lab", "channels": list(range(14))}
    with open(tmp_path / "config.gz", "wb") as f:
        with deflate.DeflateIO(f, deflate.GZIP, 6) as d:
            json.dump(config, d)
    assert json.loads(gzip.decompress((tmp_path / "config.gz").read_bytes())) == config
    with open(tmp_path / "config.gz", "rb") as f:
        with deflate.DeflateIO(f, deflate.GZIP, 6) as d:
            assert json.load(d) == config


def test_deflateio_errors():
    with pytest.raises(OSError) as info:
        deflate.DeflateIO(io.BytesIO(b"not compressed at all"), deflate.ZLIB).read()
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:                   # a gzip stream is not zlib
        deflate.DeflateIO(io.BytesIO(gzip.compress(TEXT)), deflate.ZLIB).read()
    assert info.value.errno == errno.EINVAL
    with pytest.raises(EOFError):
        deflate.DeflateIO(io.BytesIO(zlib.compress(TEXT)[:50])).read()
    with pytest.raises(ValueError, match="'format'"):
        deflate.DeflateIO(io.BytesIO(), 4)
    with pytest.raises(ValueError, match="'wbits'"):
        deflate.DeflateIO(io.BytesIO(), deflate.RAW, 4)
    with pytest.raises(TypeError, match="'stream'"):
        deflate.DeflateIO(b"bytes are not a stream")
    d = deflate.DeflateIO(io.BytesIO(zlib.compress(TEXT)))
    d.close()
    d.close()
    with pytest.raises(OSError) as info:
        d.read()
    assert info.value.errno == errno.EINVAL
    with pytest.raises(ValueError, match="'max_len'"):
        deflate.DeflateIO(io.BytesIO()).write(b"x", -1)


def test_deflateio_close_closes_the_stream_only_when_asked():
    kept, closed = io.BytesIO(), io.BytesIO()
    deflate.DeflateIO(kept).close()
    deflate.DeflateIO(closed, deflate.RAW, 0, True).close()
    assert not kept.closed and closed.closed


def test_uzlib_decompress_and_decompio():
    assert uzlib.decompress(zlib.compress(TEXT)) == TEXT
    assert uzlib.decompress(zlib.compress(TEXT, wbits=-10), -10) == TEXT
    assert uzlib.decompress(gzip.compress(TEXT), 31) == TEXT
    with pytest.raises(ValueError):
        uzlib.decompress(b"garbage")
    with pytest.raises(ValueError, match="incomplete"):
        uzlib.decompress(zlib.compress(TEXT)[:-10])
    with pytest.raises(TypeError, match="'data'"):
        uzlib.decompress("text")
    assert uzlib.DecompIO(io.BytesIO(gzip.compress(TEXT)), 16 + 15).read() == TEXT
    first_line = TEXT[:TEXT.index(b"\n") + 1]
    assert uzlib.DecompIO(io.BytesIO(zlib.compress(TEXT))).readline() == first_line
    stream = uzlib.DecompIO(io.BytesIO(zlib.compress(TEXT, wbits=-15)), -15)
    assert stream.read() == TEXT
    with pytest.raises(OSError):
        uzlib.DecompIO(io.BytesIO()).write(b"x")


# ---- the aliases, through the launcher ------------------------------------------------------
def test_every_alias_imports():
    import importlib
    for name, target in ALIASES.items():
        assert importlib.import_module(target).__name__ == target, name


def test_micropython_program_runs_under_the_launcher(tmp_path):
    r = run_app(tmp_path, """
        import utime, ujson, ustruct, ubinascii, uos, uerrno, uio, ucollections, uhashlib
        import urandom, ure, uarray, uheapq, uzlib, deflate, micropython, gc, time, sys, usys
        import os, os.path
        import logging
        from micropython import const

        _LED = const(2)
        @micropython.native
        def add(a, b):
            return a + b
        print(time is utime, sys is usys, os is uos, logging.time.__name__)
        start = time.ticks_ms()
        time.sleep_ms(20)
        print(time.ticks_diff(time.ticks_ms(), start) >= 20, time.ticks_add(0, -1))
        print(ujson.dumps({"led": _LED}), ustruct.unpack(">H", b"\\x01\\x02")[0],
              ubinascii.hexlify(uhashlib.sha256(b"").digest())[:8], uerrno.ETIMEDOUT,
              add(2, 3))
        print(gc.mem_free() > 0, gc.mem_alloc() > 0, gc.threshold(), type(os.ilistdir()).__name__)
        print(urandom.getrandbits(8) < 256, 1 <= urandom.randint(1, 6) <= 6,
              ucollections.deque((), 3).maxlen, uio.BytesIO(b"x").read())
        micropython.alloc_emergency_exception_buf(100)
        ran = []
        micropython.schedule(ran.append, "soon")
        time.sleep_ms(0)
        print(ran)
        try:
            1 / 0
        except ZeroDivisionError as exc:
            sys.print_exception(exc)
    """)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "True True True time"          # the stdlib keeps CPython's time
    assert lines[1] == f"True {TICKS_MAX}"
    assert lines[2] == '{"led": 2} 258 b\'e3b0c442\' 110 5'
    assert lines[3] == "True True -1 list_iterator"
    assert lines[4] == "True True 3 b'x'"
    assert lines[5] == "['soon']"
    assert lines[6] == "Traceback (most recent call last):"
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert r.stderr == ""


def test_const_needs_no_import(tmp_path):
    """MicroPython's parser knows ``const`` without ``from micropython import const``."""
    r = run_app(tmp_path, """
        _PIN = const(5)
        import helper
        print(_PIN + helper.N)
    """, extra={"helper.py": "N = const(10)\n"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "15"


def test_import_os_path_keeps_the_face(tmp_path):
    r = run_app(tmp_path, """
        import os
        import os.path
        print(hasattr(os, "ilistdir"), os.path.basename("/a/b"))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "b"]


def test_the_image_keeps_the_stdlib_modules_the_aliases_give():
    """The image's stdlib is pruned to what Kiln and the app import; ``import ujson`` in an app
    must keep ``json`` although no file imports it by that name."""
    from kiln.host.image.stage import alias_roots
    from kiln.payload import PACKAGE_DIRS
    roots = alias_roots(set(PACKAGE_DIRS))
    assert {"json", "struct", "binascii", "errno", "io", "collections", "hashlib", "random",
            "re", "array", "heapq", "platform"} <= roots
    assert not any(r.split(".")[0] in PACKAGE_DIRS for r in roots)
