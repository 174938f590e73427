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
}

impl GlobalStats {
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
        ] {
            if n > 0 {
                total.fetch_add(n, Ordering::Relaxed);
            }
        }
        *c = Counts::default();
    }
}

/// Rates per second of a set of counters, as management shows them
/// (`publish_details.rate`). Measured between reads at least
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

    pub fn rates(&self, counts: [u64; N]) -> [f64; N] {
        self.rates_at(std::time::Instant::now(), counts)
    }

    pub fn rates_at(&self, now: std::time::Instant, counts: [u64; N]) -> [f64; N] {
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
                *rate = now.saturating_sub(before) as f64 / secs;
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
    }
}
