//! RabbitMQ's exchange extensions: alternate exchanges, sender-selected
//! distribution (CC/BCC), auto-delete exchanges, the delayed-message type.

use std::time::Duration;

use lapin::options::*;
use lapin::types::{AMQPValue, FieldArray, FieldTable};
use lapin::{BasicProperties, ExchangeKind};
use warren_tests::*;

#[tokio::test]
async fn unroutable_messages_go_to_the_alternate_exchange() {
    let (_s, _c, ch) = setup().await;
    ch.exchange_declare(
        "ae".into(),
        ExchangeKind::Fanout,
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(&ch, "unrouted").await.unwrap();
    ch.queue_bind(
        "unrouted".into(),
        "ae".into(),
        "".into(),
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.exchange_declare(
        "main".into(),
        ExchangeKind::Direct,
        Default::default(),
        args(&[("alternate-exchange", text("ae"))]),
    )
    .await
    .unwrap();
    declare(&ch, "routed").await.unwrap();
    ch.queue_bind(
        "routed".into(),
        "main".into(),
        "k".into(),
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "main", "k", b"normal").await;
    // Mandatory is satisfied by the alternate exchange: no return.
    ch.confirm_select(Default::default()).await.unwrap();
    let c = ch
        .basic_publish(
            "main".into(),
            "other".into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"stray",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(c.take_message().is_none());
    assert_eq!(get(&ch, "routed").await.unwrap().delivery.data, b"normal");
    assert_eq!(get(&ch, "unrouted").await.unwrap().delivery.data, b"stray");
}

#[tokio::test]
async fn cc_and_bcc_add_routing_keys_and_bcc_is_removed() {
    let (_s, _c, ch) = setup().await;
    for q in ["to", "cc", "bcc"] {
        declare(&ch, q).await.unwrap();
    }
    let mut headers = FieldTable::default();
    headers.insert(
        "CC".into(),
        AMQPValue::FieldArray(FieldArray::from(vec![text("cc")])),
    );
    headers.insert(
        "BCC".into(),
        AMQPValue::FieldArray(FieldArray::from(vec![text("bcc")])),
    );
    publish_props(
        &ch,
        "",
        "to",
        b"memo",
        BasicProperties::default().with_headers(headers),
    )
    .await;
    for q in ["to", "cc", "bcc"] {
        let m = get(&ch, q).await.unwrap_or_else(|| panic!("{q} got nothing"));
        let h = m.delivery.properties.headers().clone().unwrap();
        assert!(h.inner().contains_key("CC"), "{q}");
        assert!(!h.inner().contains_key("BCC"), "{q} saw BCC");
    }
}

#[tokio::test]
async fn an_auto_delete_exchange_goes_with_its_last_binding() {
    let (_s, conn, ch) = setup().await;
    ch.exchange_declare(
        "ad-x".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(&ch, "adq").await.unwrap();
    ch.queue_bind(
        "adq".into(),
        "ad-x".into(),
        "k".into(),
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_unbind("adq".into(), "ad-x".into(), "k".into(), FieldTable::default())
        .await
        .unwrap();
    let err = ch
        .exchange_declare(
            "ad-x".into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(404));
    drop(conn);
}

#[tokio::test]
async fn delayed_messages_are_routed_when_their_delay_passes() {
    let (s, _c, ch) = setup().await;
    ch.exchange_declare(
        "later".into(),
        ExchangeKind::Custom("x-delayed-message".into()),
        Default::default(),
        args(&[("x-delayed-type", text("direct"))]),
    )
    .await
    .unwrap();
    declare(&ch, "delayed").await.unwrap();
    bind(&ch, "delayed", "later", "k").await.unwrap();
    let delay = |ms: i32| {
        let mut h = FieldTable::default();
        h.insert("x-delay".into(), AMQPValue::LongInt(ms));
        BasicProperties::default().with_headers(h)
    };
    publish_props(&ch, "later", "k", b"in-2s", delay(2000)).await;
    publish_props(&ch, "later", "k", b"in-1s", delay(1000)).await;
    publish_props(&ch, "later", "k", b"now", BasicProperties::default()).await;
    assert_eq!(count(&ch, "delayed").await, 1);
    advance(&s, &ch, Duration::from_millis(1100)).await;
    assert_eq!(count(&ch, "delayed").await, 2);
    advance(&s, &ch, Duration::from_millis(1000)).await;
    let mut order = Vec::new();
    while let Some(m) = get(&ch, "delayed").await {
        order.push(String::from_utf8(m.delivery.data).unwrap());
    }
    assert_eq!(order, ["now", "in-1s", "in-2s"]);
}

/// Declares a durable delayed exchange `later` (routing like direct) bound
/// to the durable queue `delayed` with key `k`.
async fn durable_delayed_topology(ch: &lapin::Channel) {
    ch.exchange_declare(
        "later".into(),
        ExchangeKind::Custom("x-delayed-message".into()),
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args(&[("x-delayed-type", text("direct"))]),
    )
    .await
    .unwrap();
    declare_durable(ch, "delayed").await.unwrap();
    bind(ch, "delayed", "later", "k").await.unwrap();
}

#[tokio::test]
async fn persistent_delayed_messages_are_stored_before_their_confirm_and_delivered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let later = |ms: i32, mode: u8| {
        let mut h = FieldTable::default();
        h.insert("x-delay".into(), AMQPValue::LongInt(ms));
        BasicProperties::default()
            .with_headers(h)
            .with_delivery_mode(mode)
    };
    {
        let s = start_in(dir.path()).await;
        let conn = connect(&s).await;
        let ch = conn.create_channel().await.unwrap();
        durable_delayed_topology(&ch).await;
        ch.confirm_select(Default::default()).await.unwrap();
        for (body, ms, mode) in [
            ("in-90s", 90_000, 2),
            ("in-60s", 60_000, 2),
            ("transient", 60_000, 1),
        ] {
            let confirm = ch
                .basic_publish(
                    "later".into(),
                    "k".into(),
                    Default::default(),
                    body.as_bytes(),
                    later(ms, mode),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(confirm.is_ack());
        }
        conn.close(200, "bye".into()).await.unwrap();
        s.shutdown().await;
    }
    let s = start_in(dir.path()).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(count(&ch, "delayed").await, 0, "nothing is due yet");
    advance(&s, &ch, Duration::from_secs(61)).await;
    assert_eq!(count(&ch, "delayed").await, 1, "the 60 s one, at its time");
    advance(&s, &ch, Duration::from_secs(30)).await;
    let mut got = Vec::new();
    while let Some(m) = get(&ch, "delayed").await {
        got.push(String::from_utf8(m.delivery.data).unwrap());
    }
    // The transient one was not stored, as for a durable queue.
    assert_eq!(got, ["in-60s", "in-90s"]);
    conn.close(200, "bye".into()).await.unwrap();
    s.shutdown().await;
    // Released messages are not held again after the next restart.
    let s = start_in(dir.path()).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    advance(&s, &ch, Duration::from_secs(3600)).await;
    assert_eq!(count(&ch, "delayed").await, 0);
}
