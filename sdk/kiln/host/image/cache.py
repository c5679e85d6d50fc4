"""Build input fingerprints: an unchanged image is reused instead of rebuilt."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable


def fingerprint(files: Iterable[Path], texts: Iterable[str] = (), stats: Iterable[Path] = ()) -> str:
    """SHA-256 over the contents of ``files``, the strings ``texts``, and (cheaply) the size and
    mtime of ``stats`` (large files such as apt's package indexes).  Missing files count as
    empty, so adding one changes the fingerprint."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path).encode() + b"\0")
        digest.update(Path(path).read_bytes() if Path(path).is_file() else b"<missing>")
    for text in texts:
        digest.update(b"\0text\0" + text.encode())
    for path in stats:
        st = Path(path).stat()
        digest.update(f"\0stat\0{path}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def manifest(files: Iterable[Path], texts: dict[str, str] | None = None,
             stats: Iterable[Path] = ()) -> dict[str, str]:
    """Per-input digests (``file:<path>``, ``text:<name>``, ``stat:<path>`` -> digest) whose
    :func:`manifest_key` identifies a build; kept next to the image to explain a rebuild."""
    out: dict[str, str] = {}
    for path in files:
        path = Path(path)
        data = path.read_bytes() if path.is_file() else b"<missing>"
        out[f"file:{path}"] = hashlib.sha256(data).hexdigest()
    for name, text in (texts or {}).items():
        out[f"text:{name}"] = hashlib.sha256(text.encode()).hexdigest()
    for path in stats:
        st = Path(path).stat()
        out[f"stat:{path}"] = f"{st.st_size}:{st.st_mtime_ns}"
    return out


def manifest_key(entries: dict[str, str]) -> str:
    """SHA-256 of a :func:`manifest` (order-independent)."""
    return hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()


def changed(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Inputs added, removed or changed between two manifests (sorted names)."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
