"""Run the image's own Python at build time: byte-compile (Debian ships no .pyc) and check
that modules import with only the files the image ships."""
from __future__ import annotations

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
import importlib, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""


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


def import_check(root: Path, modules: list[str], emulator: str, triplet: str,
                 python: str) -> dict[str, str]:
    """Import each of ``modules`` with the image's own Python under qemu-user.

    Returns ``{module: "ExcType: message"}`` for those that fail (empty when all import).
    Blocks a few seconds.  Raises :class:`QemuUserError` if the interpreter itself fails.
    """
    import json
    result = run_python(root, emulator, triplet, python, ["-c", _IMPORT_SCRIPT, *modules])
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise QemuUserError(f"the target Python could not run the import check:\n"
                            f"{result.stdout[-2000:]}{result.stderr[-2000:]}") from None
