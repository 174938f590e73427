//! The content properties the broker reads, found in the raw encoded bytes.
//!
//! Properties travel from publisher to consumer unchanged; the broker only
//! needs delivery mode, priority, expiration, reply-to and headers, so it
//! records where those sit instead of decoding everything.

use std::ops::Range;

use amq_protocol::frame::WriteContext;
use amq_protocol::protocol::basic::{gen_properties, parse_properties, AMQPProperties};
use amq_protocol::types::{parsing::parse_field_table, FieldTable};

const CONTENT_TYPE: u16 = 0x8000;
const CONTENT_ENCODING: u16 = 0x4000;
const HEADERS: u16 = 0x2000;
const DELIVERY_MODE: u16 = 0x1000;
const PRIORITY: u16 = 0x0800;
const CORRELATION_ID: u16 = 0x0400;
const REPLY_TO: u16 = 0x0200;
const EXPIRATION: u16 = 0x0100;
const MESSAGE_ID: u16 = 0x0080;
const TIMESTAMP: u16 = 0x0040;
const TYPE: u16 = 0x0020;
const USER_ID: u16 = 0x0010;
const APP_ID: u16 = 0x0008;
const CLUSTER_ID: u16 = 0x0004;

/// Positions of the interesting properties inside a raw property block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pub delivery_mode: u8,
    pub priority: Option<u8>,
    headers: Option<Range<usize>>,
    reply_to: Option<Range<usize>>,
    expiration: Option<Range<usize>>,
    user_id: Option<Range<usize>>,
}

/// The property block is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl Properties {
    /// Walks a raw property block (flags then values), checking every length.
    pub fn parse(raw: &[u8]) -> Result<Properties, Malformed> {
        let flags = u16::from_be_bytes([*raw.first().ok_or(Malformed)?, *raw.get(1).ok_or(Malformed)?]);
        let mut pos = 2;
        let mut p = Properties::default();
        let shortstr = |pos: &mut usize| -> Result<Range<usize>, Malformed> {
            let len = *raw.get(*pos).ok_or(Malformed)? as usize;
            let r = *pos + 1..*pos + 1 + len;
            if r.end > raw.len() {
                return Err(Malformed);
            }
            *pos = r.end;
            Ok(r)
        };
        let octet = |pos: &mut usize| -> Result<u8, Malformed> {
            let v = *raw.get(*pos).ok_or(Malformed)?;
            *pos += 1;
            Ok(v)
        };
        if flags & CONTENT_TYPE != 0 {
            shortstr(&mut pos)?;
        }
        if flags & CONTENT_ENCODING != 0 {
            shortstr(&mut pos)?;
        }
        if flags & HEADERS != 0 {
            let len_bytes = raw.get(pos..pos + 4).ok_or(Malformed)?;
            let len = u32::from_be_bytes(len_bytes.try_into().map_err(|_| Malformed)?) as usize;
            let r = pos..pos + 4 + len;
            if r.end > raw.len() {
                return Err(Malformed);
            }
            // Checked without decoding (nothing allocated; the nesting
            // bounded): decoded only if routing needs the headers.
            crate::nesting::check(&raw[r.clone()]).map_err(|_| Malformed)?;
            pos = r.end;
            p.headers = Some(r);
        }
        if flags & DELIVERY_MODE != 0 {
            p.delivery_mode = octet(&mut pos)?;
        }
        if flags & PRIORITY != 0 {
            p.priority = Some(octet(&mut pos)?);
        }
        if flags & CORRELATION_ID != 0 {
            shortstr(&mut pos)?;
        }
        if flags & REPLY_TO != 0 {
            p.reply_to = Some(shortstr(&mut pos)?);
        }
        if flags & EXPIRATION != 0 {
            p.expiration = Some(shortstr(&mut pos)?);
        }
        if flags & MESSAGE_ID != 0 {
            shortstr(&mut pos)?;
        }
        if flags & TIMESTAMP != 0 {
            if pos + 8 > raw.len() {
                return Err(Malformed);
            }
            pos += 8;
        }
        for flag in [TYPE, USER_ID, APP_ID, CLUSTER_ID] {
            if flags & flag != 0 {
                let r = shortstr(&mut pos)?;
                if flag == USER_ID {
                    p.user_id = Some(r);
                }
            }
        }
        if pos != raw.len() {
            return Err(Malformed);
        }
        Ok(p)
    }

    pub fn has_headers(&self) -> bool {
        self.headers.is_some()
    }

    /// Persistent messages have delivery mode 2.
    pub fn persistent(&self) -> bool {
        self.delivery_mode == 2
    }

    /// The `headers` table, decoded (only routing by headers needs it).
    pub fn headers(&self, raw: &[u8]) -> Option<FieldTable> {
        let r = self.headers.clone()?;
        parse_field_table(&raw[r]).ok().map(|(_, t)| t)
    }

    pub fn reply_to<'a>(&self, raw: &'a [u8]) -> Option<&'a [u8]> {
        self.reply_to.clone().map(|r| &raw[r])
    }

    /// The `user_id` property (the broker checks it names the publisher).
    pub fn user_id<'a>(&self, raw: &'a [u8]) -> Option<&'a [u8]> {
        self.user_id.clone().map(|r| &raw[r])
    }

    pub fn expiration<'a>(&self, raw: &'a [u8]) -> Option<&'a [u8]> {
        self.expiration.clone().map(|r| &raw[r])
    }
}

/// Decodes a raw property block in full (management shows every property).
pub fn decode(raw: &[u8]) -> Option<AMQPProperties> {
    parse_properties(raw).ok().map(|(_, p)| p)
}

/// Decodes a raw property block, lets `edit` change it, and encodes it
/// again. Only the slow paths use this (dead-lettering, delivery counts,
/// `BCC` removal); `None` if the block does not decode.
pub fn rewrite(raw: &[u8], edit: impl FnOnce(&mut AMQPProperties)) -> Option<bytes::Bytes> {
    let (_, mut props) = parse_properties(raw).ok()?;
    edit(&mut props);
    let written = gen_properties(&props)(WriteContext::from(Vec::with_capacity(raw.len() + 128)));
    written.ok().map(|ctx| bytes::Bytes::from(ctx.into_inner().0))
}

/// A copy of `p` without its `expiration` (amq-protocol can set but not
/// clear a property, so the others are copied over).
pub fn without_expiration(p: &AMQPProperties) -> AMQPProperties {
    let mut out = AMQPProperties::default();
    macro_rules! copy {
        ($($get:ident => $set:ident),*) => {
            $(if let Some(v) = p.$get().clone() {
                out = out.$set(v);
            })*
        };
    }
    copy!(
        content_type => with_content_type,
        content_encoding => with_content_encoding,
        headers => with_headers,
        delivery_mode => with_delivery_mode,
        priority => with_priority,
        correlation_id => with_correlation_id,
        reply_to => with_reply_to,
        message_id => with_message_id,
        timestamp => with_timestamp,
        kind => with_type,
        user_id => with_user_id,
        app_id => with_app_id,
        cluster_id => with_cluster_id
    );
    out
}

/// Encodes a property block (for messages the broker makes itself).
pub fn encode(props: &AMQPProperties) -> bytes::Bytes {
    let written = gen_properties(props)(WriteContext::from(Vec::with_capacity(32)));
    written.map_or_else(
        |_| bytes::Bytes::from_static(&[0, 0]),
        |ctx| bytes::Bytes::from(ctx.into_inner().0),
    )
}
