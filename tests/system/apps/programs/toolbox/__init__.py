"""A regular package of the program-test app: relative imports, a subpackage, the app's
builtins in its modules."""
from . import units  # noqa: F401 (the package's API)
from .units import scale  # noqa: F401
from .text import fmt  # noqa: F401


def which_socket():
    """The module the app's ``import socket`` gives inside this package."""
    import socket
    return socket.__name__


def zerynth_sleep():
    """Where the builtin ``sleep`` of this module comes from (None: there is none)."""
    try:
        return sleep.__module__   # noqa: F821 -- Zerynth's global, only under --api zerynth
    except NameError:
        return None
