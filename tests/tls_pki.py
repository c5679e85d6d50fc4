"""A test PKI made at test time with the ``openssl`` command: one CA, server and client
certificates (ECDSA P-256), every file PEM.

Used by the TLS tests of both tiers (host tests import it from ``tests/``; the system tests'
conftest puts ``tests/`` on ``sys.path``).  Nothing is cached: each call makes a new CA, so no
certificate or key can be built into a test.
"""
from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path


class PkiError(RuntimeError):
    """The openssl command failed (its output is in the message)."""


@dataclass(frozen=True)
class Issued:
    """One certificate and its key (PEM files) and what they hold."""

    cert: Path
    key: Path
    common_name: str

    def cert_pem(self) -> bytes:
        return self.cert.read_bytes()

    def key_pem(self) -> bytes:
        return self.key.read_bytes()


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise PkiError(f"openssl {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


class TestPki:
    """A CA in ``directory`` (created) that issues certificates; ``days`` of validity."""

    __test__ = False        # not a pytest test class

    def __init__(self, directory: Path, ca_name: str = "Kiln Test CA", days: int = 2) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.days = days
        self.ca = Issued(self.dir / "ca.pem", self.dir / "ca.key", ca_name)
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", str(days),
                 "-subj", f"/CN={ca_name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)

    def issue(self, name: str, *, dns: tuple[str, ...] = (), ips: tuple[str, ...] = (),
              server: bool = True, client: bool = False) -> Issued:
        """A certificate with common name ``name``, the subjectAltNames ``dns`` and ``ips``,
        usable by a TLS server (``server``) and/or client (``client``), signed by the CA."""
        stem = name.replace(" ", "_").replace("/", "_")
        usages = [u for u, on in (("serverAuth", server), ("clientAuth", client)) if on]
        sans = [f"DNS:{d}" for d in dns] + [f"IP:{ipaddress.ip_address(i)}" for i in ips]
        ext = self.dir / f"{stem}.ext"
        ext.write_text("basicConstraints=critical,CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\n"
                       f"extendedKeyUsage={','.join(usages)}\n"
                       + (f"subjectAltName={','.join(sans)}\n" if sans else ""))
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={name}",
                 cwd=self.dir)
        _openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{stem}.pem", "-days", str(self.days),
                 "-extfile", ext.name, cwd=self.dir)
        return Issued(self.dir / f"{stem}.pem", self.dir / f"{stem}.key", name)
