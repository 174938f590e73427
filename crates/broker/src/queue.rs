//! A queue: ready messages (by priority, then sequence), the consumers
//! attached to it, and the count of messages delivered but not yet
//! acknowledged. Applies TTL, length limits and the dead-letter hand-off.
//!
//! Every entry carries a sequence number fixed when it was enqueued, so a
//! requeued message goes back to its original position. Dead letters are
//! collected under the queue's lock and handed to the vhost after it is
//! released, so dead-lettering into another queue (or this one) never nests
//! queue locks.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use amq_protocol::types::FieldTable;
use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::args::{Overflow, QueueArgs};
use crate::clock::Clock;
use crate::message::Message;
use crate::persist::Persistence;
use crate::ready::{Pager, Ready};
use warren_store::RecoveredMessage;

/// One message in one queue.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub msg: Arc<Message>,
    pub redelivered: bool,
    /// Clock time after which the message has expired (`u64::MAX`: never).
    pub expires_at: u64,
    /// Times the message came back unacknowledged (quorum delivery limit).
    pub returned: u32,
    /// The spill record holding it while it was paged out (0: none),
    /// released when it leaves the queue.
    pub spill: u64,
}

/// Why a message left its queue for the dead-letter exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeathReason {
    Rejected,
    Expired,
    Maxlen,
    DeliveryLimit,
}

impl DeathReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeathReason::Rejected => "rejected",
            DeathReason::Expired => "expired",
            DeathReason::Maxlen => "maxlen",
            DeathReason::DeliveryLimit => "delivery_limit",
        }
    }
}

/// Where a queue's dead letters go (the vhost, which routes them).
pub trait DeadLetters: Send + Sync {
    fn dead_letter(&self, queue: &Queue, dead: Vec<(Entry, DeathReason)>);
}

/// What a consumer's channel did with the messages it was offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taken {
    pub count: usize,
    /// The consumer acknowledges, so the queue counts them as unacked.
    pub needs_ack: bool,
}

/// The messages a consumer may take: the queue's ready messages with the
/// expired ones set aside as they come up.
pub struct Source<'a> {
    ready: &'a mut Ready,
    now: u64,
    dead: &'a mut Vec<(Entry, DeathReason)>,
    store: Option<&'a (Arc<Persistence>, u32)>,
    /// Log ids (stored, spilled) of what was handed out: if the consumer
    /// does not ack, the messages are gone once sent and the log is told.
    handed: &'a mut Vec<(u64, u64)>,
    /// Body bytes and redelivered messages handed out, for management.
    bytes: u64,
    redelivered: u64,
}

impl Source<'_> {
    /// The clock time of this dispatch.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The next live message, or `None` when none is ready. The first
    /// delivery of a stored message is recorded, so that after a crash it
    /// comes back marked redelivered.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Entry> {
        loop {
            let e = self.ready.pop()?;
            if self.now > e.expires_at {
                self.dead.push((e, DeathReason::Expired));
                continue;
            }
            if let Some((p, q)) = self.store {
                if !e.redelivered && e.msg.store_id != 0 {
                    p.log.delivered(e.msg.store_id, *q);
                }
            }
            if e.msg.store_id != 0 || e.spill != 0 {
                self.handed.push((e.msg.store_id, e.spill));
            }
            self.bytes += e.msg.size() as u64;
            self.redelivered += u64::from(e.redelivered);
            return Some(e);
        }
    }

    /// After [`Source::next`] gave `None`: whether it stopped at a message
    /// that cannot be read back from the log rather than at the end (the
    /// only way messages remain). The channel that was to take it is closed
    /// with [`Unreadable::error`]; the message stays in the queue.
    pub fn stuck(&self) -> bool {
        !self.ready.is_empty()
    }
}

/// The head message of a queue cannot be read back from the message store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

impl Unreadable {
    /// What the channel that was to take it is closed with.
    pub fn error(queue: &Queue) -> crate::error::AmqpError {
        crate::error::AmqpError::new(
            crate::error::INTERNAL_ERROR,
            format_args!(
                "a message of queue '{}' in vhost '{}' cannot be read back from the message store; it stays in the queue",
                queue.name, queue.vhost
            ),
        )
    }
}

/// The server side of a consumer: a channel that can take messages.
pub trait DeliverySink: Send + Sync {
    /// Takes up to `max` messages from `source`, as the consumer's credit
    /// allows, and sends them to the client.
    fn deliver(&self, queue: &Arc<Queue>, source: &mut Source, max: usize) -> Taken;
    /// The queue was deleted under the consumer (`basic.cancel` from the server).
    fn cancelled(&self, queue: &Arc<Queue>);
    /// What management shows of the consumer: its channel number, whether
    /// it acknowledges, and its prefetch limit.
    fn describe(&self) -> (u16, bool, u32) {
        (0, true, 0)
    }
}

/// A consumer attached to a queue.
pub struct Consumer {
    pub tag: Arc<str>,
    pub exclusive: bool,
    /// `x-priority`: higher-priority consumers get messages first.
    pub priority: i32,
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

/// What a queue needs from its surroundings.
#[derive(Clone)]
pub struct QueueEnv {
    pub clock: Arc<Clock>,
    pub dead_letters: Weak<dyn DeadLetters>,
    /// For a durable queue: the log and the queue's id in it.
    pub store: Option<(Arc<Persistence>, u32)>,
    /// Pages the backlog out to the log beyond a window of messages.
    pub pager: Option<Pager>,
}

impl Default for QueueEnv {
    fn default() -> Self {
        struct Nowhere;
        impl DeadLetters for Nowhere {
            fn dead_letter(&self, _: &Queue, _: Vec<(Entry, DeathReason)>) {}
        }
        QueueEnv {
            clock: Arc::new(Clock::default()),
            dead_letters: Weak::<Nowhere>::new(),
            store: None,
            pager: None,
        }
    }
}

/// The result of offering a message to a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Yes,
    /// Refused by `x-overflow: reject-publish(-dlx)`; the publisher gets a nack.
    Rejected,
}

pub struct Queue {
    pub name: Arc<str>,
    pub vhost: Arc<str>,
    pub options: QueueOptions,
    /// The arguments it was declared with (type, priorities, single active
    /// consumer: what policies cannot change).
    pub args: QueueArgs,
    /// The arguments in force: `args` combined with the policy that applies
    /// (see [`crate::policy`]).
    limits: RwLock<QueueArgs>,
    /// The policy that applies, if any.
    policy: RwLock<crate::policy::Applied>,
    env: QueueEnv,
    inner: Mutex<QueueState>,
    deleted: AtomicBool,
    pub stats: QueueStats,
    /// Clock time of the last use, for `x-expires`.
    last_used: AtomicU64,
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
/// (or its memory window, if smaller: a queue that is being consumed
/// should not page out) asks its publishers to pause until it is back under
/// half that, so that a fast publisher cannot starve the consumers of CPU
/// and grow the queue without bound. A queue without consumers never pushes
/// back (a backlog is then what the user asked for).
const CONGESTED: usize = 16_384;

/// What a queue holds, for management and metrics, read under one lock:
/// its counts, an estimate of its memory, and the body bytes of its ready
/// and its unacknowledged messages.
#[derive(Debug, Clone, Copy)]
pub struct QueueGauges {
    pub ready: u32,
    pub unacked: usize,
    pub consumers: u32,
    pub memory: u64,
    pub ready_bytes: u64,
    pub unacked_bytes: u64,
}

/// Counters read by management without taking the queue's lock.
#[derive(Debug, Default)]
pub struct QueueStats {
    pub published: AtomicU64,
    /// Every delivery and get (RabbitMQ's `deliver_get`).
    pub delivered: AtomicU64,
    pub acked: AtomicU64,
    /// The parts of `delivered`, each counted where it happens (a part
    /// derived from the others could go back for a moment).
    pub deliver: AtomicU64,
    pub deliver_no_ack: AtomicU64,
    pub get: AtomicU64,
    pub get_no_ack: AtomicU64,
    /// `basic.get` that found the queue empty (not in `delivered`).
    pub get_empty: AtomicU64,
    /// Deliveries and gets of messages delivered before.
    pub redeliver: AtomicU64,
    /// Rates of [`QueueStats::STATS`], for management.
    pub rates: crate::stats::RateMeter<9>,
    /// Rates of change of (messages, ready, unacked).
    pub depth_rates: crate::stats::RateMeter<3>,
}

impl QueueStats {
    /// RabbitMQ's names of the counters [`QueueStats::snapshot`] returns.
    pub const STATS: [&'static str; 9] = [
        "publish",
        "deliver_get",
        "ack",
        "deliver",
        "deliver_no_ack",
        "get",
        "get_no_ack",
        "get_empty",
        "redeliver",
    ];

    /// The counters named by [`QueueStats::STATS`] and their rates per
    /// second.
    pub fn snapshot(&self) -> ([u64; 9], [f64; 9]) {
        let counts = self.counts();
        (counts, self.rates.rates(counts))
    }

    /// The counters named by [`QueueStats::STATS`].
    pub fn counts(&self) -> [u64; 9] {
        [
            &self.published,
            &self.delivered,
            &self.acked,
            &self.deliver,
            &self.deliver_no_ack,
            &self.get,
            &self.get_no_ack,
            &self.get_empty,
            &self.redeliver,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

/// `x-max-length` and `x-max-length-bytes` in force, copied out of their
/// lock.
#[derive(Clone, Copy)]
struct Lengths {
    max_length: Option<u64>,
    max_length_bytes: Option<u64>,
}

impl Lengths {
    fn of(args: &QueueArgs) -> Lengths {
        Lengths {
            max_length: args.max_length,
            max_length_bytes: args.max_length_bytes,
        }
    }

    /// Whether the ready messages, plus `extra_len` more of `extra_bytes`,
    /// pass a limit.
    fn exceeded(self, ready: &Ready, extra_len: usize, extra_bytes: u64) -> bool {
        self.max_length
            .is_some_and(|m| (ready.len() + extra_len) as u64 > m)
            || self
                .max_length_bytes
                .is_some_and(|m| ready.bytes() + extra_bytes > m)
    }
}

struct QueueState {
    ready: Ready,
    next_seq: u64,
    /// In the order they subscribed.
    consumers: Vec<Arc<Consumer>>,
    next_consumer: usize,
    unacked: usize,
    /// Body bytes of the unacknowledged messages.
    unacked_bytes: u64,
    had_consumer: bool,
    dead: Vec<(Entry, DeathReason)>,
    handed: Vec<(u64, u64)>,
    /// Dispatch order of the consumers, reused (see `eligible`).
    order: Vec<usize>,
}

impl QueueState {
    /// drop-head: dead-letters from the head until the limits hold.
    fn drop_head_over(&mut self, lengths: Lengths) {
        while lengths.exceeded(&self.ready, 0, 0) {
            let Some(e) = self.ready.pop() else { break };
            self.dead.push((e, DeathReason::Maxlen));
        }
    }
}

/// At most this many messages go to one consumer per turn when it is the
/// only one; with several, one each per turn keeps dispatch round-robin.
const BATCH: usize = 256;

impl Queue {
    pub fn new(name: &str, vhost: &str, options: QueueOptions, args: QueueArgs, env: QueueEnv) -> Arc<Queue> {
        let now = env.clock.now_ms();
        Arc::new(Queue {
            name: name.into(),
            vhost: vhost.into(),
            options,
            inner: Mutex::new(QueueState {
                ready: Ready::new(args.max_priority, env.pager.clone()),
                next_seq: 0,
                consumers: Vec::new(),
                next_consumer: 0,
                unacked: 0,
                unacked_bytes: 0,
                had_consumer: false,
                dead: Vec::new(),
                handed: Vec::new(),
                order: Vec::new(),
            }),
            limits: RwLock::new(args.clone()),
            policy: RwLock::new(Default::default()),
            args,
            env,
            deleted: AtomicBool::new(false),
            stats: QueueStats::default(),
            last_used: AtomicU64::new(now),
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

    /// The queue's id in the message log, if it is durable.
    pub fn store_id(&self) -> Option<u32> {
        self.env.store.as_ref().map(|(_, id)| *id)
    }

    /// Records in the log that these messages left the queue for good.
    fn forget<'a>(&self, entries: impl IntoIterator<Item = &'a Entry>) {
        for e in entries {
            self.forget_ids(e.msg.store_id, e.spill);
        }
    }

    /// Acks a message's durable record and releases its spill record
    /// (0 means none).
    fn forget_ids(&self, stored: u64, spill: u64) {
        if let (Some((p, q)), true) = (&self.env.store, stored != 0) {
            p.log.ack(stored, *q);
        }
        if let (Some(p), true) = (&self.env.pager, spill != 0) {
            p.store.log.release(spill);
        }
    }

    /// The log side of [`Queue::forget`] for messages handed to a no-ack
    /// consumer (only their ids are left).
    fn forget_handed(&self, handed: &mut Vec<(u64, u64)>, needs_ack: bool) {
        if !needs_ack {
            for (stored, spill) in handed.iter() {
                self.forget_ids(*stored, *spill);
            }
        }
        handed.clear();
    }

    /// Puts messages recovered from the log back, in order. They stay
    /// paged out until they are about to be delivered.
    pub fn restore(&self, messages: impl IntoIterator<Item = RecoveredMessage>) {
        let ttl = self.limits.read().message_ttl;
        let now = self.env.clock.now_ms();
        let mut st = self.inner.lock();
        for m in messages {
            let seq = st.next_seq;
            st.next_seq += 1;
            let expires_at = Self::expiry(ttl, m.expiration_ms, now);
            st.ready
                .push_paged(seq, m.id, m.priority, m.size, expires_at, m.delivered, m.returned);
        }
        self.settled(&st);
    }

    /// Marks the queue used now (declare, get), for `x-expires`.
    pub fn touch(&self) {
        self.last_used.store(self.env.clock.now_ms(), Ordering::Relaxed);
    }

    /// Releases the lock, then hands any dead letters to the vhost.
    fn finish(&self, mut st: MutexGuard<'_, QueueState>) {
        self.settled(&st);
        let dead = std::mem::take(&mut st.dead);
        drop(st);
        if !dead.is_empty() {
            self.forget(dead.iter().map(|(e, _)| e));
            if let Some(dl) = self.env.dead_letters.upgrade() {
                dl.dead_letter(self, dead);
            }
        }
    }

    /// When a message published now expires: the lower of the queue's
    /// `x-message-ttl` and the message's own `expiration`.
    fn expiry(message_ttl: Option<u64>, expiration_ms: Option<u64>, now: u64) -> u64 {
        match (message_ttl, expiration_ms) {
            (None, None) => u64::MAX,
            (a, b) => now.saturating_add(a.unwrap_or(u64::MAX).min(b.unwrap_or(u64::MAX))),
        }
    }

    /// Appends a message and hands it to consumers with credit.
    pub fn publish(self: &Arc<Self>, msg: Arc<Message>) -> Enqueued {
        let now = self.env.clock.now_ms();
        // Copied out, so no guard is held across `finish`, which may
        // dead-letter back into this queue.
        let (message_ttl, lengths, overflow) = {
            let l = self.limits.read();
            (l.message_ttl, Lengths::of(&l), l.overflow)
        };
        let mut st = self.inner.lock();
        let expires_at = Self::expiry(message_ttl, msg.expiration_ms, now);
        let size = msg.size() as u64;
        let seq = st.next_seq;
        st.next_seq += 1;
        let entry = Entry {
            seq,
            msg,
            redelivered: false,
            expires_at,
            returned: 0,
            spill: 0,
        };
        if overflow != Overflow::DropHead && lengths.exceeded(&st.ready, 1, size) {
            if overflow == Overflow::RejectPublishDlx {
                st.dead.push((entry, DeathReason::Maxlen));
            } else {
                self.forget([&entry]);
            }
            self.finish(st);
            return Enqueued::Rejected;
        }
        st.ready.push(entry);
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        if !st.consumers.is_empty() {
            self.dispatch_locked(&mut st, now);
        }
        if expires_at == now {
            // TTL 0: delivered at once or never.
            if let Some(e) = st.ready.pop_back_if(seq) {
                st.dead.push((e, DeathReason::Expired));
            }
        }
        st.drop_head_over(lengths);
        if st.dead.is_empty() {
            self.ready_len.store(st.ready.len(), Ordering::Relaxed);
        } else {
            self.finish(st);
        }
        Enqueued::Yes
    }

    /// Whether publishers should pause before sending more to this queue.
    /// Half the memory window leaves room for a publisher's read batch, so
    /// a queue that is being consumed does not page out in steady flow.
    fn congestion_limit(&self) -> usize {
        self.env
            .pager
            .as_ref()
            .map_or(CONGESTED, |p| (p.window / 2).clamp(1, CONGESTED))
    }

    pub fn congested(&self) -> bool {
        self.has_consumers.load(Ordering::Relaxed)
            && self.ready_len.load(Ordering::SeqCst) > self.congestion_limit()
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
        let relieved = n <= self.congestion_limit() / 2;
        if (relieved || st.consumers.is_empty()) && self.paused.swap(false, Ordering::SeqCst) {
            self.drained.notify_waiters();
        }
    }

    /// Offers ready messages to consumers (after credit came back).
    pub fn dispatch(self: &Arc<Self>) {
        let mut st = self.inner.lock();
        let now = self.env.clock.now_ms();
        self.dispatch_locked(&mut st, now);
        self.finish(st);
    }

    /// Consumers by descending `x-priority`, starting each priority at the
    /// round-robin position (the sort is stable).
    /// Consumer indexes in dispatch order: by priority, highest first, and
    /// within a priority from `next` round-robin. Written into `order`, a
    /// buffer the queue keeps, so dispatch neither allocates nor touches the
    /// consumers' reference counts.
    fn eligible(consumers: &[Arc<Consumer>], next: usize, order: &mut Vec<usize>) {
        let n = consumers.len();
        order.clear();
        order.extend((0..n).map(|i| (next + i) % n));
        order.sort_by_key(|&i| std::cmp::Reverse(consumers[i].priority));
    }

    fn dispatch_locked(self: &Arc<Self>, st: &mut QueueState, now: u64) {
        if st.consumers.is_empty() || st.ready.is_empty() {
            return;
        }
        let QueueState {
            ready,
            consumers,
            next_consumer,
            unacked,
            unacked_bytes,
            dead,
            handed,
            order,
            ..
        } = st;
        if consumers.len() == 1 || self.args.single_active_consumer {
            // One consumer, or the single active one: the first subscribed.
            let c = consumers[0].clone();
            while !ready.is_empty() {
                let mut source = Source {
                    ready,
                    now,
                    dead,
                    store: self.env.store.as_ref(),
                    handed,
                    bytes: 0,
                    redelivered: 0,
                };
                let taken = c.sink.deliver(self, &mut source, BATCH);
                let handed_out = (source.bytes, source.redelivered);
                self.forget_handed(handed, taken.needs_ack);
                if taken.count == 0 {
                    break;
                }
                self.count_delivered(unacked, unacked_bytes, taken, handed_out);
            }
            return;
        }
        Self::eligible(consumers, *next_consumer, order);
        let mixed = consumers.iter().any(|c| c.priority != consumers[0].priority);
        'outer: while !ready.is_empty() {
            // The highest priority with credit takes one message; equal
            // priorities take turns.
            let mut progressed = false;
            for &i in order.iter() {
                let c = &consumers[i];
                let mut source = Source {
                    ready,
                    now,
                    dead,
                    store: self.env.store.as_ref(),
                    handed,
                    bytes: 0,
                    redelivered: 0,
                };
                let taken = c.sink.deliver(self, &mut source, 1);
                let handed_out = (source.bytes, source.redelivered);
                self.forget_handed(handed, taken.needs_ack);
                if taken.count > 0 {
                    progressed = true;
                    self.count_delivered(unacked, unacked_bytes, taken, handed_out);
                    *next_consumer = i + 1;
                    if mixed {
                        continue 'outer;
                    }
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn count_delivered(
        &self,
        unacked: &mut usize,
        unacked_bytes: &mut u64,
        taken: Taken,
        (bytes, redelivered): (u64, u64),
    ) {
        let count = taken.count as u64;
        if taken.needs_ack {
            *unacked += taken.count;
            *unacked_bytes += bytes;
            self.stats.deliver.fetch_add(count, Ordering::Relaxed);
        } else {
            self.stats.deliver_no_ack.fetch_add(count, Ordering::Relaxed);
        }
        if redelivered > 0 {
            self.stats.redeliver.fetch_add(redelivered, Ordering::Relaxed);
        }
        self.stats.delivered.fetch_add(count, Ordering::Relaxed);
    }

    /// `basic.get`: the head message and how many remain ready after it.
    pub fn get(&self, needs_ack: bool) -> Result<Option<(Entry, u32)>, Unreadable> {
        self.touch();
        let now = self.env.clock.now_ms();
        let mut st = self.inner.lock();
        let QueueState {
            ready, dead, handed, ..
        } = &mut *st;
        let mut source = Source {
            ready,
            now,
            dead,
            store: self.env.store.as_ref(),
            handed,
            bytes: 0,
            redelivered: 0,
        };
        let entry = source.next();
        let stuck = source.stuck();
        self.forget_handed(&mut st.handed, needs_ack);
        let Some(entry) = entry else {
            if stuck {
                self.finish(st);
                return Err(Unreadable);
            }
            self.stats.get_empty.fetch_add(1, Ordering::Relaxed);
            self.finish(st);
            return Ok(None);
        };
        if needs_ack {
            st.unacked += 1;
            st.unacked_bytes += entry.msg.size() as u64;
            self.stats.get.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.get_no_ack.fetch_add(1, Ordering::Relaxed);
        }
        if entry.redelivered {
            self.stats.redeliver.fetch_add(1, Ordering::Relaxed);
        }
        self.stats.delivered.fetch_add(1, Ordering::Relaxed);
        let left = st.ready.len() as u32;
        self.finish(st);
        Ok(Some((entry, left)))
    }

    /// Up to `count` ready messages from position `offset`, left where they
    /// are: not delivered, not marked redelivered, not counted as gets (a
    /// Warren extension; RabbitMQ can only get and requeue). Also gives the
    /// number of ready messages.
    pub fn peek(&self, offset: usize, count: usize) -> (Vec<Entry>, usize) {
        let st = self.inner.lock();
        (st.ready.peek(offset, count), st.ready.len())
    }

    /// Puts messages taken with [`Queue::get`] back where they were, as if
    /// they had never left: not marked redelivered and no delivery counted
    /// against a delivery limit (a move that could not place them).
    pub fn put_back(self: &Arc<Self>, entries: impl IntoIterator<Item = Entry>) {
        self.unacked_back(entries, false);
    }

    /// Acknowledged messages leave the queue for good.
    pub fn acked<'a>(&self, entries: impl IntoIterator<Item = &'a Entry>) {
        let (mut count, mut bytes) = (0, 0);
        for e in entries {
            count += 1;
            bytes += e.msg.size() as u64;
            self.forget([e]);
        }
        let mut st = self.inner.lock();
        st.unacked = st.unacked.saturating_sub(count);
        st.unacked_bytes = st.unacked_bytes.saturating_sub(bytes);
        self.stats.acked.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// Rejected without requeue: the messages go to the dead-letter exchange.
    pub fn discard(self: &Arc<Self>, entries: impl IntoIterator<Item = Entry>) {
        let mut st = self.inner.lock();
        let (mut n, mut bytes) = (0, 0);
        for e in entries {
            n += 1;
            bytes += e.msg.size() as u64;
            st.dead.push((e, DeathReason::Rejected));
        }
        st.unacked = st.unacked.saturating_sub(n);
        st.unacked_bytes = st.unacked_bytes.saturating_sub(bytes);
        self.finish(st);
    }

    /// Puts unacknowledged messages back at their original positions, marked
    /// redelivered, and offers them to consumers again. With a delivery
    /// limit, a message returned more often than allowed is dead-lettered.
    pub fn requeue(self: &Arc<Self>, entries: impl IntoIterator<Item = Entry>) {
        self.unacked_back(entries, true);
    }

    /// Unacknowledged messages back to the ready ones at their positions;
    /// `returned` counts it as a redelivery (`requeue`) rather than undoing
    /// the take (`put_back`).
    fn unacked_back(self: &Arc<Self>, entries: impl IntoIterator<Item = Entry>, returned: bool) {
        let delivery_limit = self.limits.read().delivery_limit.filter(|_| returned);
        let now = self.env.clock.now_ms();
        let mut st = self.inner.lock();
        let (mut n, mut bytes) = (0, 0);
        for mut e in entries {
            n += 1;
            bytes += e.msg.size() as u64;
            e.redelivered |= returned;
            if self.is_deleted() {
                self.forget([&e]);
                continue;
            }
            if let Some(limit) = delivery_limit {
                e.returned += 1;
                // Kept in the log too, so the count survives a restart.
                if let (Some((p, q)), true) = (&self.env.store, e.msg.store_id != 0) {
                    p.log.returned(e.msg.store_id, *q);
                }
                if u64::from(e.returned) > limit {
                    st.dead.push((e, DeathReason::DeliveryLimit));
                    continue;
                }
                e.msg = Arc::new(e.msg.with_delivery_count(e.returned));
            }
            st.ready.insert_by_seq(e);
        }
        st.unacked = st.unacked.saturating_sub(n);
        st.unacked_bytes = st.unacked_bytes.saturating_sub(bytes);
        self.dispatch_locked(&mut st, now);
        self.finish(st);
    }

    pub fn add_consumer(self: &Arc<Self>, consumer: Arc<Consumer>) {
        let now = self.env.clock.now_ms();
        let mut st = self.inner.lock();
        st.consumers.push(consumer);
        st.had_consumer = true;
        self.dispatch_locked(&mut st, now);
        self.finish(st);
    }

    /// Whether a consumer holds exclusive access.
    pub fn has_exclusive_consumer(&self) -> bool {
        self.inner.lock().consumers.iter().any(|c| c.exclusive)
    }

    /// Detaches a consumer. Returns true when an auto-delete queue just lost
    /// its last consumer and should be deleted. With single active consumer,
    /// the next one in line takes over.
    pub fn remove_consumer(self: &Arc<Self>, tag: &str, connection: u64) -> bool {
        self.touch();
        let now = self.env.clock.now_ms();
        let mut st = self.inner.lock();
        st.consumers
            .retain(|c| !(c.connection == connection && &*c.tag == tag));
        if st.next_consumer >= st.consumers.len() {
            st.next_consumer = 0;
        }
        self.dispatch_locked(&mut st, now);
        let delete = self.options.auto_delete && st.had_consumer && st.consumers.is_empty();
        self.finish(st);
        delete
    }

    pub fn message_count(&self) -> u32 {
        self.inner.lock().ready.len() as u32
    }

    /// The arguments in force (declared ones combined with the policy).
    /// The queue's own consumer timeout (argument or policy), in ms.
    pub fn consumer_timeout(&self) -> Option<u64> {
        self.limits.read().consumer_timeout
    }

    pub fn limits(&self) -> parking_lot::RwLockReadGuard<'_, QueueArgs> {
        self.limits.read()
    }

    /// The policy and the operator policy in force.
    pub fn policy(&self) -> crate::policy::Applied {
        self.policy.read().clone()
    }

    /// Applies a policy (or none): the arguments in force become the
    /// declared ones combined with it, and with `drop-head` a lower length
    /// limit takes effect at once (dropped heads are dead-lettered).
    ///
    /// `select` picks the policy while the queue's policy lock is held, so
    /// of concurrent changes the one applied last read the latest policies.
    pub fn apply_policy(self: &Arc<Self>, select: impl FnOnce() -> crate::policy::Applied) {
        let mut current = self.policy.write();
        let applied = select();
        if applied.same_as(&current) {
            return;
        }
        *self.limits.write() = crate::policy::queue_limits(&self.args, &applied);
        *current = applied;
        drop(current);
        let (lengths, overflow) = {
            let l = self.limits.read();
            (Lengths::of(&l), l.overflow)
        };
        if overflow != Overflow::DropHead {
            // As RabbitMQ: a rejecting queue refuses new messages but keeps
            // the ones it has.
            return;
        }
        let mut st = self.inner.lock();
        st.drop_head_over(lengths);
        self.finish(st);
    }

    /// The consumers, in the order they subscribed.
    pub fn consumers(&self) -> Vec<Arc<Consumer>> {
        self.inner.lock().consumers.clone()
    }

    pub fn consumer_count(&self) -> u32 {
        self.inner.lock().consumers.len() as u32
    }

    /// The counts, an estimate of the memory the queue's ready messages
    /// use (the bodies held in memory, at the backlog's average size, and
    /// an index entry per message), and the body bytes of its ready and its
    /// unacknowledged messages: one lock, where a listing of 100,000 queues
    /// would take four per queue.
    pub fn gauges(&self) -> QueueGauges {
        const ENTRY: u64 = 64;
        let st = self.inner.lock();
        let (len, bytes) = (st.ready.len() as u64, st.ready.bytes());
        let held = st.ready.in_memory() as u64;
        let average = bytes.checked_div(len).unwrap_or(0);
        QueueGauges {
            ready: st.ready.len() as u32,
            unacked: st.unacked,
            consumers: st.consumers.len() as u32,
            memory: held * average + len * ENTRY,
            ready_bytes: bytes,
            unacked_bytes: st.unacked_bytes,
        }
    }

    /// Ready messages held in memory (the rest of the backlog is on disk).
    pub fn in_memory(&self) -> usize {
        self.inner.lock().ready.in_memory()
    }

    pub fn unacked_count(&self) -> usize {
        self.inner.lock().unacked
    }

    /// Drops every ready message; returns how many.
    pub fn purge(&self) -> u32 {
        let mut st = self.inner.lock();
        let gone = st.ready.take_all();
        self.forget(&gone);
        self.finish(st);
        gone.len() as u32
    }

    /// Expires messages at the head and reports whether the queue itself
    /// has been unused for longer than `x-expires`.
    pub fn sweep(&self) -> bool {
        let now = self.env.clock.now_ms();
        let mut st = self.inner.lock();
        while st.ready.head_expires_at().is_some_and(|at| now > at) {
            if let Some(e) = st.ready.pop() {
                st.dead.push((e, DeathReason::Expired));
            }
        }
        let unused = self.limits.read().expires.is_some_and(|ttl| {
            st.consumers.is_empty() && now.saturating_sub(self.last_used.load(Ordering::Relaxed)) >= ttl
        });
        self.finish(st);
        unused
    }

    /// Marks the queue deleted, drops its messages and tells its consumers.
    /// Returns the number of ready messages it held.
    pub fn delete(self: &Arc<Self>) -> u32 {
        self.deleted.store(true, Ordering::Release);
        let (n, consumers) = {
            let mut st = self.inner.lock();
            let gone = st.ready.take_all();
            self.forget(&gone);
            let n = gone.len() as u32;
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
