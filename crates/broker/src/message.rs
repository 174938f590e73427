//! A published message, shared by every queue it reaches.

use bytes::Bytes;

/// The body and raw properties are `Bytes` slices of the publisher's read
/// buffer; fanout to many queues clones an `Arc`, never the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub exchange: Bytes,
    pub routing_key: Bytes,
    /// Property flags and values as the publisher encoded them.
    pub properties: Bytes,
    pub body: Bytes,
    pub persistent: bool,
    pub priority: u8,
}

impl Message {
    /// Bytes this message holds, for limits and statistics.
    pub fn size(&self) -> usize {
        self.body.len()
    }
}
