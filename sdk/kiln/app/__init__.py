"""The app launcher: runs a user's ``main.py`` the way Zerynth or MicroPython would.

``python3 -m kiln.app [--api zerynth|micropython|cpython] main.py`` (the image's init and
``kiln run`` use it).  The app's code — ``main.py`` and the modules next to it — gets its own
``__builtins__``:

- ``zerynth`` (default): the globals Zerynth programs use without importing them (``sleep(ms)``,
  the exception names, ``WIFI_*`` security constants, ``SOCK_*``/``AF_*``...), and ``import
  socket`` gives ``networking.socket``;
- ``micropython``: ``import socket`` gives ``usocket``;
- ``cpython``: nothing changes.

Only the app's imports are redirected: the standard library (``http.client``, ``ssl``, ...) keeps
CPython's real ``socket``, because it runs with the interpreter's normal builtins.
"""
from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import os
import sys
from pathlib import Path

APIS = ("zerynth", "micropython", "cpython")
# What ``import socket`` (and friends) means inside the app, per API.
MODULE_ALIASES = {
    "zerynth": {"socket": "networking.socket"},
    "micropython": {"socket": "usocket"},
    "cpython": {},
}


def app_builtins(api: str) -> dict:
    """The ``__builtins__`` dict for app code under ``api`` (see the module docstring)."""
    if api not in APIS:
        raise ValueError(f"unknown app API {api!r}: choose one of {', '.join(APIS)}")
    names = dict(vars(builtins))
    if api == "zerynth":
        from kiln.app.zerynth import zerynth_globals
        names.update(zerynth_globals())
    aliases = MODULE_ALIASES[api]
    if aliases:
        real_import = builtins.__import__

        def __import__(name, globals=None, locals=None, fromlist=(), level=0):
            target = aliases.get(name) if level == 0 else None
            if target is None:
                return real_import(name, globals, locals, fromlist, level)
            return importlib.import_module(target)

        names["__import__"] = __import__
    return names


class _AppLoader(importlib.machinery.SourceFileLoader):
    """Loads the app's own modules with the app's builtins."""

    def __init__(self, fullname, path, app_names):
        super().__init__(fullname, path)
        self._app_names = app_names

    def exec_module(self, module):
        module.__dict__["__builtins__"] = self._app_names
        super().exec_module(module)


class _AppFinder:
    """Meta-path finder giving modules that live in the app's directory the app's builtins."""

    def __init__(self, app_dir: Path, app_names: dict):
        self.app_dir = app_dir.resolve()
        self.app_names = app_names

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path or [str(self.app_dir)])
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        if not Path(spec.origin).resolve().is_relative_to(self.app_dir):
            return None
        spec.loader = _AppLoader(fullname, spec.origin, self.app_names)
        return spec


def run(path: str | os.PathLike, api: str = "zerynth") -> None:
    """Run the app at ``path`` as ``__main__`` under ``api``; its exceptions propagate."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"app {str(path)!r} does not exist")
    names = app_builtins(api)
    app_dir = path.resolve().parent
    sys.path.insert(0, str(app_dir))
    if api != "cpython":
        sys.meta_path.insert(0, _AppFinder(app_dir, names))
    code = compile(path.read_bytes(), str(path), "exec")
    main = type(sys)("__main__")
    main.__file__ = str(path)
    main.__dict__["__builtins__"] = names
    sys.modules["__main__"] = main
    exec(code, main.__dict__)
