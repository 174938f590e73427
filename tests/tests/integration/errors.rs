//! Channel and connection errors with RabbitMQ's reply codes and texts, seen
//! through lapin. Raw-byte cases are in `raw_frames.rs`.

use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, ConnectionProperties, ExchangeKind};
use warren_tests::*;

#[tokio::test]
async fn passive_declare_of_a_missing_queue_is_404_and_closes_only_the_channel() {
    let (_s, conn, ch) = setup().await;
    let err = passive(&ch, "missing").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(404));
    assert_eq!(reply_text(&err), "NOT_FOUND - no queue 'missing' in vhost '/'");
    // The connection survives a channel error.
    let ch2 = conn.create_channel().await.unwrap();
    declare(&ch2, "fine").await.unwrap();
}

#[tokio::test]
async fn publishing_to_a_missing_exchange_is_404() {
    let (_s, _conn, ch) = setup().await;
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let err = publish_error(&ch, "no-such-x", "k", BasicProperties::default()).await;
    assert_eq!(reply_code(&err), Some(404), "{err}");
    assert_eq!(
        reply_text(&err),
        "NOT_FOUND - no exchange 'no-such-x' in vhost '/'"
    );
}

#[tokio::test]
async fn reserved_names_are_403() {
    let (_s, conn, ch) = setup().await;
    let err = ch
        .exchange_declare(
            "amq.custom".into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(403));
    assert_eq!(
        reply_text(&err),
        "ACCESS_REFUSED - exchange name 'amq.custom' contains reserved prefix 'amq.*'"
    );
    let ch = conn.create_channel().await.unwrap();
    let err = declare(&ch, "amq.q").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(403));
    let ch = conn.create_channel().await.unwrap();
    let err = ch
        .queue_bind(
            "x".into(),
            "".into(),
            "x".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    // The default exchange is refused before the queue is looked up
    // (RabbitMQ 3.10.8 answers 403 for a queue that does not exist).
    assert_eq!(reply_code(&err), Some(403));
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "x").await.unwrap();
    let err = ch
        .queue_bind(
            "x".into(),
            "".into(),
            "x".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(403));
    assert_eq!(
        reply_text(&err),
        "ACCESS_REFUSED - operation not permitted on the default exchange"
    );
}

#[tokio::test]
async fn publishing_to_an_internal_exchange_is_403() {
    let (_s, _conn, ch) = setup().await;
    ch.exchange_declare(
        "inner".into(),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            internal: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let err = publish_error(&ch, "inner", "", BasicProperties::default()).await;
    assert_eq!(reply_code(&err), Some(403), "{err}");
}

#[tokio::test]
async fn redeclaring_with_other_properties_is_406() {
    let (_s, conn, ch) = setup().await;
    declare(&ch, "q406").await.unwrap();
    let err = ch
        .queue_declare(
            "q406".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    assert_eq!(
        reply_text(&err),
        "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q406' in vhost '/': received 'true' but current is 'false'"
    );
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "x406".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let err = ch
        .exchange_declare(
            "x406".into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    assert!(
        reply_text(&err).contains("inequivalent arg 'type' for exchange 'x406'"),
        "{err}"
    );
    let ch = conn.create_channel().await.unwrap();
    let mut args = FieldTable::default();
    args.insert("x-message-ttl".into(), AMQPValue::LongInt(2000));
    let err = ch
        .queue_declare("q406".into(), QueueDeclareOptions::default(), args)
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    assert_eq!(
        reply_text(&err),
        "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue 'q406' in vhost '/': \
         received the value '2000' of type 'signedint' but current is none"
    );
    // Arguments RabbitMQ does not check are not compared either.
    let ch = conn.create_channel().await.unwrap();
    let mut custom = FieldTable::default();
    custom.insert("x-custom".into(), AMQPValue::LongInt(1));
    ch.queue_declare("q406".into(), QueueDeclareOptions::default(), custom)
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_preconditions_are_406() {
    let (_s, conn, ch) = setup().await;
    declare(&ch, "full").await.unwrap();
    publish(&ch, "", "full", b"x").await;
    let err = ch
        .queue_delete(
            "full".into(),
            QueueDeleteOptions {
                if_empty: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    assert_eq!(
        reply_text(&err),
        "PRECONDITION_FAILED - queue 'full' in vhost '/' not empty"
    );
    let ch = conn.create_channel().await.unwrap();
    let _c = consume(&ch, "full", false).await;
    let ch2 = conn.create_channel().await.unwrap();
    let err = ch2
        .queue_delete(
            "full".into(),
            QueueDeleteOptions {
                if_unused: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    let ch3 = conn.create_channel().await.unwrap();
    ch3.exchange_declare(
        "used".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch3.queue_bind(
        "full".into(),
        "used".into(),
        "k".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let err = ch3
        .exchange_delete(
            "used".into(),
            ExchangeDeleteOptions {
                if_unused: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(406));
    // Deleting a queue reports how many ready messages it held.
    let ch4 = conn.create_channel().await.unwrap();
    declare(&ch4, "two").await.unwrap();
    publish(&ch4, "", "two", b"1").await;
    publish(&ch4, "", "two", b"2").await;
    assert_eq!(
        ch4.queue_delete("two".into(), QueueDeleteOptions::default())
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn an_invalid_exchange_type_is_503_and_closes_the_connection() {
    let (s, conn, ch) = setup().await;
    let err = ch
        .exchange_declare(
            "weird".into(),
            ExchangeKind::Custom("foo".into()),
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(503), "{err}");
    assert_eq!(reply_text(&err), "COMMAND_INVALID - unknown exchange type 'foo'");
    assert!(conn.create_channel().await.is_err());
    // Other clients are unaffected.
    let other = connect(&s).await;
    declare(&other.create_channel().await.unwrap(), "still-up")
        .await
        .unwrap();
}

#[tokio::test]
async fn reusing_a_consumer_tag_is_530() {
    let (_s, _conn, ch) = setup().await;
    declare(&ch, "tags").await.unwrap();
    ch.basic_consume(
        "tags".into(),
        "same".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let err = ch
        .basic_consume(
            "tags".into(),
            "same".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(530), "{err}");
    assert_eq!(
        reply_text(&err),
        "NOT_ALLOWED - attempt to reuse consumer tag 'same'"
    );
}

#[tokio::test]
async fn an_unknown_vhost_is_530_and_bad_credentials_are_403() {
    let s = start().await;
    let url = format!("amqp://guest:guest@127.0.0.1:{}/nowhere", s.addr().port());
    let err = lapin::Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(530), "{err}");
    assert_eq!(reply_text(&err), "NOT_ALLOWED - vhost nowhere not found");
    let url = format!("amqp://guest:wrong@127.0.0.1:{}/%2f", s.addr().port());
    let err = lapin::Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap_err();
    assert_eq!(reply_code(&err), Some(403), "{err}");
    // A client that does not announce authentication_failure_close is not
    // told why: the socket just closes, as RabbitMQ does.
    let mut raw = warren_tests::raw::Raw::start_ok(s.addr(), "guest", "wrong", Default::default()).await;
    assert!(raw.read_to_end().await.is_empty(), "no frame before the close");
    let mut props = warren_tests::raw::client_properties();
    let mut caps = lapin::types::FieldTable::default();
    caps.insert(
        "authentication_failure_close".into(),
        lapin::types::AMQPValue::Boolean(true),
    );
    props.insert("capabilities".into(), lapin::types::AMQPValue::FieldTable(caps));
    let mut raw = warren_tests::raw::Raw::start_ok(s.addr(), "guest", "wrong", props).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 403);
    assert_eq!(
        text,
        "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."
    );
}

/// `amq.` queue names are the broker's: a server-named queue is found again
/// with a passive declare, and a non-passive declare of its name is refused
/// even though it exists, as RabbitMQ refuses it.
#[tokio::test]
async fn a_server_named_queue_cannot_be_redeclared_by_name() {
    let (_s, conn, ch) = setup().await;
    let q = declare(&ch, "").await.unwrap();
    let name = q.name().as_str().to_string();
    assert!(name.starts_with("amq.gen-"), "{name}");
    assert_eq!(passive(&ch, &name).await.unwrap().name().as_str(), name);
    let err = declare(&ch, &name).await.unwrap_err();
    assert_eq!(reply_code(&err), Some(403));
    assert_eq!(
        reply_text(&err),
        format!("ACCESS_REFUSED - queue name '{name}' contains reserved prefix 'amq.*'")
    );
    let ch2 = conn.create_channel().await.unwrap();
    let err = declare(&ch2, "amq.mine").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(403), "{err}");
}
