"""A single-file library in lib/, as ``mip`` installs one (``lib/NAME.py``)."""
import socket

WHERE = "lib"


def which_socket():
    return socket.__name__
