"""Root filesystem assembly: unpack ``.deb`` files, prune by recipe, drop unused libraries."""
from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from pathlib import Path

from kiln.host.image import elf


def unpack(debs: list[Path], root: Path) -> None:
    """Extract every ``.deb`` into ``root`` with ``dpkg-deb -x`` (no maintainer scripts run)."""
    root.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)


def matches(rel: str, patterns: tuple[str, ...]) -> bool:
    """Whether image path ``rel`` (no leading ``/``) matches one of the glob ``patterns``."""
    return any(fnmatch.fnmatchcase(rel, p) for p in patterns)


def prune(root: Path, patterns: tuple[str, ...], keep: tuple[str, ...] = ()) -> list[str]:
    """Delete paths matching ``patterns`` unless they match (or contain) a ``keep`` path.

    Returns the removed image paths.  A matching directory goes with its whole tree.
    """
    removed = []
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        base = Path(dirpath)
        for name in list(dirnames) + filenames:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if not matches(rel, patterns):
                continue
            if any(k == rel or k.startswith(rel + "/") for k in keep):
                continue  # something inside is kept: descend and prune around it
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
                dirnames.remove(name)
            else:
                path.unlink()
            removed.append(rel)
    return removed


def library_dirs(triplet: str) -> tuple[str, ...]:
    """Directories the dynamic loader searches on a Debian multiarch system, in order."""
    return (f"lib/{triplet}", f"usr/lib/{triplet}", "lib", "usr/lib")


def _inside(root: Path, path: Path) -> Path:
    """Resolve ``path`` (possibly a symlink with an absolute target) without leaving ``root``."""
    for _ in range(40):
        if not path.is_symlink():
            return path
        target = Path(os.readlink(path))
        path = root / target.relative_to("/") if target.is_absolute() else path.parent / target
        path = Path(os.path.normpath(path))
    raise OSError(f"symlink loop at {path}")


def prune_libraries(root: Path, triplet: str) -> list[str]:
    """Remove shared libraries no remaining executable or extension module needs.

    Roots are ELF files outside the library directories (interpreter, busybox, Python extension
    modules, Kiln's ``.so``); their ``DT_NEEDED`` closure is kept.  Returns removed image paths.
    """
    lib_dirs = [root / d for d in library_dirs(triplet)]
    libs: dict[str, list[Path]] = {}
    for d in lib_dirs:
        if d.is_dir():
            for p in d.iterdir():
                if ".so" in p.name and (p.is_file() or p.is_symlink()):
                    libs.setdefault(p.name, []).append(p)
    lib_paths = {p for paths in libs.values() for p in paths}
    # Roots: programs and Python extension modules.  Plugins living below the library
    # directories (e.g. krb5/plugins) are not roots: they stay only if the recipe keeps them.
    roots = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
             and p not in lib_paths and not any(d in p.parents for d in lib_dirs[:2])
             and elf.is_elf(p) and elf.read(p).elf_type in (2, 3)]
    keep: set[Path] = set()
    todo = [n for r in roots for n in elf.read(r).needed]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for path in libs.get(name, [])[:1]:
            keep.add(path)
            real = _inside(root, path)
            keep.add(real)
            for hop in _symlink_chain(root, path):
                keep.add(hop)
            if elf.is_elf(real):
                todo.extend(elf.read(real).needed)
    removed = []
    for path in sorted(lib_paths - keep):
        if _inside(root, path) in keep and path.is_symlink():
            continue  # an alias (e.g. libfoo.so.1 -> libfoo.so.1.2) of a kept library
        path.unlink()
        removed.append(path.relative_to(root).as_posix())
    return removed


def _symlink_chain(root: Path, path: Path) -> list[Path]:
    chain = []
    for _ in range(40):
        chain.append(path)
        if not path.is_symlink():
            break
        target = Path(os.readlink(path))
        path = Path(os.path.normpath(root / target.relative_to("/") if target.is_absolute()
                                     else path.parent / target))
    return chain


def remove_empty_dirs(root: Path) -> None:
    """Remove directories left empty by pruning (bottom-up; ``root`` itself stays)."""
    for dirpath, _dirnames, _filenames in os.walk(root, topdown=False):
        path = Path(dirpath)
        if path != root and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
