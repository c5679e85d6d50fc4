"""MicroPython's former ``uzlib`` module (``import uzlib`` under ``--api micropython``), over
CPython's zlib: programs written before MicroPython 1.21 replaced it with ``deflate``.

- ``decompress(data, wbits=0, bufsize=0, /)``: ``data`` as bytes; a negative ``wbits`` means raw
  deflate, otherwise a zlib header is expected (and, as in CPython, 16 + 8..15 means gzip);
  ``bufsize`` is accepted and ignored, as MicroPython did.  Corrupt data raises ValueError.
- ``DecompIO(stream, wbits=0, /)``: a read-only stream decompressing ``stream``: ``wbits`` 16 + n
  for gzip, 0..15 for zlib, negative for raw (:class:`kiln.mpy.deflate.DeflateIO`'s reading).
"""
import operator as _operator
import zlib as _zlib

from kiln.mpy import deflate as _deflate


def _int(value, func, name):
    try:
        return _operator.index(value)
    except TypeError:
        raise TypeError(f"{func}() argument '{name}' must be an int, not "
                        f"{type(value).__name__}") from None


def decompress(data, wbits=0, bufsize=0, /):
    """The decompressed ``data`` (bytes); see the module docstring for ``wbits``."""
    wbits = _int(wbits, "decompress", "wbits")
    _int(bufsize, "decompress", "bufsize")
    try:
        memoryview(data)
    except TypeError:
        raise TypeError(f"decompress() argument 'data' must be a bytes-like object, not "
                        f"{type(data).__name__}") from None
    if wbits < 0:
        zwbits = -15
    elif wbits >= 16:
        zwbits = 16 + 15
    else:
        zwbits = 15
    inflater = _zlib.decompressobj(zwbits)
    try:
        result = inflater.decompress(data)
    except _zlib.error as exc:
        raise ValueError(f"decompress(): bad compressed data: {exc}") from None
    if not inflater.eof:
        raise ValueError("decompress(): the compressed data is incomplete")
    return result


class DecompIO(_deflate.DeflateIO):
    """DecompIO(stream, wbits=0, /): read ``stream`` decompressed (``read``, ``readinto``,
    ``readline``); writing raises OSError(EINVAL)."""

    def __init__(self, stream, wbits=0, /):
        wbits = _int(wbits, "DecompIO", "wbits")
        if wbits >= 16:
            fmt = _deflate.GZIP
        elif wbits >= 0:
            fmt = _deflate.ZLIB
        else:
            fmt = _deflate.RAW
        super().__init__(stream, fmt)

    def _write_all(self, view):
        raise OSError(22, "DecompIO is read-only")
