"""What Kiln puts on a board, declared once.

Kiln's importable code is two sets:

- the **board-side payload**: the on-device API (``networking``, ``usocket``, ``uselect``,
  ``uasyncio``, ``wireless``, ``network``, ``bsp``), the drivers (``driver``) and the parts of ``kiln`` they stand on (the
  Cython socket core ``kiln.net``, the app launcher ``kiln.app``, board loading, the host-network
  guard, the exceptions);
- the **host tooling** (``kiln.host``: the ``kiln`` command, the image builder, the QEMU runner),
  which never goes on a board.

Everything that decides what goes on a board reads this module: ``setup.py`` (with
``KILN_PAYLOAD=board`` it installs the payload only -- Buildroot's ``python-kiln`` package sets
it), the image builder's cross build (``kiln.host.image.crossbuild``) and the image's import
check.  It is stdlib-only and is also read as a plain file (``setup.py`` executes it before Kiln
is installed), so it must not import Kiln.
"""
import os

#: Top-level import packages of Kiln and the folder of the source tree that holds each.
PACKAGE_DIRS = {
    "bsp": "sdk/bsp",
    "driver": "drivers",
    "kiln": "sdk/kiln",
    "network": "sdk/network",
    "networking": "sdk/networking",
    "uasyncio": "sdk/uasyncio",
    "uselect": "sdk/uselect",
    "usocket": "sdk/usocket",
    "wireless": "sdk/wireless",
}
#: Packages and modules (dotted names, with everything below them) that are host tooling.
HOST_ONLY = ("kiln.host",)
#: Files besides ``.py`` that the payload needs at run time (per-package data).
BOARD_DATA = ("*.script",)
#: Files the cross build needs besides ``.py`` (Cython sources), and typing metadata.
BUILD_DATA = ("*.pyx", "*.pxd")
TYPING_DATA = ("*.pyi", "py.typed")
#: How every Cython module of the payload is compiled (setup.py, the cross build, Buildroot).
CYTHON_DIRECTIVES = {"language_level": 3, "boundscheck": False, "wraparound": False,
                     "cdivision": True, "embedsignature": True}
EXTRA_COMPILE_ARGS = ("-O2", "-fno-strict-aliasing")
#: Libraries a Cython module links besides libc, by module name.  Only the TLS layer links
#: OpenSSL; an image without TLS leaves the module out (see :data:`TLS_MODULES`).
EXTENSION_LIBRARIES = {"kiln.net.tls": ("ssl", "crypto")}
#: Modules that need OpenSSL at run time: built and shipped only in images with TLS.
TLS_MODULES = ("kiln.net.tls",)
#: How a TLS module is built with a static OpenSSL inside (Kiln's own, built with
#: ``images/openssl.options``): compiled with a section per function, linked keeping only the
#: sections it reaches and exporting none of OpenSSL's symbols (a CPython ``_ssl`` loaded
#: beside it keeps its own OpenSSL).  The image builder's cross build and setup.py (with
#: ``$KILN_OPENSSL_STATIC``) use them.
EMBEDDED_OPENSSL_COMPILE_ARGS = ("-ffunction-sections", "-fdata-sections")
EMBEDDED_OPENSSL_LINK_ARGS = ("-Wl,--gc-sections", "-Wl,--exclude-libs,ALL")
#: ``$KILN_OPENSSL_STATIC=DIR`` makes ``setup.py`` link :data:`TLS_MODULES` with
#: ``DIR/libssl.a`` and ``DIR/libcrypto.a`` (Buildroot's python-kiln with
#: BR2_PACKAGE_PYTHON_KILN_TLS_OWN_OPENSSL).
OPENSSL_STATIC_ENV = "KILN_OPENSSL_STATIC"
#: The faces' TLS modules (MicroPython's ``tls``/``ssl``, Zerynth's ``ssl``): shipped in every
#: image; without TLS their import raises ImportError naming how to get TLS, so an image
#: without TLS leaves them out of its import check.
TLS_FACES = ("kiln.net.utls", "kiln.net.ussl", "kiln.net.zssl")
#: ``$KILN_TLS=0`` makes ``setup.py`` leave :data:`TLS_MODULES` out (Buildroot's python-kiln
#: without BR2_PACKAGE_PYTHON_KILN_TLS: no OpenSSL on the board).
TLS_ENV = "KILN_TLS"
#: Value of ``$KILN_PAYLOAD`` that makes ``setup.py`` install the board-side payload only.
PAYLOAD_ENV = "KILN_PAYLOAD"
BOARD = "board"


def is_host_only(name):
    """True if the dotted module or package ``name`` is host tooling (never on a board)."""
    return any(name == h or name.startswith(h + ".") for h in HOST_ONLY)


def is_board_module(name):
    """True if the dotted module ``name`` belongs to the board-side payload."""
    return name.split(".")[0] in PACKAGE_DIRS and not is_host_only(name)


def is_payload_file(path):
    """True if the file at ``path`` (below a package folder) is source the board or the build of
    the payload needs: ``.py``, Cython sources and :data:`BOARD_DATA` -- not build products
    (``.c`` generated from a ``.pyx``, ``.so``, ``__pycache__``)."""
    name = os.path.basename(path)
    if "__pycache__" in path.split(os.sep):
        return False
    return (name.endswith(".py") or name.endswith((".pyx", ".pxd"))
            or any(_match(name, pattern) for pattern in BOARD_DATA))


def _match(name, pattern):
    return name.endswith(pattern[1:]) if pattern.startswith("*") else name == pattern


def existing_packages(root):
    """``{top-level package: folder}`` of :data:`PACKAGE_DIRS` that exist below ``root`` (the
    source tree; a package folder may be absent while it has no code yet)."""
    return {pkg: os.path.join(root, rel) for pkg, rel in PACKAGE_DIRS.items()
            if os.path.isfile(os.path.join(root, rel, "__init__.py"))}


def packages(package_dirs, board_only):
    """Dotted names of every package below the folders of ``package_dirs`` (``{top-level
    package: folder}``): each directory with an ``__init__.py``.  ``board_only`` leaves the host
    tooling out.  Sorted."""
    found = []
    for top, folder in package_dirs.items():
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__"
                                 and not d.startswith("."))
            if "__init__.py" not in filenames:
                dirnames[:] = []
                continue
            rel = os.path.relpath(dirpath, folder)
            name = top if rel == "." else top + "." + rel.replace(os.sep, ".")
            if not (board_only and is_host_only(name)):
                found.append(name)
    return sorted(found)


def tls_wanted(environ):
    """False when ``environ`` (a mapping like ``os.environ``) sets :data:`TLS_ENV` to ``"0"``:
    the build leaves :data:`TLS_MODULES` out."""
    return environ.get(TLS_ENV, "1") != "0"


def extension_sources(package_dirs, board_only, tls=True):
    """``[(module name, .pyx path)]`` of every Cython module below ``package_dirs`` (see
    :func:`packages`), sorted by module name; without :data:`TLS_MODULES` unless ``tls``."""
    found = []
    for top, folder in package_dirs.items():
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for filename in filenames:
                if not filename.endswith(".pyx"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, filename[:-4]), folder)
                name = top + "." + rel.replace(os.sep, ".")
                if not (board_only and is_host_only(name)) and (tls or name not in TLS_MODULES):
                    found.append((name, os.path.join(dirpath, filename)))
    return sorted(found)
