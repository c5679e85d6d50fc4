"""Wi-Fi drivers behind ``networking.wifi``, ``wireless.wifi`` and ``network.WLAN``.

Zerynth's shape: a driver module ``driver.wifi.<name>.<name>`` whose ``init()`` (or
``auto_init()``) registers the board's radio; the Wi-Fi API then forwards to the registered
driver.  On Linux every chip is driven the same way -- wpa_supplicant associates
(:mod:`driver.wifi.linux`), the shared IP layer (:mod:`driver.ip`) does the rest -- and a driver
module only checks that its kernel driver is there and picks the interface:

- ``driver.wifi.brcmfmac``  the Raspberry Pi 3/4/Zero 2 W radio (Broadcom/Cypress, SDIO);
- ``driver.wifi.hwsim``     QEMU's simulated radios (``mac80211_hwsim``, the test lab);
- ``driver.wifi.your_preferred_net_driver``  the board's default (the board file's
  ``[bsp] wifi_driver``), so Zerynth's example programs run as written.
"""
from __future__ import annotations

import os

from kiln.errors import WifiException

#: Environment variable naming the board's default Wi-Fi driver module (from the board file).
DRIVER_ENV = "KILN_WIFI_DRIVER"

_registered = None


def register(interface) -> None:
    """Make ``interface`` (a :class:`driver.wifi.linux.LinuxWifi`) the one the Wi-Fi API uses."""
    global _registered
    _registered = interface


def registered():
    """The registered Wi-Fi interface, or ``None`` before any driver's ``init()``."""
    return _registered


def default():
    """The registered interface, else the board's default driver initialised now (Zerynth v3
    programs never call a driver's ``init()``).  Raises ``WifiException`` naming the fix."""
    if _registered is not None:
        return _registered
    name = os.environ.get(DRIVER_ENV, "")
    if not name:
        raise WifiException(f"no Wi-Fi driver initialised and the board names none "
                            f"(${DRIVER_ENV}); call driver.wifi.<name>.<name>.init()")
    import importlib
    module = importlib.import_module(f"driver.wifi.{name}.{name}")
    return module.init()
