//! The broker's side of persistence: which entities are durable, what the
//! message log records for them, and recovery at start.

use std::path::Path;

use bytes::Bytes;
use std::sync::Arc;

use warren_store::definitions::{BindingDef, ExchangeDef, QueueDef};
use warren_store::{Definitions, Disk, MessageLog, StoreError};

use crate::exchange::{Binding, Dest, Exchange};
use crate::message::Message;
use crate::queue::Queue;

/// Definitions and the message log of one broker.
pub struct Persistence {
    pub defs: Definitions,
    pub log: MessageLog,
    /// Messages a queue keeps in memory per priority level; the rest of its
    /// backlog is paged out to the log.
    pub window: usize,
}

impl Persistence {
    /// Opens `dir/definitions` and `dir/messages`. Messages for queues
    /// `live` does not know are forgotten, and segments left with none are
    /// deleted: so when `live` cannot read the definitions, nothing is
    /// opened and no message file is touched.
    pub fn open(
        disk: Arc<dyn Disk>,
        dir: &Path,
        segment_size: u32,
        window: usize,
        live: impl Fn(&Definitions) -> Result<Vec<u32>, StoreError>,
    ) -> Result<(Arc<Persistence>, warren_store::Recovered), StoreError> {
        let defs = Definitions::open(&dir.join("definitions"))?;
        let ids = live(&defs)?;
        let (log, recovered) =
            MessageLog::open_on(disk, &dir.join("messages"), segment_size, &|q| ids.contains(&q))?;
        Ok((Arc::new(Persistence { defs, log, window }), recovered))
    }

    /// Reads the message record `id` back from the log (a paged-out or
    /// delayed message); `None` if it cannot be read or is not a message.
    pub fn read_message(&self, id: u64) -> Option<Message> {
        match self.log.read(id)? {
            warren_store::record::Record::Message {
                exchange,
                routing_key,
                properties,
                body,
                ..
            } => Some(message_from_parts(exchange, routing_key, properties, body)),
            _ => None,
        }
    }

    pub fn exchange_def(vhost: &str, x: &Exchange) -> ExchangeDef {
        ExchangeDef {
            vhost: vhost.to_string(),
            name: x.name.to_string(),
            kind: x.type_name().to_string(),
            durable: x.options.durable,
            auto_delete: x.options.auto_delete,
            internal: x.options.internal,
            arguments: x.options.arguments.clone(),
            delayed_id: x.delayed_store_id(),
        }
    }

    pub fn queue_def(q: &Queue, id: u32) -> QueueDef {
        QueueDef {
            vhost: q.vhost.to_string(),
            name: q.name.to_string(),
            id,
            auto_delete: q.options.auto_delete,
            arguments: q.options.arguments.clone(),
        }
    }

    /// The definition of a binding, if both its ends are durable.
    pub fn binding_def(vhost: &str, source: &Exchange, b: &Binding) -> Option<BindingDef> {
        let (kind, durable) = match &b.dest {
            Dest::Queue(q) => ("queue", q.store_id().is_some()),
            Dest::Exchange(x) => ("exchange", x.options.durable),
        };
        (durable && source.options.durable && !source.name.is_empty()).then(|| BindingDef {
            vhost: vhost.to_string(),
            source: source.name.to_string(),
            destination_kind: kind.to_string(),
            destination: b.dest.name().to_string(),
            routing_key: b.routing_key.clone(),
            arguments: b.arguments.clone(),
        })
    }
}

/// A message rebuilt from the parts the log keeps.
pub fn message_from_parts(exchange: Bytes, routing_key: Bytes, properties: Bytes, body: Bytes) -> Message {
    let view = warren_codec::Properties::parse(&properties).unwrap_or_default();
    let expiration_ms = view
        .expiration(&properties)
        .and_then(|e| crate::message::parse_expiration(e).ok());
    Message {
        exchange,
        routing_key,
        priority: view.priority.unwrap_or(0),
        has_headers: view.has_headers(),
        persistent: view.persistent(),
        expiration_ms,
        properties,
        body,
        store_id: 0,
    }
}
