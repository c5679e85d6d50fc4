"""Pure building blocks of the image builder: cpio, ELF, pruning, import scan, recipe."""
from __future__ import annotations

import io
import stat
import sys
from pathlib import Path

import pytest

from kiln.host.image import cpio, elf, pystdlib, recipe, rootfs


def test_newc_round_trip_keeps_types_modes_and_devices(tmp_path):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin" / "tool").chmod(0o755)
    (root / "bin" / "alias").symlink_to("tool")
    (root / "etc").mkdir()
    (root / "etc" / "odd").write_bytes(b"x" * 5)  # not a multiple of 4: exercises padding
    entries = cpio.tree_entries(root) + [cpio.char_device("dev/console", 5, 1)]
    buf = io.BytesIO()
    size = cpio.write_newc(entries, buf)
    assert size == len(buf.getvalue()) and size % 4 == 0
    back = {e.path: e for e in cpio.read_newc(buf.getvalue())}
    assert list(back) == ["bin", "etc", "bin/alias", "bin/tool", "etc/odd", "dev/console"]
    assert back["bin/tool"].data == b"#!/bin/sh\necho hi\n"
    assert stat.S_IMODE(back["bin/tool"].mode) == 0o755
    assert stat.S_ISLNK(back["bin/alias"].mode) and back["bin/alias"].data == b"tool"
    assert stat.S_ISCHR(back["dev/console"].mode) and back["dev/console"].rdev == (5, 1)
    assert back["etc/odd"].data == b"xxxxx"


def test_newc_rejects_absolute_paths():
    with pytest.raises(ValueError, match="must be relative"):
        cpio.write_newc([cpio.Entry("/etc/passwd", stat.S_IFREG | 0o644, b"")], io.BytesIO())


@pytest.mark.parametrize("method", ["gzip", "xz", "zstd"])
def test_compression_round_trip(tmp_path, method):
    raw = tmp_path / "a.cpio"
    buf = io.BytesIO()
    cpio.write_newc([cpio.Entry("hello", stat.S_IFREG | 0o644, b"kiln" * 1000)], buf)
    raw.write_bytes(buf.getvalue())
    out = tmp_path / f"a.{method}"
    cpio.compress(raw, out, method)
    assert out.stat().st_size < raw.stat().st_size
    assert cpio.decompress(out) == raw.read_bytes()


def test_unknown_compression_is_named(tmp_path):
    with pytest.raises(cpio.PackError, match="unknown compression 'lz4'"):
        cpio.compress(tmp_path / "x", tmp_path / "y", "lz4")


def test_elf_reader_on_the_host_interpreter():
    info = elf.read(Path(sys.executable).resolve())
    assert info.machine == "x86_64" and info.bits == 64
    assert any(n.startswith("libc.so") for n in info.needed)


def test_elf_reader_rejects_non_elf(tmp_path):
    path = tmp_path / "text"
    path.write_text("hello")
    assert not elf.is_elf(path)
    with pytest.raises(elf.NotElfError):
        elf.read(path)


def test_prune_honours_keep_and_removes_trees(tmp_path):
    for rel in ("usr/bin/python3.11", "usr/bin/pydoc", "usr/share/doc/a/copyright",
                "etc/python3.11/sitecustomize.py", "lib/libc.so.6"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    removed = rootfs.prune(tmp_path, ("usr/bin/*", "usr/share/*", "etc/*"),
                           keep=("usr/bin/python3.11",))
    assert sorted(removed) == ["etc/python3.11", "usr/bin/pydoc", "usr/share/doc"]
    assert (tmp_path / "usr/bin/python3.11").exists() and (tmp_path / "lib/libc.so.6").exists()


def test_direct_imports_of_py_and_pyx(tmp_path):
    py = tmp_path / "main.py"
    py.write_text("import os, json as j\nfrom socket import socket\nfrom . import sibling\n"
                  "def f():\n    import selectors\n")
    pyx = tmp_path / "core.pyx"
    pyx.write_text("from libc.stdint cimport uint8_t\ncimport cython\nimport errno\n"
                   "from time import monotonic\n")
    assert pystdlib.direct_imports([py, pyx]) == {"os", "json", "socket", "selectors",
                                                  "errno", "time"}


def test_import_scan_and_prune_on_a_fake_stdlib(tmp_path):
    lib = tmp_path / "python3.11"
    (lib / "pkg").mkdir(parents=True)
    (lib / "lib-dynload").mkdir()
    (lib / "a.py").write_text("import b\n")
    (lib / "b.py").write_text("try:\n    import heavy\nexcept ImportError:\n    pass\n")
    (lib / "heavy.py").write_text("x = 1\n")
    (lib / "unused.py").write_text("")
    (lib / "pkg" / "__init__.py").write_text("")
    (lib / "pkg" / "sub.py").write_text("import _fast\n")
    (lib / "pkg" / "other.py").write_text("")
    (lib / "lib-dynload" / "_fast.cpython-311-aarch64-linux-gnu.so").write_bytes(b"\x7fELF")
    (lib / "lib-dynload" / "_slow.cpython-311-aarch64-linux-gnu.so").write_bytes(b"\x7fELF")
    (lib / "lazy.py").write_text("def f():\n    import unused\n")
    found = pystdlib.needed_modules(lib, {"a", "pkg.sub", "lazy"}, scan_exclude=("heavy",),
                                    ext_suffix=".cpython-311-aarch64-linux-gnu.so")
    assert set(found) == {"a", "b", "pkg", "pkg.sub", "_fast", "lazy"}
    pystdlib.prune_stdlib(lib, found, ".cpython-311-aarch64-linux-gnu.so")
    left = sorted(p.relative_to(lib).as_posix() for p in lib.rglob("*") if p.is_file())
    assert left == ["a.py", "b.py", "lazy.py",
                    "lib-dynload/_fast.cpython-311-aarch64-linux-gnu.so",
                    "pkg/__init__.py", "pkg/sub.py"]


def test_import_time_imports_skip_functions_and_resolve_relative_names():
    source = ("import os\nfrom . import sibling\nfrom .sub import thing\n"
              "try:\n    import _accel\nexcept ImportError:\n    _accel = None\n"
              "class C:\n    import json\n"
              "def later():\n    import email\n")
    assert pystdlib.import_time_imports(source, "pkg.mod", is_package=False) == {
        "os", "pkg", "pkg.sibling", "pkg.sub", "pkg.sub.thing", "_accel", "json"}
    assert "pkg.inner.x" in pystdlib.import_time_imports("from .inner import x", "pkg", True)


def test_direct_import_overrides_scan_exclude(tmp_path):
    lib = tmp_path / "python3.11"
    lib.mkdir()
    (lib / "heavy.py").write_text("")
    found = pystdlib.needed_modules(lib, {"heavy"}, scan_exclude=("heavy",))
    assert found["heavy"] == lib / "heavy.py"


def test_shipped_recipe_is_valid():
    r = recipe.load()
    assert "python3.11-minimal" in r.packages and "busybox-static" in r.packages
    assert r.demo_app.is_file()
    assert {dest for _src, dest, _mode in r.templates} == {"init"}
    assert r.suites[0] == r.release


def test_recipe_errors_name_the_file(tmp_path):
    (tmp_path / "recipe.toml").write_text("[apt]\nrelease = 'bookworm'\n")
    with pytest.raises(recipe.RecipeError, match="missing key"):
        recipe.load(tmp_path)


def test_missing_host_tools_are_named_with_their_fix(monkeypatch, tmp_path):
    from kiln import boards
    from kiln.host.image import hostcheck
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    board = boards.load("qemu-arm")
    found = "\n".join(hostcheck.problems(board))
    assert "arm-linux-gnueabihf-gcc not found: apt-get install gcc-arm-linux-gnueabihf " \
           "libc6-dev-armhf-cross" in found
    assert "qemu-arm-static not found" in found and "qemu-user-static" in found
    assert "zstd not found: apt-get install zstd" in found
    with pytest.raises(hostcheck.HostError, match="cannot build the image"):
        hostcheck.require(board)


def test_cli_reports_a_missing_app_without_traceback(tmp_path, capsys):
    from kiln.host.cli import main
    status = main(["image", "build", "--board", "qemu-aarch64", "--app",
                   str(tmp_path / "nope.py"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("kiln: ") and "nope.py does not exist" in err


def test_cli_reports_an_unknown_board(capsys):
    from kiln.host.cli import main
    assert main(["image", "info", "--board", "vax"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'vax'; known boards:" in err and "qemu-aarch64" in err


# ---- TLS: whether an image carries it, the CA bundle, the cross build's flags --------------

def _app(tmp_path, text, name="main.py"):
    path = tmp_path / name
    path.write_text(text)
    return (path, name)


def test_tls_is_decided_by_the_apps_code(tmp_path):
    from kiln.host.image import tlsneed
    tls = recipe.load().tls
    plain = [_app(tmp_path, "import socket\nprint('no tls')\n")]
    assert tlsneed.decide(tls, plain, None) == tlsneed.TlsDecision(
        False, "the app imports none of ssl, tls, ussl and uses none of IPPROTO_SEC; "
               "--with tls adds it")
    assert tlsneed.decide(tls, plain, True) == tlsneed.TlsDecision(True, "--with tls")
    for text, use in [("import ssl\n", "imports 'ssl' (main.py:1)"),
                      ("x = 1\nimport ussl as ssl\n", "imports 'ussl' (main.py:2)"),
                      ("def f():\n    from tls import SSLContext\n", "imports 'tls' (main.py:2)"),
                      ("import usocket\ns = usocket.socket(usocket.AF_INET,\n"
                       "    usocket.SOCK_STREAM, usocket.IPPROTO_SEC)\n",
                       "uses IPPROTO_SEC (main.py:3)"),
                      ("from usocket import IPPROTO_SEC\n", "uses IPPROTO_SEC (main.py:1)")]:
        app = [_app(tmp_path, text)]
        assert tlsneed.decide(tls, app, None) == tlsneed.TlsDecision(True, f"the app {use}"), text
    # A module next to main.py counts too; --without tls wins and says what will fail.
    app = [_app(tmp_path, "import mqtt\n"), _app(tmp_path, "import ssl\nimport tls\n", "mqtt.py")]
    decision = tlsneed.decide(tls, app, False)
    assert not decision.on
    assert decision.reason == ("--without tls, although the app imports 'ssl' (mqtt.py:1) and 1 "
                               "more: that import raises ImportError in this image")
    # Names that only look alike do not count.
    app = [_app(tmp_path, "import sslib\nfrom mytls import x\nIPPROTO_SECRET = 1\n")]
    assert not tlsneed.decide(tls, app, None).on


def test_tls_part_of_the_shipped_recipe():
    r = recipe.load()
    assert {"libssl3", "ca-certificates"} <= set(r.tls.part.packages)
    assert r.tls.openssl.source and r.tls.openssl.configure
    assert "tls" in r.tls.part.modules and r.tls.part.python == ("encodings.idna",)
    assert r.tls.part.keep == ("etc/ssl/certs/ca-certificates.crt",)
    with_tls, without = r.content(False, (), True), r.content(False, (), False)
    assert set(with_tls.packages) - set(without.packages) == set(r.tls.part.packages)
    assert "tls" in with_tls.modules and "tls" not in without.modules


def test_ca_bundle_is_made_as_update_ca_certificates_would(tmp_path):
    from kiln.host.image import cabundle
    with pytest.raises(cabundle.CaBundleError, match="ca-certificates"):
        cabundle.build(tmp_path)
    mozilla = tmp_path / "usr/share/ca-certificates/mozilla"
    mozilla.mkdir(parents=True)
    (mozilla / "b_Root.crt").write_bytes(b"B\n")
    (mozilla / "a_Root.crt").write_bytes(b"A-no-newline")
    (mozilla / "ACCV.crt").write_bytes(b"C\n")
    (mozilla / "README").write_bytes(b"not a certificate\n")
    local = tmp_path / "usr/local/share/ca-certificates"
    local.mkdir(parents=True)
    (local / "site.crt").write_bytes(b"L\n")
    bundle, count = cabundle.build(tmp_path)
    assert bundle == tmp_path / "etc/ssl/certs/ca-certificates.crt" and count == 4
    # C-locale order of the relative paths, a missing final newline added, local CAs last.
    assert bundle.read_bytes() == b"C\nA-no-newline\nB\nL\n"


def test_tls_modules_compile_against_the_targets_openssl(tmp_path):
    from kiln import payload
    from kiln.host.image import crossbuild
    flags = crossbuild.library_flags("kiln.net.tls", tmp_path, "aarch64-linux-gnu")
    assert flags == [f"-I{tmp_path}/usr/include", f"-I{tmp_path}/usr/include/aarch64-linux-gnu",
                     f"-L{tmp_path}/usr/lib/aarch64-linux-gnu", "-lssl", "-lcrypto"]
    assert crossbuild.library_flags("kiln.net.core", tmp_path, "aarch64-linux-gnu") == []
    assert set(payload.TLS_MODULES) <= set(payload.EXTENSION_LIBRARIES)


def test_cli_tls_choice():
    from kiln.errors import KilnError
    from kiln.host.image.cli import tls_choice
    assert tls_choice([], []) is None
    assert tls_choice(["tls"], []) is True and tls_choice([], ["tls"]) is False
    with pytest.raises(KilnError, match="exclude each other"):
        tls_choice(["tls"], ["tls"])


def test_cli_rejects_an_unknown_part(capsys):
    from kiln.host.cli import main
    with pytest.raises(SystemExit):
        main(["image", "build", "--board", "qemu-aarch64", "--with", "bluetooth"])
    assert "invalid choice: 'bluetooth'" in capsys.readouterr().err


def test_kiln_tls_0_leaves_the_tls_layer_out_of_the_build():
    """setup.py (Buildroot's python-kiln without BR2_PACKAGE_PYTHON_KILN_TLS) and the cross
    build select Cython modules through kiln.payload; KILN_TLS=0 drops the TLS layer only."""
    from kiln import payload
    root = Path(__file__).resolve().parents[1]
    dirs = payload.existing_packages(str(root))
    assert payload.tls_wanted({}) and payload.tls_wanted({"KILN_TLS": "1"})
    assert not payload.tls_wanted({"KILN_TLS": "0"})
    everything = dict(payload.extension_sources(dirs, True))
    without = dict(payload.extension_sources(dirs, True, tls=False))
    assert set(payload.TLS_MODULES) <= set(everything)
    assert set(everything) - set(without) == set(payload.TLS_MODULES)


def test_openssl_options_file_is_read_and_checked(tmp_path):
    """images/openssl.options: one Configure argument per line, comments; anything but no-X,
    enable-X or a compiler flag is refused with its file and line."""
    good = tmp_path / "good.options"
    good.write_text("# comment\nenable-ktls\n\nno-des   # DES\n-Os\n")
    assert recipe.read_options(good) == ("enable-ktls", "no-des", "-Os")
    bad = tmp_path / "bad.options"
    bad.write_text("no-des\nlinux-aarch64\n")
    with pytest.raises(recipe.RecipeError, match=r"bad\.options:2: 'linux-aarch64' is not"):
        recipe.read_options(bad)
    two = tmp_path / "two.options"
    two.write_text("no-des no-rc4\n")
    with pytest.raises(recipe.RecipeError, match="two.options:1"):
        recipe.read_options(two)


def test_kilns_openssl_recipe_names_a_pinned_source_and_keeps_what_tls_needs():
    from kiln.host.image import openssl
    own = recipe.load().tls.openssl
    assert openssl.pinned(own).file == own.source and openssl.pinned(own).sha256
    options = set(own.configure)
    assert "enable-ktls" in options and "no-deprecated" in options
    # What Kiln's TLS offers stays: TLS 1.2/1.3, ChaCha20-Poly1305, X25519, EC, DH, ML-KEM.
    for kept in ("tls1_2", "tls1_3", "chacha", "poly1305", "ecx", "ec", "dh", "ml-kem", "psk",
                 "sock", "err"):
        assert f"no-{kept}" not in options, kept
    # The cache key follows the source, the arguments, the target and the compiler.
    key = openssl.key(own, "linux-aarch64", "aarch64-linux-gnu-gcc")
    assert key != openssl.key(own, "linux-armv4", "aarch64-linux-gnu-gcc")
    assert key != openssl.key(recipe.OpenSSLRecipe(own.source, own.configure[:-1]),
                              "linux-aarch64", "aarch64-linux-gnu-gcc")
    with pytest.raises(openssl.OpenSSLBuildError, match="not a pinned source"):
        openssl.pinned(recipe.OpenSSLRecipe("openssl-0.9.8.tar.gz", ()))


def test_openssl_users_are_the_elf_files_that_need_its_libraries(tmp_path):
    """kiln.host.image.openssl.users: which programs besides the TLS modules need libssl or
    libcrypto (real ELF files made by the host's compiler)."""
    import shutil
    import subprocess
    from kiln.host.image import openssl
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "the tests need the host's C compiler (build-essential, requirements/apt.txt)"
    src = tmp_path / "x.c"
    src.write_text("int f(void) { return 1; }\n")
    root = tmp_path / "root"
    libdir = root / "usr/lib/x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    for soname in ("libssl.so.3", "libcrypto.so.3"):
        subprocess.run([cc, "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o",
                        str(libdir / soname), str(src)], check=True)
    site = root / "usr/lib/python3/dist-packages/kiln/net"
    site.mkdir(parents=True)
    tls_module = site / "tls.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tls_module), str(src), "-Wl,--no-as-needed",
                    str(libdir / "libssl.so.3"), str(libdir / "libcrypto.so.3")], check=True)
    other = root / "usr/lib/python3.11/lib-dynload/_other.so"
    other.parent.mkdir(parents=True)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(other), str(src)], check=True)
    (root / "usr/lib/python3.11/ssl.py").write_text("import _ssl\n")
    triplet = "x86_64-linux-gnu"
    assert openssl.users(root, triplet, [tls_module]) == []
    wpa = root / "sbin/wpa_supplicant"
    wpa.parent.mkdir(parents=True)
    main_c = tmp_path / "main.c"
    main_c.write_text("int main(void) { return 0; }\n")
    subprocess.run([cc, "-o", str(wpa), str(main_c), "-Wl,--no-as-needed",
                    str(libdir / "libcrypto.so.3")], check=True)
    assert openssl.users(root, triplet, [tls_module]) == ["/sbin/wpa_supplicant"]
    assert openssl.users(root, triplet, []) == ["/sbin/wpa_supplicant",
                                                "/usr/lib/python3/dist-packages/kiln/net/tls.so"]


def test_embedded_openssl_flags_keep_openssl_inside_the_module(tmp_path):
    from kiln import payload
    from kiln.host.image import crossbuild
    flags = crossbuild.embedded_flags(tmp_path)
    assert flags[0] == f"-I{tmp_path}/include"
    assert "-Wl,--gc-sections" in flags and "-Wl,--exclude-libs,ALL" in flags
    libs = [f for f in flags if f.startswith("-l")]
    assert libs == ["-l:libssl.a", "-l:libcrypto.a", "-lpthread"]   # after the source, in order
    assert set(payload.EMBEDDED_OPENSSL_LINK_ARGS) <= set(flags)
    assert crossbuild.c_sources_dir(tmp_path / "lib") == tmp_path / "tls-c"
