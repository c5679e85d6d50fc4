"""kiln.host.proc: the one way the host runs, stops and waits for processes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from kiln.host import proc

# A parent that starts a child, prints the child's pid, and (optionally) ignores SIGTERM.
FAMILY = """
import os, signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def family(kind: str) -> tuple[subprocess.Popen, int]:
    p = proc.start([sys.executable, "-c", FAMILY, kind], stdout=subprocess.PIPE)
    return p, int(p.stdout.readline())


def test_stop_ends_the_whole_group_and_closes_pipes():
    p, child = family("polite")
    assert proc.alive(child)
    assert proc.stop(p, grace_s=5) == -signal.SIGTERM
    assert p.stdout.closed
    assert proc.wait_until(lambda: not proc.alive(child), 5)


def test_stop_kills_what_ignores_sigterm_after_the_grace():
    p, child = family("stubborn")
    t0 = time.monotonic()
    assert proc.stop(p, grace_s=0.5) == -signal.SIGKILL
    assert 0.4 < time.monotonic() - t0 < 5
    assert proc.wait_until(lambda: not proc.alive(child), 5)


def test_stop_is_idempotent_and_start_refuses_an_empty_command():
    p = proc.start(["true"])
    p.wait()
    assert proc.stop(p, 1) == 0 and proc.stop(p, 1) == 0
    with pytest.raises(ValueError, match="argv is empty"):
        proc.start([])


def test_stop_pids_for_processes_that_are_not_our_children():
    p, child = family("stubborn")
    proc.stop_pids([p.pid, os.getpid()], grace_s=0.3)     # never signals ourselves
    assert p.wait(5) == -signal.SIGKILL
    assert proc.alive(child)                  # stop_pids signals the pids it is given, no more
    proc.signal_group(p.pid, signal.SIGKILL)  # the rest of the group (start() made one)
    assert proc.wait_until(lambda: not proc.alive(child), 5)


def test_wait_until_returns_the_value_or_none_and_lets_errors_through():
    values = iter([0, None, "ready"])
    assert proc.wait_until(lambda: next(values), 5, interval_s=0.01) == "ready"
    t0 = time.monotonic()
    assert proc.wait_until(lambda: False, 0.2, interval_s=0.05) is None
    assert 0.15 < time.monotonic() - t0 < 2
    calls = []
    assert proc.wait_until(lambda: calls.append(1), 0) is None and calls == [1]

    def gone():
        raise RuntimeError("the process exited")
    with pytest.raises(RuntimeError, match="exited"):
        proc.wait_until(gone, 5)


def test_alive_treats_a_zombie_as_gone():
    p = subprocess.Popen(["true"])
    assert proc.wait_until(lambda: not proc.alive(p.pid), 5)   # exited, not reaped yet
    assert p.poll() == 0
