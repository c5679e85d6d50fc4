"""Run the image's own Python at build time: byte-compile (Debian ships no .pyc) and check
that modules import with only the files the image ships."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiln.host.image.qemu_user import QemuUserError, run_python

_SCRIPT = r"""
import compileall, py_compile, sys
root = sys.argv[1]
ok = True
for top in sys.argv[2:]:
    ok &= compileall.compile_dir(root + top, ddir=top, quiet=1, workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
sys.exit(0 if ok else 1)
"""


def compile_tree(root: Path, dirs: list[str], emulator: str, triplet: str, python: str,
                 tools_path: list[Path] = ()) -> None:
    """Write ``__pycache__/*.pyc`` for every ``.py`` under the image directories ``dirs``.

    Runs the target's own Python under qemu-user (blocks, a few seconds).  The ``.pyc`` use
    unchecked hashes, so cpio timestamps never make Python recompile or rewrite them at boot,
    and they record the on-device path (``/usr/lib/...``) for tracebacks.
    ``tools_path`` (e.g. an unpruned copy of the target stdlib) provides ``compileall`` and
    its imports when the image itself does not keep them.
    Raises :class:`QemuUserError` with the interpreter's output when compilation fails.
    """
    existing = [d if d.startswith("/") else "/" + d for d in dirs if (root / d.lstrip("/")).is_dir()]
    result = run_python(root, emulator, triplet, python,
                        ["-s", "-c", _SCRIPT, str(root), *existing],
                        extra_path=list(tools_path))
    if result.returncode != 0:
        raise QemuUserError(f"byte-compiling {existing} with the target Python failed:\n"
                            f"{result.stdout[-2000:]}{result.stderr[-2000:]}")


_IMPORT_SCRIPT = r"""
import importlib, importlib.util, json, sys
args = iter(sys.argv[1:])
lists = {"kiln": [], "app": [], "shadowed": []}
current = "kiln"
for arg in args:
    if arg.startswith("--") and arg[2:] in lists:
        current = arg[2:]
    else:
        lists[current].append(arg)
failed, app, shadowed = {}, {}, []
for name in lists["shadowed"]:          # before anything of the app's is imported
    try:
        if importlib.util.find_spec(name) is not None:
            shadowed.append(name)
    except BaseException:
        pass
for name in lists["kiln"]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
if lists["app"]:
    from kiln.app import APIS, app_builtins
    imports = {}
    for api in APIS:
        try:
            imports[api] = app_builtins(api)["__import__"]
        except BaseException as exc:
            imports[api] = exc
    for name in lists["app"]:
        outcome = app[name] = {}
        for api, imp in imports.items():
            try:
                if isinstance(imp, BaseException):
                    raise imp
                imp(name, {"__name__": "__main__"}, None, (), 0)
                outcome[api] = None
            except BaseException as exc:
                outcome[api] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"failed": failed, "app": app, "shadowed": shadowed}))
"""


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_check` found: ``failures`` ``{module: "ExcType: message"}`` of the
    modules that must import; ``app`` ``{module: {api: None or "ExcType: message"}}`` of the
    app's imports under each API of the launcher (``kiln.app.app_builtins(api)``'s
    ``__import__``: the aliases the app's code gets); ``shadowed``: the names asked about
    that the image already has (an app module of that name would replace it)."""

    failures: dict[str, str] = field(default_factory=dict)
    app: dict[str, dict[str, str | None]] = field(default_factory=dict)
    shadowed: tuple[str, ...] = ()


def module_names(site: Path) -> list[str]:
    """Dotted names of every module and package below ``site`` (``__main__`` excluded)."""
    names = set()
    for path in site.rglob("*"):
        if path.suffix not in (".py", ".so") or "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(site).parts)
        parts[-1] = parts[-1].split(".")[0]
        if parts[-1] == "__init__":
            parts.pop()
        if parts and parts[-1] != "__main__":
            names.add(".".join(parts))
    return sorted(names)


def import_check(root: Path, modules: list[str], emulator: str, triplet: str, python: str,
                 app_imports: list[str] = (), shadowed: list[str] = ()) -> ImportReport:
    """Import each of ``modules`` with the image's own Python under qemu-user; import each of
    ``app_imports`` as the app's code would under each API (``zerynth``, ``micropython``,
    ``cpython``); tell which of the top-level names ``shadowed`` the image already has.

    One interpreter run (blocks a few seconds).  Raises :class:`QemuUserError` if the
    interpreter itself fails.
    """
    import json
    args = [*modules, "--app", *app_imports, "--shadowed", *shadowed]
    result = run_python(root, emulator, triplet, python, ["-c", _IMPORT_SCRIPT, *args])
    try:
        found = json.loads(result.stdout.strip().splitlines()[-1])
        return ImportReport(found["failed"], found["app"], tuple(found["shadowed"]))
    except (IndexError, ValueError, KeyError, TypeError):
        raise QemuUserError(f"the target Python could not run the import check:\n"
                            f"{result.stdout[-2000:]}{result.stderr[-2000:]}") from None
