# A name the DNS server does not know: resolve() raises ResolveError.
from networking import eth

eth.configure(dhcp=True)
eth.start()
try:
    print("RESOLVE unexpected", eth.resolve("no-such-host.invalid"))
except ResolveError as e:
    print("RESOLVE raised %s code=%s" % (type(e).__name__, e.args[0]))
print("RESOLVE known", eth.resolve("now.zerynth.com"))
