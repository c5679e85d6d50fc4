#!/usr/bin/env python3
"""Write /etc/kiln/modules of a Kiln root filesystem (Buildroot post-build).

usage: kernel_modules.py TARGET_DIR [--tls RECIPE]

The board file (TARGET_DIR/etc/kiln/board.toml, installed by kiln-init)
names the kernel modules the board needs ([kernel] modules).  With
--tls (images with Kiln's TLS layer), kernel TLS's modules follow: the
[tls] modules of Kiln's image recipe RECIPE (images/recipe.toml: tls
and the generic ciphers it asks for by name) and the board file's [tls]
modules (its CPU's fast cipher drivers).  Each is
looked up in the kernel's modules.builtin (nothing to load) and
modules.dep (the .ko file and its dependencies) under
TARGET_DIR/lib/modules/<version>/.  The result, one path below
/lib/modules per line with dependencies first, is what Kiln's init
loads with insmod.

The board file's list is written for Debian's kernel; another kernel
(Raspberry Pi's, Buildroot's QEMU kernel) builds some of those drivers
in, names them differently or leaves them out.  A module the kernel has
neither built in nor as a file is reported as a warning, naming it.  A
root filesystem without lib/modules (a kernel without loadable modules)
gets an empty list.
"""
import sys
import tomllib
from pathlib import Path


def norm(name):
    """Module name as the kernel spells it (dashes are underscores)."""
    name = Path(name).name
    for suffix in (".xz", ".zst", ".gz"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".ko").replace("-", "_")


def read_dep(kdir):
    """{module name: (path, [dependency paths])} from modules.dep."""
    deps = {}
    dep_file = kdir / "modules.dep"
    if not dep_file.is_file():
        return deps
    for line in dep_file.read_text().splitlines():
        path, sep, rest = line.partition(":")
        if sep:
            deps[norm(path)] = (path.strip(), rest.split())
    return deps


def read_builtin(kdir):
    path = kdir / "modules.builtin"
    if not path.is_file():
        return set()
    return {norm(line) for line in path.read_text().split()}


def load_order(kdir, wanted):
    """(paths relative to kdir to insmod for ``wanted``, dependencies
    first; names the kernel has neither built in nor as a module)."""
    deps = read_dep(kdir)
    builtin = read_builtin(kdir)
    by_path = {path: dep_paths for path, dep_paths in deps.values()}
    order = []
    missing = []

    def visit(path, seen):
        if path in order or path in seen:
            return
        for dep in by_path.get(path, []):
            visit(dep, seen | {path})
        order.append(path)

    for name in wanted:
        key = norm(name)
        if key in builtin:
            continue
        if key not in deps:
            missing.append(name)
            continue
        visit(deps[key][0], frozenset())
    return order, missing


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--tls"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    target = Path(argv[1])
    board = tomllib.loads((target / "etc/kiln/board.toml").read_text())
    name = board["board"]["name"]
    wanted = list(board["kernel"]["modules"])
    if len(argv) == 4:
        recipe = tomllib.loads(Path(argv[3]).read_text())
        wanted += recipe["tls"]["modules"]
        wanted += board.get("tls", {}).get("modules", [])
    modules_root = target / "lib" / "modules"
    kernels = []
    if modules_root.is_dir():
        kernels = sorted(p for p in modules_root.iterdir() if p.is_dir())
    if len(kernels) > 1:
        print(f"kiln: more than one kernel in {modules_root}: "
              f"{[k.name for k in kernels]}", file=sys.stderr)
        return 1
    lines = []
    if kernels:
        order, missing = load_order(kernels[0], wanted)
        lines = [f"{kernels[0].name}/{p}" for p in order]
        if missing:
            print(f"kiln: WARNING: board {name}: kernel {kernels[0].name} "
                  f"has neither built in nor as a module: "
                  f"{', '.join(missing)} ([kernel] modules of the board "
                  f"file)", file=sys.stderr)
    elif wanted:
        print(f"kiln: board {name}: no {modules_root}: the kernel has no "
              f"loadable modules, so {', '.join(wanted)} must be built in",
              file=sys.stderr)
    out = target / "etc" / "kiln" / "modules"
    out.write_text("".join(line + "\n" for line in lines))
    print(f"kiln: {out.relative_to(target)}: {len(lines)} module(s)"
          + "".join(f"\n  {line}" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
