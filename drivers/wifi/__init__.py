"""Wi-Fi drivers behind ``networking.wifi`` (placeholder: none yet).

A Wi-Fi driver implements :class:`driver.netif.NetworkInterface` and reuses the Ethernet driver's
netlink layer (:mod:`driver.eth.rtnl`) and DHCP client (:mod:`driver.eth.dhcp`) once associated.
"""
