//! The ready messages of a queue: one FIFO per priority level (one level for
//! a queue without `x-max-priority`), with counts of messages and bytes.
//!
//! Higher priorities leave first; within a level, order is by sequence
//! number, so a requeued message goes back to its original position.

use std::collections::VecDeque;

use crate::queue::Entry;

#[derive(Debug)]
pub struct Ready {
    levels: Vec<VecDeque<Entry>>,
    len: usize,
    bytes: u64,
}

impl Ready {
    /// `max_priority` of `None` or `0` makes a plain FIFO.
    pub fn new(max_priority: Option<u8>) -> Ready {
        let levels = usize::from(max_priority.unwrap_or(0)) + 1;
        Ready {
            levels: (0..levels).map(|_| VecDeque::new()).collect(),
            len: 0,
            bytes: 0,
        }
    }

    /// A message's level: priorities above the maximum count as the maximum.
    fn level(&self, e: &Entry) -> usize {
        usize::from(e.msg.priority).min(self.levels.len() - 1)
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

    pub fn push(&mut self, e: Entry) {
        self.len += 1;
        self.bytes += e.msg.size() as u64;
        let l = self.level(&e);
        self.levels[l].push_back(e);
    }

    /// Puts a message back where its sequence number says it belongs.
    pub fn insert_by_seq(&mut self, e: Entry) {
        self.len += 1;
        self.bytes += e.msg.size() as u64;
        let l = self.level(&e);
        let level = &mut self.levels[l];
        let at = level.partition_point(|x| x.seq < e.seq);
        level.insert(at, e);
    }

    /// The next message to leave: the oldest of the highest priority.
    pub fn peek(&self) -> Option<&Entry> {
        self.levels.iter().rev().find_map(|l| l.front())
    }

    pub fn pop(&mut self) -> Option<Entry> {
        let e = self.levels.iter_mut().rev().find_map(|l| l.pop_front())?;
        self.len -= 1;
        self.bytes -= e.msg.size() as u64;
        Some(e)
    }

    /// Takes back the message just pushed with this sequence number, if it
    /// is still there (TTL 0: it was not delivered at once).
    pub fn pop_back_if(&mut self, seq: u64) -> Option<Entry> {
        let level = self
            .levels
            .iter_mut()
            .find(|l| l.back().is_some_and(|e| e.seq == seq))?;
        let e = level.pop_back()?;
        self.len -= 1;
        self.bytes -= e.msg.size() as u64;
        Some(e)
    }

    /// Removes every message.
    pub fn take_all(&mut self) -> Vec<Entry> {
        self.len = 0;
        self.bytes = 0;
        self.levels.iter_mut().rev().flat_map(|l| l.drain(..)).collect()
    }

    /// Removes the messages `expired` selects from anywhere in the queue,
    /// keeping the order of the rest.
    pub fn remove_where(&mut self, mut expired: impl FnMut(&Entry) -> bool) -> Vec<Entry> {
        let mut out = Vec::new();
        for level in self.levels.iter_mut().rev() {
            if !level.iter().any(&mut expired) {
                continue;
            }
            let mut keep = VecDeque::with_capacity(level.len());
            for e in level.drain(..) {
                if expired(&e) {
                    out.push(e);
                } else {
                    keep.push_back(e);
                }
            }
            *level = keep;
        }
        for e in &out {
            self.len -= 1;
            self.bytes -= e.msg.size() as u64;
        }
        out
    }
}
