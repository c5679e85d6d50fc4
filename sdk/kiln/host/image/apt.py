"""A private apt for one Debian architecture: index refresh and ``.deb`` downloads.

The host's dpkg database and apt configuration are never touched (no ``dpkg
--add-architecture``): each architecture gets its own configuration, lists and state under
``out/apt/<arch>/`` (selected through ``APT_CONFIG``), and downloaded packages are cached in
``out/cache/debs/<arch>/`` so a rebuild works offline and fast.  Both are shared by every build
of the architecture, also concurrent ones (two test workers, two boards): an index refresh and a
download each hold the directory's file lock (apt-get refuses to share its lists directory, and
two downloads of one ``.deb`` would write the same file).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import time
from pathlib import Path

from kiln.errors import KilnError
from kiln.host.filelock import locked
from kiln.host.image.packages import Index, Package
from kiln.host.image.progress import Progress
from kiln.host.image.recipe import Recipe


class AptError(KilnError):
    """apt-get failed (mirror unreachable, bad signature, missing package file)."""


class PrivateApt:
    """apt-get/apt-cache confined to ``root`` for Debian architecture ``arch``."""

    def __init__(self, root: Path, arch: str, recipe: Recipe, debs_dir: Path) -> None:
        self.root = Path(root).resolve()
        self.arch = arch
        self.recipe = recipe
        self.debs_dir = Path(debs_dir).resolve()
        self.config = self.root / "apt.conf"
        self.lists = self.root / "state" / "lists"

    def setup(self) -> None:
        """Write the private apt configuration and sources (idempotent, no network)."""
        for d in ("etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d",
                  "etc/trusted.gpg.d", "state/lists/partial", "cache/archives/partial"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "state" / "status").touch()
        self.debs_dir.mkdir(parents=True, exist_ok=True)
        r = self.recipe
        opts = f"[arch={self.arch} signed-by={r.keyring}]"
        comps = " ".join(r.components)
        lines = [f"deb {opts} {r.mirror} {s} {comps}" for s in r.suites]
        lines += [f"deb {opts} {r.security_mirror} {s} {comps}" for s in r.security_suites]
        _write_if_changed(self.root / "etc" / "sources.list", "\n".join(lines) + "\n")
        conf = f"""\
Dir::Etc "{self.root}/etc";
Dir::State "{self.root}/state";
Dir::State::status "{self.root}/state/status";
Dir::Cache "{self.root}/cache";
APT::Architecture "{self.arch}";
APT::Architectures {{ "{self.arch}"; }};
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::GzipIndexes "false";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
Acquire::Retries "3";
"""
        _write_if_changed(self.config, conf)

    def with_components(self, components: tuple[str, ...]) -> "PrivateApt":
        """A private apt of the same architecture and suites for other Debian ``components``
        (e.g. ``non-free-firmware``), in its own directory ``out/apt/<arch>-<components>/``.

        Kept apart from the main index so that boards without extra components never see it
        (their inputs, and so their cached images, stay unchanged)."""
        recipe = dataclasses.replace(self.recipe, components=tuple(components))
        root = self.root.parent / f"{self.arch}-{'+'.join(components)}"
        return PrivateApt(root, self.arch, recipe, self.debs_dir)

    def index_files(self) -> list[Path]:
        """The uncompressed ``Packages`` files apt has fetched for this architecture."""
        return sorted(self.lists.glob(f"*_binary-{self.arch}_Packages"))

    def missing_suites(self) -> list[str]:
        """Suites of the recipe for which no ``Packages`` index is present."""
        names = [f.name for f in self.index_files()]
        suites = list(self.recipe.suites) + list(self.recipe.security_suites)
        return [s for s in suites if not any(f"_dists_{s}_" in n for n in names)]

    def index_age_hours(self) -> float | None:
        """Hours since the index was refreshed, or None when there is no index yet."""
        files = self.index_files()
        if not files:
            return None
        return (time.time() - min(f.stat().st_mtime for f in files)) / 3600

    def update(self, progress: Progress, force: bool = False) -> None:
        """Refresh the index when missing, older than the recipe allows, or ``force``.

        Blocks on the network, and while another process refreshes the same index.  A failed
        refresh with an existing index only warns (offline rebuilds keep working); without any
        index it raises :class:`AptError`.
        """
        with locked(self.root):
            self._update(progress, force)

    def _update(self, progress: Progress, force: bool) -> None:
        self.setup()
        age = self.index_age_hours()
        if not force and age is not None and age < self.recipe.max_index_age_hours:
            return
        try:
            self._run(["apt-get", "update", "-q"], progress, quiet=not progress.enabled)
        except AptError as exc:
            missing = self.missing_suites()
            primary = self.recipe.suites[0]
            if primary in missing:
                raise AptError(f"{exc}\nno {self.arch} index for {primary}: cannot build "
                               f"without it") from None
            # Some mirrors serve a broken index for one suite of one architecture; the
            # others stay consistent with each other, so carry on without it.
            what = ", ".join(missing) if missing else "some indexes"
            progress.note(f"warning: apt-get update for {self.arch} failed for {what}; "
                          f"building from the indexes that did download")
            if not self.index_files():
                raise

    def load_index(self) -> Index:
        """Parse the fetched index; AptError when there is none (run update first)."""
        files = self.index_files()
        if not files:
            raise AptError(f"no {self.arch} package index in {self.lists}; run "
                           f"`kiln image update --board <board>` with access to {self.recipe.mirror}")
        return Index.from_files(files)

    def download(self, packages: list[Package], progress: Progress) -> list[Path]:
        """Make sure every package's ``.deb`` is in the cache; return their paths in order.

        Cached files are checked against the index's SHA256 and fetched again when they differ.
        Blocks while another process downloads into the same cache.
        """
        with locked(self.debs_dir):
            return self._download(packages, progress)

    def _download(self, packages: list[Package], progress: Progress) -> list[Path]:
        missing = [p for p in packages if not _valid(self.debs_dir / p.deb_name, p)]
        if missing:
            size = sum(p.size for p in missing) / 1e6
            progress.note(f"downloading {len(missing)} {self.arch} packages ({size:.1f} MB)")
            specs = [f"{p.name}:{p.arch}={p.version}" if p.arch != "all" else f"{p.name}={p.version}"
                     for p in missing]
            self._run(["apt-get", "download", "-q", *specs], progress, cwd=self.debs_dir,
                      quiet=not progress.enabled)
        paths = [self.debs_dir / p.deb_name for p in packages]
        for pkg, path in zip(packages, paths):
            if not _valid(path, pkg):
                raise AptError(f"{path} is missing or does not match the index after download; "
                               f"delete it and run the build again")
        return paths

    def _run(self, cmd: list[str], progress: Progress, cwd: Path | None = None,
             quiet: bool = False) -> None:
        env = dict(os.environ, APT_CONFIG=str(self.config), DEBIAN_FRONTEND="noninteractive")
        result = subprocess.run(cmd, cwd=cwd, env=env, text=True,
                                stdout=subprocess.PIPE if quiet else None,
                                stderr=subprocess.STDOUT if quiet else None)
        if result.returncode != 0:
            detail = f":\n{result.stdout[-2000:]}" if quiet and result.stdout else ""
            raise AptError(f"`{' '.join(cmd[:2])}` for {self.arch} failed with status "
                           f"{result.returncode} (is {self.recipe.mirror} reachable?){detail}")


def _valid(path: Path, pkg: Package) -> bool:
    if not path.is_file() or (pkg.size and path.stat().st_size != pkg.size):
        return False
    if not pkg.sha256:
        return True
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == pkg.sha256


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
