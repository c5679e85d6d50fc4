"""The Wi-Fi test lab, host side: the ``kiln.lab.wifi=`` kernel argument that tells the image's
lab hook (``images/lab/wifi-ap``, in images built with ``--lab wifi``) which access points to
start on the guest's simulated radio.

Each network becomes one BSS of hostapd (several BSSes share the lab radio).  For WPA2 the host
derives the PSK (PBKDF2-SHA1 of passphrase and SSID, IEEE 802.11i), so hostapd never parses the
passphrase and any SSID or passphrase bytes reach the station unchanged; the whole description
travels base64-encoded, so no character of it can break the kernel command line, and compact
(32-bit ARM kernels keep only 1024 bytes of command line).
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

SECURITIES = ("open", "wpa2", "wpa3")
PREFIX = "kiln.lab.wifi="
#: The lab radio's channel (2.4 GHz).
CHANNEL = 1


@dataclass(frozen=True)
class LabNetwork:
    """One access point of the lab: ``ssid`` (1-32 bytes), ``security`` (open, wpa2, wpa3) and
    ``password`` (WPA2: an 8-63 character passphrase; WPA3: the SAE password)."""

    ssid: str | bytes
    security: str = "wpa2"
    password: str = ""

    @property
    def ssid_bytes(self) -> bytes:
        return self.ssid.encode("utf-8") if isinstance(self.ssid, str) else bytes(self.ssid)

    def check(self) -> None:
        """Raise ``ValueError`` naming the problem (``--wifi-*`` option values)."""
        if not 1 <= len(self.ssid_bytes) <= 32:
            raise ValueError(f"Wi-Fi lab SSID {self.ssid!r} must be 1 to 32 bytes")
        if self.security not in SECURITIES:
            raise ValueError(f"Wi-Fi lab security {self.security!r}: choose one of "
                             f"{', '.join(SECURITIES)}")
        if self.security == "wpa2" and not 8 <= len(self.password) <= 63:
            raise ValueError("Wi-Fi lab WPA2 password must have 8 to 63 characters")
        if self.security == "wpa3" and (not self.password or any(
                c in self.password for c in "|\n\r") or not self.password.isprintable()):
            raise ValueError("Wi-Fi lab WPA3 password must be printable, without '|' or a "
                             "newline (hostapd reads it from a line of its configuration)")
        if self.security == "open" and self.password:
            raise ValueError("an open Wi-Fi lab network takes no password")

    def describe(self) -> list[str]:
        """``[ssid hex, security, secret]`` as the guest's lab hook reads it: the secret is the
        WPA2 PSK in hex, the WPA3 password, or ``""``."""
        self.check()
        secret = ""
        if self.security == "wpa2":
            secret = hashlib.pbkdf2_hmac("sha1", self.password.encode("utf-8"),
                                         self.ssid_bytes, 4096, 32).hex()
        elif self.security == "wpa3":
            secret = self.password
        return [self.ssid_bytes.hex(), self.security, secret]


def lab_arg(networks: list[LabNetwork]) -> str:
    """The ``kiln.lab.wifi=...`` kernel argument for ``networks`` (at least one); raises
    ``ValueError`` for a bad network or duplicate SSIDs."""
    if not networks:
        raise ValueError("the Wi-Fi lab needs at least one network")
    ssids = [n.ssid_bytes for n in networks]
    if len(set(ssids)) != len(ssids):
        raise ValueError("the Wi-Fi lab's networks need different SSIDs")
    doc = {"channel": CHANNEL, "networks": [n.describe() for n in networks]}
    return PREFIX + encode(doc)


def encode(doc: object) -> str:
    """``doc`` as compact JSON in base64: a kernel-argument value that holds any text."""
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode("utf-8")).decode()
