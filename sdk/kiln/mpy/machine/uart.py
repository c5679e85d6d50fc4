"""``machine.UART`` (docs/library/machine.UART.rst) over termios (kiln.hw.uart).

``UART(id)`` opens the board file's UART ``id`` (a Pi's ``UART(0)`` is the PL011, ttyAMA0).
``timeout`` and ``timeout_char`` are in ms: a read waits up to ``timeout`` for its first byte
and ``timeout_char`` between bytes (at least 3 character times and 2 ms); with no data it returns None, as MicroPython does.
``parity`` is None, 0 (even) or 1 (odd); ``flow`` is 0 or ``UART.RTS | UART.CTS`` (RTS/CTS go
together on Linux).  ``tx``/``rx`` pins are the device tree's (ValueError).
"""
import errno

from kiln.hw import resolve
from kiln.hw.uart import Serial


class UART:
    """``UART(id, baudrate=9600, bits=8, parity=None, stop=1, *, timeout=0, timeout_char=0,
    flow=0, ...)``."""

    RTS = 1
    CTS = 2
    INV_TX = 1
    INV_RX = 2

    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, **kwargs):
        if isinstance(id, bool) or not isinstance(id, (int, str)):
            raise TypeError(f"UART(): id must be an int, not {type(id).__name__}")
        self._spec = resolve.bus("uart", id)
        self._port = None
        self.init(baudrate, bits, parity, stop, **kwargs)

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, *, tx=None, rx=None, rts=None,
             cts=None, txbuf=None, rxbuf=None, timeout=0, timeout_char=0, invert=0, flow=0):
        """(Re)configure the port (arguments as the class)."""
        if any(p is not None for p in (tx, rx, rts, cts)):
            raise ValueError("UART.init(): tx/rx/rts/cts pins are fixed by the device tree")
        if invert:
            raise ValueError("UART.init(): Linux's serial drivers cannot invert the lines")
        if parity not in (None, 0, 1) or isinstance(parity, bool):
            raise ValueError(f"UART.init(): parity must be None, 0 (even) or 1 (odd), got "
                             f"{parity!r}")
        if flow not in (0, self.RTS | self.CTS):
            raise ValueError("UART.init(): flow must be 0 or UART.RTS | UART.CTS (Linux turns "
                             "RTS/CTS flow control on together)")
        for name, v in (("timeout", timeout), ("timeout_char", timeout_char)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"UART.init(): {name} must be an int >= 0 (ms), got {v!r}")
        p = {None: None, 0: "E", 1: "O"}[parity]
        if self._port is None:
            self._port = Serial(resolve.uart_device(self._spec.id), baudrate, bits, p, stop,
                                bool(flow))
        else:
            self._port.configure(baudrate, bits, p, stop, bool(flow))
        self._timeout = timeout / 1000
        # As MicroPython's ports do, the gap that ends a read is at least a few character
        # times at this baud rate (3 x 11 bits), and 2 ms: bytes of one burst are never split.
        self._timeout_char = max(timeout_char / 1000, 33 / baudrate, 0.002)

    def deinit(self):
        """Close the port (idempotent)."""
        if self._port is not None:
            self._port.close()
            self._port = None

    def _p(self, func):
        if self._port is None:
            raise OSError(errno.EBADF, f"UART.{func}(): the UART is closed (deinit)")
        return self._port

    def any(self):
        """Bytes waiting to be read."""
        return self._p("any").in_waiting

    def read(self, nbytes=None):
        """Up to ``nbytes`` (all that arrives within the timeouts when None); None when
        nothing came."""
        port = self._p("read")
        if nbytes is None:
            out = bytearray()
            while True:
                chunk = port.read(4096, timeout=self._timeout_char if out else self._timeout,
                                  timeout_char=self._timeout_char)
                if not chunk:
                    break
                out += chunk
            return bytes(out) or None
        data = port.read(nbytes, timeout=self._timeout, timeout_char=self._timeout_char)
        return data or None

    def readinto(self, buf, nbytes=None):
        """Read into ``buf``; returns the count, or None when nothing came."""
        n = self._p("readinto").readinto(buf, nbytes, self._timeout, self._timeout_char)
        return n or None

    def readline(self):
        """Bytes up to and including a newline, or what came before the timeout; None when
        nothing came."""
        port = self._p("readline")
        out = bytearray()
        while not out.endswith(b"\n"):
            b = port.read(1, timeout=self._timeout_char if out else self._timeout)
            if not b:
                break
            out += b
        return bytes(out) or None

    def write(self, buf):
        """Write ``buf``; returns the bytes written (None on a timeout with none written)."""
        try:
            return self._p("write").write(buf, timeout=max(self._timeout, 1.0))
        except TimeoutError:
            return None

    def flush(self):
        """Wait until all data has left the driver's buffer."""
        self._p("flush").drain(timeout=None)

    def txdone(self):
        """True when nothing is waiting to be sent."""
        return self._p("txdone").out_waiting == 0

    def sendbreak(self):
        """Send a break (about 13 bit times at the baud rate, at least 1 ms)."""
        port = self._p("sendbreak")
        port.send_break(max(0.001, 13 / port.baudrate))

    def __repr__(self):
        return f"UART({self._spec.id})"
