"""MicroPython's ``micropython`` module (``import micropython`` under ``--api micropython``).

CPython compiles and manages memory differently, so some calls keep MicroPython's contract
with a Linux meaning (``stack_use``, ``mem_info``, ``kbd_intr``, ``schedule``) and some are
documented no-ops (``native``/``viper``, ``heap_lock``, ``alloc_emergency_exception_buf``);
docs/micropython.md lists each.
"""
import sys as _sys

from kiln.mpy import const  # noqa: F401  (also a builtin of MicroPython apps)
from kiln.mpy import cstack as _cstack
from kiln.mpy import scheduler as _scheduler

_scheduler.install()     # the app imports this module from its main thread, as a rule


def native(func):
    """Decorator: MicroPython compiles ``func`` to machine code; here ``func`` runs as is."""
    return func


def viper(func):
    """Decorator: MicroPython's viper code emitter; here ``func`` runs as ordinary Python (the
    viper type names ``ptr8``... are not provided, see docs/micropython.md)."""
    return func


_opt_level = 0


def opt_level(level=None):
    """``opt_level()`` returns the optimisation level; ``opt_level(level)`` (an int >= 0) sets
    it for the app modules imported from now on and returns None.  Level 0 keeps ``assert``
    and ``__debug__`` is True; 1 and higher drop asserts and make ``__debug__`` False (CPython's
    ``optimize=1``; line numbers always stay)."""
    global _opt_level
    if level is None:
        return _opt_level
    level = _int_arg(level, "opt_level", "level")
    if level < 0:
        raise ValueError(f"opt_level() argument 'level' must be >= 0, got {level}")
    import kiln.app
    kiln.app.optimize = 0 if level == 0 else 1
    _opt_level = level
    return None


def alloc_emergency_exception_buf(size):
    """Accept ``size`` (bytes, an int >= 0) and return None: CPython creates exceptions on the
    normal heap and keeps its own reserve for MemoryError, so no buffer is needed."""
    size = _int_arg(size, "alloc_emergency_exception_buf", "size")
    if size < 0:
        raise ValueError(f"alloc_emergency_exception_buf() argument 'size' must be >= 0, "
                         f"got {size}")


def stack_use():
    """Bytes of stack the calling thread uses now: its C stack in use plus CPython's frames of
    the Python calls in progress (each frame's locals and evaluation stack).  Grows with the
    call depth; compare values, as MicroPython advises."""
    return _cstack.used() + _python_frames_bytes(_sys._getframe(1))


# A CPython 3.11 frame: about 10 words of bookkeeping, then its locals and evaluation stack.
_FRAME_WORDS = 10
_WORD = 8 if _sys.maxsize > 2**32 else 4


def _python_frames_bytes(frame):
    total = 0
    while frame is not None:
        code = frame.f_code
        total += (_FRAME_WORDS + code.co_nlocals + len(code.co_cellvars) +
                  len(code.co_freevars) + code.co_stacksize) * _WORD
        frame = frame.f_back
    return total


def mem_info(verbose=None):
    """Print the stack and heap use (``stack: used out of size`` and ``GC: total, used,
    free`` from :func:`gc.mem_alloc`/:func:`gc.mem_free`).  With ``verbose``, also CPython's
    collector state (the per-generation counts and statistics) instead of MicroPython's block
    map."""
    from kiln.mpy import ugc
    import gc
    used, free = ugc.mem_alloc(), ugc.mem_free()
    print(f"stack: {stack_use()} out of {_cstack.size()}")
    if free < 0:
        print(f"GC: total: unknown, used: {used}, free: unknown")
    else:
        print(f"GC: total: {used + free}, used: {used}, free: {free}")
    if verbose is not None and verbose is not False:
        print(f" gc counts: {gc.get_count()}, thresholds: {gc.get_threshold()}, "
              f"enabled: {gc.isenabled()}")
        for generation, stats in enumerate(gc.get_stats()):
            print(f" generation {generation}: {stats}")


def qstr_info(verbose=None):
    """Print information about interned strings: CPython interns strings in its own table,
    which it does not expose, so this reports what it can (the allocated object count)."""
    print(f"qstr pool: interned strings are not counted by CPython; "
          f"allocated objects: {_sys.getallocatedblocks()}")


_heap_lock_depth = 0


def heap_lock():
    """Lock the heap (nestable): a no-op on CPython, which cannot forbid allocation; the depth
    is kept for :func:`heap_unlock` and :func:`heap_locked`."""
    global _heap_lock_depth
    _heap_lock_depth += 1


def heap_unlock():
    """Undo one :func:`heap_lock`; return the lock depth left (0: unlocked)."""
    global _heap_lock_depth
    if _heap_lock_depth > 0:
        _heap_lock_depth -= 1
    return _heap_lock_depth


def heap_locked():
    """The current :func:`heap_lock` depth (0: unlocked)."""
    return _heap_lock_depth


_kbd_intr_char = 3


def kbd_intr(chr):
    """Set the character that raises KeyboardInterrupt (3, Ctrl-C, by default; -1 disables
    it).  On a terminal this is the tty's interrupt character (termios VINTR, so the kernel
    sends SIGINT); with -1 the character reaches ``sys.stdin`` as data.  Without a terminal
    the setting is recorded and has no effect."""
    global _kbd_intr_char
    value = _int_arg(chr, "kbd_intr", "chr")
    if not -1 <= value <= 255:
        raise ValueError(f"kbd_intr() argument 'chr' must be a character code 0..255 or -1, "
                         f"got {value}")
    _set_terminal_intr(value)
    _kbd_intr_char = value


def _set_terminal_intr(value):
    try:
        fd = _sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return
    import os
    if not os.isatty(fd):
        return
    import termios
    attrs = termios.tcgetattr(fd)
    attrs[6][termios.VINTR] = bytes([0 if value < 0 else value])   # 0: _POSIX_VDISABLE
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def _raise_keyboard_interrupt(arg):
    raise KeyboardInterrupt


def schedule(func, arg):
    """Run ``func(arg)`` "very soon" in the main thread, between bytecodes (also during a
    blocking call there); never inside another scheduled function.  ``schedule(kbd_intr,
    None)`` raises KeyboardInterrupt in the main thread.  RuntimeError if 4 calls are already
    waiting.  See :mod:`kiln.mpy.scheduler`."""
    if func is kbd_intr:
        func = _raise_keyboard_interrupt
    _scheduler.schedule(func, arg)


class RingIO:
    """RingIO(size) / RingIO(buffer): a fixed-size byte FIFO with a stream interface.

    ``RingIO(16)`` holds 16 bytes; ``RingIO(bytearray(16))`` uses that buffer in place and holds
    15 (one byte tracks full/empty), as MicroPython.  Reads never block."""

    def __init__(self, size_or_buffer):
        if isinstance(size_or_buffer, int) and not isinstance(size_or_buffer, bool):
            if size_or_buffer < 0:
                raise ValueError(f"RingIO() size must be >= 0, got {size_or_buffer}")
            self._buf = memoryview(bytearray(size_or_buffer + 1))
        else:
            try:
                view = memoryview(size_or_buffer)
            except TypeError:
                raise TypeError(f"RingIO() argument must be a size (int) or a writable buffer, "
                                f"not {type(size_or_buffer).__name__}") from None
            if view.readonly:
                raise TypeError("RingIO() buffer must be writable")
            self._buf = view.cast("B")
        if len(self._buf) < 1:
            raise ValueError("RingIO() buffer must have at least 1 byte")
        self._get = 0
        self._put = 0

    def any(self):
        """Number of bytes that can be read."""
        return (self._put - self._get) % len(self._buf)

    def _space(self):
        return len(self._buf) - 1 - self.any()

    def _take(self, n, stop_at_newline):
        size = len(self._buf)
        n = min(n, self.any())
        first = min(n, size - self._get)
        data = bytes(self._buf[self._get:self._get + first]) + bytes(self._buf[:n - first])
        if stop_at_newline:
            end = data.find(b"\n")
            if end >= 0:
                data = data[:end + 1]
        self._get = (self._get + len(data)) % size
        return data

    def read(self, nbytes=None):
        """Up to ``nbytes`` (default: all) available bytes; b"" if none."""
        return self._take(self.any() if nbytes is None else _count(nbytes, "read", "nbytes"),
                          False)

    def readline(self, nbytes=None):
        """Bytes through the first newline, or what is there; at most ``nbytes``."""
        limit = self.any() if nbytes is None else _count(nbytes, "readline", "nbytes")
        return self._take(limit, True)

    def readinto(self, buf, nbytes=None):
        """Read available bytes into ``buf`` (at most ``nbytes``); return the count."""
        view = _bytes_view(buf, "readinto", "buf")
        if view.readonly:
            raise TypeError("readinto() argument 'buf' must be a writable buffer")
        limit = len(view)
        if nbytes is not None:
            limit = min(limit, _count(nbytes, "readinto", "nbytes"))
        data = self._take(limit, False)
        view[:len(data)] = data
        return len(data)

    def write(self, buf):
        """Store as much of ``buf`` (a bytes-like object) as fits; return the count stored."""
        data = _bytes_view(buf, "write", "buf")
        size = len(self._buf)
        n = min(len(data), self._space())
        first = min(n, size - self._put)
        self._buf[self._put:self._put + first] = data[:first]
        self._buf[:n - first] = data[first:n]
        self._put = (self._put + n) % size
        return n

    def close(self):
        """Nothing to release (the stream interface's ``close``)."""


def _bytes_view(buf, func, name):
    try:
        return memoryview(buf).cast("B")
    except TypeError:
        raise TypeError(f"{func}() argument '{name}' must be a bytes-like object, not "
                        f"{type(buf).__name__}") from None


def _count(value, func, name):
    value = _int_arg(value, func, name)
    if value < 0:
        raise ValueError(f"{func}() argument '{name}' must be >= 0, got {value}")
    return value


def _int_arg(value, func, name):
    import operator
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{func}() argument '{name}' must be an int, not "
                        f"{type(value).__name__}") from None
