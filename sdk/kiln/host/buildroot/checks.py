"""Buildroot's own checks of Kiln's br2-external tree.

* :func:`check_package`: ``utils/check-package -b`` on every file of the tree (Buildroot's style
  checker: Kconfig, .mk, defconfigs, shell scripts through shellcheck, Python through flake8);
* :func:`load_defconfig`: ``make BR2_EXTERNAL=... O=... kiln_<board>_defconfig`` and a line by
  line comparison of the defconfig with the resulting ``.config``: Kconfig drops an assignment
  it cannot honour (an unknown symbol, an unmet dependency, a choice overridden) without an
  error, so every ``SYM=value`` must come out unchanged and every ``# SYM is not set`` unset;
* :func:`show_info`: ``make show-info`` (Buildroot's JSON description of every package of the
  configuration) and python-kiln's dependencies in it.

check-package needs the Python modules ``flake8`` and ``magic`` (requirements/dev.txt) and the
program ``shellcheck`` (requirements/apt.txt); their absence is reported, never skipped.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.buildroot import defconfigs

_WARNINGS_RE = re.compile(r"^(\d+) warnings generated", re.M)


class CheckError(KilnError):
    """A check could not run (missing tool, make failed before producing a result)."""


@dataclass
class CheckPackageResult:
    """What check-package said about the tree."""

    files: list[str]
    warnings: int
    output: str


@dataclass
class LoadResult:
    """One defconfig loaded by Buildroot."""

    defconfig: str
    config: dict[str, str] = field(default_factory=dict)   # symbol -> value ("n": not set)
    dropped: list[str] = field(default_factory=list)        # defconfig lines not honoured

    def value(self, symbol: str) -> str:
        return self.config.get(symbol, "n")


def tree_files(external: Path) -> list[Path]:
    """Every file of the br2-external tree (what check-package is run on), sorted."""
    return sorted(p for p in Path(external).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def check_package(buildroot: Path, external: Path | None = None) -> CheckPackageResult:
    """Run Buildroot's ``utils/check-package -b`` on every file of ``external``.

    Blocks for seconds.  Raises :class:`CheckError` when check-package cannot run (its Python
    modules or shellcheck missing); warnings are in the result, not raised.
    """
    external = Path(external) if external else defconfigs.external_tree()
    missing = [m for m in ("flake8", "magic") if not _importable(m)]
    if missing:
        raise CheckError(f"check-package needs the Python modules {', '.join(missing)}: "
                         f"{sys.executable} -m pip install flake8 python-magic "
                         f"(requirements/dev.txt)")
    if shutil.which("shellcheck") is None:
        raise CheckError("check-package needs shellcheck: apt-get install shellcheck "
                         "(requirements/apt.txt)")
    files = [str(p.relative_to(external)) for p in tree_files(external)]
    result = subprocess.run([sys.executable, str(Path(buildroot) / "utils" / "check-package"),
                             "-b", *files], cwd=external, capture_output=True, text=True,
                            check=False, timeout=600)
    output = (result.stdout + result.stderr).strip()
    match = _WARNINGS_RE.search(result.stderr)
    if match is None:
        raise CheckError(f"check-package did not run (status {result.returncode}):\n{output}")
    return CheckPackageResult(files=files, warnings=int(match.group(1)), output=output)


def _importable(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def _make(buildroot: Path, out: Path, *targets: str, external: Path | None = None,
          timeout: float = 600) -> subprocess.CompletedProcess:
    argv = ["make", "-s", "-C", str(buildroot), f"O={out}"]
    if external is not None:
        argv.append(f"BR2_EXTERNAL={external}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BR2_")}
    return subprocess.run([*argv, *targets], capture_output=True, text=True, env=env,
                          check=False, timeout=timeout)


def parse_config(text: str) -> dict[str, str]:
    """``.config`` text -> {symbol: value}; ``# SYM is not set`` gives ``"n"``."""
    values = {}
    for line in text.splitlines():
        if line.startswith("BR2_") and "=" in line:
            sym, value = line.split("=", 1)
            values[sym] = value
        elif line.startswith("# BR2_") and line.endswith(" is not set"):
            values[line[2:-len(" is not set")]] = "n"
    return values


def dropped_lines(defconfig_text: str, config: dict[str, str]) -> list[str]:
    """The assignments of a defconfig that the resulting configuration does not honour."""
    dropped = []
    for line in defconfigs.assignments(defconfig_text):
        if line.startswith("# "):
            sym = line[2:-len(" is not set")]
            if config.get(sym, "n") != "n":
                dropped.append(f"{line} (got {sym}={config[sym]})")
        else:
            sym, value = line.split("=", 1)
            got = config.get(sym)
            if got != value:
                dropped.append(f"{line} (got {'nothing' if got is None else sym + '=' + got})")
    return dropped


def load_defconfig(buildroot: Path, defconfig: str, out: Path,
                   external: Path | None = None) -> LoadResult:
    """Load ``configs/<defconfig>`` of the br2-external tree in Buildroot (output directory
    ``out``) and compare it with the resulting ``.config``.

    Blocks for seconds (Buildroot builds its Kconfig tool the first time).  Raises
    :class:`CheckError` when make fails.
    """
    external = Path(external) if external else defconfigs.external_tree()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / ".config").unlink(missing_ok=True)
    result = _make(buildroot, out, defconfig, external=external)
    if result.returncode != 0 or not (out / ".config").is_file():
        raise CheckError(f"make {defconfig} failed (status {result.returncode}):\n"
                         f"{(result.stdout + result.stderr)[-3000:]}")
    config = parse_config((out / ".config").read_text())
    text = (external / "configs" / defconfig).read_text()
    return LoadResult(defconfig=defconfig, config=config, dropped=dropped_lines(text, config))


def show_info(buildroot: Path, out: Path) -> dict:
    """``make show-info`` of the configuration in ``out`` (load a defconfig there first)."""
    result = _make(buildroot, Path(out), "show-info")
    if result.returncode != 0:
        raise CheckError(f"make show-info failed (status {result.returncode}):\n"
                         f"{result.stderr[-3000:]}")
    try:
        return json.loads(result.stdout)
    except ValueError as exc:
        raise CheckError(f"make show-info printed no JSON ({exc}):\n{result.stdout[:2000]}")


#: What python-kiln must depend on in every configuration (``make show-info``).
PYTHON_KILN_NEEDS = ("python3", "host-python3", "host-python-cython", "host-python-setuptools")


def python_kiln_problems(info: dict) -> list[str]:
    """What is wrong with python-kiln in a ``show-info`` result (empty: nothing)."""
    pkg = info.get("python-kiln")
    if pkg is None:
        return ["python-kiln is not a package of the configuration"]
    deps = set(pkg.get("dependencies", []))
    return [f"python-kiln does not depend on {d} (dependencies: {sorted(deps)})"
            for d in PYTHON_KILN_NEEDS if d not in deps]
