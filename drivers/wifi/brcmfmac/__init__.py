"""``from driver.wifi.brcmfmac import brcmfmac``: see :mod:`driver.wifi.brcmfmac.brcmfmac`."""
