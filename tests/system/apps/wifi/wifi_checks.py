"""Guest side of the Wi-Fi system tests (kiln.app=wifi_checks.py): every Wi-Fi API against the
lab's access points, one step after another, each reported as a ``CHECK wifi-<step> k=v`` line.

``kiln.test_wifi=<base64 of JSON>`` names the lab: ``wpa2``/``wpa3`` ([ssid, password]), ``open``
(ssid), ``server`` ([ip, port]: a host-side TCP server answering each line with the line
reversed), ``http`` ([name, port]: a host-side HTTP server, by DNS name), ``hostapd`` (its
control socket, to stop and restart the access points).  Any unexpected error raises: the exit
status is then non-zero and the traceback is on the console.
"""
import binascii
import json
import sys
import threading
import time

from driver.wifi.wpa_ctrl import WpaCtrl


def test_args():
    for word in open("/proc/cmdline").read().split():
        if word.startswith("kiln.test_wifi="):
            return json.loads(binascii.a2b_base64(word.split("=", 1)[1]).decode("utf-8"))
    raise SystemExit("kiln.test_wifi= is missing")


def check(step, **facts):
    print("CHECK wifi-" + step + "".join(f" {k}={v}" for k, v in facts.items()), flush=True)


def ms_since(t0):
    return int((time.monotonic() - t0) * 1000)


def expect_error(step, exc_type, call):
    t0 = time.monotonic()
    try:
        call()
    except exc_type as exc:
        check(step, exc=type(exc).__name__, ms=ms_since(t0), msg=str(exc).encode().hex())
        return
    raise AssertionError(f"{step}: {exc_type.__name__} was not raised")


def line_exchange(sock_module, ip, port, payload, timeout):
    """Send one line to the host server and read its answer (the line reversed); ``timeout`` in
    the face's unit (ms for networking.socket, s for usocket)."""
    s = sock_module.socket()
    s.settimeout(timeout)
    s.connect((ip, port))
    s.send(payload + b"\n")
    answer = b""
    while len(answer) < len(payload):
        chunk = bytes(s.recv(len(payload) - len(answer)))
        if not chunk:
            break
        answer += chunk
    s.close()
    return answer


def wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def main():
    lab = test_args()
    ssid2, pw2 = lab["wpa2"]
    server_ip, server_port = lab["server"]
    http_name, http_port = lab["http"]

    # --- Zerynth v2: the board's default driver, scan, errors, link, info, unlink ----------
    from networking import socket as zsocket
    from wireless import wifi as v2
    from driver.wifi.your_preferred_net_driver import your_preferred_net_driver
    your_preferred_net_driver.init()
    records = v2.scan(15000)
    mine = [r for r in records if r[0] == ssid2]
    assert mine, f"the lab AP {ssid2!r} is not in the scan: {records!r}"
    ssid, sec, rssi, bssid = mine[0]
    check("v2scan", sec=sec, rssi_type=type(rssi).__name__, rssi=rssi,
          bssid_type=type(bssid).__name__, bssid_len=len(bssid), count=len(records))
    expect_error("badpass", v2.WifiBadPassword,
                 lambda: v2.link(ssid2, v2.WIFI_WPA2, "not the password"))
    expect_error("badssid", v2.WifiBadSSID,
                 lambda: v2.link("no such network", v2.WIFI_WPA2, "whatever-pass"))
    t0 = time.monotonic()
    v2.link(ssid2, v2.WIFI_WPA2, pw2)
    linked_ms = ms_since(t0)
    ip, mask, gw, dns, mac = v2.link_info()
    resolved = v2.gethostbyname(http_name)
    answer = line_exchange(zsocket, server_ip, server_port, b"v2-over-wifi", 10000)
    check("v2link", ms=linked_ms, ip=ip, mask=mask, gw=gw, dns=dns, mac_len=len(mac),
          linked=v2.is_linked(), resolved=resolved, answer=answer.decode(), rssi=v2.rssi())
    v2.unlink()
    check("v2unlink", linked=v2.is_linked())

    # --- Zerynth v3: positional configure, start, resolve, HTTP, AP loss and return --------
    from networking import wifi
    wifi.configure(ssid2, pw2)                 # positional, as real programs call it
    t0 = time.monotonic()
    wifi.start()
    started_ms = ms_since(t0)
    info = wifi.info()
    address = wifi.resolve(http_name)
    s = zsocket.socket()
    s.settimeout(10000)
    s.connect((address, http_port))
    s.send("GET / HTTP/1.0\r\nHost: %s\r\n\r\n" % http_name)
    status_line = bytes(s.recv(12)).decode()
    s.close()
    ap = wifi.ap_info()
    check("v3start", ms=started_ms, dhcp=info[0], ip=info[1], gw=info[3], dns=info[4],
          resolved=address, status=status_line.replace(" ", "_"), connected=wifi.is_connected(),
          ap_ssid=ap[0].encode().hex(), ap_channel=ap[1], ap_sec=ap[3], rssi=wifi.get_rssi())
    scanned = wifi.scan_and_get()
    check("v3scan", n=wifi.get_ap_num(), first_fields=len(scanned[0]),
          records=len(wifi.get_ap_records(2)))

    hostapd = WpaCtrl(lab["hostapd"][1], lab["hostapd"][0])
    hostapd.ok("DISABLE")
    lost = wait_until(lambda: not wifi.is_connected(), 20)
    hostapd.ok("ENABLE")
    back = wait_until(wifi.is_connected, 40)
    hostapd.close()
    answer = line_exchange(zsocket, server_ip, server_port, b"after-the-ap-returned", 10000)
    check("v3recover", lost=lost, back=back, answer=answer.decode())

    # stop() while a socket waits in recv: the socket fails at once, it does not hang.
    s = zsocket.socket()
    s.settimeout(60000)
    s.connect((server_ip, server_port))
    outcome = {}

    def blocked_recv():
        t = time.monotonic()
        try:
            s.recv(10)
            outcome["result"] = "data"
        except Exception as exc:
            outcome["result"] = type(exc).__name__
        outcome["ms"] = ms_since(t)

    reader = threading.Thread(target=blocked_recv)
    reader.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    wifi.stop()
    reader.join(20)
    s.close()
    check("v3stop", stop_ms=ms_since(t0), recv=outcome.get("result", "hung"),
          recv_ms=outcome.get("ms", -1), connected=wifi.is_connected())

    # --- WPA3-SAE and an open network --------------------------------------------------------
    ssid3, pw3 = lab["wpa3"]
    expect_error("wpa3badpass", wifi.WifiBadPassword,
                 lambda: (wifi.configure(ssid3, "wrong sae password", wifi.WPA3), wifi.start()))
    wifi.configure(ssid3, pw3, wifi.WPA3)
    t0 = time.monotonic()
    wifi.start()
    check("wpa3", ms=ms_since(t0), ip=wifi.info()[1], sec=wifi.ap_info()[3])
    wifi.stop()
    wifi.configure(lab["open"], "", wifi.OPEN)
    wifi.start()
    answer = line_exchange(zsocket, server_ip, server_port, b"open-network", 10000)
    check("open", ip=wifi.info()[1], sec=wifi.ap_info()[3], answer=answer.decode())
    wifi.stop()

    # --- MicroPython's network.WLAN over the same driver -------------------------------------
    import network
    import usocket
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.connect(ssid2, "wrong password!")
    wait_until(lambda: wlan.status() != network.STAT_CONNECTING, 30)
    wrong = wlan.status()
    wlan.connect(ssid2, pw2)
    wait_until(lambda: wlan.status() != network.STAT_CONNECTING, 30)
    got = wlan.status()
    answer = line_exchange(usocket, server_ip, server_port, b"micropython", 10.0)
    check("mpy", wrong=wrong, got=got, connected=wlan.isconnected(),
          ip=wlan.ifconfig()[0], mac_len=len(wlan.config("mac")), answer=answer.decode())
    wlan.disconnect()

    # --- A passphrase WPA cannot carry is refused with a message naming it -----------------
    expect_error("newline", ValueError, lambda: wifi.configure(ssid2, "pass\nword-123"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
