"""The driver interface every Kiln network interface implements (Ethernet now, Wi-Fi next).

A driver is configured once (:meth:`NetworkInterface.configure`), then started and stopped any
number of times.  Its state changes (carrier, addresses) arrive as :class:`NetifEvent` objects
from the kernel (netlink), so :meth:`NetworkInterface.is_connected` and
:meth:`NetworkInterface.wait_event` never poll.

Errors are the ``networking`` exceptions Zerynth programs catch, plus
:class:`CantRegisterInterfaceError` (re-exported from ``networking``).  This module also holds
the development-host safety guard, :func:`ensure_may_reconfigure`.
"""
from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import NamedTuple

from kiln import netguard
from kiln.errors import (CantRegisterInterfaceError, ConnectionTimeoutError,  # noqa: F401
                         NetworkGenericError)  # re-exported for drivers

class NetifInfo(NamedTuple):
    """A snapshot of an interface's IPv4 configuration (strings; ``""`` when unset).

    It is a tuple in Zerynth's ``info()`` order: ``(dhcp, ip, mask, gateway, dns, mac)``.
    """

    dhcp: bool
    ip: str
    mask: str
    gateway: str
    dns: str
    mac: str


class NetifEvent(NamedTuple):
    """One state change of an interface.

    ``kind`` is one of ``"carrier_up"``, ``"carrier_down"``, ``"address_added"``,
    ``"address_removed"``, ``"link_removed"``; ``detail`` is the address (``"10.0.0.5/24"``) for
    address events and ``""`` otherwise; ``time`` is ``time.monotonic()`` at reception.
    """

    kind: str
    detail: str
    time: float


class NetworkInterface(abc.ABC):
    """One network interface driven by Kiln.  All timeouts are in milliseconds."""

    @abc.abstractmethod
    def configure(self, **params: object) -> None:
        """Store the configuration used by the next :meth:`start`; raises ValueError/TypeError
        naming the bad parameter.  Does not touch the interface."""

    @abc.abstractmethod
    def start(self, timeout_ms: int) -> None:
        """Bring the interface up and block until it has carrier and an address; raises
        ``ConnectionTimeoutError`` after ``timeout_ms`` (the interface is stopped again)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Release the address (DHCP release if any) and take the interface down.  Idempotent."""

    @abc.abstractmethod
    def info(self) -> NetifInfo:
        """The current configuration as the kernel reports it (non-blocking)."""

    @abc.abstractmethod
    def is_connected(self) -> bool:
        """True while started, with carrier and an IPv4 address (non-blocking, no syscall)."""

    @abc.abstractmethod
    def wait_event(self, timeout_ms: int | None = None) -> NetifEvent | None:
        """The next event since :meth:`start` (oldest first); blocks up to ``timeout_ms``
        (``None``: forever) and returns ``None`` if none arrived."""

    def events(self, timeout_ms: int | None = None) -> Iterator[NetifEvent]:
        """Iterate over events as they arrive; the iteration ends when none arrives within
        ``timeout_ms`` (``None``: never ends)."""
        while (event := self.wait_event(timeout_ms)) is not None:
            yield event


def ensure_may_reconfigure(ifname: str) -> None:
    """Raise ``NetworkGenericError`` unless Kiln may reconfigure interface ``ifname`` here
    (the rule, and why it is what it is: :mod:`kiln.netguard`)."""
    refusal = netguard.reconfigure_refusal()
    if refusal:
        raise NetworkGenericError(f"refusing to reconfigure {ifname!r}: {refusal}")
