"""kiln.host.image.dtedit on a DTB compiled here with the Pi's node layout: the [sdcard] dt_*
edits of the rpi3b board file, and refusals naming the entry.  (The real DTBs get the same edits
in every SD image build: tests/system/test_sdcard_boards.py, test_pins_qemu.py.)"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kiln import boards
from kiln.host.image import dtedit

SOURCE = """/dts-v1/;
/ {
    #address-cells = <1>; #size-cells = <1>;
    soc {
        #address-cells = <1>; #size-cells = <1>;
        gpio@7e200000 { reg = <0x7e200000 0x100>;
            spi0_gpio7: spi0_gpio7 { brcm,pins = <7 8 9 10 11>; };
            pwm0_gpio18 { brcm,pins = <18>; };
            pwm1_gpio19 { brcm,pins = <19>; };
            pwm0_gpio40 { brcm,pins = <40>; phandle = <7>; };
            other: other { phandle = <5>; };
        };
        pwm@7e20c000 { reg = <0x7e20c000 0x28>; status = "okay"; pinctrl-names = "default";
                       pinctrl-0 = <7>; };
        spi@7e204000 { reg = <0x7e204000 0x200>; #address-cells = <1>; #size-cells = <0>;
                       status = "disabled"; };
        serial@7e201000 { reg = <0x7e201000 0x200>; status = "okay";
                          bluetooth { compatible = "brcm,bcm43438-bt"; }; };
    };
};
"""


def fdtget(dtb: Path, *args: str) -> str:
    return subprocess.run(["fdtget", str(dtb), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def dtb(tmp_path) -> Path:
    path = tmp_path / "board.dtb"
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(path), "-"],
                   input=SOURCE, text=True, check=True)
    return path


def test_board_edits_enable_spi_with_spidev_and_free_the_pl011(dtb):
    spec = boards.load("rpi3b").sdcard
    dtedit.apply_board(dtb, spec)
    spi = "/soc/spi@7e204000"
    assert fdtget(dtb, spi, "status") == "okay"
    assert fdtget(dtb, spi, "pinctrl-names") == "default"
    group = int(fdtget(dtb, "/soc/gpio@7e200000/spi0_gpio7", "phandle"))
    assert int(fdtget(dtb, spi, "pinctrl-0")) == group and group != 5   # a new, unique one
    for cs in (0, 1):
        node = f"{spi}/spidev@{cs}"
        assert fdtget(dtb, node, "compatible") == dtedit.SPIDEV_COMPATIBLE
        assert fdtget(dtb, node, "reg") == str(cs)
    assert "bluetooth" not in fdtget(dtb, "-l", "/soc/serial@7e201000").split()
    # The PWM moved from the audio pins (GPIO40/41) to the header's GPIO18/19: both groups.
    groups = [int(fdtget(dtb, f"/soc/gpio@7e200000/{g}", "phandle"))
              for g in ("pwm0_gpio18", "pwm1_gpio19")]
    assert [int(v) for v in fdtget(dtb, "/soc/pwm@7e20c000", "pinctrl-0").split()] == groups
    assert len(set(groups) | {5, 7, group}) == 5
    # CE0/CE1 as active-low GPIOs of the GPIO controller (cs-gpios = <&gpio 8 1>, <&gpio 7 1>),
    # the lines the board file names, the controller getting a phandle.
    gpio = int(fdtget(dtb, "/soc/gpio@7e200000", "phandle"))
    assert gpio not in (5, group)
    lines = [int(n) for n in spec.dt_cs_gpios[0].rpartition(":")[2].split(",")]
    assert [int(v) for v in fdtget(dtb, spi, "cs-gpios").split()] == \
        [v for line in lines for v in (gpio, line, dtedit.GPIO_ACTIVE_LOW)]


def test_a_node_the_dtb_lacks_is_named(dtb):
    with pytest.raises(dtedit.DtEditError, match="/soc/i2c@7e804000.*fix the board file"):
        dtedit.set_status(dtb, ["/soc/i2c@7e804000"], "okay")
    with pytest.raises(dtedit.DtEditError, match="spi0_gpio99"):
        dtedit.set_pinctrl(dtb, ["/soc/spi@7e204000=/soc/gpio@7e200000/spi0_gpio99"])
    with pytest.raises(dtedit.DtEditError, match="gpio@7e300000"):
        dtedit.set_cs_gpios(dtb, ["/soc/spi@7e204000=/soc/gpio@7e300000:8,7"])
