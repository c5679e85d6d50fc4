"""A module in a folder without __init__.py, as ``mip`` installs micropython-lib's
``umqtt/simple.py``: a namespace package."""
import socket


def which_socket():
    return socket.__name__


def zerynth_sleep():
    try:
        return sleep.__module__   # noqa: F821 -- Zerynth's global, only under --api zerynth
    except NameError:
        return None
