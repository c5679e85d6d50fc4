"""The image recipe (``images/recipe.toml``): package lists, prune rules, templates."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kiln.boards import find_data_dir
from kiln.errors import KilnError


class RecipeError(KilnError):
    """The recipe or the images/ directory is missing or malformed."""


@dataclass(frozen=True)
class Part:
    """What one part of an image adds: Debian packages, paths kept from pruning, kernel modules,
    templates (``(source in images/, path in the image, mode)``) and stdlib modules its code
    needs that the import scan cannot see (``python``: e.g. a codec looked up by name)."""

    packages: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    templates: tuple[tuple[str, str, int], ...] = ()
    python: tuple[str, ...] = ()

    def __add__(self, other: "Part") -> "Part":
        return Part(*(a + b for a, b in zip(
            (self.packages, self.keep, self.modules, self.templates, self.python),
            (other.packages, other.keep, other.modules, other.templates, other.python))))


@dataclass(frozen=True)
class OpenSSLRecipe:
    """``[tls.openssl]``: Kiln's own OpenSSL (:mod:`kiln.host.image.openssl`) -- the pinned
    source file (a name in :data:`kiln.host.buildroot.sources.SOURCES`) and OpenSSL's
    ``Configure`` arguments (options and C flags, from the recipe's options file).  No source:
    TLS images always use Debian's ``libssl3``."""

    source: str = ""
    configure: tuple[str, ...] = ()


def read_options(path: Path) -> tuple[str, ...]:
    """The ``Configure`` arguments of an options file (``images/openssl.options``: one per
    line, ``#`` comments); :class:`RecipeError` for anything but ``no-X``, ``enable-X`` or a
    compiler flag ``-X``."""
    args = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        arg = line.split("#", 1)[0].strip()
        if not arg:
            continue
        if " " in arg or not arg.startswith(("no-", "enable-", "-")):
            raise RecipeError(f"{path}:{number}: {arg!r} is not a Configure option "
                              f"(no-X, enable-X) or a compiler flag (-X)")
        args.append(arg)
    return tuple(args)


@dataclass(frozen=True)
class TlsPart:
    """The ``[tls]`` part: what it adds (``part``), what in an app's code asks for it --
    modules imported (``app_imports``) or names used (``app_names``) -- and Kiln's own
    OpenSSL for images where nothing else uses one (``openssl``)."""

    part: Part = Part()
    app_imports: tuple[str, ...] = ()
    app_names: tuple[str, ...] = ()
    openssl: OpenSSLRecipe = OpenSSLRecipe()


@dataclass(frozen=True)
class Recipe:
    """Validated contents of ``images/recipe.toml`` plus where the templates live."""

    images_dir: Path
    release: str
    mirror: str
    security_mirror: str
    suites: tuple[str, ...]
    security_suites: tuple[str, ...]
    components: tuple[str, ...]
    keyring: str
    max_index_age_hours: float
    packages: tuple[str, ...]
    exclude: tuple[str, ...]
    prune: tuple[str, ...]
    keep: tuple[str, ...]
    kernel_image: str
    python_version: str
    python_keep: tuple[str, ...]
    scan_exclude: tuple[str, ...]
    templates: tuple[tuple[str, str, int], ...]
    demo_app: Path
    dirs: tuple[str, ...]
    kernel_modules: tuple[str, ...] = ()   # loaded by every image, before the board's
    wifi: Part = Part()                    # added when the board names a Wi-Fi driver
    labs: dict[str, Part] = field(default_factory=dict)  # test-lab parts ([lab.NAME])
    tls: TlsPart = TlsPart()               # added when the app needs TLS (kiln.host.image.tlsneed)

    def content(self, wifi: bool, labs: tuple[str, ...] = (), tls: bool = False) -> Part:
        """Everything an image holds besides the board's own modules: the base recipe, the
        Wi-Fi part when ``wifi``, the TLS part when ``tls``, and the named test-lab parts
        (``RecipeError`` for an unknown lab, naming the known ones)."""
        known = self.labs or {}
        unknown = [lab for lab in labs if lab not in known]
        if unknown:
            raise RecipeError(f"unknown lab {unknown[0]!r}; the recipe has: "
                              f"{', '.join(sorted(known)) or 'none'}")
        total = Part(self.packages, self.keep, self.kernel_modules, self.templates)
        if wifi:
            total = total + self.wifi
        if tls:
            total = total + self.tls.part
        for lab in labs:
            total = total + known[lab]
        return total


def images_dir() -> Path:
    """The ``images/`` directory (``$KILN_IMAGES_DIR``, the source tree, or share/kiln/images)."""
    for directory in find_data_dir("images", "KILN_IMAGES_DIR"):
        if (directory / "recipe.toml").is_file():
            return directory
    raise RecipeError("cannot find images/recipe.toml; set KILN_IMAGES_DIR to Kiln's images/ "
                      "directory or reinstall kiln-sdk")


def load(directory: Path | None = None) -> Recipe:
    """Read and validate the recipe in ``directory`` (default: :func:`images_dir`)."""
    directory = Path(directory) if directory else images_dir()
    path = directory / "recipe.toml"
    try:
        data = tomllib.loads(path.read_text())
        apt, rootfs, kernel, python, image = (data[t] for t in
                                              ("apt", "rootfs", "kernel", "python", "image"))
        release = apt["release"]
        fmt = lambda items: tuple(s.replace("{release}", release) for s in items)  # noqa: E731
        def templates_of(items) -> tuple[tuple[str, str, int], ...]:
            found = []
            for src, dest, mode in items:
                if not (directory / src).is_file():
                    raise RecipeError(f"{path}: template {src!r} does not exist in {directory}")
                found.append((src, dest.lstrip("/"), int(mode, 8)))
            return tuple(found)

        def part_of(table: dict) -> Part:
            return Part(tuple(table.get("packages", ())), tuple(table.get("keep", ())),
                        tuple(table.get("modules", ())), templates_of(table.get("templates", ())),
                        tuple(table.get("python", ())))

        def openssl_of(table: dict) -> OpenSSLRecipe:
            if not table:
                return OpenSSLRecipe()
            options = directory / table["options"]
            if not isinstance(table["source"], str) or not options.is_file():
                raise RecipeError(f"{path}: [tls.openssl] needs a source file name and an "
                                  f"options file in {directory}")
            return OpenSSLRecipe(table["source"], read_options(options))

        templates = templates_of(image["templates"])
        return Recipe(
            images_dir=directory, release=release,
            mirror=os.environ.get("KILN_DEBIAN_MIRROR", apt["mirror"]),
            security_mirror=os.environ.get("KILN_DEBIAN_SECURITY_MIRROR", apt["security_mirror"]),
            suites=fmt(apt["suites"]), security_suites=fmt(apt["security_suites"]),
            components=tuple(apt["components"]), keyring=apt["keyring"],
            max_index_age_hours=float(apt["max_index_age_hours"]),
            packages=tuple(rootfs["packages"]), exclude=tuple(rootfs["exclude"]),
            prune=tuple(rootfs["prune"]), keep=tuple(rootfs["keep"]),
            kernel_image=kernel["image"], python_version=python["version"],
            python_keep=tuple(python["keep"]), scan_exclude=tuple(python["scan_exclude"]),
            templates=templates, kernel_modules=tuple(kernel.get("modules", ())),
            wifi=part_of(data.get("wifi", {})),
            labs={name: part_of(table) for name, table in data.get("lab", {}).items()},
            tls=TlsPart(part_of(data.get("tls", {})),
                        tuple(data.get("tls", {}).get("app_imports", ())),
                        tuple(data.get("tls", {}).get("app_names", ())),
                        openssl_of(data.get("tls", {}).get("openssl", {}))),
            demo_app=directory / image["demo_app"], dirs=tuple(image["dirs"]),
        )
    except OSError as exc:
        raise RecipeError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path} is not valid TOML: {exc}") from None
    except KeyError as exc:
        raise RecipeError(f"{path}: missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"{path}: malformed value: {exc}") from None
