"""MicroPython's ``deflate`` module (``import deflate`` under ``--api micropython``), over
CPython's zlib.

``DeflateIO(stream, format=AUTO, wbits=0, close=False, /)`` wraps a blocking stream (file,
``io.BytesIO``, Kiln socket) and is itself a stream (``read``, ``readinto``, ``readline``,
``write``, ``close``, with py/stream.c's signatures, :mod:`kiln.mpy.stream`):

- reading decompresses: ``AUTO`` detects a zlib or gzip header, ``ZLIB``/``GZIP`` require
  theirs, ``RAW`` has none.  The decompressor always has a 32 KiB window, so it reads any stream
  (MicroPython fails on streams that need a larger window than ``wbits``).  It never consumes
  bytes of ``stream`` past the end of the compressed data: a Kiln socket is peeked, a seekable
  stream is seeked back, anything else is read one byte at a time (as MicroPython does).
  Corrupt data raises OSError(EINVAL); a stream that ends inside the compressed data raises
  EOFError.
- writing compresses (``AUTO`` and ``RAW``: raw deflate; ``ZLIB``, ``GZIP``: with header and
  checksum); ``close()`` writes the end of the compressed data.  The window is ``2**wbits``
  bytes but at least 512 (zlib's smallest; MicroPython's default is 256).
- ``close()`` closes ``stream`` too when ``close`` is true; a closed DeflateIO raises
  OSError(EINVAL).
"""
import errno as _errno
import io as _io
import zlib as _zlib

from kiln.mpy.stream import Stream as _Stream

AUTO = 0
RAW = 1
ZLIB = 2
GZIP = 3

# zlib's wbits for each format when decompressing (largest window: reads everything).
_INFLATE_WBITS = {AUTO: 32 + 15, RAW: -15, ZLIB: 15, GZIP: 16 + 15}
_CHUNK = 4096


class _Source:
    """Compressed bytes from a stream, handed out so that nothing past the end of the
    compressed data is consumed (see the module docstring)."""

    def __init__(self, stream):
        from kiln.net.core import SocketCore
        self.stream = stream
        self.back = b""            # bytes read from the stream that zlib has not consumed yet
        if isinstance(stream, SocketCore):
            self.mode = "peek"
        elif _seekable(stream):
            self.mode = "seek"
        else:
            self.mode = "byte"

    def take(self):
        """Bytes to feed to the decompressor (b"": the stream is at EOF)."""
        if self.mode == "peek":
            from kiln.net.const import MSG_PEEK
            return self.stream.recv(_CHUNK, MSG_PEEK)
        if self.back:
            data, self.back = self.back, b""
            return data
        data = self.stream.read(_CHUNK if self.mode == "seek" else 1)
        if data is None:
            raise OSError(_errno.EAGAIN, "DeflateIO needs a blocking stream")
        return data

    def used(self, data, consumed, at_end):
        """The decompressor consumed ``consumed`` bytes of ``data`` (from :meth:`take`);
        ``at_end``: the compressed data ended there."""
        if self.mode == "peek":
            if consumed:
                self.stream.read(consumed)          # take exactly what was peeked and used
            return
        self.back = data[consumed:] + self.back
        if at_end and self.back and self.mode == "seek":
            self.stream.seek(-len(self.back), _io.SEEK_CUR)
            self.back = b""


def _seekable(stream):
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


class DeflateIO(_Stream):
    """DeflateIO(stream, format=AUTO, wbits=0, close=False, /): see the module docstring."""

    def __init__(self, stream, format=AUTO, wbits=0, close=False, /):
        if not (callable(getattr(stream, "read", None)) or
                callable(getattr(stream, "write", None))):
            raise TypeError(f"DeflateIO() argument 'stream' must be a stream (with read or "
                            f"write), not {type(stream).__name__}")
        format = _int(format, "format")
        wbits = _int(wbits, "wbits")
        if format not in (AUTO, RAW, ZLIB, GZIP):
            raise ValueError(f"DeflateIO() argument 'format' must be AUTO, RAW, ZLIB or GZIP "
                             f"(0..3), got {format}")
        if wbits != 0 and not 5 <= wbits <= 15:
            raise ValueError(f"DeflateIO() argument 'wbits' must be 0 or 5..15, got {wbits}")
        self._stream = stream
        self._format = format
        self._wbits = wbits
        self._close_stream = bool(close)
        self._open = True
        self._source = None
        self._inflater = None
        self._out = b""
        self._deflater = None

    def _check(self):
        if not self._open:
            raise OSError(_errno.EINVAL, "DeflateIO is closed")

    def _read_some(self, n):
        self._check()
        if self._inflater is None:
            self._source = _Source(self._stream)
            self._inflater = _zlib.decompressobj(_INFLATE_WBITS[self._format])
        while not self._out and not self._inflater.eof:
            data = self._source.take()
            if not data:
                raise EOFError("the stream ended inside the compressed data")
            try:
                self._out = self._inflater.decompress(data, 65536)
            except _zlib.error as exc:
                raise OSError(_errno.EINVAL, f"bad compressed data: {exc}") from None
            left = len(self._inflater.unconsumed_tail) + len(self._inflater.unused_data)
            self._source.used(data, len(data) - left, self._inflater.eof)
        chunk, self._out = self._out[:n], self._out[n:]
        return chunk

    def _write_all(self, view):
        self._check()
        if self._deflater is None:
            window = max(9, self._wbits or 8)
            wbits = {AUTO: -window, RAW: -window, ZLIB: window, GZIP: 16 + window}
            self._deflater = _zlib.compressobj(_zlib.Z_DEFAULT_COMPRESSION, _zlib.DEFLATED,
                                               wbits[self._format])
        data = self._deflater.compress(view)
        if data:
            self._stream.write(data)

    def close(self):
        """Finish the compressed data being written (if any) and, with ``close=True``, close the
        wrapped stream.  Closing twice is harmless."""
        if not self._open:
            return
        self._open = False
        try:
            if self._deflater is not None:
                self._stream.write(self._deflater.flush())
        finally:
            if self._close_stream:
                self._stream.close()


def _int(value, name):
    import operator
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"DeflateIO() argument '{name}' must be an int, not "
                        f"{type(value).__name__}") from None
