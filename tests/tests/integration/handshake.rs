//! The connection handshake: server properties, SASL mechanisms, tuning.

use lapin::ConnectionProperties;
use warren_codec::protocol::connection;
use warren_codec::{AMQPClass, AMQPValue, Frame, Method};
use warren_tests::raw::Raw;
use warren_tests::*;

#[tokio::test]
async fn connection_start_names_warren_and_its_capabilities() {
    let s = start().await;
    let mut raw = Raw::socket(s.addr()).await;
    raw.send_bytes(warren_codec::PROTOCOL_HEADER).await;
    let Some(Frame::Method {
        channel: 0,
        method: Method::Other(m),
    }) = raw.recv().await
    else {
        panic!("no connection.start")
    };
    let AMQPClass::Connection(connection::AMQPMethod::Start(start)) = *m else {
        panic!("{m:?}")
    };
    assert_eq!((start.version_major, start.version_minor), (0, 9));
    assert_eq!(start.mechanisms.to_string(), "PLAIN AMQPLAIN");
    let props = start.server_properties.inner();
    assert_eq!(
        props.get("product"),
        Some(&AMQPValue::LongString("Warren".into()))
    );
    assert!(props.contains_key("version") && props.contains_key("platform"));
    let Some(AMQPValue::FieldTable(caps)) = props.get("capabilities") else {
        panic!("no capabilities")
    };
    for cap in [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "consumer_priorities",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ] {
        assert_eq!(caps.inner().get(cap), Some(&AMQPValue::Boolean(true)), "{cap}");
    }
}

#[tokio::test]
async fn amqplain_logs_in_too() {
    let s = start().await;
    let url = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f?auth_mechanism=amqplain",
        s.addr().port()
    );
    let conn = lapin::Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "amqplain").await.unwrap();
}

#[tokio::test]
async fn tune_ok_above_the_offered_frame_max_is_530() {
    let s = start().await;
    let (mut raw, _tune) = Raw::login(s.addr()).await;
    raw.tune_ok(10, 1 << 24, 0).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 530, "{text}");
}

#[tokio::test]
async fn channels_above_channel_max_are_refused() {
    let mut config = Config::ephemeral();
    config.channel_max = 2;
    let s = warren_server::start(config).await.unwrap();
    let conn = connect(&s).await;
    let a = conn.create_channel().await.unwrap();
    let b = conn.create_channel().await.unwrap();
    assert!(conn.create_channel().await.is_err());
    drop((a, b));
}
