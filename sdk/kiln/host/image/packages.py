"""Debian ``Packages`` indexes and dependency resolution (pure logic, no I/O besides reading).

The builder never hand-lists a package's dependencies: it names the root packages (recipe) and
:func:`resolve` follows ``Pre-Depends`` and ``Depends`` through the index, choosing the newest
version that satisfies every relation and the first installable alternative of ``a | b``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from kiln.errors import KilnError
from kiln.host.image import debversion

_RELATION_RE = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*"
                          r"(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([0-9][^)\s]*)\s*\))?\s*(?:\[.*\])?\s*$")


class ResolveError(KilnError):
    """A dependency that no package in the index can satisfy."""


@dataclass(frozen=True)
class Relation:
    """One alternative of a dependency: ``name [(op version)]``."""

    name: str
    op: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name} ({self.op} {self.version})" if self.op else self.name


@dataclass(frozen=True)
class Package:
    """One stanza of a Packages index (only the fields the builder uses)."""

    name: str
    version: str
    arch: str
    depends: tuple[tuple[Relation, ...], ...] = ()
    provides: tuple[Relation, ...] = ()
    filename: str = ""
    size: int = 0
    sha256: str = ""

    @property
    def deb_name(self) -> str:
        """File name ``apt-get download`` gives this package (epoch ``:`` quoted as ``%3a``)."""
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.arch}.deb"


def parse_relations(text: str) -> tuple[tuple[Relation, ...], ...]:
    """Parse a ``Depends``-style field into groups of alternatives; ValueError on bad syntax."""
    groups = []
    for group in filter(None, (g.strip() for g in text.split(","))):
        alternatives = []
        for alt in group.split("|"):
            match = _RELATION_RE.match(alt)
            if not match:
                raise ValueError(f"bad package relation {alt.strip()!r} in {text!r}")
            alternatives.append(Relation(*match.groups()))
        groups.append(tuple(alternatives))
    return tuple(groups)


def iter_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Yield each deb822 stanza of ``text`` as a dict (continuation lines joined with newlines)."""
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
        elif line[0] in " \t" and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    if fields:
        yield fields


def parse_index(text: str) -> list[Package]:
    """Parse the text of one ``Packages`` file."""
    out = []
    for s in iter_stanzas(text):
        if "Package" not in s or "Version" not in s:
            continue
        depends = parse_relations(s.get("Pre-Depends", "")) + parse_relations(s.get("Depends", ""))
        provides = tuple(alt for group in parse_relations(s.get("Provides", "")) for alt in group)
        out.append(Package(name=s["Package"], version=s["Version"], arch=s.get("Architecture", ""),
                           depends=depends, provides=provides, filename=s.get("Filename", ""),
                           size=int(s.get("Size", 0) or 0), sha256=s.get("SHA256", "")))
    return out


@dataclass
class Index:
    """All versions of all packages of several ``Packages`` files, queryable by name."""

    packages: dict[str, list[Package]] = field(default_factory=dict)
    providers: dict[str, list[Package]] = field(default_factory=dict)

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> "Index":
        """Index built from uncompressed ``Packages`` files (e.g. apt's lists directory)."""
        index = cls()
        for path in paths:
            index.add(parse_index(Path(path).read_text(errors="replace")))
        return index

    def add(self, packages: Iterable[Package]) -> None:
        """Add packages; versions are kept sorted newest first."""
        for pkg in packages:
            versions = self.packages.setdefault(pkg.name, [])
            versions.append(pkg)
            versions.sort(key=lambda p: debversion.sort_key(p.version), reverse=True)
            for prov in pkg.provides:
                self.providers.setdefault(prov.name, []).append(pkg)

    def candidates(self, rel: Relation) -> list[Package]:
        """Packages satisfying ``rel``: real versions newest first, then providers."""
        real = [p for p in self.packages.get(rel.name, [])
                if rel.op is None or debversion.satisfies(p.version, rel.op, rel.version)]
        provided = []
        for pkg in self.providers.get(rel.name, []):
            for prov in pkg.provides:
                if prov.name != rel.name:
                    continue
                if rel.op is None or (prov.version and prov.op == "="
                                      and debversion.satisfies(prov.version, rel.op, rel.version)):
                    provided.append(pkg)
                    break
        return real + provided

    def newest(self, name: str) -> Package:
        """Newest version of package ``name``; ResolveError if the index has none."""
        if not self.packages.get(name):
            raise ResolveError(f"package {name!r} is not in the package index "
                               f"(is the architecture right? try `kiln image update`)")
        return self.packages[name][0]


def resolve(index: Index, roots: Iterable[str], exclude: Iterable[str] = ()) -> list[Package]:
    """The packages to install for ``roots`` and all their (pre-)dependencies, sorted by name.

    Packages named in ``exclude`` are never selected; a dependency they would satisfy counts as
    met (the recipe excludes packages an initramfs does not need, such as ``debconf``).
    Raises :class:`ResolveError` naming the unsatisfiable relation and who needs it.
    """
    excluded = set(exclude)
    chosen: dict[str, Package] = {}
    queue: list[tuple[Package | None, tuple[Relation, ...]]] = [
        (None, (Relation(name),)) for name in roots]
    while queue:
        needed_by, group = queue.pop(0)
        if any(alt.name in excluded for alt in group):
            continue
        if any(_satisfied(chosen, alt) for alt in group):
            continue
        pick = next((c for alt in group for c in index.candidates(alt)
                     if c.name not in excluded and c.name not in chosen), None)
        if pick is None:
            who = f"{needed_by.name} {needed_by.version}" if needed_by else "the recipe"
            wanted = " | ".join(map(str, group))
            clash = [f"{chosen[a.name].name} {chosen[a.name].version}"
                     for a in group if a.name in chosen]
            hint = f" (already chose {', '.join(clash)})" if clash else ""
            raise ResolveError(f"cannot satisfy {wanted!r} needed by {who}{hint}")
        chosen[pick.name] = pick
        queue.extend((pick, dep) for dep in pick.depends)
    return sorted(chosen.values(), key=lambda p: p.name)


def _satisfied(chosen: dict[str, Package], rel: Relation) -> bool:
    pkg = chosen.get(rel.name)
    if pkg is not None and (rel.op is None or debversion.satisfies(pkg.version, rel.op, rel.version)):
        return True
    for pkg in chosen.values():
        for prov in pkg.provides:
            if prov.name == rel.name and (rel.op is None or (
                    prov.version and debversion.satisfies(prov.version, rel.op, rel.version))):
                return True
    return False
