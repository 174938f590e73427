//! Consumer extensions: priorities, single active consumer, direct reply-to.

use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use warren_tests::*;

#[tokio::test]
async fn higher_priority_consumers_get_messages_while_they_have_credit() {
    let (_s, _c, ch) = setup().await;
    declare(&ch, "cp").await.unwrap();
    ch.basic_qos(2, Default::default()).await.unwrap();
    let mut low = ch
        .basic_consume(
            "cp".into(),
            "low".into(),
            Default::default(),
            args(&[("x-priority", AMQPValue::LongInt(1))]),
        )
        .await
        .unwrap();
    let mut high = ch
        .basic_consume(
            "cp".into(),
            "high".into(),
            Default::default(),
            args(&[("x-priority", AMQPValue::LongInt(10))]),
        )
        .await
        .unwrap();
    for i in 0..3 {
        publish(&ch, "", "cp", format!("{i}").as_bytes()).await;
    }
    // "high" takes two (its prefetch), then "low" gets the third.
    assert_eq!(bodies(&mut high, 2).await, ["0", "1"]);
    assert_eq!(bodies(&mut low, 1).await, ["2"]);
}

#[tokio::test]
async fn single_active_consumer_hands_over_when_the_active_one_leaves() {
    let (_s, _c, ch) = setup().await;
    declare_with(
        &ch,
        "sac",
        args(&[("x-single-active-consumer", AMQPValue::Boolean(true))]),
    )
    .await
    .unwrap();
    let mut first = ch
        .basic_consume(
            "sac".into(),
            "first".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut second = ch
        .basic_consume(
            "sac".into(),
            "second".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    for i in 0..3 {
        publish(&ch, "", "sac", format!("a{i}").as_bytes()).await;
    }
    assert_eq!(bodies(&mut first, 3).await, ["a0", "a1", "a2"]);
    assert_quiet(&mut second).await;
    ch.basic_cancel("first".into(), Default::default()).await.unwrap();
    publish(&ch, "", "sac", b"b").await;
    assert_eq!(bodies(&mut second, 1).await, ["b"]);
}

#[tokio::test]
async fn direct_reply_to_routes_replies_to_the_requesting_channel() {
    let s = start().await;
    let server_conn = connect(&s).await;
    let sch = server_conn.create_channel().await.unwrap();
    declare(&sch, "svc").await.unwrap();
    let mut requests = consume(&sch, "svc", true).await;

    let client = connect(&s).await;
    let ch = client.create_channel().await.unwrap();
    let mut replies = ch
        .basic_consume(
            "amq.rabbitmq.reply-to".into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish_props(
        &ch,
        "",
        "svc",
        b"ping",
        BasicProperties::default().with_reply_to("amq.rabbitmq.reply-to".into()),
    )
    .await;
    let req = next(&mut requests).await;
    let reply_to = req.properties.reply_to().clone().unwrap();
    assert!(
        reply_to.as_str().starts_with("amq.rabbitmq.reply-to."),
        "{reply_to}"
    );
    publish(&sch, "", reply_to.as_str(), b"pong").await;
    assert_eq!(next(&mut replies).await.data, b"pong");
}

#[tokio::test]
async fn direct_reply_to_requires_no_ack_and_a_consumer() {
    let (_s, conn, ch) = setup().await;
    let err = ch
        .basic_consume(
            "amq.rabbitmq.reply-to".into(),
            "".into(),
            Default::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    let err = publish_error(
        &ch,
        "",
        "x",
        BasicProperties::default().with_reply_to("amq.rabbitmq.reply-to".into()),
    )
    .await;
    assert_eq!(reply_code(&err), Some(406), "{err}");
}
