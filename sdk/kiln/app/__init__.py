"""The app launcher: runs a user's ``main.py`` the way Zerynth or MicroPython would.

``python3 -m kiln.app [--api zerynth|micropython|cpython] [--net SPEC] main.py`` (the image's
init and ``kiln run`` use it).  ``--net`` (the image's ``kiln.net=`` kernel argument) brings the
board's network up first, through ``networking.eth`` (:mod:`kiln.app.bootnet`), and prints the
console lines of the boot contract: ``KILN: net ...``, then ``KILN: app start <path>`` right
before the app runs.

The app is a folder (the one holding ``main.py``, ``/app`` on a board): it becomes the current
directory, so the app opens its data files by relative paths (``open("settings.json")``), and it
and its ``lib/`` folder come first on the import path, in MicroPython's order (``sys.path`` is
``['', '/lib']`` there; ``mip`` installs into ``lib/``).  Packages (folders with an
``__init__.py``) and folders of modules without one (namespace packages: micropython-lib's
``umqtt/simple.py``) import from both.  A module there whose name is also a standard-library
module replaces it for the whole program, as a script's folder does in CPython.  The app's
code — ``main.py``, its modules and packages and those of ``lib/`` — gets its own
``__builtins__``:

- ``zerynth`` (default): the globals Zerynth programs use without importing them (``sleep(ms)``,
  ``thread``, ``print(..., stream=)``, ``new_exception``, the exception names, ``WIFI_*``
  security constants, ``SOCK_*``/``AF_*``...) in a ``__builtins__`` module the app may change
  (``__builtins__.__default_stream = s``); ``import socket`` gives ``networking.socket``,
  ``import streams``/``timers``/``threading``/``requests`` Zerynth's (:mod:`kiln.zerynth`);
  its source is compiled by the face (Zerynth's ``new_exception(Name, ...)`` statement);
- ``micropython``: ``const`` without an import, as MicroPython's parser; ``import socket``
  gives ``usocket``, ``import time`` MicroPython's ``time`` and so on
  (``kiln.app.micropython.ALIASES``, the modules of :mod:`kiln.mpy`);
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


def module_aliases(api):
    """What ``import socket`` (and friends) means inside the app under ``api``: ``{name the app
    imports: module it gets}``, declared by each API's face (``ALIASES`` in
    :mod:`kiln.app.zerynth`, :mod:`kiln.app.micropython`)."""
    if api == "zerynth":
        from kiln.app.zerynth import ALIASES
    elif api == "micropython":
        from kiln.app.micropython import ALIASES
    else:
        ALIASES = {}
    return ALIASES


def app_builtins(api):
    """The ``__builtins__`` dict for app code under ``api`` (see the module docstring)."""
    if api not in APIS:
        raise ValueError(f"unknown app API {api!r}: choose one of {', '.join(APIS)}")
    names = dict(vars(builtins))
    if api == "zerynth":
        from kiln.app.zerynth import zerynth_globals
        names.update(zerynth_globals())
    elif api == "micropython":
        from kiln.app.micropython import micropython_globals
        names.update(micropython_globals())
    aliases = module_aliases(api)
    if aliases:
        real_import = builtins.__import__

        def __import__(name, globals=None, locals=None, fromlist=(), level=0):
            if level == 0:
                target = aliases.get(name)
                if target is not None:
                    return importlib.import_module(target)
                head, dot, _ = name.partition(".")
                if dot and not fromlist and head in aliases:
                    # ``import os.path`` binds ``os``: the aliased one, with os.path loaded
                    real_import(name, globals, locals, fromlist, level)
                    return importlib.import_module(aliases[head])
            return real_import(name, globals, locals, fromlist, level)

        names["__import__"] = __import__
    return names


#: Optimisation level of the app modules compiled from now on (``compile``'s ``optimize``);
#: -1: the interpreter's.  ``micropython.opt_level`` sets it.
optimize = -1


def app_namespace(api):
    """``(builtins, compile)`` for app code under ``api``: the object the app sees as
    ``__builtins__`` (:func:`app_builtins`, or the face's module holding them: Zerynth's) and
    the function compiling its source (``compile(source, path)``: the face's, or the
    interpreter's)."""
    names = app_builtins(api)
    if api == "zerynth":
        from kiln.app.zerynth import compile_source, namespace
        return namespace(names), compile_source
    return names, None


class _AppLoader(importlib.machinery.SourceFileLoader):
    """Loads the app's own modules with the app's builtins (and the face's compiler)."""

    def __init__(self, fullname, path, app_names, compile_app=None):
        super().__init__(fullname, path)
        self._app_names = app_names
        self._compile_app = compile_app

    def get_code(self, fullname):
        if self._compile_app is not None:       # the face's compiler (Zerynth's)
            return self._compile_app(self.get_data(self.path), self.path)
        if optimize < 0:
            return super().get_code(fullname)
        # Compiled here at the level asked for, bypassing the bytecode cache (made at the
        # interpreter's level).
        path = self.get_filename(fullname)
        return compile(self.get_data(path), path, "exec", dont_inherit=True, optimize=optimize)

    def exec_module(self, module):
        module.__dict__["__builtins__"] = self._app_names
        super().exec_module(module)


def import_roots(app_dir):
    """The folders on the app's import path, first to last: the app's folder and its
    ``lib/`` (the order of MicroPython's ``sys.path``, ``['', '/lib']``)."""
    return [app_dir, os.path.join(app_dir, "lib")]


class _AppFinder:
    """Meta-path finder giving the app's modules -- in its folder and ``lib/``, packages and
    their submodules included -- the app's builtins."""

    def __init__(self, app_dir, app_names, compile_app=None):
        self.app_dir = os.path.realpath(app_dir)
        self.app_names = app_names
        self.roots = import_roots(self.app_dir)
        self._prefix = os.path.join(self.app_dir, "")
        self.compile_app = compile_app

    def find_spec(self, fullname, path=None, target=None):
        if path is None:
            search = self.roots
        else:   # a submodule: only packages of the app are the app's (not the stdlib's)
            search = [p for p in path if isinstance(p, str) and
                      (p == self.app_dir or p.startswith(self._prefix))]
            if not search:
                return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, search)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return None     # not the app's, or a namespace package: the path finder's job
        origin = os.path.realpath(spec.origin)
        if os.path.commonpath([origin, self.app_dir]) != self.app_dir:
            return None
        spec.loader = _AppLoader(fullname, spec.origin, self.app_names, self.compile_app)
        return spec


def run(path, api="zerynth"):
    """Run the app at ``path`` as ``__main__`` under ``api``; its exceptions propagate.

    The app's folder (``path``'s) becomes the process's current directory, and it and its
    ``lib/`` go first on ``sys.path`` (see the module docstring).  Raises FileNotFoundError
    when ``path`` is not a file, ValueError for an unknown ``api``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"app {path!r} does not exist")
    names, compile_app = app_namespace(api)
    path = os.path.abspath(path)
    app_dir = os.path.dirname(os.path.realpath(path))
    sys.path[0:0] = import_roots(app_dir)
    os.chdir(app_dir)
    if api != "cpython":
        sys.meta_path.insert(0, _AppFinder(app_dir, names, compile_app))
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec") if compile_app is None else compile_app(source, path)
    main_module = type(sys)("__main__")
    main_module.__file__ = path
    main_module.__dict__["__builtins__"] = names
    sys.modules["__main__"] = main_module
    exec(code, main_module.__dict__)


USAGE = f"usage: python3 -m kiln.app [--api {'|'.join(APIS)}] [--net SPEC] main.py"


def _usage_error(message):
    print(f"{USAGE}\nerror: {message}", file=sys.stderr)
    sys.exit(2)


def _options(args):
    """Split ``--api X`` / ``--api=X`` / ``--net X`` / ``--net=X`` off ``args``."""
    found = {"api": "zerynth", "net": None}
    while args and args[0].startswith("--"):
        name, sep, value = args[0][2:].partition("=")
        if name not in found:
            break
        if sep:
            args = args[1:]
        elif len(args) >= 2:
            value, args = args[1], args[2:]
        else:
            _usage_error(f"--{name} needs a value")
        found[name] = value
    return found["api"], found["net"], args


def main(argv=None):
    """Command line: ``[--api API] [--net SPEC] main.py`` (``argv`` defaults to
    ``sys.argv[1:]``).

    Exits with status 2 and a usage message for bad arguments, 1 (with a traceback) when the
    app raises, 0 when it returns.  A network that fails to come up is reported on the
    ``KILN: net failed ...`` line and the app still runs (it may bring the network up itself).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE + "\n\n" + __doc__)
        sys.exit(0)
    api, net, args = _options(args)
    if len(args) != 1 or args[0].startswith("-"):
        _usage_error(f"expected one app path, got {args!r}")
    if api not in APIS:
        _usage_error(f"invalid choice: {api!r} (choose from {', '.join(APIS)})")
    if net is not None:             # the image's init: bring the network up, tell the host
        from kiln.app.bootnet import bring_up
        print(bring_up(net), flush=True)
        print(f"KILN: app start {args[0]}", flush=True)
    sys.argv = [args[0]]
    run(args[0], api)
