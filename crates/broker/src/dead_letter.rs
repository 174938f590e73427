//! Dead-lettering as RabbitMQ does it: the `x-death` history, the
//! `x-first-death-*` and `x-last-death-*` headers, the `expiration` removed,
//! cycle detection, and republishing through the dead-letter exchange.

use std::sync::Arc;

use amq_protocol::types::{AMQPValue, FieldArray, FieldTable, LongString};
use bytes::Bytes;

use crate::message::Message;
use crate::queue::{DeadLetters, DeathReason, Entry, Queue};
use crate::vhost::VHost;

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.to_string()))
}

fn get_str(t: &FieldTable, k: &str) -> Option<String> {
    t.inner().get(k).and_then(crate::args::string)
}

/// The routing keys a message was published with: its routing key and its
/// `CC` header (`BCC` is gone by the time it is queued).
pub fn routing_keys(msg: &Message, headers: Option<&FieldTable>) -> Vec<String> {
    let mut keys = vec![String::from_utf8_lossy(&msg.routing_key).into_owned()];
    if let Some(AMQPValue::FieldArray(cc)) = headers.and_then(|h| h.inner().get("CC")) {
        keys.extend(cc.as_slice().iter().filter_map(crate::args::string));
    }
    keys
}

/// The `x-death` entries, most recent first.
fn deaths(headers: &FieldTable) -> Vec<FieldTable> {
    match headers.inner().get("x-death") {
        Some(AMQPValue::FieldArray(a)) => a
            .as_slice()
            .iter()
            .filter_map(|v| match v {
                AMQPValue::FieldTable(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The message as it leaves `queue` for `reason`: history recorded,
/// `expiration` removed, published anew to the dead-letter exchange.
pub fn mark(
    msg: &Message,
    queue: &Queue,
    reason: DeathReason,
    now_secs: u64,
    dlx: &str,
    routing_key: &str,
) -> Message {
    let mut marked = msg.with_properties(|p| {
        let mut headers = p.headers().clone().unwrap_or_default();
        let mut history = deaths(&headers);
        let same = history.iter().position(|d| {
            get_str(d, "queue").as_deref() == Some(&*queue.name)
                && get_str(d, "reason").as_deref() == Some(reason.as_str())
        });
        match same {
            Some(i) => {
                // The same death again: count it and move it to the front.
                let mut d = history.remove(i);
                let count = d.inner().get("count").and_then(crate::args::int).unwrap_or(0) as i64;
                d.insert("count".into(), AMQPValue::LongLongInt(count + 1));
                history.insert(0, d);
            }
            None => {
                let mut d = FieldTable::default();
                d.insert("count".into(), AMQPValue::LongLongInt(1));
                d.insert("reason".into(), text(reason.as_str()));
                d.insert("queue".into(), text(&queue.name));
                d.insert("time".into(), AMQPValue::Timestamp(now_secs));
                d.insert("exchange".into(), text(&String::from_utf8_lossy(&msg.exchange)));
                let keys: Vec<AMQPValue> = routing_keys(msg, Some(&headers))
                    .iter()
                    .map(|k| text(k))
                    .collect();
                d.insert(
                    "routing-keys".into(),
                    AMQPValue::FieldArray(FieldArray::from(keys)),
                );
                if let Some(exp) = p.expiration() {
                    d.insert("original-expiration".into(), text(exp.as_str()));
                }
                history.insert(0, d);
            }
        }
        let exchange = String::from_utf8_lossy(&msg.exchange).into_owned();
        for (k, v) in [
            ("reason", reason.as_str()),
            ("queue", &*queue.name),
            ("exchange", &exchange),
        ] {
            let first = format!("x-first-death-{k}");
            if !headers.inner().contains_key(first.as_str()) {
                headers.insert(first.into(), text(v));
            }
            headers.insert(format!("x-last-death-{k}").into(), text(v));
        }
        let history: Vec<AMQPValue> = history.into_iter().map(AMQPValue::FieldTable).collect();
        headers.insert("x-death".into(), AMQPValue::FieldArray(FieldArray::from(history)));
        *p = warren_codec::properties::without_expiration(p).with_headers(headers);
    });
    marked.exchange = Bytes::from(dlx.to_string());
    marked.routing_key = Bytes::from(routing_key.to_string());
    marked.expiration_ms = None;
    marked.store_id = 0;
    marked
}

/// Would delivering to `target` close a loop of automatic dead-lettering?
/// Walks the history (most recent first) back to `target`'s last death; it
/// is a cycle unless some death on the way was a rejection.
pub fn is_cycle(target: &str, headers: &FieldTable) -> bool {
    let history = deaths(headers);
    let Some(last) = history
        .iter()
        .position(|d| get_str(d, "queue").as_deref() == Some(target))
    else {
        return false;
    };
    history[..=last]
        .iter()
        .all(|d| get_str(d, "reason").as_deref() != Some(DeathReason::Rejected.as_str()))
}

impl DeadLetters for VHost {
    fn dead_letter(&self, queue: &Queue, dead: Vec<(Entry, DeathReason)>) {
        let limits = queue.limits();
        let (dlx, routing_key) = (
            limits.dead_letter_exchange.clone(),
            limits.dead_letter_routing_key.clone(),
        );
        drop(limits);
        let dlx_exchange = dlx.as_deref().and_then(|name| self.exchange(name));
        let quorum = queue.args.queue_type == crate::args::QueueType::Quorum;
        self.stats
            .dead_lettered(quorum, dlx_exchange.is_some(), dead.iter().map(|(_, r)| r));
        let Some(dlx_name) = dlx.as_deref() else {
            return;
        };
        let Some(dlx) = dlx_exchange else {
            tracing::debug!(queue = %queue.name, "dead-letter exchange '{dlx_name}' does not exist; message dropped");
            return;
        };
        let now = self.clock.unix_secs();
        let mut scratch = Vec::new();
        let mut targets: Vec<Arc<Queue>> = Vec::new();
        for (entry, reason) in dead {
            let headers = entry.msg.headers();
            let keys = match &routing_key {
                Some(k) => vec![k.clone()],
                None => routing_keys(&entry.msg, headers.as_ref()),
            };
            let msg = Arc::new(mark(&entry.msg, queue, reason, now, dlx_name, &keys[0]));
            let marked_headers = msg.headers().unwrap_or_default();
            let mut all: Vec<Arc<Queue>> = Vec::new();
            for key in &keys {
                let hdrs = || Some(marked_headers.clone());
                self.route(&dlx, key.as_bytes(), &hdrs, &mut scratch, &mut targets);
                for q in targets.drain(..) {
                    if !all.iter().any(|x| Arc::ptr_eq(x, &q)) {
                        all.push(q);
                    }
                }
            }
            all.retain(|q| {
                let cycle = reason != DeathReason::Rejected && is_cycle(&q.name, &marked_headers);
                if cycle {
                    tracing::debug!(queue = %q.name, "dead-letter cycle; message dropped");
                }
                !cycle
            });
            self.deliver_to(&mut all, msg);
        }
    }
}
