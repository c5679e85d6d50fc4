"""Debian version ordering and dependency resolution on a small fake Packages index."""
from __future__ import annotations

import pytest

from kiln.host.image import debversion
from kiln.host.image.packages import Index, Relation, ResolveError, parse_index, parse_relations, resolve

FAKE_INDEX = """\
Package: app
Version: 1.0-1
Architecture: arm64
Pre-Depends: libc6 (>= 2.36)
Depends: libfoo1 (>= 2.0) | libfoo-compat, mail-transport-agent, debconf (>= 0.5) | debconf-2.0
Filename: pool/main/a/app/app_1.0-1_arm64.deb
Size: 1000
SHA256: 00

Package: libc6
Version: 2.36-9
Architecture: arm64
Depends: libgcc-s1

Package: libc6
Version: 2.36-9+deb12u4
Architecture: arm64
Depends: libgcc-s1

Package: libc6
Version: 2.35-1
Architecture: arm64

Package: libgcc-s1
Version: 12.2.0-14
Architecture: arm64
Depends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)

Package: gcc-12-base
Version: 12.2.0-14
Architecture: arm64

Package: libfoo1
Version: 1.9-1
Architecture: arm64

Package: libfoo-compat
Version: 3.0-1
Architecture: arm64
Provides: libfoo1 (= 3.0)

Package: tiny-mta
Version: 0.1
Architecture: arm64
Provides: mail-transport-agent

Package: debconf
Version: 1.5.82
Architecture: all
"""


@pytest.fixture
def index() -> Index:
    idx = Index()
    idx.add(parse_index(FAKE_INDEX))
    return idx


@pytest.mark.parametrize("older,newer", [
    ("1.0", "1.0-1"), ("1.0-1", "1.0-2"), ("1.0~rc1", "1.0"), ("1.9", "1.10"),
    ("2.36-9", "2.36-9+deb12u4"), ("9:1.0", "1:2.0") [::-1], ("1.0a", "1.0b"),
    ("6.1.176-1", "6.1.192-2"), ("1.2.13.dfsg-1", "1:1.2.13.dfsg-1"),
])
def test_debian_version_order(older, newer):
    assert debversion.compare(older, newer) == -1
    assert debversion.compare(newer, older) == 1
    assert debversion.compare(newer, newer) == 0


def test_bad_version_is_rejected():
    with pytest.raises(ValueError, match="not a Debian version"):
        debversion.compare("", "1.0")


def test_parse_relations_groups_alternatives_and_versions():
    groups = parse_relations("libc6 (>= 2.36), python3:any | python3-minimal, foo [amd64]")
    assert groups == (
        (Relation("libc6", ">=", "2.36"),),
        (Relation("python3"), Relation("python3-minimal")),
        (Relation("foo"),),
    )
    with pytest.raises(ValueError, match="bad package relation"):
        parse_relations("libc6 (>= )")


def test_resolver_follows_depends_picking_newest_satisfying_versions(index):
    chosen = {p.name: p.version for p in resolve(index, ["app"], exclude=["debconf"])}
    # newest libc6 wins; libfoo1 1.9 is too old, so the provider libfoo-compat is chosen;
    # a virtual package is satisfied by its only provider; excluded debconf is skipped.
    assert chosen == {"app": "1.0-1", "libc6": "2.36-9+deb12u4", "libgcc-s1": "12.2.0-14",
                      "gcc-12-base": "12.2.0-14", "libfoo-compat": "3.0-1",
                      "tiny-mta": "0.1"}


def test_resolver_without_exclusion_installs_the_dependency(index):
    names = [p.name for p in resolve(index, ["app"])]
    assert "debconf" in names
    assert names == sorted(names)


def test_resolver_names_an_unsatisfiable_relation(index):
    index.add(parse_index("Package: broken\nVersion: 1\nArchitecture: arm64\n"
                          "Depends: libc6 (>= 3.0)\n"))
    with pytest.raises(ResolveError) as err:
        resolve(index, ["broken"])
    assert "libc6 (>= 3.0)" in str(err.value) and "needed by broken 1" in str(err.value)


def test_unknown_root_package_is_an_error(index):
    with pytest.raises(ResolveError, match="cannot satisfy 'nonexistent'"):
        resolve(index, ["nonexistent"])


def test_deb_name_quotes_the_epoch():
    [pkg] = parse_index("Package: zlib1g\nVersion: 1:1.2.13.dfsg-1\nArchitecture: arm64\n")
    assert pkg.deb_name == "zlib1g_1%3a1.2.13.dfsg-1_arm64.deb"
