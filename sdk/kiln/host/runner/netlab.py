"""The network lab: an isolated namespace where a device under test and host-side servers meet.

One :class:`NetLab`, two modes, chosen by what plays the device:

* ``mode="tap"`` (``kiln run``, the system tests): the lab namespace holds ``lo`` and a tap
  device ``kiln0``; a QEMU guest attaches its NIC to the tap (QEMU runs inside the namespace).
* ``mode="veth"`` (the host tests of the Ethernet driver): the lab namespace holds ``lo`` and
  ``kpeer0``, one end of a veth pair; the other end, ``keth0``, sits alone in a second
  namespace, the *device namespace* (``<name>-dev``), where the driver under test runs as a host
  process (:meth:`NetLab.spawn` with ``device=True``).  ``ip netns exec`` shows that process
  ``/etc/netns/<name>-dev/resolv.conf`` as its ``/etc/resolv.conf``, which the lab creates, so
  a driver writing its DNS servers never touches the host's file.

In both modes the lab owns, for its lifetime:

* its namespace(s) -- no bridge, no default route: nothing in them can reach a real network;
* the host-side address on the host-side link (the device's gateway and DNS server);
* a dnsmasq serving DHCP and DNS on that link, with the lab's DNS records
  (:meth:`NetLab.start_dnsmasq`/:meth:`NetLab.stop_dnsmasq`; started with the lab unless
  ``dhcp=False``);
* every process started through :meth:`NetLab.spawn` (host-side servers, QEMU, driver agents).

:meth:`NetLab.close` (also run by ``with``) kills those processes and anything else still
running in the namespaces, then deletes the namespaces, which destroys the tap or veth pair.  It
is idempotent and runs even after a partial :meth:`NetLab.start`.  Turning SIGTERM into an
exception so that ``finally``/``with`` blocks run is the caller's business (see
:mod:`kiln.host.runner.signals`).

Fault injection is the same in both modes: :meth:`NetLab.set_link` takes the host side of the
link down (a veth peer loses its carrier; a QEMU NIC does not notice, use QEMU's ``set_link``),
:meth:`NetLab.remove_link` deletes it, ``dhcp=False``/:meth:`NetLab.stop_dnsmasq` model a
network without a DHCP server.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from kiln.errors import KilnError
from kiln.host import proc
from kiln.host.runner import dnsmasq, netns
from kiln.host.runner.addressing import LabAddressing

TAP = "tap"
VETH = "veth"
MODES = (TAP, VETH)
TAP_NAME = "kiln0"              # tap mode: the tap QEMU attaches to
VETH_HOST_NAME = "kpeer0"       # veth mode: the lab's end of the pair (host-side address)
VETH_DEVICE_NAME = "keth0"      # veth mode: the device's end, alone in the device namespace
DEVICE_SUFFIX = "-dev"          # veth mode: device namespace = lab namespace + this
NAME_PREFIX = "kiln-"
HOST_ALIAS = "kiln-host"  # DNS name of the host-side address, always served
NETNS_ETC = Path("/etc/netns")  # `ip netns exec NAME` bind-mounts /etc/netns/NAME/* over /etc
_STOP_GRACE_S = 3.0
_DNSMASQ_START_TIMEOUT_S = 10.0


class NetLabError(KilnError):
    """The lab could not be set up (the message names the failing step and the fix)."""


def unique_name(mode: str = TAP) -> str:
    """A fresh namespace name ``kiln-<8 hex digits>`` not currently in use (in veth mode, its
    device namespace name is free too)."""
    while True:
        name = NAME_PREFIX + secrets.token_hex(4)
        if not any(netns.exists(n) for n in _namespaces(name, mode)):
            return name


def _namespaces(name: str, mode: str) -> list[str]:
    return [name, name + DEVICE_SUFFIX] if mode == VETH else [name]


class NetLab:
    """An isolated network namespace with a tap or veth link, a host-side address and dnsmasq.

    ``name``: lab namespace name (default: unique ``kiln-XXXXXXXX``); it must not exist yet
    (nor, in veth mode, ``<name>-dev``).
    ``addressing``: subnet plan (default :meth:`LabAddressing.for_network`).
    ``dns_records``: ``(host, ip)`` pairs dnsmasq answers besides ``kiln-host``.
    ``dhcp``: start dnsmasq with the lab (``False`` models a network without DHCP and DNS
    servers; :meth:`start_dnsmasq` can still start it later).
    ``mode``: ``"tap"`` (a QEMU guest is the device) or ``"veth"`` (a host process in the
    device namespace is the device); see the module docstring.
    ``local_domains``: domains dnsmasq answers NXDOMAIN for (instead of refusing the query).
    ``lease_time``: DHCP lease time in dnsmasq's syntax (``"1h"``, ``"2m"``: its minimum).
    ``host_addresses``: more host-side addresses on the lab link (servers a program hard-codes,
    e.g. the Zerynth seed's 192.168.1.10); keep them out of the DHCP pool with
    ``LabAddressing.for_network(cidr, reserved=...)``.
    Raises ``ValueError`` for a malformed name, record or mode.  Nothing happens before
    :meth:`start`.
    """

    def __init__(self, name: str | None = None, addressing: LabAddressing | None = None,
                 dns_records: Iterable[tuple[str, str]] = (), dhcp: bool = True, *,
                 mode: str = TAP, local_domains: Iterable[str] = (),
                 lease_time: str = "1h", host_addresses: Iterable[str] = ()) -> None:
        if mode not in MODES:
            raise ValueError(f"network lab mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        if name is None:
            name = unique_name(mode)
        for ns in _namespaces(name, mode):
            netns.validate_name(ns)
        self.name = name
        self.addressing = addressing or LabAddressing.for_network()
        self.dhcp = dhcp
        self.lease_time = lease_time
        self.host_addresses = tuple(str(ipaddress.IPv4Address(a)) for a in host_addresses)
        self.local_domains = tuple(dnsmasq.validate_domain(d) for d in local_domains)
        self._records = dnsmasq.records_from([(HOST_ALIAS, str(self.addressing.host)),
                                              *dns_records])
        self._workdir: Path | None = None
        self._created: list[str] = []      # namespaces created so far, in creation order
        self._etc_dir: Path | None = None
        self._dnsmasq: subprocess.Popen | None = None
        self._processes: list[subprocess.Popen] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "NetLab":
        """Create the namespace(s), link, address and (with ``dhcp``) dnsmasq; return ``self``.

        Blocks until dnsmasq serves (at most ~10 s).  Raises :class:`NetLabError` (after undoing
        whatever was already created) when a step fails, e.g. the name is taken.
        """
        if self._created:
            raise NetLabError(f"network lab {self.name} is already started")
        for ns in _namespaces(self.name, self.mode):
            if netns.exists(ns):
                raise NetLabError(
                    f"network namespace {ns} already exists: choose another --netns name "
                    f"or delete it with `ip netns del {ns}`")
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}."))
        try:
            self._add_namespace(self.name)
            if self.mode == TAP:
                self._ip_in("tuntap", "add", "dev", TAP_NAME, "mode", "tap")
            else:
                self._add_namespace(self.device_netns)
                self._etc_dir = NETNS_ETC / self.device_netns
                self._etc_dir.mkdir(parents=True, exist_ok=True)
                self.device_resolv_conf.write_text("# written by Kiln's network lab\n")
                _ip("link", "add", VETH_DEVICE_NAME, "netns", self.device_netns, "type", "veth",
                    "peer", "name", VETH_HOST_NAME, "netns", self.name)
            self._ip_in("addr", "add", str(self.addressing.host_interface), "dev", self.host_link)
            for extra in self.host_addresses:
                self._ip_in("addr", "add", f"{extra}/{self.addressing.network.prefixlen}", "dev",
                            self.host_link)
            self._ip_in("link", "set", self.host_link, "up")
            if self.dhcp:
                self.start_dnsmasq()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every process of the lab and delete its namespaces (and so the tap or veth).

        Idempotent; never raises for something already gone.  Blocks up to a few seconds while
        processes exit (SIGTERM, then SIGKILL).
        """
        for process in reversed(self._processes):
            proc.stop(process, _STOP_GRACE_S)
        self._processes.clear()
        self.stop_dnsmasq()
        for ns in reversed(self._created):
            _kill_leftovers(ns)
            subprocess.run(["ip", "netns", "del", ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
        self._created.clear()
        if self._etc_dir is not None:
            shutil.rmtree(self._etc_dir, ignore_errors=True)
            self._etc_dir = None
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
        return bool(self._created)

    @property
    def host_link(self) -> str:
        """The host-side interface in the lab namespace (``kiln0`` or ``kpeer0``): it carries
        the host-side address, dnsmasq listens on it (its log names it, e.g. ``DHCPACK(kiln0)``)."""
        return TAP_NAME if self.mode == TAP else VETH_HOST_NAME

    @property
    def tap(self) -> str:
        """The tap device a QEMU guest attaches to (tap mode only)."""
        if self.mode != TAP:
            raise NetLabError(f"network lab {self.name} is a veth lab: it has no tap")
        return TAP_NAME

    @property
    def device_netns(self) -> str:
        """veth mode: the namespace holding only ``lo`` and the device's link."""
        if self.mode != VETH:
            raise NetLabError(f"network lab {self.name} is a tap lab: its device is the guest "
                              "attached to the tap, not a namespace")
        return self.name + DEVICE_SUFFIX

    @property
    def device_link(self) -> str:
        """veth mode: the device's interface (``keth0``) in :attr:`device_netns`."""
        self.device_netns  # noqa: B018 - raises for a tap lab
        return VETH_DEVICE_NAME

    @property
    def device_resolv_conf(self) -> Path:
        """veth mode: what processes in :attr:`device_netns` see as ``/etc/resolv.conf``."""
        return NETNS_ETC / self.device_netns / "resolv.conf"

    @property
    def host_address(self) -> ipaddress.IPv4Address:
        """The host-side address (gateway and DNS server of the device)."""
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

    @property
    def dnsmasq_running(self) -> bool:
        """True while the lab's dnsmasq runs."""
        return self._dnsmasq is not None and self._dnsmasq.poll() is None

    def server_hint(self, command: str = "python3 -m http.server 80") -> str:
        """The shell command a user types to run ``command`` as a host-side server in the lab."""
        return f"ip netns exec {self.name} {command}"

    def leases(self) -> list[dnsmasq.Lease]:
        """The DHCP leases in dnsmasq's lease file (empty before dnsmasq ever ran)."""
        if self._workdir is None:
            return []
        return dnsmasq.read_leases(dnsmasq.DnsmasqFiles.in_dir(self._workdir).leases)

    def dnsmasq_log(self) -> str:
        """dnsmasq's log so far, across restarts (DHCP transactions and DNS queries)."""
        if self._workdir is None:
            return ""
        try:
            return dnsmasq.DnsmasqFiles.in_dir(self._workdir).log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- actions ---------------------------------------------------------------------------

    def start_dnsmasq(self, pool: tuple[str, str] | None = None) -> None:
        """Start dnsmasq (DHCP and DNS on :attr:`host_link`); block until it serves.

        ``pool``: ``(first, last)`` DHCP pool replacing the addressing's (kept afterwards).
        The log and lease file of an earlier dnsmasq of this lab are kept.  Raises
        :class:`NetLabError` if it is already running or fails to start (its message).
        """
        self._require_running()
        if self.dnsmasq_running:
            raise NetLabError(f"dnsmasq of network lab {self.name} is already running")
        self.stop_dnsmasq()  # reap one that died on its own
        if pool is not None:
            first, last = (ipaddress.IPv4Address(a) for a in pool)
            if not (first in self.addressing.network and last in self.addressing.network
                    and first <= last):
                raise ValueError(f"DHCP pool {pool} is not a range in {self.addressing.network}")
            self.addressing = dataclasses.replace(self.addressing, dhcp_first=first,
                                                  dhcp_last=last)
        files = dnsmasq.DnsmasqFiles.in_dir(self.workdir)
        self._write_hosts()
        argv = dnsmasq.command(self.host_link, self.addressing, files, self.lease_time,
                               self.local_domains)
        log_before = _size(files.log)
        with open(files.stderr, "wb") as err:
            self._dnsmasq = proc.start(argv, prefix=netns.exec_prefix(self.name),
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=err)

        def ready() -> bool:
            if self._dnsmasq.poll() is not None:
                status = self._dnsmasq.returncode
                self._dnsmasq = None
                detail = files.stderr.read_text(errors="replace").strip()
                raise NetLabError(f"dnsmasq exited with status {status} in "
                                  f"namespace {self.name}: {detail or 'no message'}")
            return dnsmasq.READY_LINE in _tail(files.log, log_before)
        if proc.wait_until(ready, _DNSMASQ_START_TIMEOUT_S, interval_s=0.02):
            return
        raise NetLabError(f"dnsmasq did not start serving within {_DNSMASQ_START_TIMEOUT_S:.0f} s "
                          f"(log: {files.log})")

    def stop_dnsmasq(self) -> None:
        """Stop dnsmasq if it runs (its log and lease file stay).  Idempotent."""
        if self._dnsmasq is not None:
            proc.stop(self._dnsmasq, _STOP_GRACE_S)
            self._dnsmasq = None

    def clear_leases(self) -> None:
        """Forget every lease (delete the lease file) -- with dnsmasq stopped, as a new DHCP
        server would start.  Raises :class:`NetLabError` while dnsmasq runs."""
        if self.dnsmasq_running:
            raise NetLabError("stop dnsmasq before clearing its leases")
        if self._workdir is not None:
            dnsmasq.DnsmasqFiles.in_dir(self._workdir).leases.unlink(missing_ok=True)

    def add_dns_record(self, host: str, ip: str) -> None:
        """Make dnsmasq answer ``host`` with ``ip`` (takes effect at once if running).

        Raises ``ValueError`` for a bad name or address.
        """
        name, address = dnsmasq.validate_record(host, ip)
        self._records[name] = address
        if self._workdir is not None:
            self._write_hosts()
            if self.dnsmasq_running:
                self._dnsmasq.send_signal(signal.SIGHUP)  # dnsmasq re-reads --addn-hosts

    def spawn(self, argv: Sequence[str], *, device: bool = False,
              **popen_kwargs) -> subprocess.Popen:
        """Start ``argv`` inside the lab namespace (``device=True``: the device namespace of a
        veth lab); it is stopped by :meth:`close`.

        Non-blocking.  ``popen_kwargs`` go to ``subprocess.Popen`` (the process always gets its
        own session so that it and its children can be signalled together).  Raises
        ``FileNotFoundError`` if ``ip`` is missing, :class:`NetLabError` if the lab is not
        running (or has no device namespace).
        """
        self._require_running()
        process = proc.start(argv, prefix=netns.exec_prefix(self._ns(device)), **popen_kwargs)
        self._processes.append(process)
        return process

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket in the lab namespace (bind it to :attr:`host_address` to serve the device)."""
        self._require_running()
        return netns.socket_in(self.name, family, type)

    def set_link(self, up: bool) -> None:
        """Bring the host side of the link up or down (models pulling the cable; a veth device
        loses its carrier)."""
        self._require_running()
        self._ip_in("link", "set", self.host_link, "up" if up else "down")

    def remove_link(self) -> None:
        """Delete the host-side link (a veth pair vanishes on both sides: a NIC unplugged)."""
        self._require_running()
        self._ip_in("link", "del", self.host_link)

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

    def run(self, argv: Sequence[str], timeout: float = 30.0, *,
            device: bool = False) -> subprocess.CompletedProcess:
        """Run ``argv`` inside the lab namespace (``device=True``: the device namespace) to
        completion; returns its output as text.

        Blocks up to ``timeout`` seconds (``subprocess.TimeoutExpired`` after).  Does not raise
        for a non-zero exit status.
        """
        self._require_running()
        return subprocess.run([*netns.exec_prefix(self._ns(device)), *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def pids(self, *, device: bool = False) -> set[int]:
        """Processes in the lab namespace (``device=True``: in the device namespace)."""
        self._require_running()
        return _pids(self._ns(device))

    # -- internals -------------------------------------------------------------------------

    def _require_running(self) -> None:
        if not self._created:
            raise NetLabError(f"network lab {self.name} is not running: call start() first")

    def _ns(self, device: bool) -> str:
        return self.device_netns if device else self.name

    def _add_namespace(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self._created.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def _ip_in(self, *args: str) -> None:
        _ip("-n", self.name, *args)

    def _write_hosts(self) -> None:
        files = dnsmasq.DnsmasqFiles.in_dir(self.workdir)
        tmp = files.hosts.with_suffix(".tmp")
        tmp.write_text(dnsmasq.hosts_file_text(self._records))
        tmp.replace(files.hosts)


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetLabError(f"`ip {' '.join(args)}` failed: {result.stderr.strip() or result.returncode}")


def _pids(ns: str) -> set[int]:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                         check=False).stdout
    return {int(p) for p in out.split() if p.isdigit()}


def _kill_leftovers(ns: str) -> None:
    """Stop processes still in namespace ``ns`` (e.g. servers a user started by hand)."""
    proc.stop_pids(_pids(ns), _STOP_GRACE_S)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tail(path: Path, offset: int) -> str:
    """``path``'s text after byte ``offset`` (empty when it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
