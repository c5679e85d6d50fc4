"""Kiln's own OpenSSL for images where Kiln's TLS layer is the only user of one.

Debian's ``libssl3`` is a general-purpose OpenSSL: every algorithm, protocol and format, in two
libraries of 2-5 MB.  An image whose only OpenSSL user is ``kiln.net.tls`` (no Wi-Fi supplicant,
no CPython ``ssl``) needs TLS 1.2/1.3 with the common key exchanges, signatures and AEADs, X.509
verification and PEM/DER keys -- a fraction of that.  So the image builder compiles the recipe's
OpenSSL (``[tls.openssl]`` in ``images/recipe.toml``: a pinned source and the ``Configure``
arguments of ``images/openssl.options`` -- off what Kiln's TLS never uses, C flags for size) into
static libraries, once per machine and target, and links the TLS module against them
(:mod:`kiln.host.image.crossbuild`), keeping only the code the module reaches.  An image that carries Debian's ``libssl3`` anyway
shares it instead (:func:`users`).

The source is the pinned ``.orig`` tarball of Kiln's offline Buildroot build
(:mod:`kiln.host.buildroot.sources`): one pin, checked by sha256, from the shared snapshot or
Debian's mirror.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.buildroot import sources
from kiln.host.filelock import locked
from kiln.host.image import cache, elf, rootfs
from kiln.host.image.recipe import OpenSSLRecipe

#: The libraries an OpenSSL build provides, by ``DT_NEEDED`` name.
LIBRARIES = ("libssl.so.3", "libcrypto.so.3")


class OpenSSLBuildError(KilnError):
    """Kiln's OpenSSL could not be configured or compiled for the board."""


def pinned(recipe: OpenSSLRecipe) -> sources.Source:
    """The pinned source ``recipe`` names; :class:`OpenSSLBuildError` when it names none."""
    for src in sources.SOURCES:
        if src.file == recipe.source:
            return src
    raise OpenSSLBuildError(f"[tls.openssl] source {recipe.source!r} of images/recipe.toml is "
                            f"not a pinned source of kiln.host.buildroot.sources")


def key(recipe: OpenSSLRecipe, target: str, cc: str) -> str:
    """The cache key of a build: source checksum, ``Configure`` arguments and target, cross
    compiler."""
    return cache.fingerprint([], texts=[pinned(recipe).sha256, *recipe.configure, target, cc])


def build(recipe: OpenSSLRecipe, *, target: str, cc: str, cache_dir: Path, log=None) -> Path:
    """The static OpenSSL of ``recipe`` for ``target`` (``Configure``'s name, e.g.
    ``linux-aarch64``) built with cross compiler ``cc``: a directory with ``include/`` and
    ``lib/libssl.a``, ``lib/libcrypto.a``.  Reused from ``cache_dir/<key>`` when built before
    (several processes may ask at once: one builds, the others wait).  Blocks for about a minute
    per target on two cores when not cached.  Raises :class:`OpenSSLBuildError` with the
    build's output when it fails, :class:`kiln.host.buildroot.sources.SourceError` when the
    source cannot be had."""
    if not cc.endswith("gcc"):
        raise OpenSSLBuildError(f"cross compiler {cc!r}: expected a <triplet>-gcc")
    dest = cache_dir / key(recipe, target, cc)[:16]
    with locked(dest):
        if (dest / "lib" / "libcrypto.a").is_file():
            return dest
        tarball = sources.fetch(pinned(recipe), log)
        if log:
            log(f"building OpenSSL ({tarball.name}) for {target}: once per machine")
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".openssl-", dir=cache_dir) as tmp:
            src = _unpack(tarball, Path(tmp))
            prefix = cc[:-len("gcc")]
            _run([*("perl", "Configure", target, f"--cross-compile-prefix={prefix}",
                    "--prefix=/usr", "--libdir=lib", "--openssldir=/usr/lib/ssl"),
                  *recipe.configure, "no-shared", "-fPIC"], src)
            _run(["make", f"-j{os.cpu_count() or 1}", "build_libs"], src)
            staging = Path(tmp) / "out"
            (staging / "lib").mkdir(parents=True)
            for lib in ("libssl.a", "libcrypto.a"):
                shutil.copy2(src / lib, staging / "lib" / lib)
            shutil.copytree(src / "include" / "openssl", staging / "include" / "openssl")
            shutil.rmtree(dest, ignore_errors=True)
            staging.rename(dest)
    return dest


def users(root: Path, triplet: str, tls_modules: list[Path]) -> list[str]:
    """Image paths (``/usr/sbin/wpa_supplicant``, ...) of the ELF files in the image at
    ``root`` that need OpenSSL's libraries (:data:`LIBRARIES`), besides ``tls_modules`` and the
    libraries themselves.  None: the image can carry Kiln's own OpenSSL inside the TLS modules
    instead of Debian's libraries, which nothing else would use."""
    own = {p.resolve() for p in tls_modules}
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.resolve() in own:
            continue
        if path.suffix not in ("", ".so") and ".so." not in path.name:
            continue
        if not elf.is_elf(path):
            continue
        if path.name in LIBRARIES and _in_library_dir(root, path, triplet):
            continue
        if set(elf.read(path).needed) & set(LIBRARIES):
            found.append("/" + path.relative_to(root).as_posix())
    return found


def _in_library_dir(root: Path, path: Path, triplet: str) -> bool:
    return any(path.parent == root / d for d in rootfs.library_dirs(triplet))


def _unpack(tarball: Path, where: Path) -> Path:
    with tarfile.open(tarball) as tar:
        tar.extractall(where, filter="data")
    tops = [p for p in where.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "Configure").is_file():
        raise OpenSSLBuildError(f"{tarball.name} is not an OpenSSL source tarball")
    return tops[0]


def _run(argv: list[str], cwd: Path) -> None:
    result = subprocess.run(argv, cwd=cwd, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise OpenSSLBuildError(f"{' '.join(argv[:3])} ... failed (status {result.returncode}):\n"
                                f"{result.stdout[-3000:]}")
