"""Just enough ELF reading for the builder: machine type, DT_NEEDED, and named sections."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# e_machine values (ELF gABI) -> the names Debian and QEMU use.
MACHINES = {40: "arm", 183: "aarch64", 62: "x86_64", 3: "i386", 243: "riscv"}
_SHT_DYNAMIC = 6
_DT_NEEDED = 1


class NotElfError(ValueError):
    """The file is not an ELF object."""


@dataclass(frozen=True)
class ElfInfo:
    """Facts about one ELF file."""

    machine: str          # "aarch64", "arm", "x86_64", ... or "unknown-<n>"
    bits: int             # 32 or 64
    elf_type: int         # 1 relocatable (.ko), 2 executable, 3 shared object/PIE
    needed: tuple[str, ...]
    sections: dict[str, bytes]


def is_elf(path: Path) -> bool:
    """Whether ``path`` is a regular file starting with the ELF magic."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def read(path: Path, sections: tuple[str, ...] = ()) -> ElfInfo:
    """Parse ``path``: header, DT_NEEDED entries and the raw bytes of the named ``sections``.

    Raises :class:`NotElfError` when the file is not a little-endian ELF object.
    """
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        raise NotElfError(f"{path} is not an ELF file")
    bits = {1: 32, 2: 64}.get(data[4])
    if bits is None or data[5] != 1:
        raise NotElfError(f"{path}: unsupported ELF class/byte order")
    if bits == 64:
        e_type, e_machine = struct.unpack_from("<HH", data, 16)
        e_shoff, = struct.unpack_from("<Q", data, 40)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 58)
        sh_fmt, dyn_fmt = "<IIQQQQIIQQ", "<qQ"
    else:
        e_type, e_machine = struct.unpack_from("<HH", data, 16)
        e_shoff, = struct.unpack_from("<I", data, 32)
        e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 46)
        sh_fmt, dyn_fmt = "<IIIIIIIIII", "<iI"
    headers = [struct.unpack_from(sh_fmt, data, e_shoff + i * e_shentsize) for i in range(e_shnum)]

    def body(h) -> bytes:  # (name, type, flags, addr, offset, size, link, info, align, entsize)
        return data[h[4]:h[4] + h[5]] if h[1] != 8 else b""  # SHT_NOBITS has no file bytes

    names = body(headers[e_shstrndx]) if e_shnum and e_shstrndx < e_shnum else b""

    def name_of(h) -> str:
        return names[h[0]:names.index(b"\0", h[0])].decode() if names else ""

    needed = []
    for h in headers:
        if h[1] == _SHT_DYNAMIC:
            strtab = body(headers[h[6]])
            dyn = body(h)
            size = struct.calcsize(dyn_fmt)
            for off in range(0, len(dyn) - size + 1, size):
                tag, val = struct.unpack_from(dyn_fmt, dyn, off)
                if tag == 0:
                    break
                if tag == _DT_NEEDED:
                    needed.append(strtab[val:strtab.index(b"\0", val)].decode())
    wanted = {name_of(h): body(h) for h in headers if name_of(h) in sections}
    return ElfInfo(machine=MACHINES.get(e_machine, f"unknown-{e_machine}"), bits=bits,
                   elf_type=e_type, needed=tuple(needed), sections=wanted)


def modinfo(path: Path) -> dict[str, str]:
    """The ``key=value`` pairs of a kernel module's ``.modinfo`` section (last value wins)."""
    raw = read(path, (".modinfo",)).sections.get(".modinfo", b"")
    info = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.decode(errors="replace").partition("=")
        if sep:
            info[key] = value
    return info
