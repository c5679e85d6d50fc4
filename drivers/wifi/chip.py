"""What every ``driver.wifi.<name>`` module's ``init()`` does: check that the chip's kernel
driver is loaded, pick its interface and register a :class:`~driver.wifi.linux.LinuxWifi`."""
from __future__ import annotations

import os

from driver import wifi
from driver.wifi.linux import IFACE_ENV, LinuxWifi, is_wireless
from kiln.errors import WifiException


def interfaces_of(kernel_module: str) -> list[str]:
    """Wireless interfaces whose radio belongs to ``kernel_module`` (sorted)."""
    found = []
    try:
        names = sorted(os.listdir("/sys/class/net"))
    except OSError:
        return []
    for name in names:
        if not is_wireless(name):
            continue
        module = os.path.realpath(f"/sys/class/net/{name}/device/driver/module")
        if os.path.basename(module) == kernel_module:
            found.append(name)
    return found


def init(kernel_module: str) -> LinuxWifi:
    """Register the radio driven by ``kernel_module``: the board's Wi-Fi interface
    (``$KILN_WIFI_IFACE``) when it is that chip's, else the chip's first interface.  Returns the
    registered interface; raises ``WifiException`` when the module is not loaded or drives no
    interface.  Calling it again returns the same interface."""
    current = wifi.registered()
    if current is not None and getattr(current, "kernel_module", None) == kernel_module:
        return current
    if not os.path.isdir(f"/sys/module/{kernel_module}"):
        raise WifiException(f"the {kernel_module} kernel module is not loaded (no such radio "
                            f"on this board, or its firmware is missing)")
    candidates = interfaces_of(kernel_module)
    wanted = os.environ.get(IFACE_ENV, "")
    if wanted and wanted in candidates:
        ifname = wanted
    elif candidates:
        ifname = candidates[0]
    else:
        raise WifiException(f"{kernel_module} is loaded but drives no wireless interface")
    interface = LinuxWifi(ifname)
    interface.kernel_module = kernel_module  # type: ignore[attr-defined]
    wifi.register(interface)
    return interface
