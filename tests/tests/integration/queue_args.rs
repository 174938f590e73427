//! Queue argument validation, as RabbitMQ validates: every integer width is
//! accepted, invalid values close the channel with 406 naming the argument.

use lapin::options::QueueDeclareOptions;
use lapin::types::AMQPValue;
use warren_tests::*;

async fn refused(a: &[(&str, AMQPValue)]) -> (Option<u16>, String) {
    let (_s, _c, ch) = setup().await;
    let err = declare_with(&ch, "q", args(a)).await.unwrap_err();
    (reply_code(&err), reply_text(&err))
}

#[tokio::test]
async fn every_integer_width_is_accepted() {
    let (_s, _c, ch) = setup().await;
    let widths = [
        AMQPValue::ShortShortInt(5),
        AMQPValue::ShortShortUInt(5),
        AMQPValue::ShortInt(5),
        AMQPValue::ShortUInt(5),
        AMQPValue::LongInt(5),
        AMQPValue::LongUInt(5),
        AMQPValue::LongLongInt(5),
    ];
    for (i, w) in widths.into_iter().enumerate() {
        let name = format!("w{i}");
        declare_with(
            &ch,
            &name,
            args(&[("x-max-priority", w.clone()), ("x-max-length", w.clone())]),
        )
        .await
        .unwrap();
        // Redeclaring with another width of the same value is equivalent.
        declare_with(
            &ch,
            &name,
            args(&[("x-max-priority", AMQPValue::LongLongInt(5)), ("x-max-length", w)]),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn invalid_values_name_the_argument() {
    assert_eq!(
        refused(&[("x-max-priority", AMQPValue::LongInt(256))]).await,
        (Some(406), "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/': {max_value_exceeded,256}".into())
    );
    assert_eq!(
        refused(&[("x-message-ttl", AMQPValue::LongInt(-1))]).await,
        (Some(406), "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}".into())
    );
    assert_eq!(
        refused(&[("x-expires", AMQPValue::LongInt(0))]).await,
        (
            Some(406),
            "PRECONDITION_FAILED - invalid arg 'x-expires' for queue 'q' in vhost '/': {value_zero,0}".into()
        )
    );
    assert_eq!(
        refused(&[("x-max-length", text("ten"))]).await,
        (Some(406), "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q' in vhost '/': {unacceptable_type,longstr}".into())
    );
    let (code, text_) = refused(&[("x-overflow", text("explode"))]).await;
    assert_eq!(code, Some(406));
    assert!(text_.contains("invalid arg 'x-overflow'"), "{text_}");
    let (code, text_) = refused(&[("x-dead-letter-routing-key", text("k"))]).await;
    assert_eq!(code, Some(406));
    assert!(text_.contains("routing_key_but_no_dlx_defined"), "{text_}");
}

#[tokio::test]
async fn quorum_queues_must_be_durable_and_streams_are_refused() {
    let (_s, conn, ch) = setup().await;
    let err = declare_with(&ch, "qq", args(&[("x-queue-type", text("quorum"))]))
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        "qq".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args(&[("x-queue-type", text("quorum"))]),
    )
    .await
    .unwrap();
    let err = ch
        .queue_declare(
            "qq2".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args(&[
                ("x-queue-type", text("quorum")),
                ("x-max-priority", AMQPValue::LongInt(3)),
            ]),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    let ch = conn.create_channel().await.unwrap();
    let err = ch
        .queue_declare(
            "st".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args(&[("x-queue-type", text("stream"))]),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    assert!(reply_text(&err).contains("stream"), "{err}");
}
