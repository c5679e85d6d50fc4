"""Whether an image gets the recipe's ``[tls]`` part, and why (printed by the build).

TLS costs an image libssl/libcrypto, the CA bundle and Kiln's TLS module, so only images that
need it carry it.  The recipe says what asks for it (``[tls] app_imports``: ``ssl``, ``tls``,
``ussl``; ``[tls] app_names``: ``IPPROTO_SEC``); the app's code is scanned for them, and
``kiln image build --with tls`` / ``--without tls`` decide explicitly.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from kiln.host.image.recipe import TlsPart

#: The ``kiln image build`` options that decide explicitly (named in messages).
WITH_FLAG = "--with tls"
WITHOUT_FLAG = "--without tls"


@dataclass(frozen=True)
class TlsDecision:
    """``on``: the image carries TLS; ``reason``: why, one line for the build output."""

    on: bool
    reason: str


def uses(tls: TlsPart, app_src: list[tuple[Path, str]]) -> list[str]:
    """Where the app's code asks for TLS: ``"imports 'ssl' (main.py:3)"`` /
    ``"uses IPPROTO_SEC (main.py:9)"`` for each use, in file and line order.  ``app_src`` is
    ``(source, name under /app)`` as :func:`kiln.host.image.stage.app_files` returns it;
    a file that is not valid Python raises ``SyntaxError`` naming it."""
    imports, names = set(tls.app_imports), set(tls.app_names)
    found = []
    for src, name in app_src:
        try:
            tree = ast.parse(src.read_text(errors="replace"), str(src))
        except SyntaxError as exc:
            raise SyntaxError(f"{src}: {exc}") from None
        hits = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                hits += [(node.lineno, f"imports {a.name!r}") for a in node.names
                         if a.name.split(".")[0] in imports]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in imports:
                    hits.append((node.lineno, f"imports {node.module!r}"))
                hits += [(node.lineno, f"uses {a.name}") for a in node.names if a.name in names]
            elif isinstance(node, ast.Attribute) and node.attr in names:
                hits.append((node.lineno, f"uses {node.attr}"))
            elif isinstance(node, ast.Name) and node.id in names:
                hits.append((node.lineno, f"uses {node.id}"))
        found += [f"{what} ({name}:{line})" for line, what in sorted(set(hits))]
    return found


def decide(tls: TlsPart, app_src: list[tuple[Path, str]], explicit: bool | None) -> TlsDecision:
    """Whether the image of the app ``app_src`` carries TLS: ``explicit`` (``--with tls`` /
    ``--without tls``) wins; otherwise the app's use of TLS (:func:`uses`) decides."""
    found = uses(tls, app_src)
    first = found[0] if found else ""
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    if explicit is True:
        return TlsDecision(True, f"{WITH_FLAG}" + (f"; the app {first}{more}" if found else ""))
    if explicit is False:
        if found:
            return TlsDecision(False, f"{WITHOUT_FLAG}, although the app {first}{more}: that "
                                      f"import raises ImportError in this image")
        return TlsDecision(False, WITHOUT_FLAG)
    if found:
        return TlsDecision(True, f"the app {first}{more}")
    return TlsDecision(False, f"the app imports none of {', '.join(tls.app_imports)} and uses "
                              f"none of {', '.join(tls.app_names)}; {WITH_FLAG} adds it")
