"""Cross-compile Kiln's board-side payload (:mod:`kiln.payload`) for the board.

The sources are the payload's packages wherever Python finds them -- the checkout (editable
install) or site-packages (``pip install kiln-sdk``; the wheel carries the ``.pyx``/``.pxd``
files) -- so a user who installed Kiln as a package builds images too.  Each ``.pyx`` is turned
into C by Cython on the host and compiled by the board's cross GCC against the target's Python
headers (``libpython3.X-dev:<arch>`` unpacked with ``dpkg-deb -x``), with the target's extension
suffix (``.cpython-311-aarch64-linux-gnu.so``).  No setuptools run, no sysconfig tricks: one
compiler call per module, all of them in parallel.

Modules that link a library besides libc (:data:`kiln.payload.EXTENSION_LIBRARIES`: the TLS
layer, OpenSSL) compile against the *target's* headers and link the target's libraries --
``libssl-dev:<arch>`` and ``libssl3:<arch>`` unpacked the same way -- and are checked to name
them in ``DT_NEEDED`` (``libssl.so.3``), so the image's loader finds the image's libssl.  Their
generated C stays beside the result (:func:`c_sources_dir`), so that an image where nothing else
needs OpenSSL can have them compiled again with Kiln's own static OpenSSL inside
(:func:`build_embedded`, :mod:`kiln.host.image.openssl`).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kiln import payload
from kiln.errors import KilnError
from kiln.host.image import elf


class CrossBuildError(KilnError):
    """The cross build of Kiln failed."""


def package_dirs() -> dict[str, Path]:
    """``{top-level package: folder}`` of the payload's packages as this Python imports them
    (without importing them).  Packages that do not exist yet are left out."""
    found = {}
    for name in payload.PACKAGE_DIRS:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            found[name] = Path(list(spec.submodule_search_locations)[0]).resolve()
    return found


def source_files() -> list[tuple[Path, str]]:
    """``(file, path relative to the staged tree)`` of every board-side payload source file
    (``.py``, ``.pyx``, ``.pxd``, run-time data such as the udhcpc script), sorted."""
    files = []
    for top, folder in sorted(package_dirs().items()):
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            module = ".".join((top, *rel.with_suffix("").parts))
            if (path.is_file() and payload.is_payload_file(str(path))
                    and not payload.is_host_only(module)):
                files.append((path, str(Path(top) / rel)))
    return files


def require_cython():
    """The ``Cython.Build.cythonize`` function, or a :class:`CrossBuildError` naming the fix."""
    try:
        from Cython.Build import cythonize
    except ImportError:
        raise CrossBuildError("the image builder needs Cython on the host to compile Kiln's "
                              "socket core for the board: pip install 'Cython>=3.0.10,<4' "
                              "(it is a dependency of kiln-sdk; reinstall it with pip)") from None
    return cythonize


def library_flags(name: str, openssl: Path | None, triplet: str) -> list[str]:
    """Compiler and linker flags module ``name`` needs besides Python's: for the modules of
    :data:`kiln.payload.TLS_MODULES`, the target's OpenSSL headers and libraries in
    ``openssl`` (``usr/include``, ``usr/include/<triplet>`` for ``opensslconf.h``,
    ``usr/lib/<triplet>``), then ``-l`` per :data:`kiln.payload.EXTENSION_LIBRARIES`."""
    flags = []
    if name in payload.TLS_MODULES and openssl is not None:
        flags += [f"-I{openssl / 'usr/include'}", f"-I{openssl / 'usr/include' / triplet}",
                  f"-L{openssl / 'usr/lib' / triplet}"]
    return flags + [f"-l{lib}" for lib in payload.EXTENSION_LIBRARIES.get(name, ())]


def c_sources_dir(lib: Path) -> Path:
    """Where :func:`build` keeps the generated C of the TLS modules, for its result ``lib``."""
    return lib.parent / "tls-c"


def embedded_flags(openssl: Path) -> list[str]:
    """Compiler and linker flags that put the static OpenSSL in ``openssl`` (``include/``,
    ``lib/lib{ssl,crypto}.a``) inside a TLS module
    (:data:`kiln.payload.EMBEDDED_OPENSSL_LINK_ARGS`)."""
    return [f"-I{openssl / 'include'}", *payload.EMBEDDED_OPENSSL_COMPILE_ARGS,
            *payload.EMBEDDED_OPENSSL_LINK_ARGS,
            f"-L{openssl / 'lib'}", "-l:libssl.a", "-l:libcrypto.a", "-lpthread"]


def _python_flags(pydev: Path, python_version: str, triplet: str) -> list[str]:
    # Debian's pyconfig.h includes <TRIPLET/python3.X/pyconfig.h>: usr/include is a root too.
    includes = [pydev / f"usr/include/python{python_version}",
                pydev / f"usr/include/{triplet}/python{python_version}", pydev / "usr/include"]
    return ["-shared", "-fPIC", "-fwrapv", "-DNDEBUG", *payload.EXTRA_COMPILE_ARGS,
            *(f"-I{d}" for d in includes)]


def _compile(cc: str, flags: list[str], extra: list[str], c_file: Path, out: Path,
             name: str) -> Path:
    """One extension module: include directories first, libraries after the source."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [cc, *flags, *(f for f in extra if not f.startswith("-l")), str(c_file), "-o",
           str(out), *(f for f in extra if f.startswith("-l"))]
    result = subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise CrossBuildError(f"{cc} failed on {name} (status {result.returncode}):\n"
                              f"{result.stdout[-3000:]}")
    return out


def _check_and_strip(built: list[Path], cc: str, expected_machine: str) -> None:
    strip = cc[:-3] + "strip" if cc.endswith("gcc") else None
    for so in built:
        machine = elf.read(so).machine
        if machine != expected_machine:
            raise CrossBuildError(f"{so.name} was built for {machine}, not {expected_machine}: "
                                  f"check [cross] cc in the board file")
        if strip and shutil.which(strip):
            subprocess.run([strip, "--strip-unneeded", str(so)], check=True)


def build_embedded(lib: Path, pydev: Path, openssl: Path, dest: Path, *, triplet: str, cc: str,
                   python_version: str, expected_machine: str) -> list[Path]:
    """Compile the TLS modules of the cross build ``lib`` (from :func:`c_sources_dir`) again,
    with the static OpenSSL ``openssl`` (a :func:`kiln.host.image.openssl.build` result)
    inside, into ``dest`` under the same relative paths; returns the modules.  Blocks
    (seconds).  Raises :class:`CrossBuildError` when a module does not compile, is not for
    ``expected_machine``, or still names libssl/libcrypto in ``DT_NEEDED``."""
    suffix = f".cpython-{python_version.replace('.', '')}-{triplet}.so"
    flags = _python_flags(pydev, python_version, triplet)
    sources = c_sources_dir(lib)
    built = []
    for name in payload.TLS_MODULES:
        rel = name.replace(".", "/")
        built.append(_compile(cc, flags, embedded_flags(openssl), sources / f"{rel}.c",
                              dest / f"{rel}{suffix}", name))
    for so in built:
        linked = set(elf.read(so).needed) & {"libssl.so.3", "libcrypto.so.3"}
        if linked:
            raise CrossBuildError(f"{so.name} with Kiln's OpenSSL inside still needs "
                                  f"{sorted(linked)}")
    _check_and_strip(built, cc, expected_machine)
    return built


def build(work: Path, pydev: Path, *, triplet: str, cc: str, python_version: str,
          expected_machine: str, openssl: Path | None = None) -> Path:
    """Cross-build the payload in ``work``; returns the staged site-packages directory.

    ``pydev`` is the unpacked ``libpython3.X-dev`` of the target; ``openssl`` the unpacked
    ``libssl-dev`` and ``libssl3`` of the target, which the TLS modules
    (:data:`kiln.payload.TLS_MODULES`) build against -- None leaves them out.  Blocks
    (seconds; the Cython step dominates).  Raises :class:`CrossBuildError` with the compiler
    output on failure, when a built ``.so`` is not for ``expected_machine``, or when it does not
    name a library it links in ``DT_NEEDED``.
    """
    cythonize = require_cython()
    src, lib = work / "src", work / "lib"
    for d in (src, lib, c_sources_dir(lib)):
        if d.exists():
            shutil.rmtree(d)
    for path, rel in source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, src / rel)
    modules = payload.extension_sources({p.name: str(p) for p in sorted(src.iterdir())}, True,
                                        tls=openssl is not None)
    try:
        cythonize([str(pyx) for _, pyx in modules], compiler_directives=payload.CYTHON_DIRECTIVES,
                  include_path=[str(src)], quiet=True, nthreads=os.cpu_count() or 1)
    except Exception as exc:  # Cython reports the .pyx error itself on stderr
        raise CrossBuildError(f"Cython could not translate Kiln's .pyx sources: {exc}") from None
    suffix = f".cpython-{python_version.replace('.', '')}-{triplet}.so"
    flags = _python_flags(pydev, python_version, triplet)

    def compile_one(module: tuple[str, str]) -> Path:
        name, pyx = module
        return _compile(cc, flags, library_flags(name, openssl, triplet),
                        Path(pyx).with_suffix(".c"), lib / (name.replace(".", "/") + suffix),
                        name)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        built = list(pool.map(compile_one, modules))
    for (name, _pyx), so in zip(modules, built):
        needed = elf.read(so).needed
        for library in payload.EXTENSION_LIBRARIES.get(name, ()):
            if not any(n.startswith(f"lib{library}.so") for n in needed):
                raise CrossBuildError(f"{so.name} links -l{library} but its DT_NEEDED is "
                                      f"{list(needed)}: it would not load lib{library} in the "
                                      f"image")
    for path in src.rglob("*"):
        if path.is_file() and path.suffix not in (".pyx", ".pxd", ".c"):
            (lib / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, lib / path.relative_to(src))
    for name, pyx in modules:
        if name in payload.TLS_MODULES:
            kept = c_sources_dir(lib) / (name.replace(".", "/") + ".c")
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(pyx).with_suffix(".c"), kept)
    _check_and_strip(built, cc, expected_machine)
    return lib
