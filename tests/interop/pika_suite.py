"""pika against Warren: publish/consume/ack, confirms, topic routing,
basic.get, nack with requeue, transactions, a channel error, and removals
of what is not there (unbind, delete and cancel answer ok, as RabbitMQ
answers them)."""
import os
import time
import uuid

import pika
from cases import check, finish

PORT = int(os.environ["WARREN_PORT_UNDER_TEST"])


def connect():
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", PORT))


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def publish_consume_ack():
    conn = connect()
    ch = conn.channel()
    q = name("pika.work")
    ch.queue_declare(q)
    for i in range(50):
        ch.basic_publish("", q, f"m{i}".encode())
    got = []
    for method, _props, body in ch.consume(q, inactivity_timeout=5):
        assert method is not None, "timed out waiting for deliveries"
        got.append(body.decode())
        ch.basic_ack(method.delivery_tag)
        if len(got) == 50:
            break
    ch.cancel()
    assert got == [f"m{i}" for i in range(50)], got
    assert ch.queue_declare(q, passive=True).method.message_count == 0
    conn.close()


def confirms():
    conn = connect()
    ch = conn.channel()
    ch.confirm_delivery()
    q = name("pika.confirm")
    ch.queue_declare(q)
    for i in range(100):
        ch.basic_publish("", q, b"x", mandatory=True)
    try:
        ch.basic_publish("amq.direct", "nobody", b"x", mandatory=True)
        raise AssertionError("unroutable mandatory message was not returned")
    except pika.exceptions.UnroutableError:
        pass
    assert ch.queue_declare(q, passive=True).method.message_count == 100
    conn.close()


def topic_routing():
    conn = connect()
    ch = conn.channel()
    x = name("pika.topic")
    ch.exchange_declare(x, "topic")
    queues = {"kern": "kern.*", "crit": "*.critical", "all": "#"}
    names = {}
    for k, pattern in queues.items():
        names[k] = name(f"pika.{k}")
        ch.queue_declare(names[k])
        ch.queue_bind(names[k], x, pattern)
    for key in ["kern.critical", "kern.info", "app.critical", "app.info.x"]:
        ch.basic_publish(x, key, key.encode())
    counts = {k: ch.queue_declare(n, passive=True).method.message_count for k, n in names.items()}
    assert counts == {"kern": 2, "crit": 2, "all": 4}, counts
    conn.close()


def basic_get():
    conn = connect()
    ch = conn.channel()
    q = name("pika.get")
    ch.queue_declare(q)
    assert ch.basic_get(q) == (None, None, None)
    ch.basic_publish("", q, b"one", pika.BasicProperties(content_type="text/plain", headers={"k": "v"}))
    ch.basic_publish("", q, b"two")
    method, props, body = ch.basic_get(q, auto_ack=True)
    assert body == b"one" and method.message_count == 1, (body, method)
    assert props.content_type == "text/plain" and props.headers == {"k": "v"}, props
    conn.close()


def nack_requeue():
    conn = connect()
    ch = conn.channel()
    q = name("pika.nack")
    ch.queue_declare(q)
    ch.basic_publish("", q, b"a")
    ch.basic_publish("", q, b"b")
    m1, _, b1 = ch.basic_get(q)
    assert b1 == b"a" and not m1.redelivered
    ch.basic_nack(m1.delivery_tag, requeue=True)
    m2, _, b2 = ch.basic_get(q)
    assert b2 == b"a" and m2.redelivered, (b2, m2)
    ch.basic_reject(m2.delivery_tag, requeue=False)
    m3, _, b3 = ch.basic_get(q, auto_ack=True)
    assert b3 == b"b" and m3.message_count == 0
    conn.close()


def transactions():
    conn = connect()
    ch = conn.channel()
    q = name("pika.tx")
    ch.queue_declare(q)
    ch.tx_select()
    ch.basic_publish("", q, b"1")
    assert ch.queue_declare(q, passive=True).method.message_count == 0
    ch.tx_commit()
    assert ch.queue_declare(q, passive=True).method.message_count == 1
    ch.basic_publish("", q, b"2")
    ch.tx_rollback()
    assert ch.queue_declare(q, passive=True).method.message_count == 1
    conn.close()


def channel_error():
    conn = connect()
    ch = conn.channel()
    try:
        ch.queue_declare(name("pika.missing"), passive=True)
        raise AssertionError("passive declare of a missing queue succeeded")
    except pika.exceptions.ChannelClosedByBroker as e:
        assert e.reply_code == 404, e
        assert e.reply_text.startswith("NOT_FOUND - no queue"), e
    ch2 = conn.channel()
    ch2.queue_declare(name("pika.after"))
    conn.close()


def ttl_and_dead_letters():
    conn = connect()
    ch = conn.channel()
    dead = name("pika.dead")
    ch.queue_declare(dead)
    q = name("pika.ttl")
    # pika sends small integers as short-short or long-long: both accepted.
    ch.queue_declare(q, arguments={"x-message-ttl": 200, "x-dead-letter-exchange": "",
                                   "x-dead-letter-routing-key": dead})
    ch.basic_publish("", q, b"expiring")
    ch.basic_publish("", q, b"rejected")
    method, _, body = ch.basic_get(q)
    assert body == b"expiring"
    ch.basic_reject(method.delivery_tag, requeue=False)
    time.sleep(0.6)
    first = ch.basic_get(dead, auto_ack=True)
    second = ch.basic_get(dead, auto_ack=True)
    reasons = sorted(m[1].headers["x-death"][0]["reason"] for m in (first, second))
    assert reasons == ["expired", "rejected"], reasons
    death = first[1].headers["x-death"][0]
    assert death["queue"] == q and death["count"] == 1, death
    conn.close()


def priorities():
    conn = connect()
    ch = conn.channel()
    q = name("pika.prio")
    ch.queue_declare(q, arguments={"x-max-priority": 10})
    for body, p in [(b"low", 1), (b"high", 9), (b"mid", 5)]:
        ch.basic_publish("", q, body, pika.BasicProperties(priority=p))
    order = [ch.basic_get(q, auto_ack=True)[2] for _ in range(3)]
    assert order == [b"high", b"mid", b"low"], order
    conn.close()


def max_length_reject_publish():
    conn = connect()
    ch = conn.channel()
    ch.confirm_delivery()
    q = name("pika.maxlen")
    ch.queue_declare(q, arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    ch.basic_publish("", q, b"1")
    ch.basic_publish("", q, b"2")
    try:
        ch.basic_publish("", q, b"3")
        raise AssertionError("publish over x-max-length was confirmed")
    except pika.exceptions.NackError:
        pass
    assert ch.queue_declare(q, passive=True).method.message_count == 2
    conn.close()


def unbind_what_is_not_there():
    conn = connect()
    ch = conn.channel()
    # A queue and an exchange that never existed.
    ch.queue_unbind(name("never.q"), name("never.x"), "k")
    # An existing queue, a missing exchange.
    q = name("pika.unbind")
    ch.queue_declare(q)
    ch.queue_unbind(q, name("never.x"), "k")
    # A deleted auto-delete queue (aio-pika's RPC close does this).
    gone = ch.queue_declare("", auto_delete=True).method.queue
    ch.queue_bind(gone, "amq.direct", "rpc")
    tag = ch.basic_consume(gone, lambda *a: None, auto_ack=True)
    ch.basic_cancel(tag)
    ch.queue_unbind(gone, "amq.direct", "rpc")
    # exchange.unbind between two missing exchanges, and from a missing one.
    ch.exchange_unbind(name("never.d"), name("never.s"), "k")
    ch.exchange_unbind("amq.fanout", name("never.s"), "k")
    # A binding that exists goes, once, and again is fine.
    ch.queue_bind(q, "amq.direct", q)
    ch.queue_unbind(q, "amq.direct", q)
    ch.queue_unbind(q, "amq.direct", q)
    ch.basic_publish("amq.direct", q, b"unrouted")
    assert ch.queue_declare(q, passive=True).method.message_count == 0
    # Deletes and cancels of missing objects answer ok too.
    assert ch.queue_delete(name("never.q")).method.message_count == 0
    ch.exchange_delete(name("never.x"))
    ch.basic_cancel("never-a-tag")
    ch.queue_delete(q)
    assert ch.is_open, "no channel error on the way"
    # The default exchange is still refused, before existence is looked at.
    try:
        ch.queue_unbind(name("never.q"), "", "k")
        raise AssertionError("unbinding from the default exchange was accepted")
    except pika.exceptions.ChannelClosedByBroker as e:
        assert e.reply_code == 403, e
        assert e.reply_text == "ACCESS_REFUSED - operation not permitted on the default exchange", e
    conn.close()


def consumer_timeout():
    """A delivery held past the queue's 1 s x-consumer-timeout closes the
    channel with RabbitMQ's 406, in real time, and the message goes back."""
    conn = connect()
    ch = conn.channel()
    q = name("timeout")
    ch.queue_declare(q, arguments={"x-consumer-timeout": 1000})
    ch.basic_publish("", q, b"held")
    got = []
    ch.basic_consume(q, lambda c, m, p, body: got.append(body))
    # The sweeper looks twice a second: closed within a few seconds (a
    # guard stops waiting after 10 s).
    conn.call_later(10, ch.stop_consuming)
    try:
        ch.start_consuming()
        raise AssertionError(f"channel still open after holding {got} for 10 s")
    except pika.exceptions.ChannelClosedByBroker as e:
        assert e.reply_code == 406, e
        assert "delivery acknowledgement on channel 1 timed out. Timeout value used: 1000 ms" in e.reply_text, e
    assert got == [b"held"], got
    ch = conn.channel()
    method, _, body = ch.basic_get(q, auto_ack=True)
    assert body == b"held" and method.redelivered, (method, body)
    ch.queue_delete(q)
    conn.close()


for case in [publish_consume_ack, confirms, topic_routing, basic_get, nack_requeue, transactions, channel_error,
             ttl_and_dead_letters, priorities, max_length_reject_publish, unbind_what_is_not_there,
             consumer_timeout]:
    check(case.__name__, case)

finish("pika")
