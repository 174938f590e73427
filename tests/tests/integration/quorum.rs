//! Quorum queues: x-delivery-limit, the x-delivery-count header, and
//! dead-lettering with reason delivery_limit.

use lapin::options::*;
use lapin::types::AMQPValue;
use warren_tests::*;

#[tokio::test]
async fn redeliveries_are_counted_and_the_limit_dead_letters() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "poison").await.unwrap();
    ch.queue_declare(
        "qd".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args(&[
            ("x-queue-type", text("quorum")),
            ("x-delivery-limit", AMQPValue::LongInt(2)),
            ("x-dead-letter-exchange", text("")),
            ("x-dead-letter-routing-key", text("poison")),
        ]),
    )
    .await
    .unwrap();
    publish(&ch, "", "qd", b"p").await;
    for expected in [None, Some(1i64), Some(2)] {
        let m = ch
            .basic_get("qd".into(), BasicGetOptions::default())
            .await
            .unwrap()
            .unwrap();
        let count = m
            .delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-delivery-count").cloned());
        assert_eq!(count, expected.map(AMQPValue::LongLongInt));
        m.delivery
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await
            .unwrap();
    }
    // Third return is past the limit of 2.
    let dead = loop {
        if let Some(m) = get(&ch, "poison").await {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let h = dead.delivery.properties.headers().clone().unwrap();
    assert_eq!(
        h.inner().get("x-first-death-reason"),
        Some(&text("delivery_limit"))
    );
    assert_eq!(count(&ch, "qd").await, 0);
}

/// The delivery count of a quorum queue's message at its next delivery.
async fn delivery_count(ch: &lapin::Channel, queue: &str, requeue: bool) -> Option<AMQPValue> {
    let m = ch
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .unwrap()
        .expect("a message");
    let count = m
        .delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count").cloned());
    m.delivery
        .nack(BasicNackOptions {
            requeue,
            multiple: false,
        })
        .await
        .unwrap();
    count
}

#[tokio::test]
async fn the_delivery_count_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("warren-quorum-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let quorum = args(&[
        ("x-queue-type", text("quorum")),
        ("x-delivery-limit", AMQPValue::LongInt(3)),
    ]);
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    {
        let s = start_in(&dir).await;
        let conn = connect(&s).await;
        let ch = conn.create_channel().await.unwrap();
        ch.queue_declare("qr".into(), durable, quorum.clone())
            .await
            .unwrap();
        ch.confirm_select(Default::default()).await.unwrap();
        let persistent = lapin::BasicProperties::default().with_delivery_mode(2);
        publish_props(&ch, "", "qr", b"p", persistent).await;
        sync(&ch).await;
        assert_eq!(delivery_count(&ch, "qr", true).await, None);
        assert_eq!(
            delivery_count(&ch, "qr", true).await,
            Some(AMQPValue::LongLongInt(1))
        );
        sync(&ch).await;
        conn.close(200, "bye".into()).await.unwrap();
        s.shutdown().await;
    }
    let s = start_in(&dir).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(
        delivery_count(&ch, "qr", true).await,
        Some(AMQPValue::LongLongInt(2)),
        "the count of returns before the restart is kept"
    );
    assert_eq!(
        delivery_count(&ch, "qr", true).await,
        Some(AMQPValue::LongLongInt(3))
    );
    sync(&ch).await;
    assert_eq!(
        count(&ch, "qr").await,
        0,
        "the fourth return passed the limit of 3"
    );
    s.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
