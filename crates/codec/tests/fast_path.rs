//! The hand-written fast path against amq-protocol's generator and parser:
//! exact byte layout, truncation at every offset, and generated round trips.

use amq_protocol::frame::{gen_frame, parse_frame, AMQPContentHeader, AMQPFrame, WriteContext};
use amq_protocol::protocol::basic::{self, AMQPProperties};
use amq_protocol::protocol::AMQPClass;
use amq_protocol::types::{AMQPValue, FieldTable, ShortString};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use warren_codec::{decode_frame, encode, Frame, FrameError, Method, Properties};

fn generate(frame: &AMQPFrame) -> Vec<u8> {
    let written = gen_frame(frame)(WriteContext::from(Vec::new()));
    written.expect("amq-protocol encodes").into_inner().0
}

fn publish_frame(exchange: &str, key: &str, mandatory: bool, immediate: bool) -> Vec<u8> {
    generate(&AMQPFrame::Method(
        3,
        AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
            exchange: exchange.into(),
            routing_key: key.into(),
            mandatory,
            immediate,
        })),
    ))
}

fn properties_bytes(props: &AMQPProperties) -> Vec<u8> {
    let written = basic::gen_properties(props)(WriteContext::from(Vec::new()));
    written.expect("properties encode").into_inner().0
}

fn decode_all(bytes: &[u8], frame_max: u32) -> Result<Vec<Frame>, FrameError> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(f) = decode_frame(&mut buf, frame_max)? {
        out.push(f);
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    Ok(out)
}

#[test]
fn publish_decodes_to_borrowed_fields() {
    let bytes = publish_frame("amq.topic", "a.b.c", true, false);
    let frames = decode_all(&bytes, 131072).unwrap();
    let [Frame::Method {
        channel: 3,
        method: Method::Publish(p),
    }] = &frames[..]
    else {
        panic!("{frames:?}")
    };
    assert_eq!(&p.exchange[..], b"amq.topic");
    assert_eq!(&p.routing_key[..], b"a.b.c");
    assert!(p.mandatory && !p.immediate);
}

#[test]
fn deliver_has_the_exact_byte_layout() {
    let mut out = BytesMut::new();
    encode::deliver(&mut out, 1, b"ct", 0x0102, true, b"x", b"rk");
    let want: &[u8] = &[
        1, 0, 1, // method frame, channel 1
        0, 0, 0, 21, // payload size
        0, 60, 0, 60, // basic.deliver
        2, b'c', b't', // consumer tag
        0, 0, 0, 0, 0, 0, 1, 2, // delivery tag
        1, // redelivered
        1, b'x', // exchange
        2, b'r', b'k', // routing key
        0xCE,
    ];
    assert_eq!(&out[..], want);
}

#[test]
fn ack_nack_and_confirm_layouts_match_amq_protocol() {
    let mut out = BytesMut::new();
    encode::ack(&mut out, 9, 77, true);
    let theirs = generate(&AMQPFrame::Method(
        9,
        AMQPClass::Basic(basic::AMQPMethod::Ack(basic::Ack {
            delivery_tag: 77,
            multiple: true,
        })),
    ));
    assert_eq!(&out[..], &theirs[..]);
    let mut out = BytesMut::new();
    encode::nack(&mut out, 9, 5, false);
    let theirs = generate(&AMQPFrame::Method(
        9,
        AMQPClass::Basic(basic::AMQPMethod::Nack(basic::Nack {
            delivery_tag: 5,
            multiple: false,
            requeue: false,
        })),
    ));
    assert_eq!(&out[..], &theirs[..]);
}

#[test]
fn every_truncation_of_a_fast_path_frame_asks_for_more() {
    let mut frames = publish_frame("x", "k", false, false);
    let mut content = BytesMut::new();
    encode::content(
        &mut content,
        3,
        &properties_bytes(&AMQPProperties::default()),
        b"hello",
        131072,
    );
    frames.extend_from_slice(&content);
    let mut ack = BytesMut::new();
    encode::ack(&mut ack, 3, 1, false);
    frames.extend_from_slice(&ack);
    for cut in 0..frames.len() {
        let mut buf = BytesMut::from(&frames[..cut]);
        let mut decoded = 0;
        while let Some(_f) = decode_frame(&mut buf, 131072).unwrap() {
            decoded += 1;
        }
        assert!(decoded < 4, "cut at {cut} decoded every frame");
    }
    assert_eq!(decode_all(&frames, 131072).unwrap().len(), 4);
}

#[test]
fn a_payload_cut_short_inside_a_complete_frame_is_a_frame_error_as_in_rabbitmq() {
    let full = publish_frame("exchange", "key", false, false);
    let payload = &full[7..full.len() - 1];
    for cut in 4..payload.len() {
        let mut f = vec![1, 0, 3];
        f.extend_from_slice(&(cut as u32).to_be_bytes());
        f.extend_from_slice(&payload[..cut]);
        f.push(0xCE);
        let err = decode_all(&f, 131072).unwrap_err();
        assert_eq!(err.reply_code(), 501, "cut {cut}: {err}");
    }
}

#[test]
fn oversized_frames_are_refused_from_the_header_alone() {
    let header = [3u8, 0, 1, 0, 0, 0x10, 0];
    let mut buf = BytesMut::from(&header[..]);
    assert_eq!(
        decode_frame(&mut buf, 4096),
        Err(FrameError::TooLarge {
            size: 4096,
            max: 4096
        })
    );
}

#[test]
fn bad_frame_end_and_unknown_type_are_frame_errors() {
    let mut f = publish_frame("x", "k", false, false);
    *f.last_mut().unwrap() = 0;
    assert_eq!(decode_all(&f, 131072).unwrap_err().reply_code(), 501);
    let mut g = publish_frame("x", "k", false, false);
    g[0] = 9;
    assert_eq!(
        decode_all(&g, 131072).unwrap_err(),
        FrameError::UnknownFrameType(9)
    );
}

#[test]
fn unknown_methods_are_540() {
    let f = generate(&AMQPFrame::Heartbeat);
    assert!(matches!(
        decode_all(&f, 0).unwrap()[..],
        [Frame::Heartbeat { channel: 0 }]
    ));
    let mut m = vec![1, 0, 1, 0, 0, 0, 4, 0, 60, 0, 99, 0xCE];
    assert_eq!(decode_all(&m, 0).unwrap_err().reply_code(), 540);
    m[8] = 61;
    assert_eq!(decode_all(&m, 0).unwrap_err().reply_code(), 540);
}

fn shortstr() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9._#*-]{0,255}").unwrap()
}

fn table() -> impl Strategy<Value = FieldTable> {
    proptest::collection::btree_map("[a-z]{1,8}", any::<i32>(), 0..4).prop_map(|m| {
        let mut t = FieldTable::default();
        for (k, v) in m {
            t.insert(ShortString::from(k), AMQPValue::LongInt(v));
        }
        t
    })
}

proptest! {
    #[test]
    fn publish_round_trips_through_amq_protocol(
        exchange in shortstr(), key in shortstr(), mandatory in any::<bool>(), immediate in any::<bool>()
    ) {
        let bytes = publish_frame(&exchange, &key, mandatory, immediate);
        let frames = decode_all(&bytes, 0).unwrap();
        let [Frame::Method { method: Method::Publish(p), .. }] = &frames[..] else { panic!("{frames:?}") };
        prop_assert_eq!(&p.exchange[..], exchange.as_bytes());
        prop_assert_eq!(&p.routing_key[..], key.as_bytes());
        prop_assert_eq!((p.mandatory, p.immediate), (mandatory, immediate));
    }

    #[test]
    fn deliver_and_content_parse_back_in_amq_protocol(
        tag in shortstr(), delivery_tag in any::<u64>(), redelivered in any::<bool>(),
        exchange in shortstr(), key in shortstr(),
        body in proptest::collection::vec(any::<u8>(), 0..20_000),
        delivery_mode in proptest::option::of(1u8..=2), priority in proptest::option::of(any::<u8>()),
        expiration in proptest::option::of("[0-9]{1,6}"), reply_to in proptest::option::of(shortstr()),
        headers in proptest::option::of(table()),
        frame_max in 4096u32..20_000,
    ) {
        let mut props = AMQPProperties::default();
        if let Some(d) = delivery_mode { props = props.with_delivery_mode(d); }
        if let Some(p) = priority { props = props.with_priority(p); }
        if let Some(e) = &expiration { props = props.with_expiration(e.as_str().into()); }
        if let Some(r) = &reply_to { props = props.with_reply_to(r.as_str().into()); }
        if let Some(h) = &headers { props = props.with_headers(h.clone()); }
        let raw = properties_bytes(&props);

        // What the broker reads from the raw properties agrees with amq-protocol.
        let view = Properties::parse(&raw).unwrap();
        prop_assert_eq!(view.delivery_mode, delivery_mode.unwrap_or(0));
        prop_assert_eq!(view.priority, priority);
        prop_assert_eq!(view.expiration(&raw), expiration.as_deref().map(str::as_bytes));
        prop_assert_eq!(view.reply_to(&raw), reply_to.as_deref().map(str::as_bytes));
        prop_assert_eq!(view.headers(&raw), headers.clone());

        let mut out = BytesMut::new();
        encode::deliver(&mut out, 7, tag.as_bytes(), delivery_tag, redelivered, exchange.as_bytes(), key.as_bytes());
        encode::content(&mut out, 7, &raw, &body, frame_max);
        let mut rest: &[u8] = &out;
        let mut got_body = Vec::new();
        let mut frames = 0;
        while !rest.is_empty() {
            let (next, frame) = parse_frame(rest).expect("amq-protocol parses our frames");
            prop_assert!(rest.len() - next.len() <= frame_max as usize);
            rest = next;
            match (frames, frame) {
                (0, AMQPFrame::Method(7, AMQPClass::Basic(basic::AMQPMethod::Deliver(d)))) => {
                    prop_assert_eq!(d.consumer_tag.as_str(), tag.as_str());
                    prop_assert_eq!(d.delivery_tag, delivery_tag);
                    prop_assert_eq!(d.redelivered, redelivered);
                    prop_assert_eq!(d.exchange.as_str(), exchange.as_str());
                    prop_assert_eq!(d.routing_key.as_str(), key.as_str());
                }
                (1, AMQPFrame::Header(7, h)) => {
                    let AMQPContentHeader { class_id, body_size, properties } = h;
                    prop_assert_eq!(class_id, 60);
                    prop_assert_eq!(body_size, body.len() as u64);
                    prop_assert_eq!(&properties, &props);
                }
                (_, AMQPFrame::Body(7, part)) => got_body.extend_from_slice(&part),
                (i, other) => prop_assert!(false, "frame {} unexpected: {:?}", i, other),
            }
            frames += 1;
        }
        prop_assert_eq!(got_body, body);
    }

    #[test]
    fn acks_nacks_and_rejects_decode(tag in any::<u64>(), multiple in any::<bool>(), requeue in any::<bool>()) {
        let methods = [
            basic::AMQPMethod::Ack(basic::Ack { delivery_tag: tag, multiple }),
            basic::AMQPMethod::Nack(basic::Nack { delivery_tag: tag, multiple, requeue }),
            basic::AMQPMethod::Reject(basic::Reject { delivery_tag: tag, requeue }),
        ];
        let want = [
            Method::Ack { delivery_tag: tag, multiple },
            Method::Nack { delivery_tag: tag, multiple, requeue },
            Method::Reject { delivery_tag: tag, requeue },
        ];
        for (m, w) in methods.into_iter().zip(want) {
            let bytes = generate(&AMQPFrame::Method(2, AMQPClass::Basic(m)));
            let frames = decode_all(&bytes, 0).unwrap();
            prop_assert_eq!(frames, vec![Frame::Method { channel: 2, method: w }]);
        }
    }
}

#[test]
fn bodies_are_slices_of_the_read_buffer() {
    let mut content = BytesMut::new();
    encode::content(
        &mut content,
        1,
        &properties_bytes(&AMQPProperties::default()),
        b"payload",
        131072,
    );
    let frames = decode_all(&content, 131072).unwrap();
    let Frame::Body { payload, .. } = &frames[1] else {
        panic!()
    };
    assert_eq!(payload, &Bytes::from_static(b"payload"));
}
