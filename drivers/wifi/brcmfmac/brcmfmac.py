"""The Raspberry Pi 3/4/Zero 2 W radio (Broadcom/Cypress CYW43xxx on SDIO, kernel ``brcmfmac``).

``from driver.wifi.brcmfmac import brcmfmac; brcmfmac.init()`` registers it for ``wireless.wifi``
and ``networking.wifi``.  The firmware, NVRAM and CLM files come from Debian's
``firmware-brcm80211`` package in the image."""
from driver.wifi import chip

KERNEL_MODULE = "brcmfmac"


def init():
    """Register the board's brcmfmac radio; returns the interface.  Raises ``WifiException``
    when the module is not loaded or has no interface (firmware missing)."""
    return chip.init(KERNEL_MODULE)


def auto_init():
    """Zerynth's name for :func:`init` on boards whose pins are fixed (no arguments on Linux)."""
    return init()
