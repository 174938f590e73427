//! The log's record format: `[len u32][crc32c u32][payload]`, big-endian,
//! with the CRC over the payload. The first payload byte is the kind.
//!
//! * message: `1, queues u16, queue ids u32 each, exchange (u8 len), routing
//!   key (u8 len), properties (u32 len), body (u32 len)`. Its id is its
//!   position in the log: `segment << 32 | offset`.
//! * ack: `2, message id u64, queue id u32`: the message left that queue.
//! * delivered: `3, message id u64, queue id u32`: first delivery (so a
//!   recovered message is marked redelivered).
//! * spilled: `4` and the message layout (no queue ids): a message paged
//!   out of memory; not recovered.
//! * returned: `5, message id u64, queue id u32`: the message went back to
//!   that queue unacknowledged (quorum queues count these in
//!   `x-delivery-count` and against `x-delivery-limit`).
//! * delayed: `6, due u64` (Unix milliseconds) and the message layout, its
//!   one "queue" id being a delayed-message exchange's: a persistent
//!   message waiting for its `x-delay`. An ack record for that id ends the
//!   wait (the message was routed, or its exchange deleted).

use bytes::{Buf, Bytes};

pub const HEADER: usize = 8;
pub const KIND_MESSAGE: u8 = 1;
pub const KIND_ACK: u8 = 2;
pub const KIND_DELIVERED: u8 = 3;
/// A message written only to take it out of memory (a queue's backlog);
/// recovery skips it.
pub const KIND_SPILLED: u8 = 4;
pub const KIND_RETURNED: u8 = 5;
pub const KIND_DELAYED: u8 = 6;

/// The parts of a message the log keeps.
pub struct MessageParts<'a> {
    pub queues: &'a [u32],
    pub exchange: &'a [u8],
    pub routing_key: &'a [u8],
    pub properties: &'a [u8],
    pub body: &'a [u8],
}

impl MessageParts<'_> {
    pub fn payload_len(&self) -> usize {
        1 + 2
            + 4 * self.queues.len()
            + 1
            + self.exchange.len().min(255)
            + 1
            + self.routing_key.len().min(255)
            + 4
            + self.properties.len()
            + 4
            + self.body.len()
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_as(KIND_MESSAGE, out)
    }

    /// Encodes a delayed message, due at `due` (Unix milliseconds); its
    /// payload is 8 bytes longer than [`MessageParts::payload_len`].
    pub fn encode_delayed(&self, due: u64, out: &mut Vec<u8>) {
        out.push(KIND_DELAYED);
        out.extend_from_slice(&due.to_be_bytes());
        self.encode_layout(out);
    }

    /// Encodes with another kind byte (`KIND_SPILLED`).
    pub fn encode_as(&self, kind: u8, out: &mut Vec<u8>) {
        out.push(kind);
        self.encode_layout(out);
    }

    fn encode_layout(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.queues.len() as u16).to_be_bytes());
        for q in self.queues {
            out.extend_from_slice(&q.to_be_bytes());
        }
        let ex = &self.exchange[..self.exchange.len().min(255)];
        out.push(ex.len() as u8);
        out.extend_from_slice(ex);
        let rk = &self.routing_key[..self.routing_key.len().min(255)];
        out.push(rk.len() as u8);
        out.extend_from_slice(rk);
        out.extend_from_slice(&(self.properties.len() as u32).to_be_bytes());
        out.extend_from_slice(self.properties);
        out.extend_from_slice(&(self.body.len() as u32).to_be_bytes());
        out.extend_from_slice(self.body);
    }
}

/// Encodes an ack or delivered record's payload.
pub fn encode_mark(kind: u8, message: u64, queue: u32, out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(&message.to_be_bytes());
    out.extend_from_slice(&queue.to_be_bytes());
}

pub const MARK_LEN: usize = 1 + 8 + 4;

/// Wraps a payload written at `out[start + HEADER..]` with its header.
pub fn seal(out: &mut [u8], start: usize) {
    let payload = &out[start + HEADER..];
    let len = payload.len() as u32;
    let crc = crc32c::crc32c(payload);
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_be_bytes());
}

/// A decoded record; byte fields are slices of the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Message {
        queues: Vec<u32>,
        exchange: Bytes,
        routing_key: Bytes,
        properties: Bytes,
        body: Bytes,
        /// Written only to page it out of memory.
        spilled: bool,
        /// A delayed message: when it is due (Unix milliseconds).
        due: Option<u64>,
    },
    Ack {
        message: u64,
        queue: u32,
    },
    Delivered {
        message: u64,
        queue: u32,
    },
    Returned {
        message: u64,
        queue: u32,
    },
}

/// What is at an offset of a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A valid record and the length it takes.
    Record(Record, usize),
    /// Zeros: the rest of the segment was never written.
    End,
    /// A record cut short or failing its CRC.
    Torn,
}

/// Reads the record at the start of `seg`.
pub fn read(seg: &Bytes) -> Read {
    if seg.len() < HEADER {
        return if seg.iter().all(|b| *b == 0) {
            Read::End
        } else {
            Read::Torn
        };
    }
    let len = u32::from_be_bytes([seg[0], seg[1], seg[2], seg[3]]) as usize;
    let crc = u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]);
    if len == 0 {
        return if crc == 0 { Read::End } else { Read::Torn };
    }
    if HEADER + len > seg.len() {
        return Read::Torn;
    }
    let payload = seg.slice(HEADER..HEADER + len);
    if crc32c::crc32c(&payload) != crc {
        return Read::Torn;
    }
    match decode(payload) {
        Some(r) => Read::Record(r, HEADER + len),
        None => Read::Torn,
    }
}

fn decode(mut p: Bytes) -> Option<Record> {
    fn need(p: &Bytes, n: usize) -> Option<()> {
        (p.remaining() >= n).then_some(())
    }
    need(&p, 1)?;
    match p.get_u8() {
        kind @ (KIND_MESSAGE | KIND_SPILLED | KIND_DELAYED) => {
            let due = if kind == KIND_DELAYED {
                need(&p, 8)?;
                Some(p.get_u64())
            } else {
                None
            };
            need(&p, 2)?;
            let n = p.get_u16() as usize;
            need(&p, 4 * n)?;
            let queues = (0..n).map(|_| p.get_u32()).collect();
            need(&p, 1)?;
            let l = p.get_u8() as usize;
            need(&p, l)?;
            let exchange = p.split_to(l);
            need(&p, 1)?;
            let l = p.get_u8() as usize;
            need(&p, l)?;
            let routing_key = p.split_to(l);
            need(&p, 4)?;
            let l = p.get_u32() as usize;
            need(&p, l)?;
            let properties = p.split_to(l);
            need(&p, 4)?;
            let l = p.get_u32() as usize;
            need(&p, l)?;
            let body = p.split_to(l);
            Some(Record::Message {
                queues,
                exchange,
                routing_key,
                properties,
                body,
                spilled: kind == KIND_SPILLED,
                due,
            })
        }
        kind @ (KIND_ACK | KIND_DELIVERED | KIND_RETURNED) => {
            need(&p, 12)?;
            let message = p.get_u64();
            let queue = p.get_u32();
            Some(match kind {
                KIND_ACK => Record::Ack { message, queue },
                KIND_DELIVERED => Record::Delivered { message, queue },
                _ => Record::Returned { message, queue },
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = vec![0; HEADER];
        f(&mut out);
        seal(&mut out, 0);
        out
    }

    #[test]
    fn message_round_trip_and_every_truncation_is_torn() {
        let parts = MessageParts {
            queues: &[7, 9],
            exchange: b"x",
            routing_key: b"key",
            properties: &[0x10, 0, 2],
            body: b"hello",
        };
        let rec = framed(|o| parts.encode(o));
        assert_eq!(rec.len(), HEADER + parts.payload_len());
        let Read::Record(
            Record::Message {
                queues,
                body,
                routing_key,
                ..
            },
            used,
        ) = read(&Bytes::from(rec.clone()))
        else {
            panic!()
        };
        assert_eq!(
            (queues, &body[..], &routing_key[..], used),
            (vec![7, 9], &b"hello"[..], &b"key"[..], rec.len())
        );
        for cut in 1..rec.len() {
            // A prefix of zeros reads as unwritten space; anything else is torn.
            let r = read(&Bytes::from(rec[..cut].to_vec()));
            assert!(matches!(r, Read::Torn | Read::End), "cut {cut}: {r:?}");
            assert_eq!(r == Read::End, rec[..cut].iter().all(|b| *b == 0), "cut {cut}");
        }
        let mut flipped = rec.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(read(&Bytes::from(flipped)), Read::Torn);
        assert_eq!(read(&Bytes::from(vec![0u8; 32])), Read::End);
    }

    #[test]
    fn delayed_messages_round_trip_with_their_due_time() {
        let parts = MessageParts {
            queues: &[4],
            exchange: b"later",
            routing_key: b"key",
            properties: &[0x10, 0, 2],
            body: b"hello",
        };
        let rec = framed(|o| parts.encode_delayed(1_800_000_000_123, o));
        assert_eq!(rec.len(), HEADER + parts.payload_len() + 8);
        let Read::Record(
            Record::Message {
                queues,
                exchange,
                body,
                due,
                spilled,
                ..
            },
            _,
        ) = read(&Bytes::from(rec))
        else {
            panic!()
        };
        assert_eq!(
            (queues, &exchange[..], &body[..], due, spilled),
            (
                vec![4],
                &b"later"[..],
                &b"hello"[..],
                Some(1_800_000_000_123),
                false
            )
        );
    }

    #[test]
    fn marks_round_trip() {
        let rec = framed(|o| encode_mark(KIND_ACK, 1 << 32 | 40, 3, o));
        assert_eq!(
            read(&Bytes::from(rec)),
            Read::Record(
                Record::Ack {
                    message: 1 << 32 | 40,
                    queue: 3
                },
                HEADER + MARK_LEN
            )
        );
    }
}
