"""Finding a Buildroot tree to check and build Kiln's br2-external tree with.

In order:

1. ``$KILN_BUILDROOT``: an existing Buildroot source tree (a user's clone, a CI cache);
2. ``$KILN_BUILDROOT_TARBALL`` or the snapshot next to the checkout,
   ``../shared/buildroot/buildroot-2026.02.3.tar.xz``: checked against its sha256 and extracted
   once into the per-machine cache;
3. a shallow ``git clone`` of Buildroot's tag into the per-machine cache, when the internet is
   reachable.

When none works, :func:`find` raises :class:`BuildrootNotFound` naming all three ways; the
checks fail rather than skip.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.buildroot import BUILDROOT_SERIES, BUILDROOT_VERSION
from kiln.host.buildroot.cache import cache_dir, locked, repo_root

TARBALL_NAME = f"buildroot-{BUILDROOT_VERSION}.tar.xz"
#: sha256 of ``git archive --prefix=buildroot-2026.02.3/ 2026.02.3`` (../shared/buildroot/README.md)
TARBALL_SHA256 = "bec7bcdaa4f16cb117960ca40451f07a147f38d91318fed99bbd2e15244f161e"
GIT_URL = "https://gitlab.com/buildroot.org/buildroot.git"
_VERSION_RE = re.compile(r"^export BR2_VERSION := (\S+)", re.M)


class BuildrootNotFound(KilnError):
    """No usable Buildroot tree (the message names every way to provide one)."""


def version(tree: Path) -> str:
    """The release of Buildroot tree ``tree`` (from its top-level Makefile)."""
    match = _VERSION_RE.search((Path(tree) / "Makefile").read_text())
    if not match:
        raise BuildrootNotFound(f"{tree}/Makefile names no BR2_VERSION: not a Buildroot tree")
    return match.group(1)


def is_tree(path: Path) -> bool:
    """True when ``path`` looks like a Buildroot source tree."""
    return all((Path(path) / p).exists() for p in ("Makefile", "Config.in", "utils/check-package",
                                                   "package/pkg-generic.mk"))


def shared_tarball() -> Path | None:
    """The Buildroot snapshot beside the checkout, or ``$KILN_BUILDROOT_TARBALL``."""
    if os.environ.get("KILN_BUILDROOT_TARBALL"):
        return Path(os.environ["KILN_BUILDROOT_TARBALL"])
    candidate = repo_root().parent / "shared" / "buildroot" / TARBALL_NAME
    return candidate if candidate.is_file() else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_tarball(tarball: Path, dest_root: Path) -> Path:
    """Extract ``tarball`` (checked against :data:`TARBALL_SHA256`) into
    ``dest_root/buildroot-<version>`` once; return that directory."""
    dest = dest_root / f"buildroot-{BUILDROOT_VERSION}"
    stamp = dest / ".kiln-extracted"
    if stamp.is_file() and stamp.read_text().strip() == TARBALL_SHA256:
        return dest
    digest = sha256(tarball)
    if digest != TARBALL_SHA256:
        raise BuildrootNotFound(f"{tarball} has sha256 {digest}, expected {TARBALL_SHA256} "
                                f"(Buildroot {BUILDROOT_VERSION}); fetch it again")
    tmp = dest_root / f".extract-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp, filter="tar")
    top = tmp / f"buildroot-{BUILDROOT_VERSION}"
    if not is_tree(top):
        raise BuildrootNotFound(f"{tarball} does not hold buildroot-{BUILDROOT_VERSION}/")
    shutil.rmtree(dest, ignore_errors=True)
    top.rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    stamp.write_text(TARBALL_SHA256 + "\n")
    return dest


def clone(dest_root: Path) -> Path:
    """A shallow clone of Buildroot's release tag into ``dest_root`` (needs the internet)."""
    dest = dest_root / f"buildroot-{BUILDROOT_VERSION}-git"
    if is_tree(dest):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    result = subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch",
                             BUILDROOT_VERSION, GIT_URL, str(dest)],
                            capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0 or not is_tree(dest):
        shutil.rmtree(dest, ignore_errors=True)
        raise BuildrootNotFound(f"git clone of {GIT_URL} failed: "
                                f"{result.stderr.strip() or result.returncode}")
    return dest


def find(allow_clone: bool = True) -> Path:
    """A Buildroot source tree (see the module docstring for the order).

    Blocks while extracting (seconds) or cloning (a minute).  Raises :class:`BuildrootNotFound`
    naming every way to provide one when none works.
    """
    env = os.environ.get("KILN_BUILDROOT")
    if env:
        if not is_tree(Path(env)):
            raise BuildrootNotFound(f"KILN_BUILDROOT={env} is not a Buildroot source tree "
                                    f"(no Makefile, Config.in, utils/check-package)")
        return Path(env).resolve()
    root = cache_dir() / "src"
    tarball = shared_tarball()
    if tarball is not None:
        if not tarball.is_file():
            raise BuildrootNotFound(f"KILN_BUILDROOT_TARBALL={tarball} does not exist")
        with locked(root):
            return extract_tarball(tarball, root)
    problems = [f"no {TARBALL_NAME} in {repo_root().parent / 'shared' / 'buildroot'}"]
    if allow_clone:
        try:
            with locked(root):
                return clone(root)
        except (BuildrootNotFound, OSError, subprocess.TimeoutExpired) as exc:
            problems.append(str(exc))
    raise BuildrootNotFound(
        "no Buildroot tree to check or build Kiln's br2-external tree with ("
        + "; ".join(problems) + "). Provide one: set KILN_BUILDROOT to a Buildroot "
        f"{BUILDROOT_SERIES}.x source tree (git clone --branch {BUILDROOT_VERSION} {GIT_URL}), "
        f"or KILN_BUILDROOT_TARBALL to {TARBALL_NAME}, or put that tarball in "
        "../shared/buildroot/ beside the checkout")
