//! Dead-lettering: reasons, the x-death header, routing-key override,
//! and cycles dropped as RabbitMQ drops them.

use std::time::Duration;

use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use warren_tests::*;

fn header<'a>(t: &'a FieldTable, k: &str) -> Option<&'a AMQPValue> {
    t.inner().get(k)
}

fn str_of(v: Option<&AMQPValue>) -> String {
    match v {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => format!("{other:?}"),
    }
}

fn deaths(t: &FieldTable) -> Vec<FieldTable> {
    match header(t, "x-death") {
        Some(AMQPValue::FieldArray(a)) => a
            .as_slice()
            .iter()
            .map(|v| match v {
                AMQPValue::FieldTable(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("no x-death: {other:?}"),
    }
}

async fn dlx_setup(ch: &lapin::Channel, source: &str, extra: &[(&str, AMQPValue)]) {
    ch.exchange_declare(
        "dlx".into(),
        lapin::ExchangeKind::Fanout,
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(ch, "dead").await.unwrap();
    ch.queue_bind(
        "dead".into(),
        "dlx".into(),
        "".into(),
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut a = vec![("x-dead-letter-exchange", text("dlx"))];
    a.extend(extra.iter().cloned());
    declare_with(ch, source, args(&a)).await.unwrap();
}

#[tokio::test]
async fn rejected_messages_carry_x_death() {
    let (_s, _c, ch) = setup().await;
    dlx_setup(&ch, "work", &[]).await;
    publish_props(
        &ch,
        "",
        "work",
        b"bad",
        BasicProperties::default().with_expiration("60000".into()),
    )
    .await;
    let m = ch
        .basic_get("work".into(), BasicGetOptions::default())
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    let d = loop {
        if let Some(d) = get(&ch, "dead").await {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(d.delivery.data, b"bad");
    assert_eq!(d.delivery.exchange.as_str(), "dlx");
    assert!(d.delivery.properties.expiration().is_none(), "expiration removed");
    let h = d.delivery.properties.headers().clone().unwrap();
    let xd = deaths(&h);
    assert_eq!(xd.len(), 1);
    assert_eq!(header(&xd[0], "count"), Some(&AMQPValue::LongLongInt(1)));
    assert_eq!(str_of(header(&xd[0], "reason")), "rejected");
    assert_eq!(str_of(header(&xd[0], "queue")), "work");
    assert_eq!(str_of(header(&xd[0], "exchange")), "");
    assert_eq!(str_of(header(&xd[0], "original-expiration")), "60000");
    assert!(matches!(header(&xd[0], "time"), Some(AMQPValue::Timestamp(_))));
    match header(&xd[0], "routing-keys") {
        Some(AMQPValue::FieldArray(a)) => assert_eq!(a.as_slice(), &[text("work")]),
        other => panic!("{other:?}"),
    }
    assert_eq!(str_of(header(&h, "x-first-death-reason")), "rejected");
    assert_eq!(str_of(header(&h, "x-first-death-queue")), "work");
    assert_eq!(str_of(header(&h, "x-last-death-reason")), "rejected");
}

#[tokio::test]
async fn expired_and_maxlen_dead_letters_use_the_routing_key_override() {
    let (s, _c, ch) = setup().await;
    ch.exchange_declare(
        "dlx-d".into(),
        lapin::ExchangeKind::Direct,
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare(&ch, "parking").await.unwrap();
    ch.queue_bind(
        "parking".into(),
        "dlx-d".into(),
        "park".into(),
        Default::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    declare_with(
        &ch,
        "short",
        args(&[
            ("x-dead-letter-exchange", text("dlx-d")),
            ("x-dead-letter-routing-key", text("park")),
            ("x-message-ttl", AMQPValue::LongInt(100)),
            ("x-max-length", AMQPValue::LongInt(1)),
        ]),
    )
    .await
    .unwrap();
    publish(&ch, "", "short", b"first").await;
    publish(&ch, "", "short", b"second").await; // drops "first" from the head
    advance(&s, &ch, Duration::from_millis(200)).await; // expires "second"
    let a = get(&ch, "parking").await.unwrap();
    let b = get(&ch, "parking").await.unwrap();
    assert_eq!(a.delivery.data, b"first");
    assert_eq!(a.delivery.routing_key.as_str(), "park");
    assert_eq!(
        str_of(header(
            &deaths(&a.delivery.properties.headers().clone().unwrap())[0],
            "reason"
        )),
        "maxlen"
    );
    assert_eq!(b.delivery.data, b"second");
    assert_eq!(
        str_of(header(
            &deaths(&b.delivery.properties.headers().clone().unwrap())[0],
            "reason"
        )),
        "expired"
    );
}

#[tokio::test]
async fn an_automatic_cycle_is_dropped_but_a_retry_loop_with_rejects_is_not() {
    let (s, _c, ch) = setup().await;
    // "loop" dead-letters expired messages back to itself: dropped.
    declare_with(
        &ch,
        "loop",
        args(&[
            ("x-dead-letter-exchange", text("")),
            ("x-dead-letter-routing-key", text("loop")),
            ("x-message-ttl", AMQPValue::LongInt(10)),
        ]),
    )
    .await
    .unwrap();
    publish(&ch, "", "loop", b"x").await;
    advance(&s, &ch, Duration::from_millis(50)).await;
    advance(&s, &ch, Duration::from_millis(50)).await;
    assert_eq!(count(&ch, "loop").await, 0);

    // work --rejected--> retry --expired--> work: allowed, count grows.
    declare_with(
        &ch,
        "retry",
        args(&[
            ("x-dead-letter-exchange", text("")),
            ("x-dead-letter-routing-key", text("work2")),
            ("x-message-ttl", AMQPValue::LongInt(10)),
        ]),
    )
    .await
    .unwrap();
    declare_with(
        &ch,
        "work2",
        args(&[
            ("x-dead-letter-exchange", text("")),
            ("x-dead-letter-routing-key", text("retry")),
        ]),
    )
    .await
    .unwrap();
    publish(&ch, "", "work2", b"job").await;
    for round in 1..=2i64 {
        let m = ch
            .basic_get("work2".into(), BasicGetOptions::default())
            .await
            .unwrap()
            .unwrap();
        m.delivery
            .reject(BasicRejectOptions { requeue: false })
            .await
            .unwrap();
        while count(&ch, "retry").await == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        advance(&s, &ch, Duration::from_millis(50)).await;
        assert_eq!(count(&ch, "work2").await, 1, "round {round}");
    }
    let m = get(&ch, "work2").await.unwrap();
    let xd = deaths(&m.delivery.properties.headers().clone().unwrap());
    // Most recent first; counts merged per queue and reason.
    assert_eq!(str_of(header(&xd[0], "queue")), "retry");
    assert_eq!(header(&xd[0], "count"), Some(&AMQPValue::LongLongInt(2)));
    assert_eq!(str_of(header(&xd[1], "queue")), "work2");
    assert_eq!(header(&xd[1], "count"), Some(&AMQPValue::LongLongInt(2)));
}
