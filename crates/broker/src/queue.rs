//! A queue: a FIFO of shared messages, the consumers attached to it, and the
//! count of messages delivered but not yet acknowledged.
//!
//! Every entry carries a sequence number fixed when it was enqueued, so a
//! requeued message goes back to its original position.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use amq_protocol::types::FieldTable;
use parking_lot::Mutex;

use crate::message::Message;

/// One message in one queue.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub msg: Arc<Message>,
    pub redelivered: bool,
}

/// What a consumer's channel did with the messages it was offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taken {
    pub count: usize,
    /// The consumer acknowledges, so the queue counts them as unacked.
    pub needs_ack: bool,
}

/// The server side of a consumer: a channel that can take messages.
pub trait DeliverySink: Send + Sync {
    /// Takes up to `max` messages from the front of `ready`, as the
    /// consumer's credit allows, and sends them to the client.
    fn deliver(&self, queue: &Arc<Queue>, ready: &mut VecDeque<Entry>, max: usize) -> Taken;
    /// The queue was deleted under the consumer (`basic.cancel` from the server).
    fn cancelled(&self, queue: &Arc<Queue>);
}

/// A consumer attached to a queue.
pub struct Consumer {
    pub tag: Arc<str>,
    pub exclusive: bool,
    /// The connection owning the consumer (for exclusivity and cleanup).
    pub connection: u64,
    pub sink: Arc<dyn DeliverySink>,
}

/// Fixed properties of a queue, set when it is declared.
#[derive(Debug, Clone, Default)]
pub struct QueueOptions {
    pub durable: bool,
    pub auto_delete: bool,
    /// The connection that declared an exclusive queue.
    pub exclusive_owner: Option<u64>,
    pub arguments: FieldTable,
}

pub struct Queue {
    pub name: Arc<str>,
    pub vhost: Arc<str>,
    pub options: QueueOptions,
    inner: Mutex<QueueState>,
    deleted: AtomicBool,
    pub stats: QueueStats,
    /// Publishers held back by [`Queue::congested`] wait here.
    drained: tokio::sync::Notify,
    /// Ready messages, readable without the lock.
    ready_len: AtomicUsize,
    has_consumers: AtomicBool,
    /// A publisher is waiting in [`Queue::wait_relieved`].
    paused: AtomicBool,
    /// The delivery count when a pause last timed out: consumers made no
    /// progress, so publishers are not held back until they do.
    stalled_at: AtomicU64,
}

/// Flow control: a queue with consumers whose backlog passes `CONGESTED`
/// asks its publishers to pause until it is back under `RELIEVED`, so that
/// a fast publisher cannot starve the consumers of CPU and grow the queue
/// without bound. A queue without consumers never pushes back (a backlog
/// is then what the user asked for).
const CONGESTED: usize = 16_384;
const RELIEVED: usize = CONGESTED / 2;

/// Counters read by management without taking the queue's lock.
#[derive(Debug, Default)]
pub struct QueueStats {
    pub published: AtomicU64,
    pub delivered: AtomicU64,
    pub acked: AtomicU64,
}

#[derive(Default)]
struct QueueState {
    ready: VecDeque<Entry>,
    next_seq: u64,
    consumers: Vec<Arc<Consumer>>,
    next_consumer: usize,
    unacked: usize,
    had_consumer: bool,
}

/// At most this many messages go to one consumer per turn when it is the
/// only one; with several, one each per turn keeps dispatch round-robin.
const BATCH: usize = 256;

impl Queue {
    pub fn new(name: &str, vhost: &str, options: QueueOptions) -> Arc<Queue> {
        Arc::new(Queue {
            name: name.into(),
            vhost: vhost.into(),
            options,
            inner: Mutex::new(QueueState::default()),
            deleted: AtomicBool::new(false),
            stats: QueueStats::default(),
            drained: tokio::sync::Notify::new(),
            ready_len: AtomicUsize::new(0),
            has_consumers: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            stalled_at: AtomicU64::new(u64::MAX),
        })
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    pub fn is_exclusive(&self) -> bool {
        self.options.exclusive_owner.is_some()
    }

    /// Whether `connection` may use this queue (exclusive queues belong to one).
    pub fn accessible_by(&self, connection: u64) -> bool {
        self.options
            .exclusive_owner
            .is_none_or(|owner| owner == connection)
    }

    /// Appends messages and hands them to consumers with credit.
    pub fn publish(self: &Arc<Self>, msg: Arc<Message>) {
        let mut st = self.inner.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        st.ready.push_back(Entry {
            seq,
            msg,
            redelivered: false,
        });
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        if !st.consumers.is_empty() {
            self.dispatch_locked(&mut st);
        }
        self.ready_len.store(st.ready.len(), Ordering::Relaxed);
    }

    /// Whether publishers should pause before sending more to this queue.
    pub fn congested(&self) -> bool {
        self.has_consumers.load(Ordering::Relaxed)
            && self.ready_len.load(Ordering::SeqCst) > CONGESTED
            && self.stalled_at.load(Ordering::Relaxed) != self.stats.delivered.load(Ordering::Relaxed)
    }

    /// Waits until the queue is no longer congested. If its consumers make
    /// no progress within `limit`, they are stuck (prefetch full, nothing
    /// acked): publishers then go on unhindered until deliveries resume.
    pub async fn wait_relieved(&self, limit: std::time::Duration) {
        let notified = self.drained.notified();
        self.paused.store(true, Ordering::SeqCst);
        if !self.congested() {
            return;
        }
        let delivered = self.stats.delivered.load(Ordering::Relaxed);
        if tokio::time::timeout(limit, notified).await.is_err()
            && self.stats.delivered.load(Ordering::Relaxed) == delivered
        {
            self.stalled_at.store(delivered, Ordering::Relaxed);
        }
    }

    /// Records the backlog after a change and releases paused publishers.
    fn settled(&self, st: &QueueState) {
        let n = st.ready.len();
        self.ready_len.store(n, Ordering::SeqCst);
        self.has_consumers
            .store(!st.consumers.is_empty(), Ordering::Relaxed);
        if (n <= RELIEVED || st.consumers.is_empty()) && self.paused.swap(false, Ordering::SeqCst) {
            self.drained.notify_waiters();
        }
    }

    /// Offers ready messages to consumers (after credit came back).
    pub fn dispatch(self: &Arc<Self>) {
        let mut st = self.inner.lock();
        self.dispatch_locked(&mut st);
        self.settled(&st);
    }

    fn dispatch_locked(self: &Arc<Self>, st: &mut QueueState) {
        let n = st.consumers.len();
        if n == 0 {
            return;
        }
        let max = if n == 1 { BATCH } else { 1 };
        while !st.ready.is_empty() {
            let mut progressed = false;
            for _ in 0..n {
                if st.ready.is_empty() {
                    break;
                }
                let i = st.next_consumer % n;
                st.next_consumer = (i + 1) % n;
                let consumer = st.consumers[i].clone();
                let taken = consumer.sink.deliver(self, &mut st.ready, max);
                if taken.count > 0 {
                    progressed = true;
                    if taken.needs_ack {
                        st.unacked += taken.count;
                    }
                    self.stats
                        .delivered
                        .fetch_add(taken.count as u64, Ordering::Relaxed);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// `basic.get`: the head message and how many remain ready after it.
    pub fn get(&self, needs_ack: bool) -> Option<(Entry, u32)> {
        let mut st = self.inner.lock();
        let entry = st.ready.pop_front()?;
        if needs_ack {
            st.unacked += 1;
        }
        self.stats.delivered.fetch_add(1, Ordering::Relaxed);
        self.settled(&st);
        Some((entry, st.ready.len() as u32))
    }

    /// Acknowledged messages leave the queue for good.
    pub fn acked(&self, count: usize) {
        let mut st = self.inner.lock();
        st.unacked = st.unacked.saturating_sub(count);
        self.stats.acked.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// Puts unacknowledged messages back at their original positions, marked
    /// redelivered, and offers them to consumers again.
    pub fn requeue(self: &Arc<Self>, entries: impl IntoIterator<Item = Entry>) {
        let mut st = self.inner.lock();
        let mut n = 0;
        for mut e in entries {
            n += 1;
            e.redelivered = true;
            if self.is_deleted() {
                continue;
            }
            let at = st.ready.partition_point(|x| x.seq < e.seq);
            st.ready.insert(at, e);
        }
        st.unacked = st.unacked.saturating_sub(n);
        self.dispatch_locked(&mut st);
        self.settled(&st);
    }

    pub fn add_consumer(self: &Arc<Self>, consumer: Arc<Consumer>) {
        let mut st = self.inner.lock();
        st.consumers.push(consumer);
        st.had_consumer = true;
        self.dispatch_locked(&mut st);
        self.settled(&st);
    }

    /// Whether a consumer holds exclusive access.
    pub fn has_exclusive_consumer(&self) -> bool {
        self.inner.lock().consumers.iter().any(|c| c.exclusive)
    }

    /// Detaches a consumer. Returns true when an auto-delete queue just lost
    /// its last consumer and should be deleted.
    pub fn remove_consumer(&self, tag: &str, connection: u64) -> bool {
        let mut st = self.inner.lock();
        st.consumers
            .retain(|c| !(c.connection == connection && &*c.tag == tag));
        self.options.auto_delete && st.had_consumer && st.consumers.is_empty()
    }

    pub fn message_count(&self) -> u32 {
        self.inner.lock().ready.len() as u32
    }

    pub fn consumer_count(&self) -> u32 {
        self.inner.lock().consumers.len() as u32
    }

    pub fn unacked_count(&self) -> usize {
        self.inner.lock().unacked
    }

    /// Drops every ready message; returns how many.
    pub fn purge(&self) -> u32 {
        let mut st = self.inner.lock();
        let n = st.ready.len();
        st.ready.clear();
        self.settled(&st);
        n as u32
    }

    /// Marks the queue deleted, drops its messages and tells its consumers.
    /// Returns the number of ready messages it held.
    pub fn delete(self: &Arc<Self>) -> u32 {
        self.deleted.store(true, Ordering::Release);
        let (n, consumers) = {
            let mut st = self.inner.lock();
            let n = st.ready.len() as u32;
            st.ready.clear();
            let consumers = std::mem::take(&mut st.consumers);
            self.settled(&st);
            (n, consumers)
        };
        for c in consumers {
            c.sink.cancelled(self);
        }
        n
    }
}
