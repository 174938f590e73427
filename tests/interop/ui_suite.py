"""The management web UI in a real browser: Debian's Chromium driven by
Playwright against the real `warren` binary. Logs in, reads the overview,
creates a queue with a TTL argument, publishes to it, browses (peeks) and
gets the message, purges, moves dead letters back, closes a pika client's
connection from the list and from its page, sets permissions, topic
permissions, limits and an operator policy, adds a user and logs in as that
user with fewer rights, and imports a definitions file. Each case saves a
screenshot under target/ui-screenshots/ (kept when it fails)."""
import base64
import json
import os
import tempfile
import traceback
import time
import urllib.request

import pika
from playwright.sync_api import expect, sync_playwright
from cases import failures, finish

AMQP = int(os.environ["WARREN_PORT_UNDER_TEST"])
API = int(os.environ["WARREN_MANAGEMENT_PORT_UNDER_TEST"])
BASE = f"http://127.0.0.1:{API}/"
SHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "target", "ui-screenshots")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


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


def pika_connection(name):
    return pika.BlockingConnection(
        pika.ConnectionParameters("127.0.0.1", AMQP, client_properties={"connection_name": name}))


def closed_by_broker(conn, reason):
    """Waits until pika hears `320 CONNECTION_FORCED` with `reason`."""
    deadline = time.time() + 30
    while True:
        try:
            conn.process_data_events(time_limit=0.2)
        except pika.exceptions.ConnectionClosedByBroker as e:
            assert e.reply_code == 320 and reason in e.reply_text, e
            return
        assert time.time() < deadline, "pika was not told"


def close_quietly(conn):
    if conn.is_open:
        try:
            conn.close()
        except pika.exceptions.AMQPError:
            pass


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
    page.fill("#publish-properties", "content_type = text/plain\npriority = 3")
    page.get_by_role("button", name="Publish message").click()
    expect(page.locator("#publish")).to_contain_text("Message published.")
    expect(page.locator("#queue-ready")).to_have_text("1")
    # Browse (Warren's peek) shows it and leaves it: not redelivered.
    page.get_by_role("button", name="Browse messages").click()
    expect(page.locator("#browse-messages")).to_contain_text("hello from the UI")
    expect(page.locator("#browse-messages")).to_contain_text("not redelivered")
    expect(page.locator("#browse-summary")).to_have_text("Messages 1 to 1 of 1 ready")
    expect(page.locator("#browse-messages")).to_contain_text('"content_type":"text/plain"')
    expect(page.locator("#browse-messages")).to_contain_text('"priority":3')
    page.get_by_role("button", name="Browse messages").click()
    status, q = call("GET", "/api/queues/%2F/ui.ttl")
    assert q["messages_ready"] == 1 and q["messages_unacknowledged"] == 0, q
    page.select_option("#get-ackmode", "ack_requeue_false")
    page.get_by_role("button", name="Get messages").click()
    expect(page.locator("#messages")).to_contain_text("hello from the UI")
    expect(page.locator("#messages")).to_contain_text("first delivery")
    expect(page.locator("#queue-ready")).to_have_text("0")
    page.fill("#publish-payload", "to be purged")
    page.get_by_role("button", name="Publish message").click()
    expect(page.locator("#queue-ready")).to_have_text("1")
    page.click("#purge")
    expect(page.locator("main")).to_contain_text("Queue purged.")
    expect(page.locator("#queue-ready")).to_have_text("0")


@case
def close_a_pika_connection(page):
    conn = pika_connection("ui-victim")
    try:
        login(page)
        page.click("nav >> text=Connections")
        row = page.locator("#list tr", has_text="pika")
        expect(row).to_have_count(1)
        page.once("dialog", lambda d: d.accept("closed by the UI test"))
        row.locator("text=Close").click()
        # The list refreshes every 5 s; the closed connection leaves it.
        expect(page.locator("#list tr", has_text="pika")).to_have_count(0, timeout=20000)
        closed_by_broker(conn, "closed by the UI test")
    finally:
        close_quietly(conn)


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
def move_dead_letters_back(page):
    call("PUT", "/api/exchanges/%2F/ui.jobs", {"type": "direct"})
    call("PUT", "/api/exchanges/%2F/ui.dlx", {"type": "fanout"})
    call("PUT", "/api/queues/%2F/ui.dead", {"durable": True})
    call("PUT", "/api/queues/%2F/ui.work", {"durable": True, "arguments": {"x-dead-letter-exchange": "ui.dlx"}})
    call("PUT", "/api/queues/%2F/ui.parked", {"durable": True})
    call("POST", "/api/bindings/%2F/e/ui.dlx/q/ui.dead", {"routing_key": ""})
    call("POST", "/api/bindings/%2F/e/ui.jobs/q/ui.work", {"routing_key": "build"})
    for i in range(3):
        call("POST", "/api/exchanges/%2F/ui.jobs/publish",
             {"routing_key": "build", "payload": f"job {i}", "payload_encoding": "string",
              "properties": {"delivery_mode": 2}})
    # The worker rejects them all: they are dead letters now.
    status, got = call("POST", "/api/queues/%2F/ui.work/get",
                       {"count": 3, "ackmode": "reject_requeue_false", "encoding": "auto"})
    assert status == 200 and len(got) == 3, got
    deadline = time.time() + 10
    while call("GET", "/api/queues/%2F/ui.dead")[1]["messages"] != 3:
        assert time.time() < deadline, "the dead letters did not arrive"
        time.sleep(0.1)
    login(page)
    page.goto(f"{BASE}#/queues/%2F/ui.dead")
    expect(page.locator("#queue-ready")).to_have_text("3")
    # Their x-death shows in the browse view.
    page.get_by_role("button", name="Browse messages").click()
    expect(page.locator("#browse-messages")).to_contain_text("x-death")
    page.select_option("#move-mode", "dead_letters")
    page.get_by_role("button", name="Move messages").click()
    expect(page.locator("#move-result")).to_have_text("Moved 3 messages.")
    expect(page.locator("#queue-ready")).to_have_text("0")
    status, work = call("GET", "/api/queues/%2F/ui.work")
    assert work["messages_ready"] == 3, work
    status, peeked = call("GET", "/api/queues/%2F/ui.work/messages?count=10")
    assert [m["payload"] for m in peeked["messages"]] == ["job 0", "job 1", "job 2"], peeked
    assert all(not m["redelivered"] for m in peeked["messages"]), peeked
    # And all of them on to another queue, from that queue's page.
    page.goto(f"{BASE}#/queues/%2F/ui.work")
    page.fill("#move-destination", "ui.parked")
    page.get_by_role("button", name="Move messages").click()
    expect(page.locator("#move-result")).to_have_text("Moved 3 messages.")
    assert call("GET", "/api/queues/%2F/ui.parked")[1]["messages_ready"] == 3
    # A destination that does not exist: the broker's reason, in the form.
    page.fill("#move-destination", "ui.nowhere")
    page.get_by_role("button", name="Move messages").click()
    expect(page.locator("#move [role=alert]")).to_contain_text("no queue 'ui.nowhere'")


@case
def a_connection_page_with_rates(page):
    conn = pika_connection("ui-watched")
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.queue_declare("ui.rates")
        login(page)
        page.click("nav >> text=Connections")
        page.locator("#list tr", has_text="pika").locator("a").click()
        expect(page.locator("main h1")).to_contain_text("Connection")
        expect(page.locator("#connection-facts")).to_contain_text("guest")
        expect(page.locator("#connection-facts")).to_contain_text("AMQP 0-9-1")
        expect(page.locator("#connection-channels")).to_contain_text("confirm")
        expect(page.locator("main svg.chart polyline").first).to_be_attached()
        # Its channel's page, and back.
        page.locator("#connection-channels a").first.click()
        expect(page.locator("#channel-facts")).to_contain_text("confirm")
        expect(page.locator("main svg.chart polyline").first).to_be_attached()
        page.locator("#channel-facts a").click()
        page.once("dialog", lambda d: d.accept("closed from its page"))
        page.click("#close-connection")
        expect(page).to_have_url(f"{BASE}#/connections")
        closed_by_broker(conn, "closed from its page")
    finally:
        close_quietly(conn)


@case
def permissions_limits_and_operator_policies(page):
    call("PUT", "/api/users/ui-limited", {"password": "pw", "tags": "management"})
    call("PUT", "/api/vhosts/ui-vhost", {})
    login(page)
    page.click("nav >> text=Users")
    page.fill("#filter", "ui-limited")
    page.click("#list >> text=ui-limited")
    expect(page.locator("main h1")).to_have_text("User ui-limited")
    expect(page.locator("#user-permissions")).to_contain_text("No permissions")
    page.fill("#perm-vhost", "ui-vhost")
    page.fill("#perm-write", "^ui\\.")
    page.get_by_role("button", name="Set permission", exact=True).click()
    expect(page.locator("#user-permissions")).to_contain_text("ui-vhost")
    status, perm = call("GET", "/api/permissions/ui-vhost/ui-limited")
    assert status == 200 and perm["write"] == "^ui\\." and perm["read"] == ".*", perm
    page.fill("#topic-vhost", "ui-vhost")
    page.fill("#topic-write", "^orders\\.")
    page.get_by_role("button", name="Set topic permission", exact=True).click()
    expect(page.locator("#user-topic-permissions")).to_contain_text("^orders\\.")
    page.select_option("#user-limit-name", "max-connections")
    page.fill("#user-limit-value", "5")
    page.get_by_role("button", name="Set limit", exact=True).click()
    expect(page.locator("#user-limit-list")).to_contain_text("max-connections")
    status, limits = call("GET", "/api/user-limits/ui-limited")
    assert limits == [{"user": "ui-limited", "value": {"max-connections": 5}}], limits
    # A refused value: the broker's own text.
    page.fill("#user-limit-value", "many")
    page.get_by_role("button", name="Set limit", exact=True).click()
    expect(page.locator("#user-limit [role=alert]")).to_contain_text("max-connections should be a number")
    # Tags change and the password is kept.
    page.fill("#update-tags", "management,policymaker")
    page.get_by_role("button", name="Update this user").click()
    expect(page.locator("#user-tags-now")).to_have_text("management, policymaker")
    assert call("GET", "/api/whoami", user="ui-limited", password="pw")[0] == 200
    page.click("nav >> text=Virtual hosts")
    page.click("#list >> text=ui-vhost")
    expect(page.locator("#vhost-permissions")).to_contain_text("ui-limited")
    page.select_option("#vhost-limit-name", "max-queues")
    page.fill("#vhost-limit-value", "100")
    page.get_by_role("button", name="Set limit", exact=True).click()
    expect(page.locator("#vhost-limit-list")).to_contain_text("max-queues")
    status, limits = call("GET", "/api/vhost-limits/ui-vhost")
    assert limits == [{"vhost": "ui-vhost", "value": {"max-queues": 100}}], limits
    page.click("nav >> text=Policies")
    page.fill("#opolicy-name", "ui-cap")
    page.fill("#opolicy-definition", "max-length = 1000")
    page.get_by_role("button", name="Add operator policy").click()
    expect(page.locator("#operator-policies")).to_contain_text("ui-cap")
    status, op = call("GET", "/api/operator-policies/%2F/ui-cap")
    assert status == 200 and op["definition"] == {"max-length": 1000}, op


@case
def a_narrow_screen(page):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page)
    page.goto(f"{BASE}#/queues")
    expect(page.locator("#list")).to_be_visible()
    # Nothing wider than the screen but the table, which scrolls in its box.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"


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
                a_user_with_fewer_rights, exchanges_bindings_and_policies, move_dead_letters_back,
                a_connection_page_with_rates, permissions_limits_and_operator_policies, a_narrow_screen,
                import_definitions]:
        run(browser)
    browser.close()

finish("UI")
