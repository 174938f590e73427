"""TLS against the real `warren` binary, with certificates made at test
time (target/debug/test-pki): pika over AMQPS with the server verified,
SASL EXTERNAL with a client certificate (CN=guest, as
ssl_cert_login_from = common_name), certificates refused (another CA's,
expired), warrenctl and prometheus_client over HTTPS, and a certificate
rotated by SIGHUP while a connection stays open."""
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request
import uuid

import pika
from cases import check, finish

PORT = int(os.environ["WARREN_AMQPS_PORT_UNDER_TEST"])
HTTPS = int(os.environ["WARREN_HTTPS_PORT_UNDER_TEST"])
PROMETHEUS_TLS = int(os.environ["WARREN_PROMETHEUS_TLS_PORT_UNDER_TEST"])
PKI = os.environ["WARREN_PKI_UNDER_TEST"]
PID = int(os.environ["WARREN_PID_UNDER_TEST"])
WARRENCTL = os.environ["WARRENCTL_UNDER_TEST"]
TEST_PKI = os.environ["TEST_PKI_UNDER_TEST"]


def pem(name):
    return os.path.join(PKI, name)


def context(client=None, cafile=None):
    ctx = ssl.create_default_context(cafile=cafile or pem("ca.pem"))
    if client:
        ctx.load_cert_chain(pem(f"{client}.pem"), pem(f"{client}.key"))
    return ctx


def connect(client=None, external=False, cafile=None):
    ctx = context(client, cafile)
    params = pika.ConnectionParameters(
        "127.0.0.1",
        PORT,
        ssl_options=pika.SSLOptions(ctx, "127.0.0.1"),
        credentials=pika.credentials.ExternalCredentials() if external else pika.PlainCredentials("guest", "guest"),
        connection_attempts=1,
    )
    return pika.BlockingConnection(params)


def round_trip(conn):
    ch = conn.channel()
    q = f"tls-{uuid.uuid4().hex[:8]}"
    ch.queue_declare(q, auto_delete=True)
    ch.basic_publish("", q, b"over tls")
    for _ in range(50):
        method, _props, body = ch.basic_get(q, auto_ack=True)
        if method:
            assert body == b"over tls", body
            ch.close()
            return
        time.sleep(0.05)
    raise AssertionError("message not delivered over TLS")


def server_verified_with_password():
    conn = connect()
    round_trip(conn)
    conn.close()


def external_with_client_certificate():
    conn = connect("guest", external=True)
    round_trip(conn)
    conn.close()


def refused(client):
    try:
        connect(client, external=True).close()
    except (pika.exceptions.AMQPConnectionError, ssl.SSLError, ConnectionError):
        return
    raise AssertionError(f"the {client} certificate was accepted")


def other_ca_refused():
    refused("stranger")


def expired_refused():
    refused("expired")


def warrenctl(*args):
    out = subprocess.run(
        [WARRENCTL, "--port", str(HTTPS), "--host", "127.0.0.1", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.returncode, out.stdout, out.stderr


def warrenctl_over_https():
    conn = connect("alice")
    try:
        code, out, err = warrenctl("--tls", "--ca-cert", pem("ca.pem"), "--format", "json", "list", "connections")
        assert code == 0, err
        listed = json.loads(out)
        ours = [c for c in listed if c.get("ssl")]
        assert ours, listed
        c = ours[0]
        assert c["ssl_protocol"] in ("tlsv1.3", "tlsv1.2"), c
        assert c["peer_cert_subject"] == "CN=alice,O=Warren tests", c
        assert c["peer_cert_issuer"] == "CN=Warren test CA", c
    finally:
        conn.close()
    # Without our CA the server's certificate is not trusted.
    code, _out, err = warrenctl("--tls", "list", "queues")
    assert code == 69, (code, err)


def prometheus_over_https():
    conn = connect()
    try:
        ctx = context()
        with urllib.request.urlopen(f"https://127.0.0.1:{PROMETHEUS_TLS}/metrics", context=ctx, timeout=30) as r:
            text = r.read().decode()
        line = [l for l in text.splitlines() if l.startswith("warren_tls_connections ")]
        assert line and int(line[0].split()[1]) >= 1, line
    finally:
        conn.close()


def der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def presented(cafile):
    import socket

    ctx = context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", PORT)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.getpeercert(binary_form=True)


def rotation_by_sighup():
    old = connect()
    round_trip(old)
    assert presented(pem("ca.pem")) == der(pem("server.pem"))
    # A new server certificate from a new CA, copied over the served files.
    fresh = tempfile.mkdtemp()
    subprocess.run([TEST_PKI, fresh, "Warren rotated test CA"], check=True)
    both = os.path.join(fresh, "both-cas.pem")
    with open(both, "w") as f:
        f.write(open(pem("ca.pem")).read() + open(os.path.join(fresh, "ca.pem")).read())
    shutil.copy(os.path.join(fresh, "server.pem"), pem("server.pem"))
    shutil.copy(os.path.join(fresh, "server.key"), pem("server.key"))
    os.kill(PID, signal.SIGHUP)
    want = der(os.path.join(fresh, "server.pem"))
    for _ in range(100):
        if presented(both) == want:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("SIGHUP did not put the new certificate in use")
    # The connection opened before keeps working; a new one works too.
    round_trip(old)
    old.close()
    new = connect(cafile=both)
    round_trip(new)
    new.close()


for case in [
    server_verified_with_password,
    external_with_client_certificate,
    other_ca_refused,
    expired_refused,
    warrenctl_over_https,
    prometheus_over_https,
    rotation_by_sighup,
]:
    check(case.__name__, case)

finish("TLS")
