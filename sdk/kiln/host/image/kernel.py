"""The board's Debian kernel: ABI discovery, extraction, and the ordered module list."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.filelock import locked
from kiln.host.image import elf
from kiln.host.image.packages import Index, Package, ResolveError


class KernelError(KilnError):
    """The kernel package or one of the board's modules cannot be found."""


@dataclass(frozen=True)
class KernelTree:
    """An extracted kernel package."""

    abi: str              # e.g. "6.1.0-56-arm64" (changes with security updates)
    image: Path           # the bootable kernel image (vmlinuz)
    modules_dir: Path     # lib/modules/<abi>


def concrete_package(index: Index, metapackage: str) -> Package:
    """The ``linux-image-<abi>`` package the newest ``metapackage`` depends on.

    The ABI name changes with security updates, so it is discovered rather than configured.
    """
    meta = index.newest(metapackage)
    for group in meta.depends:
        for rel in group:
            if rel.name.startswith("linux-image-"):
                found = index.candidates(rel)
                if found:
                    return found[0]
    raise ResolveError(f"{metapackage} {meta.version} depends on no linux-image-* package in the "
                       f"index; set [debian] kernel_package to a kernel metapackage")


def extract(deb: Path, dest: Path, image_pattern: str) -> KernelTree:
    """Unpack kernel ``deb`` into ``dest`` (reused when already unpacked) and locate its parts.

    ``image_pattern`` is the recipe's kernel image path with ``{abi}`` as placeholder.
    """
    marker = dest / ".kiln-extracted"
    with locked(dest):          # concurrent builds of one architecture share the cache
        if not marker.exists() or marker.read_text() != deb.name:
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
            marker.write_text(deb.name)
    abis = sorted(p.name for p in (dest / "lib" / "modules").iterdir() if p.is_dir())
    if len(abis) != 1:
        raise KernelError(f"{deb.name}: expected one lib/modules/<abi> directory, found {abis}")
    abi = abis[0]
    image = dest / image_pattern.replace("{abi}", abi)
    if not image.is_file():
        raise KernelError(f"{deb.name}: no kernel image at {image_pattern.replace('{abi}', abi)}")
    return KernelTree(abi=abi, image=image, modules_dir=dest / "lib" / "modules" / abi)


def _norm(name: str) -> str:
    return name.replace("-", "_")


def module_files(modules_dir: Path) -> dict[str, Path]:
    """Module name (``-`` normalised to ``_``) -> ``.ko`` path for every module of the kernel."""
    return {_norm(p.name.split(".ko")[0]): p for p in modules_dir.rglob("*.ko*")}


def builtin_modules(modules_dir: Path) -> set[str]:
    """Names of modules compiled into the kernel (``modules.builtin``)."""
    path = modules_dir / "modules.builtin"
    if not path.exists():
        return set()
    return {_norm(Path(line.strip()).name.split(".ko")[0])
            for line in path.read_text().splitlines() if line.strip()}


def module_load_order(modules_dir: Path, wanted: tuple[str, ...]) -> list[Path]:
    """``.ko`` files to load for ``wanted``, dependencies first, each once.

    Modules built into the kernel are skipped.  Raises :class:`KernelError` naming a module
    that is neither a module file nor built in.
    """
    files = module_files(modules_dir)
    builtin = builtin_modules(modules_dir)
    order: list[Path] = []
    visiting: set[str] = set()

    def visit(name: str, needed_by: str | None) -> None:
        name = _norm(name)
        if name in builtin or files.get(name) in order:
            return
        if name not in files:
            who = f" (needed by {needed_by})" if needed_by else ""
            raise KernelError(f"kernel module {name!r}{who} is not in {modules_dir.name}; fix "
                              f"[kernel] modules in the board file")
        if name in visiting:
            raise KernelError(f"kernel module dependency cycle through {name!r}")
        visiting.add(name)
        for dep in filter(None, elf.modinfo(files[name]).get("depends", "").split(",")):
            visit(dep, name)
        visiting.discard(name)
        order.append(files[name])

    for module in wanted:
        visit(module, None)
    return order
