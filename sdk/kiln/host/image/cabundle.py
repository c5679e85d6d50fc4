"""The image's CA bundle, built at stage time as Debian's ``ca-certificates`` would build it.

The package ships the certificates (``usr/share/ca-certificates/mozilla/*.crt``) and makes
``/etc/ssl/certs/ca-certificates.crt`` in its postinst: it writes ``/etc/ca-certificates.conf``
from debconf (the default trusts every certificate it ships) and runs
``update-ca-certificates``, which appends each trusted certificate in the order of that file
(the sorted list), adding a missing final newline, then any under
``/usr/local/share/ca-certificates``.  The builder runs no maintainer scripts, so it does the
same here: with the default configuration, every ``*.crt`` below the two directories.
"""
from __future__ import annotations

from pathlib import Path

from kiln.errors import KilnError

#: Where Debian's (and Buildroot's) ca-certificates put the bundle; what kiln.net.tls reads.
BUNDLE = "etc/ssl/certs/ca-certificates.crt"
CERTS_DIR = "usr/share/ca-certificates"
LOCAL_CERTS_DIR = "usr/local/share/ca-certificates"


class CaBundleError(KilnError):
    """The staged tree holds no certificates to bundle."""


def certificates(root: Path) -> list[Path]:
    """The certificates the default configuration trusts, in update-ca-certificates' order:
    ``usr/share/ca-certificates`` sorted by relative path (as the postinst's ``sort`` writes
    ca-certificates.conf), then ``usr/local/share/ca-certificates`` sorted."""
    found = []
    for rel in (CERTS_DIR, LOCAL_CERTS_DIR):
        top = root / rel
        if top.is_dir():
            found += sorted((p for p in top.rglob("*.crt") if p.is_file()),
                            key=lambda p: p.relative_to(top).as_posix().encode())
    return found


def build(root: Path) -> tuple[Path, int]:
    """Write ``root``/:data:`BUNDLE` from the certificates below ``root``; return its path and
    the number of certificates.  Raises :class:`CaBundleError` when there are none (the
    ca-certificates package was not unpacked)."""
    certs = certificates(root)
    if not certs:
        raise CaBundleError(f"no certificates below {root / CERTS_DIR}: is ca-certificates in "
                            f"the recipe's [tls] packages?")
    bundle = root / BUNDLE
    bundle.parent.mkdir(parents=True, exist_ok=True)
    with bundle.open("wb") as out:
        for cert in certs:
            data = cert.read_bytes()
            out.write(data if data.endswith(b"\n") or not data else data + b"\n")
    bundle.chmod(0o644)
    return bundle, len(certs)
