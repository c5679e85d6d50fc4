"""Zerynth's builtins (its ``__builtins__`` module) that programs use, on Linux.

``thread``, ``sleep``, ``random``, ``new_exception``, ``print`` with ``stream=`` and the default
stream, ``hex(x, prefix)``, the time units (``NANOS`` .. ``SECONDS``), the thread priorities
(``PRIO_IDLE`` .. ``PRIO_HIGHEST``) and ``SERIAL0`` .. ``SERIAL7``, with Zerynth's values.  The
launcher (:mod:`kiln.app.zerynth`) puts them in a Zerynth app's ``__builtins__``.

Start-up cost matters (the launcher imports this before an app's first line): only modules the
interpreter has already loaded are imported at module level.
"""
import os
import sys
import time

from kiln.errors import (HardwareInitializationError, InvalidHardwareStatusError,  # noqa: F401
                         InvalidPinError, PeripheralError, UnsupportedError)

# Time units (Zerynth's ``__define`` values).
NANOS = 0
MICROS = 1
MILLIS = 2
SECONDS = 3
_UNIT_NS = {NANOS: 1, MICROS: 1_000, MILLIS: 1_000_000, SECONDS: 1_000_000_000}
_UNIT_NAMES = "NANOS (0), MICROS (1), MILLIS (2) or SECONDS (3)"
# Below this a sleep spins on the monotonic clock, as Zerynth's MICROS sleep polls the cycle
# counter: the kernel's timer slack (50 us) would make short sleeps several times too long.
_SPIN_NS = 1_000_000

# Thread priorities, and the nice value (relative to the process's) each one gets on Linux.
PRIO_IDLE = 0
PRIO_LOWEST = 1
PRIO_LOWER = 2
PRIO_LOW = 3
PRIO_NORMAL = 4
PRIO_HIGH = 5
PRIO_HIGHER = 6
PRIO_HIGHEST = 7
_PRIO_NICE = (19, 15, 10, 5, 0, -5, -10, -15)

# Zerynth's serial port names: SERIAL0 is the board's console (see kiln.zerynth.streams).
SERIAL0, SERIAL1, SERIAL2, SERIAL3, SERIAL4, SERIAL5, SERIAL6, SERIAL7 = range(8)

#: When the launcher loaded the Zerynth face: ``timers.now()`` counts from here.
START_NS = time.monotonic_ns()


def _check_int(func, name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{func}(): {name} must be an int, not {type(value).__name__}")
    return value


def _check_duration(func, name, value):
    """``value`` as a finite number >= 0 (int or float), or TypeError/ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{func}(): {name} must be a number, not {type(value).__name__}")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{func}(): {name} must be a finite number >= 0, got {value!r}")
    return value


# --- sleep ------------------------------------------------------------------------------------
def sleep(time, time_unit=MILLIS):
    """Suspend the calling thread for ``time`` ``time_unit``\\ s (default milliseconds; ``MICROS``,
    ``SECONDS``, ``NANOS``); other threads run meanwhile.  Waits shorter than 1 ms spin on the
    monotonic clock (Zerynth polls the cycle counter for MICROS).  TypeError/ValueError for a
    bad ``time`` or ``time_unit``."""
    _check_duration("sleep", "time", time)
    if isinstance(time_unit, bool) or time_unit not in _UNIT_NS:
        raise ValueError(f"sleep(): time_unit must be {_UNIT_NAMES}, got {time_unit!r}")
    ns = int(time * _UNIT_NS[time_unit])
    if ns >= _SPIN_NS:
        _time.sleep(ns / 1e9)
        return
    end = _time.monotonic_ns() + ns
    while _time.monotonic_ns() < end:
        pass


_time = time   # ``sleep``'s parameter is called ``time``, as Zerynth documents it


def millis():
    """Milliseconds of the monotonic clock (since the board booted)."""
    return _time.monotonic_ns() // 1_000_000


def micros():
    """Microseconds of the monotonic clock (since the board booted)."""
    return _time.monotonic_ns() // 1_000


# --- random -----------------------------------------------------------------------------------
def random(*args):
    """``random()``: a random 32-bit integer (0 .. 2**32-1); ``random(a, b)``: a random integer
    in ``[a, b]``.  From the kernel's random number generator (fed by the board's hardware RNG
    where it has one).  TypeError for other argument counts or non-int bounds, ValueError when
    ``a > b``."""
    if not args:
        return int.from_bytes(os.urandom(4), "little")
    if len(args) != 2:
        raise TypeError(f"random() takes no arguments or two (a, b), got {len(args)}")
    a = _check_int("random", "a", args[0])
    b = _check_int("random", "b", args[1])
    if a > b:
        raise ValueError(f"random(a, b): a must be <= b, got a={a}, b={b}")
    span = b - a + 1
    bits = span.bit_length()
    nbytes = (bits + 7) // 8
    while True:                 # rejection sampling: every value of the range equally likely
        r = int.from_bytes(os.urandom(nbytes), "little") >> (nbytes * 8 - bits)
        if r < span:
            return a + r


# --- hex --------------------------------------------------------------------------------------
def hex(x, prefix="0x"):
    """``x`` in lowercase hexadecimal after ``prefix`` (``hex(255)`` is ``'0xff'``,
    ``hex(-42)`` is ``'-0x2a'``, ``hex(255, "")`` is ``'ff'``)."""
    if not isinstance(prefix, str):
        raise TypeError(f"hex(): prefix must be a str, not {type(prefix).__name__}")
    value = x.__index__() if hasattr(x, "__index__") else None
    if value is None:
        raise TypeError(f"hex(): x must be an integer, not {type(x).__name__}")
    return ("-" if value < 0 else "") + prefix + format(abs(value), "x")


# --- new_exception ----------------------------------------------------------------------------
_app_namespace = None    # the running app's ``__builtins__`` (AppBuiltins), when there is one


def new_exception(name, parent, msg=""):
    """Create exception class ``name`` under ``parent`` (an exception class) with the default
    message ``msg``; return it.  As in Zerynth, the name is global to the program: it is added
    to the app's builtins, so every module sees it.  (The launcher turns Zerynth's statement
    form ``new_exception(MyError, ValueError, "text")``, where ``MyError`` is a bare name, into
    ``MyError = new_exception("MyError", ValueError, "text")``.)  TypeError/ValueError naming a
    bad argument."""
    if not isinstance(name, str):
        raise TypeError(f"new_exception(): name must be a str (or a bare name), not "
                        f"{type(name).__name__}")
    if not name.isidentifier():
        raise ValueError(f"new_exception(): name must be an identifier, got {name!r}")
    if not (isinstance(parent, type) and issubclass(parent, BaseException)):
        raise TypeError(f"new_exception(): parent must be an exception class, not {parent!r}")
    if not isinstance(msg, str):
        raise TypeError(f"new_exception(): msg must be a str, not {type(msg).__name__}")
    namespace = {"__doc__": msg or f"Zerynth exception {name} (a {parent.__name__}).",
                 "__module__": "builtins"}
    if msg:
        def __init__(self, *args):
            parent.__init__(self, *(args or (msg,)))
        namespace["__init__"] = __init__
    cls = type(name, (parent,), namespace)
    if _app_namespace is not None:
        setattr(_app_namespace, name, cls)
    return cls


# --- print and the default stream ------------------------------------------------------------
class Console:
    """The board's console as a stream: the process's standard output (the serial console on a
    Kiln image).  ``write`` flushes, as a UART write would."""

    def write(self, buf):
        """Write ``buf`` (str or bytes-like) and flush; return the number of bytes written."""
        out = sys.stdout
        if isinstance(buf, str):
            data = buf.encode()
        else:
            data = bytes(buf)
        binary = getattr(out, "buffer", None)
        if binary is None:                  # a text-only stream (e.g. redirected to StringIO)
            out.write(data.decode(errors="replace"))
        else:
            out.flush()
            binary.write(data)
            binary.flush()
        return len(data)

    def __repr__(self):
        return "<console>"


CONSOLE = Console()
_default_stream = CONSOLE


def default_stream():
    """The stream ``print`` writes to when given none (``None``: print discards)."""
    return _default_stream


def set_default_stream(stream):
    """Make ``stream`` (an object with ``write(str)``, or ``None``) the default of ``print``,
    as ``streams.serial(set_default=True)`` and ``__builtins__.__default_stream = s`` do."""
    global _default_stream
    if stream is not None and not callable(getattr(stream, "write", None)):
        raise TypeError(f"the default stream must have a write() method, got {stream!r}")
    _default_stream = stream
    if _app_namespace is not None:
        _app_namespace.__dict__["__default_stream"] = stream


def print(*objects, sep=" ", end="\n", stream=None, file=None, flush=False):
    """Zerynth's ``print``: write ``objects`` (as ``str()``), separated by ``sep`` and followed
    by ``end``, to ``stream`` -- any object with ``write(str)`` -- in one ``write`` call.
    Without ``stream`` (or CPython's ``file``) it writes to the default stream, the console
    unless ``streams.serial()`` or ``__builtins__.__default_stream`` changed it; a default of
    ``None`` discards the output, as in Zerynth."""
    if sep is None:
        sep = " "
    if end is None:
        end = "\n"
    if not isinstance(sep, str):
        raise TypeError(f"print(): sep must be None or a str, not {type(sep).__name__}")
    if not isinstance(end, str):
        raise TypeError(f"print(): end must be None or a str, not {type(end).__name__}")
    target = stream if stream is not None else file
    if target is None:
        target = _default_stream
        if target is None:
            return
    target.write(sep.join([str(o) for o in objects]) + end)
    if flush and target is not CONSOLE and callable(getattr(target, "flush", None)):
        target.flush()


class AppBuiltins(type(sys)):
    """The object a Zerynth app sees as ``__builtins__``: a module holding the app's builtins,
    so that ``__builtins__.name = value`` changes a builtin for the whole program, as in
    Zerynth.  Setting ``__default_stream`` changes where ``print`` writes."""

    def __setattr__(self, name, value):
        if name == "__default_stream":
            set_default_stream(value)
        super().__setattr__(name, value)


def app_namespace(names):
    """The ``__builtins__`` object of the running Zerynth app, holding ``names``; later
    ``new_exception`` calls and default-stream changes go into it (one app per process)."""
    global _app_namespace
    namespace = AppBuiltins("builtins", "The builtins of a Zerynth app on Kiln.")
    namespace.__dict__.update(names)
    namespace.__dict__["__default_stream"] = _default_stream
    _app_namespace = namespace
    return namespace


# --- thread -----------------------------------------------------------------------------------
def thread(fun, *args, prio=PRIO_NORMAL, size=-1):
    """Run ``fun(*args)`` in a new thread and return it (a started ``threading.Thread``).
    ``prio`` (``PRIO_IDLE`` .. ``PRIO_HIGHEST``) becomes the thread's nice value on Linux
    (``PRIO_NORMAL`` = the program's, each step 5 apart; raising it needs root, else the thread
    keeps the normal priority).  ``size`` (stack bytes; negative = default) is checked but not
    applied: Linux grows a thread's stack on demand.  The program keeps running while its
    threads do, as on Zerynth; an exception that ends the main program ends them too.
    TypeError/ValueError naming a bad argument; RuntimeError if no thread can be created."""
    if not callable(fun):
        raise TypeError(f"thread(): fun must be callable, not {type(fun).__name__}")
    _check_int("thread", "prio", prio)
    if not PRIO_IDLE <= prio <= PRIO_HIGHEST:
        raise ValueError(f"thread(): prio must be PRIO_IDLE (0) .. PRIO_HIGHEST (7), got {prio}")
    _check_int("thread", "size", size)
    import threading
    exit_on_uncaught_main_exception()
    name = getattr(fun, "__name__", None) or type(fun).__name__
    t = threading.Thread(target=_thread_main, args=(fun, args, prio), name=f"thread-{name}")
    t.start()
    return t


_BASE_NICE = None


def _thread_main(fun, args, prio):
    set_thread_priority(prio)
    fun(*args)


def set_thread_priority(prio):
    """Give the calling thread the nice value of Zerynth priority ``prio`` (relative to the
    program's own); False if the kernel refused (raising a priority needs root)."""
    global _BASE_NICE
    import threading
    if _BASE_NICE is None:
        _BASE_NICE = os.getpriority(os.PRIO_PROCESS, os.getpid())
    nice = max(-20, min(19, _BASE_NICE + _PRIO_NICE[prio]))
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except PermissionError:
        return False
    return True


_hook_installed = False


def exit_on_uncaught_main_exception():
    """Make an exception that ends the main program end the process (status 1, after the
    traceback), even while ``thread()`` threads or timers run: on Zerynth the board resets,
    and Python would otherwise wait for those threads forever."""
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        try:
            previous(exc_type, exc, tb)
        finally:
            for out in (sys.stdout, sys.stderr):
                try:
                    out.flush()
                except Exception:       # noqa: BLE001 - exiting anyway
                    pass
            os._exit(1)

    sys.excepthook = excepthook


def globals_():
    """The names this module gives a Zerynth app's builtins."""
    names = {name: globals()[name] for name in (
        "thread", "sleep", "random", "new_exception", "print", "hex", "millis", "micros",
        "NANOS", "MICROS", "MILLIS", "SECONDS",
        "PRIO_IDLE", "PRIO_LOWEST", "PRIO_LOWER", "PRIO_LOW", "PRIO_NORMAL", "PRIO_HIGH",
        "PRIO_HIGHER", "PRIO_HIGHEST",
        "SERIAL0", "SERIAL1", "SERIAL2", "SERIAL3", "SERIAL4", "SERIAL5", "SERIAL6", "SERIAL7",
        "UnsupportedError", "PeripheralError", "InvalidPinError", "InvalidHardwareStatusError",
        "HardwareInitializationError")}
    names["__default_stream"] = _default_stream
    return names
