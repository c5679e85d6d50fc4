from collections.abc import Buffer, Sequence
from kiln.hw.fdio import Device

CPHA: int
CPOL: int
CS_HIGH: int
LSB_FIRST: int
NO_CS: int
DEFAULT_BUFSIZ: int

class SPIDevice(Device):
    def __init__(self, path: str, mode: int = 0, bits: int = 8, speed_hz: int | None = None,
                 lsb_first: bool = False) -> None: ...
    def configure(self, mode: int | None = None, bits: int | None = None,
                  speed_hz: int | None = None, lsb_first: bool | None = None) -> None: ...
    @property
    def mode(self) -> int: ...
    @property
    def bits(self) -> int: ...
    @property
    def speed_hz(self) -> int: ...
    @property
    def lsb_first(self) -> bool: ...
    def transfer(self, tx: Buffer | None = None, rx: Buffer | None = None, *,
                 length: int | None = None, speed_hz: int = 0, delay_us: int = 0,
                 cs_change: bool = False) -> None: ...
    def transfers(self, items: Sequence[tuple], func: str = "transfers") -> None: ...
