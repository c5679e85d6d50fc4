"""Sysfs trees for the kiln.hw tests, laid out as the kernel lays them out.

:func:`board_root` copies a recorded board tree (``tests/fixtures/boards/<board>``: its device
tree's ``compatible``, which is how ``bsp.identity`` finds the board) and adds the parts of
``/sys`` and ``/dev`` that ``kiln.hw.resolve`` reads, for the controllers the board file names:

- ``sys/firmware/devicetree/base/<node path>`` (the device tree as the kernel exports it);
- ``sys/devices/platform/<unit>.<node>/`` with ``of_node`` -> that node (as for every platform
  device created from the device tree), and below it the class devices: ``gpiochipN``,
  ``i2c-N``, ``spi_master/spiB``, ``tty/ttyAMA0``, ``pwm/pwmchipN`` (with ``npwm``, ``export``,
  ``unexport``);
- the bus and class links: ``sys/bus/gpio/devices/gpiochipN``, ``sys/bus/i2c/devices/i2c-N``,
  ``sys/class/spi_master/spiB``, ``sys/class/tty/<tty>`` (``device`` -> the platform device),
  ``sys/class/pwm/pwmchipN``, ``sys/class/leds/<LED>/{brightness,max_brightness}``;
- device files in ``dev/`` (plain files: only their presence is read).

Device numbers are deliberately not the DT order (gpiochip512, i2c-20 ...): the resolver must
find controllers by node, never by number.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from kiln import boards

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "boards"
DT_PATHS = {"pl061@9030000": "/pl061@9030000"}


def _dt_path(node: str) -> str:
    return node if node.startswith("/") else DT_PATHS.get(node, "/soc/" + node)


def _platform(root: Path, node: str) -> Path:
    path = _dt_path(node)
    base = root / "sys/firmware/devicetree/base" / path.lstrip("/")
    base.mkdir(parents=True, exist_ok=True)
    name = path.rsplit("/", 1)[-1]
    unit, _, addr = name.partition("@")
    dev = root / "sys/devices/platform" / f"{addr}.{unit}"
    dev.mkdir(parents=True, exist_ok=True)
    link = dev / "of_node"
    if not link.is_symlink():
        link.symlink_to(os.path.relpath(base, dev))
    return dev


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent))


def board_root(tmp: Path, board_name: str, *, missing=(), leds=("ACT", "PWR")) -> Path:
    """A copy of the recorded tree of ``board_name`` plus the controllers its board file
    names (except kinds in ``missing``: "gpio", "i2c", "i2c-dev", "spi", "spidev", "uart",
    "pwm", "watchdog", "leds")."""
    root = tmp / board_name
    shutil.copytree(FIXTURES / board_name, root, symlinks=True)
    (root / "dev").mkdir(exist_ok=True)
    board = boards.load(board_name)
    hw = board.hw
    if "gpio" not in missing:
        for i, chip in enumerate(hw.chips.values()):
            dev = _platform(root, chip.node)
            n = 512 + 32 * i
            (dev / f"gpiochip{n}").mkdir()
            _link(root / f"sys/bus/gpio/devices/gpiochip{n}", dev / f"gpiochip{n}")
            (root / f"dev/gpiochip{n}").touch()
    for k, b in enumerate(hw.buses):
        if b.kind in missing:
            continue
        dev = _platform(root, b.node)
        if b.kind == "i2c":
            n = 20 + k
            (dev / f"i2c-{n}").mkdir()
            _link(root / f"sys/bus/i2c/devices/i2c-{n}", dev / f"i2c-{n}")
            if "i2c-dev" not in missing:
                (root / f"dev/i2c-{n}").touch()
        elif b.kind == "spi":
            n = 10 + k
            (dev / f"spi_master/spi{n}").mkdir(parents=True)
            _link(root / f"sys/class/spi_master/spi{n}", dev / f"spi_master/spi{n}")
            if "spidev" not in missing:
                for cs in range(len(b.cs)):
                    (root / f"dev/spidev{n}.{cs}").touch()
        elif b.kind == "uart":
            (dev / "tty/ttyAMA0").mkdir(parents=True)
            _link(root / "sys/class/tty/ttyAMA0", dev / "tty/ttyAMA0")
            _link(dev / "tty/ttyAMA0/device", dev)
            (root / "dev/ttyAMA0").touch()
        elif b.kind == "pwm":
            chipdir = dev / "pwm/pwmchip4"
            if not chipdir.exists():
                chipdir.mkdir(parents=True)
                (chipdir / "npwm").write_text("2\n")
                (chipdir / "export").touch()
                (chipdir / "unexport").touch()
                _link(root / "sys/class/pwm/pwmchip4", chipdir)
                _link(chipdir / "device", dev)
    if "watchdog" not in missing and hw.watchdog:
        (root / hw.watchdog.lstrip("/")).touch()
    if "leds" not in missing:
        for led in leds:
            d = root / "sys/class/leds" / led
            d.mkdir(parents=True)
            (d / "brightness").write_text("0\n")
            (d / "max_brightness").write_text("1\n")
    return root
