"""Stage a board's root tree: packages -> root filesystem -> kernel modules -> Kiln's payload
(cross-built) -> pruning -> init, app and board files -> byte-code -> import check.

The staged tree (``out/<board>/work/rootfs``) is what every packer turns into an artifact
(:mod:`kiln.host.image.initramfs`, ...), the way Buildroot's ``fs/common.mk`` packs one target
tree per output format.  Each step lives in its own module; this one only sequences them.
"""
from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kiln import __version__, payload
from kiln.app import APIS, module_aliases
from kiln.boards import Board
from kiln.errors import KilnError
from kiln.host.image import (appdir, bytecompile, cabundle, cache, crossbuild, kernel, openssl,
                             pystdlib, qemu_user, recipe as recipe_mod, rootfs, tlsneed)
from kiln.host.image.apt import PrivateApt
from kiln.host.image.layout import OutLayout
from kiln.host.image.packages import Index, resolve
from kiln.host.image.progress import Progress

AppNotFoundError = appdir.AppNotFoundError

_ELF_MACHINE = {"arm64": "aarch64", "armhf": "arm", "armel": "arm"}


def app_tree(app: Path | None, recipe: recipe_mod.Recipe) -> appdir.App:
    """What goes under ``/app``: ``app`` (a ``main.py``-style file, installed as
    ``/app/main.py``, or a directory holding ``main.py``, copied whole -- packages, ``lib/``,
    data files; see :mod:`kiln.host.image.appdir`), or the demo app when ``app`` is None.
    Another file of the directory can be run instead with ``kiln.app=NAME.py`` on the kernel
    command line.  Raises :class:`AppNotFoundError` or :class:`appdir.AppTreeError` (naming
    every path that cannot go on a board)."""
    return appdir.load(app, recipe.demo_app)


#: ``--with tls`` / ``--without tls`` / the app decides, as recorded in the input manifest.
_TLS_CHOICE = {True: "with", False: "without", None: "from the app"}


def tls_decision(recipe: recipe_mod.Recipe, app: Path | appdir.App | None,
                 tls: bool | None = None) -> tlsneed.TlsDecision:
    """Whether the image of ``app`` (as for :func:`app_tree`, or its :class:`appdir.App`)
    carries TLS (``tls``: ``--with tls`` True, ``--without tls`` False, None: the app's code --
    every ``.py`` file of its tree -- decides), and why."""
    tree = app if isinstance(app, appdir.App) else app_tree(app, recipe)
    return tlsneed.decide(recipe.tls, [(f.source, f.name) for f in tree.files
                                       if f.name.endswith(".py")], tls)


def input_manifest(board: Board, recipe: recipe_mod.Recipe, app: Path | appdir.App | None,
                   apt: PrivateApt, labs: tuple[str, ...] = (),
                   tls: bool | None = None) -> dict[str, str]:
    """Digest of every input of the staged tree: board file, recipe, templates, the board-side
    payload's sources, the app (its whole tree by content -- names and bytes, not where it is
    -- so the same app anywhere reuses the image; ``app`` as for :func:`app_tree`, or its
    :class:`appdir.App`), the TLS choice, Kiln's own OpenSSL and the package index."""
    tree = app if isinstance(app, appdir.App) else app_tree(app, recipe)
    files = [board.source, recipe.images_dir / "recipe.toml"]
    content = recipe.content(board.has_wifi(labs), labs, tls_decision(recipe, tree, tls).on)
    files += [recipe.images_dir / src for src, _dest, _mode in content.templates]
    files += [path for path, _rel in crossbuild.source_files()]
    texts = {"kiln-version": __version__, "labs": " ".join(labs), "tls": _TLS_CHOICE[tls],
             "app": tree.digest_text(),
             # Kiln's own OpenSSL: its source and Configure arguments (images/openssl.options).
             "openssl": " ".join((recipe.tls.openssl.source, *recipe.tls.openssl.configure))}
    stats = apt.index_files() + [f for extra in extra_apts(board, apt) for f in extra.index_files()]
    return cache.manifest(files, texts, stats=stats)


def extra_apts(board: Board, apt: PrivateApt) -> list[PrivateApt]:
    """Private apts of the Debian components the board needs besides the recipe's (an SD-card
    board's ``[sdcard] apt_components``: its GPU and Wi-Fi firmware packages)."""
    if board.sdcard is None or not board.sdcard.apt_components:
        return []
    return [apt.with_components(board.sdcard.apt_components)]


def private_apt(layout: OutLayout, recipe: recipe_mod.Recipe) -> PrivateApt:
    """The private apt of ``layout``'s architecture."""
    return PrivateApt(layout.apt, layout.arch, recipe, layout.debs)


def _load_index(apt: PrivateApt) -> Index:
    """The package index, parsed once per index refresh (pickled next to the lists)."""
    files = apt.index_files()
    key = cache.fingerprint([], stats=files)
    pickled = apt.root / "index.pickle"
    if pickled.exists():
        try:
            with pickled.open("rb") as f:
                stored_key, index = pickle.load(f)
            if stored_key == key:
                return index
        except Exception:  # a stale or truncated cache is just rebuilt
            pass
    index = apt.load_index()
    # Written aside and renamed: a concurrent build reads the old pickle or the new one whole.
    staging = pickled.with_name(f".{pickled.name}.{os.getpid()}")
    with staging.open("wb") as f:
        pickle.dump((key, index), f, protocol=pickle.HIGHEST_PROTOCOL)
    staging.replace(pickled)
    return index


@dataclass(frozen=True)
class StagedTree:
    """A board's root tree, ready for a packer.  ``root`` is the tree; ``kernel`` the kernel
    image of the kernel package it was staged with; ``inputs``/``key`` fingerprint it."""

    root: Path
    kernel: Path
    kernel_abi: str
    packages: tuple[str, ...]          # "name=version" of every Debian package used
    kiln_extensions: tuple[str, ...]   # image paths of Kiln's compiled modules
    inputs: dict[str, str]
    key: str
    app_files: int = 0                 # the app's size under /app: files, bytes
    app_bytes: int = 0
    tls: bool = False                  # the image carries TLS (the recipe's [tls] part)
    tls_reason: str = ""               # why (or why not), as the build printed it


def stage(board: Board, app: Path | None, layout: OutLayout, recipe: recipe_mod.Recipe,
          progress: Progress, refresh_index: bool = False,
          labs: tuple[str, ...] = (), tls: bool | None = None) -> StagedTree:
    """Stage ``board``'s root tree with ``app`` (None: the demo app) in ``layout.rootfs``.

    ``labs`` names test-lab parts of the recipe to add (``("wifi",)``: the simulated access
    point); ``tls`` adds (True) or leaves out (False) the TLS part, None lets the app's code
    decide (:mod:`kiln.host.image.tlsneed`).  Blocks for tens of seconds (minutes on a cold
    package cache).  Raises a :class:`kiln.errors.KilnError` subclass naming the fix for
    every expected failure.
    """
    tree = app_tree(app, recipe)
    progress.note(f"app: {tree.summary()}"
                  + (f" from {tree.source}" if tree.source else " (the demo app)"))
    app_imports = _app_imports(tree)      # a .py file that is not Python fails the build here
    decision = tls_decision(recipe, tree, tls)
    progress.note(f"TLS: {'yes' if decision.on else 'no'} ({decision.reason})")
    content = recipe.content(board.has_wifi(labs), labs, decision.on)
    arch, triplet = board.debian_arch, board.triplet
    apt = private_apt(layout, recipe)
    work = layout.work
    py = f"python{recipe.python_version}"
    with progress.step(f"package index for {arch}"):
        apt.update(progress, force=refresh_index)
        for extra in extra_apts(board, apt):
            extra.update(progress, force=refresh_index)
        index = _load_index(apt)
    inputs = input_manifest(board, recipe, tree, apt, labs, tls)
    with progress.step("resolving packages"):
        packages = resolve(index, content.packages, recipe.exclude)
        kernel_pkg = kernel.concrete_package(index, board.kernel_package)
        pydev_pkg = index.newest(f"lib{py}-dev")
        ssl_dev_pkgs = openssl_dev_packages(index)
        progress.note(f"{len(packages)} packages; kernel {kernel_pkg.name} {kernel_pkg.version}")
    with progress.step("downloading packages (cached in out/cache/debs)"):
        debs = apt.download(packages, progress)
        kernel_deb, pydev_deb, *ssl_dev_debs = apt.download(
            [kernel_pkg, pydev_pkg, *ssl_dev_pkgs], progress)

    if work.exists():
        shutil.rmtree(work)
    root = layout.rootfs
    with progress.step("unpacking root filesystem"):
        rootfs.unpack(debs, root)
        rootfs.unpack([pydev_deb], layout.scratch("pydev"))
        rootfs.unpack(ssl_dev_debs, layout.scratch("openssl"))
        if decision.on:
            _bundle, count = cabundle.build(root)
            progress.note(f"CA bundle /{cabundle.BUNDLE}: {count} certificates")
        stdlib = root / "usr" / "lib" / py
        # The byte-compiler runs after pruning and needs modules the image may not keep.
        full_stdlib = layout.scratch("stdlib-full")
        shutil.copytree(stdlib, full_stdlib, symlinks=True, ignore=shutil.ignore_patterns(
            "test", "lib-dynload", "config-*", "idlelib", "tkinter"))

    with progress.step("kernel and modules"):
        ktree = kernel.extract(kernel_deb, layout.kernel_cache(kernel_deb.stem),
                               recipe.kernel_image)
        lines = _install_modules(root, ktree, content.modules + board.kernel_modules +
                                 (board.tls_modules if decision.on else ()))
        progress.note(f"modules: {', '.join(Path(line).stem for line in lines)}")

    with progress.step(f"cross-compiling Kiln's board-side payload with {board.cross_cc}"):
        kiln_lib = _cross_build_kiln(board, recipe, layout, pydev_deb, ssl_dev_debs, progress)
        site = root / "usr/lib/python3/dist-packages"
        shutil.copytree(kiln_lib, site, dirs_exist_ok=True,
                        ignore=None if decision.on else _tls_modules_of(kiln_lib))
        extensions = sorted("/" + p.relative_to(root).as_posix() for p in site.rglob("*.so"))
        progress.note(f"{len(extensions)} extension modules")

    with progress.step("pruning"):
        _prune(root, stdlib, site, recipe, content.keep, app_imports, triplet, progress,
               content.python)
        if decision.on:
            _choose_openssl(board, recipe, layout, root, site, kiln_lib, progress)

    with progress.step("installing init, app and board files"):
        _install_files(root, board, recipe, content.templates, lines, ktree.abi, py,
                       board.env_text(board.has_wifi(labs)))
        if decision.on and not (root / cabundle.BUNDLE).is_file():
            raise KilnError(f"the CA bundle /{cabundle.BUNDLE} did not survive pruning: add it "
                            f"to [tls] keep in images/recipe.toml")
        rootfs.remove_empty_dirs(root)
        appdir.install(tree, root / "app")
        for d in recipe.dirs:
            (root / d).mkdir(parents=True, exist_ok=True)

    with progress.step("byte-compiling with the target Python (qemu-user)"):
        bytecompile.compile_tree(root, [f"usr/lib/{py}", "usr/lib/python3/dist-packages", "app"],
                                 board.qemu_user, triplet, py, tools_path=[full_stdlib])

    with progress.step("checking that every Kiln module imports, and no host tooling (qemu-user)"):
        _check_imports(root, site, tree, app_imports, board, triplet, py, progress,
                       skip=() if decision.on else payload.TLS_FACES)

    for scratch in ("stdlib-full", "pydev", "openssl", "kiln"):
        shutil.rmtree(layout.scratch(scratch), ignore_errors=True)
    return StagedTree(
        root=root, kernel=ktree.image, kernel_abi=ktree.abi,
        packages=tuple(f"{p.name}={p.version}" for p in packages + [kernel_pkg]),
        kiln_extensions=tuple(extensions), inputs=inputs, key=cache.manifest_key(inputs),
        app_files=len(tree.files), app_bytes=tree.size, tls=decision.on,
        tls_reason=decision.reason)


def openssl_dev_packages(index) -> list:
    """The target's ``libssl-dev`` and the ``libssl3`` of exactly its version (its
    ``libssl.so`` link points there): what Kiln's TLS modules are compiled and linked
    against."""
    dev = index.newest("libssl-dev")
    for group in dev.depends:
        for rel in group:
            if rel.name == "libssl3":
                found = index.candidates(rel)
                if found:
                    return [dev, found[0]]
    raise KilnError(f"libssl-dev {dev.version} depends on no libssl3 in the package index; "
                    f"refresh it (kiln image build --refresh)")


def _choose_openssl(board: Board, recipe: recipe_mod.Recipe, layout: OutLayout, root: Path,
                    site: Path, kiln_lib: Path, progress: Progress) -> None:
    """One OpenSSL in a TLS image: Debian's ``libssl3`` when anything besides Kiln's TLS
    modules needs it (wpa_supplicant, CPython's ``_ssl``) -- the modules share it -- otherwise
    Kiln's own (``[tls.openssl]``), built once per machine and CPU and linked inside the modules
    (:mod:`kiln.host.image.openssl`), and Debian's libraries leave the image."""
    own = recipe.tls.openssl
    mine = [so for name in payload.TLS_MODULES
            for so in sorted(site.glob(name.replace(".", "/") + ".cpython-*.so"))]
    users = openssl.users(root, board.triplet, mine)
    if not own.source or users:
        progress.note("OpenSSL: Debian's libssl3" + (f", shared with {', '.join(users)}"
                                                      if users else ""))
        return
    okey = openssl.key(own, board.openssl_target, board.cross_cc)
    embedded = kiln_lib.parent / f"tls-embedded-{okey[:16]}"
    if not embedded.is_dir():
        static = openssl.build(own, target=board.openssl_target, cc=board.cross_cc,
                               cache_dir=layout.openssl_cache(), log=progress.note)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=kiln_lib.parent))
        crossbuild.build_embedded(kiln_lib, layout.scratch("pydev"), static, staging,
                                  triplet=board.triplet, cc=board.cross_cc,
                                  python_version=recipe.python_version,
                                  expected_machine=_ELF_MACHINE.get(board.debian_arch,
                                                                    board.debian_arch))
        try:
            staging.rename(embedded)
        except OSError:     # another build published it first
            shutil.rmtree(staging, ignore_errors=True)
    for dest in mine:
        shutil.copy2(embedded / dest.relative_to(site), dest)
    removed = rootfs.prune_libraries(root, board.triplet)
    progress.note(f"OpenSSL: Kiln's own inside {', '.join(p.name for p in mine)} (nothing else "
                  f"uses OpenSSL); removed {', '.join(Path(r).name for r in removed)}")


def _tls_modules_of(lib: Path):
    """A ``shutil.copytree`` ignore function leaving out the compiled TLS modules
    (:data:`kiln.payload.TLS_MODULES`) of the cross build in ``lib``."""
    def ignore(directory: str, names: list[str]) -> set[str]:
        rel = Path(directory).relative_to(lib).parts
        return {n for n in names if n.endswith(".so")
                and ".".join((*rel, n.split(".")[0])) in payload.TLS_MODULES}
    return ignore



def _install_modules(root: Path, ktree: kernel.KernelTree, wanted: tuple[str, ...]) -> list[str]:
    """Copy ``wanted`` kernel modules and their dependencies into the image; return their
    paths below ``lib/modules`` in load order (what ``/etc/kiln/modules`` lists)."""
    modules_root = ktree.modules_dir.parent
    lines = []
    for ko in kernel.module_load_order(ktree.modules_dir, wanted):
        rel = ko.relative_to(modules_root)
        (root / "lib/modules" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ko, root / "lib/modules" / rel)
        lines.append(rel.as_posix())
    return lines


def _cross_build_kiln(board: Board, recipe: recipe_mod.Recipe, layout: OutLayout,
                      pydev_deb: Path, ssl_dev_debs: list[Path], progress: Progress) -> Path:
    """The payload cross-built for ``board`` (staged site-packages), with its TLS modules (an
    image without TLS leaves them out when it copies the result), reused from
    ``out/cache/kiln/<arch>/`` while its sources and the toolchain inputs are unchanged."""
    arch = board.debian_arch
    kiln_key = cache.fingerprint([path for path, _rel in crossbuild.source_files()], texts=[
        board.cross_cc, pydev_deb.name, board.triplet, recipe.python_version,
        *(deb.name for deb in ssl_dev_debs), "with the TLS modules' C (tls-c/)"])
    kiln_cache = layout.kiln_cache(kiln_key)
    if (kiln_cache / "lib").is_dir():
        progress.note("Kiln sources unchanged: reusing the cached cross build")
        return kiln_cache / "lib"
    lib = crossbuild.build(layout.scratch("kiln"), layout.scratch("pydev"), triplet=board.triplet,
                           cc=board.cross_cc, python_version=recipe.python_version,
                           expected_machine=_ELF_MACHINE.get(arch, arch),
                           openssl=layout.scratch("openssl"))
    # Published with one rename, so concurrent builds of the same sources (two test sessions,
    # a benchmark) never see a half-copied cache; the loser of the race uses the winner's.
    kiln_cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=kiln_cache.parent))
    shutil.copytree(lib, staging / "lib")
    shutil.copytree(crossbuild.c_sources_dir(lib), crossbuild.c_sources_dir(staging / "lib"))
    try:
        staging.rename(kiln_cache)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    for old in kiln_cache.parent.iterdir():      # one cached build per arch
        if old != kiln_cache and not old.name.startswith(".incoming-"):
            shutil.rmtree(old, ignore_errors=True)
    return kiln_cache / "lib"


def _prune(root: Path, stdlib: Path, site: Path, recipe: recipe_mod.Recipe, keep: tuple[str, ...],
           app_imports: set[str], triplet: str, progress: Progress,
           python_keep: tuple[str, ...] = ()) -> None:
    """Apply the recipe's prune globs, keep only the stdlib the app (``app_imports``: what its
    code imports from outside the app) and Kiln need (and the image's parts' ``python_keep``),
    and drop shared libraries nothing uses."""
    rootfs.prune(root, recipe.prune, keep)
    for link in stdlib.rglob("*"):
        if link.is_symlink() and os.readlink(link).startswith("/"):
            link.unlink()  # e.g. sitecustomize.py -> /etc/python3.11/... (pruned)
    pyx = [f for f, _rel in crossbuild.source_files() if f.suffix == ".pyx"]
    scan_files = sorted(site.rglob("*.py")) + pyx
    own = {p.name for p in site.iterdir()}
    roots = {m for m in pystdlib.direct_imports(scan_files) | app_imports
             if m.split(".")[0] not in own}
    roots |= alias_roots(own)
    roots |= set(recipe.python_keep) | set(python_keep)
    ext_suffix = f".cpython-{recipe.python_version.replace('.', '')}-{triplet}.so"
    modules = pystdlib.needed_modules(stdlib, roots, recipe.scan_exclude, ext_suffix=ext_suffix)
    kept, removed = pystdlib.prune_stdlib(stdlib, modules, ext_suffix)
    progress.note(f"stdlib: kept {kept} files, removed {removed}")
    libs_removed = rootfs.prune_libraries(root, triplet)
    progress.note(f"removed {len(libs_removed)} unused shared libraries")


def alias_roots(own: set[str]) -> set[str]:
    """Stdlib modules the API faces give an app for its imports (``import ujson`` is the
    stdlib's ``json`` under ``--api micropython``): the static scan of the app sees only the
    names it imports.  ``own``: Kiln's top-level packages, left out."""
    return {target for api in APIS for target in module_aliases(api).values()
            if target.split(".")[0] not in own}


def _app_imports(tree: appdir.App) -> set[str]:
    """Absolute module names the app's code imports that the app does not hold itself (its
    own modules, packages and ``lib/`` are resolved on the host, never imported at build
    time).  Raises :class:`appdir.AppTreeError` for a ``.py`` file that is not valid Python."""
    names: set[str] = set()
    broken = []
    for f in tree.files:
        if f.name.endswith(".py"):
            try:
                names |= pystdlib.direct_imports([f.source])
            except SyntaxError as exc:
                cause = exc.__context__ if isinstance(exc.__context__, SyntaxError) else exc
                broken.append((f.name, f"is not valid Python (line {cause.lineno}: "
                                       f"{cause.msg}); the board's CPython could not run it"))
    if broken:
        raise appdir.AppTreeError(tree.source, broken)
    return {name for name in names if not tree.provides(name)}


def _check_imports(root: Path, site: Path, tree: appdir.App, app_imports: set[str],
                   board: Board, triplet: str, py: str, progress: Progress,
                   skip: tuple[str, ...] = ()) -> None:
    """Import every Kiln module (error) but those in ``skip`` (the TLS faces of an image
    without TLS, whose import raises ImportError naming the fix) and, under each API of the
    launcher, every module the app imports from outside the app (a warning when one imports
    under no API, a note when only under some); warn when an app module replaces one of the
    image's (stdlib, Kiln)."""
    kiln_modules = [m for m in bytecompile.module_names(site) if m not in skip]
    report = bytecompile.import_check(root, kiln_modules, board.qemu_user, triplet, py,
                                      app_imports=sorted(app_imports),
                                      shadowed=sorted(tree.top_level_modules()))
    for module, outcome in sorted(report.app.items()):
        works = [api for api, error in outcome.items() if error is None]
        if not works and tree.namespace(module):
            continue        # a folder of the app: a namespace package on the board
        if not works:
            error = outcome.get("cpython") or next(iter(outcome.values()))
            progress.note(f"warning: the app imports {module!r}, which fails in the image: "
                          f"{error}")
        elif len(works) < len(outcome):
            progress.note(f"the app imports {module!r}, which imports only with --api "
                          f"{' or '.join(works)}")
    top = tree.top_level_modules()
    for module in sorted(report.shadowed):
        progress.note(f"warning: the app's {top[module]} replaces the image's module "
                      f"{module!r} for the whole program (the app's folder and lib/ come "
                      f"first on the import path); rename it unless that is intended")
    if report.failures:
        detail = "; ".join(f"{m}: {e}" for m, e in sorted(report.failures.items()))
        raise KilnError(f"Kiln modules do not import in the image ({detail}); add the missing "
                        f"stdlib modules to [python] keep in images/recipe.toml")
    progress.note(f"{len(kiln_modules)} Kiln modules import cleanly; the app's "
                  f"{len(app_imports)} imports from the image checked")


def _install_files(root: Path, board: Board, recipe: recipe_mod.Recipe,
                   templates: tuple[tuple[str, str, int], ...],
                   module_lines: list[str], abi: str, py: str, env: str) -> None:
    """Templates (the init), /etc/kiln facts, minimal /etc, the python3 link and
    busybox's applet links (listed by running the image's busybox under qemu-user)."""
    for src, dest, mode in templates:
        target = root / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(recipe.images_dir / src, target)
        target.chmod(mode)
    etc = root / "etc"
    (etc / "kiln").mkdir(parents=True, exist_ok=True)
    (etc / "kiln" / "board.toml").write_text(board.toml_text())
    (etc / "kiln" / "board-name").write_text(board.name + "\n")
    (etc / "kiln" / "board.env").write_text(env)
    (etc / "kiln" / "modules").write_text("".join(line + "\n" for line in module_lines))
    (etc / "kiln" / "kernel-abi").write_text(abi + "\n")
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\n")
    (etc / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
    (etc / "resolv.conf").write_text("")
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        link = root / "usr/bin" / name
        if not link.exists():
            link.symlink_to(py)
    applets = qemu_user.run_binary(root, board.qemu_user, "bin/busybox", ["--list-full"])
    if applets.returncode != 0:
        raise qemu_user.QemuUserError(f"busybox --list-full failed: {applets.stderr.strip()}")
    for applet in applets.stdout.split():
        link = root / applet
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")
