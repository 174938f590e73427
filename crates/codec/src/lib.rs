//! AMQP 0-9-1 wire format for Warren. No I/O, no async.
//!
//! * [`frame`] splits a byte buffer into frames, checking `frame_max` from the
//!   7-byte header before the payload is buffered, and decodes them.
//! * [`method`] is the decoded method: the hot ones (`basic.publish`, `ack`,
//!   `nack`, `reject`) by a hand-written fast path, everything else by
//!   amq-protocol's generated parser.
//! * [`properties`] reads the few content properties the broker needs
//!   (delivery mode, priority, expiration, headers) straight from the raw
//!   encoded bytes, which are otherwise passed through to consumers unchanged.
//! * [`nesting`] bounds how deep the field tables a peer sends may nest,
//!   before amq-protocol's recursive parser sees them.
//! * [`sasl`] reads the user and password of a `PLAIN` or `AMQPLAIN` response.
//! * [`encode`] writes frames into an outgoing buffer: a fast path for
//!   `deliver`, `get-ok`, `return`, confirms and content, amq-protocol for the rest.

pub mod encode;
pub mod error;
pub mod frame;
pub mod method;
pub mod nesting;
pub mod properties;
pub mod sasl;
pub mod shortstr;

pub use amq_protocol::protocol::{self, AMQPClass};
pub use amq_protocol::types::{AMQPValue, FieldTable, LongString, ShortString};
pub use error::FrameError;
pub use frame::{decode_frame, Frame, FRAME_END, FRAME_MIN_SIZE, PROTOCOL_HEADER};
pub use method::{Method, Publish};
pub use properties::Properties;
