//! Where Warren's memory goes, without a profiler: the parts that hold
//! buffers count them here, the allocator says what it holds, and
//! `/api/nodes/{node}/memory` and Prometheus show the breakdown.
//!
//! Counting is per change of a buffer's capacity, not per byte moved: a
//! connection reports its read buffer once per read, its write buffers once
//! per write, so the hot paths pay one compare each.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::args::QueueType;
use crate::queue::QueueGauges;

/// A running total of bytes held by many holders.
#[derive(Default)]
pub struct Held(AtomicUsize);

impl Held {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed) as u64
    }
}

/// One holder's part of a [`Held`] total: [`Share::set`] moves the total
/// by the change, dropping gives the part back.
pub struct Share {
    total: Arc<Held>,
    mine: usize,
}

impl Share {
    pub fn new(total: &Arc<Held>) -> Share {
        Share {
            total: total.clone(),
            mine: 0,
        }
    }

    pub fn set(&mut self, bytes: usize) {
        if bytes > self.mine {
            self.total.0.fetch_add(bytes - self.mine, Ordering::Relaxed);
        } else if bytes < self.mine {
            self.total.0.fetch_sub(self.mine - bytes, Ordering::Relaxed);
        }
        self.mine = bytes;
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Bytes held by connections, counted by the connections themselves.
#[derive(Default)]
pub struct ConnectionMemory {
    /// Read buffers (frames not yet handled, room for the next read).
    pub readers: Arc<Held>,
    /// Outgoing buffers (frames not yet written, and the writer's spare).
    pub writers: Arc<Held>,
}

/// What the process's allocator reports, where it can (see the server's
/// `allocator` module); all zero under an allocator without statistics.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllocatorStats {
    /// Bytes in live allocations.
    pub allocated: u64,
    /// Bytes in pages the allocator has mapped and holds resident:
    /// `allocated`, its own metadata, and freed memory not yet returned.
    pub resident: u64,
    /// The allocator's own bookkeeping.
    pub metadata: u64,
}

/// Reads the allocator's statistics; the `warren` binary installs
/// jemalloc's, tests and embedders may have none.
pub type AllocatorProbe = fn() -> Option<AllocatorStats>;

/// The breakdown `/api/nodes/{node}/memory` answers, in bytes: every
/// category RabbitMQ names (those Warren has nothing for stay 0, so tools
/// that read a fixed set find it), then Warren's own (`store_pending`,
/// `caches`). The categories add up to `rss`.
#[derive(Debug, Default, Clone)]
pub struct Breakdown {
    pub rss: u64,
    pub categories: Vec<(&'static str, u64)>,
    /// Bytes in live allocations (0 when the allocator does not say).
    pub allocated: u64,
    /// Bytes the allocator holds resident (0 when it does not say).
    pub allocator_resident: u64,
}

/// The parts Warren counts itself; the rest of the breakdown comes from
/// the resident size and the allocator.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counted {
    pub connection_readers: u64,
    pub connection_writers: u64,
    /// Classic queues' messages held in memory and their index entries.
    pub queue_procs: u64,
    /// The same for quorum queues.
    pub quorum_queue_procs: u64,
    /// Records appended to the message log and not yet written.
    pub store_pending: u64,
    /// Topic routing caches.
    pub caches: u64,
}

impl Counted {
    /// Adds a queue of type `kind` holding `held`.
    pub fn add_queue(&mut self, kind: QueueType, held: &QueueGauges) {
        let bytes = held.memory + held.unacked_bytes;
        match kind {
            QueueType::Classic => self.queue_procs += bytes,
            QueueType::Quorum => self.quorum_queue_procs += bytes,
        }
    }
}

impl Breakdown {
    /// Splits `rss` into what Warren counted; the allocator's other live
    /// allocations (`other_proc`), its own bookkeeping (`other_system`)
    /// and freed memory it has not returned yet (`allocated_unused`); and
    /// what lies outside the allocator: code, stacks, mapped files
    /// (`reserved_unallocated`).
    pub fn new(rss: u64, counted: Counted, alloc: Option<AllocatorStats>) -> Breakdown {
        let sum = counted.connection_readers
            + counted.connection_writers
            + counted.queue_procs
            + counted.quorum_queue_procs
            + counted.store_pending
            + counted.caches;
        let a = alloc.unwrap_or_default();
        // Without allocator statistics, all that is not counted is "other".
        let (other_proc, metadata, unused, inside) = match alloc {
            Some(a) => {
                let used = a.allocated.max(sum) + a.metadata;
                let resident = a.resident.max(used);
                (
                    a.allocated.saturating_sub(sum),
                    a.metadata,
                    resident - used,
                    resident,
                )
            }
            None => (rss.saturating_sub(sum), 0, 0, rss.max(sum)),
        };
        let categories = vec![
            ("connection_readers", counted.connection_readers),
            ("connection_writers", counted.connection_writers),
            ("connection_channels", 0),
            ("connection_other", 0),
            ("queue_procs", counted.queue_procs),
            ("queue_slave_procs", 0),
            ("quorum_queue_procs", counted.quorum_queue_procs),
            ("quorum_queue_dlx_procs", 0),
            ("stream_queue_procs", 0),
            ("stream_queue_replica_reader_procs", 0),
            ("stream_queue_coordinator_procs", 0),
            ("plugins", 0),
            ("other_proc", other_proc),
            ("metrics", 0),
            ("mgmt_db", 0),
            ("mnesia", 0),
            ("quorum_ets", 0),
            ("other_ets", 0),
            ("binary", 0),
            ("msg_index", 0),
            ("code", 0),
            ("atom", 0),
            ("other_system", metadata),
            ("allocated_unused", unused),
            ("reserved_unallocated", rss.saturating_sub(inside)),
            ("store_pending", counted.store_pending),
            ("caches", counted.caches),
        ];
        Breakdown {
            rss: rss.max(inside),
            categories,
            allocated: a.allocated,
            allocator_resident: a.resident,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_give_back() {
        let total = Arc::new(Held::default());
        let mut a = Share::new(&total);
        let mut b = Share::new(&total);
        a.set(100);
        b.set(50);
        assert_eq!(total.get(), 150);
        a.set(30);
        assert_eq!(total.get(), 80);
        drop(b);
        assert_eq!(total.get(), 30);
        drop(a);
        assert_eq!(total.get(), 0);
    }

    #[test]
    fn categories_add_up_to_rss() {
        let counted = Counted {
            connection_readers: 1000,
            connection_writers: 2000,
            queue_procs: 5000,
            ..Counted::default()
        };
        let alloc = AllocatorStats {
            allocated: 20_000,
            resident: 30_000,
            metadata: 1_000,
        };
        let b = Breakdown::new(50_000, counted, Some(alloc));
        let get = |k| b.categories.iter().find(|(n, _)| *n == k).unwrap().1;
        assert_eq!(get("other_proc"), 12_000);
        assert_eq!(get("other_system"), 1_000);
        assert_eq!(get("allocated_unused"), 9_000);
        assert_eq!(get("reserved_unallocated"), 20_000);
        assert_eq!(b.categories.iter().map(|(_, v)| v).sum::<u64>(), 50_000);
        let plain = Breakdown::new(50_000, counted, None);
        assert_eq!(plain.categories.iter().map(|(_, v)| v).sum::<u64>(), 50_000);
    }
}
