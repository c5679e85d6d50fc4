"""One way to run and stop a host process, and one way to wait for a condition (host tooling).

Every host module that runs a program -- QEMU, dnsmasq, the labgrid coordinator and exporter,
the farm's board host, pytest shards -- starts it with :func:`start` (its own session, so it and
its children are signalled together as one process group), stops it with :func:`stop` (a
polite signal to the group, a grace period, then SIGKILL to the group, always reaped, its pipes
closed) and waits for things with :func:`wait_until` (one deadline loop).  Processes that are
not our children (leftovers in a network namespace) are stopped with :func:`stop_pids`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")

#: How often :func:`wait_until` and :func:`stop_pids` look again (seconds).
POLL_S = 0.05


def start(argv: Sequence[str], *, prefix: Sequence[str] = (), **popen_kwargs) -> subprocess.Popen:
    """Start ``prefix + argv`` (``prefix``: e.g. ``ip netns exec NS``) in a new session, so that
    :func:`stop` reaches it and its children.  Non-blocking; ``popen_kwargs`` go to
    ``subprocess.Popen``.  Raises ``ValueError`` for an empty ``argv``, ``OSError`` (e.g.
    ``FileNotFoundError``) if the program cannot be started."""
    if not argv:
        raise ValueError("start() needs a command: argv is empty")
    popen_kwargs["start_new_session"] = True
    return subprocess.Popen([*prefix, *argv], **popen_kwargs)


def signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid`` (to ``pid`` alone where the group may
    not be signalled).  A process that is already gone is not an error."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        _signal(pid, sig)


def stop(proc: subprocess.Popen, grace_s: float, sig: int | None = signal.SIGTERM, *,
         close_pipes: bool = True) -> int:
    """Stop ``proc`` (started by :func:`start`): ``sig`` to its process group (None: it was
    already signalled), up to ``grace_s`` seconds to exit, then SIGKILL to the group; reap it
    and close its pipes (``close_pipes=False``: a reader thread still drains them).  Blocks at
    most ``grace_s`` plus the kill.  Idempotent; returns its exit status (negative: the signal
    that ended it)."""
    if proc.poll() is None:
        if sig is not None:
            signal_group(proc.pid, sig)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr) if close_pipes else ():
        if stream is not None:
            stream.close()
    return proc.returncode


def stop_pids(pids: Iterable[int], grace_s: float) -> None:
    """Stop processes that are not our children (e.g. left in a namespace): SIGTERM each, up
    to ``grace_s`` seconds for all to go, then SIGKILL to those still there.  Blocks at most
    ``grace_s``."""
    pids = [p for p in pids if p != os.getpid()]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    wait_until(lambda: not [p for p in pids if alive(p)], grace_s)
    for pid in pids:
        if alive(pid):
            _signal(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie (a zombie is gone: its parent
    reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(condition: Callable[[], T], timeout_s: float, *, interval_s: float = POLL_S,
               clock: Callable[[], float] = time.monotonic) -> T | None:
    """Call ``condition()`` until it returns a true value, which is returned, or until
    ``timeout_s`` seconds have passed (then None; it is called at least once).  Blocks, looking
    every ``interval_s`` seconds; an exception from ``condition`` ends the wait (a condition
    raises to report that what it waits for can no longer happen, e.g. the process exited)."""
    deadline = clock() + timeout_s
    while True:
        result = condition()
        if result or clock() >= deadline:
            return result or None
        time.sleep(max(0.0, min(interval_s, deadline - clock())))


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
