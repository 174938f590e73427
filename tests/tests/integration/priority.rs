//! Priority queues (x-max-priority).

use lapin::types::AMQPValue;
use lapin::BasicProperties;
use warren_tests::*;

#[tokio::test]
async fn higher_priority_first_fifo_within_a_priority_capped_at_the_maximum() {
    let (_s, _c, ch) = setup().await;
    declare_with(
        &ch,
        "prio",
        args(&[("x-max-priority", AMQPValue::ShortShortUInt(5))]),
    )
    .await
    .unwrap();
    for (body, p) in [
        ("low-1", 1u8),
        ("high-1", 5),
        ("none", 0),
        ("low-2", 1),
        ("over", 200),
        ("high-2", 5),
    ] {
        publish_props(
            &ch,
            "",
            "prio",
            body.as_bytes(),
            BasicProperties::default().with_priority(p),
        )
        .await;
    }
    let mut order = Vec::new();
    while let Some(m) = get(&ch, "prio").await {
        order.push(String::from_utf8(m.delivery.data).unwrap());
    }
    // 200 counts as 5 and keeps its place among the 5s.
    assert_eq!(order, ["high-1", "over", "high-2", "low-1", "low-2", "none"]);
}

#[tokio::test]
async fn a_consumer_sees_priorities_once_its_prefetch_frees_up() {
    let (_s, _c, ch) = setup().await;
    declare_with(&ch, "prio2", args(&[("x-max-priority", AMQPValue::LongInt(10))]))
        .await
        .unwrap();
    ch.basic_qos(1, Default::default()).await.unwrap();
    let mut c = consume(&ch, "prio2", false).await;
    publish_props(
        &ch,
        "",
        "prio2",
        b"first",
        BasicProperties::default().with_priority(1),
    )
    .await;
    let d = next(&mut c).await;
    publish_props(
        &ch,
        "",
        "prio2",
        b"low",
        BasicProperties::default().with_priority(1),
    )
    .await;
    publish_props(
        &ch,
        "",
        "prio2",
        b"high",
        BasicProperties::default().with_priority(9),
    )
    .await;
    d.ack(Default::default()).await.unwrap();
    let d = next(&mut c).await;
    assert_eq!(d.data, b"high");
}
