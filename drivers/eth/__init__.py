"""Ethernet drivers behind ``networking.eth``.

- :mod:`driver.eth.linux`  the Linux driver (:class:`~driver.eth.linux.LinuxEthernet`).
- :mod:`driver.eth.rtnl`   a small stdlib-only rtnetlink client (links, addresses, routes, events).
- :mod:`driver.eth.dhcp`   busybox ``udhcpc`` as the DHCP client, with ``udhcpc.script``.

Everything here is stdlib-only so it runs on the image's bare Python.
"""
