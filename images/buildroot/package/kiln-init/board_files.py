#!/usr/bin/env python3
"""Install a Kiln board's files in a root filesystem (kiln-init, Buildroot).

usage: board_files.py SOURCE_DIR BOARD TARGET_DIR [--wifi]

Reads SOURCE_DIR/board_configs/BOARD.toml with Kiln's own board loader
(kiln.boards, from SOURCE_DIR/sdk: the schema is checked) and writes:

- etc/kiln/board.toml: the board file (bsp and the drivers read it);
- etc/kiln/board-name: the board's name;
- etc/kiln/board.env: the facts the init exports to the app launcher
  and the drivers, from the board loader itself (kiln.boards.Board.env_text,
  as Kiln's image builder writes them); the radio only with --wifi, given
  when the image carries wpa_supplicant.
"""
import sys
from pathlib import Path


def main(argv):
    wifi = "--wifi" in argv
    argv = [a for a in argv if a != "--wifi"]
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    source, name, target = Path(argv[1]), argv[2], Path(argv[3])
    sys.path.insert(0, str(source / "sdk"))
    from kiln import boards
    from kiln.errors import KilnError
    path = source / "board_configs" / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.toml")))
        print(f"kiln-init: no board file {path} "
              f"(BR2_PACKAGE_KILN_INIT_BOARD); "
              f"known boards: {known}", file=sys.stderr)
        return 1
    try:
        board = boards.load_file(path)
    except KilnError as exc:
        print(f"kiln-init: {exc}", file=sys.stderr)
        return 1
    etc = target / "etc" / "kiln"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "board.toml").write_text(board.toml_text())
    (etc / "board-name").write_text(board.name + "\n")
    (etc / "board.env").write_text(board.env_text(wifi))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
