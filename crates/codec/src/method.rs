//! Method frames: a hand-written fast path for the methods every message
//! crosses, amq-protocol's generated parser for the rest.

use amq_protocol::protocol::{parse_class, AMQPClass};
use bytes::Bytes;

use crate::error::FrameError;

pub const CLASS_BASIC: u16 = 60;
pub const BASIC_PUBLISH: u16 = 40;
pub const BASIC_RETURN: u16 = 50;
pub const BASIC_DELIVER: u16 = 60;
pub const BASIC_GET_OK: u16 = 71;
pub const BASIC_ACK: u16 = 80;
pub const BASIC_REJECT: u16 = 90;
pub const BASIC_NACK: u16 = 120;

/// `basic.publish`, its short strings borrowed from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub exchange: Bytes,
    pub routing_key: Bytes,
    pub mandatory: bool,
    pub immediate: bool,
}

/// A decoded method.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    Publish(Publish),
    Ack {
        delivery_tag: u64,
        multiple: bool,
    },
    Nack {
        delivery_tag: u64,
        multiple: bool,
        requeue: bool,
    },
    Reject {
        delivery_tag: u64,
        requeue: bool,
    },
    Other(Box<AMQPClass>),
}

impl Method {
    /// The (class, method) ids, for error replies.
    pub fn ids(&self) -> (u16, u16) {
        match self {
            Method::Publish(_) => (CLASS_BASIC, BASIC_PUBLISH),
            Method::Ack { .. } => (CLASS_BASIC, BASIC_ACK),
            Method::Nack { .. } => (CLASS_BASIC, BASIC_NACK),
            Method::Reject { .. } => (CLASS_BASIC, BASIC_REJECT),
            Method::Other(m) => (m.get_amqp_class_id(), m.get_amqp_method_id()),
        }
    }
}

/// Decodes a method frame's payload.
pub fn decode(payload: Bytes) -> Result<Method, FrameError> {
    if payload.len() < 4 {
        return Err(FrameError::Undecodable { class: 0, method: 0 });
    }
    let class = u16::from_be_bytes([payload[0], payload[1]]);
    let method = u16::from_be_bytes([payload[2], payload[3]]);
    let syntax = FrameError::Undecodable { class, method };
    if class == CLASS_BASIC {
        let args = &payload[4..];
        match method {
            BASIC_PUBLISH => return decode_publish(&payload).ok_or(syntax),
            BASIC_ACK if args.len() == 9 => {
                return Ok(Method::Ack {
                    delivery_tag: tag(args),
                    multiple: args[8] & 1 != 0,
                })
            }
            BASIC_NACK if args.len() == 9 => {
                return Ok(Method::Nack {
                    delivery_tag: tag(args),
                    multiple: args[8] & 1 != 0,
                    requeue: args[8] & 2 != 0,
                })
            }
            BASIC_REJECT if args.len() == 9 => {
                return Ok(Method::Reject {
                    delivery_tag: tag(args),
                    requeue: args[8] & 1 != 0,
                })
            }
            BASIC_ACK | BASIC_NACK | BASIC_REJECT => return Err(syntax),
            _ => {}
        }
    }
    if !is_known(class, method) {
        return Err(FrameError::UnknownMethod { class, method });
    }
    if let Some(at) = table_offset(class, method, &payload[4..]) {
        if !crate::nesting::within_limit(&payload[4 + at..]) {
            let max = crate::nesting::MAX_NESTING;
            return Err(FrameError::TooDeep { class, method, max });
        }
    }
    match parse_class(&payload[..]) {
        Ok((&[], m)) => Ok(Method::Other(Box::new(m))),
        _ => Err(syntax),
    }
}

/// Where the field table of a client method starts in its arguments, for
/// the methods that carry one (`None` for the rest, or when the fields
/// before it do not fit, which the parser then refuses).
fn table_offset(class: u16, method: u16, args: &[u8]) -> Option<usize> {
    // (short strings, then a bits octet?) after a reserved short.
    let (strings, bits) = match (class, method) {
        (10, 11) => return Some(0),       // connection.start-ok: client properties first
        (40, 10) => (2, true),            // exchange.declare: exchange, type
        (40, 30) | (40, 40) => (3, true), // exchange.bind/unbind
        (50, 10) => (1, true),            // queue.declare: queue
        (50, 20) => (3, true),            // queue.bind: queue, exchange, routing key
        (50, 50) => (3, false),           // queue.unbind: no no-wait bit
        (60, 20) => (2, true),            // basic.consume: queue, consumer tag
        _ => return None,
    };
    let mut pos = 2;
    for _ in 0..strings {
        pos += 1 + *args.get(pos)? as usize;
    }
    Some(pos + usize::from(bits)).filter(|at| *at <= args.len())
}

fn tag(args: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&args[..8]);
    u64::from_be_bytes(b)
}

fn decode_publish(payload: &Bytes) -> Option<Method> {
    // class(2) method(2) reserved(2) exchange(shortstr) routing-key(shortstr) bits(1)
    let mut pos = 6;
    let exchange = shortstr(payload, &mut pos)?;
    let routing_key = shortstr(payload, &mut pos)?;
    let bits = *payload.get(pos)?;
    if pos + 1 != payload.len() {
        return None;
    }
    Some(Method::Publish(Publish {
        exchange,
        routing_key,
        mandatory: bits & 1 != 0,
        immediate: bits & 2 != 0,
    }))
}

fn shortstr(payload: &Bytes, pos: &mut usize) -> Option<Bytes> {
    let len = *payload.get(*pos)? as usize;
    let start = *pos + 1;
    let end = start + len;
    if end > payload.len() {
        return None;
    }
    *pos = end;
    Some(payload.slice(start..end))
}

/// Whether AMQP 0-9-1 (with RabbitMQ's extensions) defines this method.
fn is_known(class: u16, method: u16) -> bool {
    match class {
        10 => matches!(
            method,
            10 | 11 | 20 | 21 | 30 | 31 | 40 | 41 | 50 | 51 | 60 | 61 | 70 | 71
        ),
        20 => matches!(method, 10 | 11 | 20 | 21 | 40 | 41),
        30 => matches!(method, 10 | 11),
        40 => matches!(method, 10 | 11 | 20 | 21 | 30 | 31 | 40 | 51),
        50 => matches!(method, 10 | 11 | 20 | 21 | 30 | 31 | 40 | 41 | 50 | 51),
        60 => matches!(
            method,
            10 | 11 | 20 | 21 | 30 | 31 | 40 | 50 | 60 | 70 | 71 | 72 | 80 | 90 | 100 | 110 | 111 | 120
        ),
        85 => matches!(method, 10 | 11),
        90 => matches!(method, 10 | 11 | 20 | 21 | 30 | 31),
        _ => false,
    }
}
