"""The Linux Ethernet driver: netlink for link/address/route state, udhcpc for DHCP.

One :class:`LinuxEthernet` drives one interface.  While started, a daemon thread reads the kernel's
RTNLGRP_LINK / IPV4_IFADDR / IPV4_ROUTE notifications, keeps a cached view of the interface
(carrier, addresses, default gateways), queues :class:`~driver.netif.NetifEvent` objects and, when
the carrier comes back, asks udhcpc to renew the lease at once (a board re-plugged into another
network gets its new address without waiting for the lease timers).  Losing the carrier keeps the
address (sockets survive a short unplug) but makes :meth:`LinuxEthernet.is_connected` false.
"""
from __future__ import annotations

import collections
import errno
import os
import select
import socket
import threading
import time
from collections.abc import Callable

from driver.eth import rtnl
from driver.eth.dhcp import RESOLV_CONF_ENV, DhcpClient
from driver.netif import (CantRegisterInterfaceError, NetifEvent, NetifInfo, NetworkInterface,
                          ensure_may_reconfigure)
from kiln.errors import ConnectionTimeoutError, NetworkGenericError

#: Environment variable naming the interface when ``configure`` is not given one.
IFACE_ENV = "KILN_ETH_IFACE"
#: At most this many undelivered events are kept (the oldest are dropped first).
MAX_QUEUED_EVENTS = 256


def _check_ipv4(name: str, value: object, required: bool) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str IPv4 address, not {type(value).__name__}")
    if not value:
        if required:
            raise ValueError(f"{name} is required for a static configuration (dhcp=False)")
        return ""
    try:
        socket.inet_pton(socket.AF_INET, value)
    except OSError:
        raise ValueError(f"{name} {value!r} is not a dotted-quad IPv4 address") from None
    return value


def default_interface(links: list[rtnl.Link]) -> str:
    """The interface Kiln drives when none is named: ``$KILN_ETH_IFACE``, else the first
    Ethernet (ARPHRD_ETHER) interface, preferring ``eth*``/``en*`` names.  Raises
    ``CantRegisterInterfaceError`` if there is none."""
    named = os.environ.get(IFACE_ENV)
    if named:
        return named
    ether = [link.name for link in sorted(links, key=lambda link: link.index)
             if link.kind == rtnl.ARPHRD_ETHER]
    preferred = [n for n in ether if n.startswith(("eth", "en"))]
    if not (preferred or ether):
        raise CantRegisterInterfaceError(
            f"no Ethernet interface found; name one with configure(iface=...) or {IFACE_ENV}")
    return (preferred or ether)[0]


def write_resolv_conf(servers: list[str]) -> None:
    """Write ``nameserver`` lines to ``$KILN_RESOLV_CONF`` (default ``/etc/resolv.conf``).

    Rewritten in place, not renamed over: ``ip netns exec`` bind-mounts the namespace's file there.
    """
    path = os.environ.get(RESOLV_CONF_ENV, "/etc/resolv.conf")
    with open(path, "w") as f:
        f.write("".join(f"nameserver {s}\n" for s in servers))


def make_run_dir(ifname: str) -> str:
    """A new private directory for one DHCP session's files (``$XDG_RUNTIME_DIR``-style: under
    /run when writable, else the temp dir); unique per process and interface."""
    base = "/run" if os.access("/run", os.W_OK) else os.environ.get("TMPDIR", "/tmp")
    for attempt in range(100):
        path = os.path.join(base, f"kiln-eth-{ifname}-{os.getpid()}-{attempt}")
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


class LinuxEthernet(NetworkInterface):
    """An Ethernet interface driven through netlink and udhcpc (see the module docstring)."""

    def __init__(self) -> None:
        self._dhcp_mode = True
        self._ip = self._mask = self._gateway = ""
        self._dns = "8.8.8.8"
        self._ifname: str | None = None
        self._lock = threading.Condition()
        self._events: collections.deque[NetifEvent] = collections.deque(maxlen=MAX_QUEUED_EVENTS)
        self._link: rtnl.Link | None = None
        self._addresses: set[tuple[str, int]] = set()
        self._gateways: set[str] = set()
        self._started = False
        self._configured = False   # address (+ gateways) of the lease / static config applied
        self._dhcp: DhcpClient | None = None
        self._run_dir: str | None = None
        self._monitor: threading.Thread | None = None
        self._wake_w: int | None = None

    # --- configuration -----------------------------------------------------------------------
    def configure(self, dhcp: bool = True, ip: str = "", mask: str = "", gateway: str = "",
                  dns: str = "8.8.8.8", iface: str | None = None) -> None:
        """Store the configuration for the next :meth:`start` (raises TypeError/ValueError)."""
        if not isinstance(dhcp, bool):
            raise TypeError(f"dhcp must be True or False, not {dhcp!r}")
        if iface is not None and (not isinstance(iface, str) or not 0 < len(iface) <= 15):
            raise ValueError(f"iface must be an interface name (1-15 characters), got {iface!r}")
        static = not dhcp
        ip = _check_ipv4("ip", ip, static)
        mask = _check_ipv4("mask", mask, static)
        if mask:
            rtnl.mask_to_prefix(mask)
        gateway = _check_ipv4("gateway", gateway, False)
        dns = _check_ipv4("dns", dns, False)
        with self._lock:
            self._dhcp_mode, self._ip, self._mask = dhcp, ip, mask
            self._gateway, self._dns = gateway, dns
            if iface is not None:
                self._ifname = iface

    def _resolve_link(self, nl: rtnl.Rtnl) -> rtnl.Link:
        if self._ifname is None:
            self._ifname = default_interface(nl.links())
        try:
            link = nl.link(self._ifname)
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise CantRegisterInterfaceError(
                    f"no network interface named {self._ifname!r}") from None
            raise
        if link.kind != rtnl.ARPHRD_ETHER:
            raise CantRegisterInterfaceError(
                f"interface {self._ifname!r} is not an Ethernet interface (ARPHRD {link.kind})")
        return link

    @property
    def ifname(self) -> str:
        """The driven interface's name (resolved from the configuration on first use)."""
        if self._ifname is None:
            with rtnl.Rtnl() as nl:
                self._resolve_link(nl)
        assert self._ifname is not None
        return self._ifname

    # --- start / stop ------------------------------------------------------------------------
    def start(self, timeout_ms: int = 60000) -> None:
        """Bring the interface up; block until it has carrier and its address (DHCP lease or
        static) and default route.  Raises ``ConnectionTimeoutError`` after ``timeout_ms``,
        ``CantRegisterInterfaceError`` for a missing interface and ``NetworkGenericError`` when
        refused by the host guard or when udhcpc exits.  On any error the interface is left
        stopped (down).  Calling it while started restarts the interface."""
        if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms <= 0:
            raise ValueError(f"timeout must be a positive int of milliseconds, got {timeout_ms!r}")
        deadline = time.monotonic() + timeout_ms / 1000
        if self._started:
            self.stop()
        with rtnl.Rtnl() as nl:
            link = self._resolve_link(nl)
            ensure_may_reconfigure(link.name)
            self._begin_monitoring(nl, link)
            try:
                nl.set_link_up(link.index, True)
                self._wait(deadline, lambda: self._link is not None and self._link.carrier,
                           f"no carrier on {link.name} within {timeout_ms} ms (cable unplugged?)")
                if self._dhcp_mode:
                    self._start_dhcp(deadline, timeout_ms)
                else:
                    self._apply_static(nl, link.index, deadline, timeout_ms)
            except BaseException:
                self._teardown(link_down=True)
                raise

    def _start_dhcp(self, deadline: float, timeout_ms: int) -> None:
        self._run_dir = make_run_dir(self.ifname)
        dhcp = self._dhcp = DhcpClient(self.ifname, self._run_dir)
        dhcp.start(timeout_ms, on_exit=self._notify)

        def leased() -> bool:
            if not dhcp.running():
                raise NetworkGenericError(f"udhcpc exited: {dhcp.log_tail()}")
            return self._configured

        self._wait(deadline, leased, lambda: f"no DHCP lease on {self._ifname} within "
                   f"{timeout_ms} ms (is a DHCP server reachable?) [udhcpc: {dhcp.log_tail()}]")

    def _apply_static(self, nl: rtnl.Rtnl, index: int, deadline: float, timeout_ms: int) -> None:
        prefixlen = rtnl.mask_to_prefix(self._mask)
        nl.flush_addresses(index)
        nl.add_address(index, self._ip, prefixlen)
        if self._gateway:
            nl.add_default_route(index, self._gateway)
        if self._dns:
            write_resolv_conf([self._dns])
        self._wait(deadline, lambda: self._configured,
                   f"static address {self._ip} not applied on {self._ifname} in {timeout_ms} ms")

    def _is_configured(self) -> bool:
        """(Lock held.) The lease's or the static address is on the interface, with the default
        route(s) it asks for.  The udhcpc script records the lease before applying it, so this
        is exact whenever an address or route event arrives."""
        if self._dhcp_mode:
            lease = self._dhcp.lease() if self._dhcp is not None else None
            return (lease is not None and lease.valid
                    and (lease.ip, lease.prefixlen) in self._addresses
                    and all(gw in self._gateways for gw in lease.router.split()))
        return ((self._ip, rtnl.mask_to_prefix(self._mask)) in self._addresses
                and (not self._gateway or self._gateway in self._gateways))

    def _wait(self, deadline: float, ready: Callable[[], bool],
              message: str | Callable[[], str]) -> None:
        """Block until ``ready()`` (evaluated under the lock at each state change) or raise
        ``ConnectionTimeoutError(message)`` at ``deadline`` (time.monotonic())."""
        with self._lock:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConnectionTimeoutError(message if isinstance(message, str)
                                                 else message())
                self._lock.wait(remaining)

    def stop(self, keep_link: bool = False) -> None:
        """Release the DHCP lease (udhcpc sends DHCPRELEASE), remove the IPv4 addresses and
        take the link down (kept up with ``keep_link=True``).  Blocks up to ~3 s for udhcpc.
        Idempotent; a no-op if not started."""
        if self._started:
            self._teardown(link_down=not keep_link)

    def _teardown(self, link_down: bool) -> None:
        try:
            if self._dhcp is not None:
                dhcp, self._dhcp = self._dhcp, None
                dhcp.stop()
            with rtnl.Rtnl() as nl:
                index = self._link.index if self._link else nl.link(self.ifname).index
                try:
                    nl.flush_addresses(index)
                    if link_down:
                        nl.set_link_up(index, False)
                except OSError as exc:
                    if exc.errno != errno.ENODEV:    # the interface vanished: nothing to undo
                        raise
        finally:
            self._end_monitoring()
            if self._run_dir:
                remove_run_dir(self._run_dir)
                self._run_dir = None

    def _notify(self) -> None:
        """Wake up :meth:`_wait` to re-evaluate its condition (e.g. udhcpc exited)."""
        with self._lock:
            self._lock.notify_all()

    # --- monitoring ------------------------------------------------------------------------
    def _begin_monitoring(self, nl: rtnl.Rtnl, link: rtnl.Link) -> None:
        """Subscribe first, then snapshot, so no change between the two is lost."""
        events = rtnl.Rtnl(groups=rtnl.RTMGRP_LINK | rtnl.RTMGRP_IPV4_IFADDR
                           | rtnl.RTMGRP_IPV4_ROUTE)
        wake_r, self._wake_w = os.pipe()
        with self._lock:
            self._events.clear()
            self._snapshot(nl, link)
            self._configured = False
            self._started = True
        self._monitor = threading.Thread(target=self._run_monitor, args=(events, wake_r),
                                         name=f"kiln-eth-{link.name}", daemon=True)
        self._monitor.start()

    def _snapshot(self, nl: rtnl.Rtnl, link: rtnl.Link) -> None:
        self._link = nl.link(link.name)
        self._addresses = {(a.ip, a.prefixlen) for a in nl.addresses(link.index)}
        self._gateways = {r.gateway for r in nl.routes()
                          if r.is_default and r.oif == link.index and r.gateway}

    def _end_monitoring(self) -> None:
        with self._lock:
            self._started = False
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
                    resync = [self._apply(event) for event in batch]
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

    def _apply(self, event: rtnl.Link | rtnl.Address | rtnl.Route) -> bool:
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
        """True while started, with carrier, and with the lease's (or static) address and default
        route applied (state cached from netlink events; no syscall)."""
        with self._lock:
            return (self._started and self._link is not None and self._link.carrier
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

    def info(self) -> NetifInfo:
        """The interface's configuration as the kernel reports it (address, mask, gateway, MAC)
        plus the DNS server in use (lease or static).  Raises ``CantRegisterInterfaceError``
        if the interface does not exist."""
        with rtnl.Rtnl() as nl:
            link = self._resolve_link(nl)
            addresses = nl.addresses(link.index)
            gateway = nl.default_gateway(link.index)
        ip, mask = "", ""
        if addresses:
            ip, mask = addresses[0].ip, rtnl.prefix_to_mask(addresses[0].prefixlen)
        if self._dhcp_mode:
            lease = self._dhcp.lease() if self._dhcp is not None else None
            dns = lease.dns.split()[0] if lease is not None and lease.valid and lease.dns else ""
        else:
            dns = self._dns if self._started else ""
        return NetifInfo(dhcp=self._dhcp_mode, ip=ip, mask=mask, gateway=gateway, dns=dns,
                         mac=link.mac)
