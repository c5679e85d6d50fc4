"""Wi-Fi drivers behind ``networking.wifi`` (placeholder: none yet).

A Wi-Fi driver associates (wpa_supplicant) and hands the associated link to the shared IP layer
(:class:`driver.ip.layer.IpLayer`), exactly as the Ethernet driver does once it has a carrier.
"""
