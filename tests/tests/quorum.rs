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
