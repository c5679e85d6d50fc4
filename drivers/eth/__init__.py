"""Ethernet drivers behind ``networking.eth``.

- :mod:`driver.eth.linux`  the Linux driver (:class:`~driver.eth.linux.LinuxEthernet`): picks the
  interface, brings the link up, waits for a carrier; IPv4 is the shared IP layer's job
  (:mod:`driver.ip`).

Everything here is stdlib-only so it runs on the image's bare Python.
"""
