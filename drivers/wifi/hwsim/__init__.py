"""``from driver.wifi.hwsim import hwsim``: see :mod:`driver.wifi.hwsim.hwsim`."""
