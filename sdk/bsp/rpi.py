"""Raspberry Pi revision codes (``/proc/device-tree/system/linux,revision`` or ``Revision`` in
/proc/cpuinfo), decoded per the Raspberry Pi documentation's published table.

New-style codes are bit fields ``NOQuuuWuFMMMCCCCPPPPTTTTTTTTRRRR``: F (bit 23) marks the new
style, MMM memory, CCCC manufacturer, PPPP processor, TTTTTTTT board type, RRRR PCB revision;
W (25) warranty voided, N/O/Q (31/30/29) OTP and over-voltage lock-outs.  Codes 0x0002-0x0015 are
the old sequential style (first-generation boards).
"""
from __future__ import annotations

from dataclasses import dataclass

MEMORY_MB = {0: 256, 1: 512, 2: 1024, 3: 2048, 4: 4096, 5: 8192, 6: 16384}
MANUFACTURERS = {0: "Sony UK", 1: "Egoman", 2: "Embest", 3: "Sony Japan", 4: "Embest",
                 5: "Stadium"}
PROCESSORS = {0: "BCM2835", 1: "BCM2836", 2: "BCM2837", 3: "BCM2711", 4: "BCM2712"}
TYPES = {
    0x00: "A", 0x01: "B", 0x02: "A+", 0x03: "B+", 0x04: "2B", 0x05: "Alpha (early prototype)",
    0x06: "CM1", 0x08: "3B", 0x09: "Zero", 0x0A: "CM3", 0x0C: "Zero W", 0x0D: "3B+",
    0x0E: "3A+", 0x0F: "Internal use only", 0x10: "CM3+", 0x11: "4B", 0x12: "Zero 2 W",
    0x13: "400", 0x14: "CM4", 0x15: "CM4S", 0x16: "Internal use only", 0x17: "5",
    0x18: "CM5", 0x19: "500", 0x1A: "CM5 Lite",
}
# Old-style codes: (type, revision, memory MB, manufacturer)
OLD_STYLE = {
    0x0002: ("B", "1.0", 256, "Egoman"), 0x0003: ("B", "1.0", 256, "Egoman"),
    0x0004: ("B", "2.0", 256, "Sony UK"), 0x0005: ("B", "2.0", 256, "Qisda"),
    0x0006: ("B", "2.0", 256, "Egoman"), 0x0007: ("A", "2.0", 256, "Egoman"),
    0x0008: ("A", "2.0", 256, "Sony UK"), 0x0009: ("A", "2.0", 256, "Qisda"),
    0x000D: ("B", "2.0", 512, "Egoman"), 0x000E: ("B", "2.0", 512, "Sony UK"),
    0x000F: ("B", "2.0", 512, "Egoman"), 0x0010: ("B+", "1.2", 512, "Sony UK"),
    0x0011: ("CM1", "1.0", 512, "Sony UK"), 0x0012: ("A+", "1.1", 256, "Sony UK"),
    0x0013: ("B+", "1.2", 512, "Embest"), 0x0014: ("CM1", "1.0", 512, "Embest"),
    0x0015: ("A+", "1.1", 256, "Embest"),
}


@dataclass(frozen=True)
class Revision:
    """A decoded revision code."""

    code: int
    type: str
    revision: str
    memory_mb: int
    manufacturer: str
    processor: str
    new_style: bool
    warranty_void: bool

    @property
    def model(self) -> str:
        """The marketing name, e.g. "Raspberry Pi 4 Model B" for type 4B."""
        return model_name(self.type)


def model_name(board_type: str) -> str:
    if board_type.startswith("CM"):
        return f"Raspberry Pi Compute Module {board_type[2:]}"
    if board_type.startswith("Zero") or board_type in ("400", "500"):
        return f"Raspberry Pi {board_type}"
    if board_type[:1].isdigit():
        return f"Raspberry Pi {board_type[:1]} Model {board_type[1:]}"
    return f"Raspberry Pi Model {board_type}"


def decode(code: int | str) -> Revision:
    """Decode a revision code (int, or hex text such as "a02082" / "0xc03111").

    Raises ValueError for text that is not hex, a negative or >32-bit value, or an unknown
    old-style code.  Unknown fields of a new-style code decode as "unknown (N)".
    """
    if isinstance(code, str):
        text = code.strip().lower().removeprefix("0x")
        try:
            code = int(text, 16)
        except ValueError:
            raise ValueError(f"revision code {code!r} is not hexadecimal") from None
    if not (0 <= code < 2**32):
        raise ValueError(f"revision code {code!r} is outside 32 bits")
    if not code & (1 << 23):
        old = OLD_STYLE.get(code & 0xFFFFFF)
        if old is None:
            raise ValueError(f"unknown old-style revision code {code:04x}")
        btype, rev, mem, maker = old
        return Revision(code, btype, rev, mem, maker, "BCM2835", False, bool(code & (1 << 24)))

    def field(table, value):
        return table.get(value, f"unknown ({value})")

    return Revision(
        code=code,
        type=field(TYPES, (code >> 4) & 0xFF),
        revision=f"1.{code & 0xF}",
        memory_mb=MEMORY_MB.get((code >> 20) & 0x7, 0),
        manufacturer=field(MANUFACTURERS, (code >> 16) & 0xF),
        processor=field(PROCESSORS, (code >> 12) & 0xF),
        new_style=True,
        warranty_void=bool(code & (1 << 25)),
    )
