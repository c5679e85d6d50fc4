"""The pin and bus tables of a board file: schema, validation and the parsed form.

A board file names its hardware in these tables (all optional; examples: ``board_configs/``):

``[gpio]``
    ``chips``: ``{short name = {node = "pl061@9030000"}}`` or ``{label = "pinctrl-bcm2835"}``:
    a GPIO controller by its device-tree node (a node name such as ``gpio@7e200000``, or a full
    path) or by its chip label, never by ``/dev/gpiochipN`` (numbers vary between boots and
    kernels).  ``numbered``: ``[{chip, first, last, names}]``: line *n* of ``chip``, for
    ``first <= n <= last``, is named by each pattern of ``names`` with ``{n}`` replaced
    (``"D{n}"``, ``"GPIO{n}"``); those names carry the number *n* (``Pin(17)``, ``gpio.set(17,
    1)``).
``[pins]``
    ``NAME = "chip:line"`` (a GPIO line), ``"led:ACT"`` (an LED of the kernel's LED class,
    ``/sys/class/leds/ACT``: output only) or ``"OTHER"`` (another pin's name: ``LED0 = "D0"``,
    header positions ``PIN11 = "GPIO17"``).
``[[i2c]]``, ``[[spi]]``, ``[[uart]]``, ``[[pwm]]``
    one table per bus or channel: ``name`` (Zerynth's name, ``I2C0``), ``id`` (MicroPython's
    number, ``machine.I2C(1)``), ``node`` (the controller's DT node); SPI also ``cs`` (the pins
    of chip selects 0, 1, ...: ``spidev<bus>.<cs>``); PWM also ``channel`` and ``pin``.
``[watchdog]``
    ``device``: the watchdog's device file (``/dev/watchdog``).
(Device-tree edits that make the SD images' buses exist are ``[sdcard] dt_*``, the image
builder's: ``kiln.boards``, ``kiln.host.image.dtedit``.)

Names are upper-case identifiers; every reference must resolve.  Errors raise the caller's
exception class with the file, table and key.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HW_TABLES = ("gpio", "pins", "i2c", "spi", "uart", "pwm", "watchdog")
BUS_KINDS = ("i2c", "spi", "uart", "pwm")
_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")
_BUS_KEYS = {"name": str, "id": int, "node": str}
_EXTRA_KEYS = {"spi": {"cs": list}, "pwm": {"channel": int, "pin": str}, "i2c": {}, "uart": {}}


@dataclass(frozen=True)
class ChipSpec:
    """A GPIO controller named in ``[gpio] chips``: by DT node and/or label."""

    name: str
    node: str = ""
    label: str = ""


@dataclass(frozen=True)
class PinSpec:
    """One pin name after aliases are followed: a GPIO line or a sysfs LED."""

    name: str
    kind: str              # "line" or "led"
    chip: str = ""         # [gpio] chips name (kind "line")
    line: int = -1         # line offset on the chip
    led: str = ""          # /sys/class/leds/<led> (kind "led")
    number: int = -1       # the pin's number (D<n>), -1 when it has none


@dataclass(frozen=True)
class BusSpec:
    """One ``[[i2c]]``/``[[spi]]``/``[[uart]]``/``[[pwm]]`` entry."""

    kind: str
    name: str
    id: int
    node: str
    cs: tuple[str, ...] = ()   # SPI: pin name of each chip select
    channel: int = 0           # PWM: channel of the chip
    pin: str = ""              # PWM: the pin the channel drives


@dataclass(frozen=True)
class Hardware:
    """A board's pins and buses (empty for a board file without the tables)."""

    chips: dict[str, ChipSpec] = field(default_factory=dict)
    pins: dict[str, PinSpec] = field(default_factory=dict)
    buses: tuple[BusSpec, ...] = ()
    watchdog: str = ""

    def bus(self, kind: str, key) -> BusSpec | None:
        """The ``kind`` bus whose ``name`` (str) or ``id`` (int) is ``key``, or None."""
        for b in self.buses:
            if b.kind == kind and (b.name == key if isinstance(key, str) else b.id == key):
                return b
        return None

    def of_kind(self, kind: str) -> tuple[BusSpec, ...]:
        """Every bus of ``kind`` in file order."""
        return tuple(b for b in self.buses if b.kind == kind)


def parse(data: dict[str, Any], fail) -> Hardware:
    """Validate the hardware tables of a parsed board file; ``fail(table, key, problem)`` raises.

    Returns the :class:`Hardware` they describe (every name resolved to a line or an LED)."""
    g = data.get("gpio", {})
    _table(g, "gpio", fail)
    for key in g:
        if key not in ("chips", "numbered"):
            fail("gpio", key, "is not a known key; expected one of ['chips', 'numbered']")
    chips = {}
    for name, spec in _typed(g, "chips", dict, {}, "gpio", fail).items():
        if not isinstance(spec, dict) or not spec or set(spec) - {"node", "label"} or not all(
                isinstance(v, str) and v for v in spec.values()):
            fail("gpio", "chips", f"entry {name!r} must be a table with 'node' and/or 'label' "
                                  f"(non-empty strings)")
        chips[name] = ChipSpec(name, spec.get("node", ""), spec.get("label", ""))
    raw: dict[str, str] = {}
    numbers: dict[str, int] = {}
    for i, entry in enumerate(_typed(g, "numbered", list, [], "gpio", fail)):
        where = f"entry {i}"
        if not isinstance(entry, dict) or set(entry) != {"chip", "first", "last", "names"}:
            fail("gpio", "numbered", f"{where} must be a table with chip, first, last, names")
        chip, first, last, pats = (entry[k] for k in ("chip", "first", "last", "names"))
        if chip not in chips:
            fail("gpio", "numbered", f"{where}: chip {chip!r} is not in [gpio] chips")
        if not (_is_int(first) and _is_int(last) and 0 <= first <= last < 1024):
            fail("gpio", "numbered", f"{where}: first/last must be ints with 0 <= first <= last")
        if not (isinstance(pats, list) and pats and all(
                isinstance(p, str) and "{n}" in p for p in pats)):
            fail("gpio", "numbered", f"{where}: names must be patterns containing '{{n}}'")
        for n in range(first, last + 1):
            for p in pats:
                name = p.replace("{n}", str(n))
                _check_name("gpio", "numbered", name, raw, fail)
                raw[name] = f"{chip}:{n}"
                numbers[name] = n
    p = data.get("pins", {})
    _table(p, "pins", fail)
    for name, target in p.items():
        _check_name("pins", name, name, raw, fail)
        if not isinstance(target, str) or not target:
            fail("pins", name, "must be a non-empty string: 'chip:line', 'led:NAME' or a pin name")
        raw[name] = target
    pins = {name: _resolve_pin(name, raw, chips, numbers, fail) for name in raw}
    buses = []
    for kind in BUS_KINDS:
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            fail(kind, "-", f"must be an array of tables ([[{kind}]])")
        for i, e in enumerate(entries):
            buses.append(_bus(kind, i, e, pins, buses, fail))
    w = data.get("watchdog", {})
    _table(w, "watchdog", fail)
    for key in w:
        if key != "device":
            fail("watchdog", key, "is not a known key; expected ['device']")
    watchdog = _typed(w, "device", str, "", "watchdog", fail)
    if watchdog and not watchdog.startswith("/dev/"):
        fail("watchdog", "device", f"is {watchdog!r}; expected a device file under /dev/")
    return Hardware(chips, pins, tuple(buses), watchdog)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _table(value, table, fail):
    if not isinstance(value, dict):
        fail(table, "-", "must be a table")


def _typed(t, key, kind, default, table, fail):
    if key not in t:
        return default
    v = t[key]
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        fail(table, key, f"must be {kind.__name__}, got {type(v).__name__}")
    return v


def _check_name(table, key, name, seen, fail):
    if not _NAME_RE.fullmatch(name):
        fail(table, key, f"name {name!r} must be upper case letters, digits and '_', "
                         f"starting with a letter")
    if name in seen:
        fail(table, key, f"name {name!r} is defined twice")


def _resolve_pin(name, raw, chips, numbers, fail) -> PinSpec:
    seen = [name]
    target = raw[name]
    number = numbers.get(name, -1)
    while target in raw:                       # an alias: follow it
        if target in seen:
            fail("pins", name, f"aliases loop: {' -> '.join(seen + [target])}")
        seen.append(target)
        number = numbers.get(target, number)
        target = raw[target]
    kind, sep, rest = target.partition(":")
    if not sep:
        fail("pins", name, f"refers to {target!r}, which is not a pin name, 'chip:line' or "
                           f"'led:NAME'")
    if kind == "led":
        if not re.fullmatch(r"[A-Za-z0-9_:.+-]+", rest):
            fail("pins", name, f"LED name {rest!r} is not a /sys/class/leds entry name")
        return PinSpec(name, "led", led=rest, number=number)
    if kind not in chips:
        fail("pins", name, f"chip {kind!r} is not in [gpio] chips")
    if not rest.isdigit():
        fail("pins", name, f"line {rest!r} is not a line number")
    return PinSpec(name, "line", chip=kind, line=int(rest), number=number)


def _bus(kind, i, e, pins, buses, fail) -> BusSpec:
    table = f"{kind}[{i}]"
    if not isinstance(e, dict):
        fail(kind, "-", f"entry {i} must be a table")
    keys = dict(_BUS_KEYS, **_EXTRA_KEYS[kind])
    for key in e:
        if key not in keys:
            fail(table, key, f"is not a known key; expected one of {sorted(keys)}")
    for key, typ in keys.items():
        if key not in e:
            if key in _BUS_KEYS or kind == "pwm":
                fail(table, key, "is missing")
            continue
        _typed(e, key, typ, None, table, fail)
    if not _NAME_RE.fullmatch(e["name"]):
        fail(table, "name", f"{e['name']!r} must be an upper-case name such as {kind.upper()}0")
    if e["id"] < 0:
        fail(table, "id", f"is {e['id']}; must be >= 0")
    if not e["node"]:
        fail(table, "node", "must not be empty")
    for other in buses:
        if other.kind == kind and (other.name == e["name"] or other.id == e["id"]):
            fail(table, "name", f"{e['name']!r} (id {e['id']}) repeats another [[{kind}]]")
    cs = tuple(e.get("cs", ()))
    for pin in cs:
        if pin not in pins:
            fail(table, "cs", f"names {pin!r}, which is not a pin of this board")
    if kind == "pwm":
        if e["channel"] < 0:
            fail(table, "channel", f"is {e['channel']}; must be >= 0")
        if e["pin"] not in pins:
            fail(table, "pin", f"names {e['pin']!r}, which is not a pin of this board")
    return BusSpec(kind, e["name"], e["id"], e["node"], cs, e.get("channel", 0), e.get("pin", ""))
