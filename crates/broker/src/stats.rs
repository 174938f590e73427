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
