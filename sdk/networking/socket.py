"""Zerynth's socket module (``from networking import socket``), served by Kiln's Cython core.

See ``kiln.net.zsocket`` for the semantics (milliseconds, recv waits for bufsize, bytearray).
"""
from kiln.net.zsocket import *  # noqa: F401,F403
from kiln.net.zsocket import __all__  # noqa: F401
