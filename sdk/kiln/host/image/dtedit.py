"""Edits to a flattened device tree (a ``.dtb`` file), in place, with device-tree-compiler's
``fdtput``/``fdtget``/``dtc`` -- the one mechanism for every DTB change Kiln makes.

Two users, both driven only by board data:

* the SD-card packer (:mod:`kiln.host.image.sdcard`) applies the board file's
  ``[sdcard] dt_enable``/``dt_remove``/``dt_spidev``/``dt_pinctrl``/``dt_cs_gpios`` to every
  DTB the image ships.
  That is what ``dtparam=spi=on`` or ``dtoverlay=disable-bt`` in ``config.txt`` do with the
  Raspberry Pi firmware's own DTBs; Debian's upstream DTBs have no ``__overrides__`` (and no
  ``__symbols__`` for overlays), so the firmware cannot apply those lines to them;
* the QEMU runner (:mod:`kiln.host.runner.sdboot`) applies the test-only ``[qemu]
  dtb_disable``/``dtb_delete`` to a copy of the DTB it boots.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from kiln.errors import KilnError

#: ``compatible`` of the SPI children :func:`add_spidev` creates.  No kernel driver matches
#: it, so the devices stay unbound until the image's init binds every unbound SPI device to
#: ``spidev`` through ``driver_override`` (the kernel refuses ``compatible = "spidev"``).
SPIDEV_COMPATIBLE = "kiln,spidev"
SPIDEV_MAX_HZ = 125_000_000       # what Raspberry Pi's spi0 overlays give their spidev nodes


class DtEditError(KilnError):
    """A node or property the board file names is not in the DTB, or a tool is missing."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DtEditError(f"{name} not found: apt-get install device-tree-compiler")
    return path


def _run(tool: str, args: list[str], what: str) -> str:
    result = subprocess.run([_tool(tool), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise DtEditError(f"{tool} {' '.join(args)} failed: {result.stderr.strip()} ({what})")
    return result.stdout


def set_status(dtb: Path, nodes, status: str, what: str = "fix the board file") -> None:
    """Set ``status = <status>`` ("okay", "disabled") on each node path of ``nodes``."""
    for node in nodes:
        _run("fdtput", ["-t", "s", str(dtb), node, "status", status], what)


def delete_properties(dtb: Path, entries, what: str = "fix the board file") -> None:
    """Delete each ``"/node/path:property"`` of ``entries``."""
    for entry in entries:
        node, _, prop = entry.rpartition(":")
        _run("fdtput", ["-d", str(dtb), node, prop], what)


def delete_nodes(dtb: Path, nodes, what: str = "fix the board file") -> None:
    """Delete each node path of ``nodes`` with its children."""
    for node in nodes:
        _run("fdtput", ["-r", str(dtb), node], what)


def add_spidev(dtb: Path, entries, what: str = "fix the board file") -> None:
    """For each ``"/spi-node:CS"`` add a child ``spidev@CS`` (``reg = <CS>``) of
    :data:`SPIDEV_COMPATIBLE`, as Raspberry Pi's ``spi0-*cs`` overlays add their spidev
    nodes."""
    for entry in entries:
        node, _, cs = entry.rpartition(":")
        child = f"{node}/spidev@{int(cs)}"
        _run("fdtput", ["-c", str(dtb), child], what)
        _run("fdtput", ["-t", "s", str(dtb), child, "compatible", SPIDEV_COMPATIBLE], what)
        _run("fdtput", ["-t", "u", str(dtb), child, "reg", str(int(cs))], what)
        _run("fdtput", ["-t", "u", str(dtb), child, "spi-max-frequency", str(SPIDEV_MAX_HZ)],
             what)


def set_pinctrl(dtb: Path, entries, what: str = "fix the board file") -> None:
    """For each ``"/node=/pin-group-node[,/pin-group-node...]"`` make the pin groups the
    node's only default (``pinctrl-names = "default"``, ``pinctrl-0 = <&group ...>``), giving
    a group a phandle when it has none."""
    for entry in entries:
        node, _, groups = entry.partition("=")
        phandles = [str(_phandle(dtb, group.strip(), what)) for group in groups.split(",")]
        _run("fdtput", ["-t", "s", str(dtb), node, "pinctrl-names", "default"], what)
        _run("fdtput", ["-t", "u", str(dtb), node, "pinctrl-0", *phandles], what)


GPIO_ACTIVE_LOW = 1               # include/dt-bindings/gpio/gpio.h


def set_cs_gpios(dtb: Path, entries, what: str = "fix the board file") -> None:
    """For each ``"/spi-node=/gpio-node:L0,L1"`` set the SPI controller's ``cs-gpios`` to
    those lines of the GPIO controller, active low (chip select N = the N-th line), as the
    Raspberry Pi's own DTBs do (``cs-gpios = <&gpio 8 1>, <&gpio 7 1>``): the SPI core then
    drives them with the right polarity -- without it Debian's spi-bcm2835 makes its own
    GPIO chip selects, active high."""
    for entry in entries:
        node, _, rest = entry.partition("=")
        gpio, _, lines = rest.rpartition(":")
        phandle = _phandle(dtb, gpio, what)
        cells = [str(v) for line in lines.split(",") for v in (phandle, int(line),
                                                                GPIO_ACTIVE_LOW)]
        _run("fdtput", ["-t", "u", str(dtb), node, "cs-gpios", *cells], what)


def _phandle(dtb: Path, node: str, what: str) -> int:
    result = subprocess.run([_tool("fdtget"), "-t", "u", str(dtb), node, "phandle"],
                            capture_output=True, text=True)
    if result.returncode == 0 and result.stdout.strip():
        return int(result.stdout.split()[0])
    _run("fdtget", ["-l", str(dtb), node], what)          # the node must exist
    source = _run("dtc", ["-q", "-I", "dtb", "-O", "dts", str(dtb)], what)
    used = [int(v, 16) for v in re.findall(r"phandle = <(0x[0-9a-f]+)>", source)]
    new = max(used, default=0) + 1
    _run("fdtput", ["-t", "u", str(dtb), node, "phandle", str(new)], what)
    return new


def apply_board(dtb: Path, sdcard) -> None:
    """Apply an ``[sdcard]`` table's ``dt_*`` edits (:class:`kiln.boards.SdcardSpec`) to
    ``dtb`` in place: pin groups, then enabled nodes, removed nodes, chip-select GPIOs,
    spidev children.
    Blocks for well under a second.  Raises :class:`DtEditError` naming the edit."""
    what = f"fix [sdcard] dt_* of the board file ({dtb.name})"
    set_pinctrl(dtb, sdcard.dt_pinctrl, what)
    set_status(dtb, sdcard.dt_enable, "okay", what)
    delete_nodes(dtb, sdcard.dt_remove, what)
    set_cs_gpios(dtb, sdcard.dt_cs_gpios, what)
    add_spidev(dtb, sdcard.dt_spidev, what)
