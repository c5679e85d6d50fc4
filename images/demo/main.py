"""Kiln demo app: runs at boot when `kiln image build` is given no --app.

Prints the board and its network state, then opens a TCP socket on the board's address and
talks to itself through it with Kiln's Zerynth-style `networking.socket`.  The network was
brought up by the launcher (kiln.net= on the kernel command line) through `networking.eth`,
the same module the app asks for the state.
Output goes to the serial console; the init prints "KILN: app exited with status N" after it.
"""
import sys

PORT = 8266


def board_name():
    """The board name from /etc/kiln/board-name (written by the image builder)."""
    try:
        with open("/etc/kiln/board-name") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def main():
    # First line before any import: the console shows the app is alive as early as possible.
    print(f"kiln-demo: board {board_name()} on {sys.platform} "
          f"(Python {sys.version.split()[0]})")
    from networking import eth, socket
    dhcp, ip, mask, gateway, dns, mac = eth.info()
    print(f"kiln-demo: network {'dhcp' if dhcp else 'static'} address={ip or 'none'} "
          f"mask={mask or 'none'} gateway={gateway or 'none'} dns={dns or 'none'} mac={mac}")
    print("kiln-demo: socket API networking.socket (Kiln)")
    host = ip or "127.0.0.1"
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("0.0.0.0", PORT))
    server.listen(1)
    print(f"kiln-demo: listening on tcp {host}:{PORT}")
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.connect((host, PORT))
    conn, peer = server.accept()
    client.send(b"hello kiln")
    data = conn.recv(10)
    print(f"kiln-demo: received {bytes(data)!r} from {peer[0]}")
    for s in (conn, client, server):
        s.close()
    print("kiln-demo: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
