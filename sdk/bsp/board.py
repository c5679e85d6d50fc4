"""The board Kiln runs on, Zerynth style: ``from bsp import board``.

``board.init()`` brings the board to a known state (what its config lists: LEDs off, network
interfaces down); ``board.summary()`` prints who the board is; ``board.facts()`` returns the same
as a ``BoardFacts`` dataclass (``dataclasses.asdict`` turns it into a dict).

On a development host (no Kiln image, no matching device tree) the facts describe the host, and
``init()`` changes nothing: Kiln never reconfigures a host's interfaces.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from bsp.identity import BoardFacts, match_board, read_facts, device_tree_compatible, \
    DEBIAN_ARCH, machine
from driver.ip.rtnl import Rtnl
from kiln.netguard import reconfigure_refusal

_ROOT = Path(os.environ.get("KILN_SYSROOT", "/"))
# The live kernel's interfaces (per network namespace), which init() acts on.
_LIVE_NET = Path("/sys/class/net")


def facts() -> BoardFacts:
    """The board's identity and state, read now from the running system (no side effects)."""
    return read_facts(_ROOT)


def init() -> list[str]:
    """Bring the board to the known state its config describes; return what was done.

    Turns the listed LEDs off (``/sys/class/leds/<name>``) and takes the listed interfaces down.
    Does nothing on a development host; interfaces are left alone wherever ``kiln.netguard``
    refuses changes (then the returned list says so).  Raises OSError if a listed LED or
    interface exists but cannot be set.
    """
    compatible = device_tree_compatible(_ROOT)
    board = match_board(_ROOT, compatible, DEBIAN_ARCH.get(machine(_ROOT), machine(_ROOT)))
    done: list[str] = []
    if board is None:
        return done
    for led in board.bsp_leds_off:
        base = _ROOT / "sys/class/leds" / led
        if not base.is_dir():
            continue                      # LEDs absent on this revision of the board
        (base / "trigger").write_text("none")
        (base / "brightness").write_text("0")
        done.append(f"led {led} off")
    refusal = reconfigure_refusal()
    for ifname in board.bsp_interfaces_down:
        # Interfaces are changed through the kernel's network API, so ask the live kernel
        # (its sysfs is per network namespace), not the sysroot, whether one exists.
        if not (_LIVE_NET / ifname).exists():
            continue
        if refusal:
            done.append(f"{ifname} left as is: {refusal}")
            continue
        with Rtnl() as rtnl:
            rtnl.set_link_up(rtnl.link(ifname).index, False)
        done.append(f"{ifname} down")
    return done


def summary(file=None) -> None:
    """Print a readable summary of the board (name, model, SoC, revision, serial, memory, kernel,
    Kiln version, network interfaces with MACs) to ``file`` (default stdout)."""
    print(format_summary(facts()), file=file or sys.stdout)


def format_summary(f: BoardFacts) -> str:
    rows = [("board", f"{f.board} — {f.description}"), ("model", f.model), ("soc", f.soc),
            ("cpu", f.cpu)]
    if f.revision is not None:
        r = f.revision
        rows.append(("revision", f"{r.code:06x} ({r.model} rev {r.revision}, "
                                 f"{r.memory_mb} MB, {r.manufacturer})"))
    rows.append(("serial", f.serial or "-"))
    rows.append(("memory", f"{f.memory_mb} MB usable"))
    rows.append(("kernel", f"{f.kernel} ({f.machine})"))
    rows.append(("kiln", f.kiln_version))
    for i, nic in enumerate(f.interfaces or ()):
        rows.append(("network" if i == 0 else "", f"{nic.name:<8} {nic.mac or '-':<17} "
                                                   f"{nic.state}"))
    if not f.interfaces:
        rows.append(("network", "-"))
    width = max(len(k) for k, _ in rows)
    title = "Kiln board summary" + (" (development host, not a Kiln board)" if f.is_host else "")
    return "\n".join([title] + [f"  {k:<{width}}  {v}" for k, v in rows])


def __getattr__(name: str):
    """The board's pin and bus names as attributes (``board.D5``, ``board.LED0``,
    ``board.I2C0``), as Zerynth programs use them after ``from bsp import board``
    (kiln.hw.names; AttributeError for a name the board does not have)."""
    if name.startswith("_"):
        raise AttributeError(name)
    from kiln.hw import names
    found = names.pin_names().get(name)
    if found is None:
        found = names.bus_names().get(name)
    if found is None:
        raise AttributeError(f"module 'bsp.board' has no attribute {name!r} (not a pin or bus "
                             f"of this board)")
    return found
