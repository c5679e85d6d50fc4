"""What goes under ``/app`` on the board: the ``--app`` file, or the app's directory copied whole.

An app is a ``main.py`` (installed as ``/app/main.py``) or a directory holding one, copied with
everything in it: the modules next to ``main.py``, packages (folders with an ``__init__.py``,
and folders of modules without one, which CPython imports as namespace packages as MicroPython
imports any folder), the ``lib/`` folder that the launcher puts on the app's import path (where
MicroPython's ``mip`` installs), data files the app opens (certificates, JSON settings, web
pages...) and empty folders.

Refused, each with an error naming the path and the reason (all problems in one error), because
they cannot or should not go on a board:

- symbolic links pointing out of the app, at nothing, or at a folder containing them (a loop).
  A link to a file or folder *inside* the app is copied as what it points to;
- device files, FIFOs and sockets (only regular files and folders are copied);
- version-control folders (``.git``, ``.hg``, ``.svn``, ``.bzr``; also a ``.git`` file);
- byte-code and tool caches (``__pycache__``, ``.pytest_cache``, ``.mypy_cache``, ``.ruff_cache``,
  loose ``.pyc``/``.pyo``): the builder compiles the app's sources for the board itself;
- MicroPython byte-code (``.mpy``): Kiln runs the app on CPython, from its ``.py`` sources;
- editor and OS leftovers (``*~``, ``.*.swp``, ``.#*``, ``.DS_Store``, ``Thumbs.db``,
  ``desktop.ini``).
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from kiln.errors import KilnError

#: Folders on the app's import path, in the launcher's order (kiln.app.run): the app's own
#: folder, then ``lib/`` (MicroPython's sys.path is ``['', '/lib']``).
IMPORT_ROOTS = ("", "lib")

VCS = {".git", ".hg", ".svn", ".bzr"}
CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
LEFTOVERS = (("*~", "an editor's backup file"), (".*.swp", "a vim swap file"),
             (".*.swo", "a vim swap file"), (".#*", "an Emacs lock file"),
             (".DS_Store", "macOS Finder metadata"), ("Thumbs.db", "a Windows thumbnail cache"),
             ("desktop.ini", "Windows folder settings"))
_SPECIAL = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
            (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))
_MAX_LISTED = 20


class AppNotFoundError(KilnError, FileNotFoundError):
    """The ``--app`` file (or directory with a main.py) does not exist."""


class AppTreeError(KilnError, ValueError):
    """The app directory holds something that cannot go on a board; the message names every
    such path and why (``problems`` lists them as ``(path relative to the app, reason)``)."""

    def __init__(self, app: Path, problems: list[tuple[str, str]]) -> None:
        self.app, self.problems = app, problems
        lines = [f"  {rel}: {why}" for rel, why in problems[:_MAX_LISTED]]
        if len(problems) > _MAX_LISTED:
            lines.append(f"  ... and {len(problems) - _MAX_LISTED} more")
        super().__init__(f"app {app} holds what cannot go on a board:\n" + "\n".join(lines))


@dataclass(frozen=True)
class AppFile:
    """One file of the app: ``source`` on the host (a link's target), ``name`` its POSIX path
    below ``/app``, ``size`` in bytes."""

    source: Path
    name: str
    size: int


@dataclass(frozen=True)
class App:
    """The app as it goes on the board: its files and folders below ``/app``."""

    source: Path | None                 # what --app named (None: the demo app)
    files: tuple[AppFile, ...]
    dirs: tuple[str, ...] = ()          # every folder below /app, empty ones included

    @property
    def size(self) -> int:
        """Bytes of all files."""
        return sum(f.size for f in self.files)

    def python_files(self) -> list[Path]:
        """Host paths of the app's ``.py`` files (its code, ``lib/`` included)."""
        return [f.source for f in self.files if f.name.endswith(".py")]

    def summary(self) -> str:
        """``N files, B bytes (K folders)`` -- the size line of the build output."""
        folders = f" in {len(self.dirs)} folders" if self.dirs else ""
        return f"{len(self.files)} files, {self.size} bytes ({self.size / 1e3:.1f} kB){folders}"

    def digest_text(self) -> str:
        """The app by content (names, folders and each file's SHA-256), not by where it is on
        the host: the same app anywhere gives the same text, so its image is reused."""
        lines = [f"dir {d}\n" for d in self.dirs]
        for f in self.files:
            lines.append(f"file {f.name} {hashlib.sha256(f.source.read_bytes()).hexdigest()}\n")
        return "".join(lines)

    def provides(self, module: str) -> bool:
        """True when the app itself holds ``module`` (a dotted name) on its import path: a
        ``.py`` file or a package (folder with ``__init__.py``) in the app's folder or in
        ``lib/``, below folders of those names.  A bare folder does not count (see
        :meth:`namespace`): a regular module of the same name elsewhere wins over it."""
        names = {f.name for f in self.files}
        for base in self._bases(module):
            if f"{base}.py" in names or f"{base}/__init__.py" in names:
                return True
        return False

    def namespace(self, module: str) -> bool:
        """True when ``module`` is a folder of the app's import path (a namespace package,
        such as micropython-lib's ``umqtt``, unless a regular module of that name exists)."""
        folders = set(self.dirs)
        return any(base in folders for base in self._bases(module))

    def top_level_modules(self) -> dict[str, str]:
        """``{module name: path below /app}`` of the app's top-level modules and packages
        (``.py`` files, folders with an ``__init__.py``) -- what replaces a same-named module
        of the image for the whole program; the app's folder wins over ``lib/``."""
        found: dict[str, str] = {}
        names = {f.name for f in self.files}
        for root in IMPORT_ROOTS:
            prefix = f"{root}/" if root else ""
            for name in sorted(names):
                leaf = name[len(prefix):]
                if not name.startswith(prefix) or name in IMPORT_ROOTS:
                    continue
                if "/" not in leaf and leaf.endswith(".py") and leaf[:-3].isidentifier():
                    found.setdefault(leaf[:-3], name)
                elif leaf.count("/") == 1 and leaf.endswith("/__init__.py"):
                    package = leaf.split("/")[0]
                    if package.isidentifier() and f"{prefix}{package}" not in IMPORT_ROOTS:
                        found.setdefault(package, f"{prefix}{package}")
        return found

    @staticmethod
    def _bases(module: str) -> list[str]:
        parts = module.split(".")
        return ["/".join(p for p in [root, *parts] if p) for root in IMPORT_ROOTS]


def load(app: Path | None, demo: Path) -> App:
    """The :class:`App` of ``--app`` ``app``: a ``main.py``-style file, a directory holding
    ``main.py`` (copied whole, see the module docstring), or None for ``demo``.

    Reads the tree (no writes).  Raises :class:`AppNotFoundError` when the app or its
    ``main.py`` is missing, :class:`AppTreeError` naming every path that cannot go on a board.
    """
    if app is None:
        return App(None, (AppFile(demo, "main.py", demo.stat().st_size),))
    app = Path(app)
    if app.is_dir():
        return _load_dir(app)
    if not app.is_file():
        raise AppNotFoundError(f"app {app} does not exist: pass --app the path of the app's "
                               f"main.py (or of a directory holding it)")
    if app.suffix in (".mpy", ".pyc"):
        raise AppTreeError(app, [(app.name, _refusal(app.name, is_dir=False))])
    return App(app, (AppFile(app, "main.py", app.stat().st_size),))


def install(app: App, dest: Path) -> None:
    """Copy ``app`` into ``dest`` (the image's ``/app``): its folders (empty ones too) 0755, its
    files 0644 (0755 when executable on the host), a link's content as a regular file.
    Raises OSError when ``dest`` cannot be written."""
    dest.mkdir(parents=True, exist_ok=True)
    for d in app.dirs:
        (dest / d).mkdir(parents=True, exist_ok=True)
        (dest / d).chmod(0o755)
    for f in app.files:
        target = dest / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f.source, target)
        target.chmod(0o755 if os.access(f.source, os.X_OK) else 0o644)


def _load_dir(app: Path) -> App:
    top = Path(os.path.realpath(app))
    files: list[AppFile] = []
    dirs: list[str] = []
    problems: list[tuple[str, str]] = []

    def walk(real: Path, rel: str, ancestors: tuple[Path, ...]) -> None:
        try:
            entries = sorted(os.scandir(real), key=lambda e: e.name)
        except OSError as exc:
            problems.append((rel or ".", f"cannot be read: {exc.strerror}"))
            return
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir()          # follows links
                refused = _refusal(entry.name, is_dir)
                if refused:
                    problems.append((name, refused))
                    continue
                target = Path(entry.path)
                if entry.is_symlink():
                    link = os.readlink(entry.path)
                    target = Path(os.path.realpath(entry.path))
                    if not target.exists():
                        problems.append((name, f"is a symbolic link to {link}, which does not "
                                               f"exist"))
                        continue
                    if target != top and top not in target.parents:
                        problems.append((name, f"is a symbolic link to {target}, outside the "
                                               f"app: copy what it points to into the app (a "
                                               f"link to a file or folder inside the app is "
                                               f"copied as what it points to)"))
                        continue
                    if target in ancestors:
                        problems.append((name, f"is a symbolic link to {link}, a folder that "
                                               f"contains it: the copy would never end"))
                        continue
                st = target.stat()
            except OSError as exc:
                problems.append((name, f"cannot be read: {exc.strerror}"))
                continue
            if stat.S_ISDIR(st.st_mode):
                dirs.append(name)
                walk(target, name, ancestors + (target,))
            elif stat.S_ISREG(st.st_mode):
                if not os.access(target, os.R_OK):
                    problems.append((name, "cannot be read: permission denied"))
                    continue
                files.append(AppFile(target, name, st.st_size))
            else:
                kind = next(what for test, what in _SPECIAL if test(st.st_mode))
                problems.append((name, f"is {kind}: only regular files and folders can go on "
                                       f"a board"))

    walk(top, "", (top,))
    if problems:
        raise AppTreeError(app, problems)
    if not any(f.name == "main.py" for f in files):
        raise AppNotFoundError(f"app directory {app} has no main.py")
    return App(app, tuple(files), tuple(dirs))


def _refusal(name: str, is_dir: bool) -> str | None:
    """Why a file or folder called ``name`` cannot go on a board (None: it can)."""
    if name in VCS:
        return (f"is a version-control {'folder' if is_dir else 'file'}, which does not belong "
                f"on a board: point --app at a folder without it (an export such as "
                f"`git archive`, or the subfolder holding main.py)")
    if name in CACHES:
        return ("is a cache of host tools: the builder compiles the app's sources for the board "
                "itself; delete it (find APP -name __pycache__ -prune -exec rm -r {} +)"
                if name == "__pycache__" else
                "is a cache of host tools, not part of the app: delete it")
    if is_dir:
        return None
    if name.endswith((".pyc", ".pyo")):
        return ("is compiled CPython byte-code: ship the .py source; the builder compiles it "
                "for the board")
    if name.endswith(".mpy"):
        return ("is MicroPython byte-code (.mpy), which CPython cannot run: Kiln runs the app "
                "from its .py sources; ship the .py file (mip: mip.install(NAME, mpy=False); "
                "mpremote: mpremote mip install --no-mpy NAME)")
    for pattern, what in LEFTOVERS:
        if fnmatch.fnmatchcase(name, pattern):
            return f"is {what}, not part of the app: delete it"
    return None
