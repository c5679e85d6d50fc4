"""MicroPython's ``select`` module (importable as ``uselect``; an app's ``import select`` under
``--api micropython``), served by Kiln's readiness mechanism :mod:`kiln.poll`.

As MicroPython documents: ``poll()`` objects with ``register(obj[, eventmask])``,
``modify(obj, eventmask)``, ``unregister(obj)``, ``poll(timeout_ms=-1)`` returning
``[(obj, event), ...]`` (the registered object, not its descriptor) and ``ipoll(timeout_ms=-1,
flags=0)`` (an iterator; flag 1 = one-shot); ``select(rlist, wlist, xlist[, timeout_s])``; the
``POLLIN``, ``POLLOUT``, ``POLLERR``, ``POLLHUP`` constants.  A Kiln socket that already holds
received bytes (``pending() > 0``: bytes a timed-out read took, later decrypted TLS bytes) is
readable at once.  Differences from MicroPython: docs/sockets.md ("select and poll").
"""
from kiln.poll import POLLERR, POLLHUP, POLLIN, POLLOUT, poll, select

__all__ = ["poll", "select", "POLLIN", "POLLOUT", "POLLERR", "POLLHUP"]
