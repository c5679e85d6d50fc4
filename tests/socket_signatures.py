"""The public signatures of both socket faces, read from the ``.pyi`` stubs of ``kiln.net``.

``public_callables(face)`` lists every public function of the face's module and every public
method of its ``socket`` class (inherited ``SocketCore`` methods included, the constructor as
``socket``), each with its parameters as the stubs declare them.  ``test_socket_bad_args.py``
checks the stubs against the compiled modules (names, parameter names), so the bad-input cases
generated from them cover every public callable.
"""
from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

FACE_STUB = {"zerynth": "zsocket.pyi", "usocket": "usocket.pyi"}


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str
    default: str | None       # source text of the default, None when required


@dataclass(frozen=True)
class Signature:
    face: str
    owner: str                # "module" or "socket"
    name: str                 # "socket" for the constructor
    params: tuple[Param, ...]

    @property
    def id(self) -> str:
        return self.name if self.owner == "module" else f"socket.{self.name}"


def stub_dir() -> Path:
    spec = importlib.util.find_spec("kiln.net")
    assert spec is not None and spec.submodule_search_locations, "kiln.net is not importable"
    return Path(list(spec.submodule_search_locations)[0])


@lru_cache(maxsize=None)
def _parse(filename: str) -> ast.Module:
    return ast.parse((stub_dir() / filename).read_text(), filename)


def _params(fn: ast.FunctionDef) -> tuple[Param, ...]:
    args = fn.args.posonlyargs + fn.args.args
    defaults = [None] * (len(args) - len(fn.args.defaults)) + list(fn.args.defaults)
    params = []
    for arg, default in zip(args, defaults):
        if arg.arg == "self":
            continue
        params.append(Param(arg.arg, ast.unparse(arg.annotation) if arg.annotation else "",
                            None if default is None else ast.unparse(default)))
    return tuple(params)


def _class_methods(filename: str, cls: str) -> dict[str, ast.FunctionDef]:
    for node in _parse(filename).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
    raise LookupError(f"class {cls} not in {filename}")


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


def _imported_functions(filename: str) -> list[tuple[str, ast.FunctionDef]]:
    """Functions a face stub re-exports with ``from kiln.net.X import f as f``."""
    found = []
    for node in _parse(filename).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kiln.net."):
            source = node.module.rsplit(".", 1)[1] + ".pyi"
            functions = {n.name: n for n in _parse(source).body if isinstance(n, ast.FunctionDef)}
            for alias in node.names:
                if alias.name in functions and alias.asname == alias.name:
                    found.append((alias.name, functions[alias.name]))
    return found


@lru_cache(maxsize=None)
def public_callables(face: str) -> tuple[Signature, ...]:
    """Every public callable of ``face`` ("zerynth" or "usocket") with its stub parameters."""
    stub = FACE_STUB[face]
    methods = dict(_class_methods("core.pyi", "SocketCore"))
    methods.update(_class_methods(stub, "socket"))
    result = []
    for name, fn in sorted(methods.items()):
        if _is_property(fn):
            continue
        if name == "__init__":
            result.append(Signature(face, "module", "socket", _params(fn)))
        elif not name.startswith("_"):
            result.append(Signature(face, "socket", name, _params(fn)))
    for name, fn in _imported_functions(stub):
        if not name.startswith("_"):
            result.append(Signature(face, "module", name, _params(fn)))
    return tuple(result)
