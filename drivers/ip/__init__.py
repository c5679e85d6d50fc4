"""The IP layer every interface driver hands its link to, once the link has a carrier.

- :mod:`driver.ip.layer`  :class:`~driver.ip.layer.IpLayer`: DHCP or static IPv4, default route,
  DNS, link/address events, renewal after a carrier comes back; :func:`~driver.ip.layer.ip_config`
  validates a configuration.
- :mod:`driver.ip.rtnl`   a small stdlib-only rtnetlink client (links, addresses, routes, events).
- :mod:`driver.ip.dhcp`   busybox ``udhcpc`` as the DHCP client, with ``udhcpc.script`` (the one
  DHCP event script and lease-state format of Kiln, used by the image's boot too).

The shape is MicroPython's ``mod_network_nic_ipconfig``, shared by its Wi-Fi and Ethernet drivers.
"""
