"""kiln.hw.uart (termios2) and machine.UART against a real kernel tty: a pseudo-terminal
(os.openpty).  The pty's slave side is the port; the test reads and writes the master side.

A pty keeps baud rate, stop bits and RTS/CTS as set (read back through TCGETS2) but forces 8
data bits without parity (the kernel's pty_set_termios), so those two are checked on real UARTs
only (the QEMU system tests)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from kiln.hw.uart import Serial


@pytest.fixture
def pty():
    master, slave = os.openpty()
    name = os.ttyname(slave)
    yield master, name
    os.close(master)
    os.close(slave)


@pytest.mark.parametrize("baud", [9600, 115200, 250000, 31250, 1000000])
def test_any_baud_rate_reads_back(pty, baud):
    _, name = pty
    with Serial(name, baud) as port:
        assert port.baudrate == baud


def test_line_settings_read_back(pty):
    _, name = pty
    with Serial(name, 57600, stop=2, rtscts=True) as port:
        s = port.settings()
        assert (s["baudrate"], s["stop"], s["rtscts"]) == (57600, 2, True)
        port.configure(9600, stop=1, rtscts=False)
        s = port.settings()
        assert (s["baudrate"], s["stop"], s["rtscts"]) == (9600, 1, False)


def test_bytes_both_ways(pty):
    master, name = pty
    with Serial(name, 115200) as port:
        payload = bytes(range(256)) * 4          # raw mode: every byte value unchanged
        assert port.write(payload, timeout=2) == len(payload)
        got = b""
        while len(got) < len(payload):
            got += os.read(master, 4096)
        assert got == payload
        os.write(master, b"\r\nline\x00\xff\x11\x13")   # no CR/LF mapping, no XON/XOFF
        time.sleep(0.05)
        assert port.in_waiting == 10
        assert port.read(10, timeout=1) == b"\r\nline\x00\xff\x11\x13"
        buf = bytearray(4)
        os.write(master, b"abcdef")
        assert port.readinto(buf, timeout=1) == 4 and buf == b"abcd"
        assert port.read(10, timeout=0.2, timeout_char=0.05) == b"ef"


def test_read_timeouts(pty):
    master, name = pty
    with Serial(name) as port:
        t = time.monotonic()
        assert port.read(5, timeout=0.3) == b""
        assert 0.28 <= time.monotonic() - t < 1.5
        t = time.monotonic()
        assert port.read(5, timeout=0) == b""
        assert time.monotonic() - t < 0.1
        os.write(master, b"xy")
        t = time.monotonic()
        assert port.read(5, timeout=2, timeout_char=0.1) == b"xy"     # gap ends the read
        assert time.monotonic() - t < 1.0


def test_signal_handler_that_returns_does_not_shorten_the_timeout(pty):
    _, name = pty
    hits = []
    old = signal.signal(signal.SIGALRM, lambda *a: hits.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
        with Serial(name) as port:
            t = time.monotonic()
            assert port.read(1, timeout=0.5) == b""
            elapsed = time.monotonic() - t
        assert len(hits) >= 3 and 0.48 <= elapsed < 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_signal_handler_that_raises_aborts_the_read(pty):
    _, name = pty

    class Stop(Exception):
        pass

    def handler(*a):
        raise Stop()
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with Serial(name) as port:
            t = time.monotonic()
            with pytest.raises(Stop):
                port.read(1, timeout=5)
            assert time.monotonic() - t < 2
            assert not port.closed
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_write_timeout_when_nobody_reads(pty):
    _, name = pty
    with Serial(name) as port:
        big = b"x" * (1 << 20)
        t = time.monotonic()
        n = port.write(big, timeout=0.3)
        assert 0 < n < len(big)
        assert 0.28 <= time.monotonic() - t < 2
        with pytest.raises(TimeoutError):
            port.write(b"more", timeout=0.1)
        # (a pty reports no output queue, TIOCOUTQ = 0: drain's timeout is for real UARTs)


def test_closed_port(pty):
    _, name = pty
    port = Serial(name)
    port.close()
    port.close()
    for call in (lambda: port.read(1), lambda: port.write(b"x"), lambda: port.in_waiting,
                 lambda: port.configure(9600), port.fileno):
        with pytest.raises(ValueError, match="is closed"):
            call()


def test_errors_name_the_device():
    with pytest.raises(FileNotFoundError, match="Serial: /dev/ttyKILN9"):
        Serial("/dev/ttyKILN9")
    with pytest.raises(OSError, match=": /dev/null") as info:
        Serial("/dev/null")
    assert info.value.errno == 25          # ENOTTY: not a terminal


def test_no_fd_leak_over_10000_cycles(pty):
    master, name = pty
    before = len(os.listdir("/proc/self/fd"))
    for i in range(10000):
        with Serial(name, 9600 + i) as port:
            pass
    for i in range(200):                 # failing constructions close too
        with pytest.raises(ValueError):
            Serial(name, bits=9)
    assert len(os.listdir("/proc/self/fd")) == before


def test_machine_uart(pty, monkeypatch, tmp_path):
    """machine.UART on the pty: the board file's UART 0 resolved to it."""
    master, name = pty
    from hw_sysfs import board_root
    from kiln.hw import resolve
    monkeypatch.setenv("KILN_SYSROOT", str(board_root(tmp_path, "rpi3b")))
    resolve.reset()
    monkeypatch.setattr(resolve, "uart_device", lambda key: name)
    try:
        from kiln.mpy.machine import UART
        u = UART(0, baudrate=9600, timeout=100)
        assert u.read(4) is None                  # nothing within 100 ms: None
        assert u.write(b"hello") == 5
        assert os.read(master, 16) == b"hello"
        os.write(master, b"one\ntwo")
        time.sleep(0.05)
        assert u.any() == 7
        assert u.readline() == b"one\n"
        assert u.readline() == b"two"            # timeout ends the line
        assert u.txdone()
        u.init(115200, bits=8, parity=None, stop=2, timeout=50)
        assert u._port.settings()["stop"] == 2 and u._port.baudrate == 115200
        with pytest.raises(ValueError, match="parity must be None, 0"):
            u.init(9600, parity="E")
        with pytest.raises(ValueError, match="tx/rx/rts/cts"):
            u.init(9600, tx=4)
        u.deinit()
        with pytest.raises(OSError, match="closed"):
            u.read()
        with pytest.raises(ValueError, match="UART 5 does not exist"):
            UART(5)
    finally:
        resolve.reset()
