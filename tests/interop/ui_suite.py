"""The management web UI in a real browser: Debian's Chromium driven by
Playwright against the real `warren` binary. Logs in, reads the overview,
creates a queue with a TTL argument, publishes to it, gets the message,
purges, closes a pika client's connection, adds a user and logs in as that
user with fewer rights, and imports a definitions file. Each case saves a
screenshot under target/ui-screenshots/ (kept when it fails)."""
import base64
import json
import os
import sys
import tempfile
import traceback
import time
import urllib.request

import pika
from playwright.sync_api import expect, sync_playwright

AMQP = int(os.environ["WARREN_PORT_UNDER_TEST"])
API = int(os.environ["WARREN_MANAGEMENT_PORT_UNDER_TEST"])
BASE = f"http://127.0.0.1:{API}/"
SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "target", "ui-screenshots")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
failures = []


def call(method, path, body=None, user="guest", password="guest"):
    req = urllib.request.Request(f"http://127.0.0.1:{API}{path}", method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data, timeout=30) as r:
            text = r.read().decode()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, None


def login(page, user="guest", password="guest"):
    page.goto(BASE)
    page.fill("#username", user)
    page.fill("#password", password)
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#who-name")).to_contain_text(user)


def case(fn):
    def run(browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        shot = os.path.join(SHOTS, f"{fn.__name__}.png")
        try:
            fn(page)
            page.screenshot(path=shot, full_page=True)
            print(f"ok   {fn.__name__} ({os.path.relpath(shot)})")
        except Exception as e:  # report every case, then fail the run
            page.screenshot(path=shot, full_page=True)
            failures.append(fn.__name__)
            print(f"FAIL {fn.__name__}: {e!r} (screenshot {os.path.relpath(shot)})")
            traceback.print_exc()
        finally:
            page.close()

    run.__name__ = fn.__name__
    return run


@case
def login_and_overview(page):
    page.goto(BASE)
    page.fill("#username", "guest")
    page.fill("#password", "wrong")
    page.get_by_role("button", name="Login").click()
    expect(page.locator("[role=alert]")).to_contain_text("Login failed")
    login(page)
    expect(page.locator("#totals")).to_contain_text("Queues")
    expect(page.locator("main")).to_contain_text("Listeners")
    expect(page.locator("main")).to_contain_text("amqp")
    # The overview refreshes itself; the chart has a line per series.
    expect(page.locator("svg.chart polyline").first).to_be_attached()


@case
def queue_with_ttl_publish_get_purge(page):
    login(page)
    page.click("nav >> text=Queues")
    page.fill("#queue-name", "ui.ttl")
    # The known arguments are offered as links that fill in their key.
    page.click("#add-queue >> text=x-message-ttl")
    expect(page.locator("#queue-arguments")).to_have_value("x-message-ttl = ")
    page.fill("#queue-arguments", "x-message-ttl = 600000")
    page.get_by_role("button", name="Add queue").click()
    expect(page.locator("#list")).to_contain_text("ui.ttl")
    status, q = call("GET", "/api/queues/%2F/ui.ttl")
    assert status == 200 and q["arguments"] == {"x-message-ttl": 600000}, (status, q)
    # A refused declare shows the broker's reason next to the form.
    page.fill("#queue-name", "ui.ttl")
    page.fill("#queue-arguments", "x-message-ttl = 5")
    page.get_by_role("button", name="Add queue").click()
    expect(page.locator("#add-queue [role=alert]")).to_contain_text("inequivalent arg")
    page.click("#list >> text=ui.ttl")
    expect(page).to_have_url(f"{BASE}#/queues/%2F/ui.ttl")
    page.fill("#publish-payload", "hello from the UI")
    page.get_by_role("button", name="Publish message").click()
    expect(page.locator("#publish")).to_contain_text("Message published.")
    expect(page.locator("#queue-ready")).to_have_text("1")
    page.select_option("#get-ackmode", "ack_requeue_false")
    page.get_by_role("button", name="Get messages").click()
    expect(page.locator("#messages")).to_contain_text("hello from the UI")
    expect(page.locator("#queue-ready")).to_have_text("0")
    page.fill("#publish-payload", "to be purged")
    page.get_by_role("button", name="Publish message").click()
    expect(page.locator("#queue-ready")).to_have_text("1")
    page.click("#purge")
    expect(page.locator("main")).to_contain_text("Queue purged.")
    expect(page.locator("#queue-ready")).to_have_text("0")


@case
def close_a_pika_connection(page):
    params = pika.ConnectionParameters(
        "127.0.0.1", AMQP, client_properties={"connection_name": "ui-victim"}
    )
    conn = pika.BlockingConnection(params)
    try:
        login(page)
        page.click("nav >> text=Connections")
        row = page.locator("#list tr", has_text="pika")
        expect(row).to_have_count(1)
        page.once("dialog", lambda d: d.accept("closed by the UI test"))
        row.locator("text=Close").click()
        # The list refreshes every 5 s; the closed connection leaves it.
        expect(page.locator("#list tr", has_text="pika")).to_have_count(0, timeout=20000)
        deadline = time.time() + 30
        while True:
            try:
                conn.process_data_events(time_limit=0.2)
            except pika.exceptions.ConnectionClosedByBroker as e:
                assert e.reply_code == 320 and "closed by the UI test" in e.reply_text, e
                break
            assert time.time() < deadline, "pika was not told"
    finally:
        if conn.is_open:
            try:
                conn.close()
            except pika.exceptions.AMQPError:
                pass


@case
def a_user_with_fewer_rights(page):
    login(page)
    page.click("nav >> text=Users")
    page.fill("#user-name", "ui-monitor")
    page.fill("#user-password", "monitor-pw")
    page.fill("#user-tags", "monitoring")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("#list")).to_contain_text("ui-monitor")
    page.click("#logout")
    expect(page.locator("#username")).to_be_visible()
    login(page, "ui-monitor", "monitor-pw")
    expect(page.locator("#totals")).to_contain_text("Queues")
    expect(page.locator("nav >> text=Users")).to_be_hidden()
    expect(page.locator("main")).to_contain_text("need the administrator tag")


@case
def exchanges_bindings_and_policies(page):
    call("PUT", "/api/queues/%2F/ui.bound", {"durable": False})
    login(page)
    page.click("nav >> text=Exchanges")
    page.fill("#exchange-name", "ui.x")
    page.select_option("#exchange-type", "topic")
    page.get_by_role("button", name="Add exchange").click()
    page.click("#list >> text=ui.x")
    expect(page.locator("main h1")).to_have_text("Exchange ui.x")
    page.fill("#binding-destination", "ui.bound")
    page.fill("#binding-routing-key", "orders.#")
    page.get_by_role("button", name="Add binding from this exchange").click()
    expect(page.locator("#bindings")).to_contain_text("orders.#")
    status, bindings = call("GET", "/api/bindings/%2F/e/ui.x/q/ui.bound")
    assert status == 200 and [b["routing_key"] for b in bindings] == ["orders.#"], bindings
    # A binding to a queue that does not exist: the broker's reason, in the form.
    page.fill("#binding-destination", "no.such.queue")
    page.get_by_role("button", name="Add binding from this exchange").click()
    expect(page.locator("#add-binding [role=alert]")).to_contain_text("no.such.queue")
    page.get_by_role("button", name="Unbind").click()
    expect(page.locator("#bindings")).to_contain_text("No bindings")
    status, bindings = call("GET", "/api/bindings/%2F/e/ui.x/q/ui.bound")
    assert bindings == [], bindings
    page.click("nav >> text=Policies")
    page.fill("#policy-name", "ui-ttl")
    page.fill("#policy-pattern", "^ui\\.")
    page.fill("#policy-definition", "message-ttl = 60000")
    page.get_by_role("button", name="Add policy").click()
    expect(page.locator("#list")).to_contain_text("ui-ttl")
    status, policy = call("GET", "/api/policies/%2F/ui-ttl")
    assert status == 200 and policy["definition"] == {"message-ttl": 60000}, policy
    page.once("dialog", lambda d: d.accept())
    page.locator("#list tr", has_text="ui-ttl").get_by_role("button", name="Delete").click()
    expect(page.locator("#list")).not_to_contain_text("ui-ttl")
    assert call("GET", "/api/policies/%2F/ui-ttl")[0] == 404


@case
def import_definitions(page):
    login(page)
    defs = {
        "queues": [{"name": "ui.imported", "vhost": "/", "durable": True, "auto_delete": False, "arguments": {}}],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(defs, f)
    page.set_input_files("#definitions-file", f.name)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("main")).to_contain_text("Definitions imported")
    status, q = call("GET", "/api/queues/%2F/ui.imported")
    assert status == 200 and q["durable"], (status, q)
    # A file that is not JSON is refused next to the form.
    with open(f.name, "w") as bad:
        bad.write("{not json")
    page.set_input_files("#definitions-file", f.name)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("[role=alert]").last).not_to_be_empty()


os.makedirs(SHOTS, exist_ok=True)
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
    for run in [login_and_overview, queue_with_ttl_publish_get_purge, close_a_pika_connection,
                a_user_with_fewer_rights, exchanges_bindings_and_policies, import_definitions]:
        run(browser)
    browser.close()

if failures:
    print(f"{len(failures)} UI case(s) failed: {failures}")
    sys.exit(1)
print("UI suite passed")
