//! Resource alarms: the memory watermark and the free-disk limit. While
//! either is raised, connections that publish are no longer read (and told
//! with `connection.blocked` if they support it); consumers keep draining.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
pub use warren_broker::system::{free_disk, resident_bytes, total_memory};

pub use warren_broker::alarms::Alarms;

/// A memory limit: absolute bytes, or a fraction of physical memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Watermark {
    Relative(f64),
    Absolute(u64),
}

impl Watermark {
    /// `0.4` (a fraction of RAM) or a size: `1073741824`, `512MB`, `2GiB`.
    pub fn parse(s: &str) -> Option<Watermark> {
        let s = s.trim();
        if let Ok(f) = s.parse::<f64>() {
            if f > 0.0 && f < 1.0 {
                return Some(Watermark::Relative(f));
            }
        }
        parse_size(s).map(Watermark::Absolute)
    }

    pub fn bytes(self, total: u64) -> u64 {
        match self {
            Watermark::Relative(f) => (total as f64 * f) as u64,
            Watermark::Absolute(b) => b,
        }
    }
}

/// `123`, `50MB`, `2GiB`, `1kB`...
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1000 * 1000,
        "mib" => 1 << 20,
        "gb" => 1000 * 1000 * 1000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Checks memory and disk every second and raises or clears the alarms when
/// a reading crosses its limit (edge-triggered, so an operator's manual
/// setting holds until the next crossing).
pub async fn monitor(
    alarms: std::sync::Arc<Alarms>,
    memory_limit: u64,
    disk_limit: u64,
    dir: PathBuf,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut mem_was, mut disk_was) = (false, false);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let mem = resident_bytes() > memory_limit;
        if mem != mem_was {
            mem_was = mem;
            tracing::warn!(
                "memory alarm {} (resident {} B, limit {memory_limit} B)",
                if mem { "raised" } else { "cleared" },
                resident_bytes()
            );
            alarms.set_memory(mem);
        }
        let disk = free_disk(&dir).is_some_and(|free| free < disk_limit);
        if disk != disk_was {
            disk_was = disk;
            tracing::warn!(
                "disk alarm {} (limit {disk_limit} B free)",
                if disk { "raised" } else { "cleared" }
            );
            alarms.set_disk(disk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_and_sizes_parse() {
        assert_eq!(Watermark::parse("0.4"), Some(Watermark::Relative(0.4)));
        assert_eq!(Watermark::parse("512MB"), Some(Watermark::Absolute(512_000_000)));
        assert_eq!(Watermark::parse("2GiB"), Some(Watermark::Absolute(2 << 30)));
        assert_eq!(Watermark::parse("100"), Some(Watermark::Absolute(100)));
        assert_eq!(Watermark::parse("lots"), None);
        assert_eq!(Watermark::Relative(0.5).bytes(1000), 500);
    }
}
