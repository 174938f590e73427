//! A published message, shared by every queue it reaches.

use amq_protocol::types::{AMQPValue, FieldTable};
pub use bytes::Bytes;

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
    /// The `expiration` property, in milliseconds.
    pub expiration_ms: Option<u64>,
    /// The properties carry a `headers` table.
    pub has_headers: bool,
    /// Its id in the message log (0: not stored).
    pub store_id: u64,
}

impl Message {
    /// Bytes this message holds, for limits and statistics.
    pub fn size(&self) -> usize {
        self.body.len()
    }

    /// What the message log keeps of it, for `queues`.
    pub fn parts<'a>(&'a self, queues: &'a [u32]) -> warren_store::record::MessageParts<'a> {
        warren_store::record::MessageParts {
            queues,
            exchange: &self.exchange,
            routing_key: &self.routing_key,
            properties: &self.properties,
            body: &self.body,
        }
    }

    /// The `headers` table, decoded.
    pub fn headers(&self) -> Option<FieldTable> {
        let view = warren_codec::Properties::parse(&self.properties).ok()?;
        view.headers(&self.properties)
    }

    /// A copy whose properties `edit` changed.
    pub fn with_properties(
        &self,
        edit: impl FnOnce(&mut warren_codec::protocol::basic::AMQPProperties),
    ) -> Message {
        let properties = warren_codec::properties::rewrite(&self.properties, edit)
            .unwrap_or_else(|| self.properties.clone());
        Message {
            properties,
            ..self.clone()
        }
    }

    /// A copy carrying `x-delivery-count`, as quorum queues redeliver.
    pub fn with_delivery_count(&self, count: u32) -> Message {
        self.with_properties(|p| {
            let mut headers = p.headers().clone().unwrap_or_default();
            headers.insert(
                "x-delivery-count".into(),
                AMQPValue::LongLongInt(i64::from(count)),
            );
            *p = p.clone().with_headers(headers);
        })
    }
}

/// Parses the `expiration` property: a non-negative integer of milliseconds.
/// The error is RabbitMQ's reason text.
pub fn parse_expiration(raw: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(raw);
    match text.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n as u64),
        Ok(_) => Err(format!("invalid expiration '{text}': {{value_negative,{text}}}")),
        Err(_) => Err(format!("invalid expiration '{text}': no_integer")),
    }
}
