"""The offline Buildroot build of a Kiln QEMU board (``kiln buildroot build``), cached per machine.

``configs/kiln_<board>_defconfig`` plus the offline overlay (:mod:`kiln.host.buildroot.offline`)
is built by Buildroot in ``<cache>/builds/<board>/<configuration key>/`` (``O=``; the two most
recently used configurations are kept, so checkouts of different versions sharing the cache do
not rebuild each other's output from scratch).  The result is Debian's kernel and
Buildroot's ``rootfs.cpio.zst`` (Python, Kiln, its init and the app), bootable by QEMU like the
images of ``kiln image build``.

Reuse, from cheapest to dearest:

* nothing changed (same overlay, same Kiln sources and app): the existing image is returned;
* only Kiln's sources or the app changed: python-kiln and kiln-init are rebuilt (their files
  are removed from the target first, from Buildroot's ``.files-list.txt``) and the root file
  system is packed again -- about a minute;
* anything else (Buildroot, the defconfig, the tree's Kconfig, the overlay: sources,
  toolchain, kernel): another output directory, everything built (cold: ~15-25 minutes on 2
  cores).

Every build writes ``build.json`` next to the images: what was built, how (cold, incremental,
reused), how long each step took, and the sizes of the outputs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from kiln import boards as kiln_boards
from kiln.errors import KilnError
from kiln.host.buildroot import BUILDROOT_VERSION, boards as br_boards, checks, offline, tree
from kiln.host.buildroot.cache import cache_dir, locked, repo_root
from kiln.host.filelock import lock_file
from kiln.host.image import appdir

#: Kiln's packages in the tree; rebuilt when Kiln's sources or the app change.
KILN_PACKAGES = ("python-kiln", "kiln-init")
# What python-kiln and kiln-init read from the checkout (the rest of the tree is not built).
_KILN_INPUTS = ("setup.py", "pyproject.toml", "sdk", "drivers", "board_configs", "images/init",
                "images/demo", "images/buildroot")
_SKIP_PARTS = {"__pycache__", ".pytest_cache"}
_SKIP_SUFFIXES = (".so", ".c", ".pyc")


class BuildError(KilnError):
    """The offline Buildroot build failed (the message names the log)."""


@dataclass
class BuildResult:
    """An offline Buildroot image of a QEMU board (``build.json``)."""

    board: str
    defconfig: str
    buildroot: str
    out_dir: str
    kernel: str
    initrd: str
    cmdline: str
    kind: str                      # "cold", "incremental" or "reused"
    seconds: float                 # wall time of this call
    make_seconds: float            # wall time of Buildroot's make in this call
    make_cpu_seconds: float        # user + system CPU time of that make (all its children)
    load_average: float            # the host's 1-minute load average when make ended
    initrd_bytes: int
    initrd_uncompressed_bytes: int
    kernel_abi: str
    python_version: str
    config_key: str
    kiln_key: str
    steps: dict[str, float] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> "BuildResult":
        return cls(**json.loads(Path(path).read_text()))

    def summary(self) -> str:
        return (f"{self.board}: {self.kind} build in {self.seconds:.0f} s (make "
                f"{self.make_seconds:.0f} s, {self.make_cpu_seconds:.0f} s CPU, load "
                f"{self.load_average}); {Path(self.initrd).name} "
                f"{self.initrd_bytes / 1e6:.2f} MB ({self.initrd_uncompressed_bytes / 1e6:.1f} MB "
                f"uncompressed), Python {self.python_version}, kernel {self.kernel_abi}\n"
                f"  kernel {self.kernel}\n  initrd {self.initrd}")


#: Output directories kept per board (one per configuration; ~1.2 GB each).
KEEP_OUTPUTS = 2


def out_dir(board: str) -> Path:
    """Where ``board``'s offline builds live: one Buildroot output directory (``O=``) per
    configuration below it, named after the configuration's key."""
    return cache_dir() / "builds" / board


def kiln_fingerprint(app: Path | None) -> str:
    """Digest of what Kiln's packages build from: its sources (without the host tooling,
    ``kiln.host``, which never goes on a board), board files, init, the br2-external tree, and
    the app."""
    root = repo_root()
    digest = hashlib.sha256()
    paths: list[Path] = []
    for rel in _KILN_INPUTS:
        p = root / rel
        if p.is_file():
            paths.append(p)
        elif p.is_dir():
            paths += [f for f in p.rglob("*") if f.is_file()
                      and not _SKIP_PARTS.intersection(f.parts)
                      and not f.is_relative_to(root / "sdk" / "kiln" / "host")
                      and not f.name.endswith(_SKIP_SUFFIXES) and ".egg-info" not in str(f)]
    # kiln-init installs the app with the image builder's rules (its app_files.py).
    paths.append(root / "sdk" / "kiln" / "host" / "image" / "appdir.py")
    for p in sorted(set(paths)):
        digest.update(str(p.relative_to(root) if p.is_relative_to(root) else p).encode())
        digest.update(b"\0" + p.read_bytes() + b"\0")
    if app is not None:     # by content, its whole tree (kiln.host.image.appdir)
        digest.update(appdir.load(Path(app), None).digest_text().encode())
    return digest.hexdigest()


def _config_key(merged: str, buildroot: Path, overlay: offline.Overlay) -> str:
    from kiln.host.buildroot import sources
    external = repo_root() / "images" / "buildroot"
    kconfig = "".join(p.read_text() for p in sorted(external.rglob("Config.in*")))
    # OpenSSL's Configure arguments (BR2_PACKAGE_PYTHON_KILN_TLS_OWN_OPENSSL) configure
    # libopenssl, which a Kiln-only rebuild does not redo.
    openssl_options = (repo_root() / "images" / "openssl.options").read_text()
    parts = [merged, kconfig, openssl_options, BUILDROOT_VERSION, str(buildroot),
             overlay.override_file.read_text(),
             overlay.kernel_abi, str(overlay.toolchain),
             "".join(f"{s.file}={s.sha256}" for s in sources.SOURCES)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _stage_app(app: Path | None, dest: Path) -> Path:
    """Copy the app (None: Kiln's demo app) into the directory ``dest``, the fixed place
    kiln-init installs it from (``BR2_PACKAGE_KILN_INIT_APP``), so the configuration does not
    depend on which app is built.  A directory is copied whole by the image builder's rules
    (:mod:`kiln.host.image.appdir`: its errors name what cannot go on a board)."""
    tree = appdir.load(Path(app).resolve() if app else None,
                       repo_root() / "images" / "demo" / "main.py")
    shutil.rmtree(dest, ignore_errors=True)
    appdir.install(tree, dest)
    return dest


def build(board_name: str = "qemu-aarch64", app: Path | None = None,
          log: Callable[[str], None] | None = print, force: bool = False) -> BuildResult:
    """Build (or reuse) the offline Buildroot image of QEMU board ``board_name``.

    ``app``: the app's main.py or a directory holding it (None: the demo app).  ``log`` gets
    progress lines (None: quiet).  ``force``: rebuild from scratch.  Blocks: seconds when
    nothing changed, about a minute when only Kiln changed, ~15-25 minutes cold (with TLS;
    docs/performance.md).  Raises :class:`BuildError` (naming the log file) when Buildroot
    fails, and the errors of :mod:`kiln.host.buildroot.tree`,
    :mod:`~kiln.host.buildroot.sources` and :mod:`~kiln.host.buildroot.offline` for missing
    inputs.
    """
    say = log or (lambda _msg: None)
    t0 = time.monotonic()
    steps: dict[str, float] = {}
    board = kiln_boards.load(board_name)
    if board.image_format != "initramfs" or board.qemu is None:
        raise BuildError(f"board {board.name} boots from an SD card: the offline build makes "
                         f"initramfs images of the QEMU boards only; build the SD-card image "
                         f"the standard Buildroot way (images/buildroot/README.md)")
    br = br_boards.for_board(board.name)
    pristine = tree.find()
    buildroot, overlay = offline.prepare(board, pristine, None, log=say)
    external = repo_root() / "images" / "buildroot"
    defconfig_text = (external / "configs" / br.defconfig).read_text()
    # The output directory is named after the configuration (without the app, which is
    # Kiln's business): checkouts of different versions sharing the cache do not rebuild
    # each other's output from scratch.
    config_key = _config_key(offline.merged_defconfig(defconfig_text, overlay.lines()),
                             buildroot, overlay)
    out = out_dir(board.name) / config_key[:16]
    with locked(out):
        steps["prepare"] = round(time.monotonic() - t0, 1)
        out.mkdir(parents=True, exist_ok=True)
        _touch(out)
        overlay = dataclasses.replace(overlay, app=_stage_app(app, out / "kiln-app"))
        merged = offline.merged_defconfig(defconfig_text, overlay.lines())
        kiln_key = kiln_fingerprint(overlay.app)
        images = out / "images"
        record = images / "build.json"
        previous = _previous(record)
        initrd = images / "rootfs.cpio.zst"
        if force or previous is None or previous.config_key != config_key \
                or not (out / ".config").is_file():
            kind = "cold"
            say(f"buildroot: cold build of {br.defconfig} in {out}")
            for stale in (images, out / "build", out / "host", out / "per-package",
                          out / "target", out / ".config"):
                if stale.is_dir():
                    shutil.rmtree(stale)
                else:
                    stale.unlink(missing_ok=True)
            _load_merged(buildroot, external, out, merged)
        elif previous.kiln_key != kiln_key or not initrd.is_file():
            kind = "incremental"
            say("buildroot: Kiln's sources or the app changed: rebuilding python-kiln and "
                "kiln-init")
            for pkg in KILN_PACKAGES:
                _forget_package(buildroot, out, pkg, external)
        else:
            kind = "reused"
        make_seconds = make_cpu = 0.0
        if kind != "reused":
            images.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(overlay.kernel_image, images / "vmlinuz")
            t_make = time.monotonic()
            cpu0 = _children_cpu()
            # BR2_EXTERNAL on every make: a cache made from another checkout (a previous CI
            # clone) builds Kiln's packages from this one.
            _make(buildroot, out, [f"BR2_EXTERNAL={external}", f"-j{os.cpu_count() or 1}"], say)
            make_seconds = round(time.monotonic() - t_make, 1)
            make_cpu = round(_children_cpu() - cpu0, 1)
            steps["make"] = make_seconds
        if not initrd.is_file():
            raise BuildError(f"Buildroot finished without {initrd}")
        result = BuildResult(
            board=board.name, defconfig=br.defconfig, buildroot=str(buildroot),
            out_dir=str(out), kernel=str(images / "vmlinuz"), initrd=str(initrd),
            cmdline=board.cmdline, kind=kind, seconds=round(time.monotonic() - t0, 1),
            make_seconds=make_seconds, make_cpu_seconds=make_cpu,
            load_average=round(os.getloadavg()[0], 2), initrd_bytes=initrd.stat().st_size,
            initrd_uncompressed_bytes=(images / "rootfs.cpio").stat().st_size
            if (images / "rootfs.cpio").is_file() else 0,
            kernel_abi=overlay.kernel_abi, python_version=_python_version(out),
            config_key=config_key, kiln_key=kiln_key, steps=steps)
        if kind == "reused" and previous is not None:
            result.steps = previous.steps
            result.make_seconds = previous.make_seconds
            result.make_cpu_seconds = previous.make_cpu_seconds
        elif kind == "cold":
            (out / "cold-build.json").write_text(json.dumps(asdict(result), indent=1) + "\n")
        result.save(record)
    _prune_outputs(out_dir(board.name), keep=KEEP_OUTPUTS)
    say(result.summary())
    return result


def _touch(out: Path) -> None:
    (out / ".kiln-last-used").write_text(f"{time.time()}\n")


def _prune_outputs(board_root: Path, keep: int) -> None:
    """Remove all but the ``keep`` most recently used output directories of a board, skipping
    any another process is using (its lock is held)."""
    import fcntl
    outs = [p for p in board_root.iterdir() if p.is_dir() and (p / ".kiln-last-used").is_file()]
    outs.sort(key=lambda p: (p / ".kiln-last-used").stat().st_mtime, reverse=True)
    for old in outs[keep:]:
        with open(lock_file(old), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(old, ignore_errors=True)


def _previous(record: Path) -> BuildResult | None:
    try:
        return BuildResult.load(record)
    except (OSError, ValueError, TypeError):
        return None


def _load_merged(buildroot: Path, external: Path, out: Path, merged: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    defconfig = out / "kiln-offline_defconfig"
    defconfig.write_text(merged)
    result = subprocess.run(["make", "-s", "-C", str(buildroot), f"O={out}",
                             f"BR2_EXTERNAL={external}", f"BR2_DEFCONFIG={defconfig}",
                             "defconfig"], capture_output=True, text=True, check=False,
                            env=_env())
    if result.returncode != 0:
        raise BuildError(f"loading the offline configuration failed:\n{result.stderr[-3000:]}")
    config = checks.parse_config((out / ".config").read_text())
    dropped = checks.dropped_lines(merged, config)
    if dropped:
        raise BuildError("Buildroot dropped lines of the offline configuration "
                         f"({defconfig}):\n  " + "\n  ".join(dropped))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BR2_")}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    if os.geteuid() == 0:
        env["FORCE_UNSAFE_CONFIGURE"] = "1"   # configure scripts refuse root otherwise
    return env


def _make(buildroot: Path, out: Path, targets: list[str], say: Callable[[str], None]) -> None:
    """Run Buildroot's make in ``out``; its output goes to ``out/kiln-build.log``, the
    ``>>>`` step lines to ``say``."""
    log_path = out / "kiln-build.log"
    with open(log_path, "ab") as log_file:
        log_file.write(f"\n==== make {' '.join(targets)} ({time.ctime()})\n".encode())
        log_file.flush()
        proc = subprocess.Popen(["make", "-C", str(buildroot), f"O={out}", *targets],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(),
                                stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        for raw in proc.stdout:
            log_file.write(raw)
            line = raw.decode(errors="replace")
            if line.startswith("\x1b[7m>>>") or line.startswith(">>>"):
                say("buildroot: " + line.replace("\x1b[7m", "").replace("\x1b[27m", "").strip())
        status = proc.wait()
    if status != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise BuildError(f"Buildroot failed (status {status}); log: {log_path}\n"
                         + "\n".join(tail))


def _forget_package(buildroot: Path, out: Path, pkg: str, external: Path) -> None:
    """Remove what ``pkg`` installed into the target and its build directory, so the next
    make builds and installs it again from the current sources."""
    for build_dir in (out / "build").glob(f"{pkg}-*"):
        files = build_dir / ".files-list.txt"
        if files.is_file():
            for line in files.read_text().splitlines():
                owner, _, rel = line.partition(",")
                if owner != pkg or not rel:
                    continue
                # With BR2_PACKAGE_PYTHON3_PYC_ONLY, foo.py became foo.pyc at target-finalize.
                for path in (rel, rel + "c") if rel.endswith(".py") else (rel,):
                    target = out / "target" / path
                    if target.is_file() or target.is_symlink():
                        target.unlink()
    subprocess.run(["make", "-s", "-C", str(buildroot), f"O={out}", f"BR2_EXTERNAL={external}",
                    f"{pkg}-dirclean"],
                   capture_output=True, text=True, check=False, env=_env())


def _children_cpu() -> float:
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _python_version(out: Path) -> str:
    libs = sorted((out / "target" / "usr" / "lib").glob("python3.*"))
    return libs[-1].name.removeprefix("python") if libs else "?"
