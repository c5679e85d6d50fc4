"""Kiln installed as a package (a wheel in a fresh virtualenv, not the editable checkout) builds
an image that boots: the payload's sources travel with the package, the board files and the
recipe come from ``<venv>/share/kiln``, and Cython arrives as a declared dependency.

Runs from a directory outside the checkout so nothing can come from the source tree; the package
caches (``out/apt``, ``out/cache``) are shared with the other image tests through ``$KILN_OUT``
mirrors, so only the payload's cross build and the packing run again.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kiln.host.image.layout import out_root
from test_image_boot import boot
from test_image_build import BOARD

REPO = Path(__file__).resolve().parents[1]
APP = '''\
import sys
from networking import eth
import kiln.net.core
print("installed-app: core", kiln.net.core.__file__)
print("installed-app: net", eth.info()[:3])
print("installed-app: host tooling", sorted(m for m in sys.modules if m.startswith("kiln.host")))
'''


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without Python or Kiln settings (nothing may point at the checkout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "PYTHON"))}
    return {**env, **extra}


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", clean_env())
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{argv} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh virtualenv with Kiln installed from its wheel (built like `pip wheel .`)."""
    tmp = tmp_path_factory.mktemp("installed")
    dist = tmp / "dist"
    # The wheel is built from a clean copy: build products of the editable checkout (.so, .c,
    # build/) must not be what makes it work.
    src = tmp / "src"
    files = run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(src)], env=os.environ)
    (wheel,) = dist.glob("kiln_sdk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "kiln/net/core.pyx" in names and "kiln/payload.py" in names, names
    assert any(n.endswith("share/kiln/images/init") for n in names), "image templates missing"
    env_dir = tmp / "venv"
    run([sys.executable, "-m", "venv", str(env_dir)])
    # Dependencies (Cython, setuptools) come from the wheel's metadata, not by hand.
    run([str(env_dir / "bin/pip"), "install", "-q", str(wheel)])
    return env_dir


def test_wheel_declares_cython_and_holds_no_checkout_paths(venv):
    freeze = run([str(venv / "bin/pip"), "freeze"]).stdout
    assert "Cython==" in freeze or "cython==" in freeze.lower()
    where = run([str(venv / "bin/python"), "-c", "import kiln, networking; "
                 "print(kiln.__file__, networking.__file__)"], cwd=venv).stdout
    assert str(REPO) not in where and "site-packages" in where


def test_installed_kiln_builds_an_image_that_boots(venv, tmp_path):
    app = tmp_path / "main.py"
    app.write_text(APP)
    out = tmp_path / "out"
    out.mkdir()
    for shared in ("apt", "cache"):          # package index and .debs from the other builds
        if (out_root() / shared).is_dir():
            (out / shared).symlink_to(out_root() / shared)
    env = clean_env(KILN_OUT=str(out))
    build = run([str(venv / "bin/kiln"), "image", "build", "--board", BOARD, "--app", str(app),
                 "--quiet"], cwd=tmp_path, env=env)
    assert "initramfs" in build.stdout
    # The cross build read the payload from the venv's site-packages, not from a checkout.
    sources = [k for k in json.loads((out / BOARD / "inputs.json").read_text())
               if k.startswith("file:")]
    assert any(k.endswith("site-packages/kiln/net/core.pyx") for k in sources), sources
    assert not [k for k in sources if str(REPO) in k], "an input came from the checkout"

    from kiln.host.image.artifacts import ImageArtifacts
    console, rc, _ = boot(ImageArtifacts.load(out / BOARD / "build.json"), "")
    assert rc == 0, console
    assert "installed-app: core /usr/lib/python3/dist-packages/kiln/net/core.cpython-311-" \
           "aarch64-linux-gnu.so" in console
    assert "installed-app: net (True, '10.0.2.15', '255.255.255.0')" in console
    assert "installed-app: host tooling []" in console
    assert "KILN: app exited with status 0" in console
