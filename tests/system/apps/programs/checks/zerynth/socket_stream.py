"""``streams.SocketStream`` over a Zerynth socket bound to the interface handle that
``eth.configure()`` returns (``socket.socket(ifc=ifc)``: SO_BINDTODEVICE), to the host's line
server (``ZerynthServersPeer`` in tests/system/test_programs.py, which answers a line
upper-cased): ``print(..., stream=)`` writes the line, ``readline()`` reads the answer.
``streams.serial()`` makes the console print's default stream first, as Zerynth v2 programs
begin.  The board's Ethernet is already up (the boot's ``kiln.net=dhcp`` is ``eth.configure`` +
``eth.start`` in the launcher), so this program takes the handle and does not start it again."""
import streams
from networking import eth
from networking import socket


def run(ctx):
    streams.serial()
    ifc = eth.configure(dhcp=True)
    host, port = ctx.args["test_lines"].split(":")
    s = socket.socket(ifc=ifc)
    s.connect((host, int(port)))
    stream = streams.SocketStream(s)
    n = random(0, 9)
    print("hello from the board", n, stream=stream)
    answer = stream.readline()                  # Zerynth's strings are bytes
    bound = s.getsockopt(SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0").decode()
    stream.close()
    return {"ifname": ifc.ifname, "bound": bound, "n": n, "eol": answer.endswith("\n"),
            "answer": bytes(answer).decode().rstrip("\n")}
