"""Which Python standard-library modules the image needs, and pruning of the rest.

A static import scan (``ast`` over the *target's* stdlib sources) starts from the recipe's
keep-list and every module the app and Kiln import (anywhere in their code) and follows what
each module imports at import time.  Modules the app or Kiln import directly are always kept;
the recipe's ``scan_exclude`` only stops the scan from following optional stdlib-internal
imports.  The builder then imports every Kiln module under qemu-user to prove the result.
"""
from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

_PYX_IMPORT_RE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+(?:c?import)|import\s+([\w., ]+))",
                            re.MULTILINE)


def direct_imports(files: list[Path]) -> set[str]:
    """Top-level and dotted module names imported by ``.py`` / ``.pyx`` ``files`` (absolute only).

    ``.pyx`` files are scanned with a regular expression; ``cimport`` lines are ignored.
    """
    names: set[str] = set()
    for path in files:
        text = path.read_text(errors="replace")
        if path.suffix == ".py":
            try:
                tree = ast.parse(text, str(path))
            except SyntaxError as exc:
                raise SyntaxError(f"{path}: {exc}") from None
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)
        else:
            for line in text.splitlines():
                if re.match(r"^\s*(from\s+\S+\s+cimport|cimport)\b", line):
                    continue
                m = _PYX_IMPORT_RE.match(line)
                if m:
                    names.update(n.strip().split(" as ")[0].strip()
                                 for n in (m.group(1) or m.group(2)).split(",") if n.strip())
    return names


def _module_file(name: str, path: list[Path], ext_suffix: str) -> Path | None:
    """Source (or extension) file of module ``name`` on ``path``, or None if not found."""
    parts = name.split(".")
    for base in path:
        pkg = base.joinpath(*parts)
        for candidate in (pkg / "__init__.py", pkg.with_name(parts[-1] + ".py"),
                          pkg.with_name(parts[-1] + ext_suffix)):
            if candidate.is_file():
                return candidate
    return None


def import_time_imports(source: str, name: str, is_package: bool) -> set[str]:
    """Absolute names a module imports *while it is being imported*.

    Imports at module level (including inside ``if``/``try``/``with`` and class bodies) count;
    imports inside functions are lazy and do not (the recipe's keep-list covers the lazy ones
    an app needs).  ``from pkg import x`` yields ``pkg`` and ``pkg.x`` (x may be a submodule).
    Relative imports are resolved against ``name``.
    """
    tree = ast.parse(source)
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base_parts = package.split(".") if package else []
                    base_parts = base_parts[:len(base_parts) - (child.level - 1)]
                    base = ".".join(base_parts + ([child.module] if child.module else []))
                else:
                    base = child.module or ""
                if base:
                    found.add(base)
                    found.update(f"{base}.{alias.name}" for alias in child.names
                                 if alias.name != "*")
            visit(child)

    visit(tree)
    return found


def needed_modules(stdlib: Path, roots: set[str], scan_exclude: tuple[str, ...],
                   extra_path: tuple[Path, ...] = (),
                   ext_suffix: str = ".so") -> dict[str, Path | None]:
    """Map of module name -> file for every module needed to import ``roots``.

    ``stdlib`` is the target's ``usr/lib/python3.X`` (its ``lib-dynload`` holds extensions
    named ``<module><ext_suffix>``); ``extra_path`` holds more import roots.  Every root
    found is kept, with its parent packages and what they import at import time (see
    :func:`import_time_imports`).  A module named in ``scan_exclude`` is not followed when
    only the stdlib reaches it; roots are never excluded.  Names that resolve to no file
    (builtins, attributes of ``from x import y``, missing optional modules) are skipped.
    """
    path = [stdlib, stdlib / "lib-dynload", *extra_path]
    excluded = {m for m in scan_exclude if m not in roots}
    found: dict[str, Path | None] = {}
    todo = sorted(roots)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        if name not in roots and (name in excluded or name.split(".")[0] in excluded):
            continue
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        file = _module_file(name, path, ext_suffix)
        if file is None:
            continue
        found[name] = file
        if file.suffix == ".py":
            text = file.read_text(errors="replace")
            try:
                todo.extend(import_time_imports(text, name, file.name == "__init__.py"))
            except SyntaxError as exc:
                raise SyntaxError(f"{file}: {exc}") from None
    return found


def prune_stdlib(stdlib: Path, modules: dict[str, Path | None], ext_suffix: str) -> tuple[int, int]:
    """Delete stdlib ``.py`` files and ``lib-dynload`` extensions not in ``modules``.

    Packages keep their ``__init__.py``; ``ext_suffix`` is the target's extension suffix
    (``.cpython-311-aarch64-linux-gnu.so``).  Returns (files kept, files removed).
    """
    keep: set[Path] = set()
    for name, file in modules.items():
        if file is not None:
            keep.add(file.resolve())
        ext = stdlib / "lib-dynload" / f"{name}{ext_suffix}"
        if ext.exists():
            keep.add(ext.resolve())
        parts = name.split(".")
        for i in range(1, len(parts)):  # parent packages of a kept submodule
            keep.add((stdlib.joinpath(*parts[:i]) / "__init__.py").resolve())
    kept = removed = 0
    for path in sorted(stdlib.rglob("*")):
        if path.is_dir() or not (path.suffix in (".py", ".so") or path.name.endswith(".pyc")):
            continue
        if path.resolve() in keep:
            kept += 1
        else:
            path.unlink()
            removed += 1
    for leftover in ("EXTERNALLY-MANAGED", "LICENSE.txt"):
        (stdlib / leftover).unlink(missing_ok=True)
    _drop_empty(stdlib)
    return kept, removed


def _drop_empty(top: Path) -> None:
    """Remove directories left without any Python module (data files of pruned packages)."""
    for path in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if path.exists() and not any(f.suffix in (".py", ".so") for f in path.rglob("*")):
            shutil.rmtree(path)
