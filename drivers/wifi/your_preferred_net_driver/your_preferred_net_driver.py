"""The board's default Wi-Fi driver module (the board file's ``[bsp] wifi_driver``, exported by the
image's init as ``$KILN_WIFI_DRIVER``), so Zerynth's example programs run as written."""
import importlib
import os

from driver.wifi import DRIVER_ENV
from kiln.errors import WifiException


def _board_driver():
    name = os.environ.get(DRIVER_ENV, "")
    if not name:
        raise WifiException(f"this board names no Wi-Fi driver (${DRIVER_ENV} is unset; the "
                            f"board file's [bsp] wifi_driver sets it)")
    return importlib.import_module(f"driver.wifi.{name}.{name}")


def init():
    """``init()`` of the board's Wi-Fi driver module; returns the registered interface."""
    return _board_driver().init()


def auto_init():
    """``auto_init()`` of the board's Wi-Fi driver module."""
    return _board_driver().auto_init()
