"""Wi-Fi security modes: Zerynth OS v3's constants (values 0..7 in this order), shared by the
driver, ``networking.wifi``, ``wireless.wifi`` (v2 uses the first four), ``network`` and the
Zerynth app globals.  Imports nothing (the app launcher reads it at start-up)."""
OPEN, WEP, WPA, WPA2, WPA_WPA2, WPA2_ENTERPRISE, WPA3, WPA2_WPA3 = range(8)
NAMES = ("OPEN", "WEP", "WPA", "WPA2", "WPA_WPA2", "WPA2_ENTERPRISE", "WPA3", "WPA2_WPA3")
