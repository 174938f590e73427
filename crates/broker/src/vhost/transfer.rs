//! Moving a queue's messages in one action (a Warren extension, used by
//! the management API, the web UI and `warrenctl`): all of them to another
//! queue, as RabbitMQ's "move messages" shovel does, or dead letters back
//! to the exchange and routing key their latest `x-death` entry names.
//!
//! Nothing is lost on the way: messages are taken from the source as
//! unacknowledged, published to their destination, and acknowledged in the
//! source only once the message log has synced what the destination wrote.
//! A message that cannot be placed (no `x-death`, its exchange gone, no
//! queue bound, a destination refusing it) goes back to its position in
//! the source, neither marked redelivered nor counted as a delivery. If
//! the disk fails, the batch in flight stays in the source too (and may
//! also have reached the destination: at least once, never zero times).

use std::sync::Arc;

use amq_protocol::types::{AMQPValue, FieldTable};
use bytes::Bytes;

use super::{RouteScratch, VHost};
use crate::error::{AmqpError, INTERNAL_ERROR};
use crate::exchange::Exchange;
use crate::message::Message;
use crate::queue::{Entry, Queue};

/// Where a move sends messages.
pub enum MoveTo {
    /// Another queue, through the default exchange (routing key: its name).
    Queue(Arc<Queue>),
    /// Back where each dead letter came from: the exchange and first
    /// routing key of its most recent `x-death` entry.
    DeathOrigin,
}

/// What a move did: `moved` left the source; the others stayed there.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub moved: u64,
    /// No `x-death` header to say where it came from.
    pub skipped: u64,
    /// Its exchange is gone, no queue is bound for its key, or the
    /// destination refused it (`x-overflow: reject-publish`).
    pub unroutable: u64,
    /// The caller may not publish to its exchange.
    pub refused: u64,
}

/// Messages moved between syncs of the message log.
const BATCH: usize = 256;

/// Where one message goes.
enum Placement {
    Publish(Arc<Exchange>, Arc<Message>),
    Skipped,
    Unroutable,
    Refused,
}

impl VHost {
    /// Moves up to `limit` of the messages `from` holds now (not the ones
    /// published during the move). `may_publish` is the caller's write
    /// permission for an exchange and routing key.
    pub async fn move_messages(
        &self,
        from: &Arc<Queue>,
        to: &MoveTo,
        limit: u64,
        may_publish: impl Fn(&Exchange, &str) -> bool,
    ) -> Result<Moved, AmqpError> {
        let mut done = Moved::default();
        let mut kept: Vec<Entry> = Vec::new();
        let budget = limit.min(u64::from(from.message_count()));
        let mut seen = 0u64;
        let mut scratch = RouteScratch::default();
        let mut stop = false;
        while seen < budget && !stop {
            let mut batch: Vec<Entry> = Vec::new();
            let mut ticket = None;
            while seen < budget && batch.len() < BATCH {
                // An unreadable head message stops the move; it stays.
                let Ok(Some((entry, _))) = from.get(true) else {
                    stop = true;
                    break;
                };
                seen += 1;
                let placement = self.placement(&entry.msg, to, &may_publish);
                let (x, msg) = match placement {
                    Placement::Publish(x, msg) => (x, msg),
                    other => {
                        match other {
                            Placement::Skipped => done.skipped += 1,
                            Placement::Refused => done.refused += 1,
                            _ => done.unroutable += 1,
                        }
                        kept.push(entry);
                        continue;
                    }
                };
                let routed = self.publish(&x, msg, &mut scratch);
                if routed.queues == 0 || routed.rejected {
                    done.unroutable += 1;
                    kept.push(entry);
                    continue;
                }
                ticket = ticket.max(routed.ticket);
                batch.push(entry);
            }
            if let (Some(t), Some(store)) = (ticket, &self.store) {
                if !store.log.settled(t).await {
                    let n = batch.len();
                    from.put_back(batch);
                    from.put_back(kept);
                    return Err(AmqpError::new(
                        INTERNAL_ERROR,
                        format_args!(
                            "the message store could not write the moved messages to disk; {} moved, the last {n} stay in queue '{}'",
                            done.moved, from.name
                        ),
                    ));
                }
            }
            done.moved += batch.len() as u64;
            from.acked(batch.iter());
        }
        from.put_back(kept);
        from.dispatch();
        Ok(done)
    }

    /// Where a message taken from the source goes, as published anew (its
    /// own log record: the source's is acknowledged after the move).
    fn placement(
        &self,
        msg: &Message,
        to: &MoveTo,
        may_publish: &impl Fn(&Exchange, &str) -> bool,
    ) -> Placement {
        let (exchange, key) = match to {
            MoveTo::Queue(q) => (String::new(), q.name.to_string()),
            MoveTo::DeathOrigin => match msg.headers().as_ref().and_then(death_origin) {
                Some(origin) => origin,
                None => return Placement::Skipped,
            },
        };
        let Some(x) = self.exchange(&exchange).filter(|x| !x.options.internal) else {
            return Placement::Unroutable;
        };
        if !may_publish(&x, &key) {
            return Placement::Refused;
        }
        let moved = Message {
            exchange: Bytes::from(exchange),
            routing_key: Bytes::from(key),
            store_id: 0,
            ..msg.clone()
        };
        Placement::Publish(x, Arc::new(moved))
    }
}

/// The exchange and first routing key of the most recent `x-death` entry.
fn death_origin(headers: &FieldTable) -> Option<(String, String)> {
    let Some(AMQPValue::FieldArray(deaths)) = headers.inner().get("x-death") else {
        return None;
    };
    let Some(AMQPValue::FieldTable(latest)) = deaths.as_slice().first() else {
        return None;
    };
    let exchange = latest.inner().get("exchange").and_then(crate::args::string)?;
    let key = match latest.inner().get("routing-keys") {
        Some(AMQPValue::FieldArray(keys)) => keys.as_slice().first().and_then(crate::args::string)?,
        _ => return None,
    };
    Some((exchange, key))
}
