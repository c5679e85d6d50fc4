"""micropython-lib's ``umqtt.simple``, unmodified (``lib/umqtt/simple.py`` as ``mip`` installs
it), against Debian's Mosquitto in the lab (``MosquittoPeer`` in tests/system/test_programs.py),
plain MQTT: connect to the broker by its DNS name, subscribe, publish and receive its own
message, publish with QoS 1 to a topic the host subscribed to, and receive what the host
publishes once told (``ctx.event``).  The host checks what the broker and its subscriber saw."""
import hashlib

from umqtt.simple import MQTTClient

TIMEOUT = 120


def exchange(ctx, client, kind):
    """The exchange of both MQTT checks over a connected ``client`` (``kind``: ``plain`` or
    ``tls``, the last level of every topic); returns its facts."""
    token = ctx.args["test_mqtt_token"].encode()
    got = []
    client.set_callback(lambda topic, msg: got.append((topic, msg)))
    client.subscribe(b"kiln/echo/" + kind)
    client.subscribe(b"kiln/to-guest/" + kind, qos=1)
    own = b"echo " + kind + b" " + token
    client.publish(b"kiln/echo/" + kind, own)
    client.wait_msg()                          # its own message, back from the broker
    if got != [(b"kiln/echo/" + kind, own)]:
        raise AssertionError("own message came back as %r" % (got,))
    # QoS 1: publish() returns after the broker's PUBACK; the host's subscriber gets it.
    sent = token + b" " + bytes(range(256))
    client.publish(b"kiln/from-guest/" + kind, sent, qos=1)
    ctx.event("subscribed", topic="kiln/to-guest/" + kind.decode())
    client.wait_msg()                          # the host's message
    topic, msg = got[1]
    return {"echo": own.decode(), "sent_sha": hashlib.sha256(sent).hexdigest(),
            "sent_len": len(sent), "from_host_topic": topic.decode(),
            "from_host_sha": hashlib.sha256(msg).hexdigest(), "from_host_len": len(msg)}


def run(ctx):
    client = MQTTClient("kiln-guest", ctx.args["test_mqtt_host"],
                        port=int(ctx.args["test_mqtt_port"]), keepalive=60)
    session = client.connect(timeout=30)
    try:
        facts = exchange(ctx, client, b"plain")
    finally:
        client.disconnect()
    facts["session"] = session
    return facts
