//! The broker's resident memory, read from `/proc` when it runs on this
//! machine (`--broker-pid`), and the tool's own file limit.

use std::time::Duration;

use serde_json::{json, Value};

/// How long after the load a last sample waits: memory a broker gives
/// back after load takes a moment (Warren's allocator purges within about
/// a second).
const SETTLE: Duration = Duration::from_secs(5);

/// The resident size of process `pid` in bytes (Linux's `VmRSS`).
pub fn sample(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Adds `broker_rss` (bytes: before, held during the load, and `SETTLE`
/// after it) and `per_item` (the growth while held, divided by `count`)
/// to `out`, when the broker's pid was given.
pub async fn report(
    out: &mut Value,
    pid: Option<u32>,
    before: Option<u64>,
    held: Option<u64>,
    count: usize,
    per_item: &str,
) {
    let (Some(before), Some(held)) = (before, held) else {
        return;
    };
    tokio::time::sleep(SETTLE).await;
    out["broker_rss"] = json!({"before": before, "held": held, "after": sample(pid)});
    out[per_item] = json!(held.saturating_sub(before) as f64 / count.max(1) as f64);
}

/// Raises the tool's open-file limit to its hard maximum: each connection
/// is a descriptor, and the usual soft limit (1,024) is far below a
/// connection test's count.
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}
