//! Bad input on the wire: each case gets the right close code, and the
//! broker goes on serving other connections.

use bytes::{BufMut, BytesMut};
use warren_codec::protocol::{basic, channel, queue};
use warren_codec::{AMQPClass, FieldTable};
use warren_tests::raw::{method_frame, queue_declare_payload, Raw};
use warren_tests::*;

#[tokio::test]
async fn a_wrong_protocol_header_gets_ours_back_and_a_close() {
    let s = start().await;
    let mut raw = Raw::socket(s.addr()).await;
    raw.send_bytes(b"AMQP\x01\x01\x08\x00").await;
    assert_eq!(raw.read_to_end().await, b"AMQP\x00\x00\x09\x01");
    still_serving(&s).await;
}

#[tokio::test]
async fn a_frame_over_frame_max_is_501() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    let mut f = vec![3u8, 0, 1];
    f.extend_from_slice(&(200_000u32).to_be_bytes());
    raw.send_bytes(&f).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 501, "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn a_bad_frame_end_is_501() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    let mut f = method_frame(1, &[0, 20, 0, 10, 0]);
    *f.last_mut().unwrap() = 0xAB;
    raw.send_bytes(&f).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 501, "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn a_body_without_a_header_is_505() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    raw.send_bytes(&[3, 0, 1, 0, 0, 0, 2, b'h', b'i', 0xCE]).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 505, "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn a_method_in_place_of_a_content_header_is_505() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    raw.send(
        1,
        AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
            exchange: "".into(),
            routing_key: "q".into(),
            mandatory: false,
            immediate: false,
        })),
    )
    .await;
    raw.send(
        1,
        AMQPClass::Channel(channel::AMQPMethod::Flow(channel::Flow { active: true })),
    )
    .await;
    let (code, _) = raw.expect_connection_close().await;
    assert_eq!(code, 505);
}

#[tokio::test]
async fn a_method_on_a_channel_that_is_not_open_is_504() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.send(
        7,
        AMQPClass::Queue(queue::AMQPMethod::Declare(queue::Declare {
            queue: "q".into(),
            passive: false,
            durable: false,
            exclusive: false,
            auto_delete: false,
            nowait: false,
            arguments: FieldTable::default(),
        })),
    )
    .await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 504, "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn opening_a_channel_twice_is_504() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    raw.send(1, AMQPClass::Channel(channel::AMQPMethod::Open(channel::Open {})))
        .await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 504);
    assert_eq!(text, "CHANNEL_ERROR - second 'channel.open' seen");
}

#[tokio::test]
async fn an_unknown_class_is_540() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    raw.send_bytes(&method_frame(1, &[0x12, 0x34, 0, 10])).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 540, "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn a_truncated_field_table_is_501_as_in_rabbitmq() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    // The table claims 100 bytes but carries 5.
    let mut table = BytesMut::new();
    table.put_u32(100);
    table.put_slice(&[1, b'k', b'I', 0, 0]);
    raw.send_bytes(&method_frame(1, &queue_declare_payload("q", &table)))
        .await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 501, "{text}");
    assert!(text.starts_with("FRAME_ERROR - cannot decode"), "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn a_short_string_longer_than_its_frame_is_501_as_in_rabbitmq() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    // basic.publish whose exchange name claims 255 bytes of a 3-byte remainder.
    raw.send_bytes(&method_frame(1, &[0, 60, 0, 40, 0, 0, 255, b'a', b'b', 0]))
        .await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 501, "{text}");
    assert!(text.starts_with("FRAME_ERROR - cannot decode"), "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn acking_an_unknown_delivery_tag_is_406() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    raw.send(
        1,
        AMQPClass::Basic(basic::AMQPMethod::Ack(basic::Ack {
            delivery_tag: 42,
            multiple: false,
        })),
    )
    .await;
    loop {
        let f = raw.recv().await.expect("channel.close");
        if let warren_codec::Frame::Method {
            channel: 1,
            method: warren_codec::Method::Other(m),
        } = f
        {
            let AMQPClass::Channel(channel::AMQPMethod::Close(c)) = *m else {
                continue;
            };
            assert_eq!(c.reply_code, 406);
            assert_eq!(
                c.reply_text.as_str(),
                "PRECONDITION_FAILED - unknown delivery tag 42"
            );
            assert_eq!((c.class_id, c.method_id), (60, 80));
            break;
        }
    }
}

#[tokio::test]
async fn a_silent_client_is_disconnected_after_two_missed_heartbeats() {
    let mut config = Config::ephemeral();
    config.heartbeat = 1;
    let s = warren_server::start(config).await.unwrap();
    let (mut raw, _tune) = Raw::login(s.addr()).await;
    raw.tune_ok(10, 131072, 1).await;
    // The server sends heartbeats, then hangs up on a client that sends none.
    let started = std::time::Instant::now();
    let mut heartbeats = 0;
    while let Some(f) = raw.recv().await {
        if matches!(f, warren_codec::Frame::Heartbeat { .. }) {
            heartbeats += 1;
        }
    }
    let waited = started.elapsed();
    assert!(heartbeats >= 1, "no heartbeat from the server");
    // Not before two intervals have passed (a lower bound cannot flake on
    // a slow machine); how soon after is not asserted: `recv` ends when the
    // server hangs up, and a broker that never did would fail its wait.
    assert!(waited >= std::time::Duration::from_millis(1500), "{waited:?}");
}
