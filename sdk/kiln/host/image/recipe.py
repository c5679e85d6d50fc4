"""The image recipe (``images/recipe.toml``): package lists, prune rules, templates."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from kiln.boards import find_data_dir
from kiln.errors import KilnError


class RecipeError(KilnError):
    """The recipe or the images/ directory is missing or malformed."""


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
        templates = []
        for src, dest, mode in image["templates"]:
            if not (directory / src).is_file():
                raise RecipeError(f"{path}: template {src!r} does not exist in {directory}")
            templates.append((src, dest.lstrip("/"), int(mode, 8)))
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
            templates=tuple(templates),
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
