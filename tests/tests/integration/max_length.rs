//! Length limits: x-max-length, x-max-length-bytes and x-overflow.

use lapin::options::*;
use lapin::types::AMQPValue;
use lapin::BasicProperties;
use warren_tests::*;

#[tokio::test]
async fn drop_head_keeps_the_newest() {
    let (_s, _c, ch) = setup().await;
    declare_with(&ch, "ml", args(&[("x-max-length", AMQPValue::LongInt(2))]))
        .await
        .unwrap();
    for b in ["1", "2", "3"] {
        publish(&ch, "", "ml", b.as_bytes()).await;
    }
    assert_eq!(get(&ch, "ml").await.unwrap().delivery.data, b"2");
    assert_eq!(get(&ch, "ml").await.unwrap().delivery.data, b"3");
}

#[tokio::test]
async fn max_length_bytes_counts_body_bytes() {
    let (_s, _c, ch) = setup().await;
    declare_with(
        &ch,
        "mlb",
        args(&[("x-max-length-bytes", AMQPValue::LongInt(10))]),
    )
    .await
    .unwrap();
    publish(&ch, "", "mlb", b"aaaaa").await;
    publish(&ch, "", "mlb", b"bbbbb").await;
    publish(&ch, "", "mlb", b"cc").await;
    assert_eq!(count(&ch, "mlb").await, 2);
    assert_eq!(get(&ch, "mlb").await.unwrap().delivery.data, b"bbbbb");
}

#[tokio::test]
async fn reject_publish_nacks_under_confirms() {
    let (_s, _c, ch) = setup().await;
    declare_with(
        &ch,
        "rp",
        args(&[
            ("x-max-length", AMQPValue::LongInt(1)),
            ("x-overflow", text("reject-publish")),
        ]),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let mut outcomes = Vec::new();
    for b in ["kept", "refused", "refused-too"] {
        let c = ch
            .basic_publish(
                "".into(),
                "rp".into(),
                BasicPublishOptions::default(),
                b.as_bytes(),
                BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        outcomes.push(c.is_ack());
    }
    assert_eq!(outcomes, [true, false, false]);
    assert_eq!(get(&ch, "rp").await.unwrap().delivery.data, b"kept");
    // Room again: accepted.
    let c = ch
        .basic_publish(
            "".into(),
            "rp".into(),
            BasicPublishOptions::default(),
            b"again",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(c.is_ack());
}

#[tokio::test]
async fn reject_publish_dlx_dead_letters_the_refused_message() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "overflowed").await.unwrap();
    declare_with(
        &ch,
        "rpd",
        args(&[
            ("x-max-length", AMQPValue::LongInt(1)),
            ("x-overflow", text("reject-publish-dlx")),
            ("x-dead-letter-exchange", text("")),
            ("x-dead-letter-routing-key", text("overflowed")),
        ]),
    )
    .await
    .unwrap();
    publish(&ch, "", "rpd", b"kept").await;
    publish(&ch, "", "rpd", b"spilled").await;
    assert_eq!(count(&ch, "rpd").await, 1);
    assert_eq!(get(&ch, "overflowed").await.unwrap().delivery.data, b"spilled");
}
