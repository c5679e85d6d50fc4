"""The Linux Wi-Fi driver: association through wpa_supplicant; IP from the shared IP layer.

One :class:`LinuxWifi` drives one radio interface (``wlan0``).  ``start()`` configures the
network in wpa_supplicant, waits for its events until the association completes or fails --
mapped to Zerynth's exceptions -- and then hands the associated link to
:class:`driver.ip.layer.IpLayer` (DHCP or static, route, DNS, events), exactly as the Ethernet
driver does once it has a carrier.  wpa_supplicant re-associates by itself when the access point
comes back; the IP layer sees the carrier return and renews the lease.
"""
from __future__ import annotations

import errno
import os
import time

from driver.ip import rtnl
from driver.ip.layer import IpConfig, IpLayer, check_timeout, ip_config
from driver.netif import (CantRegisterInterfaceError, NetifEvent, NetifInfo, NetworkInterface,
                          ensure_may_reconfigure)
from driver.wifi.security import WPA2_ENTERPRISE, WPA_WPA2
from driver.wifi.supplicant import Network, ScanRecord, Supplicant
from kiln.errors import WifiBadAuth, WifiBadPassword, WifiBadSSID, WifiException

#: Environment variable naming the radio interface (the image's init sets it from the board
#: file's ``[bsp] wifi``).
IFACE_ENV = "KILN_WIFI_IFACE"
#: Scans that must come back without the SSID before ``start()`` gives up with WifiBadSSID.
NOT_FOUND_SCANS = 2
#: IEEE 802.11 authentication algorithm SAE and its Confirm message's transaction number: an AP
#: that rejects the Confirm after accepting the Commit could not verify our password.
AUTH_SAE, SAE_CONFIRM = "3", "2"


def is_wireless(ifname: str) -> bool:
    """True if ``ifname`` is an 802.11 interface (it has a ``phy80211`` in sysfs)."""
    return os.path.exists(f"/sys/class/net/{ifname}/phy80211")


def default_interface() -> str:
    """``$KILN_WIFI_IFACE``, else the first wireless interface; ``CantRegisterInterfaceError``
    if there is none."""
    named = os.environ.get(IFACE_ENV)
    if named:
        return named
    try:
        names = sorted(os.listdir("/sys/class/net"))
    except OSError:
        names = []
    for name in names:
        if is_wireless(name):
            return name
    raise CantRegisterInterfaceError(f"no Wi-Fi interface found; name one with {IFACE_ENV}")


class LinuxWifi(NetworkInterface):
    """A Wi-Fi station: association here (wpa_supplicant), IPv4 in an :class:`IpLayer`.

    ``ifname``: the radio interface (default :func:`default_interface`, resolved on first use).
    All timeouts are in milliseconds."""

    def __init__(self, ifname: str | None = None) -> None:
        self._ifname = ifname
        self._net: Network | None = None
        self._config = IpConfig()
        self._ip = IpLayer()
        self._sup: Supplicant | None = None

    @property
    def ifname(self) -> str:
        """The radio interface's name."""
        if self._ifname is None:
            self._ifname = default_interface()
        return self._ifname

    def _supplicant(self) -> Supplicant:
        if self._sup is None:
            self._sup = Supplicant(self.ifname)
        return self._sup

    # --- configuration -----------------------------------------------------------------------
    def configure(self, ssid: str | bytes = "", password: str = "", security: int = WPA_WPA2,
                  dhcp: bool = True, ip: str = "", mask: str = "", gateway: str = "",
                  dns: str = "8.8.8.8", ent_user: str = "", ent_pwd: str = "",
                  func: str = "configure") -> None:
        """Store the network and the IPv4 configuration for the next :meth:`start`.  Raises
        ``TypeError``/``ValueError`` naming ``func`` and the argument; nothing changes then."""
        from driver.wifi.supplicant import network_settings
        for name, value in (("password", password), ("ent_user", ent_user),
                            ("ent_pwd", ent_pwd)):
            if not isinstance(value, str):
                raise TypeError(f"{func}(): {name} must be a str, not {type(value).__name__}")
        if not isinstance(ssid, (str, bytes)):
            raise TypeError(f"{func}(): ssid must be a str or bytes, not {type(ssid).__name__}")
        if not isinstance(security, int) or isinstance(security, bool):
            raise TypeError(f"{func}(): security must be an int 0..7, "
                            f"not {type(security).__name__}")
        config = ip_config(func, dhcp, ip, mask, gateway, dns)
        net = Network(ssid, security, password, ent_user, ent_pwd)
        if ssid:
            try:
                network_settings(net)
            except ValueError as exc:
                raise ValueError(f"{func}(): {exc}") from None
        self._net, self._config = net, config

    # --- start / stop ------------------------------------------------------------------------
    def start(self, timeout_ms: int = 10000) -> None:
        """Associate with the configured network, then get an address (DHCP or static); blocks
        until both are done.  Raises ``WifiBadPassword`` (key refused), ``WifiBadSSID`` (no
        such network in :data:`NOT_FOUND_SCANS` scans, or in every scan that finished before
        the timeout), ``WifiBadAuth`` (enterprise
        credentials refused), ``WifiException`` (no association within ``timeout_ms``, no
        wpa_supplicant), ``ConnectionTimeoutError`` (no address in time) or
        ``CantRegisterInterfaceError``.  On any error the interface is left stopped."""
        check_timeout("start", timeout_ms)
        if self._net is None or not self._net.ssid:
            raise WifiException("no network configured: call configure(ssid, password, ...) "
                                "or link(ssid, security, password) first")
        if self._ip.attached:
            self.stop()
        with rtnl.Rtnl() as nl:
            link = self._resolve_link(nl)
            ensure_may_reconfigure(link.name)
            self._ip.bring_up(nl, link, self._config, timeout_ms,
                              f"{link.name} associated but has no carrier after {timeout_ms} ms",
                              connect=lambda deadline: self._associate(deadline, timeout_ms),
                              undo=self._forget_network)

    def _resolve_link(self, nl: rtnl.Rtnl) -> rtnl.Link:
        try:
            link = nl.link(self.ifname)
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise CantRegisterInterfaceError(
                    f"no network interface named {self.ifname!r} (is the radio's driver "
                    f"loaded?)") from None
            raise
        if not is_wireless(link.name):
            raise CantRegisterInterfaceError(f"interface {link.name!r} is not a Wi-Fi interface")
        return link

    def _associate(self, deadline: float, timeout_ms: int) -> None:
        """Configure the network in wpa_supplicant and wait for the outcome (its events)."""
        assert self._net is not None
        sup = self._supplicant()
        ctrl = sup.open()
        ctrl.attach()
        try:
            sup.configure(self._net)
            ssid = self._net.ssid
            not_found = 0
            seen: list[str] = []
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if not_found:         # every scan that finished in time missed it
                        raise WifiBadSSID(f"no access point {ssid!r} with the requested "
                                          f"security in range ({not_found} scan(s) in "
                                          f"{timeout_ms} ms)")
                    raise WifiException(f"no association with {ssid!r} within {timeout_ms} ms "
                                        f"(last events: {', '.join(seen[-4:]) or 'none'})")
                event = ctrl.event(remaining)
                if event is None:
                    continue
                seen.append(f"{event.name} {event.text}".strip()[:100])
                if event.name == "CTRL-EVENT-CONNECTED":
                    return
                if (event.name == "CTRL-EVENT-AUTH-REJECT"
                        and event.fields.get("auth_type") == AUTH_SAE
                        and event.fields.get("auth_transaction") == SAE_CONFIRM):
                    # SAE (WPA3): the AP took our Commit but not our Confirm -- another password.
                    raise WifiBadPassword(f"{ssid!r} refused the password (SAE confirm rejected, "
                                          f"status {event.fields.get('status_code', '?')})")
                if event.name == "CTRL-EVENT-EAP-FAILURE":
                    raise WifiBadAuth(f"{ssid!r} refused the enterprise credentials "
                                      f"(EAP failure)")
                if event.name == "CTRL-EVENT-SSID-TEMP-DISABLED":
                    reason = event.fields.get("reason", "")
                    if self._net.security == WPA2_ENTERPRISE:
                        raise WifiBadAuth(f"{ssid!r} refused the enterprise credentials "
                                          f"({reason})")
                    if reason in ("WRONG_KEY", "AUTH_FAILED"):
                        raise WifiBadPassword(f"{ssid!r} refused the password ({reason})")
                if event.name == "CTRL-EVENT-NETWORK-NOT-FOUND":
                    not_found += 1
                    if not_found >= NOT_FOUND_SCANS:
                        raise WifiBadSSID(f"no access point {ssid!r} with the requested "
                                          f"security in range ({not_found} scans)")
        finally:
            ctrl.detach()

    def _forget_network(self) -> None:
        """Undo a failed association: wpa_supplicant forgets the network (no retries)."""
        if self._sup is not None and self._sup.ctrl is not None:
            try:
                self._sup.disconnect()
            except OSError:
                pass

    def stop(self) -> None:
        """Abort the TCP connections on the interface, release the lease, drop the association
        and take the link down.  Idempotent; a no-op if not started."""
        if self._ip.attached:
            self._ip.detach(link_down=False)
            if self._sup is not None and self._sup.ctrl is not None:
                self._sup.disconnect()
            with rtnl.Rtnl() as nl:
                try:
                    nl.set_link_up(nl.link(self.ifname).index, False)
                except OSError as exc:
                    if exc.errno != errno.ENODEV:
                        raise

    def close(self) -> None:
        """:meth:`stop`, then stop the wpa_supplicant Kiln started (if any)."""
        self.stop()
        if self._sup is not None:
            self._sup.close()
            self._sup = None

    # --- state -------------------------------------------------------------------------------
    def is_connected(self) -> bool:
        """True while started, associated (carrier) and with the address applied (no syscall)."""
        return self._ip.is_connected()

    def wait_event(self, timeout_ms: int | None = None) -> NetifEvent | None:
        """The oldest undelivered link/address event; blocks up to ``timeout_ms``."""
        return self._ip.wait_event(timeout_ms)

    def info(self) -> NetifInfo:
        """``(dhcp, ip, mask, gateway, dns, mac)`` of the radio interface, from the kernel."""
        with rtnl.Rtnl() as nl:
            link = self._resolve_link(nl)
            return self._ip.info(nl, link, self._config)

    def scan(self, duration_ms: int = 15000, ssid: str | bytes | None = None
             ) -> list[ScanRecord]:
        """Scan for up to ``duration_ms`` (the radio is brought up if needed) and return the
        access points seen, strongest first; only those named ``ssid`` if given.  A scan still
        running after ``duration_ms`` is aborted and what it found so far is returned
        (Zerynth v2's ``scan(duration)``; while associated, mac80211 returns to the operating
        channel between channels, so a full scan takes longer).  Raises ``WifiException`` if
        wpa_supplicant cannot scan."""
        check_timeout("scan", duration_ms)
        with rtnl.Rtnl() as nl:
            link = self._resolve_link(nl)
            if not link.admin_up:
                ensure_may_reconfigure(link.name)
                nl.set_link_up(link.index, True)
        sup = self._supplicant()
        ctrl = sup.open()
        ctrl.attach()
        try:
            deadline = time.monotonic() + duration_ms / 1000
            reply = ctrl.request("SCAN").strip()
            if reply not in ("OK", "FAIL-BUSY"):
                raise WifiException(f"wpa_supplicant could not scan: {reply}")
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    ctrl.request("ABORT_SCAN")
                    break
                event = ctrl.event(remaining)
                if event is not None and event.name == "CTRL-EVENT-SCAN-RESULTS":
                    break
                if event is not None and event.name == "CTRL-EVENT-SCAN-FAILED":
                    raise WifiException(f"the scan failed: {event.text}")
        finally:
            ctrl.detach()
        records = sup.scan_results()
        if ssid is not None:
            wanted = ssid.decode("utf-8", "replace") if isinstance(ssid, bytes) else ssid
            records = [r for r in records if r.ssid == wanted]
        return records

    def ap_info(self) -> ScanRecord:
        """The current access point as a :class:`ScanRecord`; ``WifiException`` if not
        associated."""
        sup = self._supplicant()
        status = sup.status()
        if status.get("wpa_state") != "COMPLETED":
            raise WifiException(f"not associated (wpa_state {status.get('wpa_state', '?')})")
        for rec in sup.scan_results():
            if rec.bssid == status.get("bssid"):
                rssi = sup.signal()
                return rec._replace(rssi=rssi) if rssi is not None else rec
        raise WifiException(f"the access point {status.get('bssid')} is not in the BSS table")

    def rssi(self) -> int:
        """The current signal strength in dBm; ``WifiException`` if not associated."""
        value = self._supplicant().signal()
        if value is None:
            raise WifiException("not associated: no signal strength")
        return value


__all__ = ["LinuxWifi", "default_interface", "is_wireless"]
