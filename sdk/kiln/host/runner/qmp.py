"""The runner's QMP client: one command on a running QEMU's monitor socket.

``kiln run --qmp PATH`` makes QEMU listen for QMP on the Unix socket ``PATH``
(:func:`kiln.host.runner.qemu.arguments`, ``qmp_socket``); :func:`command` (or any QMP client,
e.g. ``qmp-shell``) then acts on the board: ``command(path, "system_powerdown")`` presses the
power button, which on QEMU's ``virt`` boards is BTN0 (PL061 line 3), ``command(path,
"qom-set", {"path": "/machine/peripheral/tmp105", "property": "temperature", "value": 21500})``
sets an emulated sensor.  The board farm's places use it too (``set_link``).
"""
from __future__ import annotations

import json
import socket
from pathlib import Path

from kiln.errors import KilnError


class QmpError(KilnError):
    """QEMU refused the command (its ``desc``), or the monitor closed or did not answer."""


def command(path: Path, execute: str, arguments: dict | None = None,
            timeout: float = 10.0) -> dict:
    """Run QMP command ``execute`` with ``arguments`` on the monitor socket ``path``; return
    its ``return`` value.  Blocks up to ``timeout`` s per reply; raises :class:`QmpError`
    (and ``OSError`` when nothing listens at ``path``)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        reader = sock.makefile("rb")

        def reply() -> dict:
            while True:
                try:
                    line = reader.readline()
                except socket.timeout:
                    raise QmpError(f"QEMU did not answer within {timeout} s") from None
                if not line:
                    raise QmpError("QEMU closed its monitor")
                message = json.loads(line)
                if "return" in message or "error" in message or "QMP" in message:
                    return message

        reply()                                          # the greeting
        for name, args in (("qmp_capabilities", None), (execute, arguments)):
            request = {"execute": name, **({"arguments": args} if args else {})}
            sock.sendall(json.dumps(request).encode() + b"\n")
            answer = reply()
            if "error" in answer:
                raise QmpError(f"QMP {name}: {answer['error'].get('desc')}")
        return answer.get("return", {})
