"""The offline overlay of the CI build: what turns a Kiln defconfig into a build that never
touches the internet.

Buildroot is given, on top of ``configs/kiln_<board>_defconfig``:

* a **local source site**: ``BR2_PRIMARY_SITE=file://<site>`` with ``BR2_PRIMARY_SITE_ONLY=y``,
  holding the pinned files that are identical to Buildroot's (:mod:`kiln.host.buildroot.sources`),
  so Buildroot can never try an upstream site;
* **source overrides** (``BR2_PACKAGE_OVERRIDE_FILE``): ``<PKG>_OVERRIDE_SRCDIR`` for the packages
  whose pinned source is another version or a repack, extracted with the Buildroot patches that
  still apply; git snapshots without ``configure`` get ``<PKG>_AUTORECONF = YES``; host-fakeroot,
  host-tar, host-m4 and host-openssl are the host's own programs (:data:`HOST_PROGRAMS`);
* a private copy of Buildroot whose ``package/python3/`` is Buildroot's own at Python 3.13.5;
* **Debian's cross toolchain** as ``BR2_TOOLCHAIN_EXTERNAL_CUSTOM``: a thin wrapper (Buildroot
  refuses compilers configured ``--with-sysroot=/``, the mark of a distribution toolchain) and a
  Buildroot-shaped copy of its sysroot; gcc 12, headers 6.1, glibc, SSP, OpenMP, no C++;
* **Debian's kernel** instead of Buildroot's (``BR2_LINUX_KERNEL`` off): the kernel image is
  booted directly, the board's modules (and their dependencies) come in a rootfs overlay with a
  ``modules.dep``, so Kiln's post-build script resolves them like any kernel's.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from kiln.boards import Board
from kiln.errors import KilnError
from kiln.host.buildroot import sources as src_mod
from kiln.host.buildroot.cache import cache_dir, locked

# Debian's cross toolchain per Debian architecture: (triplet, gcc version, kernel headers).
CROSS = {"arm64": ("aarch64-linux-gnu", "12", "6_1"), "armhf": ("arm-linux-gnueabihf", "12", "6_1")}
# Programs of the cross binutils/gcc linked as they are; gcc and cpp get the sysroot wrapper.
_PLAIN_TOOLS = ("addr2line", "ar", "as", "c++filt", "elfedit", "gcov", "gprof", "ld", "ld.bfd",
                "nm", "objcopy", "objdump", "ranlib", "readelf", "size", "strings", "strip",
                "gcc-ar", "gcc-nm", "gcc-ranlib")
_WRAPPED_TOOLS = ("gcc", "cpp")
# Kernel config symbols the Kiln defconfig sets and the overlay replaces.
_REPLACED_PREFIXES = ("BR2_TOOLCHAIN_EXTERNAL", "BR2_LINUX_KERNEL")


class OfflineError(KilnError):
    """The offline overlay cannot be prepared (missing cross compiler, patch failure ...)."""


@dataclass(frozen=True)
class Overlay:
    """Everything the offline build adds to a Kiln defconfig (paths are absolute)."""

    site: Path              # BR2_PRIMARY_SITE directory
    dl_dir: Path            # BR2_DL_DIR
    override_file: Path     # BR2_PACKAGE_OVERRIDE_FILE
    toolchain: Path         # BR2_TOOLCHAIN_EXTERNAL_PATH
    rootfs_overlay: Path    # BR2_ROOTFS_OVERLAY (Debian kernel modules)
    kernel_image: Path      # the Debian kernel booted with the initramfs
    kernel_abi: str
    triplet: str
    gcc: str
    headers: str
    app: Path | None = None  # BR2_PACKAGE_KILN_INIT_APP (None: the defconfig's)

    def lines(self) -> list[str]:
        """The Buildroot assignments of the overlay."""
        lines = [
            "BR2_TOOLCHAIN_EXTERNAL=y",
            "BR2_TOOLCHAIN_EXTERNAL_CUSTOM=y",
            "BR2_TOOLCHAIN_EXTERNAL_PREINSTALLED=y",
            f'BR2_TOOLCHAIN_EXTERNAL_PATH="{self.toolchain}"',
            f'BR2_TOOLCHAIN_EXTERNAL_CUSTOM_PREFIX="{self.triplet}"',
            f"BR2_TOOLCHAIN_EXTERNAL_GCC_{self.gcc}=y",
            f"BR2_TOOLCHAIN_EXTERNAL_HEADERS_{self.headers}=y",
            "BR2_TOOLCHAIN_EXTERNAL_CUSTOM_GLIBC=y",
            "BR2_TOOLCHAIN_EXTERNAL_HAS_SSP=y",
            "# BR2_TOOLCHAIN_EXTERNAL_INET_RPC is not set",
            "# BR2_TOOLCHAIN_EXTERNAL_CXX is not set",
            "BR2_TOOLCHAIN_EXTERNAL_OPENMP=y",
            "# BR2_LINUX_KERNEL is not set",
            f'BR2_PRIMARY_SITE="file://{self.site}"',
            "BR2_PRIMARY_SITE_ONLY=y",
            f'BR2_DL_DIR="{self.dl_dir}"',
            f'BR2_PACKAGE_OVERRIDE_FILE="{self.override_file}"',
            f'BR2_ROOTFS_OVERLAY="{self.rootfs_overlay}"',
            # Wi-Fi userspace (wpa_supplicant, libnl and its host bison and flex) stays out:
            # the QEMU board's radio is simulated, the probe checks Ethernet, and none of
            # those sources is on Debian's mirror at Buildroot's versions.
            "# BR2_PACKAGE_PYTHON_KILN_WIFI is not set",
            # TLS as in the user build (OpenSSL with kernel TLS, ca-certificates, Python's
            # ssl): their sources are overrides from Debian's mirror
            # (kiln.host.buildroot.sources), the kernel's TLS modules come with Debian's kernel.
            "BR2_PACKAGE_PYTHON_KILN_TLS=y",
            # Top-level parallel build (each package in its own directories).
            "BR2_PER_PACKAGE_DIRECTORIES=y",
        ]
        if self.app is not None:
            lines.append(f'BR2_PACKAGE_KILN_INIT_APP="{self.app}"')
        return lines


def merged_defconfig(kiln_defconfig: str, overlay_lines: list[str]) -> str:
    """The Kiln defconfig with the overlay applied: the toolchain and kernel lines are
    replaced, any symbol the overlay sets is replaced, everything else is kept."""
    overlay_syms = {_symbol(line) for line in overlay_lines}
    kept = [line for line in kiln_defconfig.splitlines()
            if line and not line.startswith("# Generated") and not line.startswith("# (or")
            and not _symbol(line).startswith(_REPLACED_PREFIXES)
            and _symbol(line) not in overlay_syms]
    return "\n".join(kept + ["# Kiln's offline CI overlay (kiln.host.buildroot.offline)"]
                     + overlay_lines) + "\n"


def _symbol(line: str) -> str:
    if line.startswith("# BR2_"):
        return line[2:].split(" ", 1)[0]
    return line.split("=", 1)[0]


# -- Buildroot copy ------------------------------------------------------------------------

def private_buildroot(pristine: Path, dest_root: Path) -> Path:
    """A copy of Buildroot tree ``pristine`` whose ``package/python3`` is Buildroot's own at
    Python 3.13.5 (the pinned ``python3-package`` sources).  Made once per pristine tree."""
    files = {s.file: src_mod.fetch(s) for s in src_mod.SOURCES if s.use == "python3-package"}
    key = hashlib.sha256((str(pristine.resolve()) + "".join(
        f"{s.file}={s.sha256}" for s in src_mod.SOURCES if s.use == "python3-package")
        ).encode()).hexdigest()[:16]
    dest = dest_root / f"buildroot-offline-{key}"
    stamp = dest / ".kiln-offline"
    with locked(dest):
        if stamp.is_file():
            return dest
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(pristine, dest, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "output", "dl"))
        python3 = dest / "package" / "python3"
        shutil.rmtree(python3)
        python3.mkdir()
        for name, path in files.items():
            shutil.copyfile(path, python3 / name)
        stamp.write_text(f"{pristine}\n")
    return dest


# -- sources -------------------------------------------------------------------------------

def prepare_site(site: Path, log=None) -> None:
    """Fill the local primary site with the ``site`` sources under Buildroot's names."""
    site.mkdir(parents=True, exist_ok=True)
    for src in src_mod.SOURCES:
        if src.use != "site":
            continue
        path = src_mod.fetch(src, log)
        dest = site / src.site_name
        if not dest.is_file() or dest.stat().st_size != path.stat().st_size:
            shutil.copyfile(path, dest)


def prepare_overrides(buildroot: Path, root: Path, log=None) -> Path:
    """Extract every ``override`` source (with its listed Buildroot patches) below ``root`` and
    write the override file; returns its path.  Each directory is made once per source and
    patch set; a listed patch that does not apply is an error."""
    root.mkdir(parents=True, exist_ok=True)
    lines = ["# Kiln's offline CI build: sources Buildroot cannot download here "
             "(kiln.host.buildroot.sources).", ""]
    for src in src_mod.SOURCES:
        if src.use != "override":
            continue
        srcdir = _extract_override(buildroot, src, root, log)
        lines.append(f"{src.package}_OVERRIDE_SRCDIR = {srcdir}")
        if src.autoreconf:
            lines += [f"{src.package}_AUTORECONF = YES", f"HOST_{src.package}_AUTORECONF = YES"]
    lines += ["", "# Host packages that are the host's own programs."]
    for package, (program, _apt, why) in HOST_PROGRAMS.items():
        lines += [f"# {_host_name(package)}: {why}",
                  f"{package}_OVERRIDE_SRCDIR = {_host_program_shim(root, package)}"]
    override_file = root / "override.mk"
    text = "\n".join(lines) + "\n"
    if not override_file.is_file() or override_file.read_text() != text:
        override_file.write_text(text)
    return override_file


def _extract_override(buildroot: Path, src: src_mod.Source, root: Path, log) -> Path:
    tarball = src_mod.fetch(src, log)
    patch_dir = buildroot / "package" / src.package.lower().replace("_", "-")
    if src.package == "LIBZLIB":
        patch_dir = buildroot / "package" / "libzlib"
    key = hashlib.sha256((src.sha256 + "".join(src.patches)).encode()).hexdigest()[:12]
    dest = root / f"{src.package.lower()}-{key}"
    stamp = dest / ".kiln-prepared"
    if stamp.is_file():
        return dest / src.subdir if src.subdir else dest
    shutil.rmtree(dest, ignore_errors=True)
    tmp = root / f".{dest.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp, filter="tar")
    tops = [p for p in tmp.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise OfflineError(f"{tarball.name}: expected one top directory, found "
                           f"{[p.name for p in tops]}")
    top = tops[0]
    for patch in src.patches:
        result = subprocess.run(["patch", "-p1", "--forward", "--batch", "-s", "-i",
                                 str(patch_dir / patch)], cwd=top, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise OfflineError(f"Buildroot's {patch_dir.name}/{patch} no longer applies to "
                               f"{tarball.name}: {result.stdout.strip()[-500:]}")
    top.rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    stamp.write_text(f"{src.file} {' '.join(src.patches)}\n")
    return dest / src.subdir if src.subdir else dest


#: Host packages of the offline build that are the host's own programs, as Buildroot itself
#: does when a host tool passes its checks: {Buildroot package: (program, apt package, why)}.
HOST_PROGRAMS = {
    "FAKEROOT": ("fakeroot", "fakeroot", "no fakeroot source is reachable"),
    # Buildroot builds host-tar when the host's is older than 1.35 (needed to create
    # reproducible tarballs of VCS downloads, which an offline build never makes); Debian 12's
    # 1.34 extracts every source.  Saves a gnulib configure and build (~3 minutes).
    "TAR": ("tar", "tar", "the host's tar 1.34 extracts every source"),
    # GNU m4 for host-autoconf/libtool (autoreconf of libffi, expat, patchelf, python3): Debian
    # 12's m4 is 1.4.19.  Saves a gnulib configure and build (~3 minutes).
    "M4": ("m4", "m4", "the host's GNU m4 1.4.19"),
    # host-openssl (host-libopenssl; the target's libopenssl is a source override) serves only
    # ca-certificates here, which runs its c_rehash once to make /etc/ssl/certs' hash links
    # (the subject hash is the same in every OpenSSL 1.0+).  Saves OpenSSL's whole host build
    # with its programs, the dearest package of the TLS build (docs/performance.md, Buildroot).
    "HOST_LIBOPENSSL": ("c_rehash", "openssl", "ca-certificates' c_rehash is the host's "
                                               "`openssl rehash`"),
}
#: Shims that run something else than ``/usr/bin/<program>``: Debian's c_rehash also makes the
#: old-style (MD5) hash links; ``openssl rehash`` makes exactly the links OpenSSL's own
#: c_rehash makes (checked against Buildroot's host-openssl 3.6.3: the same 150 links).
_SHIM_COMMANDS = {"HOST_LIBOPENSSL": "/usr/bin/openssl rehash"}

_SHIM_CONFIGURE = """\
#!/bin/sh
# {pkg} of Kiln's offline Buildroot build: the host's {program} ({why}).
# Buildroot runs it as ./configure (autotools packages) or ./config (OpenSSL).
prefix=/usr/local
for arg in "$@"; do case "$arg" in --prefix=*) prefix=${{arg#--prefix=}} ;; esac; done
cat > Makefile <<MK
all:
install:
\tmkdir -p \\$(DESTDIR)$prefix/bin
\tprintf '#!/bin/sh\\\\nexec {path} "\\$\\$@"\\\\n' > \\$(DESTDIR)$prefix/bin/{program}
\tchmod 0755 \\$(DESTDIR)$prefix/bin/{program}
MK
"""


def shim_configure(package: str) -> str:
    """The ``configure`` script of the host-program shim for Buildroot package ``package``."""
    program, _apt, why = HOST_PROGRAMS[package]
    return _SHIM_CONFIGURE.format(pkg=_host_name(package), program=program, why=why,
                                  path=_shim_command(package))


def _shim_command(package: str) -> str:
    return _SHIM_COMMANDS.get(package) or f"/usr/bin/{HOST_PROGRAMS[package][0]}"


def _host_name(package: str) -> str:
    """Buildroot's name of the host package of override prefix ``package`` (``M4`` ->
    ``host-m4``, ``HOST_LIBOPENSSL`` -> ``host-libopenssl``)."""
    return "host-" + package.lower().removeprefix("host_").replace("_", "-")


def _host_program_shim(root: Path, package: str) -> Path:
    program, apt, _why = HOST_PROGRAMS[package]
    if not Path(_shim_command(package).split()[0]).exists():
        raise OfflineError(f"the offline build runs the host's {program}: apt-get install "
                           f"{apt} (requirements/apt.txt)")
    text = shim_configure(package)
    dest = root / f"{program}-host-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("configure", "config"):
        script = dest / name
        if not script.is_file() or script.read_text() != text:
            script.write_text(text)
            script.chmod(0o755)
    return dest


# -- toolchain ---------------------------------------------------------------------------

def prepare_toolchain(board: Board, root: Path) -> tuple[Path, str, str, str]:
    """Debian's cross toolchain for ``board`` as a Buildroot external toolchain below ``root``:
    ``(path, triplet, gcc version symbol, headers symbol)``."""
    if board.debian_arch not in CROSS:
        raise OfflineError(f"no Debian cross toolchain known for {board.debian_arch}")
    triplet, gcc, headers = CROSS[board.debian_arch]
    real_gcc = Path(f"/usr/bin/{triplet}-gcc-{gcc}")
    sysroot_src = Path(f"/usr/{triplet}")
    if not real_gcc.is_file() or not (sysroot_src / "include" / "stdio.h").is_file():
        raise OfflineError(f"Debian's cross compiler for {board.name} is missing: apt-get "
                           f"install {' '.join(board.cross_packages)}")
    key = hashlib.sha256(f"{triplet} {gcc} {_stat_key(real_gcc)} "
                         f"{_stat_key(sysroot_src / 'lib' / 'libc.so.6')} {_WRAPPER}".encode()
                         ).hexdigest()[:12]
    dest = root / f"{triplet}-{key}"
    with locked(dest):
        if not (dest / ".kiln-toolchain").is_file():
            shutil.rmtree(dest, ignore_errors=True)
            sysroot = dest / "sysroot"
            (sysroot / "usr").mkdir(parents=True)
            shutil.copytree(sysroot_src / "include", sysroot / "usr" / "include", symlinks=True)
            shutil.copytree(sysroot_src / "lib", sysroot / "usr" / "lib", symlinks=True)
            (sysroot / "lib").symlink_to("usr/lib")
            # glibc's linker scripts name Debian's absolute paths; inside the sysroot they
            # must be sysroot-relative so that Buildroot's staging copy is used.
            for script in (sysroot / "usr" / "lib").glob("*.so"):
                if script.is_file() and not script.is_symlink() and script.stat().st_size < 4096:
                    text = script.read_bytes()
                    if text.lstrip().startswith((b"/*", b"GROUP", b"INPUT", b"OUTPUT")):
                        script.write_bytes(text.replace(f"/usr/{triplet}/lib/".encode(),
                                                        b"/usr/lib/"))
            bindir = dest / "bin"
            bindir.mkdir()
            for tool in _PLAIN_TOOLS:
                real = Path(f"/usr/bin/{triplet}-{tool}")
                if real.exists():
                    (bindir / f"{triplet}-{tool}").symlink_to(real)
            for tool in _WRAPPED_TOOLS:
                wrapper = bindir / f"{triplet}-{tool}"
                real = f"/usr/bin/{triplet}-{tool}-{gcc}"
                wrapper.write_text(_WRAPPER.format(tool=tool, real=real, sysroot=sysroot))
                wrapper.chmod(0o755)
            (dest / ".kiln-toolchain").write_text(f"{triplet} gcc {gcc}\n")
    return dest, triplet, gcc, headers


_WRAPPER = """\
#!/bin/sh
# Debian's cross {tool} with a Buildroot-shaped copy of its sysroot (Kiln's offline build).
# Buildroot refuses compilers configured --with-sysroot=/ (the mark of a distribution
# toolchain): hide that from -v.  Buildroot finds the sysroot from -print-file-name=libc.a,
# which Debian's gcc answers from its own /usr/<triplet>/lib: answer from the copy.
SYSROOT="{sysroot}"
if [ "$#" -eq 1 ] && [ "$1" = -v ]; then
    {real} -v 2>&1 | sed 's| --with-sysroot=/ | |'
    exit 0
fi
for arg in "$@"; do
    case "$arg" in
        -print-file-name=*)
            name=${{arg#-print-file-name=}}
            if [ -e "$SYSROOT/usr/lib/$name" ]; then
                echo "$SYSROOT/usr/lib/$name"
                exit 0
            fi
            ;;
    esac
done
exec {real} --sysroot="$SYSROOT" "$@"
"""


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{int(st.st_mtime)}"


# -- kernel ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DebianKernel:
    image: Path
    abi: str
    overlay: Path


def prepare_debian_kernel(board: Board, root: Path, log=None) -> DebianKernel:
    """Debian's kernel for ``board`` (through Kiln's private apt, :mod:`kiln.host.image`) and a
    rootfs overlay with the board's modules and kernel TLS's, their dependencies and a
    ``modules.dep``."""
    from kiln.host.image import elf, kernel, recipe as recipe_mod
    from kiln.host.image.apt import PrivateApt
    from kiln.host.image.progress import Progress
    recipe = recipe_mod.load()
    progress = Progress(log is not None)
    arch = board.debian_arch
    apt = PrivateApt(root / "apt" / arch, arch, recipe, root / "debs" / arch)
    with locked(root / "apt" / arch):
        apt.update(progress)
        index = apt.load_index()
        pkg = kernel.concrete_package(index, board.kernel_package)
        (deb,) = apt.download([pkg], progress)
        tree = kernel.extract(deb, root / "kernel" / arch / deb.stem, recipe.kernel_image)
    mdir = tree.modules_dir
    files = kernel.module_files(mdir)
    # The board's modules and, as the overlay turns TLS on, kernel TLS's: the recipe's [tls]
    # modules (tls and the generic ciphers it asks for by name) and the board file's [tls]
    # modules (its CPU's fast drivers) -- the list Kiln's post-build script writes for the init.
    order = kernel.module_load_order(mdir, board.kernel_modules + recipe.tls.part.modules
                                     + board.tls_modules)
    # Named after its contents, so configurations with other module lists (an older checkout
    # sharing the cache) never rewrite the overlay a build of this one copies from.
    key = hashlib.sha256("\n".join(ko.relative_to(mdir).as_posix() for ko in order).encode()
                         ).hexdigest()[:12]
    overlay = root / "overlay" / f"{board.name}-{tree.abi}-{key}"
    stamp = overlay.parent / f".{overlay.name}.done"    # outside: the overlay is copied whole
    with locked(overlay):
        if stamp.is_file() and overlay.is_dir():
            return DebianKernel(image=tree.image, abi=tree.abi, overlay=overlay)
        shutil.rmtree(overlay, ignore_errors=True)
        dest = overlay / "lib" / "modules" / tree.abi
        direct: dict[str, list[str]] = {}
        for ko in order:
            rel = ko.relative_to(mdir).as_posix()
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ko, dest / rel)
            deps = filter(None, elf.modinfo(ko).get("depends", "").split(","))
            direct[rel] = [files[d.replace("-", "_")].relative_to(mdir).as_posix() for d in deps]

        def closure(rel: str) -> list[str]:  # modules.dep lists every dependency
            out: list[str] = []
            for dep in direct[rel]:
                for d in [dep, *closure(dep)]:
                    if d not in out:
                        out.append(d)
            return out
        (dest / "modules.dep").write_text(
            "".join(f"{rel}: {' '.join(closure(rel))}".rstrip() + "\n" for rel in direct))
        if (mdir / "modules.builtin").is_file():
            shutil.copy(mdir / "modules.builtin", dest / "modules.builtin")
        stamp.write_text("".join(ko.name + "\n" for ko in order))
    return DebianKernel(image=tree.image, abi=tree.abi, overlay=overlay)


def prepare(board: Board, pristine_buildroot: Path, app: Path | None = None,
            log=None) -> tuple[Path, Overlay]:
    """Everything the offline build of ``board`` needs: ``(private Buildroot tree, overlay)``.
    Blocks (downloads the first time; seconds when the cache is warm)."""
    root = cache_dir()
    src_mod.fetch_all(log)
    buildroot = private_buildroot(pristine_buildroot, root / "src")
    with locked(root / "site"):
        prepare_site(root / "site", log)
    with locked(root / "overrides"):
        override_file = prepare_overrides(buildroot, root / "overrides", log)
    toolchain, triplet, gcc, headers = prepare_toolchain(board, root / "toolchains")
    debian_kernel = prepare_debian_kernel(board, root / "debian", log)
    overlay = Overlay(site=root / "site", dl_dir=root / "dl", override_file=override_file,
                      toolchain=toolchain, rootfs_overlay=debian_kernel.overlay,
                      kernel_image=debian_kernel.image, kernel_abi=debian_kernel.abi,
                      triplet=triplet, gcc=gcc, headers=headers,
                      app=Path(app).resolve() if app else None)
    return buildroot, overlay
