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

This module runs at every boot before the app's first line: it imports nothing beyond what the
interpreter has already loaded (no pathlib, argparse or runpy), and the image's init calls
``main()`` through ``python3 -c`` rather than ``-m``.
"""
import builtins
import importlib
import importlib.machinery
import os
import sys

APIS = ("zerynth", "micropython", "cpython")
# What ``import socket`` (and friends) means inside the app, per API.
MODULE_ALIASES = {
    "zerynth": {"socket": "networking.socket"},
    "micropython": {"socket": "usocket"},
    "cpython": {},
}


def app_builtins(api):
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

    def __init__(self, app_dir, app_names):
        self.app_dir = os.path.realpath(app_dir)
        self.app_names = app_names

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path or [self.app_dir])
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None
        origin = os.path.realpath(spec.origin)
        if os.path.commonpath([origin, self.app_dir]) != self.app_dir:
            return None
        spec.loader = _AppLoader(fullname, spec.origin, self.app_names)
        return spec


def run(path, api="zerynth"):
    """Run the app at ``path`` as ``__main__`` under ``api``; its exceptions propagate."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"app {path!r} does not exist")
    names = app_builtins(api)
    app_dir = os.path.dirname(os.path.realpath(path))
    sys.path.insert(0, app_dir)
    if api != "cpython":
        sys.meta_path.insert(0, _AppFinder(app_dir, names))
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    main_module = type(sys)("__main__")
    main_module.__file__ = path
    main_module.__dict__["__builtins__"] = names
    sys.modules["__main__"] = main_module
    exec(code, main_module.__dict__)


USAGE = f"usage: python3 -m kiln.app [--api {'|'.join(APIS)}] main.py"


def _usage_error(message):
    print(f"{USAGE}\nerror: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv=None):
    """Command line: ``[--api API] main.py`` (``argv`` defaults to ``sys.argv[1:]``).

    Exits with status 2 and a usage message for bad arguments, 1 (with a traceback) when the
    app raises, 0 when it returns.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    api = "zerynth"
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE + "\n\n" + __doc__)
        sys.exit(0)
    if args[:1] == ["--api"] and len(args) >= 2:
        api, args = args[1], args[2:]
    elif args[:1] and args[0].startswith("--api="):
        api, args = args[0].split("=", 1)[1], args[1:]
    if len(args) != 1 or args[0].startswith("-"):
        _usage_error(f"expected one app path, got {args!r}")
    if api not in APIS:
        _usage_error(f"invalid choice: {api!r} (choose from {', '.join(APIS)})")
    sys.argv = [args[0]]
    run(args[0], api)
