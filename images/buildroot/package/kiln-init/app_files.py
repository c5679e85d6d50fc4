#!/usr/bin/env python3
"""Install a Kiln app in a root filesystem's /app (kiln-init, Buildroot).

usage: app_files.py SOURCE_DIR APP TARGET_APP_DIR

APP is a main.py, a directory holding main.py (copied whole: packages,
lib/, data files), or empty for Kiln's demo app.  The rules are those of
Kiln's image builder (kiln.host.image.appdir, from SOURCE_DIR/sdk): what
cannot go on a board (links out of the app, device files, version-control
folders, caches, .mpy byte-code...) is refused, naming each path and why.
"""
import shutil
import sys
from pathlib import Path


def main(argv):
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    source, app, target = Path(argv[1]), argv[2], Path(argv[3])
    sys.path.insert(0, str(source / "sdk"))
    from kiln.errors import KilnError
    from kiln.host.image import appdir
    try:
        tree = appdir.load(Path(app) if app else None,
                           source / "images" / "demo" / "main.py")
    except KilnError as exc:
        print(f"kiln-init: {exc} (BR2_PACKAGE_KILN_INIT_APP)", file=sys.stderr)
        return 1
    shutil.rmtree(target, ignore_errors=True)
    appdir.install(tree, target)
    print(f"kiln-init: app: {tree.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
