"""Debian version comparison (Debian Policy 5.6.12), so the resolver can pick the newest version."""
from __future__ import annotations

import functools
import re

_VERSION_RE = re.compile(r"^(?:(\d+):)?([0-9][A-Za-z0-9.+~:-]*?)(?:-([A-Za-z0-9.+~]+))?$")


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """Compare upstream or revision strings with dpkg's alternating non-digit/digit algorithm."""
    while a or b:
        a_lex = re.match(r"[^0-9]*", a).group()
        b_lex = re.match(r"[^0-9]*", b).group()
        for i in range(max(len(a_lex), len(b_lex))):
            ca = _order(a_lex[i]) if i < len(a_lex) else 0
            cb = _order(b_lex[i]) if i < len(b_lex) else 0
            if ca != cb:
                return -1 if ca < cb else 1
        a, b = a[len(a_lex):], b[len(b_lex):]
        a_num = re.match(r"[0-9]*", a).group()
        b_num = re.match(r"[0-9]*", b).group()
        if int(a_num or 0) != int(b_num or 0):
            return -1 if int(a_num or 0) < int(b_num or 0) else 1
        a, b = a[len(a_num):], b[len(b_num):]
    return 0


def split(version: str) -> tuple[int, str, str]:
    """Split ``[epoch:]upstream[-revision]`` into its parts; ValueError if it is not a version."""
    match = _VERSION_RE.match(version.strip())
    if not match:
        raise ValueError(f"not a Debian version: {version!r}")
    epoch, upstream, revision = match.groups()
    return int(epoch or 0), upstream, revision or ""


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version ``a`` is older than, equal to or newer than ``b``."""
    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


sort_key = functools.cmp_to_key(compare)


def satisfies(version: str, op: str, wanted: str) -> bool:
    """Whether ``version`` meets the relation ``op wanted`` (op: <<, <=, =, >=, >>)."""
    c = compare(version, wanted)
    try:
        return {"<<": c < 0, "<=": c <= 0, "=": c == 0, ">=": c >= 0, ">>": c > 0,
                "<": c <= 0, ">": c >= 0}[op]
    except KeyError:
        raise ValueError(f"unknown version relation {op!r}") from None
