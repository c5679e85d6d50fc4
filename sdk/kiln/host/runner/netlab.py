"""The network lab: an isolated namespace where a guest and host-side servers meet.

A :class:`NetLab` owns, for its lifetime:

* a named network namespace (``kiln-XXXXXXXX`` unless a name is given) holding only ``lo`` and
  one tap device -- no veth, no bridge, no default route: nothing in it can reach a real network;
* the host-side address on the tap (the guest's gateway and DNS server);
* a dnsmasq serving DHCP and DNS on the tap, with the lab's DNS records;
* every process started through :meth:`NetLab.spawn` (host-side servers, QEMU).

:meth:`NetLab.close` (also run by ``with``) kills those processes and anything else still
running in the namespace, then deletes the namespace, which destroys the tap.  It is idempotent
and runs even after a partial :meth:`NetLab.start`.  Turning SIGTERM into an exception so that
``finally``/``with`` blocks run is the caller's business (see :mod:`kiln.host.runner.signals`).

The lab is independent of what is attached to the tap: QEMU today, and later tests that pull
the link (:meth:`NetLab.set_link`) or run without DHCP (``dhcp=False``).
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

from kiln.errors import KilnError
from kiln.host.runner import dnsmasq, netns
from kiln.host.runner.addressing import LabAddressing

TAP_NAME = "kiln0"
NAME_PREFIX = "kiln-"
HOST_ALIAS = "kiln-host"  # DNS name of the host-side address, always served
_STOP_GRACE_S = 3.0
_DNSMASQ_START_TIMEOUT_S = 10.0


class NetLabError(KilnError):
    """The lab could not be set up (the message names the failing step and the fix)."""


def unique_name() -> str:
    """A fresh namespace name ``kiln-<8 hex digits>`` not currently in use."""
    while True:
        name = NAME_PREFIX + secrets.token_hex(4)
        if not netns.exists(name):
            return name


class NetLab:
    """An isolated network namespace with a tap, a host-side address and dnsmasq.

    ``name``: namespace name (default: unique ``kiln-XXXXXXXX``); it must not exist yet.
    ``addressing``: subnet plan (default :meth:`LabAddressing.for_network`).
    ``dns_records``: ``(host, ip)`` pairs dnsmasq answers besides ``kiln-host``.
    ``dhcp``: run dnsmasq at all (``False`` models a network without DHCP and DNS servers).
    Raises ``ValueError`` for a malformed name or record.  Nothing happens before :meth:`start`.
    """

    def __init__(self, name: str | None = None, addressing: LabAddressing | None = None,
                 dns_records: Iterable[tuple[str, str]] = (), dhcp: bool = True) -> None:
        self.name = netns.validate_name(name) if name is not None else unique_name()
        self.addressing = addressing or LabAddressing.for_network()
        self.tap = TAP_NAME
        self.dhcp = dhcp
        self._records = dnsmasq.records_from([(HOST_ALIAS, str(self.addressing.host)),
                                              *dns_records])
        self._workdir: Path | None = None
        self._created = False
        self._dnsmasq: subprocess.Popen | None = None
        self._processes: list[subprocess.Popen] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "NetLab":
        """Create the namespace, tap, address and dnsmasq; return ``self``.

        Blocks until dnsmasq serves (at most ~10 s).  Raises :class:`NetLabError` (after undoing
        whatever was already created) when a step fails, e.g. the name is taken.
        """
        if self._created:
            raise NetLabError(f"network lab {self.name} is already started")
        if netns.exists(self.name):
            raise NetLabError(
                f"network namespace {self.name} already exists: choose another --netns name "
                f"or delete it with `ip netns del {self.name}`")
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}."))
        try:
            _ip("netns", "add", self.name)
            self._created = True
            self._ip_in("link", "set", "lo", "up")
            self._ip_in("tuntap", "add", "dev", self.tap, "mode", "tap")
            self._ip_in("addr", "add", str(self.addressing.host_interface), "dev", self.tap)
            self._ip_in("link", "set", self.tap, "up")
            if self.dhcp:
                self._start_dnsmasq()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every process of the lab and delete the namespace (and so the tap).

        Idempotent; never raises for something already gone.  Blocks up to a few seconds while
        processes exit (SIGTERM, then SIGKILL).
        """
        for proc in reversed(self._processes):
            _stop(proc)
        self._processes.clear()
        if self._dnsmasq is not None:
            _stop(self._dnsmasq)
            self._dnsmasq = None
        if self._created:
            self._kill_leftovers()
            subprocess.run(["ip", "netns", "del", self.name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            self._created = False
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> "NetLab":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- facts -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`close`."""
        return self._created

    @property
    def host_address(self) -> ipaddress.IPv4Address:
        """The host-side address on the tap (gateway and DNS server of the guest)."""
        return self.addressing.host

    @property
    def workdir(self) -> Path:
        """Private directory of the running lab (dnsmasq files, wrappers); removed on close."""
        self._require_running()
        assert self._workdir is not None
        return self._workdir

    @property
    def dns_records(self) -> dict[str, ipaddress.IPv4Address]:
        """The names dnsmasq answers, host -> address (a copy)."""
        return dict(self._records)

    def server_hint(self, command: str = "python3 -m http.server 80") -> str:
        """The shell command a user types to run ``command`` as a host-side server in the lab."""
        return f"ip netns exec {self.name} {command}"

    def leases(self) -> list[dnsmasq.Lease]:
        """The DHCP leases dnsmasq has handed out so far (empty without DHCP)."""
        if not self.dhcp or self._workdir is None:
            return []
        return dnsmasq.read_leases(dnsmasq.DnsmasqFiles.in_dir(self._workdir).leases)

    def dnsmasq_log(self) -> str:
        """dnsmasq's log so far (DHCP transactions and DNS queries); empty without DHCP."""
        if not self.dhcp or self._workdir is None:
            return ""
        try:
            return dnsmasq.DnsmasqFiles.in_dir(self._workdir).log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- actions ---------------------------------------------------------------------------

    def add_dns_record(self, host: str, ip: str) -> None:
        """Make dnsmasq answer ``host`` with ``ip`` (takes effect at once if running).

        Raises ``ValueError`` for a bad name or address.
        """
        name, address = dnsmasq.validate_record(host, ip)
        self._records[name] = address
        if self._workdir is not None and self.dhcp:
            self._write_hosts()
            if self._dnsmasq is not None and self._dnsmasq.poll() is None:
                self._dnsmasq.send_signal(signal.SIGHUP)  # dnsmasq re-reads --addn-hosts

    def spawn(self, argv: Sequence[str], **popen_kwargs) -> subprocess.Popen:
        """Start ``argv`` inside the namespace; it is stopped by :meth:`close`.

        Non-blocking.  ``popen_kwargs`` go to ``subprocess.Popen`` (the process always gets its
        own session so that it and its children can be signalled together).  Raises
        ``FileNotFoundError`` if ``ip`` is missing, :class:`NetLabError` if the lab is not running.
        """
        self._require_running()
        if not argv:
            raise ValueError("spawn needs a command")
        popen_kwargs["start_new_session"] = True
        proc = subprocess.Popen([*netns.exec_prefix(self.name), *argv], **popen_kwargs)
        self._processes.append(proc)
        return proc

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket in the lab namespace (bind it to :attr:`host_address` to serve the guest)."""
        self._require_running()
        return netns.socket_in(self.name, family, type)

    def set_link(self, up: bool) -> None:
        """Bring the host side of the tap up or down (models pulling the cable)."""
        self._require_running()
        self._ip_in("link", "set", self.tap, "up" if up else "down")

    def wrapper(self, program: str) -> Path:
        """An executable script that runs ``program`` inside the namespace with its arguments.

        For tools that take a program path rather than an argv (labgrid's QEMUDriver).  The
        script lives in :attr:`workdir` and disappears on :meth:`close`.  Raises
        :class:`NetLabError` if ``program`` is not found on ``PATH``.
        """
        resolved = shutil.which(program)
        if resolved is None:
            raise NetLabError(f"{program} not found on PATH")
        script = self.workdir / f"{Path(resolved).name}-in-{self.name}"
        script.write_text(f"#!/bin/sh\nexec ip netns exec {self.name} {resolved} \"$@\"\n")
        script.chmod(0o755)
        return script

    def run(self, argv: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run ``argv`` inside the namespace to completion; returns its output as text.

        Blocks up to ``timeout`` seconds (``subprocess.TimeoutExpired`` after).  Does not raise
        for a non-zero exit status.
        """
        self._require_running()
        return subprocess.run([*netns.exec_prefix(self.name), *argv], capture_output=True,
                              text=True, timeout=timeout, check=False)

    # -- internals -------------------------------------------------------------------------

    def _require_running(self) -> None:
        if not self._created:
            raise NetLabError(f"network lab {self.name} is not running: call start() first")

    def _ip_in(self, *args: str) -> None:
        _ip("-n", self.name, *args)

    def _write_hosts(self) -> None:
        files = dnsmasq.DnsmasqFiles.in_dir(self.workdir)
        tmp = files.hosts.with_suffix(".tmp")
        tmp.write_text(dnsmasq.hosts_file_text(self._records))
        tmp.replace(files.hosts)

    def _start_dnsmasq(self) -> None:
        files = dnsmasq.DnsmasqFiles.in_dir(self.workdir)
        self._write_hosts()
        argv = dnsmasq.command(self.tap, self.addressing, files)
        with open(files.stderr, "wb") as err:
            self._dnsmasq = subprocess.Popen(
                [*netns.exec_prefix(self.name), *argv], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        deadline = time.monotonic() + _DNSMASQ_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._dnsmasq.poll() is not None:
                detail = files.stderr.read_text(errors="replace").strip()
                raise NetLabError(f"dnsmasq exited with status {self._dnsmasq.returncode} in "
                                  f"namespace {self.name}: {detail or 'no message'}")
            if files.log.exists() and dnsmasq.READY_LINE in files.log.read_text(errors="replace"):
                return
            time.sleep(0.02)
        raise NetLabError(f"dnsmasq did not start serving within {_DNSMASQ_START_TIMEOUT_S:.0f} s "
                          f"(log: {files.log})")

    def _kill_leftovers(self) -> None:
        """Kill processes still in the namespace (e.g. servers a user started by hand)."""
        out = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                             text=True, check=False).stdout
        pids = [int(p) for p in out.split() if p.isdigit() and int(p) != os.getpid()]
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if _alive(p)]
            time.sleep(0.05)
        for pid in pids:
            _signal(pid, signal.SIGKILL)


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetLabError(f"`ip {' '.join(args)}` failed: {result.stderr.strip() or result.returncode}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM ``proc``'s process group, SIGKILL after a grace period; reap it."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        _signal(pid, sig)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists": treat it as gone (the owner reaps it).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
