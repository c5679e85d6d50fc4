"""Board names as values programs pass around: ``D5``, ``LED0``, ``I2C0``, ``SPI0`` ...

A :class:`PinId` is an ``int`` (the pin's number: ``D5 == 5``; pins without one get 256 + their
index in the board file) that remembers its name, so ``gpio.set(D5, 1)``, ``gpio.set(5, 1)``
and ``Pin(D5)`` mean the same pin and ``print(D5)`` shows ``D5``.  ``D18.PWM`` is the pin itself
when it has a PWM channel (Zerynth writes ``pwm.write(D18.PWM, ...)``), else AttributeError.
A :class:`BusId` (``I2C0``, ``SPI0``, ``PWM0``, ``SERIAL1``) is an ``int`` (the number in its
name) that remembers the name.
"""
from __future__ import annotations

import re

from kiln.hw import resolve


class _NamedInt(int):
    """An int with a ``name``, shown by its name (``D5 == 5``, ``repr(D5) == "D5"``)."""

    name: str

    def __new__(cls, value: int, name: str):
        obj = int.__new__(cls, value)
        obj.name = name
        return obj

    def __repr__(self):
        return self.name

    __str__ = __repr__


class PinId(_NamedInt):
    """A pin of the board: an int with a ``name``."""

    @property
    def PWM(self):
        resolve.pwm_for_pin(self.name)
        return self


class BusId(_NamedInt):
    """A bus or peripheral of the board (``I2C0``): an int with a ``name``."""


def pin_names() -> dict[str, PinId]:
    """Every pin name of the running board as a :class:`PinId` ({} on a machine that is not a
    Kiln board)."""
    try:
        board = resolve.board()
    except resolve.BusError:
        return {}
    out = {}
    for i, (name, spec) in enumerate(board.hw.pins.items()):
        out[name] = PinId(spec.number if spec.number >= 0 else 256 + i, name)
    return out


def bus_names() -> dict[str, BusId]:
    """Every bus name (``I2C0``, ``SPI0``, ``SERIAL1``, ``PWM0``) of the running board."""
    try:
        board = resolve.board()
    except resolve.BusError:
        return {}
    out = {}
    for b in board.hw.buses:
        m = re.search(r"(\d+)$", b.name)
        out[b.name] = BusId(int(m.group(1)) if m else b.id, b.name)
    return out


def pin_key(pin, func: str = "pin"):
    """What ``kiln.hw.pinctl.PinLine.of`` takes for ``pin``: a PinId's name, a str, or an int
    pin number (numbers >= 256 are the board's un-numbered pins)."""
    if isinstance(pin, PinId):
        return pin.name
    if isinstance(pin, bool) or not isinstance(pin, (int, str)):
        raise resolve.PinNameError(f"{func}: pin must be a board pin (D5, LED0) or its number, "
                                   f"not {type(pin).__name__}")
    if isinstance(pin, int) and pin >= 256:
        for name, pid in pin_names().items():
            if int(pid) == pin:
                return name
    return pin
