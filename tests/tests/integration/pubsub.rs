//! Publish/subscribe: fanout copies to every bound queue; exchange-to-exchange bindings.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::ExchangeKind;
use warren_tests::*;

#[tokio::test]
async fn fanout_delivers_a_copy_to_every_bound_queue() {
    let (_s, _c, ch) = setup().await;
    ch.exchange_declare(
        "logs".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut consumers = Vec::new();
    for q in ["s1", "s2", "s3"] {
        declare(&ch, q).await.unwrap();
        ch.queue_bind(
            q.into(),
            "logs".into(),
            "ignored".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
        consumers.push(consume(&ch, q, true).await);
    }
    for i in 0..10 {
        publish(&ch, "logs", "any", format!("e{i}").as_bytes()).await;
    }
    let want: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
    for c in &mut consumers {
        assert_eq!(bodies(c, 10).await, want);
        assert_quiet(c).await;
    }
}

#[tokio::test]
async fn exchange_to_exchange_bindings_route_through_and_unbind_stops_them() {
    let (_s, _c, ch) = setup().await;
    let opts = ExchangeDeclareOptions::default();
    ch.exchange_declare("front".into(), ExchangeKind::Direct, opts, FieldTable::default())
        .await
        .unwrap();
    ch.exchange_declare("back".into(), ExchangeKind::Fanout, opts, FieldTable::default())
        .await
        .unwrap();
    ch.exchange_bind(
        "back".into(),
        "front".into(),
        "k".into(),
        ExchangeBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(&ch, "e2e").await.unwrap();
    ch.queue_bind(
        "e2e".into(),
        "back".into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "front", "k", b"through").await;
    publish(&ch, "front", "other", b"dropped").await;
    let m = ch
        .basic_get("e2e".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery.data, b"through");
    assert_eq!(m.message_count, 0);
    ch.exchange_unbind(
        "back".into(),
        "front".into(),
        "k".into(),
        ExchangeUnbindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "front", "k", b"after").await;
    assert!(ch
        .basic_get("e2e".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_queue_bound_twice_gets_one_copy() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "twice").await.unwrap();
    for key in ["a", "b"] {
        ch.queue_bind(
            "twice".into(),
            "amq.topic".into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
    ch.queue_bind(
        "twice".into(),
        "amq.topic".into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    publish(&ch, "amq.topic", "a", b"one").await;
    let q = passive(&ch, "twice").await.unwrap();
    assert_eq!(q.message_count(), 1);
}
