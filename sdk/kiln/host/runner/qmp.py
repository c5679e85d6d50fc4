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
from typing import Sequence

from kiln.errors import KilnError
from kiln.host.proc import wait_until


class QmpError(KilnError):
    """QEMU refused the command (its ``desc``), or the monitor closed or did not answer."""


def command(path: Path, execute: str, arguments: dict | None = None,
            timeout: float = 10.0) -> dict:
    """Run QMP command ``execute`` with ``arguments`` on the monitor socket ``path``; return
    its ``return`` value.  Blocks up to ``timeout`` s per reply; raises :class:`QmpError`
    (and ``OSError`` when nothing listens at ``path``)."""
    return commands(path, [(execute, arguments)], timeout)[-1]


def commands(path: Path, requests: Sequence[tuple[str, dict | None]], timeout: float = 10.0,
             connect_timeout: float = 0.0) -> list[dict]:
    """Run each ``(execute, arguments)`` of ``requests`` in order on one connection to the
    monitor socket ``path``; return their ``return`` values.  ``connect_timeout``: seconds to
    wait for QEMU to listen at ``path`` (a QEMU just started).  Blocks up to ``timeout`` s per
    reply; raises :class:`QmpError` at the first refused command (the ones before it ran), and
    ``OSError`` when nothing listens at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        _connect(sock, path, connect_timeout)
        with sock.makefile("rb") as reader:    # (a makefile keeps the fd open: closed here)

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
            results = []
            for name, args in (("qmp_capabilities", None), *requests):
                request = {"execute": name, **({"arguments": args} if args else {})}
                sock.sendall(json.dumps(request).encode() + b"\n")
                answer = reply()
                if "error" in answer:
                    said = f" {json.dumps(args)}" if args else ""
                    raise QmpError(f"QMP {name}{said}: {answer['error'].get('desc')}")
                results.append(answer.get("return", {}))
            return results[1:]


def _connect(sock: socket.socket, path: Path, wait_s: float) -> None:
    """Connect ``sock`` to ``path``, retrying for ``wait_s`` s while nothing listens yet."""
    last: list[OSError] = []

    def attempt() -> bool:
        try:
            sock.connect(str(path))
            return True
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            last[:] = [exc]
            return False
    if not wait_until(attempt, wait_s, interval_s=0.05):
        raise last[0]
