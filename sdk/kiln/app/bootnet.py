"""The board's network at boot: the ``kiln.net=`` kernel argument, applied through
``networking.eth`` (the same driver and IP layer the app uses) before the app's first line.

Syntax of the value (one token, no spaces)::

    dhcp                                   DHCP on the board's Ethernet interface (the default)
    none                                   leave the network to the app
    static:ADDR/PREFIX[,gw=GW][,dns=DNS]   static address, optional gateway and DNS server

The interface is the board file's ``[bsp] eth`` (the image's init exports it as
``$KILN_ETH_IFACE``); nothing here names one.  The result is one console line, the contract
with the host (runner, tests): ``KILN: net <mode> <addr>/<prefix> gw=<gw|none> dns=<dns|none>``
or ``KILN: net failed <why>``.
"""
import os
import time

#: How long the boot waits for the interface to appear and for a lease, in ms.
BOOT_NET_TIMEOUT_MS = 10000


class BootNet:
    """A parsed ``kiln.net=`` value: ``mode`` is ``"dhcp"``, ``"none"`` or ``"static"``; for
    static, ``ip``, ``prefixlen`` and the optional ``gateway``/``dns`` (``""`` when absent)."""

    __slots__ = ("mode", "ip", "prefixlen", "gateway", "dns")

    def __init__(self, mode, ip="", prefixlen=0, gateway="", dns=""):
        self.mode, self.ip, self.prefixlen = mode, ip, prefixlen
        self.gateway, self.dns = gateway, dns

    def __eq__(self, other):
        return isinstance(other, BootNet) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __repr__(self):
        return "BootNet(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


def _is_ipv4(text):
    from driver.ip.layer import is_ipv4
    return is_ipv4(text)


def parse(value):
    """Parse the value of ``kiln.net=`` (without the prefix) into a :class:`BootNet`; raises
    ``ValueError`` naming the problem and the accepted forms."""
    if value in ("dhcp", "none"):
        return BootNet(value)
    if not value.startswith("static:"):
        raise ValueError(f"unknown kiln.net={value}; expected dhcp, none or "
                         f"static:ADDR/PREFIX,gw=GW,dns=DNS")
    addr, *options = value[len("static:"):].split(",")
    ip, slash, prefix = addr.partition("/")
    if not slash:
        raise ValueError(f"kiln.net static address {addr!r} needs a prefix length, "
                         f"e.g. {addr}/24")
    if not (_is_ipv4(ip) and prefix.isascii() and prefix.isdigit() and int(prefix) <= 32):
        raise ValueError(f"kiln.net static address {addr!r} is not ADDR/PREFIX (a dotted-quad "
                         f"IPv4 address and a prefix length 0-32)")
    net = BootNet("static", ip, int(prefix))
    for opt in options:
        key, sep, val = opt.partition("=")
        if not sep or key not in ("gw", "dns"):
            raise ValueError(f"kiln.net option {opt!r}: expected gw=ADDR or dns=ADDR")
        if not _is_ipv4(val):
            raise ValueError(f"kiln.net {key}={val!r} is not a dotted-quad IPv4 address")
        setattr(net, "gateway" if key == "gw" else "dns", val)
    return net


def _wait_for_interface(name, deadline):
    """Block until ``/sys/class/net/<name>`` exists (drivers probe asynchronously at boot)."""
    while not os.path.exists(f"/sys/class/net/{name}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def bring_up(value):
    """Apply ``kiln.net=<value>`` with ``networking.eth`` and return the ``KILN: net`` line.

    Blocks until the address is applied (DHCP: up to :data:`BOOT_NET_TIMEOUT_MS`).  Never
    raises for a network failure: the app still runs, and the line says what failed."""
    try:
        net = parse(value)
    except ValueError as exc:
        return f"KILN: net failed ({exc})"
    if net.mode == "none":
        return "KILN: net none  gw=none dns=none"
    deadline = time.monotonic() + BOOT_NET_TIMEOUT_MS / 1000
    iface = os.environ.get("KILN_ETH_IFACE", "")
    if iface and not _wait_for_interface(iface, deadline):
        return f"KILN: net failed {net.mode} (no interface {iface} after {BOOT_NET_TIMEOUT_MS} ms)"
    from driver.ip.rtnl import mask_to_prefix, prefix_to_mask
    from networking import eth
    try:
        if net.mode == "dhcp":
            eth.configure(dhcp=True, timeout=BOOT_NET_TIMEOUT_MS)
        else:
            eth.configure(dhcp=False, ip=net.ip, mask=prefix_to_mask(net.prefixlen),
                          gateway=net.gateway, dns=net.dns, timeout=BOOT_NET_TIMEOUT_MS)
        eth.start()
        _dhcp, ip, mask, gateway, dns, _mac = eth.info()
    except (OSError, ValueError) as exc:
        return f"KILN: net failed {net.mode} ({exc})"
    return (f"KILN: net {net.mode} {ip}/{mask_to_prefix(mask) if mask else 0} "
            f"gw={gateway or 'none'} dns={dns or 'none'}")
