"""Apps are directories, copied whole (kiln.host.image.appdir and the builder's use of it):
packages, lib/, data files and empty folders go under /app; what cannot go on a board is refused
with the path and the reason; the app's size is reported; its digest is by content; the
build-time import check sees the app's own modules."""
from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiln import boards
from kiln.host.image import appdir, bytecompile, recipe as recipe_mod, stage
from kiln.host.image.apt import PrivateApt
from kiln.host.image.progress import Progress


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` ({relative path: text or bytes}) below ``root``; return ``root``."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


APP = {
    "main.py": "import json\nimport pkg\nfrom pkg.sub import deep\nimport umqtt.simple\n"
               "import tiny\nprint(json.load(open('settings.json')))\n",
    "pkg/__init__.py": "from . import helper\n",
    "pkg/helper.py": "X = 1\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/deep.py": "from .. import helper\nimport struct\n",
    "lib/umqtt/simple.py": "import socket\n",            # mip's layout: no __init__.py
    "lib/tiny.py": "import binascii\n",
    "settings.json": '{"greeting": "hi"}\n',
    "certs/ca.der": bytes(range(256)),
    "www/index.html": "<h1>hi</h1>\n",
}


@pytest.fixture
def app(tmp_path) -> Path:
    root = write(tmp_path / "app", APP)
    (root / "logs").mkdir()                                  # an empty folder the app writes to
    return root


def refusal(app: Path) -> appdir.AppTreeError:
    with pytest.raises(appdir.AppTreeError) as info:
        appdir.load(app, None)
    return info.value


# --- what is copied -------------------------------------------------------------------------

def test_a_directory_is_copied_whole_with_its_size(app):
    tree = appdir.load(app, None)
    assert [f.name for f in tree.files] == sorted(APP)
    assert tree.dirs == ("certs", "lib", "lib/umqtt", "logs", "pkg", "pkg/sub", "www")
    size = sum(len(c if isinstance(c, bytes) else c.encode()) for c in APP.values())
    assert tree.size == size
    assert tree.summary() == f"{len(APP)} files, {size} bytes ({size / 1e3:.1f} kB) in 7 folders"
    assert sorted(p.name for p in tree.python_files()) == [
        "__init__.py", "__init__.py", "deep.py", "helper.py", "main.py", "simple.py", "tiny.py"]


def test_a_single_file_is_main_py_and_no_app_is_the_demo(tmp_path):
    script = write(tmp_path, {"blink.py": "print(1)\n"}) / "blink.py"
    tree = appdir.load(script, None)
    assert [(f.source, f.name, f.size) for f in tree.files] == [(script, "main.py", 9)]
    demo = recipe_mod.load().demo_app
    assert [(f.source, f.name) for f in appdir.load(None, demo).files] == [(demo, "main.py")]


def test_missing_app_and_missing_main_py_are_named(tmp_path):
    with pytest.raises(appdir.AppNotFoundError, match="nope.py does not exist"):
        appdir.load(tmp_path / "nope.py", None)
    write(tmp_path / "lonely", {"helper.py": ""})
    with pytest.raises(appdir.AppNotFoundError, match=r"lonely has no main\.py"):
        appdir.load(tmp_path / "lonely", None)
    # main.py in a subfolder is not the app's main.py
    write(tmp_path / "nested", {"src/main.py": ""})
    with pytest.raises(appdir.AppNotFoundError, match="has no main.py"):
        appdir.load(tmp_path / "nested", None)


def test_links_inside_the_app_are_copied_as_what_they_point_to(app):
    (app / "config.json").symlink_to("settings.json")
    (app / "vendor").symlink_to("lib/umqtt")
    tree = appdir.load(app, None)
    files = {f.name: f.source for f in tree.files}
    assert files["config.json"] == (app / "settings.json").resolve()
    assert files["vendor/simple.py"] == (app / "lib/umqtt/simple.py").resolve()
    assert "vendor" in tree.dirs


def test_install_writes_the_tree_with_its_folders(app, tmp_path):
    (app / "tool.py").write_text("#!/usr/bin/env python3\n")
    (app / "tool.py").chmod(0o755)
    (app / "alias.json").symlink_to("settings.json")
    dest = tmp_path / "root" / "app"
    appdir.install(appdir.load(app, None), dest)
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    assert got == sorted(set(APP) | {"tool.py", "alias.json", "certs", "lib", "lib/umqtt", "logs",
                                     "pkg", "pkg/sub", "www"})
    assert (dest / "certs/ca.der").read_bytes() == APP["certs/ca.der"]
    assert not (dest / "alias.json").is_symlink()
    assert (dest / "alias.json").read_text() == APP["settings.json"]
    assert stat.S_IMODE((dest / "settings.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "tool.py").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "logs").stat().st_mode) == 0o755


# --- what is refused ------------------------------------------------------------------------

@pytest.mark.parametrize("name, reason", [
    (".git", "is a version-control folder, which does not belong on a board"),
    (".hg", "is a version-control folder"),
    (".svn", "is a version-control folder"),
    ("__pycache__", "is a cache of host tools: the builder compiles the app's sources for the "
                    "board itself"),
    (".pytest_cache", "is a cache of host tools, not part of the app"),
    ("lib/umqtt/__pycache__", "is a cache of host tools"),
])
def test_vcs_and_cache_folders_are_refused(app, name, reason):
    write(app / name, {"x": "data"})
    err = refusal(app)
    assert err.problems == [(name, err.problems[0][1])]
    assert f"  {name}: {reason}" in str(err)
    assert str(err).startswith(f"app {app} holds what cannot go on a board:")


@pytest.mark.parametrize("name, reason", [
    (".git", "is a version-control file"),         # a git worktree's or submodule's .git file
    ("pkg/helper.cpython-311.pyc", "is compiled CPython byte-code: ship the .py source"),
    ("lib/umqtt/simple.mpy", "is MicroPython byte-code (.mpy), which CPython cannot run: Kiln "
                             "runs the app from its .py sources; ship the .py file (mip: "
                             "mip.install(NAME, mpy=False)"),
    ("main.py~", "is an editor's backup file, not part of the app: delete it"),
    (".main.py.swp", "is a vim swap file"),
    (".DS_Store", "is macOS Finder metadata"),
    ("www/Thumbs.db", "is a Windows thumbnail cache"),
])
def test_byte_code_and_leftover_files_are_refused(app, name, reason):
    write(app, {name: b"\x00junk"})
    err = refusal(app)
    assert [p for p, _ in err.problems] == [name]
    assert f"  {name}: {reason}" in str(err)


def test_a_single_mpy_file_is_refused(tmp_path):
    mpy = write(tmp_path, {"main.mpy": b"M\x06"}) / "main.mpy"
    err = refusal(mpy)
    assert "main.mpy: is MicroPython byte-code (.mpy)" in str(err)


def test_links_out_of_the_app_dangling_or_looping_are_refused(app, tmp_path):
    outside = write(tmp_path / "elsewhere", {"secret.pem": "key"})
    (app / "key.pem").symlink_to(outside / "secret.pem")
    (app / "lib/shared").symlink_to(outside)
    (app / "gone.json").symlink_to("missing.json")
    (app / "pkg/sub/loop").symlink_to("..")
    err = refusal(app)
    found = dict(err.problems)
    assert set(found) == {"key.pem", "lib/shared", "gone.json", "pkg/sub/loop"}
    assert found["key.pem"].startswith(
        f"is a symbolic link to {(outside / 'secret.pem').resolve()}, outside the app: copy what "
        f"it points to into the app")
    assert found["lib/shared"].startswith(f"is a symbolic link to {outside.resolve()}, outside")
    assert found["gone.json"] == "is a symbolic link to missing.json, which does not exist"
    assert found["pkg/sub/loop"] == ("is a symbolic link to .., a folder that contains it: the "
                                     "copy would never end")


def test_the_app_folder_itself_may_be_a_link(app, tmp_path):
    link = tmp_path / "current"
    link.symlink_to(app)
    assert [f.name for f in appdir.load(link, None).files] == sorted(APP)


def test_fifos_sockets_and_devices_are_refused(app):
    os.mkfifo(app / "pipe")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(app / "www/app.sock"))
    os.mknod(app / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    try:
        err = refusal(app)
    finally:
        server.close()
    found = dict(err.problems)
    only = ": only regular files and folders can go on a board"
    assert found == {"null": "is a character device" + only,
                     "pipe": "is a FIFO (named pipe)" + only,
                     "www/app.sock": "is a socket" + only}


def test_every_problem_is_listed_in_one_error(app):
    for i in range(25):
        write(app, {f"old{i:02}.py~": ""})
    write(app / ".git", {"HEAD": "ref"})
    err = refusal(app)
    assert len(err.problems) == 26
    text = str(err)
    assert text.count("\n  ") == 21 and text.endswith("  ... and 6 more")


def test_a_python_file_with_a_syntax_error_is_named(app):
    write(app, {"lib/broken.py": "def f(:\n"})
    with pytest.raises(appdir.AppTreeError) as info:
        stage._app_imports(appdir.load(app, None))
    assert info.value.problems == [
        ("lib/broken.py", "is not valid Python (line 1: invalid syntax); the board's CPython "
                          "could not run it")]


# --- the app's modules, its imports, and the input digest -----------------------------------

def test_the_app_resolves_its_own_modules_packages_and_lib(app):
    write(app, {"html/index.html": "<p>", "json/x.txt": ""})     # data folders, not packages
    tree = appdir.load(app, None)
    for own in ("pkg", "pkg.helper", "pkg.sub.deep", "umqtt.simple", "tiny", "main"):
        assert tree.provides(own), own
    for other in ("json", "umqtt", "html", "struct", "pkg.missing", "lib", "settings"):
        assert not tree.provides(other), other
    assert tree.namespace("umqtt") and tree.namespace("html") and not tree.namespace("tiny")
    assert tree.top_level_modules() == {"main": "main.py", "pkg": "pkg", "tiny": "lib/tiny.py"}
    # Only what comes from outside the app is scanned (stdlib pruning) and checked in the image.
    assert stage._app_imports(tree) == {"json", "struct", "socket", "binascii"}


def test_the_import_check_sees_lib_ntptime(app):
    """Issue 18: the build warned that ntptime fails although the app's lib/ holds it.  Its
    name is the app's own now; what it imports from the image is still checked."""
    write(app, {"lib/ntptime.py": "from time import gmtime\nimport socket\nimport struct\n",
                "main.py": "import ntptime\nntptime.settime()\n"})
    imports = stage._app_imports(appdir.load(app, None))
    assert "ntptime" not in imports
    assert {"time", "socket", "struct"} <= imports


def test_the_app_folder_wins_over_lib_for_top_level_names(app):
    write(app, {"tiny.py": "", "lib/pkg/__init__.py": ""})
    assert appdir.load(app, None).top_level_modules() == {
        "main": "main.py", "pkg": "pkg", "tiny": "tiny.py"}


def manifest(app_path):
    recipe = recipe_mod.load()
    apt = PrivateApt(Path("/nonexistent-kiln-apt"), "arm64", recipe, Path("/nonexistent-debs"))
    return stage.input_manifest(boards.load("qemu-aarch64"), recipe, app_path, apt)["text:app"]


def test_the_digest_is_by_content_over_the_whole_tree(app, tmp_path):
    before = manifest(app)
    copy = tmp_path / "elsewhere" / "same-app"
    write(copy, APP)
    (copy / "logs").mkdir()
    assert manifest(copy) == before                      # the same app anywhere: same image
    (app / "settings.json").write_text('{"greeting": "hello"}\n')
    changed = manifest(app)
    assert changed != before                             # a data file changed
    (app / "lib/tiny.py").rename(app / "lib/tiny2.py")
    assert manifest(app) not in (before, changed)        # a file renamed
    (copy / "logs").rmdir()
    assert manifest(copy) != before                      # an empty folder removed


def test_the_sd_card_boards_stage_the_same_app(app):
    # One staging for every packer: the input digest does not depend on the board's format.
    recipe = recipe_mod.load()
    apt = PrivateApt(Path("/nonexistent-kiln-apt"), "arm64", recipe, Path("/nonexistent-debs"))
    texts = {name: stage.input_manifest(boards.load(name), recipe, app, apt)["text:app"]
             for name in ("qemu-aarch64", "rpi3b")}
    assert texts["qemu-aarch64"] == texts["rpi3b"] == manifest(app)


def test_import_check_script_runs_app_imports_under_every_api():
    """The image's import-check script, run by the host's Python on Kiln's sources (the build
    runs it under qemu-user in the image)."""
    args = ["kiln.app", "no_such_kiln_module", "--app", "json", "usocket", "no_such_module",
            "--shadowed", "json", "no_such_module"]
    r = subprocess.run([sys.executable, "-c", bytecompile._IMPORT_SCRIPT, *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout.splitlines()[-1])
    assert found["failed"] == {
        "no_such_kiln_module": "ModuleNotFoundError: No module named 'no_such_kiln_module'"}
    assert found["shadowed"] == ["json"]
    apis = ["zerynth", "micropython", "cpython"]
    assert found["app"]["json"] == found["app"]["usocket"] == dict.fromkeys(apis)
    assert found["app"]["no_such_module"] == dict.fromkeys(
        apis, "ModuleNotFoundError: No module named 'no_such_module'")


def test_import_check_messages(app, monkeypatch):
    """What the build says about the app's imports: a warning for one that imports under no
    API (never for the app's own namespace folders), a note for one that imports only under
    some, a warning for an app module replacing one of the image's."""
    write(app, {"lib/logging.py": "", "lib/collections/defaultdict.py": ""})
    tree = appdir.load(app, None)
    err = {api: "ModuleNotFoundError: x" for api in ("zerynth", "micropython", "cpython")}
    report = bytecompile.ImportReport(
        failures={}, shadowed=("logging",),
        app={"machine": err, "umqtt": err, "json": dict.fromkeys(err),
             "utime": {**err, "micropython": None}})
    seen = {}
    monkeypatch.setattr(bytecompile, "import_check",
                        lambda *a, **kw: seen.update(kw) or report)
    monkeypatch.setattr(bytecompile, "module_names", lambda site: ["kiln.app"])
    lines = []
    progress = Progress(True)
    monkeypatch.setattr(progress, "note", lines.append)
    board = boards.load("qemu-aarch64")
    stage._check_imports(Path("/root"), Path("/site"), tree, {"machine", "json", "utime"}, board,
                         board.triplet, "python3.11", progress)
    assert seen["app_imports"] == ["json", "machine", "utime"]
    assert seen["shadowed"] == ["logging", "main", "pkg", "tiny"]      # not the namespace folder
    assert lines == [
        "warning: the app imports 'machine', which fails in the image: ModuleNotFoundError: x",
        "the app imports 'utime', which imports only with --api micropython",
        "warning: the app's lib/logging.py replaces the image's module 'logging' for the whole "
        "program (the app's folder and lib/ come first on the import path); rename it unless "
        "that is intended",
        "1 Kiln modules import cleanly; the app's 3 imports from the image checked",
    ]
    report.failures["kiln.app"] = "ImportError: boom"
    with pytest.raises(Exception, match=r"Kiln modules do not import in the image \(kiln.app: "
                                        r"ImportError: boom\)"):
        stage._check_imports(Path("/root"), Path("/site"), tree, set(), board, board.triplet,
                             "python3.11", progress)


def test_cli_refuses_a_bad_app_tree_before_building(app, capsys):
    from kiln.host.cli import main
    write(app, {"lib/umqtt/simple.mpy": b"M"})
    status = main(["image", "build", "--board", "qemu-aarch64", "--app", str(app), "--quiet",
                   "--out", str(app.parent / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"kiln: app {app} holds what cannot go on a board:\n"
                          f"  lib/umqtt/simple.mpy: is MicroPython byte-code")
    assert not (app.parent / "out").exists()


REPO = Path(__file__).resolve().parents[1]
KILN_INIT = REPO / "images" / "buildroot" / "package" / "kiln-init"


def run_kiln_init(tmp_path, app: str) -> tuple[subprocess.CompletedProcess, Path]:
    """kiln-init's install commands (kiln-init.mk), run by make with Buildroot's variables and
    the Buildroot build directory ($(@D): here Kiln's checkout) stubbed; returns make's result
    and the target root."""
    target, host = tmp_path / "target", tmp_path / "host"
    (host / "bin").mkdir(parents=True)
    (host / "bin" / "python3").symlink_to(sys.executable)
    harness = tmp_path / "Makefile"
    harness.write_text(
        'qstrip = $(strip $(subst ",,$(1)))\n'
        "define generic-package\nendef\n"
        f'BR2_PACKAGE_KILN_INIT_APP = "{app}"\n'
        'BR2_PACKAGE_KILN_INIT_BOARD = "qemu-aarch64"\n'
        f"KILN_INIT_PKGDIR = {KILN_INIT}\nHOST_DIR = {host}\nTARGET_DIR = {target}\n"
        "INSTALL = install\n"
        f"include {KILN_INIT / 'kiln-init.mk'}\n"
        f"{REPO}/.kiln-init-harness:\n\t$(KILN_INIT_INSTALL_TARGET_CMDS)\n")
    r = subprocess.run(["make", "-s", "-f", str(harness), f"{REPO}/.kiln-init-harness"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return r, target


def tree_of(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def test_buildroot_kiln_init_installs_the_app_by_the_same_rules(app, tmp_path):
    r, target = run_kiln_init(tmp_path, str(app))
    assert r.returncode == 0, r.stderr
    expected = tmp_path / "expected"
    appdir.install(appdir.load(app, None), expected)
    assert tree_of(target / "app") == tree_of(expected)
    assert f"kiln-init: app: {appdir.load(app, None).summary()}" in r.stdout
    assert (target / "sbin" / "init").is_file() and (target / "etc/kiln/board-name").is_file()

    write(app, {".git/HEAD": "ref"})
    r, _ = run_kiln_init(tmp_path / "bad", str(app))
    assert r.returncode != 0
    assert f"kiln-init: app {app} holds what cannot go on a board:\n  .git: is a version-control " \
           f"folder" in r.stderr

    r, target = run_kiln_init(tmp_path / "demo", "")
    assert r.returncode == 0, r.stderr
    assert tree_of(target / "app") == {"main.py": (REPO / "images/demo/main.py").read_bytes()}
