//! The delayed-message exchange's held messages are bounded in memory like
//! a queue's (the rest wait in the message log), come out in due order,
//! and a durable exchange's persistent ones survive a restart.

use std::sync::Arc;
use std::time::Duration;

use amq_protocol::types::{AMQPValue, FieldTable};
use bytes::Bytes;
use warren_broker::exchange::ExchangeOptions;
use warren_broker::queue::QueueOptions;
use warren_broker::vhost::RouteScratch;
use warren_broker::{Broker, Message, VHost};

/// Messages kept in memory per queue (and per delayed exchange).
const WINDOW: usize = 3;

fn delayed(n: u64, delay_ms: i32, persistent: bool) -> Arc<Message> {
    let base = Message {
        exchange: Bytes::from_static(b"later"),
        routing_key: Bytes::from_static(b"k"),
        properties: Bytes::from_static(&[0, 0]),
        body: Bytes::from(format!("message {n:03}")),
        persistent,
        priority: 0,
        expiration_ms: None,
        has_headers: true,
        store_id: 0,
    };
    Arc::new(base.with_properties(|p| {
        let mut h = FieldTable::default();
        h.insert("x-delay".into(), AMQPValue::LongInt(delay_ms));
        *p = p
            .clone()
            .with_headers(h)
            .with_delivery_mode(if persistent { 2 } else { 1 });
    }))
}

fn topology(v: &VHost, durable: bool) {
    let mut arguments = FieldTable::default();
    arguments.insert("x-delayed-type".into(), AMQPValue::LongString("direct".into()));
    let options = ExchangeOptions {
        durable,
        auto_delete: false,
        internal: false,
        arguments,
    };
    v.declare_exchange("later", "x-delayed-message", false, options)
        .unwrap();
    let options = QueueOptions {
        durable,
        ..Default::default()
    };
    v.declare_queue("q", false, options, 0).unwrap();
    v.bind_queue("q", "later", "k", FieldTable::default(), 0).unwrap();
}

/// Publishes 50 messages, message n due in (50 - n) seconds: the last
/// published is due first.
fn publish_fifty(v: &VHost, persistent: bool) {
    let x = v.exchange("later").unwrap();
    let mut scratch = RouteScratch::default();
    for n in 0..50u64 {
        let routed = v.publish(&x, delayed(n, (50 - n as i32) * 1000, persistent), &mut scratch);
        assert_eq!(routed.queues, 1);
        assert_eq!(routed.ticket.is_some(), persistent, "stored before its confirm");
    }
}

fn held(v: &VHost) -> (usize, usize) {
    v.exchange("later")
        .unwrap()
        .delayed
        .as_ref()
        .unwrap()
        .lock()
        .len()
}

/// Moves time on by `secs` and takes what reached the queue.
fn after(broker: &Broker, v: &VHost, secs: u64) -> Vec<String> {
    broker.clock.advance(Duration::from_secs(secs));
    broker.sweep();
    let q = v.queue("q").unwrap();
    let mut out = Vec::new();
    while let Some((e, _)) = q.get(false).unwrap() {
        out.push(String::from_utf8_lossy(&e.msg.body).into_owned());
    }
    out
}

fn due_order(from: u64, to: u64) -> Vec<String> {
    (from..to).rev().map(|n| format!("message {n:03}")).collect()
}

#[test]
fn a_transient_delayed_set_keeps_only_its_window_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::open(dir.path(), 1 << 20, WINDOW).unwrap();
    let v = broker.vhost("/").unwrap();
    topology(&v, false);
    publish_fifty(&v, false);
    assert_eq!(held(&v), (50, WINDOW), "the rest are spilled to the log");
    assert!(after(&broker, &v, 0).is_empty(), "nothing early");
    // Due one by one, in due order, with their contents read back.
    assert_eq!(after(&broker, &v, 10), due_order(40, 50));
    assert_eq!(after(&broker, &v, 40), due_order(0, 40));
    assert_eq!(held(&v), (0, 0));
}

#[test]
fn a_durable_delayed_set_is_bounded_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let broker = Broker::open(dir.path(), 1 << 20, WINDOW).unwrap();
        let v = broker.vhost("/").unwrap();
        topology(&v, true);
        publish_fifty(&v, true);
        assert_eq!(held(&v), (50, WINDOW));
        assert_eq!(after(&broker, &v, 5), due_order(45, 50));
        broker.close();
    }
    {
        let broker = Broker::open(dir.path(), 1 << 20, WINDOW).unwrap();
        let v = broker.vhost("/").unwrap();
        assert_eq!(held(&v), (45, 0), "all waiting ones back, none in memory yet");
        assert!(after(&broker, &v, 0).is_empty());
        // Due times are kept in Unix time: the 5 s the test clock was moved
        // on before the restart did not pass on the wall clock, so message
        // n is due (50 - n) s after it was published, a moment ago.
        let mut got = after(&broker, &v, 30);
        assert!(got.len() >= 25 && got.len() < 45, "{} due after 30 s", got.len());
        got.extend(after(&broker, &v, 30));
        assert_eq!(got, due_order(0, 45));
        assert_eq!(held(&v), (0, 0));
        // Released ones went to the durable queue; more are held, then the
        // exchange is deleted: what it held goes, on disk too.
        publish_fifty(&v, true);
        v.delete_exchange("later", false).unwrap();
        broker.close();
    }
    let broker = Broker::open(dir.path(), 1 << 20, WINDOW).unwrap();
    let v = broker.vhost("/").unwrap();
    assert!(v.exchange("later").is_none());
    assert_eq!(
        v.queue("q").unwrap().message_count(),
        0,
        "taken by the test's gets"
    );
}
