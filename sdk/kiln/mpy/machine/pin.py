"""``machine.Pin`` and ``machine.Signal`` (docs/library/machine.Pin.rst) over kiln.hw.pinctl.

Modes: ``IN``, ``OUT``, ``OPEN_DRAIN`` (``ALT``/``ALT_OPEN_DRAIN``/``ANALOG`` are pin-mux
choices Linux makes in the device tree: ValueError).  Pulls: ``PULL_UP``, ``PULL_DOWN`` (the
kernel's line bias; ``None`` disables the bias).  ``irq`` triggers: ``IRQ_RISING``,
``IRQ_FALLING`` (level triggers do not exist in the GPIO uAPI: ValueError).
Handlers get the ``Pin`` and run in the ``kiln-gpio-edges`` thread (kiln.hw.edges), for
``hard=True`` and ``hard=False`` alike; ``machine.disable_irq()`` holds them off.
"""
from kiln.hw.pinctl import PinLine
from kiln.hw.resolve import PinNameError

_MODES = {0: "IN", 1: "OUT", 2: "OPEN_DRAIN", 3: "ALT", 4: "ALT_OPEN_DRAIN", 5: "ANALOG"}
_PULLS = {None: "disabled", 1: "pull-up", 2: "pull-down"}


def _resolve(id_):
    try:
        return PinLine.of(id_)
    except PinNameError:
        if id_ == "LED":          # MicroPython boards call their LED "LED"
            return PinLine.of("LED0")
        raise


class Pin:
    """``Pin(id, mode=-1, pull=-1, *, value=None, drive=0, alt=-1)``: ``id`` is a pin name of
    the board (``"D5"``, ``"GPIO17"``, ``"LED"``) or its number (``Pin(17)`` is ``GPIO17``).
    ValueError (``PinNameError``) for a pin the board does not have."""

    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    ALT_OPEN_DRAIN = 4
    ANALOG = 5
    PULL_UP = 1
    PULL_DOWN = 2
    PULL_HOLD = 4
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8
    IRQ_LOW_LEVEL = 1
    IRQ_HIGH_LEVEL = 2

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=0, alt=-1):
        self._id = id
        self._line = _resolve(id)
        self._mode = None
        self._pull = None
        self._irq = None
        self.init(mode, pull, value=value, drive=drive, alt=alt)

    def init(self, mode=-1, pull=-1, *, value=None, drive=0, alt=-1):
        """Re-initialise: ``mode`` and ``pull`` (-1: unchanged), ``value`` for outputs.  Never
        blocks.  ValueError for a mode or pull Linux cannot give this pin."""
        if alt != -1:
            raise ValueError("Pin.init(): alt functions are chosen by the device tree on Linux "
                             "(pin multiplexing is the kernel's), not by Pin")
        if mode is not None and mode != -1 and mode not in _MODES:
            raise ValueError(f"Pin.init(): mode must be Pin.IN, Pin.OUT or Pin.OPEN_DRAIN, "
                             f"got {mode!r}")
        if mode in (3, 4, 5):
            raise ValueError(f"Pin.init(): mode {_MODES[mode]} is not available on Linux (the "
                             f"device tree chooses pin functions; analog input needs an ADC)")
        if pull != -1 and pull not in _PULLS:
            raise ValueError(f"Pin.init(): pull must be None, Pin.PULL_UP or Pin.PULL_DOWN, "
                             f"got {pull!r}")
        if value is not None and value not in (0, 1, True, False):
            raise ValueError(f"Pin.init(): value must be 0 or 1, got {value!r}")
        if mode in (None, -1) and pull == -1:
            if value is not None:
                self._line.set(value)
            return
        if mode in (None, -1):
            mode = self._mode if self._mode is not None else self.IN
        bias = None if pull == -1 else _PULLS[pull]
        if mode == self.IN:
            self._line.configure("input", bias=bias)
        else:
            drive = "open-drain" if mode == self.OPEN_DRAIN else "push-pull"
            self._line.configure("output", bias=bias, drive=drive, value=value)
        self._mode = mode
        if pull != -1:
            self._pull = pull

    def value(self, x=None):
        """``value()``: the logical level (0/1; outputs read back what is driven).
        ``value(x)``: drive the pin (an output; an unconfigured pin becomes one)."""
        if x is None:
            return self._line.get()
        self._line.set(x)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        """Drive 1."""
        self._line.set(1)

    def off(self):
        """Drive 0."""
        self._line.set(0)

    high = on
    low = off

    def toggle(self):
        """Invert an output."""
        self._line.toggle()

    def mode(self, mode=None):
        """Get or set the mode."""
        if mode is None:
            return self._mode
        self.init(mode)

    def pull(self, pull=-1):
        """Get or set the pull."""
        if pull == -1:
            return self._pull
        self.init(self._mode if self._mode is not None else self.IN, pull)

    def drive(self, drive=None):
        """Drive strength: Linux has no uAPI for it; get returns DRIVE_0, set ValueError."""
        if drive is None:
            return self.DRIVE_0
        raise ValueError("Pin.drive(): Linux's GPIO uAPI cannot set drive strength")

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, *, priority=1, wake=None,
            hard=False):
        """Call ``handler(pin)`` on ``trigger`` edges (``IRQ_RISING``, ``IRQ_FALLING`` or
        both); the pin becomes an input with the kernel's edge detection; ``handler=None``
        disables it.  Returns the irq object (``flags()``, ``trigger()``).  Handlers run in the
        edge thread (module docstring); ``hard`` changes nothing on Linux."""
        if trigger & (self.IRQ_LOW_LEVEL | self.IRQ_HIGH_LEVEL):
            raise ValueError("Pin.irq(): level triggers do not exist in Linux's GPIO uAPI; use "
                             "IRQ_RISING / IRQ_FALLING")
        if not trigger & (self.IRQ_RISING | self.IRQ_FALLING) and handler is not None:
            raise ValueError(f"Pin.irq(): trigger must be IRQ_RISING, IRQ_FALLING or both, got "
                             f"{trigger!r}")
        if handler is not None and not callable(handler):
            raise TypeError(f"Pin.irq(): handler must be callable or None, not "
                            f"{type(handler).__name__}")
        irq = self._irq or _Irq(self)
        self._irq = irq
        irq._trigger = trigger
        if handler is None:
            self._line.on_edge("none", None)
            return irq
        rising, falling = trigger & self.IRQ_RISING, trigger & self.IRQ_FALLING
        edge = "both" if rising and falling else "rising" if rising else "falling"
        bias = None if self._pull is None else _PULLS[self._pull]

        def deliver(event, pin=self, handler=handler, irq=irq):
            irq._flags = self.IRQ_RISING if event.rising else self.IRQ_FALLING
            handler(pin)
        self._line.on_edge(edge, deliver, bias=bias)
        self._mode = self.IN
        return irq

    def __repr__(self):
        return f"Pin({self._line.name})"


class _Irq:
    def __init__(self, pin):
        self._pin = pin
        self._flags = 0
        self._trigger = 0

    def flags(self):
        """The trigger that caused the current call."""
        return self._flags

    def trigger(self, trigger=None):
        """Get (or set, re-arming the handler) the triggers."""
        if trigger is None:
            return self._trigger
        self._trigger = trigger
        return self._trigger


class Signal:
    """``Signal(pin_obj, invert=False)`` or ``Signal(pin_args..., invert=False)``: a pin with
    active-low awareness: ``value``, ``on``, ``off``."""

    def __init__(self, *args, invert=False, **kwargs):
        self._pin = args[0] if args and isinstance(args[0], Pin) else Pin(*args, **kwargs)
        self._invert = bool(invert)

    def value(self, x=None):
        if x is None:
            return self._pin.value() ^ self._invert
        self._pin.value((1 if x else 0) ^ self._invert)

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)
