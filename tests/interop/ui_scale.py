"""How fast the web UI's lists render on a large broker (run by hand, not in
CI: it needs a raised fd limit and minutes). Declares QUEUES queues over the
API, opens CONNECTIONS idle AMQP connections (a minimal handshake over
asyncio sockets), then times in Chromium, from navigation until the first
rows are drawn, the queues page, the connections page, and a filtered
queues page. Prints one JSON line. With UI=rabbitmq the same is timed
against RabbitMQ's management UI (its login form and list tables), for
the side-by-side figure.

    ulimit -n 20000
    target/release/warren --management-port 15672 &
    WARREN_PORT_UNDER_TEST=5672 WARREN_MANAGEMENT_PORT_UNDER_TEST=15672 \\
        QUEUES=10000 CONNECTIONS=5000 python3 tests/interop/ui_scale.py
"""
import asyncio
import base64
import json
import os
import struct
import threading
import time
import urllib.request

from pika import frame, spec
from playwright.sync_api import expect, sync_playwright

AMQP = int(os.environ["WARREN_PORT_UNDER_TEST"])
API = int(os.environ["WARREN_MANAGEMENT_PORT_UNDER_TEST"])
QUEUES = int(os.environ.get("QUEUES", "10000"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "5000"))
BASE = f"http://127.0.0.1:{API}/"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
RABBITMQ = os.environ.get("UI") == "rabbitmq"
# The first row of each list: a link to a queue's or a connection's page,
# in both UIs (and on neither's overview).
QUEUE_ROW = 'a[href^="#/queues/%2F/"]'
CONNECTION_ROW = 'a[href^="#/connections/"]'
AUTH = "Basic " + base64.b64encode(b"guest:guest").decode()


def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{API}{path}", method=method)
    req.add_header("Authorization", AUTH)
    data = json.dumps(body).encode() if body is not None else None
    if data:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, data, timeout=60) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


async def read_frame(reader):
    head = await reader.readexactly(7)
    size = struct.unpack(">I", head[3:7])[0]
    await reader.readexactly(size + 1)


async def open_connection(held):
    reader, writer = await asyncio.open_connection("127.0.0.1", AMQP)
    writer.write(b"AMQP\x00\x00\x09\x01")
    await read_frame(reader)  # connection.start
    start_ok = spec.Connection.StartOk(
        client_properties={"product": "ui_scale"}, mechanism="PLAIN", response="\0guest\0guest", locale="en_US")
    writer.write(frame.Method(0, start_ok).marshal())
    await read_frame(reader)  # connection.tune
    writer.write(frame.Method(0, spec.Connection.TuneOk(channel_max=16, frame_max=131072, heartbeat=0)).marshal())
    writer.write(frame.Method(0, spec.Connection.Open(virtual_host="/")).marshal())
    await read_frame(reader)  # connection.open-ok
    held.append(writer)


async def hold_connections(n, ready, stop):
    held = []
    sem = asyncio.Semaphore(64)

    async def one():
        async with sem:
            await open_connection(held)

    await asyncio.gather(*(one() for _ in range(n)))
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.2)
    for w in held:
        w.close()


def first_render(page, hash_, selector):
    """Milliseconds from the route change until the first row is drawn,
    measured inside the page (Playwright's own waits poll too coarsely)."""
    page.goto(BASE + "#/")
    expect(page.locator("#main h1, main h1").first).to_contain_text("Overview")
    expect(page.locator(selector)).to_have_count(0)
    return round(page.evaluate("""([hash, selector]) => new Promise((done) => {
        const t0 = performance.now();
        location.hash = hash;
        const check = () => (document.querySelector(selector)
            ? done(performance.now() - t0) : requestAnimationFrame(check));
        check();
    })""", [hash_, selector]))


def main():
    existing = call("GET", "/api/overview")["object_totals"]["queues"]
    for i in range(existing, QUEUES):
        call("PUT", f"/api/queues/%2F/scale.q{i:05d}", {"durable": False})
    ready, stop = threading.Event(), threading.Event()
    holder = threading.Thread(target=lambda: asyncio.run(hold_connections(CONNECTIONS, ready, stop)), daemon=True)
    holder.start()
    ready.wait()
    totals = call("GET", "/api/overview")["object_totals"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(BASE)
        page.fill("input[name=username]", "guest")
        page.fill("input[name=password]", "guest")
        page.locator("input[type=submit], button[type=submit]").first.click()
        expect(page.locator("#main h1, main h1").first).to_contain_text("Overview")
        result = {"ui": "rabbitmq" if RABBITMQ else "warren", "queues": totals["queues"], "connections": totals["connections"]}
        for round_ in range(3):
            result[f"queues_page_ms_{round_}"] = first_render(page, "#/queues", QUEUE_ROW)
            result[f"connections_page_ms_{round_}"] = first_render(page, "#/connections", CONNECTION_ROW)
        if RABBITMQ:
            browser.close()
            stop.set()
            print(json.dumps(result))
            return
        shots = os.path.join(os.path.dirname(__file__), "..", "..", "target", "ui-screenshots")
        os.makedirs(shots, exist_ok=True)
        page.goto(BASE + "#/queues")
        page.fill("#filter", "q0999")
        expect(page.locator("#list tbody tr").first).to_contain_text("q0999")
        page.screenshot(path=os.path.join(shots, "queues_10000.png"))
        page.goto(BASE + "#/connections")
        expect(page.locator("#list tbody tr").first).to_be_visible()
        page.screenshot(path=os.path.join(shots, "connections_5000.png"))
        browser.close()
    stop.set()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
