//! Hostile clients never take the broker down: whatever one client sends
//! closes that client's connection with a clear AMQP error, and a normal
//! client goes on publishing and consuming afterwards.

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warren_tests::raw::{deeply_nested_table, frame, method_frame, queue_declare_payload, Raw};
use warren_tests::*;

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
    raw.send_bytes(&frame(2, 1, &header)).await;
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

/// Frames no client library sends, each on its own connection (channel 1
/// open): each closes that connection with RabbitMQ 3.10's code (observed
/// side by side), or a clear one where RabbitMQ has none, and the broker
/// goes on serving. Where RabbitMQ is weak Warren does better: an unknown
/// method id crashes RabbitMQ's connection without a close (Warren: 540),
/// and a body longer than its header declared leaves RabbitMQ waiting for
/// more body (Warren: 501 at once). Oversized short strings, truncated
/// tables, unknown classes and unopened channels are in `raw_frames::`.
#[tokio::test]
async fn frames_no_client_sends_close_only_their_connection() {
    let s = start().await;
    let publish = method_frame(1, &[0, 60, 0, 40, 0, 0, 0, 1, b'q', 0]);
    let header = frame(2, 1, &[0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0]);
    let mut body_too_long = publish.clone();
    body_too_long.extend(header);
    body_too_long.extend(frame(3, 1, b"0123456789"));
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "an unknown frame type",
            frame(9, 1, &[0, 1, 2, 3]),
            501,
            "FRAME_ERROR - ",
        ),
        (
            "a heartbeat on channel 1",
            frame(8, 1, &[]),
            505,
            "UNEXPECTED_FRAME - ",
        ),
        (
            "a content header on a channel never opened",
            frame(2, 5, &[0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0]),
            505,
            "UNEXPECTED_FRAME - expected method frame, got non method frame instead",
        ),
        (
            "an unknown method of a known class",
            method_frame(1, &[0, 60, 0x03, 0xE7]),
            540,
            "NOT_IMPLEMENTED - ",
        ),
        (
            "a body longer than its header declared",
            body_too_long,
            501,
            "FRAME_ERROR - ",
        ),
        (
            "method arguments cut short",
            method_frame(1, &[0, 50, 0, 10, 0, 0, 3, b'a', b'b']),
            501,
            "FRAME_ERROR - cannot decode",
        ),
        ("an empty method frame", frame(1, 1, &[]), 501, "FRAME_ERROR - "),
        (
            "queue.declare on channel 0",
            method_frame(0, &queue_declare_payload("q0", &[0, 0, 0, 0])),
            504,
            "CHANNEL_ERROR - unexpected method in connection state running",
        ),
        (
            "a body on channel 0",
            frame(3, 0, b"hello"),
            505,
            "UNEXPECTED_FRAME - ",
        ),
        (
            "channel.open on channel 0",
            method_frame(0, &[0, 20, 0, 10, 0]),
            504,
            "CHANNEL_ERROR - unexpected method in connection state running",
        ),
    ];
    for (what, bytes, code, text) in cases {
        let mut raw = Raw::connect(s.addr()).await;
        raw.open_channel(1).await;
        raw.send_bytes(&bytes).await;
        let (got, reason) = raw.expect_connection_close().await;
        assert_eq!(got, code, "{what}: {reason}");
        assert!(reason.starts_with(text), "{what}: {reason}");
        still_serving(&s).await;
    }
}

/// A frame cut off by the client hanging up, in its header or in its
/// payload: the connection is gone and its slot freed.
#[tokio::test]
async fn a_frame_cut_off_by_a_hang_up_frees_the_connection() {
    let s = start().await;
    let declare = method_frame(1, &queue_declare_payload("cut", &[0, 0, 0, 0]));
    for cut in [5, declare.len() - 3] {
        let mut raw = Raw::connect(s.addr()).await;
        raw.open_channel(1).await;
        raw.send_bytes(&declare[..cut]).await;
        raw.stream.shutdown().await.unwrap();
        assert!(raw.read_to_end().await.is_empty(), "nothing answers half a frame");
        let gone = tokio::time::timeout(PATIENCE, async {
            while !s.broker.connections.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        });
        gone.await.expect("the connection is gone");
        still_serving(&s).await;
    }
}

/// Polls `value` until it stops changing for a second, and returns it.
async fn settled(mut value: impl FnMut() -> u64) -> u64 {
    tokio::time::timeout(PATIENCE, async {
        let (mut last, mut same) = (value(), 0);
        while same < 5 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let now = value();
            same = if now == last { same + 1 } else { 0 };
            last = now;
        }
        last
    })
    .await
    .expect("settles")
}

/// The messages ready in `queue`, seen from the broker.
fn ready(s: &Server, queue: &str) -> u64 {
    u64::from(s.broker.vhost("/").unwrap().queue(queue).unwrap().message_count())
}

const BIG: usize = 64 * 1024;

/// A client that sends `basic.get` after `basic.get` and reads none of the
/// answers stops being read once a few MiB wait for it: Warren does not
/// take every message out of the queue into its memory. When the client
/// reads again, every answer arrives and the connection goes on.
#[tokio::test]
async fn a_client_that_gets_without_reading_stops_being_read() {
    let s = start().await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "big").await.unwrap();
    let body = vec![7u8; BIG];
    for _ in 0..1000 {
        publish(&ch, "", "big", &body).await;
    }
    sync(&ch).await;
    assert_eq!(ready(&s, "big"), 1000);

    let mut raw = Raw::connect_small_window(s.addr()).await;
    raw.open_channel(1).await;
    let mut gets = Vec::new();
    for _ in 0..1000 {
        // basic.get on queue "big", no-ack.
        gets.extend(method_frame(1, &[0, 60, 0, 70, 0, 0, 3, b'b', b'i', b'g', 1]));
    }
    raw.send_bytes(&gets).await;
    // 64 MB were asked for; what waits in Warren's buffer is bounded (4
    // MiB), and the kernel's send buffer holds a few MiB more.
    let taken = 1000 - settled(|| ready(&s, "big")).await;
    eprintln!("{taken} of 1000 messages taken before Warren stopped reading");
    assert!(
        taken < 400,
        "{taken} of 1000 messages taken for a client that reads nothing"
    );

    // The client reads again: every get is answered.
    let (mut get_oks, mut bodies) = (0, 0);
    while bodies < 1000 {
        match raw.recv().await.expect("get-ok frames") {
            warren_codec::Frame::Body { payload, .. } => {
                assert_eq!(payload.len(), BIG);
                bodies += 1;
            }
            warren_codec::Frame::Method {
                method: warren_codec::Method::Other(m),
                ..
            } => match *m {
                warren_codec::AMQPClass::Basic(warren_codec::protocol::basic::AMQPMethod::GetOk(_)) => {
                    get_oks += 1
                }
                other => panic!("unexpected {other:?}"),
            },
            _ => {}
        }
    }
    assert_eq!(get_oks, 1000);
    assert_eq!(ready(&s, "big"), 0);
    raw.open_channel(2).await;
    still_serving(&s).await;
}

/// Mandatory messages that route nowhere come back as `basic.return`; a
/// publisher that never reads them stops being read, so the returns
/// waiting in Warren stay bounded. Once it reads, every return arrives.
#[tokio::test]
async fn a_publisher_that_never_reads_its_returns_stops_being_read() {
    let s = start().await;
    let mut raw = Raw::connect_small_window(s.addr()).await;
    raw.open_channel(1).await;
    let me = raw.stream.local_addr().unwrap();
    let io = s
        .broker
        .connections
        .list()
        .into_iter()
        .find(|c| c.peer == me)
        .expect("the publisher's connection")
        .io
        .clone();
    let total = 1000;
    let mut publishes = Vec::with_capacity(total * (BIG + 64));
    let body = vec![1u8; BIG];
    for _ in 0..total {
        // basic.publish to the default exchange, key "nowhere", mandatory.
        publishes.extend(method_frame(
            1,
            &[
                0, 60, 0, 40, 0, 0, 0, 7, b'n', b'o', b'w', b'h', b'e', b'r', b'e', 1,
            ],
        ));
        let mut content = BytesMut::new();
        warren_codec::encode::content(&mut content, 1, &[0, 0], &body, 131072);
        publishes.extend_from_slice(&content);
    }
    let (mut rd, mut wr) = raw.stream.split();
    let write = async {
        wr.write_all(&publishes)
            .await
            .expect("the publishes are all read in the end");
    };
    let read = async {
        // 64 MB of returns are owed; Warren stops reading the publisher
        // once 4 MiB wait to be written.
        let received = settled(|| io.snapshot().recv_oct).await;
        assert!(
            received < (total * BIG / 2) as u64,
            "{received} bytes read from a publisher that reads nothing"
        );
        let mut buf = BytesMut::with_capacity(1 << 20);
        let mut returns = 0;
        while returns < total {
            match warren_codec::decode_frame(&mut buf, 0).unwrap() {
                Some(warren_codec::Frame::Method { method, .. }) => {
                    let warren_codec::Method::Other(m) = method else {
                        continue;
                    };
                    match *m {
                        warren_codec::AMQPClass::Basic(
                            warren_codec::protocol::basic::AMQPMethod::Return(r),
                        ) => {
                            assert_eq!(r.reply_code, 312);
                            returns += 1;
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                Some(_) => {}
                None => {
                    buf.reserve(64 * 1024);
                    let n = tokio::time::timeout(PATIENCE, rd.read_buf(&mut buf))
                        .await
                        .expect("returns keep coming")
                        .unwrap();
                    assert!(n > 0, "the server hung up");
                }
            }
        }
    };
    tokio::join!(write, read);
    still_serving(&s).await;
}

/// A transaction holds at most `max_transaction_size` bytes: past it the
/// channel is closed with 406, before the body that would pass it is
/// read, and nothing of the transaction is published.
#[tokio::test]
async fn a_transaction_past_max_transaction_size_closes_its_channel() {
    let mut config = Config::ephemeral();
    config.max_transaction_size = 100_000;
    let s = warren_server::start(config).await.unwrap();
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "tx").await.unwrap();
    // Raw frames: the client reads the channel.close itself (lapin may
    // see it before it sends tx.commit, and then reports only its state).
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    raw.send(
        1,
        warren_codec::AMQPClass::Tx(warren_codec::protocol::tx::AMQPMethod::Select(
            warren_codec::protocol::tx::Select {},
        )),
    )
    .await;
    raw.recv().await.expect("tx.select-ok");
    let body = vec![0u8; 40_000];
    for _ in 0..2 {
        raw.publish(1, "tx", &body).await;
    }
    // The third body would take the transaction past 100,000 bytes.
    raw.publish(1, "tx", &body).await;
    let (code, text) = raw.expect_channel_close(1).await;
    assert_eq!(code, 406, "{text}");
    assert!(
        text.starts_with("PRECONDITION_FAILED - transaction size 120")
            && text.ends_with("is larger than configured max transaction size 100000"),
        "{text}"
    );
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(count(&ch, "tx").await, 0, "the transaction was discarded");
    // A transaction under the limit commits.
    ch.tx_select().await.unwrap();
    publish(&ch, "", "tx", &body).await;
    ch.tx_commit().await.unwrap();
    assert_eq!(count(&ch, "tx").await, 1);
}

/// JSON `{"n": {"n": ...}}` nesting `levels` objects, the outermost
/// counted.
fn nested_json(levels: usize) -> serde_json::Value {
    let mut v = serde_json::json!({});
    for _ in 1..levels {
        v = serde_json::json!({ "n": v });
    }
    v
}

/// Tables that arrive over the management API (queue arguments, message
/// headers, definitions) have the AMQP limit too: 100 levels pass, 101 are
/// a 400 that names the limit, and nothing is declared or published.
#[tokio::test]
async fn tables_nested_too_deep_over_http_are_refused() {
    use warren_tests::http::{call, server, GUEST};
    let s = server().await;
    let (st, body) = call(
        &s,
        "PUT",
        "/api/queues/%2F/deep",
        GUEST,
        Some(serde_json::json!({"arguments": nested_json(101)})),
    )
    .await;
    assert_eq!(st, 400, "{body}");
    assert_eq!(body["reason"], "field table nested deeper than 100 levels");
    assert!(s.broker.vhost("/").unwrap().queue("deep").is_none());
    let (st, body) = call(
        &s,
        "PUT",
        "/api/queues/%2F/deep",
        GUEST,
        Some(serde_json::json!({"arguments": nested_json(100)})),
    )
    .await;
    assert_eq!(st, 201, "{body}");

    let publish = |headers| {
        serde_json::json!({
            "routing_key": "deep", "payload": "x", "payload_encoding": "string",
            "properties": {"headers": headers}
        })
    };
    let (st, body) = call(
        &s,
        "POST",
        "/api/exchanges/%2F/amq.default/publish",
        GUEST,
        Some(publish(nested_json(101))),
    )
    .await;
    assert_eq!(st, 400, "{body}");
    let (st, body) = call(
        &s,
        "POST",
        "/api/exchanges/%2F/amq.default/publish",
        GUEST,
        Some(publish(nested_json(100))),
    )
    .await;
    assert_eq!((st, body["routed"].as_bool()), (200, Some(true)), "{body}");

    // Arrays count as levels too, as on the wire.
    let mut arrays = serde_json::json!([]);
    for _ in 1..100 {
        arrays = serde_json::json!([arrays]);
    }
    let defs = serde_json::json!({"queues": [{
        "name": "deeper", "vhost": "/", "durable": true, "auto_delete": false,
        "arguments": {"a": arrays}
    }]});
    let (st, body) = call(&s, "POST", "/api/definitions", GUEST, Some(defs)).await;
    assert_eq!(st, 400, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("nested deeper than 100 levels"),
        "{body}"
    );
    assert!(s.broker.vhost("/").unwrap().queue("deeper").is_none());
    still_serving(&s).await;
}
