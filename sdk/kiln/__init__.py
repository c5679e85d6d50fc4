"""Kiln: microcontroller-style Python for ARM Linux boards.

The on-device API lives in the top-level packages ``networking`` (Zerynth style) and ``usocket``
(MicroPython style); ``kiln`` holds the shared Cython core (``kiln.net``) and the host tooling
(the ``kiln`` command).
"""
__version__ = "0.1.0"
