"""kiln.http1: where an HTTP/1.1 response body starts and ends (both faces' requests use it)."""
from __future__ import annotations

import io

import pytest

from kiln import http1


class Conn:
    """A connection over fixed bytes, handing out at most ``step`` bytes per read."""

    def __init__(self, data: bytes, step: int = 3):
        self.data, self.step, self.closed = io.BytesIO(data), step, False

    def readline(self, limit):
        return self.data.readline(limit)

    def readinto(self, buf):
        return self.data.readinto(memoryview(buf)[:self.step])

    def close(self):
        self.closed = True


@pytest.mark.parametrize("method,status,te,cl,expected", [
    ("HEAD", 200, None, "10", 0), ("GET", 204, None, None, 0), ("GET", 304, "chunked", None, 0),
    ("GET", 101, None, None, 0), ("GET", 200, "gzip, Chunked", "5", http1.CHUNKED),
    ("GET", 200, None, " 12 ", 12), ("POST", 500, None, None, http1.TO_CLOSE),
])
def test_body_length_follows_rfc9112(method, status, te, cl, expected):
    assert http1.body_length(method, status, te, cl) == expected


@pytest.mark.parametrize("cl", ["-4", "x", "", "1e3"])
def test_bad_content_length_raises_the_clients_error(cl):
    class Mine(Exception):
        pass
    with pytest.raises(Mine, match="bad Content-Length"):
        http1.body_length("GET", 200, None, cl, Mine)


def test_length_body_stops_at_its_end_and_leaves_the_rest():
    conn = Conn(b"hello worldNEXT")
    body = http1.Body(conn, 11)
    assert body.read() == b"hello world"
    assert body.read(5) == b""
    assert conn.data.read() == b"NEXT"


def test_chunked_body_with_extensions_and_trailers():
    wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT"
    conn = Conn(wire)
    body = http1.Body(conn, http1.CHUNKED)
    assert body.read() == b"hello world"
    assert conn.data.read() == b"NEXT"


def test_to_close_body_reads_until_the_end():
    assert http1.Body(Conn(b"a" * 100, step=7), http1.TO_CLOSE).read() == b"a" * 100


@pytest.mark.parametrize("length,wire,message", [
    (10, b"short", "5 bytes before the end"),
    (http1.CHUNKED, b"zz\r\n", "bad chunk size"),
    (http1.CHUNKED, b"-1\r\n", "bad chunk size"),
    (http1.CHUNKED, b"3\r\nabcXY", "not followed by CRLF"),
    (http1.CHUNKED, b"3\r\nab", "before the end"),
    (http1.CHUNKED, b"", "inside a chunked body"),
    (http1.CHUNKED, b"f" * 9000, "longer than"),
])
def test_malformed_or_cut_bodies_raise_naming_the_problem(length, wire, message):
    with pytest.raises(ValueError, match=message):
        http1.Body(Conn(wire), length).read()


def test_close_closes_the_connection():
    conn = Conn(b"abc")
    body = http1.Body(conn, 3)
    body.close()
    assert conn.closed and body.read() == b""
