"""The MicroPython runtime face of the app launcher (``--api micropython``)."""

#: What the app's imports mean under ``--api micropython`` (``kiln.app.module_aliases``).
ALIASES = {"socket": "usocket", "tls": "kiln.net.utls", "ssl": "kiln.net.ussl",
           "ussl": "kiln.net.ussl"}
