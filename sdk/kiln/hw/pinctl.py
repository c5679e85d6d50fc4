"""One owner per physical pin, shared by both faces: configure, read, write, toggle, edges.

``PinLine.of(name)`` returns the same object for every name of a pin (``D17``, ``GPIO17``,
``PIN11`` are one line), so a MicroPython ``Pin`` and a Zerynth ``gpio`` call on the same pin
never fight over it.  A GPIO pin is one kernel line request (``kiln.hw.gpio``) taken at its first
use and reconfigured in place afterwards; an LED pin is the kernel's LED class
(``/sys/class/leds/<name>/brightness``; output only).  Edge handlers are delivered by
``kiln.hw.edges`` (one thread for all pins).
"""
from __future__ import annotations

import threading

from kiln.hw import edges, resolve
from kiln.hw.gpio import Chip
from kiln.hw.resolve import PinNameError

_lock = threading.Lock()
_pins: dict[tuple, "PinLine"] = {}


class PinLine:
    """A pin's state: ``direction`` ("input"/"output"/None: not configured yet), ``bias``,
    ``drive``, ``edge``, ``debounce_us``, the open line request (``request``) and the edge
    handler."""

    def __init__(self, spec, chip_path: str | None):
        self.spec = spec
        self.name = spec.name
        self.chip_path = chip_path
        self.request = None
        self.direction = None
        self.bias = "as-is"
        self.drive = "push-pull"
        self.edge = "none"
        self.debounce_us = 0
        self.handler = None
        self._led_dir = None
        self.lock = threading.RLock()

    @classmethod
    def of(cls, name) -> "PinLine":
        """The pin called ``name`` (or numbered ``name``) on this board.  PinNameError for an
        unknown pin; DeviceMissingError when its controller is absent."""
        spec = resolve.pin(name)
        key = (spec.chip, spec.line) if spec.kind == "line" else ("led", spec.led)
        with _lock:
            p = _pins.get(key)
            if p is None:
                path = resolve.gpio_chip(spec.chip) if spec.kind == "line" else None
                p = cls(spec, path)
                if spec.kind == "led":
                    p._led_dir = resolve.led_dir(spec)
                    p.direction = "output"
                _pins[key] = p
            return p

    @property
    def is_led(self) -> bool:
        return self.spec.kind == "led"

    def configure(self, direction: str, bias: str | None = None, drive: str | None = None,
                  value: int | None = None, edge: str | None = None,
                  debounce_us: int | None = None) -> None:
        """Set the pin up (first use: request the line from the kernel; later: reconfigure the
        held request).  None keeps a setting, except that changing the direction to "output"
        drops edge detection (the kernel detects edges on inputs only).  PinNameError when an
        LED pin is asked to be an input."""
        with self.lock:
            if self.is_led:
                if direction != "output" or (bias not in (None, "as-is")) or \
                        (edge not in (None, "none")):
                    raise PinNameError(f"pin {self.name} is the LED {self.spec.led!r}: an output "
                                       f"only (no input, pull or interrupt)")
                if value is not None:
                    self.set(value)
                return
            bias = self.bias if bias is None else bias
            drive = self.drive if drive is None else drive
            edge = self.edge if edge is None else edge
            debounce_us = self.debounce_us if debounce_us is None else debounce_us
            if direction == "output":
                edge = "none"
                debounce_us = 0
                if value is None:
                    value = self.get() if self.request is not None else 0
                values = [1 if value else 0]
            else:
                drive = "push-pull"
                values = None
            kwargs = dict(direction=direction, bias=bias, drive=drive, edge=edge,
                          debounce_us=debounce_us, values=values)
            if self.request is None or self.request.closed:
                with Chip(self.chip_path) as chip:
                    consumer = f"kiln:{self.name}"[:31]
                    self.request = chip.request([self.spec.line], consumer, **kwargs)
            else:
                if edge == "none" and self.edge != "none":
                    edges.unregister(self.request)
                self.request.reconfigure(**kwargs)
            self.direction, self.bias, self.drive = direction, bias, drive
            self.edge, self.debounce_us = edge, debounce_us
            if edge != "none" and self.handler is not None:
                edges.register(self.request, self._deliver)

    def _ensure(self, direction: str) -> None:
        if self.direction is None:
            self.configure(direction)

    def get(self) -> int:
        """The pin's logical value (0/1); an unconfigured pin is requested as an input first.
        Outputs read back the level driven."""
        with self.lock:
            if self.is_led:
                return 1 if int((self._led_dir / "brightness").read_text()) else 0
            self._ensure("input")
            return self.request.get_value(self.spec.line)

    def set(self, value) -> None:
        """Drive the pin (0/1).  An unconfigured pin becomes an output; an input raises
        PinNameError (set its mode first)."""
        v = 1 if value else 0
        with self.lock:
            if self.is_led:
                d = self._led_dir
                top = (d / "max_brightness").read_text().strip() if v else "0"
                (d / "brightness").write_text(top or "1")
                return
            if self.direction is None:
                self.configure("output", value=v)
                return
            if self.direction != "output":
                raise PinNameError(f"pin {self.name} is an input: make it an output to set it")
            self.request.set_value(self.spec.line, v)

    def toggle(self) -> int:
        """Invert an output (an unconfigured pin becomes an output, starting low, and goes
        high); returns the new value."""
        with self.lock:
            if not self.is_led and self.direction is None:
                self.configure("output", value=0)
            v = 0 if self.get() else 1
            self.set(v)
            return v

    def on_edge(self, edge: str, handler, debounce_us: int = 0, bias: str | None = None):
        """Call ``handler(event)`` (kiln.hw.gpio.EdgeEvent) for each ``edge`` ("rising",
        "falling", "both"); ``edge="none"`` or ``handler=None`` stops it.  The pin becomes an
        input (PinNameError for an LED)."""
        with self.lock:
            if self.is_led:
                raise PinNameError(f"pin {self.name} is the LED {self.spec.led!r}: it has no "
                                   f"interrupts")
            if handler is None or edge == "none":
                self.handler = None
                if self.request is not None and self.edge != "none":
                    edges.unregister(self.request)
                    self.configure("input", bias=bias, edge="none", debounce_us=0)
                return
            self.handler = handler
            self.configure("input", bias=bias, edge=edge, debounce_us=debounce_us)

    def _deliver(self, event) -> None:
        h = self.handler
        if h is not None:
            h(event)

    def release(self) -> None:
        """Give the line back to the kernel (stops edges); the pin object stays usable."""
        with self.lock:
            if self.request is not None:
                edges.unregister(self.request)
                self.request.close()
                self.request = None
            if not self.is_led:
                self.direction = None
                self.edge = "none"
                self.handler = None


def release_all() -> None:
    """Release every pin this process holds (tests, soft reset)."""
    with _lock:
        pins = list(_pins.values())
        _pins.clear()
    for p in pins:
        p.release()
