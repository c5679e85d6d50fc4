"""Build script for kiln-sdk.

What is installed comes from one declaration, ``sdk/kiln/payload.py``:

- by default, everything: the board-side payload (``networking``, ``usocket``, ``bsp``,
  ``driver``, ``kiln`` ...) and the host tooling ``kiln.host`` with the ``kiln`` command, its
  data (board files, image recipe) and the Cython/C sources the image builder cross-compiles;
- with ``KILN_PAYLOAD=board`` (Buildroot's ``python-kiln`` package, a board's own pip): the
  board-side payload only -- no host tooling, no command, no build-time dependencies;
- with ``KILN_TLS=0`` (python-kiln without BR2_PACKAGE_PYTHON_KILN_TLS): without the TLS layer
  (``kiln.net.tls``, which links OpenSSL); the faces' ``ssl``/``tls`` then raise ImportError
  naming the fix;
- with ``KILN_OPENSSL_STATIC=DIR`` (python-kiln with BR2_PACKAGE_PYTHON_KILN_TLS_OWN_OPENSSL):
  the TLS layer with ``DIR/libssl.a`` and ``DIR/libcrypto.a`` linked inside it.

Every ``.pyx`` is compiled as an extension module named after its path
(``sdk/kiln/net/core.pyx`` -> ``kiln.net.core``).  Cross-compiling works through the standard
variables ``CC``, ``LDSHARED``, ``_PYTHON_HOST_PLATFORM`` and ``_PYTHON_SYSCONFIGDATA_NAME``.
"""
import os
import re
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
payload = {}
exec((ROOT / "sdk" / "kiln" / "payload.py").read_text(), payload)  # Kiln is not installed yet
# The version is declared once, in sdk/kiln/__init__.py (Buildroot's external.mk is checked
# against it by tests/test_buildroot_defconfigs.py).
VERSION = re.search(r'^__version__ = "([^"]+)"$',
                    (ROOT / "sdk" / "kiln" / "__init__.py").read_text(), re.M).group(1)
BOARD_ONLY = os.environ.get(payload["PAYLOAD_ENV"], "") == payload["BOARD"]
WITH_TLS = payload["tls_wanted"](os.environ)
PACKAGE_DIRS = {pkg: os.path.relpath(path, ROOT)
                for pkg, path in payload["existing_packages"](str(ROOT)).items()}


OPENSSL_STATIC = os.environ.get(payload["OPENSSL_STATIC_ENV"], "")


def extension(name, pyx):
    """One Cython module; a TLS module with ``$KILN_OPENSSL_STATIC`` links OpenSSL's static
    libraries of that directory inside itself (``payload.EMBEDDED_OPENSSL_*``)."""
    if OPENSSL_STATIC and name in payload["TLS_MODULES"]:
        return Extension(name, [pyx], extra_compile_args=list(
            payload["EXTRA_COMPILE_ARGS"] + payload["EMBEDDED_OPENSSL_COMPILE_ARGS"]),
            extra_objects=[os.path.join(OPENSSL_STATIC, f"lib{lib}.a")
                           for lib in payload["EXTENSION_LIBRARIES"][name]],
            extra_link_args=list(payload["EMBEDDED_OPENSSL_LINK_ARGS"]), libraries=["pthread"])
    return Extension(name, [pyx], extra_compile_args=list(payload["EXTRA_COMPILE_ARGS"]),
                     libraries=list(payload["EXTENSION_LIBRARIES"].get(name, ())))


def extensions():
    exts = [extension(name, os.path.relpath(pyx, ROOT))
            for name, pyx in payload["extension_sources"](PACKAGE_DIRS, BOARD_ONLY, WITH_TLS)]
    return cythonize(exts, compiler_directives=payload["CYTHON_DIRECTIVES"],
                     include_path=[str(ROOT / "sdk")], quiet=True)


def data_files():
    """Board configs and the image recipe for the host tooling of an installed (not editable)
    kiln-sdk (``kiln.boards.find_data_dir`` looks in the checkout first, then here)."""
    if BOARD_ONLY:
        return []
    found = {}
    for folder in ("board_configs", "images"):
        for path in sorted((ROOT / folder).rglob("*")):
            # (images/buildroot is a br2-external tree used from a checkout, not the builder's)
            if (path.is_file() and "__pycache__" not in path.parts
                    and "buildroot" not in path.relative_to(ROOT).parts):
                target = Path("share/kiln") / path.parent.relative_to(ROOT)
                found.setdefault(str(target), []).append(str(path.relative_to(ROOT)))
    return sorted(found.items())


class BuildPayload(build_py):
    """build_py that keeps host-only modules out of a board-only install."""

    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        if BOARD_ONLY:
            modules = [m for m in modules if not payload["is_host_only"](f"{m[0]}.{m[1]}")]
        return modules


board_data = list(payload["BOARD_DATA"])
package_data = board_data if BOARD_ONLY else (
    board_data + list(payload["BUILD_DATA"]) + list(payload["TYPING_DATA"]))

setup(
    name="kiln-sdk",
    version=VERSION,
    description="Zerynth/MicroPython-style Python API and firmware images for ARM Linux boards",
    python_requires=">=3.11",
    package_dir=PACKAGE_DIRS,
    packages=payload["packages"](PACKAGE_DIRS, BOARD_ONLY),
    package_data={"": package_data},
    ext_modules=extensions(),
    data_files=data_files(),
    # The image builder cross-compiles the payload with Cython and setuptools on the host.
    install_requires=[] if BOARD_ONLY else ["Cython>=3.0.10,<4", "setuptools>=68"],
    entry_points={} if BOARD_ONLY else {"console_scripts": ["kiln = kiln.host.cli:main"]},
    cmdclass={"build_py": BuildPayload},
    zip_safe=False,
)
