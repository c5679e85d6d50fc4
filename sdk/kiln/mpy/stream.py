"""py/stream.c's methods for the MicroPython face's Python-level streams (``deflate.DeflateIO``,
``uzlib.DecompIO``), with the same signatures and semantics as ``usocket.socket``'s:

- ``read()`` / ``read(-1)``: everything until EOF; ``read(n)``: n bytes, fewer only at EOF;
- ``readinto(buf[, nbytes])``: fill ``buf`` (at most ``nbytes``; more than the buffer is
  clamped), fewer only at EOF; returns the count;
- ``readline([limit])``: through b"\\n", EOF or ``limit`` bytes (None/negative: no limit);
- ``write(buf)``, ``write(buf, max_len)``, ``write(buf, off, max_len)``: ``off`` and
  ``max_len`` clamped to the buffer, negative values refused; returns the count written.

A subclass provides ``_read_some(n)`` (up to ``n`` bytes, b"" at EOF) and/or
``_write_all(view)``; a missing one raises OSError(EINVAL) as a stream without that operation
does in MicroPython.  Bad arguments raise TypeError/ValueError naming the method and argument.
"""
import errno
import operator


def _index(value, func, name, what="an int or None"):
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{func}() argument '{name}' must be {what}, not "
                        f"{type(value).__name__}") from None


def clamped_count(value, avail, func, name):
    """A count of at most ``avail`` bytes: None is ``avail``; larger is clamped; negative is a
    ValueError (as ``usocket``'s ``readinto``/``write``)."""
    if value is None:
        return avail
    value = _index(value, func, name)
    if value < 0:
        raise ValueError(f"{func}() argument '{name}' must be >= 0, got {value}")
    return min(value, avail)


def _byte_view(buf, func, name, writable):
    if isinstance(buf, str) and not writable:
        return memoryview(buf.encode())         # str is written as UTF-8, as usocket does
    try:
        view = memoryview(buf)
    except TypeError:
        what = "a writable bytes-like object" if writable else "a bytes-like object or str"
        raise TypeError(f"{func}() argument '{name}' must be {what}, not "
                        f"{type(buf).__name__}") from None
    if writable and view.readonly:
        raise TypeError(f"{func}() argument '{name}' must be a writable bytes-like object, "
                        f"not read-only {type(buf).__name__}")
    if not view.c_contiguous:
        raise TypeError(f"{func}() argument '{name}' must be a contiguous bytes-like object")
    return view.cast("B")


class Stream:
    """Base of a Python-level stream with MicroPython's stream methods (see the module)."""

    def _read_some(self, n):
        raise OSError(errno.EINVAL, "stream operation not supported")

    def _write_all(self, view):
        raise OSError(errno.EINVAL, "stream operation not supported")

    def read(self, size=-1):
        """``size`` bytes (fewer only at EOF), or everything until EOF when ``size`` is omitted,
        None or -1."""
        if size is None:
            size = -1
        size = _index(size, "read", "size")
        if size == -1:
            chunks = []
            while True:
                chunk = self._read_some(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        if size < 0:
            raise ValueError(f"read() argument 'size' must be >= 0 or -1, got {size}")
        chunks, got = [], 0
        while got < size:
            chunk = self._read_some(size - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def readinto(self, buf, nbytes=None):
        """Fill ``buf`` (at most ``nbytes`` bytes); fewer only at EOF; return the count."""
        view = _byte_view(buf, "readinto", "buf", True)
        n = clamped_count(nbytes, len(view), "readinto", "nbytes")
        got = 0
        while got < n:
            chunk = self._read_some(n - got)
            if not chunk:
                break
            view[got:got + len(chunk)] = chunk
            got += len(chunk)
        return got

    def readline(self, limit=None):
        """One line through b"\\n" (included), EOF or ``limit`` bytes."""
        limit = -1 if limit is None else _index(limit, "readline", "limit")
        line = bytearray()
        while limit < 0 or len(line) < limit:
            byte = self._read_some(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    def write(self, buf, off=None, max_len=None, /):
        """Write ``buf[off:off + max_len]`` (``write(buf, max_len)`` with two arguments); return
        the count written."""
        if max_len is None and off is not None:
            off, max_len = None, off
        view = _byte_view(buf, "write", "buf", False)
        start = 0 if off is None else clamped_count(off, len(view), "write", "off")
        n = clamped_count(max_len, len(view) - start, "write", "max_len")
        self._write_all(view[start:start + n])
        return n

    def close(self):
        """Close the stream (subclasses release what they hold)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line
