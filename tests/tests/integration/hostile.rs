//! Hostile clients never take the broker down: whatever one client sends
//! closes that client's connection with a clear AMQP error, and a normal
//! client goes on publishing and consuming afterwards.

use bytes::{BufMut, BytesMut};
use warren_tests::raw::{deeply_nested_table, method_frame, queue_declare_payload, Raw};
use warren_tests::*;

/// A normal client still gets its messages through.
async fn still_serving(s: &Server) {
    let (conn, ch) = {
        let conn = connect(s).await;
        let ch = conn.create_channel().await.unwrap();
        (conn, ch)
    };
    declare(&ch, "still-here").await.unwrap();
    publish(&ch, "", "still-here", b"alive").await;
    let mut consumer = consume(&ch, "still-here", true).await;
    assert_eq!(next(&mut consumer).await.data, b"alive");
    conn.close(200, "bye".into()).await.unwrap();
}

#[tokio::test]
async fn client_properties_nested_thousands_deep_close_only_that_connection() {
    let s = start().await;
    let mut raw = Raw::socket(s.addr()).await;
    raw.send_bytes(warren_codec::PROTOCOL_HEADER).await;
    raw.recv().await.expect("connection.start");
    // connection.start-ok whose client properties nest 18,000 tables deep
    // (126 KB): this used to overflow the stack and abort the process.
    let mut payload = BytesMut::new();
    payload.put_u16(10);
    payload.put_u16(11);
    payload.put_slice(&deeply_nested_table(18_000));
    payload.put_u8(5);
    payload.put_slice(b"PLAIN");
    payload.put_u32(12);
    payload.put_slice(b"\0guest\0guest");
    payload.put_u8(5);
    payload.put_slice(b"en_US");
    raw.send_bytes(&method_frame(0, &payload)).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 502);
    assert!(text.starts_with("SYNTAX_ERROR - "), "{text}");
    assert!(text.contains("nested deeper than 100 levels"), "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn nested_queue_arguments_past_the_limit_are_a_syntax_error() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    let payload = queue_declare_payload("deep", &deeply_nested_table(101));
    raw.send_bytes(&method_frame(1, &payload)).await;
    let (code, _) = raw.expect_connection_close().await;
    assert_eq!(code, 502);
    // One level less is a valid (if odd) argument table.
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    let payload = queue_declare_payload("deep-enough", &deeply_nested_table(100));
    raw.send_bytes(&method_frame(1, &payload)).await;
    let ok = raw.recv().await.expect("declare-ok");
    assert!(
        matches!(ok, warren_codec::Frame::Method { channel: 1, .. }),
        "{ok:?}"
    );
    assert!(s.broker.vhost("/").unwrap().queue("deep-enough").is_some());
    still_serving(&s).await;
}

#[tokio::test]
async fn message_headers_nested_thousands_deep_close_only_the_publisher() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    let mut publish = BytesMut::new();
    publish.put_u16(60);
    publish.put_u16(40);
    publish.put_u16(0);
    publish.put_u8(0); // default exchange
    publish.put_u8(1);
    publish.put_slice(b"q");
    publish.put_u8(0);
    raw.send_bytes(&method_frame(1, &publish)).await;
    // A content header whose `headers` nest 15,000 tables deep.
    let mut header = BytesMut::new();
    header.put_u16(60);
    header.put_u16(0);
    header.put_u64(1);
    header.put_u16(0x2000);
    header.put_slice(&deeply_nested_table(15_000));
    let mut frame = vec![2u8];
    frame.extend_from_slice(&1u16.to_be_bytes());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(&header);
    frame.push(0xCE);
    raw.send_bytes(&frame).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 501, "{text}");
    still_serving(&s).await;
}
