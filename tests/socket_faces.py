"""The two faces of Kiln's socket core as the socket tests see them (:class:`Face`).

A module of its own, not part of ``conftest.py``: test modules import it by name, and the
system tests' ``conftest`` would shadow a ``from conftest import ...`` in a whole-suite run.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any


@dataclasses.dataclass(frozen=True)
class Face:
    """One public face of the Kiln socket core, with the unit conversions tests need.

    ``timeout_scale`` is how many face timeout units make one second (1000 for Zerynth's integer
    milliseconds, 1 for MicroPython's seconds).
    """

    name: str
    module: ModuleType
    timeout_scale: int

    def socket(self, family: int | None = None, type: int | None = None, *args: Any) -> Any:
        """Create a face socket; ``None`` arguments fall back to the face defaults."""
        m = self.module
        family = m.AF_INET if family is None else family
        type = m.SOCK_STREAM if type is None else type
        return m.socket(family, type, *args)

    def settimeout(self, sock: Any, seconds: float | None) -> None:
        """Set ``sock``'s timeout given in seconds (``None`` = blocking, 0 = non-blocking)."""
        if seconds is None:
            sock.settimeout(None)
        elif self.timeout_scale == 1:
            sock.settimeout(seconds)
        else:
            sock.settimeout(int(round(seconds * self.timeout_scale)))

    def recv_exact(self, sock: Any, nbytes: int) -> bytes:
        """Receive exactly ``nbytes`` (fewer only at EOF) whatever the face's recv semantics."""
        if self.name == "zerynth":
            return bytes(sock.recv(nbytes))
        chunks = []
        remaining = nbytes
        while remaining:
            chunk = sock.recv(min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(bytes(chunk))
            remaining -= len(chunk)
        return b"".join(chunks)

    def family(self, kind: str) -> int:
        """The face's address-family constant for a loopback kind ("ipv4", "ipv6", "unix")."""
        return {"ipv4": self.module.AF_INET, "ipv6": self.module.AF_INET6,
                "unix": self.module.AF_UNIX}[kind]


def load_face(name: str) -> Face:
    """Import a face by name ("zerynth" or "usocket")."""
    if name == "zerynth":
        return Face("zerynth", importlib.import_module("networking.socket"), 1000)
    if name == "usocket":
        return Face("usocket", importlib.import_module("usocket"), 1)
    raise ValueError(f"unknown face {name!r}")
