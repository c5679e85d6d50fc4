"""The IP layer shared by every interface driver: IPv4 address, default route and DNS on one
link, by DHCP (busybox udhcpc) or static configuration, with the link's state from netlink.

An interface driver (Ethernet, Wi-Fi) owns the link: it picks the interface, brings it up and
gets it a carrier (a cable, an association).  It hands everything above that to one
:class:`IpLayer` -- the shape of MicroPython's ``mod_network_nic_ipconfig``, which serves its
Wi-Fi and Ethernet drivers alike.

While attached, a daemon thread reads the kernel's RTNLGRP_LINK / IPV4_IFADDR / IPV4_ROUTE
notifications, keeps a cached view of the interface (carrier, addresses, default gateways),
queues :class:`~driver.netif.NetifEvent` objects and, when the carrier comes back, asks udhcpc to
renew the lease at once (a board re-plugged or re-associated into another network gets its new
address without waiting for the lease timers).  Losing the carrier keeps the address (sockets
survive a short outage) but makes :meth:`IpLayer.is_connected` false.
"""
from __future__ import annotations

import collections
import errno
import os
import select
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from driver.ip import rtnl, sockdiag
from driver.ip.dhcp import RESOLV_CONF_ENV, DhcpClient
from driver.netif import NetifEvent, NetifInfo
from kiln.errors import ConnectionTimeoutError, NetworkGenericError

#: At most this many undelivered events are kept (the oldest are dropped first).
MAX_QUEUED_EVENTS = 256
#: Longest timeout accepted, in ms (a week: anything longer is a unit mistake).
MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000


class IpConfig(NamedTuple):
    """A validated IPv4 configuration: DHCP, or a static ``ip``/``mask`` with optional
    ``gateway`` and ``dns`` (dotted quads; ``""`` when unset)."""

    dhcp: bool = True
    ip: str = ""
    mask: str = ""
    gateway: str = ""
    dns: str = "8.8.8.8"


def is_ipv4(text: str) -> bool:
    """True if ``text`` is a dotted-quad IPv4 address (four decimal parts 0-255, no leading
    zeros, ASCII digits only) -- what ``inet_pton(AF_INET)`` accepts."""
    parts = text.split(".")
    return len(parts) == 4 and all(p.isascii() and p.isdigit() and len(p) <= 3 and int(p) <= 255
                                   and (p == "0" or not p.startswith("0")) for p in parts)


def _check_ipv4(func: str, name: str, value: object, required: bool) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{func}(): {name} must be a str IPv4 address (dotted quad), "
                        f"not {type(value).__name__}")
    if not value:
        if required:
            raise ValueError(f"{func}(): {name} is required for a static configuration "
                             f"(dhcp=False)")
        return ""
    if not is_ipv4(value):
        raise ValueError(f"{func}(): {name} {value!r} is not a dotted-quad IPv4 address")
    return value


def ip_config(func: str = "configure", dhcp: object = True, ip: object = "", mask: object = "",
              gateway: object = "", dns: object = "8.8.8.8") -> IpConfig:
    """Validate an interface's IPv4 settings; raises ``TypeError``/``ValueError`` whose message
    names ``func`` and the argument.  A static configuration (``dhcp=False``) needs ``ip`` and
    a contiguous ``mask``; the gateway must lie inside the static subnet."""
    if not isinstance(dhcp, bool):
        raise TypeError(f"{func}(): dhcp must be True or False, not {dhcp!r}")
    static = not dhcp
    config = IpConfig(dhcp, _check_ipv4(func, "ip", ip, static),
                      _check_ipv4(func, "mask", mask, static),
                      _check_ipv4(func, "gateway", gateway, False),
                      _check_ipv4(func, "dns", dns, False))
    if config.mask:
        try:
            prefix = rtnl.mask_to_prefix(config.mask)
        except ValueError:
            raise ValueError(f"{func}(): mask {config.mask!r} is not a contiguous netmask "
                             f"(e.g. 255.255.255.0)") from None
        if static and config.gateway and not _same_subnet(config.ip, config.gateway, prefix):
            raise ValueError(f"{func}(): gateway {config.gateway} is not inside "
                             f"{config.ip}/{prefix}")
    return config


def _same_subnet(a: str, b: str, prefix: int) -> bool:
    def value(ip: str) -> int:
        return int.from_bytes(bytes(int(p) for p in ip.split(".")), "big")
    shift = 32 - prefix
    return value(a) >> shift == value(b) >> shift


def check_timeout(func: str, timeout_ms: object, minimum: int = 1) -> int:
    """``timeout_ms`` as an int of milliseconds from ``minimum`` (1: positive; 0: a poll is
    allowed) up to a week, or ``TypeError``/``ValueError`` naming ``func`` and ``timeout``."""
    what = "a positive int" if minimum > 0 else "an int >= 0"
    if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool):
        raise TypeError(f"{func}(): timeout must be {what} of milliseconds, "
                        f"not {type(timeout_ms).__name__}")
    if not minimum <= timeout_ms <= MAX_TIMEOUT_MS:
        raise ValueError(f"{func}(): timeout must be {what} of milliseconds up to "
                         f"{MAX_TIMEOUT_MS}, got {timeout_ms}")
    return timeout_ms


def write_resolv_conf(servers: list[str]) -> None:
    """Write ``nameserver`` lines to ``$KILN_RESOLV_CONF`` (default ``/etc/resolv.conf``).

    Rewritten in place, not renamed over: ``ip netns exec`` bind-mounts the namespace's file there.
    """
    path = os.environ.get(RESOLV_CONF_ENV, "/etc/resolv.conf")
    with open(path, "w") as f:
        f.write("".join(f"nameserver {s}\n" for s in servers))


def make_run_dir(ifname: str) -> str:
    """A new private directory for one DHCP session's files (under /run when writable, else
    the temp dir); unique per process and interface."""
    base = "/run" if os.access("/run", os.W_OK) else os.environ.get("TMPDIR", "/tmp")
    for attempt in range(100):
        path = os.path.join(base, f"kiln-ip-{ifname}-{os.getpid()}-{attempt}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
    raise NetworkGenericError(f"cannot create a run directory for {ifname} under {base}")


def remove_run_dir(path: str) -> None:
    """Remove a directory made by :func:`make_run_dir` and the (flat) files in it."""
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


class IpLayer:
    """IPv4 on one link (see the module docstring).  All timeouts are in milliseconds.

    Life cycle: :meth:`attach` (subscribe to netlink, snapshot the link), the driver brings the
    link up, :meth:`wait_carrier`, :meth:`apply` (DHCP or static, blocks until applied), ...,
    :meth:`detach` (release, flush, optionally take the link down).  Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._events: collections.deque[NetifEvent] = collections.deque(maxlen=MAX_QUEUED_EVENTS)
        self._config = IpConfig()
        self._link: rtnl.Link | None = None
        self._addresses: set[tuple[str, int]] = set()
        self._gateways: set[str] = set()
        self._attached = False
        self._configured = False   # address (+ gateways) of the lease / static config applied
        self._dhcp: DhcpClient | None = None
        self._run_dir: str | None = None
        self._monitor: threading.Thread | None = None
        self._wake_w: int | None = None

    @property
    def attached(self) -> bool:
        """True between :meth:`attach` and :meth:`detach`."""
        return self._attached

    # --- life cycle --------------------------------------------------------------------------
    def attach(self, nl: rtnl.Rtnl, link: rtnl.Link) -> None:
        """Start following ``link``: subscribe first, then snapshot, so no change between the
        two is lost.  Non-blocking (starts the monitor thread)."""
        events = rtnl.Rtnl(groups=rtnl.RTMGRP_LINK | rtnl.RTMGRP_IPV4_IFADDR
                           | rtnl.RTMGRP_IPV4_ROUTE)
        wake_r, self._wake_w = os.pipe()
        with self._lock:
            self._events.clear()
            self._snapshot(nl, link)
            self._configured = False
            self._attached = True
        self._monitor = threading.Thread(target=self._run_monitor, args=(events, wake_r),
                                         name=f"kiln-ip-{link.name}", daemon=True)
        self._monitor.start()

    def bring_up(self, nl: rtnl.Rtnl, link: rtnl.Link, config: IpConfig, timeout_ms: int,
                 carrier_message: str, connect: Callable[[float], None] | None = None,
                 undo: Callable[[], None] | None = None) -> None:
        """The one start sequence of every interface driver: follow ``link``, bring it up, let
        the driver get a carrier (``connect(deadline)``: an association; nothing for a cable),
        wait for the carrier (``ConnectionTimeoutError(carrier_message)``), then :meth:`apply`
        ``config``.  Blocks up to ``timeout_ms``.  On any error ``undo()`` runs, the layer
        detaches with the link down, and the error propagates."""
        deadline = time.monotonic() + timeout_ms / 1000
        self.attach(nl, link)
        try:
            nl.set_link_up(link.index, True)
            if connect is not None:
                connect(deadline)
            self.wait_carrier(deadline, carrier_message)
            self.apply(config, deadline, timeout_ms)
        except BaseException:
            try:
                if undo is not None:
                    undo()
            finally:
                self.detach(link_down=True)
            raise

    def wait_carrier(self, deadline: float, message: str) -> None:
        """Block until the link has a carrier (IFF_LOWER_UP: a cable, an association) or raise
        ``ConnectionTimeoutError(message)`` at ``deadline`` (``time.monotonic()``)."""
        self.wait(deadline, lambda: self._link is not None and self._link.carrier, message)

    def apply(self, config: IpConfig, deadline: float, timeout_ms: int) -> None:
        """Configure the attached link per ``config`` and block until the address (and the
        default route it asks for) is on it.  DHCP: udhcpc runs until :meth:`detach`, renewing
        the lease.  Raises ``ConnectionTimeoutError`` at ``deadline`` and
        ``NetworkGenericError`` if udhcpc is missing or exits."""
        assert self._link is not None, "attach() first"
        with self._lock:
            self._config = config
        if config.dhcp:
            self._start_dhcp(deadline, timeout_ms)
        else:
            self._apply_static(deadline, timeout_ms)

    def _start_dhcp(self, deadline: float, timeout_ms: int) -> None:
        assert self._link is not None
        ifname = self._link.name
        self._run_dir = make_run_dir(ifname)
        dhcp = self._dhcp = DhcpClient(ifname, self._run_dir)
        dhcp.start(timeout_ms, on_exit=self._notify)

        def leased() -> bool:
            if not dhcp.running():
                raise NetworkGenericError(f"udhcpc exited: {dhcp.log_tail()}")
            return self._configured

        self.wait(deadline, leased, lambda: f"no DHCP lease on {ifname} within {timeout_ms} ms "
                  f"(is a DHCP server reachable?) [udhcpc: {dhcp.log_tail()}]")

    def _apply_static(self, deadline: float, timeout_ms: int) -> None:
        assert self._link is not None
        config, index = self._config, self._link.index
        with rtnl.Rtnl() as nl:
            nl.flush_addresses(index)
            nl.add_address(index, config.ip, rtnl.mask_to_prefix(config.mask))
            if config.gateway:
                nl.add_default_route(index, config.gateway)
        if config.dns:
            write_resolv_conf([config.dns])
        self.wait(deadline, lambda: self._configured, f"static address {config.ip} not applied "
                  f"on {self._link.name} in {timeout_ms} ms")

    def detach(self, link_down: bool) -> None:
        """Abort the TCP connections on the interface's addresses (they fail at once with
        ``ECONNABORTED`` instead of waiting for their timeouts: :mod:`driver.ip.sockdiag`),
        release the DHCP lease (udhcpc sends DHCPRELEASE; blocks up to ~3 s), remove the IPv4
        addresses, take the link down if ``link_down``, stop following it.  Idempotent."""
        with self._lock:
            local = {ip for ip, _prefix in self._addresses}
        try:
            sockdiag.destroy_tcp(local)
            if self._dhcp is not None:
                dhcp, self._dhcp = self._dhcp, None
                dhcp.stop()
            if self._link is not None:
                with rtnl.Rtnl() as nl:
                    try:
                        nl.flush_addresses(self._link.index)
                        if link_down:
                            nl.set_link_up(self._link.index, False)
                    except OSError as exc:
                        if exc.errno != errno.ENODEV:    # the interface vanished: nothing to undo
                            raise
        finally:
            self._end_monitoring()
            if self._run_dir:
                remove_run_dir(self._run_dir)
                self._run_dir = None

    # --- waiting -----------------------------------------------------------------------------
    def wait(self, deadline: float, ready: Callable[[], bool],
             message: str | Callable[[], str]) -> None:
        """Block until ``ready()`` (evaluated under the lock at each state change) or raise
        ``ConnectionTimeoutError(message)`` at ``deadline`` (``time.monotonic()``)."""
        with self._lock:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectionTimeoutError(message if isinstance(message, str)
                                                 else message())
                self._lock.wait(remaining)

    def _notify(self) -> None:
        """Wake up :meth:`wait` to re-evaluate its condition (e.g. udhcpc exited)."""
        with self._lock:
            self._lock.notify_all()

    def _is_configured(self) -> bool:
        """(Lock held.) The lease's or the static address is on the interface, with the default
        route(s) it asks for.  The udhcpc script records the lease before applying it, so this
        is exact whenever an address or route event arrives."""
        config = self._config
        if config.dhcp:
            lease = self._dhcp.lease() if self._dhcp is not None else None
            return (lease is not None and lease.valid
                    and (lease.ip, lease.prefixlen) in self._addresses
                    and all(gw in self._gateways for gw in lease.router.split()))
        if not config.ip:
            return False
        return ((config.ip, rtnl.mask_to_prefix(config.mask)) in self._addresses
                and (not config.gateway or config.gateway in self._gateways))

    # --- monitoring --------------------------------------------------------------------------
    def _snapshot(self, nl: rtnl.Rtnl, link: rtnl.Link) -> None:
        self._link = nl.link(link.name)
        self._addresses = {(a.ip, a.prefixlen) for a in nl.addresses(link.index)}
        self._gateways = {r.gateway for r in nl.routes()
                          if r.is_default and r.oif == link.index and r.gateway}

    def _end_monitoring(self) -> None:
        with self._lock:
            self._attached = False
            self._lock.notify_all()
        if self._wake_w is not None:
            os.write(self._wake_w, b"x")
            if self._monitor is not None and self._monitor is not threading.current_thread():
                self._monitor.join(5)
            os.close(self._wake_w)
            self._wake_w = None
        self._monitor = None

    def _run_monitor(self, events: rtnl.Rtnl, wake_r: int) -> None:
        try:
            while True:
                ready, _, _ = select.select([events, wake_r], [], [])
                if wake_r in ready:
                    return
                try:
                    batch = events.events()
                except OSError as exc:       # ENOBUFS: events were lost, resynchronise
                    if exc.errno != errno.ENOBUFS:
                        raise
                    with rtnl.Rtnl() as nl, self._lock:
                        assert self._link is not None
                        self._snapshot(nl, self._link)
                        self._configured = self._is_configured()
                        self._lock.notify_all()
                    continue
                with self._lock:
                    resync = [self._apply_event(event) for event in batch]
                    index = self._link.index if self._link is not None else 0
                if any(resync):
                    # IPv4 routes that die with an address or an admin-down link vanish
                    # without an RTM_DELROUTE: ask the kernel which default routes remain.
                    with rtnl.Rtnl() as nl:
                        gateways = {r.gateway for r in nl.routes()
                                    if r.is_default and r.oif == index and r.gateway}
                    with self._lock:
                        self._gateways = gateways
                with self._lock:
                    self._configured = self._is_configured()
                    self._lock.notify_all()
        finally:
            events.close()
            os.close(wake_r)

    def _apply_event(self, event: rtnl.Link | rtnl.Address | rtnl.Route) -> bool:
        """Update the cached state from one netlink event (lock held) and queue NetifEvents.
        Returns True if routes may have been removed without a notification."""
        link = self._link
        if link is None:
            return False
        now = time.monotonic()
        if isinstance(event, rtnl.Link) and event.index == link.index:
            if event.deleted:           # unplugged USB adapter, module unloaded...
                self._link = link._replace(flags=0, operstate="notpresent", deleted=True)
                self._addresses.clear()
                self._gateways.clear()
                self._events.append(NetifEvent("link_removed", "", now))
                return False
            self._link = event
            if event.carrier != link.carrier:
                self._events.append(NetifEvent(
                    "carrier_up" if event.carrier else "carrier_down", "", now))
                if event.carrier and self._dhcp is not None:
                    self._dhcp.renew()
            return link.admin_up and not event.admin_up
        elif isinstance(event, rtnl.Address) and event.index == link.index:
            key = (event.ip, event.prefixlen)
            if event.deleted and key in self._addresses:
                self._addresses.discard(key)
                self._events.append(NetifEvent("address_removed", f"{event.ip}/{event.prefixlen}",
                                               now))
                return True
            elif not event.deleted and key not in self._addresses:
                self._addresses.add(key)
                self._events.append(NetifEvent("address_added", f"{event.ip}/{event.prefixlen}",
                                               now))
        elif isinstance(event, rtnl.Route) and event.oif == link.index and event.is_default:
            if event.deleted:
                self._gateways.discard(event.gateway)
            elif event.gateway:
                self._gateways.add(event.gateway)
        return False

    # --- state -------------------------------------------------------------------------------
    def is_connected(self) -> bool:
        """True while attached, with carrier, and with the lease's (or static) address and
        default route applied (state cached from netlink events; no syscall)."""
        with self._lock:
            return (self._attached and self._link is not None and self._link.carrier
                    and self._configured)

    def wait_event(self, timeout_ms: int | None = None) -> NetifEvent | None:
        """The oldest undelivered event; blocks up to ``timeout_ms`` (``None``: forever)."""
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        with self._lock:
            while not self._events:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._lock.wait(remaining)
            return self._events.popleft()

    def info(self, nl: rtnl.Rtnl, link: rtnl.Link, config: IpConfig) -> NetifInfo:
        """``link``'s IPv4 configuration as the kernel reports it (address, mask, gateway, MAC)
        plus the DNS server in use (the lease's, or ``config``'s static one while attached)."""
        addresses = nl.addresses(link.index)
        gateway = nl.default_gateway(link.index)
        ip, mask = "", ""
        if addresses:
            ip, mask = addresses[0].ip, rtnl.prefix_to_mask(addresses[0].prefixlen)
        if config.dhcp:
            lease = self._dhcp.lease() if self._dhcp is not None else None
            dns = lease.dns.split()[0] if lease is not None and lease.valid and lease.dns else ""
        else:
            dns = config.dns if self._attached else ""
        return NetifInfo(dhcp=config.dhcp, ip=ip, mask=mask, gateway=gateway, dns=dns,
                         mac=link.mac)
