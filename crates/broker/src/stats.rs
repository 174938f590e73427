//! Broker-wide message counters (rabbitmq_global_messages_*_total).
//! Channels count in plain integers and add them here once per batch of
//! frames, so the hot path touches no shared cache line.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct GlobalStats {
    pub received: AtomicU64,
    pub routed: AtomicU64,
    pub unroutable_dropped: AtomicU64,
    pub unroutable_returned: AtomicU64,
    pub confirmed: AtomicU64,
    /// The counters ([`crate::queue::QueueStats::STATS`]) of queues deleted
    /// since the start, so that the totals over all queues never go down.
    pub retired: [AtomicU64; 9],
    /// Messages received on channels in confirm mode.
    pub received_confirm: AtomicU64,
    /// Object churn (rabbitmq_*_opened_total, ..._created_total, ...).
    pub connections_opened: AtomicU64,
    pub connections_closed: AtomicU64,
    /// TLS handshakes that failed (a refused certificate, a wrong
    /// protocol) or timed out, on every TLS listener.
    pub tls_handshake_failures: AtomicU64,
    pub channels_opened: AtomicU64,
    pub channels_closed: AtomicU64,
    pub queues_declared: AtomicU64,
    pub queues_created: AtomicU64,
    pub queues_deleted: AtomicU64,
    /// Logins by protocol and outcome; see [`GlobalStats::login`].
    pub logins: [AtomicU64; 4],
    /// Dead-lettered messages; see [`GlobalStats::dead_lettered`].
    pub dead_lettered: [AtomicU64; 16],
}

/// Where a login came from, for rabbitmq_auth_attempts_*.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Amqp,
    Http,
}

impl GlobalStats {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn login(&self, protocol: Protocol, succeeded: bool) {
        Self::count(&self.logins[Self::login_index(protocol, succeeded)]);
    }

    pub fn login_index(protocol: Protocol, succeeded: bool) -> usize {
        2 * (protocol == Protocol::Http) as usize + succeeded as usize
    }

    /// Counts a batch of messages a queue dead-letters (see
    /// [`GlobalStats::dead_letter_index`]): one shared add per kind in the
    /// batch, not one per message.
    pub fn dead_lettered<'a>(
        &self,
        quorum: bool,
        to_exchange: bool,
        reasons: impl IntoIterator<Item = &'a crate::queue::DeathReason>,
    ) {
        let mut counts = [0u64; 16];
        for reason in reasons {
            counts[Self::dead_letter_index(quorum, *reason, to_exchange)] += 1;
        }
        for (total, n) in self.dead_lettered.iter().zip(counts) {
            if n > 0 {
                total.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// By the queue's type (quorum or classic), the reason, and whether a
    /// dead-letter exchange takes the messages (RabbitMQ's `at_most_once`)
    /// or they are dropped (`disabled`).
    pub fn dead_letter_index(quorum: bool, reason: crate::queue::DeathReason, to_exchange: bool) -> usize {
        use crate::queue::DeathReason::*;
        let r = match reason {
            Rejected => 0,
            Expired => 1,
            Maxlen => 2,
            DeliveryLimit => 3,
        };
        8 * quorum as usize + 2 * r + to_exchange as usize
    }

    /// Keeps a deleted queue's counters in the broker's totals.
    pub fn retire(&self, counts: [u64; 9]) {
        for (total, n) in self.retired.iter().zip(counts) {
            total.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// A channel's counts since it last added them to [`GlobalStats`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub received: u64,
    pub routed: u64,
    pub unroutable_dropped: u64,
    pub unroutable_returned: u64,
    pub confirmed: u64,
    /// Received in confirm mode.
    pub received_confirm: u64,
}

impl GlobalStats {
    pub fn add(&self, c: &mut Counts) {
        if c.received == 0 && c.confirmed == 0 {
            return;
        }
        for (total, n) in [
            (&self.received, c.received),
            (&self.routed, c.routed),
            (&self.unroutable_dropped, c.unroutable_dropped),
            (&self.unroutable_returned, c.unroutable_returned),
            (&self.confirmed, c.confirmed),
            (&self.received_confirm, c.received_confirm),
        ] {
            if n > 0 {
                total.fetch_add(n, Ordering::Relaxed);
            }
        }
        *c = Counts::default();
    }
}

/// Rates per second of a set of counters or gauges, as management shows
/// them (`publish_details.rate`, `messages_details.rate`). Measured between reads at least
/// [`RateMeter::INTERVAL`] apart, so no timer runs for objects nobody looks
/// at; until two samples exist the rates are 0.
#[derive(Debug, Default)]
pub struct RateMeter<const N: usize> {
    state: parking_lot::Mutex<Option<MeterState<N>>>,
}

#[derive(Debug)]
struct MeterState<const N: usize> {
    at: std::time::Instant,
    counts: [u64; N],
    rates: [f64; N],
}

impl<const N: usize> RateMeter<N> {
    /// RabbitMQ samples every 5 seconds.
    pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

    /// Rates of counters, which only go up (a dip reads as 0).
    pub fn rates(&self, counts: [u64; N]) -> [f64; N] {
        self.rates_at(std::time::Instant::now(), counts)
    }

    /// Rates of gauges (a queue's depth): negative when they go down.
    pub fn gauge_rates(&self, values: [u64; N]) -> [f64; N] {
        self.measure(std::time::Instant::now(), values, true)
    }

    pub fn rates_at(&self, now: std::time::Instant, counts: [u64; N]) -> [f64; N] {
        self.measure(now, counts, false)
    }

    fn measure(&self, now: std::time::Instant, counts: [u64; N], signed: bool) -> [f64; N] {
        let mut st = self.state.lock();
        let Some(s) = st.as_mut() else {
            *st = Some(MeterState {
                at: now,
                counts,
                rates: [0.0; N],
            });
            return [0.0; N];
        };
        let elapsed = now.saturating_duration_since(s.at);
        if elapsed >= Self::INTERVAL {
            let secs = elapsed.as_secs_f64();
            for ((rate, now), before) in s.rates.iter_mut().zip(counts).zip(s.counts) {
                let change = if signed {
                    now as f64 - before as f64
                } else {
                    now.saturating_sub(before) as f64
                };
                *rate = change / secs;
            }
            s.at = now;
            s.counts = counts;
        }
        s.rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn rates_are_measured_over_the_interval() {
        let m: RateMeter<2> = RateMeter::default();
        let t0 = Instant::now();
        assert_eq!(m.rates_at(t0, [0, 10]), [0.0, 0.0]);
        assert_eq!(
            m.rates_at(t0 + Duration::from_secs(1), [100, 10]),
            [0.0, 0.0],
            "too soon"
        );
        assert_eq!(m.rates_at(t0 + Duration::from_secs(10), [1000, 10]), [100.0, 0.0]);
        assert_eq!(
            m.rates_at(t0 + Duration::from_secs(11), [5000, 10]),
            [100.0, 0.0],
            "kept until the next interval"
        );
        assert_eq!(
            m.rates_at(t0 + Duration::from_secs(20), [0, 10]),
            [0.0, 0.0],
            "a counter that dips reads as 0"
        );
        let g: RateMeter<1> = RateMeter::default();
        assert_eq!(g.measure(t0, [100], true), [0.0]);
        assert_eq!(
            g.measure(t0 + Duration::from_secs(10), [0], true),
            [-10.0],
            "a gauge going down has a negative rate"
        );
    }
}
