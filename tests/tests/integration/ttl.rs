//! Message TTL (queue x-message-ttl and per-message expiration) and queue
//! expiry (x-expires), driven by the broker's clock.

use std::time::Duration;

use lapin::types::AMQPValue;
use lapin::BasicProperties;
use warren_tests::*;

#[tokio::test]
async fn queue_ttl_expires_messages_and_they_never_reach_get() {
    let (s, _c, ch) = setup().await;
    declare_with(&ch, "ttl", args(&[("x-message-ttl", AMQPValue::LongInt(1000))]))
        .await
        .unwrap();
    publish(&ch, "", "ttl", b"old").await;
    advance(&s, &ch, Duration::from_millis(600)).await;
    publish(&ch, "", "ttl", b"new").await;
    assert_eq!(count(&ch, "ttl").await, 2);
    advance(&s, &ch, Duration::from_millis(600)).await;
    // "old" is past its TTL: the sweep removed it from the head.
    assert_eq!(count(&ch, "ttl").await, 1);
    assert_eq!(get(&ch, "ttl").await.unwrap().delivery.data, b"new");
}

#[tokio::test]
async fn the_lower_of_queue_ttl_and_message_expiration_wins() {
    let (s, _c, ch) = setup().await;
    declare_with(
        &ch,
        "ttl2",
        args(&[("x-message-ttl", AMQPValue::LongLongInt(10_000))]),
    )
    .await
    .unwrap();
    publish_props(
        &ch,
        "",
        "ttl2",
        b"short",
        BasicProperties::default().with_expiration("100".into()),
    )
    .await;
    publish_props(
        &ch,
        "",
        "ttl2",
        b"long",
        BasicProperties::default().with_expiration("60000".into()),
    )
    .await;
    advance(&s, &ch, Duration::from_millis(200)).await;
    assert_eq!(get(&ch, "ttl2").await.unwrap().delivery.data, b"long");
    // The queue's 10 s applies to the message that asked for 60 s.
    publish_props(
        &ch,
        "",
        "ttl2",
        b"capped",
        BasicProperties::default().with_expiration("60000".into()),
    )
    .await;
    advance(&s, &ch, Duration::from_millis(10_500)).await;
    assert!(get(&ch, "ttl2").await.is_none());
}

#[tokio::test]
async fn expired_messages_behind_a_live_head_are_skipped_at_delivery() {
    let (s, _c, ch) = setup().await;
    declare(&ch, "ttl3").await.unwrap();
    publish(&ch, "", "ttl3", b"forever").await;
    publish_props(
        &ch,
        "",
        "ttl3",
        b"brief",
        BasicProperties::default().with_expiration("50".into()),
    )
    .await;
    publish(&ch, "", "ttl3", b"also-forever").await;
    advance(&s, &ch, Duration::from_millis(100)).await;
    assert_eq!(get(&ch, "ttl3").await.unwrap().delivery.data, b"forever");
    assert_eq!(get(&ch, "ttl3").await.unwrap().delivery.data, b"also-forever");
    assert!(get(&ch, "ttl3").await.is_none());
}

#[tokio::test]
async fn ttl_zero_delivers_to_a_waiting_consumer_or_expires() {
    let (_s, _c, ch) = setup().await;
    declare_with(
        &ch,
        "ttl0",
        args(&[("x-message-ttl", AMQPValue::ShortShortInt(0))]),
    )
    .await
    .unwrap();
    publish(&ch, "", "ttl0", b"nobody-waits").await;
    assert_eq!(count(&ch, "ttl0").await, 0);
    let mut c = consume(&ch, "ttl0", true).await;
    publish(&ch, "", "ttl0", b"taken").await;
    assert_eq!(next(&mut c).await.data, b"taken");
}

#[tokio::test]
async fn an_invalid_expiration_is_406() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "badexp").await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    let err = publish_error(
        &ch,
        "",
        "badexp",
        BasicProperties::default().with_expiration("soon".into()),
    )
    .await;
    assert_eq!(reply_code(&err), Some(406), "{err}");
}

#[tokio::test]
async fn an_unused_queue_is_deleted_after_x_expires() {
    let (s, _c, ch) = setup().await;
    declare_with(&ch, "exp", args(&[("x-expires", AMQPValue::LongInt(1000))]))
        .await
        .unwrap();
    advance(&s, &ch, Duration::from_millis(700)).await;
    // basic.get counts as use.
    assert!(get(&ch, "exp").await.is_none());
    advance(&s, &ch, Duration::from_millis(700)).await;
    assert_eq!(count(&ch, "exp").await, 0);
    advance(&s, &ch, Duration::from_millis(400)).await;
    let err = passive(&ch, "exp").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(404));
}

#[tokio::test]
async fn a_queue_with_a_consumer_does_not_expire() {
    let (s, _c, ch) = setup().await;
    declare_with(&ch, "exp2", args(&[("x-expires", AMQPValue::LongInt(100))]))
        .await
        .unwrap();
    let _c = consume(&ch, "exp2", true).await;
    advance(&s, &ch, Duration::from_millis(500)).await;
    assert_eq!(count(&ch, "exp2").await, 0);
}
