//! The ready messages of a queue: one FIFO per priority level (one level for
//! a queue without `x-max-priority`), with counts of messages and bytes.
//!
//! Higher priorities leave first; within a level, order is by sequence
//! number, so a requeued message goes back to its original position.
//!
//! **Memory is bounded.** With a pager, each level keeps at most `window`
//! messages in memory; the rest are index entries of a few dozen bytes whose
//! content is in the message log: a persistent message of a durable queue
//! is already there, anything else is written as a spill record first.
//! Messages are read back a batch at a time when the in-memory part runs
//! out. Once a level has paged-out messages, new ones go behind them on
//! disk, so order is kept.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use crate::message::Message;
use crate::persist::Persistence;
use crate::queue::Entry;

/// How a queue pages messages out.
#[derive(Clone)]
pub struct Pager {
    pub store: Arc<Persistence>,
    /// The queue is durable: a message with a store id is on disk for it.
    pub durable: bool,
    /// Messages kept in memory per priority level.
    pub window: usize,
}

/// A message paged out of memory.
#[derive(Debug, Clone)]
struct Paged {
    seq: u64,
    /// Where its record is in the log.
    id: u64,
    /// A spill record (released when the message leaves), rather than the
    /// durable record the queue shares with others.
    spilled: bool,
    expires_at: u64,
    redelivered: bool,
    returned: u32,
}

#[derive(Default)]
struct Level {
    mem: VecDeque<Entry>,
    disk: VecDeque<Paged>,
}

pub struct Ready {
    levels: Vec<Level>,
    len: usize,
    bytes: u64,
    pager: Option<Pager>,
    /// The head message that could not be read back from the log (logged
    /// once, not at every attempt).
    unreadable: Option<u64>,
}

/// Messages read back per page-in.
const PAGE_IN: usize = 256;

impl Ready {
    /// `max_priority` of `None` or `0` makes a plain FIFO.
    pub fn new(max_priority: Option<u8>, pager: Option<Pager>) -> Ready {
        let levels = usize::from(max_priority.unwrap_or(0)) + 1;
        Ready {
            levels: (0..levels).map(|_| Level::default()).collect(),
            len: 0,
            bytes: 0,
            pager,
            unreadable: None,
        }
    }

    /// A message's level: priorities above the maximum count as the maximum.
    fn level_of(&self, priority: u8) -> usize {
        usize::from(priority).min(self.levels.len() - 1)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Body bytes of the ready messages.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Messages held in memory (the rest are paged out).
    pub fn in_memory(&self) -> usize {
        self.levels.iter().map(|l| l.mem.len()).sum()
    }

    /// Moves a message's content to the log, keeping an index entry.
    fn page_out(pager: &Pager, e: Entry) -> Paged {
        let m = &e.msg;
        let (id, spilled) = if pager.durable && m.store_id != 0 {
            (m.store_id, false)
        } else if e.spill != 0 {
            (e.spill, true)
        } else {
            let id = pager.store.log.spill(&m.parts(&[]));
            (id, true)
        };
        Paged {
            seq: e.seq,
            id,
            spilled,
            expires_at: e.expires_at,
            redelivered: e.redelivered,
            returned: e.returned,
        }
    }

    /// Reads a paged-out message back; gives it back if its record cannot
    /// be read (an I/O error, a failed CRC).
    fn page_in(pager: &Pager, p: Paged) -> Result<Entry, Paged> {
        let Some(mut m) = pager.store.read_message(p.id) else {
            return Err(p);
        };
        m.store_id = if p.spilled { 0 } else { p.id };
        // The log keeps the message as published; a quorum queue's count
        // of returns goes back into its header.
        if p.returned > 0 {
            m = m.with_delivery_count(p.returned);
        }
        Ok(Entry {
            seq: p.seq,
            msg: Arc::new(m),
            redelivered: p.redelivered,
            expires_at: p.expires_at,
            returned: p.returned,
            spill: if p.spilled { p.id } else { 0 },
        })
    }

    /// An entry for a paged-out message that is being thrown away (purge,
    /// delete): enough to release its log record, without reading it.
    fn discarded(p: Paged) -> Entry {
        Entry {
            seq: p.seq,
            msg: Arc::new(placeholder(&p)),
            redelivered: p.redelivered,
            expires_at: p.expires_at,
            returned: p.returned,
            spill: if p.spilled { p.id } else { 0 },
        }
    }

    pub fn push(&mut self, e: Entry) {
        self.len += 1;
        self.bytes += e.msg.size() as u64;
        let l = self.level_of(e.msg.priority);
        let level = &mut self.levels[l];
        match &self.pager {
            Some(p) if !level.disk.is_empty() || level.mem.len() >= p.window => {
                level.disk.push_back(Self::page_out(p, e));
            }
            _ => level.mem.push_back(e),
        }
    }

    /// Adds a message that is only in the log (recovery): it stays paged out
    /// until it is about to be delivered.
    #[allow(clippy::too_many_arguments)]
    pub fn push_paged(
        &mut self,
        seq: u64,
        id: u64,
        priority: u8,
        size: u32,
        expires_at: u64,
        redelivered: bool,
        returned: u32,
    ) {
        self.len += 1;
        self.bytes += u64::from(size);
        let l = self.level_of(priority);
        self.levels[l].disk.push_back(Paged {
            seq,
            id,
            spilled: false,
            expires_at,
            redelivered,
            returned,
        });
    }

    /// Puts a message back where its sequence number says it belongs.
    pub fn insert_by_seq(&mut self, e: Entry) {
        self.len += 1;
        self.bytes += e.msg.size() as u64;
        let l = self.level_of(e.msg.priority);
        let level = &mut self.levels[l];
        match (&self.pager, level.disk.front()) {
            (Some(p), Some(first)) if e.seq > first.seq => {
                let at = level.disk.partition_point(|x| x.seq < e.seq);
                level.disk.insert(at, Self::page_out(p, e));
            }
            _ => {
                let at = level.mem.partition_point(|x| x.seq < e.seq);
                level.mem.insert(at, e);
            }
        }
    }

    /// Refills a level's memory from its paged-out messages. A message
    /// that cannot be read back stays first in line, never delivered as
    /// something else: `pop` gives `None` while messages remain.
    fn refill(&mut self, l: usize) {
        let Some(p) = &self.pager else { return };
        let level = &mut self.levels[l];
        if !level.mem.is_empty() {
            return;
        }
        for _ in 0..PAGE_IN.min(p.window.max(1)) {
            let Some(paged) = level.disk.pop_front() else {
                break;
            };
            match Self::page_in(p, paged) {
                Ok(e) => level.mem.push_back(e),
                Err(paged) => {
                    if self.unreadable != Some(paged.id) {
                        tracing::error!(
                            "message {:#x} cannot be read back from the message store; it stays in its queue",
                            paged.id
                        );
                    }
                    self.unreadable = Some(paged.id);
                    level.disk.push_front(paged);
                    return;
                }
            }
        }
        self.unreadable = None;
    }

    /// The highest level with messages.
    fn top(&self) -> Option<usize> {
        (0..self.levels.len())
            .rev()
            .find(|l| !self.levels[*l].mem.is_empty() || !self.levels[*l].disk.is_empty())
    }

    /// When the next message to leave expires.
    pub fn head_expires_at(&self) -> Option<u64> {
        let level = &self.levels[self.top()?];
        level
            .mem
            .front()
            .map(|e| e.expires_at)
            .or_else(|| level.disk.front().map(|p| p.expires_at))
    }

    /// The next message to leave: the oldest of the highest priority.
    pub fn pop(&mut self) -> Option<Entry> {
        let l = self.top()?;
        self.refill(l);
        let e = self.levels[l].mem.pop_front()?;
        self.len -= 1;
        self.bytes -= e.msg.size() as u64;
        Some(e)
    }

    /// Takes back the message just pushed with this sequence number, if it
    /// is still there (TTL 0: it was not delivered at once).
    pub fn pop_back_if(&mut self, seq: u64) -> Option<Entry> {
        for l in 0..self.levels.len() {
            let level = &mut self.levels[l];
            let e = if level.disk.back().is_some_and(|p| p.seq == seq) {
                match (&self.pager, level.disk.pop_back()) {
                    (Some(pager), Some(paged)) => match Self::page_in(pager, paged) {
                        Ok(e) => Some(e),
                        Err(paged) => {
                            // Stays: its TTL-0 check retries at the next look.
                            level.disk.push_back(paged);
                            None
                        }
                    },
                    _ => None,
                }
            } else if level.disk.is_empty() && level.mem.back().is_some_and(|e| e.seq == seq) {
                level.mem.pop_back()
            } else {
                None
            };
            if let Some(e) = e {
                self.len -= 1;
                self.bytes -= e.msg.size() as u64;
                return Some(e);
            }
        }
        None
    }

    /// Up to `count` ready messages from position `offset` in delivery
    /// order, without taking them: paged-out ones are read from the log
    /// and dropped again, so the in-memory window is unchanged. Stops at a
    /// message that cannot be read back.
    pub fn peek(&self, offset: usize, count: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        let mut skip = offset;
        for level in self.levels.iter().rev() {
            let in_level = level.mem.len() + level.disk.len();
            if skip >= in_level {
                skip -= in_level;
                continue;
            }
            for e in level.mem.iter().skip(skip).take(count - out.len()) {
                out.push(e.clone());
            }
            let on_disk = skip.saturating_sub(level.mem.len());
            skip = 0;
            if out.len() == count {
                return out;
            }
            let Some(pager) = &self.pager else { continue };
            for p in level.disk.iter().skip(on_disk).take(count - out.len()) {
                match Self::page_in(pager, p.clone()) {
                    Ok(e) => out.push(e),
                    Err(_) => return out,
                }
            }
            if out.len() == count {
                return out;
            }
        }
        out
    }

    /// Removes every message (paged-out ones are not read back).
    pub fn take_all(&mut self) -> Vec<Entry> {
        self.len = 0;
        self.bytes = 0;
        self.unreadable = None;
        let mut out = Vec::new();
        for level in self.levels.iter_mut().rev() {
            out.extend(level.mem.drain(..));
            out.extend(level.disk.drain(..).map(Self::discarded));
        }
        out
    }
}

/// A stand-in for a paged-out message that is not read back.
fn placeholder(p: &Paged) -> Message {
    Message {
        exchange: Bytes::new(),
        routing_key: Bytes::new(),
        properties: Bytes::from_static(&[0, 0]),
        body: Bytes::new(),
        persistent: !p.spilled,
        priority: 0,
        expiration_ms: None,
        has_headers: false,
        store_id: if p.spilled { 0 } else { p.id },
    }
}
