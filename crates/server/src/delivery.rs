//! The part of a channel that other connections touch: delivery tags, the
//! unacknowledged messages and prefetch credit. Publishers deliver to a
//! consumer by calling its [`ConsumerSink`] under the queue's lock; the
//! sink takes this channel's lock, then the outgoing buffer's.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;
use warren_broker::connections::{ChannelInfo, ChannelView};
use warren_broker::queue::{Source, Taken};
use warren_broker::{AmqpError, DeliverySink, Entry, Queue, Unreadable};
use warren_codec::encode;

use crate::outbound::{Outbound, HIGH_WATER};

/// A delivered message the client has not acknowledged yet.
pub struct Unacked {
    pub tag: u64,
    pub queue: Arc<Queue>,
    pub entry: Entry,
    /// The unacked counter of the consumer whose credit it holds; `None`
    /// for `basic.get`.
    pub consumer: Option<Arc<AtomicU32>>,
    /// The consumer timeout that applies (ms; 0: none) and the clock time
    /// it runs out.
    pub timeout: u64,
    pub deadline: u64,
}

/// The consumer timeout (ms, 0: none) for deliveries from `queue`: its own
/// (argument or policy), else the broker's.
pub fn consumer_timeout(queue: &Queue, global: u64) -> u64 {
    queue.consumer_timeout().unwrap_or(global)
}

/// When a delivery made at `now` under `timeout` times out.
pub fn deadline(now: u64, timeout: u64) -> u64 {
    if timeout == 0 {
        u64::MAX
    } else {
        now.saturating_add(timeout)
    }
}

#[derive(Default)]
pub struct DeliveryState {
    pub next_tag: u64,
    /// Ordered by delivery tag.
    pub unacked: VecDeque<Unacked>,
    /// `basic.qos global=true`: limit for the whole channel (0 = none).
    pub global_prefetch: u32,
    /// Unacked messages counted against the global limit.
    pub global_unacked: u32,
    /// `channel.flow active=false` pauses deliveries.
    pub paused: bool,
    pub closed: bool,
    /// A delivery timed out: the channel is being closed.
    pub timed_out: bool,
    /// Messages delivered or got, and acknowledged, on this channel.
    pub delivered: u64,
    pub acked: u64,
    /// Parts of `delivered` (deliveries to acknowledging consumers are the
    /// rest), empty gets, and deliveries of messages delivered before.
    pub deliver_no_ack: u64,
    pub get: u64,
    pub get_no_ack: u64,
    pub get_empty: u64,
    pub redeliver: u64,
}

/// What a channel published, added by the channel once per batch of frames.
#[derive(Debug, Default)]
pub struct PublishCounts {
    pub published: std::sync::atomic::AtomicU64,
    pub confirmed: std::sync::atomic::AtomicU64,
    pub returned: std::sync::atomic::AtomicU64,
    pub dropped: std::sync::atomic::AtomicU64,
}

/// Channel errors found outside the connection's task: a consumer's queue
/// stopped at a message it cannot read back from the store, or a delivery
/// timed out (the sweeper). The connection closes those channels (one list
/// per connection).
#[derive(Default)]
pub struct ChannelFaults {
    raised: Mutex<Vec<(u16, AmqpError)>>,
    notify: Notify,
}

impl ChannelFaults {
    pub fn raise(&self, channel: u16, e: AmqpError) {
        self.raised.lock().push((channel, e));
        self.notify.notify_one();
    }

    pub fn take(&self) -> Vec<(u16, AmqpError)> {
        std::mem::take(&mut *self.raised.lock())
    }

    /// Resolves once a fault is raised (at once if one is waiting).
    pub async fn raised(&self) {
        self.notify.notified().await
    }
}

pub struct ChannelShared {
    pub id: u16,
    pub out: Arc<Outbound>,
    pub faults: Arc<ChannelFaults>,
    pub state: Mutex<DeliveryState>,
    /// For management: set by the channel when they change.
    pub consumers: AtomicU32,
    pub prefetch: AtomicU32,
    /// 0 plain, 1 confirm mode, 2 transactional.
    pub mode: std::sync::atomic::AtomicU8,
    pub publishing: PublishCounts,
    pub rates: warren_broker::stats::RateMeter<12>,
}

impl ChannelView for ChannelShared {
    fn check_consumer_timeout(&self, now: u64) {
        let mut st = self.state.lock();
        let Some(oldest) = st.unacked.front() else { return };
        // Only the oldest delivery is looked at, as RabbitMQ does.
        if st.closed || st.timed_out || oldest.deadline > now {
            return;
        }
        let timeout = oldest.timeout;
        st.timed_out = true;
        drop(st);
        self.faults.raise(
            self.id,
            AmqpError::precondition(format_args!(
                "delivery acknowledgement on channel {} timed out. Timeout value used: {timeout} ms. \
                 This timeout value can be configured, see consumers doc guide to learn more",
                self.id
            )),
        );
    }

    fn info(&self) -> ChannelInfo {
        let st = self.state.lock();
        let mode = self.mode.load(Ordering::Relaxed);
        let p = &self.publishing;
        let counts = [
            p.published.load(Ordering::Relaxed),
            p.confirmed.load(Ordering::Relaxed),
            p.returned.load(Ordering::Relaxed),
            p.dropped.load(Ordering::Relaxed),
            st.delivered,
            st.delivered
                .saturating_sub(st.deliver_no_ack + st.get + st.get_no_ack),
            st.deliver_no_ack,
            st.get,
            st.get_no_ack,
            st.get_empty,
            st.redeliver,
            st.acked,
        ];
        ChannelInfo {
            counts,
            rates: self.rates.rates(counts),
            number: self.id,
            consumers: self.consumers.load(Ordering::Relaxed),
            prefetch: self.prefetch.load(Ordering::Relaxed),
            global_prefetch: st.global_prefetch,
            unacked: st.unacked.len() as u32,
            confirm: mode == 1,
            transactional: mode == 2,
        }
    }
}

impl ChannelShared {
    pub fn new(id: u16, out: Arc<Outbound>, faults: Arc<ChannelFaults>) -> Arc<ChannelShared> {
        Arc::new(ChannelShared {
            id,
            out,
            faults,
            state: Mutex::new(DeliveryState {
                next_tag: 1,
                ..Default::default()
            }),
            consumers: AtomicU32::new(0),
            prefetch: AtomicU32::new(0),
            mode: std::sync::atomic::AtomicU8::new(0),
            publishing: Default::default(),
            rates: Default::default(),
        })
    }
}

impl DeliveryState {
    /// Allocates the next delivery tag.
    pub fn tag(&mut self) -> u64 {
        let t = self.next_tag;
        self.next_tag += 1;
        t
    }

    /// Removes the unacked messages an ack/nack/reject names: one tag, or
    /// every tag up to it with `multiple` (0 with `multiple` means all).
    /// `None` when the tag is unknown.
    pub fn take(&mut self, tag: u64, multiple: bool) -> Option<Vec<Unacked>> {
        let taken: Vec<Unacked> = if multiple {
            let end = if tag == 0 {
                self.unacked.len()
            } else {
                self.unacked.partition_point(|u| u.tag <= tag)
            };
            if end == 0 && tag != 0 {
                return None;
            }
            self.unacked.drain(..end).collect()
        } else {
            let i = self.unacked.binary_search_by_key(&tag, |u| u.tag).ok()?;
            vec![self.unacked.remove(i)?]
        };
        self.release_credit(&taken);
        Some(taken)
    }

    pub fn take_all(&mut self) -> Vec<Unacked> {
        let all: Vec<Unacked> = self.unacked.drain(..).collect();
        self.release_credit(&all);
        all
    }

    fn release_credit(&mut self, taken: &[Unacked]) {
        for u in taken {
            if let Some(c) = &u.consumer {
                c.fetch_sub(1, Ordering::Relaxed);
                self.global_unacked = self.global_unacked.saturating_sub(1);
            }
        }
    }
}

/// A consumer as its queue sees it.
pub struct ConsumerSink {
    pub tag: Arc<str>,
    pub channel: Arc<ChannelShared>,
    pub no_ack: bool,
    /// Per-consumer prefetch from `basic.qos global=false` (0 = none).
    pub prefetch: u32,
    pub unacked: Arc<AtomicU32>,
    pub cancelled: AtomicBool,
    /// The broker's consumer timeout (ms, 0: none).
    pub timeout: u64,
}

impl DeliverySink for ConsumerSink {
    fn deliver(&self, queue: &Arc<Queue>, source: &mut Source, max: usize) -> Taken {
        let mut st = self.channel.state.lock();
        if st.closed || st.paused || self.cancelled.load(Ordering::Relaxed) {
            return Taken::default();
        }
        let mut credit = max;
        if !self.no_ack {
            if self.prefetch > 0 {
                let used = self.unacked.load(Ordering::Relaxed);
                credit = credit.min(self.prefetch.saturating_sub(used) as usize);
            }
            if st.global_prefetch > 0 {
                credit = credit.min(st.global_prefetch.saturating_sub(st.global_unacked) as usize);
            }
        }
        if credit == 0 {
            return Taken::default();
        }
        let frame_max = self.channel.out.frame_max();
        // One clock reading and one look at the queue's settings per batch.
        let timeout = if self.no_ack {
            0
        } else {
            consumer_timeout(queue, self.timeout)
        };
        let deadline = deadline(source.now(), timeout);
        let mut out = self.channel.out.lock();
        let (mut count, mut redelivered) = (0, 0);
        while count < credit {
            if out.len() >= HIGH_WATER {
                self.channel.out.starve(queue);
                break;
            }
            let Some(entry) = source.next() else {
                if source.stuck() {
                    // Never delivered as something else: the message stays
                    // first in its queue and this channel is closed.
                    st.closed = true;
                    self.channel
                        .faults
                        .raise(self.channel.id, Unreadable::error(queue));
                }
                break;
            };
            let tag = st.tag();
            redelivered += u64::from(entry.redelivered);
            let m = &entry.msg;
            encode::deliver(
                &mut out,
                self.channel.id,
                self.tag.as_bytes(),
                tag,
                entry.redelivered,
                &m.exchange,
                &m.routing_key,
            );
            encode::content(&mut out, self.channel.id, &m.properties, &m.body, frame_max);
            if !self.no_ack {
                st.unacked.push_back(Unacked {
                    tag,
                    queue: queue.clone(),
                    entry,
                    consumer: Some(self.unacked.clone()),
                    timeout,
                    deadline,
                });
            }
            count += 1;
        }
        drop(out);
        st.delivered += count as u64;
        st.redeliver += redelivered;
        if self.no_ack {
            st.deliver_no_ack += count as u64;
        }
        if count > 0 {
            if !self.no_ack {
                self.unacked.fetch_add(count as u32, Ordering::Relaxed);
                st.global_unacked += count as u32;
            }
            self.channel.out.wake();
        }
        Taken {
            count,
            needs_ack: !self.no_ack,
        }
    }

    fn describe(&self) -> (u16, bool, u32) {
        (self.channel.id, !self.no_ack, self.prefetch)
    }

    fn cancelled(&self, _queue: &Arc<Queue>) {
        if self.cancelled.swap(true, Ordering::Relaxed) {
            return;
        }
        let cancel = warren_codec::AMQPClass::Basic(warren_codec::protocol::basic::AMQPMethod::Cancel(
            warren_codec::protocol::basic::Cancel {
                consumer_tag: warren_codec::shortstr::truncated(&self.tag),
                nowait: true,
            },
        ));
        self.channel
            .out
            .write(|b| encode::method(b, self.channel.id, &cancel));
    }
}
