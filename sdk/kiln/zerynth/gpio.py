"""Zerynth v3 ``gpio`` (docs: reference/libs/stdlib/gpio.md) over kiln.hw.pinctl.

``mode``, ``set``, ``get``, ``latch``, ``toggle``, ``high``, ``low``, ``on_rise``, ``on_fall``,
``on_rise_and_fall``, ``disable_interrupt``.  ``pin`` is a board name (``D5``, ``LED0``) or its
number.  Callbacks get ``(pin, value)`` when they take two arguments, else none (Zerynth's
published ``Interrupt`` example passes functions without parameters); they run in the
``kiln-gpio-edges`` thread.  Port expanders (``add_expander``) are not provided.
"""
from kiln.errors import UnsupportedError
from kiln.zerynth import pins as _pins
from kiln.zerynth.pins import (INPUT, INPUT_PULLUP, INPUT_PULLDOWN, INPUT_PULLNONE,  # noqa
                               OUTPUT, OUTPUT_PUSHPULL, OUTPUT_OPENDRAIN, OUTPUT_HIGHDRIVE,
                               INPUT_ANALOG, LOW, HIGH)

PE_ADS7128 = 1
PE_ADS1015 = 2
PE_PCAL6524 = 3
PE_SX1503 = 4
_BIAS = {INPUT_PULLUP: "pull-up", INPUT_PULLDOWN: "pull-down", INPUT: "disabled"}


def mode(pin, mode):
    """Configure ``pin`` with ``mode`` (INPUT, INPUT_PULLUP, INPUT_PULLDOWN, OUTPUT,
    OUTPUT_PUSHPULL, OUTPUT_OPENDRAIN)."""
    _pins.pinMode(pin, mode)


def set(pin, value):
    """Drive ``pin`` to ``value`` (0/1)."""
    _pins.line(pin, "gpio.set").set(1 if value else 0)


def get(pin):
    """The value on ``pin`` (0/1)."""
    return _pins.line(pin, "gpio.get").get()


def latch(pin):
    """The value ``pin`` is driving (its output latch)."""
    p = _pins.line(pin, "gpio.latch")
    if p.direction != "output":
        raise ValueError(f"gpio.latch(): {p.name} is not an output")
    return p.get()


def toggle(pin):
    """Invert ``pin``'s output."""
    _pins.line(pin, "gpio.toggle").toggle()


def high(pin):
    """Drive ``pin`` to 1."""
    set(pin, 1)


def low(pin):
    """Drive ``pin`` to 0."""
    set(pin, 0)


def _wrap(pin, fn, value=None):
    """``fn`` as the v2 callback of one edge kind: called with ``(pin, value)`` when it takes
    two arguments (``value``: 1 for a rising edge, 0 for a falling one, the level read for
    both kinds), else with nothing."""
    if not callable(fn):
        raise TypeError(f"gpio: fn must be callable, not {type(fn).__name__}")
    nargs = _pins.callback_args(fn)
    p = _pins.line(pin)

    def call():
        if nargs == 2:
            fn(pin, p.get() if value is None else value)
        else:
            fn()
    return call


def _register(func, pin, kinds, fn, debounce, pull):
    if pull not in _BIAS:
        raise ValueError(f"gpio.{func}(): pull must be INPUT_PULLUP, INPUT_PULLDOWN or INPUT, "
                         f"got {pull!r}")
    p = _pins.line(pin, f"gpio.{func}")
    if fn is not None and not callable(fn):
        raise TypeError(f"gpio.{func}(): fn must be callable, not {type(fn).__name__}")
    p.configure("input", bias=_BIAS[pull])
    for kind in kinds:
        value = None if len(kinds) == 2 else (1 if kind == "rise" else 0)
        call = None if fn is None else _wrap(pin, fn, value)
        setter = _pins.onPinRise if kind == "rise" else _pins.onPinFall
        setter(pin, call, debounce=debounce)


def on_rise(pin, fn, debounce=0, pull=INPUT_PULLDOWN):
    """Call ``fn`` on each rising edge of ``pin`` (debounced ``debounce`` ms; ``pull`` sets
    the pin's pull)."""
    _register("on_rise", pin, ("rise",), fn, debounce, pull)


def on_fall(pin, fn, debounce=0, pull=INPUT_PULLUP):
    """Call ``fn`` on each falling edge of ``pin``."""
    _register("on_fall", pin, ("fall",), fn, debounce, pull)


def on_rise_and_fall(pin, fn, debounce=0, pull=INPUT_PULLDOWN):
    """Call ``fn`` on both edges of ``pin``."""
    _register("on_rise_and_fall", pin, ("rise", "fall"), fn, debounce, pull)


def disable_interrupt(pin):
    """Stop calling ``pin``'s callbacks (the kernel's edge detection is turned off)."""
    _pins.onPinRise(pin, None)
    _pins.onPinFall(pin, None)


def add_expander(*args, **kwargs):
    """Not provided: port expanders on Linux are kernel drivers (their lines then appear as
    another GPIO chip)."""
    raise UnsupportedError("gpio.add_expander(): on Linux a port expander is a kernel GPIO "
                           "driver (its lines are a GPIO chip); name them in the board file")
