//! The messages an `x-delayed-message` exchange holds until their `x-delay`
//! has passed, earliest first (equal due times in publish order).
//!
//! **Durable.** On a durable exchange, a persistent message is written to
//! the message log with its due time (in Unix milliseconds, so that it
//! survives a restart) before it is confirmed, under an id the log knows
//! the exchange by. When it is released and routed, or its exchange is
//! deleted, an ack record for that id ends its wait.
//!
//! **Bounded.** Like a queue, the set keeps at most `window` messages in
//! memory; the others are index entries whose content is in the log (the
//! durable record, or a spill record for the rest) and is read back when
//! it is due. Unlike RabbitMQ's delayed-message plugin, the heap fires
//! nothing early however large the set grows.

use std::collections::BinaryHeap;
use std::sync::Arc;

use warren_store::Ticket;

use crate::message::Message;
use crate::persist::Persistence;

/// Where a held message's record is, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRef {
    None,
    /// A durable delayed record: acked when released.
    Stored(u64),
    /// Written only to take it out of memory: released when released.
    Spilled(u64),
}

/// A held message.
struct Held {
    /// On the broker's monotonic clock.
    due: u64,
    seq: u64,
    /// `None` when paged out (read back from `log` when due).
    msg: Option<Arc<Message>>,
    log: LogRef,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    /// Reversed, so the max-heap pops the earliest due time first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// The log an exchange's held messages go to.
pub struct DelayStore {
    pub store: Arc<Persistence>,
    /// The id the log knows a durable exchange's set by; `None` for a
    /// transient exchange (its messages are only spilled).
    pub id: Option<u32>,
}

/// A message whose time has come, with the record to settle once it is
/// routed (see [`DelayedSet::settle`]).
pub struct Released {
    pub msg: Arc<Message>,
    pub log: LogRef,
}

#[derive(Default)]
pub struct DelayedSet {
    heap: BinaryHeap<Held>,
    next_seq: u64,
    in_memory: usize,
    store: Option<DelayStore>,
}

impl DelayedSet {
    pub fn new(store: Option<DelayStore>) -> DelayedSet {
        DelayedSet {
            store,
            ..Default::default()
        }
    }

    /// The log id of a durable exchange's set.
    pub fn store_id(&self) -> Option<u32> {
        self.store.as_ref()?.id
    }

    /// Messages held, and how many of them are in memory.
    pub fn len(&self) -> (usize, usize) {
        (self.heap.len(), self.in_memory)
    }

    /// Holds `msg` until `due` on the broker's clock (`due_unix` in Unix
    /// milliseconds, for the log). Returns the ticket a confirm waits for
    /// when the message was written durably.
    pub fn hold(&mut self, msg: Arc<Message>, due: u64, due_unix: u64) -> Option<Ticket> {
        let mut ticket = None;
        let mut log = LogRef::None;
        let mut window = usize::MAX;
        if let Some(s) = &self.store {
            window = s.store.window;
            if let (Some(id), true) = (s.id, msg.persistent) {
                let (at, t) = s.store.log.append_delayed(&msg.parts(&[id]), due_unix);
                log = LogRef::Stored(at);
                ticket = Some(t);
            }
        }
        let keep = self.in_memory < window;
        if !keep && log == LogRef::None {
            if let Some(s) = &self.store {
                log = LogRef::Spilled(s.store.log.spill(&msg.parts(&[])));
            }
        }
        let msg = (keep || log == LogRef::None).then_some(msg);
        self.in_memory += usize::from(msg.is_some());
        self.push(due, msg, log);
        ticket
    }

    fn push(&mut self, due: u64, msg: Option<Arc<Message>>, log: LogRef) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Held { due, seq, msg, log });
    }

    /// Recovery: the durable delayed record `id`, due at `due` on the
    /// broker's clock. Its content stays in the log until then.
    pub fn restore(&mut self, id: u64, due: u64) {
        self.push(due, None, LogRef::Stored(id));
    }

    /// Takes the messages whose time has come, earliest first. One whose
    /// record cannot be read back is not released as something else: it
    /// waits (and is tried again) a second later.
    pub fn due(&mut self, now: u64) -> Vec<Released> {
        let mut out = Vec::new();
        let mut unreadable = Vec::new();
        while self.heap.peek().is_some_and(|h| h.due <= now) {
            let Some(h) = self.heap.pop() else { break };
            if h.msg.is_some() {
                self.in_memory -= 1;
            }
            match h.msg.clone().or_else(|| self.read(h.log)) {
                Some(msg) => out.push(Released { msg, log: h.log }),
                None => unreadable.push(h),
            }
        }
        for h in unreadable {
            tracing::error!(
                "a delayed message ({:?}) cannot be read back from the message store; it waits",
                h.log
            );
            self.push(now + 1000, None, h.log);
        }
        out
    }

    fn read(&self, log: LogRef) -> Option<Arc<Message>> {
        let (LogRef::Stored(id) | LogRef::Spilled(id)) = log else {
            return None;
        };
        self.store.as_ref()?.store.read_message(id).map(Arc::new)
    }

    /// A released message was routed: its record's wait is over.
    pub fn settle(&self, log: LogRef) {
        let Some(s) = &self.store else { return };
        match (log, s.id) {
            (LogRef::Stored(at), Some(id)) => s.store.log.ack(at, id),
            (LogRef::Spilled(at), _) => s.store.log.release(at),
            _ => {}
        }
    }

    /// The exchange is deleted: every held message is dropped.
    pub fn discard(&mut self) {
        for h in std::mem::take(&mut self.heap) {
            self.settle(h.log);
        }
        self.in_memory = 0;
    }
}
