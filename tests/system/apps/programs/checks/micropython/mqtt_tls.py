"""MQTT over TLS with a client certificate: micropython-lib's ``umqtt.simple``, unmodified, with
``ssl=`` a ``tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)`` (MicroPython's ``tls`` module) that
trusts the test CA (``load_verify_locations(cadata=...)``) and presents a client certificate
(``load_cert_chain`` with bytes), against Mosquitto's TLS listener in the lab
(``require_certificate true``; ``MosquittoPeer`` in tests/system/test_programs.py).  umqtt
passes its ``server`` as ``server_hostname``: the broker is reached by its DNS name in the lab,
which its certificate names.  Then the same exchange as the plain check, and two refusals that
show the checks are real: the broker by its IP address (not in its certificate: name mismatch)
and a context without the client certificate (the broker refuses it).

The PEM files come from the host over HTTP in the lab (``requests``), made by the test for
this run: a CA and keys that exist for one run only, nothing secret committed to the
repository, and an app whose content (hence the image) stays the same from run to run.
"""
import hashlib
import os

import requests
import socket
import tls
from umqtt.simple import MQTTClient

from checks.micropython.mqtt import exchange

TIMEOUT = 240


def fetch(ctx, name):
    """One PEM file of the run's test PKI, from the host."""
    url = "http://%s:%s/%s" % (ctx.args["test_mqtt_host"], ctx.args["test_pki_port"], name)
    response = requests.get(url, timeout=30)
    try:
        if response.status_code != 200:
            raise AssertionError("GET %s: HTTP %d" % (url, response.status_code))
        return response.content
    finally:
        response.close()


def kernel_tls_loaded():
    """Whether the kernel has TLS (its ``tls`` module loaded, or built in)."""
    return os.path.isdir("/sys/module/tls")


def refused(make_client):
    """``connect()`` of the client ``make_client()`` builds must fail; returns the exception's
    type and message (the socket closed either way)."""
    client = make_client()
    try:
        client.connect(timeout=30)
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, exc)
    finally:
        if client.sock is not None:
            client.sock.close()
    raise AssertionError("%s connected although it must not" % client.client_id)


def run(ctx):
    broker = ctx.args["test_mqtt_host"]
    port = int(ctx.args["test_mqtts_port"])
    ca, cert, key = (fetch(ctx, name) for name in ("ca.pem", "client.pem", "client.key"))

    context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca)
    context.load_cert_chain(cert, key)
    client = MQTTClient("kiln-guest-tls", broker, port=port, keepalive=60, ssl=context)
    session = client.connect(timeout=30)
    try:
        sock = client.sock
        suite, version = sock.cipher()
        send, receive = sock.ktls()
        facts = {"session": session, "cipher": suite, "version": version,
                 "ktls_send": send, "ktls_recv": receive, "tls_module": kernel_tls_loaded(),
                 "broker_cert_sha": hashlib.sha256(sock.getpeercert(True)).hexdigest()}
        facts.update(exchange(ctx, client, b"tls"))
    finally:
        client.disconnect()

    address = socket.getaddrinfo(broker, port)[0][-1][0]
    facts["by_address"] = refused(lambda: MQTTClient("kiln-guest-by-ip", address, port=port,
                                                     ssl=context))
    anonymous = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    anonymous.load_verify_locations(cadata=ca)
    facts["no_client_cert"] = refused(lambda: MQTTClient("kiln-guest-no-cert", broker,
                                                         port=port, ssl=anonymous))
    return facts
