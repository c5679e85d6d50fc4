"""Doing things inside a named network namespace (``ip netns`` style, ``/run/netns/NAME``).

Two ways in:

* :func:`call_in` runs a Python callable on a short-lived thread that has joined the namespace
  with ``setns(2)`` (which affects only the calling thread).  Sockets created there stay in the
  namespace for their whole life, so :func:`socket_in` hands the test or benchmark process a
  socket living on the lab's network without any helper process.
* :func:`exec_prefix` is the argv prefix that runs a program inside the namespace.

Everything here needs root (``CAP_SYS_ADMIN``).
"""
from __future__ import annotations

import ctypes
import os
import re
import socket
import threading
from pathlib import Path
from typing import Callable, TypeVar

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
# What `ip netns add` accepts in practice and what is safe in a path and on a command line.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

T = TypeVar("T")


def validate_name(name: str) -> str:
    """Return ``name`` if it is a usable namespace name, else raise ``ValueError`` saying why."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"invalid network namespace name {name!r}: use 1-63 characters from "
            "letters, digits, '_', '.', '-', starting with a letter or digit")
    return name


def path_of(name: str) -> Path:
    """The bind-mounted namespace file ``/run/netns/<name>`` (it may not exist)."""
    return NETNS_DIR / validate_name(name)


def exists(name: str) -> bool:
    """True when a namespace called ``name`` exists (``ip netns list`` would show it)."""
    return path_of(name).exists()


def list_names() -> list[str]:
    """Names of every named network namespace on the host, sorted."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def exec_prefix(name: str) -> list[str]:
    """argv prefix running a program inside namespace ``name`` (``ip netns exec NAME``)."""
    return ["ip", "netns", "exec", validate_name(name)]


def call_in(name: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """Call ``fn(*args, **kwargs)`` inside namespace ``name`` and return its result.

    Blocks until ``fn`` returns.  ``fn`` runs on a new thread that joined the namespace, so it
    must not start threads of its own expecting to be in the namespace.  Exceptions raised by
    ``fn`` are re-raised here; ``OSError`` if the namespace cannot be entered (missing, not root).
    """
    path = path_of(name)
    outcome: dict[str, object] = {}

    def runner() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=runner, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def socket_in(name: str, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM,
              proto: int = 0) -> socket.socket:
    """A new ``socket.socket`` living in namespace ``name`` (usable from any thread)."""
    return call_in(name, socket.socket, family, type, proto)


def _setns(fd: int, nstype: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns into network namespace failed: {os.strerror(err)}")
