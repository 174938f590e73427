//! Frame splitting: header first, `frame_max` checked before the payload is
//! buffered, then the payload decoded by frame type.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::FrameError;
use crate::method::{self, Method};

/// The protocol header a 0-9-1 client sends first, and the one a server
/// answers a wrong header with.
pub const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
/// Every frame ends with this octet.
pub const FRAME_END: u8 = 0xCE;
/// The smallest `frame_max` a peer may negotiate.
pub const FRAME_MIN_SIZE: u32 = 4096;
/// Frame header (type, channel, size) plus the frame-end octet.
pub const FRAME_OVERHEAD: usize = 8;

pub const FRAME_METHOD: u8 = 1;
pub const FRAME_HEADER: u8 = 2;
pub const FRAME_BODY: u8 = 3;
pub const FRAME_HEARTBEAT: u8 = 8;

/// One decoded frame. Payload slices share the read buffer's allocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Method {
        channel: u16,
        method: Method,
    },
    Header {
        channel: u16,
        class_id: u16,
        body_size: u64,
        /// Property flags and values exactly as the client encoded them.
        properties: Bytes,
    },
    Body {
        channel: u16,
        payload: Bytes,
    },
    Heartbeat {
        channel: u16,
    },
}

impl Frame {
    pub fn channel(&self) -> u16 {
        match self {
            Frame::Method { channel, .. }
            | Frame::Header { channel, .. }
            | Frame::Body { channel, .. }
            | Frame::Heartbeat { channel } => *channel,
        }
    }
}

/// Takes one complete frame off the front of `buf`.
///
/// `Ok(None)` means more bytes are needed; nothing is consumed then. A frame
/// whose declared size exceeds `frame_max` is refused as soon as its 7-byte
/// header is in, before its payload is read.
pub fn decode_frame(buf: &mut BytesMut, frame_max: u32) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 7 {
        return Ok(None);
    }
    let kind = buf[0];
    let channel = u16::from_be_bytes([buf[1], buf[2]]);
    let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]);
    if !matches!(kind, FRAME_METHOD | FRAME_HEADER | FRAME_BODY | FRAME_HEARTBEAT) {
        return Err(FrameError::UnknownFrameType(kind));
    }
    if frame_max != 0 && u64::from(size) + FRAME_OVERHEAD as u64 > u64::from(frame_max) {
        return Err(FrameError::TooLarge { size, max: frame_max });
    }
    let total = size as usize + FRAME_OVERHEAD;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let end = buf[total - 1];
    if end != FRAME_END {
        return Err(FrameError::BadFrameEnd(end));
    }
    let mut frame = buf.split_to(total);
    frame.advance(7);
    frame.truncate(size as usize);
    let payload = frame.freeze();
    let frame = match kind {
        FRAME_METHOD => Frame::Method {
            channel,
            method: method::decode(payload)?,
        },
        FRAME_HEADER => decode_header(channel, payload)?,
        FRAME_BODY => Frame::Body { channel, payload },
        _ => Frame::Heartbeat { channel },
    };
    Ok(Some(frame))
}

fn decode_header(channel: u16, payload: Bytes) -> Result<Frame, FrameError> {
    if payload.len() < 14 {
        return Err(FrameError::BadHeader);
    }
    let class_id = u16::from_be_bytes([payload[0], payload[1]]);
    let body_size = u64::from_be_bytes(payload[4..12].try_into().map_err(|_| FrameError::BadHeader)?);
    let properties = payload.slice(12..);
    crate::properties::Properties::parse(&properties).map_err(|_| FrameError::BadHeader)?;
    Ok(Frame::Header {
        channel,
        class_id,
        body_size,
        properties,
    })
}
