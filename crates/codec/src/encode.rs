//! Writing frames into an outgoing buffer.
//!
//! The fast path writes `deliver`, `get-ok`, `return`, confirms and content
//! frames by hand; everything else goes through amq-protocol's generator.

use amq_protocol::frame::{gen_frame, AMQPFrame, WriteContext};
use amq_protocol::protocol::AMQPClass;
use bytes::{BufMut, BytesMut};

use crate::frame::{FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_OVERHEAD};
use crate::method::{BASIC_ACK, BASIC_DELIVER, BASIC_GET_OK, BASIC_NACK, BASIC_RETURN, CLASS_BASIC};

/// Starts a frame and returns the offset of its size field.
fn begin(out: &mut BytesMut, kind: u8, channel: u16) -> usize {
    out.put_u8(kind);
    out.put_u16(channel);
    let at = out.len();
    out.put_u32(0);
    at
}

/// Fills in the size field and writes the frame-end octet.
fn end(out: &mut BytesMut, size_at: usize) {
    let size = (out.len() - size_at - 4) as u32;
    out[size_at..size_at + 4].copy_from_slice(&size.to_be_bytes());
    out.put_u8(FRAME_END);
}

/// Short strings on the fast path come from the wire or from names the broker
/// validated, so they fit; the cut is only a guard against a bad caller.
fn shortstr(out: &mut BytesMut, s: &[u8]) {
    let s = &s[..s.len().min(255)];
    out.put_u8(s.len() as u8);
    out.put_slice(s);
}

/// Any method, through amq-protocol's generator.
pub fn method(out: &mut BytesMut, channel: u16, method: &AMQPClass) {
    let frame = AMQPFrame::Method(channel, method.clone());
    let encoded = gen_frame(&frame)(WriteContext::from(Vec::with_capacity(64)));
    match encoded {
        Ok(ctx) => out.put_slice(&ctx.into_inner().0),
        Err(e) => tracing::error!("cannot encode {method:?}: {e}"),
    }
}

pub fn heartbeat(out: &mut BytesMut) {
    let at = begin(out, FRAME_HEARTBEAT, 0);
    end(out, at);
}

pub fn deliver(
    out: &mut BytesMut,
    channel: u16,
    consumer_tag: &[u8],
    delivery_tag: u64,
    redelivered: bool,
    exchange: &[u8],
    routing_key: &[u8],
) {
    let at = begin(out, FRAME_METHOD, channel);
    out.put_u16(CLASS_BASIC);
    out.put_u16(BASIC_DELIVER);
    shortstr(out, consumer_tag);
    out.put_u64(delivery_tag);
    out.put_u8(redelivered as u8);
    shortstr(out, exchange);
    shortstr(out, routing_key);
    end(out, at);
}

#[allow(clippy::too_many_arguments)]
pub fn get_ok(
    out: &mut BytesMut,
    channel: u16,
    delivery_tag: u64,
    redelivered: bool,
    exchange: &[u8],
    routing_key: &[u8],
    message_count: u32,
) {
    let at = begin(out, FRAME_METHOD, channel);
    out.put_u16(CLASS_BASIC);
    out.put_u16(BASIC_GET_OK);
    out.put_u64(delivery_tag);
    out.put_u8(redelivered as u8);
    shortstr(out, exchange);
    shortstr(out, routing_key);
    out.put_u32(message_count);
    end(out, at);
}

pub fn basic_return(
    out: &mut BytesMut,
    channel: u16,
    code: u16,
    text: &str,
    exchange: &[u8],
    routing_key: &[u8],
) {
    let at = begin(out, FRAME_METHOD, channel);
    out.put_u16(CLASS_BASIC);
    out.put_u16(BASIC_RETURN);
    out.put_u16(code);
    shortstr(out, text.as_bytes());
    shortstr(out, exchange);
    shortstr(out, routing_key);
    end(out, at);
}

/// A publisher confirm.
pub fn ack(out: &mut BytesMut, channel: u16, delivery_tag: u64, multiple: bool) {
    let at = begin(out, FRAME_METHOD, channel);
    out.put_u16(CLASS_BASIC);
    out.put_u16(BASIC_ACK);
    out.put_u64(delivery_tag);
    out.put_u8(multiple as u8);
    end(out, at);
}

/// A negative publisher confirm.
pub fn nack(out: &mut BytesMut, channel: u16, delivery_tag: u64, multiple: bool) {
    let at = begin(out, FRAME_METHOD, channel);
    out.put_u16(CLASS_BASIC);
    out.put_u16(BASIC_NACK);
    out.put_u64(delivery_tag);
    out.put_u8(multiple as u8);
    end(out, at);
}

/// A content header followed by the body cut into frames that fit `frame_max`.
pub fn content(out: &mut BytesMut, channel: u16, properties: &[u8], body: &[u8], frame_max: u32) {
    out.reserve(properties.len() + body.len() + 64);
    let at = begin(out, FRAME_HEADER, channel);
    out.put_u16(CLASS_BASIC);
    out.put_u16(0);
    out.put_u64(body.len() as u64);
    out.put_slice(properties);
    end(out, at);
    let chunk = (frame_max as usize).saturating_sub(FRAME_OVERHEAD).max(1);
    for part in body.chunks(chunk) {
        let at = begin(out, FRAME_BODY, channel);
        out.put_slice(part);
        end(out, at);
    }
}
