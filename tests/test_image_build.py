"""Builds a real qemu-aarch64 image (warm package cache: well under a minute) and inspects
what it ships: kernel modules, board facts, Python and Kiln for aarch64, runnable under
qemu-user with only the image's own files."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiln import boards, payload
from kiln.host import image
from kiln.host.image import cpio, elf, qemu_user, recipe
from kiln.host.image.layout import out_root

BOARD = "qemu-aarch64"
REPO = Path(__file__).resolve().parents[1]


def image_dir() -> Path:
    return out_root() / "test-image" / BOARD


@pytest.fixture(scope="module")
def artifacts():
    """The test image, rebuilt only when an input changed (see kiln.host.image.ensure)."""
    return image.ensure(BOARD, out_dir=image_dir(), progress=True)


@pytest.fixture(scope="module")
def members(artifacts):
    return {e.path: e for e in cpio.read_newc(cpio.decompress(artifacts.initrd))}


@pytest.fixture(scope="module")
def unpacked(members, tmp_path_factory):
    root = tmp_path_factory.mktemp("image-root")
    cpio.extract(members.values(), root)
    return root


def run_target(root: Path, code: str):
    board = boards.load(BOARD)
    return qemu_user.run_python(root, board.qemu_user, board.triplet, "python3.11", ["-c", code])


def test_artifacts_meet_the_size_target(artifacts):
    assert artifacts.board == BOARD and artifacts.compression == "zstd"
    assert artifacts.initrd.is_file() and artifacts.kernel.is_file()
    assert artifacts.initrd_bytes == artifacts.initrd.stat().st_size
    assert artifacts.initrd_bytes <= 8_000_000, f"initramfs is {artifacts.initrd_bytes} bytes"
    assert artifacts.cmdline == boards.load(BOARD).cmdline


def test_kernel_is_an_arm64_linux_image(artifacts):
    head = artifacts.kernel.read_bytes()[:64]
    assert head[56:60] == b"ARM\x64", "not an arm64 Linux Image header"


def test_image_is_reused_when_nothing_changed(artifacts):
    assert image.changed_inputs(BOARD, out_dir=image_dir()) == []
    again = image.cached(BOARD, out_dir=image_dir())
    assert again is not None and again.key == artifacts.key and again.initrd == artifacts.initrd


def test_a_changed_app_is_detected(tmp_path):
    app = tmp_path / "main.py"
    app.write_text("print('another app')\n")
    assert image.changed_inputs(BOARD, app=app, out_dir=image_dir()) == ["text:app"]
    assert image.cached(BOARD, app=app, out_dir=image_dir()) is None


def test_init_board_files_and_demo_app(members):
    r = recipe.load()
    init = members["init"]
    assert stat.S_ISREG(init.mode) and init.mode & 0o111
    assert init.data == (r.images_dir / "init").read_bytes()
    # The QEMU board's radio exists only in Wi-Fi lab images: the production image has no
    # Wi-Fi stack (wpa_supplicant, ciphers) and reports no radio to the drivers.
    assert members["etc/kiln/board.env"].data == b"KILN_BOARD=qemu-aarch64\nKILN_ETH_IFACE=eth0\n"
    assert "sbin/wpa_supplicant" not in members and "usr/sbin/hostapd" not in members
    modules = members["etc/kiln/modules"].data.decode()
    assert "/ccm.ko" not in modules and "mac80211_hwsim" not in modules
    # The demo app uses no TLS: no OpenSSL, CA bundle or kernel TLS (tests/test_image_tls.py).
    assert "/tls.ko" not in modules and "etc/ssl/certs/ca-certificates.crt" not in members
    assert not [p for p in members if "libssl.so" in p or "libcrypto.so" in p]
    assert members["etc/kiln/board.toml"].data == boards.load(BOARD).source.read_bytes()
    assert members["app/main.py"].data == r.demo_app.read_bytes()
    assert stat.S_ISCHR(members["dev/console"].mode) and members["dev/console"].rdev == (5, 1)
    assert members["bin/sh"].data == b"/bin/busybox"
    assert members["usr/bin/python3"].data == b"python3.11"


def test_board_modules_are_present_dependencies_first(members):
    order = members["etc/kiln/modules"].data.decode().split()
    names = [Path(p).name for p in order]
    # The recipe's modules (TCP socket destruction), then the board's, in the board file's
    # order (its list already names virtio_net's dependencies before it).
    board_modules = [f"{name}.ko" for name in boards.load(BOARD).kernel_modules]
    assert names == ["inet_diag.ko", "tcp_diag.ko", *board_modules]
    assert board_modules[:4] == ["virtio_mmio.ko", "failover.ko", "net_failover.ko",
                                 "virtio_net.ko"]
    for rel in order:
        ko = members[f"lib/modules/{rel}"]
        assert ko.data[:4] == b"\x7fELF"
    abi = members["etc/kiln/kernel-abi"].data.decode().strip()
    assert all(rel.startswith(abi + "/") for rel in order)


def test_every_elf_is_aarch64_and_its_libraries_are_shipped(unpacked):
    libs = {p.name for d in ("lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib")
            if (unpacked / d).is_dir() for p in (unpacked / d).iterdir()}
    checked = 0
    for path in unpacked.rglob("*"):
        if path.is_symlink() or not path.is_file() or not elf.is_elf(path):
            continue
        info = elf.read(path)
        assert info.machine == "aarch64", path
        missing = [n for n in info.needed if n not in libs]
        assert not missing, f"{path.relative_to(unpacked)} needs {missing}"
        checked += 1
    assert checked > 10


def test_kiln_extensions_are_aarch64_for_every_pyx(artifacts, unpacked):
    site = unpacked / "usr/lib/python3/dist-packages"
    pyx = sorted(".".join(p.relative_to(REPO / "sdk").with_suffix("").parts)
                 for p in (REPO / "sdk").rglob("*.pyx"))
    built = sorted(".".join(p.relative_to(site).parts).split(".cpython-")[0]
                   for p in site.rglob("*.so"))
    # Every Cython module but the TLS layer, which only images with TLS carry.
    assert not artifacts.tls and "--with tls adds it" in artifacts.tls_reason
    assert pyx and set(pyx) - set(payload.TLS_MODULES) <= set(built), \
        "a Cython module of sdk/ was not cross-built"
    assert not set(payload.TLS_MODULES) & set(built)
    for so in site.rglob("*.so"):
        assert so.name.endswith(".cpython-311-aarch64-linux-gnu.so")
        assert elf.read(so).machine == "aarch64"
    assert not (site / "kiln" / "host").exists(), "host-only tooling leaked into the image"
    assert (site / "kiln" / "payload.py").is_file()


def test_python_and_kiln_import_under_qemu_user(unpacked):
    pyx_modules = sorted(".".join(p.relative_to(REPO / "sdk").with_suffix("").parts)
                         for p in (REPO / "sdk").rglob("*.pyx"))
    pyx_modules = [m for m in pyx_modules if m not in payload.TLS_MODULES]
    code = ("import os, sys, importlib, socket, json, selectors\n"
            f"mods = {pyx_modules!r}\n"
            "for m in mods + ['networking', 'networking.socket', 'usocket', 'driver.eth.linux',\n"
            "               'bsp', 'kiln.app']:\n"
            "    importlib.import_module(m)\n"
            "print(os.uname().machine, sys.version_info[:2], len(mods))\n")
    result = run_target(unpacked, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "aarch64"
    assert "(3, 11)" in result.stdout


def test_pruned_modules_are_really_absent(unpacked):
    """The target Python sees only the image's stdlib, never the host's."""
    result = run_target(unpacked, "import sqlite3")
    assert result.returncode != 0 and "No module named" in result.stderr


def test_stdlib_is_byte_compiled(unpacked):
    stdlib = unpacked / "usr/lib/python3.11"
    sources = [p for p in stdlib.rglob("*.py")]
    assert sources
    missing = [p for p in sources
               if not (p.parent / "__pycache__" / f"{p.stem}.cpython-311.pyc").is_file()]
    assert not missing, missing[:5]
    pyc = next((stdlib / "__pycache__").glob("os.cpython-311.pyc")).read_bytes()
    assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, check_source=0 (PEP 552)


def test_tls_faces_name_the_fix_in_an_image_without_tls(unpacked):
    """An app's ``import ssl`` (either face) fails with the way to get TLS, not with a bare
    "No module named" about a Kiln internal."""
    code = ("import importlib\n"
            f"for m in {list(payload.TLS_FACES)!r}:\n"
            "    try:\n"
            "        importlib.import_module(m)\n"
            "    except ImportError as exc:\n"
            "        print(m, '|', exc)\n"
            "    else:\n"
            "        print(m, '| imported')\n")
    result = run_target(unpacked, code)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" | ", 1) for line in result.stdout.splitlines())
    assert set(lines) == set(payload.TLS_FACES)
    for module, error in lines.items():
        face = "tls" if module == "kiln.net.utls" else "ssl"
        assert error.startswith(f"{face}: this image has no TLS ("), error
        assert "kiln image build --with tls" in error and "BR2_PACKAGE_PYTHON_KILN_TLS" in error
