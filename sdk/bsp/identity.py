"""Who is this board?  Facts read from the running system, never assumed.

Sources, in order of authority:

1. ``/etc/kiln/board.toml`` — written into every Kiln image by the image builder;
2. the device tree (``/proc/device-tree/model``, ``compatible``, ``serial-number``,
   ``system/linux,revision``) matched against the ``compatible`` lists of ``board_configs/``
   (and the Debian architecture, since both QEMU boards report ``linux,dummy-virt``);
3. otherwise the machine is a development host, and is reported as one (DMI product name, CPU
   model), not dressed up as a board.

Every reader takes ``root`` (default ``/``) so recorded trees can be examined: tests point it at
fixtures under ``tests/fixtures/boards/``.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from bsp import rpi

# uname machine -> Debian architecture (to tell boards with the same compatible apart).
DEBIAN_ARCH = {"aarch64": "arm64", "armv7l": "armhf", "armv8l": "armhf", "x86_64": "amd64"}
# Arm CPU part numbers (implementer 0x41) as /proc/cpuinfo prints them on arm64/armhf.
ARM_CPU_PARTS = {0xC07: "Cortex-A7", 0xC0F: "Cortex-A15", 0xD03: "Cortex-A53",
                 0xD04: "Cortex-A35", 0xD05: "Cortex-A55", 0xD07: "Cortex-A57",
                 0xD08: "Cortex-A72", 0xD0B: "Cortex-A76", 0xB76: "ARM1176"}
KILN_BOARD_FILE = "etc/kiln/board.toml"


@dataclass(frozen=True)
class Interface:
    """A network interface as the kernel reports it (/sys/class/net)."""

    name: str
    mac: str
    state: str          # operstate: "up", "down", "unknown", ...


@dataclass(frozen=True)
class BoardFacts:
    """Everything ``board.summary()`` prints, as data."""

    board: str                      # board_configs name, or "host"
    description: str                # the board config's description, or what the host is
    model: str                      # device-tree model / DMI product name
    compatible: tuple[str, ...]
    soc: str
    cpu: str
    revision: rpi.Revision | None
    serial: str | None
    memory_mb: int                  # MemTotal (what Linux can use)
    kernel: str
    machine: str
    kiln_version: str
    interfaces: tuple[Interface, ...] = field(default=())
    is_host: bool = False


def _read(root: Path, rel: str) -> bytes | None:
    try:
        return (root / rel).read_bytes()
    except OSError:
        return None


def _text(root: Path, rel: str) -> str | None:
    data = _read(root, rel)
    if data is None:
        return None
    return data.rstrip(b"\0\n").decode("utf-8", "replace").strip()


def device_tree_compatible(root: Path) -> tuple[str, ...]:
    """The root node's compatible strings, most specific first (empty without a device tree)."""
    data = _read(root, "proc/device-tree/compatible")
    if not data:
        return ()
    return tuple(s.decode("ascii", "replace") for s in data.split(b"\0") if s)


def revision_code(root: Path) -> int | None:
    """The Raspberry Pi revision code: device tree first (firmware sets it on every kernel),
    then /proc/cpuinfo's ``Revision`` (vendor kernels)."""
    data = _read(root, "proc/device-tree/system/linux,revision")
    if data and len(data) == 4:
        return struct.unpack(">I", data)[0]
    for line in (_text(root, "proc/cpuinfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Revision":
            try:
                return int(value.strip(), 16)
            except ValueError:
                return None
    return None


def memory_mb(root: Path) -> int:
    for line in (_text(root, "proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def cpu_name(root: Path) -> str:
    """CPU model: "model name" (x86), else the Arm implementer/part decoded, else "unknown"."""
    text = _text(root, "proc/cpuinfo") or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    if fields.get("model name"):
        return fields["model name"]
    try:
        if int(fields.get("CPU implementer", "0"), 16) == 0x41:
            part = int(fields.get("CPU part", "0"), 16)
            return ARM_CPU_PARTS.get(part, f"Arm part {part:#x}")
    except ValueError:
        pass
    return "unknown"


def machine(root: Path) -> str:
    return _text(root, "proc/sys/kernel/arch") or os.uname().machine


def kernel_release(root: Path) -> str:
    return _text(root, "proc/sys/kernel/osrelease") or os.uname().release


def interfaces(root: Path) -> tuple[Interface, ...]:
    """Non-loopback interfaces with their MAC and operational state, sorted by name."""
    base = root / "sys/class/net"
    found = []
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return ()
    for name in names:
        if name == "lo":
            continue
        mac = _text(root, f"sys/class/net/{name}/address") or ""
        state = _text(root, f"sys/class/net/{name}/operstate") or "unknown"
        found.append(Interface(name, mac, state))
    return tuple(found)


def match_board(root: Path, compatible: tuple[str, ...], arch: str):
    """The board config for this system (a ``kiln.boards.Board``), or None on a host.

    An image's /etc/kiln/board.toml wins; otherwise the board whose compatible list holds the
    device tree's most specific compatible string and whose Debian arch matches.
    """
    from kiln import boards

    image_file = root / KILN_BOARD_FILE
    if image_file.is_file():
        return boards.load_file(image_file, named_after_board=False)
    if not compatible:
        return None
    for name in boards.names():
        board = boards.load(name)
        if compatible[0] in board.compatible and board.debian_arch == arch:
            return board
    return None


def _soc(board, compatible: tuple[str, ...], revision: rpi.Revision | None, cpu: str) -> str:
    """The SoC: from the Raspberry Pi revision code, else the board file's ``soc`` (with the CPU
    the kernel reports), else the chip of the device tree's least specific compatible string
    ("brcm,bcm2711" -> "BCM2711"), else the CPU."""
    if revision is not None:
        return revision.processor
    if board is not None and board.soc:
        return f"{board.soc} ({cpu})"
    if compatible:
        vendor, _, chip = compatible[-1].partition(",")
        return (chip or vendor).upper()
    return cpu


def _host_model(root: Path) -> str:
    vendor = _text(root, "sys/class/dmi/id/sys_vendor") or ""
    product = _text(root, "sys/class/dmi/id/product_name") or ""
    model = " ".join(p for p in (vendor, product) if p)
    return model or "unknown host"


def read_facts(root: str | os.PathLike = "/") -> BoardFacts:
    """Collect the facts of the system under ``root`` (reads files only; changes nothing)."""
    from kiln import __version__

    root = Path(root)
    compatible = device_tree_compatible(root)
    arch = DEBIAN_ARCH.get(machine(root), machine(root))
    board = match_board(root, compatible, arch)
    code = revision_code(root)
    try:
        revision = rpi.decode(code) if code is not None else None
    except ValueError:
        revision = None
    cpu = cpu_name(root)
    model = _text(root, "proc/device-tree/model")
    if board is None:
        return BoardFacts(
            board="host", description=f"development host ({machine(root)})",
            model=model or _host_model(root), compatible=compatible,
            soc=_soc(None, compatible, revision, cpu), cpu=cpu, revision=revision,
            serial=_text(root, "proc/device-tree/serial-number"), memory_mb=memory_mb(root),
            kernel=kernel_release(root), machine=machine(root), kiln_version=__version__,
            interfaces=interfaces(root), is_host=True)
    return BoardFacts(
        board=board.name, description=board.description, model=model or board.description,
        compatible=compatible, soc=_soc(board, compatible, revision, cpu), cpu=cpu,
        revision=revision,
        serial=_text(root, "proc/device-tree/serial-number"), memory_mb=memory_mb(root),
        kernel=kernel_release(root), machine=machine(root), kiln_version=__version__,
        interfaces=interfaces(root))
