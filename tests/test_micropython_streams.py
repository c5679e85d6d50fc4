"""py/stream.c's method signatures on usocket, against a CPython peer on loopback.

MicroPython's streams (py/stream.c: ``stream_readinto_write_generic``,
``stream_unbuffered_readline``) take ``write(buf)``, ``write(buf, max_len)``,
``write(buf, off, max_len)``, ``readinto(buf[, nbytes])`` and ``readline([limit])``:
``off`` is clamped to ``len(buf)`` and the count to what remains (``MIN(len - off, max_len)``),
so every in-range call writes exactly ``buf[min(off, len):][:max_len]``.  Kiln refuses negative
values (MicroPython's unsigned truncation turns them into "everything", see
docs/micropython.md) with a ValueError naming the argument.
"""
from __future__ import annotations

import errno
import time

import pytest

pytestmark = pytest.mark.usefixtures("watchdog")

BUF = b"0123456789"


def mp_write_expected(buf, args):
    """What py/stream.c writes for ``write(buf, *args)``."""
    off, max_len = 0, len(buf)
    if len(args) == 1:
        max_len = args[0]
    elif len(args) == 2:
        off, max_len = args
        off = min(off, len(buf))
    return buf[off:][:max_len]


@pytest.mark.parametrize("args", [(), (0,), (4,), (10,), (11,), (2 ** 64,)] +
                         [(off, n) for off in (0, 3, 10, 15, 2 ** 64) for n in (0, 4, 10, 100)])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_write_off_max_len_writes_what_py_stream_c_writes(peers, usock, args, kind):
    ks, ref = peers.stream_pair(usock, "ipv4")
    expected = mp_write_expected(BUF, args)
    assert ks.write(kind(BUF), *args) == len(expected)
    ks.write(b"|")
    assert peers.read_exact(ref, len(expected) + 1) == expected + b"|"


def test_write_max_len_on_a_memoryview_slice_and_a_str(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    assert ks.write(memoryview(b"abcdefgh")[2:], 2, 3) == 3          # off is from the view
    assert ks.write("h\u00e9llo", 3) == 3                              # str: its UTF-8 bytes
    assert peers.read_exact(ref, 6) == b"efg" + "h\u00e9".encode()


def test_umqtt_style_header_write(peers, usock):
    """umqtt.simple: ``self.sock.write(pkt, i + 1)`` sends the first i+1 bytes of a bytearray."""
    ks, ref = peers.stream_pair(usock, "ipv4")
    pkt = bytearray(b"\x30\x0b\x00\x00")
    assert ks.write(pkt, 2) == 2
    assert peers.read_exact(ref, 2) == b"\x30\x0b"


def test_nonblocking_write_with_max_len_is_short_then_none(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.setblocking(False)
    chunk = b"x" * (1 << 20)
    results = []
    for _ in range(64):
        n = ks.write(chunk, 1000, 500_000)
        results.append(n)
        if n is None:
            break
    assert results[-1] is None and all(n is None or 0 < n <= 500_000 for n in results)
    sent = sum(n for n in results if n)
    assert len(peers.read_exact(ref, sent)) == sent


@pytest.mark.parametrize("args,name,exc", [
    ((-1,), "max_len", ValueError), ((0, -1), "max_len", ValueError),
    ((-1, 1), "off", ValueError), ((1.5,), "max_len", TypeError), (("1", 1), "off", TypeError),
    ((0, b"1"), "max_len", TypeError), ((-2 ** 64, 1), "off", ValueError),
])
def test_write_bad_off_max_len_name_the_argument(peers, usock, args, exc, name):
    ks, ref = peers.stream_pair(usock, "ipv4")
    with pytest.raises(exc, match=rf"write\(\) argument '{name}'"):
        ks.write(BUF, *args)
    ks.write(b"end")
    assert peers.read_exact(ref, 3) == b"end"         # nothing was sent by the refused call


def test_write_takes_its_arguments_positionally_only(peers, usock):
    ks, _ = peers.stream_pair(usock, "ipv4")
    with pytest.raises(TypeError):
        ks.write(BUF, max_len=3)
    with pytest.raises(TypeError):
        ks.write(BUF, 1, 2, 3)


def test_write_on_a_closed_socket_is_ebadf_even_when_nothing_is_to_be_written(peers, usock):
    ks, _ = peers.stream_pair(usock, "ipv4")
    ks.close()
    with pytest.raises(OSError) as info:
        ks.write(BUF, 10, 5)
    assert info.value.errno == errno.EBADF


# ---- readinto ---------------------------------------------------------------------------------
@pytest.mark.parametrize("nbytes,expected", [(None, 4), (0, 0), (2, 2), (4, 4), (5, 4),
                                             (2 ** 64, 4)])
def test_readinto_nbytes_is_at_most_the_buffer(peers, usock, nbytes, expected):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"abcdef")
    buf = bytearray(b"....")
    assert ks.readinto(buf, nbytes) == expected
    assert bytes(buf) == b"abcd"[:expected] + b"...."[expected:]
    assert ks.read(6 - expected) == b"abcdef"[expected:]          # nothing lost


def test_readinto_with_nbytes_has_no_short_reads(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.settimeout(5)
    buf = bytearray(8)
    ref.sendall(b"ab")
    peers.background(lambda: ref.sendall(b"cdef"), delay=0.2)
    assert ks.readinto(buf, 6) == 6 and buf[:6] == b"abcdef"


@pytest.mark.parametrize("bad,exc", [(-1, ValueError), (1.5, TypeError), ("2", TypeError)])
def test_readinto_bad_nbytes(peers, usock, bad, exc):
    ks, _ = peers.stream_pair(usock, "ipv4")
    with pytest.raises(exc, match=r"readinto\(\) argument 'nbytes'"):
        ks.readinto(bytearray(4), bad)


# ---- readline --------------------------------------------------------------------------------
def test_readline_limit_stops_at_the_limit_and_loses_nothing(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ref.sendall(b"first line\nsecond\nthird")
    assert ks.readline(5) == b"first"
    assert ks.readline(100) == b" line\n"          # the limit is past the newline
    assert ks.readline(7) == b"second\n"           # exactly the line
    assert ks.readline(0) == b""
    ref.close()
    assert ks.readline(-1) == b"third"             # negative: no limit, up to EOF
    assert ks.readline(None) == b""


def test_readline_limit_larger_than_the_peek_window(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    line = b"x" * 5000 + b"\n"
    ref.sendall(line + b"next\n")
    assert ks.readline(3000) == line[:3000]
    assert ks.readline(4000) == line[3000:]
    assert ks.readline() == b"next\n"


def test_readline_limit_on_a_nonblocking_socket(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.setblocking(False)
    assert ks.readline(4) is None
    ref.sendall(b"ab")
    time.sleep(0.05)
    assert ks.readline(4) == b"ab"
    ref.sendall(b"cdefgh\n")
    time.sleep(0.05)
    assert ks.readline(4) == b"cdef"


def test_readline_limit_with_bytes_held_after_a_timeout(peers, usock):
    """Bytes kept by a timed-out read are returned first, and the limit counts them."""
    ks, ref = peers.stream_pair(usock, "ipv4")
    ks.settimeout(0.2)
    ref.sendall(b"held")
    with pytest.raises(OSError):
        ks.read(10)                                 # 4 bytes came, then the timeout
    assert ks.pending() == 4
    ref.sendall(b" more\n")
    assert ks.readline(6) == b"held m"
    assert ks.readline() == b"ore\n"


@pytest.mark.parametrize("bad", [1.5, "3", b"3", [1]])
def test_readline_bad_limit(peers, usock, bad):
    ks, _ = peers.stream_pair(usock, "ipv4")
    with pytest.raises(TypeError, match=r"readline\(\) argument 'limit'"):
        ks.readline(bad)


def test_makefile_stream_has_the_same_methods(peers, usock):
    ks, ref = peers.stream_pair(usock, "ipv4")
    f = ks.makefile("rwb")
    f.write(BUF, 3, 4)
    assert peers.read_exact(ref, 4) == b"3456"
    ref.sendall(b"line\n")
    assert f.readline(2) == b"li"
