"""The DHCP client: busybox ``udhcpc`` run as a foreground child with Kiln's event script.

``udhcpc`` obtains, renews (T1/T2 timers) and releases the lease; the script shipped next to this
module (``udhcpc.script``) applies it with ``ip`` and records it in a state file that
:meth:`DhcpClient.lease` reads.  Nothing here polls: the Ethernet driver learns that the address
was applied from netlink and then reads the state file once.
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from kiln.errors import NetworkGenericError

# (shutil, pathlib, tempfile and dataclasses are avoided on purpose: together they add tens of
# milliseconds to the board's boot-to-app time, for three one-line helpers.)
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udhcpc.script")
#: Where the script writes the DNS servers; override for tests with ``KILN_RESOLV_CONF``.
RESOLV_CONF_ENV = "KILN_RESOLV_CONF"


class Lease(NamedTuple):
    """The last DHCP event recorded by the script (strings as udhcpc gives them).

    ``event`` is ``"bound"``, ``"renew"``, ``"deconfig"``, ``"leasefail"`` or ``"nak"``;
    ``dns`` and ``router`` are space-separated lists; ``lease_s`` is the lease time in seconds
    (0 if unknown).
    """

    event: str
    ip: str
    prefixlen: int
    router: str
    dns: str
    lease_s: int
    server: str
    domain: str

    @property
    def valid(self) -> bool:
        """True if this records an address the server granted (bound or renewed)."""
        return self.event in ("bound", "renew") and bool(self.ip)


def find_program(name: str) -> str | None:
    """The path of executable ``name`` on ``$PATH`` plus the sbin directories, or ``None``."""
    dirs = os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/sbin", "/usr/bin",
                                                           "/bin"]
    for d in dirs:
        path = os.path.join(d, name)
        if d and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def udhcpc_command() -> list[str]:
    """The argv prefix that runs udhcpc (``udhcpc`` or ``busybox udhcpc``).

    Raises ``NetworkGenericError`` naming the fix if neither is installed.
    """
    path = find_program("udhcpc")
    if path:
        return [path]
    busybox = find_program("busybox")
    if busybox:
        return [busybox, "udhcpc"]
    raise NetworkGenericError("no DHCP client: install busybox (it provides udhcpc)")


def retry_options(timeout_ms: int) -> list[str]:
    """udhcpc's ``-t/-T/-A`` options for a lease expected within ``timeout_ms``.

    Discovers go out every ``T`` seconds (1 s under 10 s of timeout, else 2 s), ``-t`` of them fill
    the timeout, and after a failed round udhcpc pauses ``T`` seconds (``-A``) and starts again:
    it keeps trying until stopped, which is what a board waiting for its network wants.
    """
    if not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise ValueError(f"timeout must be a positive int of milliseconds, got {timeout_ms!r}")
    period = 1 if timeout_ms < 10_000 else 2
    count = max(1, math.ceil(timeout_ms / 1000 / period))
    return ["-t", str(count), "-T", str(period), "-A", str(period)]


class DhcpClient:
    """One udhcpc process for interface ``ifname``; its files live in ``run_dir``."""

    def __init__(self, ifname: str, run_dir: str) -> None:
        self.ifname = ifname
        self.run_dir = run_dir
        self.state_file = os.path.join(run_dir, "lease")
        self.log_file = os.path.join(run_dir, "udhcpc.log")
        self._proc: subprocess.Popen[bytes] | None = None

    def _script(self) -> str:
        """The event script path, copied into run_dir if packaging lost its exec bit."""
        if os.access(SCRIPT, os.X_OK):
            return SCRIPT
        copy = os.path.join(self.run_dir, "udhcpc.script")
        with open(SCRIPT, "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read())
        os.chmod(copy, 0o700)
        return copy

    def start(self, timeout_ms: int, on_exit: Callable[[], None] | None = None) -> None:
        """Start udhcpc in the background (returns at once); see :func:`retry_options`.

        The link must already be up.  ``on_exit`` is called (from a daemon thread) when udhcpc
        exits, whatever the reason.  Raises ``NetworkGenericError`` if udhcpc is missing.
        """
        if self.running():
            return
        if os.path.exists(self.state_file):
            os.unlink(self.state_file)
        argv = udhcpc_command() + ["-f", "-R", "-i", self.ifname, "-s", self._script()]
        argv += retry_options(timeout_ms)
        env = dict(os.environ, KILN_DHCP_STATE=self.state_file,
                   PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin")
        with open(self.log_file, "ab") as log:
            proc = self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                                 stderr=subprocess.STDOUT, env=env,
                                                 start_new_session=True)
        if on_exit is not None:
            def watch() -> None:
                proc.wait()
                on_exit()
            threading.Thread(target=watch, name=f"udhcpc-{self.ifname}", daemon=True).start()

    def running(self) -> bool:
        """True while the udhcpc child is alive."""
        return self._proc is not None and self._proc.poll() is None

    def lease(self) -> Lease | None:
        """The last lease event the script recorded, or ``None`` before the first one."""
        try:
            with open(self.state_file) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        mask = fields.get("mask", "")
        lease = fields.get("lease", "")
        return Lease(event=fields.get("event", ""), ip=fields.get("ip", ""),
                     prefixlen=int(mask) if mask.isdigit() else 0,
                     router=fields.get("router", ""), dns=fields.get("dns", ""),
                     lease_s=int(lease) if lease.isdigit() else 0,
                     server=fields.get("serverid", ""), domain=fields.get("domain", ""))

    def renew(self) -> None:
        """Ask udhcpc to renew now (SIGUSR1), e.g. after the carrier came back.  Non-blocking."""
        if self.running():
            assert self._proc is not None
            self._proc.send_signal(signal.SIGUSR1)

    def stop(self, timeout_ms: int = 3000) -> None:
        """Release the lease (SIGUSR2), then end udhcpc (SIGTERM; SIGKILL after ``timeout_ms``).

        Blocks until the process is gone.  Idempotent.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGUSR2)
            self._wait_released(proc, timeout_ms / 2000)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_ms / 1000)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _wait_released(self, proc: subprocess.Popen[bytes], seconds: float) -> None:
        """Give udhcpc up to ``seconds`` to run the deconfig that follows its release."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            lease = self.lease()
            if lease is None or lease.event == "deconfig":
                return
            time.sleep(0.02)

    def log_tail(self, lines: int = 5) -> str:
        """The last ``lines`` lines udhcpc and the script printed (for error messages)."""
        try:
            with open(self.log_file, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])
