"""Zerynth's pin builtins (v2, ``__builtins__.py``) over kiln.hw.pinctl: ``pinMode``,
``digitalRead``, ``digitalWrite``, ``pinToggle``, ``onPinRise``, ``onPinFall``, ``analogWrite``,
and the constants (``INPUT`` .. ``INPUT_ANALOG``, ``LOW``/``HIGH``, edges) with Zerynth's values.

Callbacks run in the ``kiln-gpio-edges`` thread (kiln.hw.edges): one thread for every pin, like
Zerynth's VM, which runs them outside the interrupt.  ``debounce`` is the kernel's: an edge is
reported once the line has been stable that long (one value per pin: with ``onPinRise`` and
``onPinFall`` on the same pin the larger one applies).
"""
import threading

from kiln.errors import InvalidPinError, UnsupportedError
from kiln.hw.names import pin_key
from kiln.hw.pinctl import PinLine

INPUT = 1
INPUT_PULLNONE = 1
INPUT_PULLUP = 2
INPUT_PULLDOWN = 3
OUTPUT = 4
OUTPUT_PUSHPULL = 4
OUTPUT_OPENDRAIN = 5
OUTPUT_HIGHDRIVE = 6
INPUT_ANALOG = 7
LOW = 0
HIGH = 1
HIGH_TO_LOW = 0
FALLING_EDGE = 0
LOW_TO_HIGH = 1
RISING_EDGE = 1
BOTH_EDGES = 2
_UNIT_NS = {0: 1, 1: 1_000, 2: 1_000_000, 3: 1_000_000_000}
_MODE_NAMES = ("INPUT, OUTPUT, INPUT_PULLUP, INPUT_PULLDOWN, OUTPUT_PUSHPULL, OUTPUT_OPENDRAIN, "
               "OUTPUT_HIGHDRIVE")

_callbacks = {}                 # PinLine -> {"rise": (fn, args, ns), "fall": (...)}
_cb_lock = threading.Lock()


def line(pin, func="pin"):
    """The PinLine of Zerynth pin ``pin`` (D5, LED0, 5); InvalidPinError when the board has
    no such pin."""
    return PinLine.of(pin_key(pin, func))


def pinMode(pin, mode):
    """Set ``pin``'s mode: INPUT (no pull), INPUT_PULLUP, INPUT_PULLDOWN, OUTPUT (push-pull),
    OUTPUT_OPENDRAIN, OUTPUT_HIGHDRIVE (push-pull: Linux cannot set drive strength).
    INPUT_ANALOG raises UnsupportedError (no ADC on these boards)."""
    p = line(pin, "pinMode")
    if isinstance(mode, bool) or not isinstance(mode, int):
        raise TypeError(f"pinMode(): mode must be one of {_MODE_NAMES}, not "
                        f"{type(mode).__name__}")
    if mode == INPUT:
        p.configure("input", bias="disabled" if not p.is_led else None)
    elif mode == INPUT_PULLUP:
        p.configure("input", bias="pull-up")
    elif mode == INPUT_PULLDOWN:
        p.configure("input", bias="pull-down")
    elif mode in (OUTPUT, OUTPUT_HIGHDRIVE):
        p.configure("output", bias=None if p.is_led else "as-is", drive=None if p.is_led
                    else "push-pull")
    elif mode == OUTPUT_OPENDRAIN:
        p.configure("output", drive="open-drain")
    elif mode == INPUT_ANALOG:
        raise UnsupportedError(f"pinMode(): INPUT_ANALOG needs an ADC; {p.name} is a digital "
                               f"GPIO on this board")
    else:
        raise ValueError(f"pinMode(): mode must be one of {_MODE_NAMES}, got {mode!r}")


def digitalRead(pin):
    """``LOW`` (0) or ``HIGH`` (1): the level on ``pin`` (outputs read back their level)."""
    return line(pin, "digitalRead").get()


def digitalWrite(pin, val):
    """Drive ``pin`` LOW when ``val`` is 0, else HIGH."""
    line(pin, "digitalWrite").set(1 if val else 0)


def pinToggle(pin):
    """Invert ``pin`` (an output; a pin with no mode yet becomes one)."""
    line(pin, "pinToggle").toggle()


def _edge_handler(p):
    def handler(event):
        with _cb_lock:
            entry = _callbacks.get(p, {}).get("rise" if event.rising else "fall")
        if entry is not None:
            fn, args = entry[0], entry[1]
            fn(*args)
    return handler


def _set_callback(func, pin, kind, fn, args, debounce, time_unit, bias=None):
    p = line(pin, func)
    if fn is not None and not callable(fn):
        raise TypeError(f"{func}(): fun must be callable, not {type(fn).__name__}")
    if isinstance(debounce, bool) or not isinstance(debounce, (int, float)) or debounce < 0:
        raise ValueError(f"{func}(): debounce must be a number >= 0, got {debounce!r}")
    if time_unit not in _UNIT_NS or isinstance(time_unit, bool):
        raise ValueError(f"{func}(): time_unit must be NANOS, MICROS, MILLIS or SECONDS, got "
                         f"{time_unit!r}")
    us = int(debounce * _UNIT_NS[time_unit] // 1000)
    if us > 0xFFFFFFFF:
        raise ValueError(f"{func}(): debounce must be at most about 71 minutes")
    with _cb_lock:
        entry = _callbacks.setdefault(p, {})
        if fn is None:
            entry.pop(kind, None)
        else:
            entry[kind] = (fn, tuple(args), us)
        kinds = set(entry)
        debounce_us = max((e[2] for e in entry.values()), default=0)
    edge = ("both" if kinds == {"rise", "fall"} else "rising" if kinds == {"rise"}
            else "falling" if kinds == {"fall"} else "none")
    p.on_edge(edge, _edge_handler(p) if edge != "none" else None, debounce_us=debounce_us,
              bias=bias)


def onPinRise(pin, fun, *args, debounce=0, time_unit=2):
    """Call ``fun(*args)`` each time ``pin`` goes LOW -> HIGH (``fun=None`` stops it); the pin
    becomes an input (its pull is kept).  ``debounce`` in ``time_unit`` (default MILLIS)."""
    _set_callback("onPinRise", pin, "rise", fun, args, debounce, time_unit)


def onPinFall(pin, fun, *args, debounce=0, time_unit=2):
    """Call ``fun(*args)`` each time ``pin`` goes HIGH -> LOW; as :func:`onPinRise`."""
    _set_callback("onPinFall", pin, "fall", fun, args, debounce, time_unit)


def analogWrite(pin, period, pulse, time_unit=2, npulses=0):
    """PWM on ``pin`` (``pwm.write``); ``npulses`` > 0 blocks for that many periods, then
    stops the output."""
    from kiln.zerynth import pwm
    pwm.write(pin, period, pulse, time_unit)
    if npulses and npulses > 0:
        import time
        time.sleep(period * _UNIT_NS[time_unit] * npulses / 1e9)
        pwm.write(pin, 0, 0)


def callback_args(fn):
    """How many of Zerynth v3's callback arguments ``(pin, value)`` ``fn`` takes: 2 when it
    accepts two positional arguments, else 0 (read from its code object: ``inspect`` would
    pull half the standard library onto the board)."""
    target, bound = fn, 0
    if hasattr(fn, "__func__"):                  # bound method
        target, bound = fn.__func__, 1
    code = getattr(target, "__code__", None)
    if code is None:
        call = getattr(type(fn), "__call__", None)
        code, bound = getattr(call, "__code__", None), 1
    if code is None:
        return 2                                 # a builtin: let it take what it takes
    positional = code.co_argcount - bound
    defaults = len(getattr(target, "__defaults__", None) or ())
    if code.co_flags & 0x04:                     # *args
        return 2
    return 2 if positional >= 2 and positional - defaults <= 2 else 0


def builtins() -> dict:
    """The names this module adds to a Zerynth app's builtins."""
    names = {k: v for k, v in globals().items()
             if k.isupper() and not k.startswith("_")}
    for fn in (pinMode, digitalRead, digitalWrite, pinToggle, onPinRise, onPinFall,
               analogWrite):
        names[fn.__name__] = fn
    names["InvalidPinError"] = InvalidPinError
    return names
