//! The process's allocator: jemalloc, tuned to give memory back.
//!
//! Measured with the bench's scenarios run one after another in one
//! process (ARCHITECTURE.md, "Memory"): glibc's malloc kept every peak
//! (116 MB resident after a 500,000-message backlog, from 12 MB idle, and
//! more after each round of connections), because freed memory in its
//! arenas is reused but rarely returned. jemalloc with background purging
//! returns to within 2-5 MB of idle a few seconds after load stops, and
//! its statistics tell `/api/nodes` what it holds.
//!
//! Declared in the library, so tests run on the allocator that ships.

#[cfg(feature = "jemalloc")]
use tikv_jemalloc_ctl::{epoch, stats};
use warren_broker::memory::AllocatorStats;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The options built into jemalloc (`.cargo/config.toml`): a background
/// thread purges freed pages, dirty pages go back to the system after about
/// a second (the default is ten), without the lazy "muzzy" stage Linux
/// would let linger in the resident size. Blocks up to 128 KiB (read
/// buffers, the log's 64 KiB chunks, outgoing buffers) come from the
/// threads' caches: above jemalloc's default of 32 KiB they went through
/// the arena's locks and extent maps, 10% more CPU per confirmed message
/// than glibc. `MALLOC_CONF` overrides them at run time.
pub const OPTIONS: &str = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,tcache_max:131072";

/// The options jemalloc was built with, to check that a build outside
/// this workspace's cargo configuration still has them.
#[cfg(feature = "jemalloc")]
pub fn built_options() -> Option<&'static str> {
    tikv_jemalloc_ctl::config::malloc_conf::read().ok()
}

/// jemalloc's figures, fresh (its statistics are cached per "epoch").
#[cfg(feature = "jemalloc")]
pub fn stats() -> Option<AllocatorStats> {
    epoch::advance().ok()?;
    Some(AllocatorStats {
        allocated: stats::allocated::read().ok()? as u64,
        resident: stats::resident::read().ok()? as u64,
        metadata: stats::metadata::read().ok()? as u64,
    })
}

/// Built without jemalloc (for a heap profiler): no options to check.
#[cfg(not(feature = "jemalloc"))]
pub fn built_options() -> Option<&'static str> {
    Some(OPTIONS)
}

/// Built without jemalloc: no allocator statistics; the breakdown counts
/// from the resident size alone.
#[cfg(not(feature = "jemalloc"))]
pub fn stats() -> Option<AllocatorStats> {
    None
}
