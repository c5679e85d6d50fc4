"""A face module that extends a CPython module: its own names first, then the real module's.

``forward.extend(__name__, real)`` at the end of a face module (``kiln.mpy.utime`` over ``time``,
``kiln.mpy.usys`` over ``sys``...) makes the module behave as ``real`` plus the names the face
defines: reading a name the face lacks reads it from ``real``; setting one sets it on ``real``
(``sys.stdout = stream`` in the app redirects the interpreter's stdout, as it should); ``dir()``
and ``from module import *`` see both.  One object, no copies: what the app changes through the
face, the standard library sees.
"""
import sys
import types


class FaceModule(types.ModuleType):
    """A module whose missing attributes are those of ``self.__kiln_real__``."""

    def __getattr__(self, name):
        real = self.__dict__["__kiln_real__"]
        try:
            return getattr(real, name)
        except AttributeError:
            raise AttributeError(f"module {self.__name__!r} (MicroPython's "
                                 f"{real.__name__!r}) has no attribute {name!r}") from None

    def __setattr__(self, name, value):
        if name in self.__dict__ or name.startswith("__"):
            super().__setattr__(name, value)
        else:
            setattr(self.__dict__["__kiln_real__"], name, value)

    def __delattr__(self, name):
        if name in self.__dict__:
            super().__delattr__(name)
        else:
            delattr(self.__dict__["__kiln_real__"], name)

    def __dir__(self):
        return sorted(set(self.__dict__) | set(dir(self.__dict__["__kiln_real__"])))


def extend(name, real):
    """Turn the loaded module ``name`` into a :class:`FaceModule` over the module ``real``.

    Its ``__all__`` becomes the public names of both (``from module import *``); the face's
    own helpers and imports must be private (``_name``)."""
    module = sys.modules[name]
    own = {n for n in vars(module) if not n.startswith("_")}
    inherited = getattr(real, "__all__", None)
    if inherited is None:
        inherited = [n for n in dir(real) if not n.startswith("_")]
    module.__dict__["__kiln_real__"] = real
    module.__dict__["__all__"] = sorted(own | set(inherited))
    module.__class__ = FaceModule
    return module
