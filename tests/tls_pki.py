"""A test PKI made at test time with the ``openssl`` command (requirements/apt.txt).

:func:`make_pki` writes into a directory:

- ``root`` (EC P-256), the CA the tests trust, and ``inter`` an intermediate CA under it;
- servers under the intermediate, for ``localhost`` and ``127.0.0.1`` (subjectAltName
  ``DNS:localhost, IP:127.0.0.1``): ``server-ec`` (P-256) and ``server-rsa`` (RSA-2048), each with
  ``<name>-chain.pem`` = leaf + intermediate (what a server sends);
- ``expired-ec``: the same names, valid 2020-01-01..2020-02-01 only (``openssl ca`` with
  -startdate/-enddate: ``x509 -days`` cannot move notBefore into the past);
- ``stranger`` a CA the tests do not trust, and ``unknown-ec`` a server certificate it signed;
- ``client-ec`` and ``client-rsa`` (extendedKeyUsage clientAuth) under ``root``, for mutual TLS.

Each entity has ``<name>.pem`` (certificate) and ``<name>.key`` (unencrypted PKCS#8 key);
``<name>.der`` / ``<name>.key.der`` are the DER forms.  Takes about a second.

:class:`TestPki` (the system tests' and the image tests'): one CA that issues server and client
certificates (ECDSA P-256) on demand, with the names a test gives, every file PEM; built from
the same openssl steps as :func:`make_pki`.  Nothing is cached: each
call makes a new CA, so no certificate or key can be built into a test.
"""
from __future__ import annotations
from dataclasses import dataclass
from pathlib import Path
import ipaddress
import subprocess


SERVER_NAMES = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
CLIENT_EXT = "extendedKeyUsage=clientAuth\n"
CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
CA_CONFIG = """\
[ ca ]
default_ca = kiln_test
[ kiln_test ]
database = {dir}/index.txt
new_certs_dir = {dir}/issued
serial = {dir}/serial
default_md = sha256
policy = any_name
unique_subject = no
[ any_name ]
commonName = supplied
"""


@dataclass(frozen=True)
class Pki:
    """Paths of the test PKI (see the module docstring)."""

    dir: Path

    def cert(self, name: str) -> str:
        return str(self.dir / f"{name}.pem")

    def key(self, name: str) -> str:
        return str(self.dir / f"{name}.key")

    def chain(self, name: str) -> str:
        """Leaf + intermediate: what a server under ``inter`` presents."""
        return str(self.dir / f"{name}-chain.pem")

    def der(self, name: str) -> bytes:
        return (self.dir / f"{name}.der").read_bytes()

    def key_der(self, name: str) -> bytes:
        return (self.dir / f"{name}.key.der").read_bytes()

    def pem(self, name: str) -> bytes:
        return (self.dir / f"{name}.pem").read_bytes()

    def key_pem(self, name: str) -> bytes:
        return (self.dir / f"{name}.key").read_bytes()

    @property
    def ca(self) -> str:
        """The trusted root CA certificate (PEM path)."""
        return self.cert("root")


class PkiError(RuntimeError):
    """The openssl command failed (its output is in the message)."""


def _run(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise PkiError(f"openssl {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def _sign(d: Path, name: str, issuer: str, days: int, extfile: str) -> None:
    """``<name>.pem`` from ``<name>.csr``, signed by ``issuer`` with the extensions file."""
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
         "-CAcreateserial", "-out", f"{name}.pem", "-days", str(days), "-extfile", extfile,
         cwd=d)


def _key(d: Path, name: str, kind: str) -> None:
    algo = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"] if kind == "ec" else \
        ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    _run("genpkey", *algo, "-out", f"{name}.key", cwd=d)
    _run("pkey", "-in", f"{name}.key", "-outform", "DER", "-out", f"{name}.key.der", cwd=d)


def _der(d: Path, name: str) -> None:
    _run("x509", "-in", f"{name}.pem", "-outform", "DER", "-out", f"{name}.der", cwd=d)


def _ca(d: Path, name: str, subject: str, issuer: str | None, days: int = 60) -> None:
    _key(d, name, "ec")
    (d / "ca.ext").write_text(CA_EXT)
    if issuer is None:
        _run("req", "-x509", "-new", "-key", f"{name}.key", "-out", f"{name}.pem", "-days",
             str(days), "-subj", f"/CN={subject}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    else:
        _run("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj",
             f"/CN={subject}", cwd=d)
        _sign(d, name, issuer, days, "ca.ext")
    _der(d, name)


def _leaf(d: Path, name: str, kind: str, subject: str, issuer: str, ext: str,
          dates: tuple[str, str] | None = None) -> None:
    _key(d, name, kind)
    (d / f"{name}.ext").write_text(ext)
    _run("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={subject}",
         cwd=d)
    if dates is None:
        _sign(d, name, issuer, 30, f"{name}.ext")
    else:
        (d / "issued").mkdir(exist_ok=True)
        (d / "index.txt").touch()
        if not (d / "serial").exists():
            (d / "serial").write_text("1000\n")
        (d / "ca.cnf").write_text(CA_CONFIG.format(dir=d))
        _run("ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", f"{issuer}.pem",
             "-keyfile", f"{issuer}.key", "-in", f"{name}.csr", "-out", f"{name}.pem",
             "-startdate", dates[0], "-enddate", dates[1], "-extfile", f"{name}.ext", cwd=d)
    _der(d, name)
    if issuer == "inter":
        (d / f"{name}-chain.pem").write_bytes((d / f"{name}.pem").read_bytes() +
                                              (d / "inter.pem").read_bytes())


def make_pki(directory: str | Path) -> Pki:
    """Create the test PKI in ``directory`` (which must exist); return its :class:`Pki`."""
    d = Path(directory)
    _ca(d, "root", "Kiln Test Root CA", None)
    _ca(d, "inter", "Kiln Test Intermediate CA", "root")
    _ca(d, "stranger", "Unknown Test CA", None)
    _leaf(d, "server-ec", "ec", "localhost", "inter", SERVER_NAMES)
    _leaf(d, "server-rsa", "rsa", "localhost", "inter", SERVER_NAMES)
    _leaf(d, "expired-ec", "ec", "localhost", "inter", SERVER_NAMES,
          ("20200101000000Z", "20200201000000Z"))
    _leaf(d, "unknown-ec", "ec", "localhost", "stranger", SERVER_NAMES)
    _leaf(d, "client-ec", "ec", "kiln-client", "root", CLIENT_EXT)
    _leaf(d, "client-rsa", "rsa", "kiln-client-rsa", "root", CLIENT_EXT)
    return Pki(d)


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


class TestPki:
    """A CA in ``directory`` (created) that issues certificates; ``days`` of validity."""

    __test__ = False        # not a pytest test class

    def __init__(self, directory: Path, ca_name: str = "Kiln Test CA", days: int = 2) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.days = days
        self.ca = Issued(self.dir / "ca.pem", self.dir / "ca.key", ca_name)
        _ca(self.dir, "ca", ca_name, None, days)

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
        _key(self.dir, stem, "ec")
        _run("req", "-new", "-key", f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={name}",
             cwd=self.dir)
        _sign(self.dir, stem, "ca", self.days, ext.name)
        return Issued(self.dir / f"{stem}.pem", self.dir / f"{stem}.key", name)
