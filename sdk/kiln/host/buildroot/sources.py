"""The pinned sources of the offline Buildroot build, fetched once per machine.

Buildroot downloads every package's source from upstream sites; a CI machine reaches only
Debian's mirror and PyPI.  Every input of the offline build is listed here with its sha256, where
it comes from, and how Buildroot gets it:

* ``site``: the file is byte-identical to what Buildroot 2026.02.3 expects (same content, so
  Buildroot's own hash check passes); it goes into the local primary site (``BR2_PRIMARY_SITE``)
  under Buildroot's file name;
* ``override``: a different version or a repacked tarball; it is extracted (plus the Buildroot
  patches that still apply, listed per source) into a directory named in
  ``BR2_PACKAGE_OVERRIDE_FILE`` as ``<PKG>_OVERRIDE_SRCDIR`` (Buildroot then skips its hash check
  and patch step);  host-m4, host-tar and host-fakeroot are the host's own programs instead
  (:data:`kiln.host.buildroot.offline.HOST_PROGRAMS`), so their sources are not needed;
* ``python3-package``: Buildroot's own ``package/python3/`` from its git history at Python
  3.13.5 (the Debian mirror has Python 3.13.5, not the 3.14.5 of Buildroot 2026.02.3); it
  replaces ``package/python3/`` in the cache's private copy of Buildroot.

Where a file comes from, in order: the cache (``<cache>/sources/``, checked), the shared source
snapshot beside the checkout (``../shared/buildroot/sources/``, or ``$KILN_BUILDROOT_SOURCES``),
then its origin: Debian's mirror (``$KILN_DEBIAN_MIRROR``), PyPI (``pip download --no-deps
--no-binary :all:``), or Buildroot's git web interface.  Every file is checked against its
sha256 before use; a mismatch is an error naming the file.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.buildroot.cache import cache_dir, locked, repo_root
from kiln.host.buildroot.tree import sha256

DEBIAN_MIRROR = "http://deb.debian.org/debian"
#: Buildroot commit whose package/python3/ packages Python 3.13.5 ("add upstream post-3.13.5
#: security fix"); the files come from ../shared or from Buildroot's git web interface.
PYTHON3_PACKAGE_COMMIT = "681575c73c"
BUILDROOT_RAW = "https://gitlab.com/buildroot.org/buildroot/-/raw/{commit}/package/python3/{file}"


class SourceError(KilnError):
    """A pinned source is missing everywhere or does not match its sha256."""


@dataclass(frozen=True)
class Source:
    """One pinned input file of the offline build."""

    file: str            # name in the cache (and below ../shared/buildroot/sources/)
    sha256: str
    origin: str          # "debian:<pool path>", "pypi:<project>==<version>", "buildroot:<file>"
    use: str             # "site", "override", "python3-package"
    site_name: str = ""  # site: the file name Buildroot expects
    package: str = ""    # override: Buildroot's package variable prefix (LIBZLIB, EXPAT ...)
    subdir: str = ""     # override: the source tree inside the tarball's top directory
    patches: tuple[str, ...] = ()   # override: Buildroot patches that apply to this version
    autoreconf: bool = False        # override: a git snapshot without configure

    @property
    def shared_path(self) -> str:
        """Path below the shared snapshot (debian/, pypi/, buildroot-python3-3.13.5/)."""
        kind = self.origin.split(":", 1)[0]
        folder = {"debian": "debian", "pypi": "pypi",
                  "buildroot": "buildroot-python3-3.13.5"}[kind]
        return f"{folder}/{self.file}"


def _deb(pool: str, sha: str, use: str, **kw) -> Source:
    return Source(file=pool.rsplit("/", 1)[1], sha256=sha, origin=f"debian:{pool}", use=use, **kw)


def _pypi(file: str, project: str, version: str, sha: str) -> Source:
    return Source(file=file, sha256=sha, origin=f"pypi:{project}=={version}", use="site",
                  site_name=file)


def _br(file: str, sha: str) -> Source:
    return Source(file=file, sha256=sha, origin=f"buildroot:{file}", use="python3-package")


SOURCES: tuple[Source, ...] = (
    # Identical to Buildroot's files (Debian .orig tarballs of the same release).
    _deb("b/busybox/busybox_1.37.0.orig.tar.bz2",
         "3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4", "site",
         site_name="busybox-1.37.0.tar.bz2"),
    _deb("a/acl/acl_2.3.2.orig.tar.xz",
         "97203a72cae99ab89a067fe2210c1cbf052bc492b479eca7d226d9830883b0bd", "site",
         site_name="acl-2.3.2.tar.xz"),
    _deb("a/attr/attr_2.5.2.orig.tar.xz",
         "f2e97b0ab7ce293681ab701915766190d607a1dba7fae8a718138150b700a70b", "site",
         site_name="attr-2.5.2.tar.xz"),
    _deb("a/autoconf/autoconf_2.72.orig.tar.xz",
         "ba885c1319578d6c94d46e9b0dceb4014caafe2490e437a0dbca3f270a223f5a", "site",
         site_name="autoconf-2.72.tar.xz"),
    _deb("a/automake-1.16/automake-1.16_1.16.5.orig.tar.xz",
         "f01d58cd6d9d77fbdca9eb4bbd5ead1988228fdb73d6f7a201f5f8d6b118b469", "site",
         site_name="automake-1.16.5.tar.xz"),
    # Python 3.13.5: the upstream tarball (Debian renamed it), with package/python3 at 3.13.5.
    _deb("p/python3.13/python3.13_3.13.5.orig.tar.xz",
         "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640", "site",
         site_name="Python-3.13.5.tar.xz"),
    # Other versions or repacks: package overrides.
    _deb("e/expat/expat_2.8.2.orig.tar.gz",
         "ca9d7c05560653cb977bfaa1ac54f717919cc0c68f6798b42fe55347c0b0ad52", "override",
         package="EXPAT", subdir="expat", autoreconf=True),
    _deb("libf/libffi/libffi_3.4.8.orig.tar.gz",
         "cbb7f0b3b095dc506387ec1e35b891bfb4891d05b90a495bc69a10f2293f80ff", "override",
         package="LIBFFI", patches=("0001-Fix-use-of-compact-eh-frames-on-MIPS.patch",)),
    _deb("libt/libtool/libtool_2.4.7.orig.tar.xz",
         "dd637e270439b208907ceead3f163470ed2ce5723ef97ffbda6463c64b57128a", "override",
         package="LIBTOOL"),
    _deb("z/zlib/zlib_1.3.dfsg+really1.3.2.orig.tar.gz",
         "7b6903eb019983987b7112eccf90f1703f1c6c0e0cede36564bf611d19ca579d", "override",
         package="LIBZLIB"),
    # Buildroot's patch (sysroot prefix on a subset of variables) does not apply to 1.8.1; the
    # python3 build only asks pkg-config for cflags and libs, which it prefixes anyway.
    _deb("p/pkgconf/pkgconf_1.8.1.orig.tar.xz",
         "644361ada2942be05655d4452eb018791647c31bba429b287f1f68deb2dc6840", "override",
         package="PKGCONF"),
    # Buildroot's --make-rpath-relative patch does not apply to 0.14.3: fix-rpath then leaves
    # RPATHs as they are and ignores the error (Buildroot-built target binaries carry none).
    _deb("p/patchelf/patchelf_0.14.3.orig.tar.gz",
         "827a8ca914c69413f1ca0d967a637980a24edf000a938531a77e663317c853bb", "override",
         package="PATCHELF", autoreconf=True),
    _deb("a/autoconf-archive/autoconf-archive_20241016.orig.tar.xz",
         "7bcd5d001916f3a50ed7436f4f700e3d2b1bade3ed803219c592d62502a57363", "override",
         package="AUTOCONF_ARCHIVE"),
    # host-zstd (the initramfs compression of the QEMU boards).
    _deb("libz/libzstd/libzstd_1.5.7+dfsg.orig.tar.xz",
         "0c092ef267edce57ba7f3f2645c861f72eaf5e76273c6c3632869423464b90a5", "override",
         package="ZSTD"),
    # TLS (BR2_PACKAGE_PYTHON_KILN_TLS): the mirror serves neither Buildroot's OpenSSL 3.6.2 nor
    # its ca-certificates 20260223 (sid's index names newer ones whose files it does not
    # carry).  OpenSSL 3.6.3 is the next bug-fix release of the same series (Debian's .orig is
    # the upstream tarball); Buildroot's three patches apply.  ca-certificates 20250419
    # (trixie's; a Debian native package, no .orig) with Buildroot's patch 0001
    # (certdata2pem.py without python-cryptography).
    _deb("o/openssl/openssl_3.6.3.orig.tar.gz",
         "243a86649cf6f23eeb6a2ff2456e09e5d77dd9018a54d3d96b0c6bdd6ba6c7f1", "override",
         package="LIBOPENSSL",
         patches=("0001-Reproducible-build-do-not-leak-compiler-path.patch",
                  "0002-Configure-use-ELFv2-ABI-on-some-ppc64-big-endian-sys.patch",
                  "0003-Revert-Fix-static-builds.patch")),
    _deb("c/ca-certificates/ca-certificates_20250419.tar.xz",
         "33b44ef78653ecd3f0f2f13e5bba6be466be2e7da72182f737912b81798ba5d2", "override",
         package="CA_CERTIFICATES",
         patches=("0001-mozilla-certdata2pem.py-make-cryptography-module-opt.patch",)),
    # PyPI sdists, byte-identical to Buildroot's.
    _pypi("cython-3.1.3.tar.gz", "cython", "3.1.3",
          "10ee785e42328924b78f75a74f66a813cb956b4a9bc91c44816d089d5934c089"),
    _pypi("setuptools-80.9.0.tar.gz", "setuptools", "80.9.0",
          "f36b47402ecde768dbfafc46e8e4207b4360c654f1f3bb84475f0a28628fb19c"),
    _pypi("wheel-0.46.3.tar.gz", "wheel", "0.46.3",
          "e3e79874b07d776c40bd6033f8ddf76a7dad46a7b8aa1b2787a83083519a1803"),
    _pypi("flit_core-3.12.0.tar.gz", "flit_core", "3.12.0",
          "18f63100d6f94385c6ed57a72073443e1a71a4acb4339491615d0f16d6ff01b2"),
    _pypi("installer-0.7.0.tar.gz", "installer", "0.7.0",
          "a26d3e3116289bb08216e0d0f7d925fcef0b0194eedfa0c944bcaaa106c4b631"),
    _pypi("packaging-25.0.tar.gz", "packaging", "25.0",
          "d443872c98d677bf60f6a1f2f8c1cb748e8fe762d2bf9d3148b5599295b0fc4f"),
    _pypi("build-1.3.0.tar.gz", "build", "1.3.0",
          "698edd0ea270bde950f53aed21f3a0135672206f3911e0176261a31e0e07b397"),
    _pypi("pyproject_hooks-1.2.0.tar.gz", "pyproject_hooks", "1.2.0",
          "1e859bd5c40fae9448642dd871adf459e5e2084186e8d2c2a79a824c970da1f8"),
    # Buildroot's package/python3/ at Python 3.13.5 (git history, commit 681575c73c).
    _br("0001-Make-the-build-of-pyc-files-conditional.patch",
        "9918d53d2cc7601a8775cce4e16fb731198e23acd328c552fe2b5bf1270a6576"),
    _br("0002-Add-an-option-to-disable-pydoc.patch",
        "167f74eb40a18eb2b2213be404aeb3816a76a5c0fd8e505b78574237a5f0b685"),
    _br("0003-Add-an-option-to-disable-IDLE.patch",
        "807cb360ce64f9dfa9b4ce282904fdcbd888d0ddc9c0366e00b758710e0772a9"),
    _br("0004-configure.ac-move-PY_STDLIB_MOD_SET_NA-further-up.patch",
        "2bc8710eb24e779e091ddc1859c72f3d5291b3c40f753695f6f77c4ebb1f3310"),
    _br("0005-Add-option-to-disable-the-sqlite3-module.patch",
        "d825942efe21ef23b31df07081e06a5b846bbed61f6eac86dd4864b5f297b558"),
    _br("0006-Add-an-option-to-disable-the-tk-module.patch",
        "8cceb613143470bc3f0851fe3bca2066e6f0274ca3f0ed839d41dc454e8d8c45"),
    _br("0007-Add-an-option-to-disable-the-curses-module.patch",
        "93d6f32f9f6023f1e2e4d02caa24b9703e1ae6587a27b8945ac27da26cb0aab1"),
    _br("0008-Add-an-option-to-disable-expat.patch",
        "282255092ac2b348171f0c820046afa14b0d2d2368ccb0745edefcce539153cd"),
    _br("0009-3.13-gh-130577-tarfile-now-validates-archives-to-ens.patch",
        "28bed43f4ed5d344d2d2e98e355d69a757cc942ad2c668b9b281cf22cf9fffde"),
    _br("Config.in", "5387f60251b08555abe446fdaf069bff4fe921817f51ffdfae42e0d794217293"),
    _br("Config.in.host", "0ca38e98372a0fccedcd36b182d22a3719f0429034329a22731145d113d26d0b"),
    _br("python3.hash", "1fbae4812d929f34e5c08a25ac8b25fccfe2edf65b9a8f257343a2687a6b7bf6"),
    _br("python3.mk", "a53d976693a5e6273c3620b197b4ffad0f1cabe158d8f5b437822163135e18cd"),
)


def shared_dir() -> Path | None:
    """The shared source snapshot (``$KILN_BUILDROOT_SOURCES`` or ../shared/buildroot/sources)."""
    if os.environ.get("KILN_BUILDROOT_SOURCES"):
        return Path(os.environ["KILN_BUILDROOT_SOURCES"])
    candidate = repo_root().parent / "shared" / "buildroot" / "sources"
    return candidate if candidate.is_dir() else None


def sources_dir() -> Path:
    """Where fetched sources are kept on this machine."""
    return cache_dir() / "sources"


def _fetch_origin(src: Source, dest: Path) -> None:
    kind, what = src.origin.split(":", 1)
    if kind == "debian":
        mirror = os.environ.get("KILN_DEBIAN_MIRROR") or DEBIAN_MIRROR
        _download(f"{mirror}/pool/main/{what}", dest)
    elif kind == "buildroot":
        _download(BUILDROOT_RAW.format(commit=PYTHON3_PACKAGE_COMMIT, file=what), dest)
    elif kind == "pypi":
        # pip, PyPI's ordinary client, as the shared snapshot was made (it prepares the
        # sdist's metadata in an isolated environment; nothing is installed).
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", "--dest", tmp, what],
                capture_output=True, text=True, check=False, timeout=600)
            got = Path(tmp) / src.file
            if result.returncode != 0 or not got.is_file():
                raise SourceError(f"pip download {what} failed: "
                                  f"{(result.stderr or result.stdout).strip()[-500:]}")
            shutil.move(got, dest)
    else:
        raise SourceError(f"unknown origin {src.origin!r}")


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise SourceError(f"cannot download {url}: {exc}") from None


def fetch(src: Source, log=None) -> Path:
    """The cached, sha256-checked file of ``src``, fetched when missing.  Blocks on the
    network when neither the cache nor the shared snapshot has it."""
    dest = sources_dir() / src.file
    if dest.is_file() and sha256(dest) == src.sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    shared = shared_dir()
    where = None
    if shared is not None and (shared / src.shared_path).is_file():
        shutil.copyfile(shared / src.shared_path, tmp)
        where = str(shared / src.shared_path)
    else:
        where = src.origin
        if log:
            log(f"fetching {src.file} ({src.origin})")
        _fetch_origin(src, tmp)
    digest = sha256(tmp)
    if digest != src.sha256:
        tmp.unlink(missing_ok=True)
        raise SourceError(f"{src.file} from {where} has sha256 {digest}, expected {src.sha256}")
    tmp.replace(dest)
    return dest


def fetch_all(log=None) -> dict[str, Path]:
    """Every pinned source, checked; ``{file: path}``.  Holds the cache lock while fetching."""
    with locked(sources_dir()):
        return {src.file: fetch(src, log) for src in SOURCES}
