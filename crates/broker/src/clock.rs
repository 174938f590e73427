//! The broker's clock. Everything time-based (TTL, queue expiry, delayed
//! messages) reads it, so tests can move time forward instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct Clock {
    /// `None`: a frozen clock that moves only by `advance` (model tests).
    start: Option<Instant>,
    offset_ms: AtomicU64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            start: Some(Instant::now()),
            offset_ms: AtomicU64::new(0),
        }
    }
}

impl Clock {
    /// A clock that stands still until advanced.
    pub fn frozen() -> Clock {
        Clock {
            start: None,
            offset_ms: AtomicU64::new(0),
        }
    }

    /// Milliseconds on a monotonic scale (not wall time).
    pub fn now_ms(&self) -> u64 {
        let real = self.start.map_or(0, |s| s.elapsed().as_millis() as u64);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Wall-clock seconds since the epoch, shifted like `now_ms`.
    pub fn unix_secs(&self) -> u64 {
        self.unix_ms() / 1000
    }

    /// Wall-clock milliseconds since the epoch, shifted like `now_ms`
    /// (times that must survive a restart are stored in these).
    pub fn unix_ms(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        wall + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves time forward (tests).
    pub fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(by.as_millis() as u64, Ordering::Relaxed);
    }
}
