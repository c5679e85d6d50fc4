# Cable pulled and plugged back: is_connected() follows the link, and the app recovers.
from networking import eth
from networking import socket
from testargs import arg

eth.configure(dhcp=True)
eth.start()
print("LINK up", eth.info()[1])
state = True
while True:
    now = eth.is_connected()
    if now != state:
        state = now
        print("LINK", "up" if now else "down")
        if now:
            break
    sleep(50)
for attempt in range(100):           # the lease is renewed after the carrier returns
    try:
        s = socket.socket()
        s.settimeout(2000)
        s.connect((eth.resolve("now.zerynth.com"), int(arg("port"))))
        s.send("again\n")
        print("LINK recovered", eth.info()[1], s.recv(6))
        s.close()
        break
    except (ConnectionError, TimeoutError, ResolveError, OSError) as e:
        print("LINK retry", type(e).__name__)
        sleep(200)
