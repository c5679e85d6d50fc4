"""The MicroPython runtime face of the app launcher (``--api micropython``)."""

#: What the app's imports mean under ``--api micropython`` (``kiln.app.module_aliases``).
ALIASES = {"socket": "usocket",
           "select": "uselect", "uselect": "uselect",
           "asyncio": "uasyncio", "uasyncio": "uasyncio"}
