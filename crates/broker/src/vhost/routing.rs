//! Routing a message through exchanges (exchange-to-exchange bindings,
//! alternate exchanges, `CC`/`BCC`, delayed messages) and appending it to
//! the queues it reaches.

use std::sync::Arc;

use amq_protocol::types::{AMQPValue, FieldTable};

use super::{VHost, REPLY_TO};
use crate::exchange::{Dest, Exchange};
use crate::message::Message;
use crate::queue::{Enqueued, Queue};
use warren_store::Ticket;

/// Buffers reused across publishes so routing allocates nothing.
#[derive(Default)]
pub struct RouteScratch {
    dests: Vec<Dest>,
    queues: Vec<Arc<Queue>>,
}

/// What became of a published message.
#[derive(Default)]
pub struct Routed {
    /// Queues it reached (a delayed message counts as routed).
    pub queues: usize,
    /// Some queue refused it (`x-overflow: reject-publish`).
    pub rejected: bool,
    /// It was written to the message log; confirm once this ticket is synced.
    pub ticket: Option<Ticket>,
    /// A queue it reached asks publishers to pause (see `Queue::congested`).
    pub congested: Option<Arc<Queue>>,
}

impl VHost {
    /// Finds the queues a message reaches from `exchange`, following
    /// exchange-to-exchange bindings once each, then the alternate exchange
    /// if nothing matched. `out` holds each queue once.
    pub fn route(
        &self,
        exchange: &Arc<Exchange>,
        routing_key: &[u8],
        headers: &dyn Fn() -> Option<FieldTable>,
        scratch: &mut Vec<Dest>,
        out: &mut Vec<Arc<Queue>>,
    ) {
        out.clear();
        let mut from = exchange.clone();
        let mut tried: Vec<*const Exchange> = Vec::new();
        loop {
            self.route_once(&from, routing_key, headers, scratch, out);
            if !out.is_empty() {
                return;
            }
            tried.push(Arc::as_ptr(&from));
            let Some(ae) = from.alternate_exchange().and_then(|n| self.exchange(&n)) else {
                return;
            };
            if tried.contains(&Arc::as_ptr(&ae)) {
                return;
            }
            from = ae;
        }
    }

    fn route_once(
        &self,
        exchange: &Arc<Exchange>,
        routing_key: &[u8],
        headers: &dyn Fn() -> Option<FieldTable>,
        scratch: &mut Vec<Dest>,
        out: &mut Vec<Arc<Queue>>,
    ) {
        if exchange.name.is_empty() {
            if let Ok(key) = std::str::from_utf8(routing_key) {
                let found = if key.starts_with(REPLY_TO) {
                    self.reply_queues.read().get(key).cloned()
                } else {
                    self.queues.read().get(key).cloned()
                };
                out.extend(found);
            }
            return;
        }
        scratch.clear();
        exchange.route(routing_key, headers, scratch);
        let mut visited: Vec<*const Exchange> = Vec::new();
        while let Some(d) = scratch.pop() {
            match d {
                Dest::Queue(q) => out.push(q),
                Dest::Exchange(x) => {
                    let p = Arc::as_ptr(&x);
                    if p != Arc::as_ptr(exchange) && !visited.contains(&p) {
                        visited.push(p);
                        x.route(routing_key, headers, scratch);
                    }
                }
            }
        }
        if out.len() > 1 {
            out.sort_unstable_by_key(|q| Arc::as_ptr(q) as usize);
            out.dedup_by(|a, b| Arc::ptr_eq(a, b));
        }
    }

    /// Routes a message and appends it to every queue it reaches. Handles
    /// the delayed-message exchange (`x-delay`), sender-selected
    /// distribution (`CC` and `BCC` headers; `BCC` is removed) and the
    /// alternate exchange.
    pub fn publish(&self, exchange: &Arc<Exchange>, msg: Arc<Message>, scratch: &mut RouteScratch) -> Routed {
        let headers = if msg.has_headers { msg.headers() } else { None };
        if exchange.delayed.is_some() {
            let delay = headers
                .as_ref()
                .and_then(|h| h.inner().get("x-delay"))
                .and_then(crate::args::int)
                .unwrap_or(0);
            if delay > 0 {
                let delay = delay as u64;
                let (now, unix) = (self.clock.now_ms(), self.clock.unix_ms());
                let ticket = exchange.delay(msg, now.saturating_add(delay), unix.saturating_add(delay));
                return Routed {
                    queues: 1,
                    ticket,
                    ..Routed::default()
                };
            }
        }
        let mut extra: Vec<String> = Vec::new();
        let mut msg = msg;
        if let Some(h) = &headers {
            extra = sender_selected_keys(h);
            if h.inner().contains_key("BCC") {
                let stripped: FieldTable = h
                    .inner()
                    .iter()
                    .filter(|(k, _)| k.as_str() != "BCC")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into();
                msg = Arc::new(msg.with_properties(|p| *p = p.clone().with_headers(stripped)));
            }
        }
        let hdrs = || headers.clone();
        let RouteScratch { dests, queues } = scratch;
        self.route(exchange, &msg.routing_key, &hdrs, dests, queues);
        if !extra.is_empty() {
            let mut more = Vec::new();
            for key in &extra {
                self.route(exchange, key.as_bytes(), &hdrs, dests, &mut more);
                for q in more.drain(..) {
                    if !queues.iter().any(|x| Arc::ptr_eq(x, &q)) {
                        queues.push(q);
                    }
                }
            }
        }
        self.deliver_to(queues, msg)
    }

    /// Appends a routed message to its queues, writing it to the message
    /// log first when it is persistent and some of them are durable.
    pub fn deliver_to(&self, queues: &mut Vec<Arc<Queue>>, mut msg: Arc<Message>) -> Routed {
        let mut routed = Routed {
            queues: queues.len(),
            ..Routed::default()
        };
        if let (Some(store), true) = (&self.store, msg.persistent) {
            let durable: Vec<u32> = queues.iter().filter_map(|q| q.store_id()).collect();
            if !durable.is_empty() {
                let (id, ticket) = store.log.append_message(&msg.parts(&durable));
                Arc::make_mut(&mut msg).store_id = id;
                routed.ticket = Some(ticket);
            }
        }
        for q in queues.drain(..) {
            if q.publish(msg.clone()) == Enqueued::Rejected {
                routed.rejected = true;
            }
            if routed.congested.is_none() && q.congested() {
                routed.congested = Some(q);
            }
        }
        routed
    }

    /// Routes a message released by a delayed exchange (never delayed again).
    pub(super) fn publish_undelayed(&self, x: &Arc<Exchange>, msg: Arc<Message>, scratch: &mut RouteScratch) {
        let headers = msg.headers();
        let hdrs = || headers.clone();
        let RouteScratch { dests, queues } = scratch;
        self.route(x, &msg.routing_key, &hdrs, dests, queues);
        self.deliver_to(queues, msg);
    }
}

/// The extra routing keys of sender-selected distribution: the strings in
/// the `CC` and `BCC` headers.
pub fn sender_selected_keys(headers: &FieldTable) -> Vec<String> {
    let mut keys = Vec::new();
    for name in ["CC", "BCC"] {
        if let Some(AMQPValue::FieldArray(a)) = headers.inner().get(name) {
            keys.extend(a.as_slice().iter().filter_map(crate::args::string));
        }
    }
    keys
}
