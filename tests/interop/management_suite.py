"""Operators' tools against Warren: RabbitMQ's own rabbitmqadmin (v1) runs
list / declare / publish / get / export, operator policies and vhost limits
unchanged, and the Python
prometheus_client parser reads /metrics and /metrics/per-object."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families
from cases import check, finish

API_PORT = int(os.environ["WARREN_MANAGEMENT_PORT_UNDER_TEST"])
METRICS_PORT = int(os.environ["WARREN_PROMETHEUS_PORT_UNDER_TEST"])
RABBITMQADMIN = os.environ["RABBITMQADMIN"]


def admin(*args):
    cmd = [sys.executable, RABBITMQADMIN, "-H", "127.0.0.1", "-P", str(API_PORT), "-u", "guest", "-p", "guest", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {out.returncode}: {out.stdout}{out.stderr}")
    return out.stdout


def rabbitmqadmin_round_trip():
    q = f"admin-{uuid.uuid4().hex[:8]}"
    assert "queue declared" in admin("declare", "queue", f"name={q}", "durable=true")
    assert "Message published" in admin("publish", f"routing_key={q}", "payload=hello from rabbitmqadmin")
    assert "NOT routed" not in admin("publish", f"routing_key={q}", "payload=second")
    listed = json.loads(admin("-f", "raw_json", "list", "queues"))
    mine = [x for x in listed if x["name"] == q]
    assert mine and mine[0]["messages"] == 2, listed
    table = admin("list", "queues")
    assert q in table, table
    got = json.loads(admin("-f", "raw_json", "get", f"queue={q}", "count=2"))
    assert [m["payload"] for m in got] == ["hello from rabbitmqadmin", "second"], got
    assert got[0]["message_count"] == 1, got
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "defs.json")
        assert "Exported definitions" in admin("export", path)
        with open(path) as f:
            defs = json.load(f)
    assert any(x["name"] == q and x["durable"] for x in defs["queues"]), defs["queues"]
    assert any(u["name"] == "guest" and u["hashing_algorithm"] == "rabbit_password_hashing_sha256" for u in defs["users"])
    assert "queue deleted" in admin("delete", "queue", f"name={q}")


def rabbitmqadmin_operator_policies_and_limits():
    # An operator policy bounds a queue's length; a vhost limit is listed.
    q = f"capped-{uuid.uuid4().hex[:8]}"
    assert "operator_policy declared" in admin(
        "declare", "operator_policy", "name=cap", f"pattern=^{q}$", 'definition={"max-length":2}', "apply-to=queues")
    assert any(p["name"] == "cap" for p in json.loads(admin("-f", "raw_json", "list", "operator_policies")))
    admin("declare", "queue", f"name={q}")
    for i in range(4):
        admin("publish", f"routing_key={q}", f"payload=m{i}")
    queue = [x for x in json.loads(admin("-f", "raw_json", "list", "queues")) if x["name"] == q][0]
    assert queue["messages"] == 2 and queue["operator_policy"] == "cap", queue
    assert "vhost_limit declared" in admin("declare", "vhost_limit", "vhost=/", "name=max-queues", "value=1000")
    limits = json.loads(admin("-f", "raw_json", "list", "vhost_limits"))
    assert limits == [{"vhost": "/", "value": {"max-queues": 1000}}], limits
    admin("delete", "vhost_limit", "vhost=/", "name=max-queues")
    admin("delete", "operator_policy", "name=cap")
    admin("delete", "queue", f"name={q}")


def rabbitmqadmin_runtime_parameters():
    # A shovel definition is stored and listed as RabbitMQ lists it (nothing
    # runs it yet); vhost limits show up as the vhost-limits parameter.
    value = {"src-uri": "amqp://", "src-queue": "in", "dest-uri": "amqp://remote", "dest-queue": "out"}
    assert "parameter declared" in admin(
        "declare", "parameter", "component=shovel", "name=move-it", "value=" + json.dumps(value))
    admin("declare", "vhost_limit", "vhost=/", "name=max-connections", "value=100")
    listed = json.loads(admin("-f", "raw_json", "list", "parameters"))
    by_name = {(p["component"], p["name"]): p for p in listed}
    assert by_name[("shovel", "move-it")]["value"] == value, listed
    assert by_name[("vhost-limits", "limits")]["value"] == {"max-connections": 100}, listed
    assert "parameter deleted" in admin("delete", "parameter", "component=shovel", "name=move-it")
    admin("delete", "vhost_limit", "vhost=/", "name=max-connections")
    assert json.loads(admin("-f", "raw_json", "list", "parameters")) == []
    # The cluster name rabbitmqadmin shows in its overview.
    overview = json.loads(admin("-f", "raw_json", "show", "overview"))
    assert overview[0]["cluster_name"] == "warren", overview


def scrape(path):
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}{path}", timeout=10) as r:
        return r.read().decode()


def prometheus_parses_metrics():
    admin("declare", "queue", "name=metrics-q")
    admin("publish", "routing_key=metrics-q", "payload=x")
    families = {f.name: f for f in text_string_to_metric_families(scrape("/metrics"))}
    for name in ["rabbitmq_queues", "rabbitmq_queue_messages", "rabbitmq_connections", "rabbitmq_channels",
                 "rabbitmq_global_messages_received", "rabbitmq_global_messages_delivered",
                 "rabbitmq_global_messages_acknowledged", "rabbitmq_global_messages_confirmed",
                 "rabbitmq_global_messages_routed", "rabbitmq_global_messages_unroutable_dropped",
                 "rabbitmq_process_resident_memory_bytes", "rabbitmq_disk_space_available_bytes",
                 "rabbitmq_identity_info", "rabbitmq_build_info", "rabbitmq_connections_opened",
                 "rabbitmq_auth_attempts", "rabbitmq_global_messages_dead_lettered_expired"]:
        assert name in families, f"{name} missing from {sorted(families)}"
    assert families["rabbitmq_queue_messages"].samples[0].value >= 1
    per = list(text_string_to_metric_families(scrape("/metrics/per-object")))
    ready = [s for f in per if f.name == "rabbitmq_queue_messages_ready" for s in f.samples]
    assert any(s.labels.get("queue") == "metrics-q" and s.value == 1 for s in ready), ready
    admin("delete", "queue", "name=metrics-q")


for case in [rabbitmqadmin_round_trip, rabbitmqadmin_operator_policies_and_limits, rabbitmqadmin_runtime_parameters,
             prometheus_parses_metrics]:
    check(case.__name__, case)

finish("management")
