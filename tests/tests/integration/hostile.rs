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

/// On channel 1, a `basic.publish` to queue `q` and its content header:
/// a body of `body_size` bytes (none is sent) and these property flags and
/// property bytes.
async fn publish_with_header(raw: &mut Raw, body_size: u64, flags: u16, properties: &[u8]) {
    let mut publish = BytesMut::new();
    publish.put_u16(60);
    publish.put_u16(40);
    publish.put_u16(0);
    publish.put_u8(0); // the default exchange
    publish.put_u8(1);
    publish.put_slice(b"q");
    publish.put_u8(0);
    raw.send_bytes(&method_frame(1, &publish)).await;
    let mut header = BytesMut::new();
    header.put_u16(60);
    header.put_u16(0);
    header.put_u64(body_size);
    header.put_u16(flags);
    header.put_slice(properties);
    let mut frame = vec![2u8];
    frame.extend_from_slice(&1u16.to_be_bytes());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(&header);
    frame.push(0xCE);
    raw.send_bytes(&frame).await;
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
    // A content header whose `headers` nest 15,000 tables deep.
    publish_with_header(&mut raw, 1, 0x2000, &deeply_nested_table(15_000)).await;
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 501, "{text}");
    still_serving(&s).await;
}

#[tokio::test]
async fn a_body_over_max_message_size_is_refused_at_its_header_and_the_connection_lives_on() {
    let mut config = Config::ephemeral();
    config.max_message_size = 1000;
    let s = warren_server::start(config).await.unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "sized").await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    let err = publish_body_error(&ch, "", "sized", lapin::BasicProperties::default(), &[7u8; 1001]).await;
    assert_eq!(reply_code(&err), Some(406), "{err}");
    assert_eq!(
        reply_text(&err),
        "PRECONDITION_FAILED - message size 1001 is larger than configured max size 1000"
    );
    // Only the channel closed; exactly the limit is accepted.
    let ch = conn.create_channel().await.unwrap();
    publish(&ch, "", "sized", &[7u8; 1000]).await;
    assert_eq!(count(&ch, "sized").await, 1);
}

#[tokio::test]
async fn a_header_declaring_two_gib_is_refused_before_any_body_arrives() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    raw.open_channel(2).await;
    publish_with_header(&mut raw, 2 << 30, 0, &[]).await;
    // No body was sent: the refusal comes from the header alone.
    let text = raw.expect_channel_close(1).await;
    assert_eq!(
        text,
        (
            406,
            "PRECONDITION_FAILED - message size 2147483648 is larger than configured max size 134217728"
                .to_string()
        )
    );
    // The connection and its other channel go on.
    raw.publish(2, "q", b"fine").await;
    raw.open_channel(3).await;
    still_serving(&s).await;
}

#[tokio::test]
async fn a_client_that_stalls_in_the_handshake_is_disconnected_and_its_slot_freed() {
    let mut config = Config::ephemeral();
    // Long enough for a normal client on a busy machine to finish its
    // handshake well within it (the last check below).
    config.handshake_timeout = std::time::Duration::from_secs(3);
    let s = warren_server::start(config).await.unwrap();
    // One sends nothing at all; one stops after the protocol header; one
    // stops after start-ok (before tune-ok and open).
    let mut silent = Raw::socket(s.addr()).await;
    let mut after_header = Raw::socket(s.addr()).await;
    after_header.send_bytes(warren_codec::PROTOCOL_HEADER).await;
    let mut after_start_ok =
        Raw::start_ok(s.addr(), "guest", "guest", warren_tests::raw::client_properties()).await;
    for raw in [&mut silent, &mut after_header, &mut after_start_ok] {
        // read_to_end returns when the server hangs up (or after PATIENCE,
        // which the assertion below would catch as a connection left open).
        raw.read_to_end().await;
    }
    let left = s.broker.connections.list().len();
    assert_eq!(left, 0, "every stalled connection is gone");
    // A client that completed its handshake is not timed out later.
    let conn = connect(&s).await;
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    assert!(conn.status().connected());
    still_serving(&s).await;
}

#[tokio::test]
async fn refused_logins_are_answered_only_after_a_delay() {
    let mut config = Config::ephemeral();
    config.management_port = Some(0);
    let s = warren_server::start(config).await.unwrap();
    for (user, password) in [("guest", "wrong"), ("nobody", "guest")] {
        let started = std::time::Instant::now();
        let err = connect_as(&s, user, password, "/").await.expect_err("refused");
        // A lower bound only: a slow machine can only make it longer.
        assert!(
            started.elapsed() >= warren_broker::access::LOGIN_REFUSAL_DELAY,
            "{user}: {:?}",
            started.elapsed()
        );
        assert_eq!(reply_code(&err), Some(403), "{user}: {err}");
        assert_eq!(
            reply_text(&err),
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.",
            "an unknown user reads like a wrong password"
        );
    }
    let api = s.management_addr().unwrap();
    let started = std::time::Instant::now();
    let (status, _, _) = warren_tests::http::http(
        api,
        "GET",
        "/api/whoami",
        Some(&warren_tests::http::basic("guest", "wrong")),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(started.elapsed() >= warren_broker::access::LOGIN_REFUSAL_DELAY);
    still_serving(&s).await;
}

#[tokio::test]
async fn a_panic_in_one_connection_closes_it_with_541_and_requeues_its_messages() {
    let mut config = Config::ephemeral();
    config.panic_on_declare = Some("boom".into());
    let s = warren_server::start(config).await.unwrap();
    let victim = connect(&s).await;
    let ch = victim.create_channel().await.unwrap();
    declare(&ch, "work").await.unwrap();
    publish(&ch, "", "work", b"held").await;
    let mut consumer = consume(&ch, "work", false).await;
    let held = next(&mut consumer).await;
    assert!(!held.redelivered);
    // The fault: a bug met while handling this connection's frame.
    let other = victim.create_channel().await.unwrap();
    let err = declare(&other, "boom").await.unwrap_err();
    assert_eq!(reply_code(&err), Some(541), "{err}");
    // Its consumer is gone and its unacked message is back in the queue.
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    let q = passive(&ch, "work").await.unwrap();
    assert_eq!((q.message_count(), q.consumer_count()), (1, 0));
    let mut again = consume(&ch, "work", true).await;
    let d = next(&mut again).await;
    assert_eq!(d.data, b"held");
    assert!(d.redelivered);
    still_serving(&s).await;
}

/// A raw publisher with a 1 s heartbeat that is blocked by a memory alarm.
async fn blocked_publisher(s: &Server) -> Raw {
    let (mut raw, _tune) = Raw::login(s.addr()).await;
    raw.tune_ok(2047, 131072, 1).await;
    raw.send(
        0,
        warren_codec::AMQPClass::Connection(warren_codec::protocol::connection::AMQPMethod::Open(
            warren_codec::protocol::connection::Open {
                virtual_host: "/".into(),
            },
        )),
    )
    .await;
    raw.recv().await.expect("open-ok");
    raw.open_channel(1).await;
    // A publisher, whose frames have all been read...
    raw.publish(1, "nowhere", b"before").await;
    raw.open_channel(2).await;
    s.alarms.set_memory(true);
    // ...then one heartbeat, in one write: read whole, after which the
    // connection is blocked with nothing left unread.
    raw.send_bytes(&[8, 0, 0, 0, 0, 0, 0, 0xCE]).await;
    raw.expect_connection_method(|m| match m {
        warren_codec::protocol::connection::AMQPMethod::Blocked(_) => Some(()),
        _ => None,
    })
    .await;
    raw
}

#[tokio::test]
async fn a_connection_warren_stopped_reading_is_not_timed_out_and_can_still_be_closed() {
    let mut config = Config::ephemeral();
    config.heartbeat = 1;
    let s = warren_server::start(config).await.unwrap();
    let mut raw = blocked_publisher(&s).await;
    // Blocked for three heartbeat intervals: the client's silence is ours.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    s.alarms.set_memory(false);
    raw.expect_connection_method(|m| match m {
        warren_codec::protocol::connection::AMQPMethod::Unblocked(_) => Some(()),
        _ => None,
    })
    .await;
    // Still open (a timed-out connection would be gone at once), and
    // usable.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(s.broker.connections.list().len(), 1, "not timed out");
    raw.open_channel(3).await;

    // A blocked connection still closes when management asks.
    let mut raw = blocked_publisher(&s).await;
    for c in s.broker.connections.list() {
        c.request_close("closed by an operator");
    }
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(
        (code, text.as_str()),
        (320, "CONNECTION_FORCED - closed by an operator")
    );
    s.alarms.set_memory(false);
    still_serving(&s).await;
}
