//! Direct, topic and headers routing.

use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, ExchangeKind};
use warren_tests::*;

async fn bind(ch: &lapin::Channel, q: &str, x: &str, key: &str, args: FieldTable) {
    ch.queue_bind(q.into(), x.into(), key.into(), QueueBindOptions::default(), args)
        .await
        .unwrap();
}

async fn count(ch: &lapin::Channel, q: &str) -> u32 {
    ch.queue_declare(
        q.into(),
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap()
    .message_count()
}

#[tokio::test]
async fn direct_routes_by_exact_key() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "info").await.unwrap();
    declare(&ch, "error").await.unwrap();
    bind(&ch, "info", "amq.direct", "info", FieldTable::default()).await;
    bind(&ch, "error", "amq.direct", "error", FieldTable::default()).await;
    bind(&ch, "error", "amq.direct", "fatal", FieldTable::default()).await;
    for key in ["info", "error", "fatal", "debug"] {
        publish(&ch, "amq.direct", key, key.as_bytes()).await;
    }
    assert_eq!(count(&ch, "info").await, 1);
    assert_eq!(count(&ch, "error").await, 2);
}

#[tokio::test]
async fn topic_patterns_match_words() {
    let (_s, _c, ch) = setup().await;
    ch.exchange_declare(
        "t".into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let cases = [
        ("star", "stock.*.nyse"),
        ("hash", "stock.#"),
        ("middle", "a.#.z"),
        ("all", "#"),
    ];
    for (q, pattern) in cases {
        declare(&ch, q).await.unwrap();
        bind(&ch, q, "t", pattern, FieldTable::default()).await;
    }
    for key in ["stock.ibm.nyse", "stock.nyse", "a.z", "a.b.c.z", "stock", "x.y"] {
        publish(&ch, "t", key, key.as_bytes()).await;
    }
    assert_eq!(count(&ch, "star").await, 1); // stock.ibm.nyse
    assert_eq!(count(&ch, "hash").await, 3); // stock.ibm.nyse, stock.nyse, stock
    assert_eq!(count(&ch, "middle").await, 2); // a.z, a.b.c.z
    assert_eq!(count(&ch, "all").await, 6);
    // Unbinding stops routing at once (the topic cache is invalidated).
    ch.queue_unbind("all".into(), "t".into(), "#".into(), FieldTable::default())
        .await
        .unwrap();
    publish(&ch, "t", "stock.nyse", b"again").await;
    assert_eq!(count(&ch, "all").await, 6);
    assert_eq!(count(&ch, "hash").await, 4);
}

fn table(pairs: &[(&str, &str)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), AMQPValue::LongString((*v).into()));
    }
    t
}

#[tokio::test]
async fn headers_exchange_matches_all_or_any() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "h_all").await.unwrap();
    declare(&ch, "h_any").await.unwrap();
    bind(
        &ch,
        "h_all",
        "amq.headers",
        "",
        table(&[("x-match", "all"), ("format", "pdf"), ("type", "report")]),
    )
    .await;
    bind(
        &ch,
        "h_any",
        "amq.match",
        "",
        table(&[("x-match", "any"), ("format", "pdf"), ("type", "report")]),
    )
    .await;
    let send = |x: &'static str, headers: FieldTable| {
        let ch = ch.clone();
        async move {
            ch.basic_publish(
                x.into(),
                "".into(),
                BasicPublishOptions::default(),
                b"m",
                BasicProperties::default().with_headers(headers),
            )
            .await
            .unwrap();
        }
    };
    send("amq.headers", table(&[("format", "pdf"), ("type", "report")])).await;
    send("amq.headers", table(&[("format", "pdf")])).await;
    send("amq.match", table(&[("type", "report"), ("extra", "1")])).await;
    send("amq.match", table(&[("format", "zip")])).await;
    assert_eq!(count(&ch, "h_all").await, 1);
    assert_eq!(count(&ch, "h_any").await, 1);
}

#[tokio::test]
async fn invalid_x_match_is_refused_with_406() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "hx").await.unwrap();
    let err = ch
        .queue_bind(
            "hx".into(),
            "amq.headers".into(),
            "".into(),
            QueueBindOptions::default(),
            table(&[("x-match", "some")]),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406), "{err}");
}

#[tokio::test]
async fn headers_with_x_variants_compare_x_keys_too() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "hwx").await.unwrap();
    bind(
        &ch,
        "hwx",
        "amq.headers",
        "",
        table(&[("x-match", "all-with-x"), ("x-tenant", "a")]),
    )
    .await;
    for (tenant, n) in [("a", 1), ("b", 1)] {
        ch.basic_publish(
            "amq.headers".into(),
            "".into(),
            BasicPublishOptions::default(),
            b"m",
            BasicProperties::default().with_headers(table(&[("x-tenant", tenant)])),
        )
        .await
        .unwrap();
        assert_eq!(count(&ch, "hwx").await, n);
    }
}
