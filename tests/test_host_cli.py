"""The ``kiln`` command's own face: help in plain text, ``kiln boards`` from the board files."""
from __future__ import annotations

import re

import pytest

from kiln import boards
from kiln.host import cli

COMMANDS = [[], ["image"], ["image", "build"], ["run"], ["flash"], ["farm"], ["buildroot"],
            ["buildroot", "build"], ["boards"]]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "kiln")
def test_help_is_plain_text(words, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([*words, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kiln")
    markup = re.findall(r"``|:class:|:func:|:mod:|:meth:", out)
    assert not markup, f"reStructuredText markup in `kiln {' '.join(words)} --help`: {markup}"


def test_boards_lists_every_board_file(capsys):
    assert cli.main(["boards"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["BOARD", "ARCH", "IMAGE"]
    listed = {line.split()[0]: line.split() for line in lines[1:]}
    assert sorted(listed) == boards.names()
    for name, cells in listed.items():
        b = boards.load(name)
        assert cells[1:4] == [b.debian_arch, b.image_format, b.qemu.machine if b.qemu else "-"]


@pytest.mark.parametrize("name", boards.names())
def test_boards_name_shows_the_board_file_facts(name, capsys):
    assert cli.main(["boards", name]) == 0
    facts = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    b = boards.load(name)
    assert facts["board"].strip() == name
    assert facts["file"].strip() == str(b.source)
    assert facts["console"].strip() == b.console
    if b.sdcard:
        assert facts["dtbs"].strip() == ", ".join(b.sdcard.dtbs)


def test_boards_unknown_name_is_a_clear_error(capsys):
    assert cli.main(["boards", "no-such-board"]) == 2
    err = capsys.readouterr().err
    assert "unknown board 'no-such-board'" in err and "qemu-aarch64" in err
