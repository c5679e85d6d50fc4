"""HTTP/1.1 response framing (RFC 9112), shared by the faces' HTTP clients.

The MicroPython face's ``requests`` (:mod:`kiln.mpy.requests`) and the Zerynth face's
``requests`` (:mod:`kiln.zerynth.requests`) build their requests and report errors as their
ecosystems do; where the response body starts and ends is decided here, once:

- :func:`body_length` -- how the body of a response is delimited (RFC 9112 section 6.3);
- :class:`Body` -- reads that body from the connection: ``Content-Length`` bytes, chunks
  (``Transfer-Encoding: chunked``, trailers skipped) or everything up to the end of the
  connection.

The connection is any object with ``readline(limit)`` (bytes up to and including ``b"\\n"``, at
most ``limit`` bytes; b"" at its end) and ``readinto(buf)`` (the count read, 0 at its end), such
as a ``usocket`` socket.  A malformed or cut-short body raises the ``error`` class the client
gives (ValueError by default), with a message naming what was wrong.
"""

#: :func:`body_length` for a chunked body.
CHUNKED = -1
#: :func:`body_length` for a body delimited by the end of the connection.
TO_CLOSE = -2
#: The longest chunk-size or trailer line accepted (bytes).
MAX_LINE = 8192


def body_length(method, status, transfer_encoding, content_length, error=ValueError):
    """How the body of a response to ``method`` with ``status`` is delimited: its byte count
    (0 for HEAD, 1xx, 204 and 304 responses), :data:`CHUNKED` or :data:`TO_CLOSE`.
    ``transfer_encoding`` and ``content_length`` are the header values (str, or None when
    absent); a Content-Length that is not a non-negative integer raises ``error``."""
    if method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return 0
    if transfer_encoding is not None and "chunked" in transfer_encoding.lower():
        return CHUNKED
    if content_length is None:
        return TO_CLOSE
    text = content_length.strip()
    if not text.isdigit():
        raise error(f"bad Content-Length {content_length!r}")
    return int(text)


class Body:
    """Body(conn, length, error=ValueError): the body of a response on ``conn`` delimited as
    :func:`body_length` says.  Reads block as ``conn`` does (its timeout applies)."""

    def __init__(self, conn, length, error=ValueError):
        self._conn = conn
        self._error = error
        self._chunked = length == CHUNKED
        self._to_close = length == TO_CLOSE
        # Bytes left in the body (or in the current chunk); -1: a chunk-size line comes next.
        self._remaining = -1 if self._chunked else max(length, 0)
        self._done = length == 0

    def readinto(self, buf):
        """Read the next part of the body into ``buf`` (a writable buffer); return the count,
        0 at the end of the body.  Raises ``error`` if the body is malformed or the
        connection ends before it does."""
        if self._done:
            return 0
        if self._chunked and self._remaining < 0 and not self._next_chunk():
            return 0
        view = memoryview(buf).cast("B")
        if not self._to_close:
            view = view[:self._remaining]
        if not len(view):
            return 0
        got = self._conn.readinto(view)
        if not got:
            if self._to_close:
                self._done = True
                return 0
            raise self._error(f"the server closed the connection {self._remaining} bytes "
                              f"before the end of the body")
        if not self._to_close:
            self._remaining -= got
            if self._remaining == 0:
                if self._chunked:
                    if bytes(self._conn.readline(2)) not in (b"\r\n", b"\n"):
                        raise self._error("chunk not followed by CRLF")
                    self._remaining = -1
                else:
                    self._done = True
        return got

    def read(self, n=-1):
        """Up to ``n`` bytes of the body as bytes (all that is left when ``n`` < 0); b"" at
        its end."""
        if n >= 0:
            buf = bytearray(n)
            got = self.readinto(buf)
            return bytes(buf[:got])
        result = bytearray()
        buf = bytearray(65536)
        while got := self.readinto(buf):
            result += buf[:got]
        return bytes(result)

    def close(self):
        """Close the connection (the rest of the body is not read)."""
        self._done = True
        self._conn.close()

    def _next_chunk(self):
        """Read a chunk-size line; False (trailers skipped) after the last chunk."""
        line = self._line()
        size = line.split(b";", 1)[0].strip()
        try:
            self._remaining = int(size, 16)
        except ValueError:
            raise self._error(f"bad chunk size line {line[:40]!r}") from None
        if self._remaining < 0:
            raise self._error(f"bad chunk size line {line[:40]!r}")
        if self._remaining == 0:
            while self._line() not in (b"\r\n", b"\n"):   # trailers, up to the empty line
                pass
            self._done = True
            return False
        return True

    def _line(self):
        line = bytes(self._conn.readline(MAX_LINE))
        if not line:
            raise self._error("the server closed the connection inside a chunked body")
        if not line.endswith(b"\n"):
            raise self._error(f"chunked body line longer than {MAX_LINE} bytes or cut short")
        return line
