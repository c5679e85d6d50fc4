"""Zerynth's ``streams`` module: ``import streams`` in a Zerynth app.

- :class:`serial` -- on a Kiln board, ``SERIAL0`` is the console: what the program writes goes
  to the process's standard output (the board's serial console on a Kiln image), what it reads
  comes from its standard input.  ``streams.serial()`` also makes it the default stream of
  ``print``, as in Zerynth (on Kiln ``print`` already writes to the console before that).
- :class:`SocketStream` -- a stream over a socket (``print(..., stream=s)`` writes to it).
- :class:`stream` -- the base class: ``read``, ``readline``, ``write``.

Reads return :class:`kiln.zerynth.zbytes.zbytearray`: a bytearray that compares with str, as
Zerynth's byte strings do (``while line != "\\r\\n": ...``).
"""
import errno
import os

from kiln.errors import UnsupportedError
from kiln.net.const import MSG_PEEK
from kiln.zerynth import builtins as _builtins
from kiln.zerynth.builtins import SERIAL0
from kiln.zerynth.zbytes import zbytearray

__all__ = ["stream", "serial", "SocketStream", "PARITY_NONE", "PARITY_EVEN", "PARITY_ODD",
           "STOPBIT_1", "STOPBIT_1_HALF", "STOPBIT_2", "BITSIZE_8"]

PARITY_NONE = 0
PARITY_EVEN = 1
PARITY_ODD = 2
STOPBIT_1 = 0
STOPBIT_1_HALF = 1
STOPBIT_2 = 2
BITSIZE_8 = 0

#: Bytes a line read looks at in one go.
_PEEK = 512


def _check_int(func, name, value, minimum):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{func}(): {name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{func}(): {name} must be >= {minimum}, got {value}")
    return value


def _separator(sep):
    """``sep`` (a 1-character str, a 1-byte bytes or an int byte) as one byte."""
    if isinstance(sep, str):
        sep = sep.encode()
    if isinstance(sep, (bytes, bytearray)) and len(sep) == 1:
        return bytes(sep)
    if isinstance(sep, int) and not isinstance(sep, bool) and 0 <= sep <= 255:
        return bytes((sep,))
    raise ValueError(f"readline(): sep must be one character (or byte), got {sep!r}")


def _nbytes(buf):
    if isinstance(buf, str):
        return len(buf.encode())
    return memoryview(buf).nbytes


class stream:
    """The base class of streams: ``read``, ``readline`` and ``write`` over ``_readbuf`` (and
    ``_read_line``, which subclasses may do faster than a byte at a time)."""

    def _readbuf(self, buf, size=1, ofs=0):
        """Read at most ``size`` bytes into ``buf`` at offset ``ofs``, blocking until at least
        one arrives; return the count (0 at end of stream)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be read")

    def write(self, buf):
        """Write ``buf`` (str, bytes or bytearray); return the number of bytes written."""
        raise NotImplementedError(f"{type(self).__name__} cannot be written")

    def read(self, size=1):
        """At most ``size`` bytes as a bytearray; blocks while none are available.  An empty
        result means the stream is disconnected (end of stream)."""
        _check_int("read", "size", size, 0)
        buf = zbytearray(size)
        n = self._readbuf(buf, size, 0) if size else 0
        del buf[n:]
        return buf

    def _read_line(self, sep, limit):
        """Bytes through ``sep`` (included), or fewer at end of stream or at ``limit`` bytes
        (None: no limit)."""
        line = zbytearray()
        one = bytearray(1)
        while limit is None or len(line) < limit:
            if self._readbuf(one, 1, 0) == 0:
                break
            line += one
            if one == sep:
                break
        return line

    def readline(self, sep="\n", buffer=None, size=0, ofs=0):
        """Read through the separator ``sep`` (included); an empty result means the stream is
        disconnected.  With ``buffer`` (a bytearray) the line is stored in it from offset
        ``ofs``, at most up to ``size`` bytes of buffer (0: its current length); ``buffer`` is
        cut after the line and returned."""
        sep = _separator(sep)
        if buffer is None:
            return self._read_line(sep, None)
        if not isinstance(buffer, bytearray):
            raise TypeError(f"readline(): buffer must be a bytearray, not "
                            f"{type(buffer).__name__}")
        _check_int("readline", "size", size, 0)
        _check_int("readline", "ofs", ofs, 0)
        capacity = size or len(buffer)
        if capacity <= ofs:
            raise ValueError(f"readline(): size ({capacity}) must be larger than ofs ({ofs})")
        line = self._read_line(sep, capacity - ofs)
        del buffer[ofs:]
        buffer += line
        return buffer


class serial(stream):
    """serial(drvname=SERIAL0, baud=115200, stopbits=STOPBIT_1, parity=PARITY_NONE,
    bitsize=BITSIZE_8, set_default=True, rxsize=0, txsize=0)

    A serial port as a stream.  ``SERIAL0`` is the board's console: the process's standard
    input and output (the console the kernel was given); its line settings (``baud``,
    ``stopbits``, ``parity``, ``bitsize``) and buffer sizes are checked and kept as attributes,
    but the console keeps the kernel's settings (the board file's ``console=``): changing them
    would cut the host off the console.  ``SERIAL1`` .. are the UARTs the board file names
    (``[[uart]]``, e.g. a Pi's PL011): opened with termios (kiln.hw.uart) at ``baud`` with
    those settings (``STOPBIT_1_HALF`` does not exist on Linux: ValueError); reads block until
    data arrives.  ``set_default`` makes it ``print``'s default stream.  A port the board does
    not have raises UnsupportedError.
    """

    def __init__(self, drvname=SERIAL0, baud=115200, stopbits=STOPBIT_1, parity=PARITY_NONE,
                 bitsize=BITSIZE_8, set_default=True, rxsize=0, txsize=0):
        _check_int("serial", "drvname", drvname, 0)
        _check_int("serial", "baud", baud, 1)
        for name, value, allowed in (("stopbits", stopbits, (STOPBIT_1, STOPBIT_1_HALF,
                                                             STOPBIT_2)),
                                     ("parity", parity, (PARITY_NONE, PARITY_EVEN, PARITY_ODD)),
                                     ("bitsize", bitsize, (BITSIZE_8,))):
            _check_int("serial", name, value, 0)
            if value not in allowed:
                raise ValueError(f"serial(): {name} must be one of {allowed}, got {value}")
        _check_int("serial", "rxsize", rxsize, 0)
        _check_int("serial", "txsize", txsize, 0)
        if not isinstance(set_default, bool):
            raise TypeError(f"serial(): set_default must be True or False, not {set_default!r}")
        self._port = None
        if drvname != SERIAL0:
            self._port = _open_uart(drvname, baud, stopbits, parity)
        self.drvname, self.baud, self.stopbits, self.parity = drvname, baud, stopbits, parity
        self.bitsize, self.rxsize, self.txsize = bitsize, rxsize, txsize
        self._fd = 0                      # standard input
        self._pending = bytearray()       # read from the console, not yet returned
        self._closed = False
        if set_default:
            _builtins.set_default_stream(self)

    def _check_open(self):
        if self._closed:
            raise OSError(errno.EBADF, "the serial stream is closed")

    def _fill(self, size):
        """Make ``_pending`` hold something (blocks while the console has nothing); False at
        end of input."""
        if not self._pending:
            if self._port is not None:
                data = self._port.read(max(size, _PEEK), timeout=None, timeout_char=0)
            else:
                data = os.read(self._fd, max(size, _PEEK))
            if not data:
                return False
            self._pending += data
        return True

    def _readbuf(self, buf, size=1, ofs=0):
        self._check_open()
        if not self._fill(size):
            return 0
        take = self._pending[:size]
        del self._pending[:len(take)]
        buf[ofs:ofs + len(take)] = take
        return len(take)

    def _read_line(self, sep, limit):
        self._check_open()
        line = zbytearray()
        while limit is None or len(line) < limit:
            if not self._fill(1):
                break
            want = len(self._pending)
            if limit is not None:
                want = min(want, limit - len(line))
            end = self._pending.find(sep, 0, want)
            take = end + 1 if end >= 0 else want
            line += self._pending[:take]
            del self._pending[:take]
            if end >= 0:
                break
        return line

    def write(self, buf):
        """Write ``buf`` (str, bytes or bytearray) to the console; return the byte count."""
        self._check_open()
        if not isinstance(buf, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"write(): buffer must be str, bytes or bytearray, not "
                            f"{type(buf).__name__}")
        if self._port is not None:
            return self._port.write(buf)
        return _builtins.CONSOLE.write(buf)

    def available(self):
        """How many bytes can be read without blocking."""
        self._check_open()
        if self._port is not None:
            return len(self._pending) + self._port.in_waiting
        import fcntl
        import termios
        count = bytearray(4)
        try:
            fcntl.ioctl(self._fd, termios.FIONREAD, count)
        except OSError:
            return len(self._pending)     # not a terminal nor a pipe: nothing waiting
        return len(self._pending) + int.from_bytes(count, "little")

    def close(self):
        """Close the stream: its reads and writes raise OSError (EBADF) from now on.  The
        console itself stays open: if this stream was ``print``'s default, print writes to the
        console directly again."""
        self._closed = True
        if self._port is not None:
            self._port.close()
        if _builtins.default_stream() is self:
            _builtins.set_default_stream(_builtins.CONSOLE)

    def __repr__(self):
        what = "the console" if self._port is None else self._port.path
        return f"<serial SERIAL{self.drvname} ({what}){' closed' if self._closed else ''}>"


def _open_uart(drvname, baud, stopbits, parity):
    """The board's UART ``SERIAL<drvname>`` ([[uart]] in the board file) as a kiln.hw.uart
    Serial; UnsupportedError when the board has none of that name."""
    from kiln.hw import resolve
    from kiln.hw.uart import Serial
    try:
        spec = resolve.bus("uart", f"SERIAL{drvname}")
    except resolve.BusError as exc:
        raise UnsupportedError(f"serial(): SERIAL{drvname} does not exist on this board "
                               f"(SERIAL0 is the console): {exc}") from None
    if stopbits == STOPBIT_1_HALF:
        raise ValueError("serial(): STOPBIT_1_HALF does not exist on Linux serial ports")
    return Serial(resolve.uart_device(spec.id), baud, 8,
                  {PARITY_NONE: None, PARITY_EVEN: "E", PARITY_ODD: "O"}[parity],
                  2 if stopbits == STOPBIT_2 else 1)


class SocketStream(stream):
    """SocketStream(sock): a stream over the connected socket ``sock`` (Zerynth semantics:
    ``read(size)`` waits for ``size`` bytes or the peer's close).  A line read takes no byte
    past the separator, so the socket can be read directly afterwards; bytes of a line cut
    short by a timeout or an error are kept and returned first by the next read."""

    def __init__(self, sock):
        for method in ("recv", "recv_into", "sendall", "close"):
            if not callable(getattr(sock, method, None)):
                raise TypeError(f"SocketStream(): sock must be a socket, not "
                                f"{type(sock).__name__}")
        self.socket = sock
        self._held = zbytearray()         # bytes of an interrupted line, returned first
        self._peek = True                 # False once the socket refused MSG_PEEK

    def _readbuf(self, buf, size=1, ofs=0):
        view = memoryview(buf)[ofs:ofs + size]
        n = 0
        if self._held:
            n = min(len(self._held), len(view))
            view[:n] = self._held[:n]
            del self._held[:n]
            if n == len(view):
                return n
        return n + self.socket.recv_into(view[n:], len(view) - n)

    def read_some(self, limit):
        """What has arrived, at most ``limit`` bytes, waiting for at least one (empty at end of
        stream).  (Kiln extension: Zerynth's ``read(size)`` waits for ``size`` bytes.)"""
        _check_int("read_some", "limit", limit, 1)
        return self._read_line(None, limit)

    def _read_line(self, sep, limit):
        """Through ``sep``, or at most ``limit`` bytes; with ``sep`` None, what one receive
        brings."""
        line, self._held = self._held, zbytearray()
        if sep is None and line:
            self._held = line[limit:]
            return line[:limit]
        try:
            end = line.find(sep) if sep is not None else -1
            if end >= 0 or (limit is not None and len(line) >= limit):
                cut = end + 1 if end >= 0 else limit
                if limit is not None:
                    cut = min(cut, limit)
                self._held = line[cut:]
                return line[:cut]
            while limit is None or len(line) < limit:
                want = _PEEK if limit is None else min(_PEEK, limit - len(line))
                if self._peek:
                    try:
                        seen = self.socket.recv(want, MSG_PEEK)
                    except (TypeError, ValueError, NotImplementedError):
                        self._peek = False        # a socket without MSG_PEEK: byte by byte
                        continue
                    if not seen:
                        break
                    end = seen.find(sep) if sep is not None else -1
                    take = end + 1 if end >= 0 else len(seen)
                    line += self.socket.recv(take)
                else:
                    got = self.socket.recv(1)
                    if not got:
                        break
                    line += got
                    end = 0 if got == sep else -1
                if end >= 0 or sep is None:
                    break
        except BaseException:
            self._held = line
            raise
        return line

    def write(self, buf):
        """Send all of ``buf`` (str as UTF-8, bytes, bytearray); return the byte count."""
        self.socket.sendall(buf)
        return _nbytes(buf)

    def close(self):
        """Close the socket."""
        self.socket.close()

    def __repr__(self):
        return f"<SocketStream {self.socket!r}>"
