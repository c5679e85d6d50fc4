"""QEMU's simulated radios (kernel ``mac80211_hwsim``), used by Kiln's Wi-Fi test lab: one radio is
the board's station (``wlan0``), another the lab's access point.

``from driver.wifi.hwsim import hwsim; hwsim.init()`` registers the station radio."""
from driver.wifi import chip

KERNEL_MODULE = "mac80211_hwsim"


def init():
    """Register the board's simulated station radio; returns the interface.  Raises
    ``WifiException`` when mac80211_hwsim is not loaded."""
    return chip.init(KERNEL_MODULE)


def auto_init():
    """Zerynth's name for :func:`init` (no arguments on Linux)."""
    return init()
