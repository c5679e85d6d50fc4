"""Build script for kiln-sdk.

Every ``.pyx`` under ``sdk/`` is compiled as an extension module named after its path
(``sdk/kiln/net/core.pyx`` -> ``kiln.net.core``).  Cross-compiling for a board works through the
standard variables: ``CC``, ``_PYTHON_HOST_PLATFORM`` and ``_PYTHON_SYSCONFIGDATA_NAME`` (the image
builder sets them; see ``kiln.image``).
"""
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

ROOT = Path(__file__).resolve().parent
SDK = ROOT / "sdk"
# The repository folder drivers/ is the importable package ``driver`` (Zerynth's name:
# ``driver.wifi.<name>``, ``driver.eth.<name>``).
DRIVERS = ROOT / "drivers"


def packages():
    found = find_packages(str(SDK))
    if (DRIVERS / "__init__.py").exists():
        found += ["driver"] + [f"driver.{p}" for p in find_packages(str(DRIVERS))]
    return found


def extensions():
    exts = []
    for pyx in sorted(SDK.rglob("*.pyx")):
        rel = pyx.relative_to(SDK).with_suffix("")
        exts.append(
            Extension(
                ".".join(rel.parts),
                [str(pyx.relative_to(ROOT))],
                extra_compile_args=["-O2", "-fno-strict-aliasing"],
            )
        )
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
        },
        include_path=[str(SDK)],
        quiet=True,
    )


def data_files():
    """Board configs and the image recipe, for installs that are not editable (an editable
    install reads them from the checkout; ``kiln.boards.find_data_dir`` looks in both)."""
    def files(folder, pattern="*"):
        return sorted(str(p.relative_to(ROOT)) for p in (ROOT / folder).glob(pattern) if p.is_file())
    return [("share/kiln/board_configs", files("board_configs", "*.toml")),
            ("share/kiln/images", files("images")),
            ("share/kiln/images/demo", files("images/demo"))]


setup(
    name="kiln-sdk",
    version="0.1.0",
    description="Zerynth/MicroPython-style Python API and firmware images for ARM Linux boards",
    python_requires=">=3.11",
    package_dir={"": "sdk", "driver": "drivers"},
    packages=packages(),
    package_data={"": ["*.pxd", "*.pyi", "py.typed"], "driver.eth": ["*.script"]},
    ext_modules=extensions(),
    data_files=data_files(),
    entry_points={"console_scripts": ["kiln = kiln.cli:main"]},
    zip_safe=False,
)
