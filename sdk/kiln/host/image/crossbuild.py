"""Cross-compile Kiln (Cython extensions + pure-Python packages) for the board.

``setup.py build`` runs in a private copy of the source tree under ``out/`` (the host's in-place
build is never disturbed) with the standard cross variables: ``CC``/``LDSHARED`` name the Debian
cross GCC, ``_PYTHON_HOST_PLATFORM`` the target platform and ``_PYTHON_SYSCONFIGDATA_NAME`` the
target's sysconfig data (so ``EXT_SUFFIX`` is the target's), while the target's Python headers
come from ``libpython3.X-dev:<arch>`` unpacked with ``dpkg-deb -x``.  The package list is
setup.py's own (``find_packages``), never hand-listed here.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.image import elf


class CrossBuildError(KilnError):
    """The cross build of Kiln failed."""


# Top-level folders of the repo that never feed setup.py (outputs, tests, data of other tools).
_NOT_SOURCES = {"out", "build", "dist", "tests", "bench", "docs", "images", "board_configs",
                "scripts", "requirements"}
_GENERATED = (".so", ".pyc", ".pyo", ".o")


def source_files(repo: Path) -> list[Path]:
    """Files of the repo the cross build may read: setup.py, pyproject.toml and every file
    below the source folders (``sdk/``, ``drivers/``, ...), minus build products (``.so``,
    ``__pycache__``, ``.egg-info``, and ``.c`` files Cython generated from a sibling ``.pyx``).
    """
    files = [repo / name for name in ("setup.py", "pyproject.toml", "setup.cfg", "MANIFEST.in")]
    for top in sorted(repo.iterdir()):
        if not top.is_dir() or top.name.startswith(".") or top.name in _NOT_SOURCES:
            continue
        for path in sorted(top.rglob("*")):
            rel = path.relative_to(repo).parts
            if (not path.is_file() or any(p.startswith(".") or p == "__pycache__"
                                          or p.endswith(".egg-info") for p in rel)
                    or path.suffix in _GENERATED
                    or (path.suffix == ".c" and path.with_suffix(".pyx").exists())):
                continue
            files.append(path)
    return [f for f in files if f.exists()]


def stage_sources(repo: Path, dest: Path) -> Path:
    """Copy the build inputs of ``repo`` to ``dest`` (generated ``.c``/``.so`` are left out)."""
    if dest.exists():
        shutil.rmtree(dest)
    for path in source_files(repo):
        target = dest / path.relative_to(repo)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


def sysconfig_name(sysconfig_dir: Path, triplet: str) -> str:
    """Module name of the target's ``_sysconfigdata_*`` file in ``sysconfig_dir``."""
    for name in (f"_sysconfigdata__{triplet}", f"_sysconfigdata__linux_{triplet}"):
        if (sysconfig_dir / f"{name}.py").exists():
            return name
    raise CrossBuildError(f"no _sysconfigdata__{triplet}.py in {sysconfig_dir}: the target "
                          f"Python's libpython3.X-minimal package was not unpacked")


def cross_env(cc: str, host_platform: str, sysconfig_dir: Path, sysconfig_module: str) -> dict:
    """Environment for ``setup.py`` making setuptools build for the target."""
    env = dict(os.environ)
    env.update(CC=cc, LDSHARED=f"{cc} -shared", _PYTHON_HOST_PLATFORM=host_platform,
               _PYTHON_SYSCONFIGDATA_NAME=sysconfig_module, PYTHONPATH=str(sysconfig_dir),
               CFLAGS="-O2", LDFLAGS="", CPPFLAGS="", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONHOME", None)
    return env


def build(repo: Path, work: Path, pydev: Path, sysconfig_dir: Path, *, triplet: str, cc: str,
          host_platform: str, python_version: str, exclude: tuple[str, ...],
          expected_machine: str, verbose: bool = False) -> Path:
    """Cross-build Kiln from ``repo`` in ``work``; returns the staged site-packages directory.

    ``pydev`` is the unpacked ``libpython3.X-dev`` of the target; packages in ``exclude``
    (dotted names, host-only tooling) are left out.  Raises :class:`CrossBuildError` with the
    compiler output on failure, or when a built ``.so`` is not for ``expected_machine``.
    """
    src = stage_sources(repo, work / "src")
    lib = work / "lib"
    if lib.exists():
        shutil.rmtree(lib)
    includes = os.pathsep.join(str(pydev / p) for p in (
        f"usr/include/python{python_version}", f"usr/include/{triplet}/python{python_version}",
        "usr/include"))
    env = cross_env(cc, host_platform, sysconfig_dir, sysconfig_name(sysconfig_dir, triplet))
    cmd = [sys.executable, "setup.py", "-q", "build", "--build-base", str(work / "build"),
           "--build-purelib", str(lib), "--build-platlib", str(lib),
           "--build-temp", str(work / "temp"),
           "build_ext", "--parallel", str(os.cpu_count() or 1), "--include-dirs", includes]
    result = subprocess.run(cmd, cwd=src, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    if verbose or result.returncode != 0:
        print(result.stdout, file=sys.stderr)
    if result.returncode != 0:
        raise CrossBuildError(f"cross build of Kiln with {cc} failed (status "
                              f"{result.returncode}); compiler output above:\n"
                              f"{result.stdout[-3000:]}")
    for name in exclude:
        shutil.rmtree(lib.joinpath(*name.split(".")), ignore_errors=True)
    for path in list(lib.rglob("*")):
        if path.is_file() and (path.suffix in (".c", ".pyx", ".pxd", ".pxi", ".pyi", ".h")
                               or path.name == "py.typed"):
            path.unlink()
    strip = cc[:-3] + "strip" if cc.endswith("gcc") else None
    for so in lib.rglob("*.so"):
        machine = elf.read(so).machine
        if machine != expected_machine:
            raise CrossBuildError(f"{so.name} was built for {machine}, not {expected_machine}: "
                                  f"the cross variables did not reach setuptools")
        if strip and shutil.which(strip):
            subprocess.run([strip, "--strip-unneeded", str(so)], check=True)
    return lib
