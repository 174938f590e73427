//! Warren's management extensions for a queue's messages: a peek that
//! leaves them where they are, and a move (to another queue, or dead
//! letters back to where they died) that loses nothing.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, ExchangeKind};
use serde_json::{json, Value};
use warren_tests::http::*;
use warren_tests::*;

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

async fn declare_durable_with(ch: &lapin::Channel, name: &str, arguments: FieldTable) {
    ch.queue_declare(
        name.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        arguments,
    )
    .await
    .unwrap();
}

fn payloads(reply: &Value) -> Vec<String> {
    reply["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["payload"].as_str().unwrap().to_string())
        .collect()
}

/// `POST /api/queues/%2F/{queue}/move` as `auth`.
async fn move_as(s: &Server, auth: &str, queue: &str, body: Value) -> (u16, Value) {
    call(
        s,
        "POST",
        &format!("/api/queues/%2F/{queue}/move"),
        auth,
        Some(body),
    )
    .await
}

/// `GET /api/queues/%2F/{queue}/messages{query}` as `auth`.
async fn peek_as(s: &Server, auth: &str, queue: &str, query: &str) -> (u16, Value) {
    call(
        s,
        "GET",
        &format!("/api/queues/%2F/{queue}/messages{query}"),
        auth,
        None,
    )
    .await
}

/// `basic.get` in ack mode.
async fn take(ch: &lapin::Channel, queue: &str) -> Option<lapin::message::BasicGetMessage> {
    ch.basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await
        .expect("basic.get")
}

/// Consumes everything in `queue`, acking; the bodies and redelivered flags.
async fn drain(ch: &lapin::Channel, queue: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    while let Some(m) = take(ch, queue).await {
        out.push((
            String::from_utf8_lossy(&m.delivery.data).into_owned(),
            m.delivery.redelivered,
        ));
        m.delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    out
}

#[tokio::test]
async fn a_peek_shows_messages_from_an_offset_and_leaves_them_untouched() {
    // A small window, so most of the backlog is paged out to the log and
    // the peek reads it back from there.
    let mut config = Config::ephemeral();
    config.management_port = Some(0);
    config.queue_window = 8;
    let s = warren_server::start(config).await.unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare_durable_with(&ch, "browse", FieldTable::default()).await;
    ch.confirm_select(Default::default()).await.unwrap();
    for i in 0..30 {
        let props = if i % 2 == 0 {
            persistent()
        } else {
            BasicProperties::default().with_content_type("text/plain".into())
        };
        publish_props(&ch, "", "browse", format!("m{i}").as_bytes(), props).await;
    }
    ch.wait_for_confirms().await.unwrap();

    let (status, reply) = peek_as(&s, GUEST, "browse", "?offset=5&count=12").await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["message_count"], 30);
    assert_eq!(reply["offset"], 5);
    let expected: Vec<String> = (5..17).map(|i| format!("m{i}")).collect();
    assert_eq!(payloads(&reply), expected);
    let first = &reply["messages"][0];
    assert_eq!(first["position"], 5);
    assert_eq!(first["redelivered"], false);
    assert_eq!(first["routing_key"], "browse");
    assert_eq!(first["properties"]["content_type"], "text/plain");
    assert_eq!(reply["messages"][1]["properties"]["delivery_mode"], 2);
    // Past the end: what is there.
    let (_, tail) = peek_as(&s, GUEST, "browse", "?offset=28&count=10").await;
    assert_eq!(payloads(&tail), ["m28", "m29"]);
    let (_, base64) = peek_as(&s, GUEST, "browse", "?count=1&encoding=base64&truncate=1").await;
    assert_eq!(base64["messages"][0]["payload"], "bQ==");
    assert_eq!(base64["messages"][0]["payload_encoding"], "base64");
    assert_eq!(base64["messages"][0]["payload_bytes"], 2);

    // Nothing was taken, redelivered or counted as a get.
    let (_, q) = call(&s, "GET", "/api/queues/%2F/browse", GUEST, None).await;
    assert_eq!(q["messages_ready"], 30);
    assert_eq!(q["messages_unacknowledged"], 0);
    assert!(q["message_stats"]["get"].as_u64().unwrap_or(0) == 0, "{q}");
    let all = drain(&ch, "browse").await;
    let expected: Vec<(String, bool)> = (0..30).map(|i| (format!("m{i}"), false)).collect();
    assert_eq!(all, expected);

    // Refusals as for a get.
    let (status, reply) = peek_as(&s, GUEST, "nope", "").await;
    assert_eq!((status, reply["reason"].clone()), (404, json!("Not Found")));
    let (status, reply) = peek_as(&s, GUEST, "browse", "?encoding=hex").await;
    assert_eq!(
        (status, reply["reason"].clone()),
        (400, json!("Unsupported encoding: hex"))
    );
    let monitor = user_permitted(&s, "watcher", &["monitoring"], "", "^other$");
    let (status, _) = peek_as(&s, &monitor, "browse", "").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_peek_follows_priority_order() {
    let s = server().await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare_with(
        &ch,
        "prio",
        args(&[("x-max-priority", lapin::types::AMQPValue::ShortShortUInt(5))]),
    )
    .await
    .unwrap();
    for (body, p) in [("low", 1u8), ("high", 5), ("mid", 3), ("high2", 5)] {
        publish_props(
            &ch,
            "",
            "prio",
            body.as_bytes(),
            BasicProperties::default().with_priority(p),
        )
        .await;
    }
    sync(&ch).await;
    let (_, reply) = peek_as(&s, GUEST, "prio", "?count=10").await;
    assert_eq!(payloads(&reply), ["high", "high2", "mid", "low"]);
    let (_, reply) = peek_as(&s, GUEST, "prio", "?offset=2&count=1").await;
    assert_eq!(payloads(&reply), ["mid"]);
}

#[tokio::test]
async fn moving_all_messages_to_another_queue_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("warren-move-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut config = Config::ephemeral();
        config.data_dir = dir.clone();
        config.management_port = Some(0);
        config.queue_window = 16;
        let s = warren_server::start(config).await.unwrap();
        let conn = connect(&s).await;
        let ch = conn.create_channel().await.unwrap();
        declare_durable_with(&ch, "from", FieldTable::default()).await;
        declare_durable_with(&ch, "to", FieldTable::default()).await;
        ch.confirm_select(Default::default()).await.unwrap();
        publish_props(&ch, "", "to", b"already", persistent()).await;
        for i in 0..600 {
            publish_props(&ch, "", "from", format!("m{i}").as_bytes(), persistent()).await;
        }
        ch.wait_for_confirms().await.unwrap();

        let (status, reply) = move_as(&s, GUEST, "from", json!({"destination": "to"})).await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(
            reply,
            json!({"moved": 600, "skipped": 0, "unroutable": 0, "refused": 0})
        );
        assert_eq!(count(&ch, "from").await, 0);
        assert_eq!(count(&ch, "to").await, 601);

        // `count` caps a move; the rest stays where it was, in order.
        let (_, reply) = move_as(&s, GUEST, "to", json!({"destination": "from", "count": 1})).await;
        assert_eq!(reply["moved"], 1);
        let (status, reply) = move_as(&s, GUEST, "to", json!({"destination": "to"})).await;
        assert_eq!(status, 400, "{reply}");
        let (status, reply) = move_as(&s, GUEST, "to", json!({"destination": "nope"})).await;
        assert_eq!(
            (status, reply["reason"].clone()),
            (404, json!("no queue 'nope' in vhost '/'"))
        );
        let (status, _) = move_as(&s, GUEST, "to", json!({})).await;
        assert_eq!(status, 400);
        s.shutdown().await;
    }
    let s = start_in(&dir).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    let from = drain(&ch, "from").await;
    assert_eq!(from, [("already".to_string(), false)]);
    let to = drain(&ch, "to").await;
    let expected: Vec<(String, bool)> = (0..600).map(|i| (format!("m{i}"), false)).collect();
    assert_eq!(to, expected, "moved in order, once, as new deliveries");
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn dead_letters_move_back_to_their_exchange_and_routing_key() {
    let s = server().await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    for (name, kind) in [
        ("jobs", ExchangeKind::Direct),
        ("dlx", ExchangeKind::Fanout),
        ("gone", ExchangeKind::Fanout),
    ] {
        ch.exchange_declare(name.into(), kind, Default::default(), FieldTable::default())
            .await
            .unwrap();
    }
    declare(&ch, "dead").await.unwrap();
    bind(&ch, "dead", "dlx", "").await.unwrap();
    declare_with(&ch, "work", args(&[("x-dead-letter-exchange", text("dlx"))]))
        .await
        .unwrap();
    declare(&ch, "other").await.unwrap();
    bind(&ch, "work", "jobs", "build").await.unwrap();
    bind(&ch, "other", "jobs", "test").await.unwrap();
    bind(&ch, "work", "gone", "").await.unwrap();
    for (x, key, body) in [
        ("jobs", "build", "b1"),
        ("jobs", "build", "b2"),
        ("gone", "", "g1"),
    ] {
        publish(&ch, x, key, body.as_bytes()).await;
    }
    // Dead-lettered from a queue reached by another key.
    ch.queue_bind(
        "work".into(),
        "jobs".into(),
        "test".into(),
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "jobs", "test", b"t1").await;
    let _ = drain(&ch, "other").await;
    sync(&ch).await;
    while let Some(m) = take(&ch, "work").await {
        m.delivery
            .reject(BasicRejectOptions { requeue: false })
            .await
            .unwrap();
    }
    ch.queue_unbind("work".into(), "jobs".into(), "test".into(), FieldTable::default())
        .await
        .unwrap();
    ch.exchange_delete("gone".into(), Default::default())
        .await
        .unwrap();
    // A message that never died: it stays.
    publish(&ch, "", "dead", b"plain").await;
    sync(&ch).await;
    assert_eq!(count(&ch, "dead").await, 5);

    let (status, reply) = move_as(&s, GUEST, "dead", json!({"dead_letters": true})).await;
    assert_eq!(status, 200, "{reply}");
    // b1, b2 back to work; t1 to "other" (work is no longer bound for
    // "test"); g1's exchange is gone; "plain" has no x-death.
    assert_eq!(
        reply,
        json!({"moved": 3, "skipped": 1, "unroutable": 1, "refused": 0})
    );
    let back = drain(&ch, "work").await;
    assert_eq!(back, [("b1".to_string(), false), ("b2".to_string(), false)]);
    assert_eq!(drain(&ch, "other").await, [("t1".to_string(), false)]);
    let m = take(&ch, "dead").await.unwrap();
    assert_eq!(
        (m.delivery.data.as_slice(), m.delivery.redelivered),
        (&b"g1"[..], false)
    );
    m.delivery.ack(BasicAckOptions::default()).await.unwrap();
    assert_eq!(drain(&ch, "dead").await, [("plain".to_string(), false)]);

    // The moved message keeps its history, so a second death counts.
    publish(&ch, "jobs", "build", b"again").await;
    sync(&ch).await;
    let m = take(&ch, "work").await.unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    sync(&ch).await;
    move_as(&s, GUEST, "dead", json!({"dead_letters": true})).await;
    let m = take(&ch, "work").await.unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    sync(&ch).await;
    let (_, peeked) = peek_as(&s, GUEST, "dead", "").await;
    let death = &peeked["messages"][0]["properties"]["headers"]["x-death"][0];
    assert_eq!(death["count"], 2, "{peeked}");
    assert_eq!(death["routing-keys"], json!(["build"]));

    // Without write permission on the exchange, nothing moves.
    let limited = user_permitted(&s, "mover", &["management"], "^amq\\.default$", ".*");
    let (status, reply) = move_as(&s, &limited, "dead", json!({"dead_letters": true})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"moved": 0, "skipped": 0, "unroutable": 0, "refused": 1})
    );
    let (status, reply) = move_as(&s, &limited, "dead", json!({"destination": "work"})).await;
    assert_eq!((status, reply["moved"].clone()), (200, json!(1)));
    assert_eq!(count(&ch, "work").await, 1);
}
