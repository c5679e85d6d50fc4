# Static configuration: no DHCP, addresses from the kernel command line.
from networking import eth
from networking import socket
from testargs import arg

eth.configure(dhcp=False, ip=arg("ip"), mask=arg("mask"), gateway=arg("gw"), dns=arg("dns"))
eth.start()
print("STATIC info", eth.info())
ip = eth.resolve("now.zerynth.com")
print("STATIC resolved", ip)
s = socket.socket()
s.connect((ip, int(arg("port"))))
s.send("ping\n")
print("STATIC reply", s.recv(5))
s.close()
eth.stop()
print("STATIC stopped connected=%s" % eth.is_connected())
