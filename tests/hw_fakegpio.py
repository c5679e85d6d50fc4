"""A stand-in for ``kiln.hw.gpio.Chip`` where the host has no GPIO chip (this machine has no
/dev/gpiochip and no gpio-sim module; the real chardev is proven under QEMU by the system
tests).  It keeps the contract the faces rely on -- request/reconfigure/get/set/edge events on
a pollable fd -- so the faces' logic (modes, pulls, callbacks, debounce, names) is tested
against it; nothing else is substituted.

Input levels follow the bias (pull-up 1, else 0) until :func:`drive` changes them; each change
of an input's level produces an edge event on requests that detect that edge, delivered through
a pipe so that ``kiln.hw.edges`` really polls it.  Every request, reconfiguration and write is
logged to ``$KILN_FAKE_GPIO_LOG`` when set; ``$KILN_FAKE_GPIO_CTL`` names a FIFO from which a
subprocess reads ``"<line> <0|1>"`` lines (see :func:`install`).
"""
from __future__ import annotations

import os
import threading
import time

from kiln.hw.gpio import EdgeEvent

LOCK = threading.RLock()
LEVELS: dict[int, int] = {}           # line -> level driven from outside
REQUESTS: dict[int, "FakeRequest"] = {}
LOG: list[tuple] = []
_seq = [0]


def _log(*entry):
    LOG.append(entry)
    path = os.environ.get("KILN_FAKE_GPIO_LOG")
    if path:
        with open(path, "a") as f:
            f.write(" ".join(str(e) for e in (time.monotonic(),) + entry) + "\n")


class FakeChip:
    def __init__(self, path):
        self.path = path
        self.label = "fake"
        self.lines = 58
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True

    def close(self):
        self.closed = True

    def request(self, offsets, consumer="kiln", **kwargs):
        (line,) = offsets
        with LOCK:
            if line in REQUESTS and not REQUESTS[line].closed:
                raise OSError(16, "Device or resource busy")
            req = FakeRequest(line, consumer, kwargs)
            REQUESTS[line] = req
        _log("request", line, consumer, kwargs["direction"], kwargs["bias"], kwargs["drive"],
             kwargs["edge"], kwargs["debounce_us"], kwargs["values"])
        return req


class FakeRequest:
    def __init__(self, line, consumer, cfg):
        self.offsets = (line,)
        self.line = line
        self.consumer = consumer
        self.cfg = dict(cfg)
        self.out = (cfg.get("values") or [0])[0]
        self.events: list[EdgeEvent] = []
        self._r, self._w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.closed = False

    def fileno(self):
        if self.closed:
            raise ValueError("fileno(): closed")
        return self._r

    def _level(self):
        if self.cfg["direction"] == "output":
            return self.out
        return LEVELS.get(self.line, 1 if self.cfg["bias"] == "pull-up" else 0)

    def get_value(self, offset):
        assert offset == self.line and not self.closed
        return self._level()

    def set_value(self, offset, value):
        assert offset == self.line and not self.closed
        if self.cfg["direction"] != "output":
            raise OSError(1, "Operation not permitted")
        self.out = value
        _log("set", self.line, value)

    def reconfigure(self, **cfg):
        assert not self.closed
        self.cfg = dict(cfg)
        if cfg.get("values") is not None:
            self.out = cfg["values"][0]
        _log("reconfigure", self.line, cfg["direction"], cfg["bias"], cfg["drive"],
             cfg["edge"], cfg["debounce_us"], cfg["values"])

    def read_edge_events(self, timeout=None):
        if self.closed:
            raise ValueError("read_edge_events(): closed")
        with LOCK:
            try:
                os.read(self._r, 4096)
            except BlockingIOError:
                pass
            out, self.events = self.events, []
        return out

    def close(self):
        if not self.closed:
            self.closed = True
            os.close(self._r)
            os.close(self._w)

    def _edge(self, rising):
        edge = self.cfg.get("edge", "none")
        if self.closed or edge == "none" or (edge == "rising" and not rising) or \
                (edge == "falling" and rising):
            return
        _seq[0] += 1
        self.events.append(EdgeEvent(self.line, rising, time.monotonic_ns(), _seq[0], _seq[0]))
        os.write(self._w, b"e")


def drive(line: int, level: int) -> None:
    """Set the outside level of input ``line``; an edge event when it changes."""
    with LOCK:
        req = REQUESTS.get(line)
        before = req._level() if req is not None and not req.closed else LEVELS.get(line, 0)
        LEVELS[line] = level
        if req is not None and not req.closed and req.cfg["direction"] == "input" and \
                before != level:
            req._edge(bool(level))


def install() -> None:
    """Put FakeChip under kiln.hw.pinctl; with ``$KILN_FAKE_GPIO_CTL`` start the thread that
    reads ``"<line> <level>"`` commands from that FIFO."""
    from kiln.hw import pinctl
    pinctl.Chip = FakeChip
    ctl = os.environ.get("KILN_FAKE_GPIO_CTL")
    if ctl:
        def serve():
            while True:
                with open(ctl) as f:
                    for cmd in f:
                        line, level = cmd.split()
                        drive(int(line), int(level))
        threading.Thread(target=serve, daemon=True).start()


def reset() -> None:
    with LOCK:
        for r in REQUESTS.values():
            r.close()
        REQUESTS.clear()
        LEVELS.clear()
        LOG.clear()
