from typing import NamedTuple, Sequence
from kiln.hw.fdio import Device

class EdgeEvent(NamedTuple):
    offset: int
    rising: bool
    timestamp_ns: int
    seqno: int
    line_seqno: int

class LineInfo(NamedTuple):
    offset: int
    name: str
    consumer: str
    used: bool
    direction: str
    active_low: bool
    bias: str
    drive: str
    edge: str
    debounce_us: int

DIRECTIONS: tuple[str, ...]
BIASES: tuple[str, ...]
DRIVES: tuple[str, ...]
EDGES: tuple[str, ...]
MAX_LINES: int

class Chip(Device):
    name: str
    label: str
    lines: int
    def __init__(self, path: str) -> None: ...
    def line_info(self, offset: int) -> LineInfo: ...
    def request(self, offsets: Sequence[int], consumer: str = "kiln", *, direction: str = "input",
                bias: str = "as-is", drive: str = "push-pull", active_low: bool = False,
                edge: str = "none", debounce_us: int = 0, values: Sequence[int] | None = None,
                event_buffer_size: int = 0) -> LineRequest: ...

class LineRequest(Device):
    offsets: tuple[int, ...]
    chip: str
    def get_values(self) -> list[int]: ...
    def get_value(self, offset: int) -> int: ...
    def set_value(self, offset: int, value: int) -> None: ...
    def set_values(self, values: Sequence[int]) -> None: ...
    def reconfigure(self, *, direction: str = "input", bias: str = "as-is",
                    drive: str = "push-pull", active_low: bool = False, edge: str = "none",
                    debounce_us: int = 0, values: Sequence[int] | None = None) -> None: ...
    def read_edge_events(self, timeout: float | None = None) -> list[EdgeEvent]: ...
