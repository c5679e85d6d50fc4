"""Board definitions: the shipped files load, and every schema violation is named."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kiln import boards

SHIPPED = Path(__file__).resolve().parents[1] / "board_configs"


def shipped(name: str) -> dict:
    return tomllib.loads((SHIPPED / f"{name}.toml").read_text())


def write(tmp_path: Path, name: str, data: dict) -> Path:
    def fmt(v):
        if isinstance(v, str):
            return '"' + v.replace('"', '\\"') + '"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(fmt(i) for i in v) + "]"
        if isinstance(v, dict):           # inline table ([gpio] chips, numbered)
            return "{" + ", ".join(f"{fmt(k)} = {fmt(i)}" for k, i in v.items()) + "}"
        return str(v)

    def block(table, keys):
        if isinstance(keys, list):        # an array of tables ([[i2c]] ...)
            return "".join(block(f"[{table}]", k) for k in keys)
        return f"[{table}]\n" + "".join(f"{k} = {fmt(v)}\n" for k, v in keys.items()) + "\n"
    text = "".join(block(table, keys) for table, keys in data.items())
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_names_lists_the_shipped_boards():
    assert {"qemu-aarch64", "qemu-arm"} <= set(boards.names())
    assert boards.names() == sorted(boards.names())


@pytest.mark.parametrize("name,arch,triplet,machine", [
    ("qemu-aarch64", "arm64", "aarch64-linux-gnu", "cortex-a53"),
    ("qemu-arm", "armhf", "arm-linux-gnueabihf", "cortex-a15"),
])
def test_shipped_boards_load_with_their_facts(name, arch, triplet, machine):
    board = boards.load(name)
    assert board.name == name
    assert board.debian_arch == arch and board.triplet == triplet
    assert board.qemu.cpu == machine and board.qemu.machine == "virt"
    assert board.cross_cc == f"{triplet}-gcc"
    assert "virtio_net" in board.kernel_modules
    assert f"console={board.console}" in board.cmdline
    assert "linux,dummy-virt" in board.compatible
    assert board.image_format == "initramfs"
    assert board.toml_text() == (SHIPPED / f"{name}.toml").read_text()


def test_board_is_frozen():
    board = boards.load("qemu-aarch64")
    with pytest.raises(AttributeError):
        board.name = "other"  # type: ignore[misc]


def test_nic_args_substitute_the_netdev_id():
    nic = boards.load("qemu-aarch64").qemu.nic("net7")
    assert "virtio-net-device,netdev=net7" in nic
    assert not any("{netdev}" in a for a in nic)


def test_unknown_board_names_the_known_ones():
    with pytest.raises(boards.BoardError) as err:
        boards.load("no-such-board")
    assert "no-such-board" in str(err.value) and "qemu-aarch64" in str(err.value)


def test_env_directory_is_searched_first(tmp_path, monkeypatch):
    data = shipped("qemu-aarch64")
    data["board"]["name"] = "my-board"
    data["qemu"]["memory_mb"] = 256
    write(tmp_path, "my-board", data)
    monkeypatch.setenv("KILN_BOARD_CONFIGS", str(tmp_path))
    assert "my-board" in boards.names()
    assert boards.load("my-board").qemu.memory_mb == 256


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d["qemu"].pop("cpu"), "[qemu] cpu is missing"),
    (lambda d: d["qemu"].__setitem__("cpus", 2), "[qemu] cpus is not a known key"),
    (lambda d: d["qemu"].__setitem__("memory_mb", "512"), "[qemu] memory_mb must be int"),
    (lambda d: d["qemu"].__setitem__("memory_mb", 16), "[qemu] memory_mb is 16"),
    (lambda d: d["kernel"].__setitem__("modules", ["virtio_net", 3]),
     "[kernel] modules must be a list of non-empty strings"),
    (lambda d: d["kernel"].__setitem__("cmdline", "quiet"), "must contain console=ttyAMA0"),
    (lambda d: d["image"].__setitem__("format", "iso"), "[image] format is 'iso'"),
    (lambda d: d["image"].__setitem__("compression", "lz4"), "[image] compression is 'lz4'"),
    (lambda d: d["qemu"].__setitem__("nic_args", ["-nic", "user"]), "must contain '{netdev}'"),
    (lambda d: d.pop("cross"), "missing table [cross]"),
    (lambda d: d.__setitem__("extra", {"a": "b"}), "unknown table [extra]"),
    (lambda d: d["board"].__setitem__("name", "other"), "but the file is named"),
    (lambda d: d["debian"].__setitem__("arch", " "), "[debian] arch must not be empty"),
    (lambda d: d["qemu"].__setitem__("wires", ["/machine/a/out[0] /machine/b/in[0]"]),
     "[qemu] wires has '/machine/a/out[0] /machine/b/in[0]'"),
    (lambda d: d["qemu"].__setitem__("wires", ["gpio/out[0] -> /machine/b/in[0]"]),
     "each wire is '/machine/<object>/<output link> -> /machine/<input>'"),
])
def test_schema_violations_are_named(tmp_path, mutate, message):
    data = shipped("qemu-aarch64")
    mutate(data)
    path = write(tmp_path, "qemu-aarch64", data)
    with pytest.raises(boards.BoardError) as err:
        boards.load_file(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_invalid_toml_is_reported(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[board\nname=")
    with pytest.raises(boards.BoardError, match="cannot read board file"):
        boards.load_file(path)


def test_image_copy_of_a_board_file_loads_under_another_name(tmp_path):
    copy = tmp_path / "board.toml"
    copy.write_text((SHIPPED / "qemu-arm.toml").read_text())
    with pytest.raises(boards.BoardError, match="but the file is named board.toml"):
        boards.load_file(copy)
    assert boards.load_file(copy, named_after_board=False).name == "qemu-arm"


@pytest.mark.parametrize("entry", ["/soc/spi=/soc/gpio", "/soc/spi=/soc/gpio:8,x",
                                   "soc/spi=/soc/gpio:8", "/soc/spi:8,7"])
def test_sdcard_cs_gpios_entries_are_checked(tmp_path, entry):
    data = shipped("rpi3b")
    data["sdcard"]["dt_cs_gpios"] = [entry]
    path = write(tmp_path, "rpi3b", data)
    with pytest.raises(boards.BoardError, match=r"\[sdcard\] dt_cs_gpios entry .* is not "
                                                r"/spi-node=/gpio-node:LINE,LINE"):
        boards.load_file(path)


def test_qemu_wires_become_qom_set_commands():
    """rpi3b's flash chip select: the GPIO controller's output link 8 set to the flash's CS."""
    [(execute, args)] = boards.load("rpi3b").qemu.wire_commands()
    assert execute == "qom-set"
    assert args == {"path": "/machine/soc/peripherals/gpio", "property": "unnamed-gpio-out[8]",
                    "value": "/machine/peripheral/flash/ssi-gpio-cs[0]"}
    assert boards.load("qemu-aarch64").qemu.wire_commands() == []
