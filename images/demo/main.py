"""Kiln demo app: runs at boot when `kiln image build` is given no --app.

Prints the board and its network state, then opens a TCP socket on the board's address and
talks to itself through it (Kiln's Zerynth-style `networking.socket` when available).
Output goes to the serial console; the init prints "KILN: app exited with status N" after it.
"""
import sys

PORT = 8266


def read_env(path):
    """key=value lines of ``path`` as a dict ({} when the file is missing)."""
    try:
        with open(path) as f:
            return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        return {}


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
    try:
        from networking import socket
        api = "networking.socket (Kiln)"
    except ImportError as exc:  # Kiln's core missing from the image: still show the network
        import socket
        api = f"stdlib socket (networking unavailable: {exc})"
    net = read_env("/run/kiln/net.env")
    print(f"kiln-demo: network mode={net.get('mode', 'unknown')} "
          f"address={net.get('address') or 'none'} gateway={net.get('gateway') or 'none'} "
          f"dns={net.get('dns') or 'none'}")
    print(f"kiln-demo: socket API {api}")
    host = (net.get("address") or "127.0.0.1/8").split("/")[0]
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
