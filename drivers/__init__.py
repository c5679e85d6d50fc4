"""Kiln's network-interface drivers: the importable package ``driver`` (Zerynth's name).

``driver.eth.<name>`` and ``driver.wifi.<name>`` hold the drivers behind ``networking.eth`` and
``networking.wifi``; :mod:`driver.netif` is the small interface every one of them implements
(configure, start, stop, info, is_connected, events).

Development-host safety: drivers reconfigure an interface only on a Kiln image
(``/etc/kiln/board.toml``), inside a network namespace Kiln created (``/run/netns/kiln-*``), or with
``KILN_ALLOW_HOST_NETWORK=1`` (see :mod:`kiln.netguard`).
"""
