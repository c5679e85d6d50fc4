"""Board names to the devices of the running board.

The board is the one ``bsp.identity`` finds (an image's ``/etc/kiln/board.toml``, else the
board file matching the device tree); its pin and bus tables (``kiln.boardhw``) name
controllers by device-tree node or label, which are found now, through sysfs:

- GPIO chip: ``/sys/bus/gpio/devices/gpiochipN`` whose ``of_node`` (or its parent's) is the
  node, else the chip whose label (``GPIO_GET_CHIPINFO_IOCTL``) matches -> ``/dev/gpiochipN``;
- I2C bus: ``/sys/bus/i2c/devices/i2c-N`` by ``of_node`` -> ``/dev/i2c-N``;
- SPI: ``/sys/class/spi_master/spiB`` by ``of_node`` -> ``/dev/spidevB.<cs>``;
- UART: ``/sys/class/tty/<tty>/device/of_node`` -> ``/dev/<tty>``;
- PWM: ``/sys/class/pwm/pwmchipN/device/of_node`` -> that pwmchip directory;
- LED: ``/sys/class/leds/<name>``.

``$KILN_SYSROOT`` (default ``/``) is the root all of this is read below (tests use recorded
trees).  Every failure raises an exception naming the name, what it means on this board and
what is missing: :class:`PinNameError` (a ValueError and Zerynth's InvalidPinError) for names
the board does not have, :class:`BusError` (ValueError and InvalidHardwareStatusError) for a
bus the board lacks, :class:`DeviceMissingError` (FileNotFoundError) for a named controller
whose device is absent (driver not loaded, DT node disabled).
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

from kiln.errors import InvalidHardwareStatusError, InvalidPinError


class PinNameError(InvalidPinError, ValueError):
    """A pin name or number the board does not have, or a pin that cannot do what was asked."""


class BusError(InvalidHardwareStatusError, ValueError):
    """A bus or peripheral the board does not have (or does not enable)."""


class DeviceMissingError(FileNotFoundError):
    """The board names this controller but its device is not there now."""


_board = None


def root() -> Path:
    """The root the running system is read below (``$KILN_SYSROOT``, default ``/``)."""
    return Path(os.environ.get("KILN_SYSROOT", "/"))


def board():
    """The running board's ``kiln.boards.Board`` (cached).  BusError on a machine that is not a
    Kiln board (no /etc/kiln/board.toml, no matching device tree)."""
    global _board
    if _board is None:
        from bsp.identity import DEBIAN_ARCH, device_tree_compatible, machine, match_board
        r = root()
        b = match_board(r, device_tree_compatible(r), DEBIAN_ARCH.get(machine(r), machine(r)))
        if b is None:
            raise BusError("this machine is not a Kiln board (no /etc/kiln/board.toml and no "
                           "board file matches its device tree): it has no named pins or buses")
        _board = b
    return _board


def reset() -> None:
    """Forget the cached board (after ``$KILN_SYSROOT`` changes)."""
    global _board
    _board = None


def pin(name):
    """The ``kiln.boardhw.PinSpec`` for ``name``: a pin name (``"D5"``, ``"LED0"``) or a
    number (the ``D<n>`` pin).  PinNameError naming the board's pins otherwise."""
    hw = board().hw
    if isinstance(name, bool):
        raise PinNameError(f"pin must be a pin name or number, not bool")
    if isinstance(name, int):
        for spec in hw.pins.values():
            if spec.number == name:
                return spec
        numbers = sorted({s.number for s in hw.pins.values() if s.number >= 0})
        rng = f"{numbers[0]}..{numbers[-1]}" if numbers else "none"
        raise PinNameError(f"pin {name} does not exist on {board().name} (pin numbers: {rng})")
    if not isinstance(name, str):
        raise PinNameError(f"pin must be a pin name (str) or number (int), not "
                           f"{type(name).__name__}")
    spec = hw.pins.get(name) or hw.pins.get(name.upper())
    if spec is None:
        raise PinNameError(f"pin {name!r} does not exist on {board().name} "
                           f"(its pins: {_summary(hw.pins)})")
    return spec


def _summary(pins) -> str:
    names = list(pins)
    if len(names) <= 24:
        return ", ".join(names) or "none"
    return ", ".join(names[:12]) + f", ... ({len(names)} names)"


def _of_node(dev_dir: Path) -> str:
    """The device-tree path (``/soc/i2c@7e804000``) of a sysfs device or its parents, or ""."""
    d = Path(os.path.realpath(dev_dir))
    for _ in range(3):
        link = d / "of_node"
        if link.exists():
            target = os.path.realpath(link)
            marker = "/devicetree/base"
            i = target.find(marker)
            return target[i + len(marker):] if i >= 0 else target
        d = d.parent
    return ""


def _node_matches(path: str, node: str) -> bool:
    if not path:
        return False
    return path == node if node.startswith("/") else path.rsplit("/", 1)[-1] == node


def _dev(name: str) -> str:
    return str(root() / "dev" / name)


def _find(pattern_dir: str, prefix: str, node: str, what: str, nodes_seen: list) -> str:
    base = root() / pattern_dir
    if base.is_dir():
        for entry in sorted(base.iterdir(), key=lambda p: (len(p.name), p.name)):
            if entry.name.startswith(prefix):
                where = _of_node(entry)
                nodes_seen.append(f"{entry.name}={where or '?'}")
                if _node_matches(where, node):
                    return entry.name
    return ""


def gpio_chip(chip_name: str) -> str:
    """``/dev/gpiochipN`` of the board's chip ``chip_name`` ([gpio] chips).
    DeviceMissingError when no GPIO chip of this system is that node or label."""
    spec = board().hw.chips.get(chip_name)
    if spec is None:
        raise PinNameError(f"GPIO chip {chip_name!r} is not in {board().name}'s [gpio] chips")
    seen: list[str] = []
    if spec.node:
        found = _find("sys/bus/gpio/devices", "gpiochip", spec.node, "gpio", seen)
        if found:
            return _dev(found)
    if spec.label:
        from kiln.hw.gpio import Chip
        for dev in sorted((root() / "dev").glob("gpiochip*")):
            try:
                with Chip(str(dev)) as chip:
                    if chip.label == spec.label:
                        return str(dev)
                    seen.append(f"{dev.name}={chip.label}")
            except OSError:
                continue
    raise DeviceMissingError(errno.ENOENT, f"GPIO controller {spec.node or spec.label!r} "
                                           f"({chip_name}) is not on this system (GPIO chips "
                                           f"found: {', '.join(seen) or 'none'}): its driver "
                                           f"is not loaded or its DT node is disabled")


def line(name):
    """``(/dev/gpiochipN, line offset, PinSpec)`` of a GPIO pin; PinNameError when the pin is
    not a GPIO line (an LED-class LED)."""
    spec = pin(name)
    if spec.kind != "line":
        raise PinNameError(f"pin {spec.name} is the LED {spec.led!r} (/sys/class/leds), not a "
                           f"GPIO line: it is an output only")
    return gpio_chip(spec.chip), spec.line, spec


def led_dir(spec) -> Path:
    """``/sys/class/leds/<name>`` of an LED pin; DeviceMissingError when absent."""
    d = root() / "sys/class/leds" / spec.led
    if not (d / "brightness").exists():
        raise DeviceMissingError(errno.ENOENT, f"pin {spec.name} is the LED {spec.led!r}, "
                                               f"which this system does not have ({d})")
    return d


def bus(kind: str, key):
    """The ``kiln.boardhw.BusSpec`` of ``kind`` ("i2c", "spi", "uart", "pwm") named ``key``
    (Zerynth's name, str) or numbered ``key`` (MicroPython's id, int).  BusError naming the
    board's buses of that kind otherwise."""
    hw = board().hw
    spec = hw.bus(kind, key)
    if spec is None:
        have = ", ".join(f"{b.name} (id {b.id})" for b in hw.of_kind(kind)) or "none"
        raise BusError(f"{kind.upper()} {key!r} does not exist on {board().name} "
                       f"({kind.upper()} buses it enables: {have})")
    return spec


def i2c_device(key) -> str:
    """``/dev/i2c-N`` of I2C bus ``key``."""
    spec = bus("i2c", key)
    seen: list[str] = []
    found = _find("sys/bus/i2c/devices", "i2c-", spec.node, "i2c", seen)
    if not found:
        raise DeviceMissingError(errno.ENOENT, f"I2C bus {spec.name} ({spec.node}) is not on "
                                               f"this system (adapters: {', '.join(seen) or 'none'}"
                                               f"): i2c driver not loaded or node disabled")
    dev = _dev(found)
    if not os.path.exists(dev):
        raise DeviceMissingError(errno.ENOENT, f"I2C bus {spec.name} is {found} but {dev} is "
                                               f"missing: the i2c-dev module is not loaded")
    return dev


def spi_device(key, cs: int = 0) -> str:
    """``/dev/spidevB.<cs>`` of SPI bus ``key``."""
    spec = bus("spi", key)
    seen: list[str] = []
    found = _find("sys/class/spi_master", "spi", spec.node, "spi", seen)
    if not found:
        raise DeviceMissingError(errno.ENOENT, f"SPI bus {spec.name} ({spec.node}) is not on "
                                               f"this system (controllers: "
                                               f"{', '.join(seen) or 'none'}): driver not "
                                               f"loaded or node disabled")
    dev = _dev(f"spidev{found[3:]}.{cs}")
    if not os.path.exists(dev):
        raise DeviceMissingError(errno.ENOENT, f"SPI bus {spec.name} chip select {cs}: {dev} "
                                               f"is missing (no spidev child for it in the "
                                               f"device tree, or spidev not loaded)")
    return dev


def uart_device(key) -> str:
    """``/dev/<tty>`` of UART ``key``."""
    spec = bus("uart", key)
    seen: list[str] = []
    base = root() / "sys/class/tty"
    if base.is_dir():
        for entry in sorted(base.iterdir()):
            if (entry / "device").exists():
                where = _of_node(entry / "device")
                if where:
                    seen.append(f"{entry.name}={where}")
                if _node_matches(where, spec.node):
                    return _dev(entry.name)
    raise DeviceMissingError(errno.ENOENT, f"UART {spec.name} ({spec.node}) is not on this "
                                           f"system (serial ports: {', '.join(seen) or 'none'})")


def pwm_chip(key):
    """``(pwmchip directory, channel, BusSpec)`` of PWM channel ``key``."""
    spec = bus("pwm", key)
    seen: list[str] = []
    found = _find("sys/class/pwm", "pwmchip", spec.node, "pwm", seen)
    if not found:
        raise DeviceMissingError(errno.ENOENT, f"PWM {spec.name} ({spec.node}) is not on this "
                                               f"system (PWM chips: {', '.join(seen) or 'none'}"
                                               f"): pwm driver not loaded or node disabled")
    return root() / "sys/class/pwm" / found, spec.channel, spec


def same_pin(a, b) -> bool:
    """Whether two PinSpecs (of any names) are the same line or LED."""
    return (a.kind, a.chip, a.line, a.led) == (b.kind, b.chip, b.line, b.led)


def pwm_for_pin(name):
    """The PWM ``BusSpec`` whose pin is pin ``name`` (any of its names); BusError when the pin
    has no PWM channel on this board."""
    target = pin(name)
    for spec in board().hw.of_kind("pwm"):
        if same_pin(pin(spec.pin), target):
            return spec
    have = ", ".join(f"{s.name} on {s.pin}" for s in board().hw.of_kind("pwm")) or "none"
    raise BusError(f"pin {target.name} has no PWM channel on {board().name} (PWM pins: {have})")


def watchdog_device() -> str:
    """The watchdog's device file; BusError when the board names none, DeviceMissingError when
    it is absent."""
    dev = board().hw.watchdog
    if not dev:
        raise BusError(f"{board().name} names no watchdog")
    path = str(root() / dev.lstrip("/"))
    if not os.path.exists(path):
        raise DeviceMissingError(errno.ENOENT, f"the watchdog {path} is not on this system "
                                               f"(no watchdog driver loaded)")
    return path
