//! The persister thread: writes what publishers appended, in order, runs
//! `fdatasync` when somebody waits for durability, and announces the
//! highest ticket that is on disk.
//!
//! **A failing disk never produces a confirm.** The synced ticket only ever
//! moves over records that were written and then synced without error:
//! - a chunk that cannot be written (`fallocate` or `write` fails: a full
//!   disk, an I/O error) stays first in line and is tried again, with a
//!   growing pause, until it goes through; nothing after it is written
//!   before it, so the log never has a hole that recovery would read as
//!   its end;
//! - after a failed `fdatasync` the kernel may have dropped the dirty pages
//!   it could not write, so every chunk written since the last good sync is
//!   kept and written again before the next sync.
//!
//! Meanwhile the log is *faulted*: the highest ticket appended so far is
//! published as failed, so that channels nack what waits on it (and close
//! a transaction that commits it), and the broker raises its disk alarm
//! through the fault hook. The first sync that succeeds clears both.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::disk::open_segment;
use super::{segment_path, Chunk, Shared, Ticket};

/// Chunks holding durable records that have been written but not synced
/// are kept (to be written again should a sync fail); past this many bytes
/// the persister syncs without being asked, which bounds that memory.
const UNSYNCED_LIMIT: usize = 8 << 20;

/// The first pause after a fault; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Removals are made durable at most this often (see `Persister::remove`).
const DIR_SYNC_INTERVAL: Duration = Duration::from_secs(1);

pub(super) struct Persister {
    shared: Arc<Shared>,
    files: HashMap<u32, File>,
    /// Segments written since their last sync.
    dirty: Vec<u32>,
    /// Bytes of the chunks kept in `Shared::unsynced`.
    unsynced_bytes: usize,
    /// A sync failed: `unsynced` must be written again before the next one.
    rewrite: bool,
    /// The ticket of the last record written.
    written_ticket: Ticket,
    /// Segments up to this one are deleted (always oldest first): chunks
    /// still waiting for them hold nothing anyone needs and are dropped.
    removed_up_to: u32,
    /// Backing off after a fault: nothing is tried before this.
    retry_at: Option<Instant>,
    backoff: Duration,
    /// Faults since the last one logged (retries are not all logged).
    quiet_faults: u32,
    /// Segments were removed and the directory not synced since.
    removals_unsynced: bool,
    last_dir_sync: Instant,
}

/// What one round has to do, taken from the appender.
struct Work {
    /// The highest ticket appended so far.
    ticket: Ticket,
    sync_wanted: Ticket,
    doomed: Vec<u32>,
    stop: bool,
}

impl Persister {
    pub(super) fn new(shared: Arc<Shared>) -> Persister {
        Persister {
            shared,
            files: HashMap::new(),
            dirty: Vec::new(),
            unsynced_bytes: 0,
            rewrite: false,
            written_ticket: 0,
            removed_up_to: 0,
            retry_at: None,
            backoff: FIRST_BACKOFF,
            quiet_faults: 0,
            removals_unsynced: false,
            last_dir_sync: Instant::now(),
        }
    }

    pub(super) fn run(mut self) {
        loop {
            let work = self.take_work();
            self.remove(&work.doomed);
            let all_written = self.write_inflight(work.ticket);
            let synced = self.shared.synced.load(Ordering::Acquire);
            let faulted = self.shared.faulted.load(Ordering::Acquire);
            let sync_due =
                work.sync_wanted > synced || work.stop || faulted || self.unsynced_bytes > UNSYNCED_LIMIT;
            if all_written && sync_due {
                self.sync(work.ticket);
            } else if self.dir_sync_at().is_some_and(|at| Instant::now() >= at) {
                // A quiet round: nobody waits for this fsync.
                self.last_dir_sync = Instant::now();
                match self.shared.disk.sync_dir(&self.shared.dir) {
                    Ok(()) => self.removals_unsynced = false,
                    Err(e) => tracing::warn!("cannot sync the message directory after removals: {e}"),
                }
            }
            if work.stop {
                if self.shared.faulted.load(Ordering::Acquire) {
                    // Shutting down on a failing disk: what is not written
                    // now never will be, and nothing of it was confirmed.
                    let left = self.shared.pending.load(Ordering::Relaxed);
                    tracing::error!("message store stopped with {left} bytes it could not write or sync");
                    return;
                }
                if self.shared.inflight.lock().is_empty() && self.shared.appender.lock().chunks.is_empty() {
                    return;
                }
            }
        }
    }

    /// Waits for something to do (or, after a fault, for the pause to end)
    /// and moves the appended chunks in line for writing.
    fn take_work(&mut self) -> Work {
        let shared = &self.shared;
        let mut a = shared.appender.lock();
        loop {
            if a.stop {
                break;
            }
            if let Some(at) = self.retry_at {
                if Instant::now() >= at {
                    self.retry_at = None;
                    break;
                }
                shared.wake.wait_until(&mut a, at);
                continue;
            }
            let sync_due = a.sync_wanted > shared.synced.load(Ordering::Acquire);
            if !a.chunks.is_empty() || sync_due || !a.doomed.is_empty() {
                break;
            }
            if let Some(at) = self.dir_sync_at() {
                // Idle with removals to make durable: a round when due.
                if Instant::now() >= at {
                    break;
                }
                shared.wake.wait_until(&mut a, at);
                continue;
            }
            shared.wake.wait(&mut a);
        }
        // Moved under the appender's lock, so that a reader looking for
        // an unwritten record finds it in one of the two places.
        shared.inflight.lock().extend(a.chunks.drain(..).map(Arc::new));
        Work {
            ticket: a.ticket,
            sync_wanted: a.sync_wanted,
            doomed: std::mem::take(&mut a.doomed),
            stop: a.stop,
        }
    }

    /// When removals are next to be made durable, if any wait.
    fn dir_sync_at(&self) -> Option<Instant> {
        self.removals_unsynced
            .then(|| self.last_dir_sync + DIR_SYNC_INTERVAL)
    }

    /// Deletes segments that hold no live message. The directory fsync
    /// that makes a removal durable is not on a confirm's path (measured:
    /// confirm throughput -7% with one per removal round): it comes with
    /// the next segment's creation or at a round no confirm waits for, at
    /// most once per [`DIR_SYNC_INTERVAL`] (on ext4 each one is a journal
    /// commit, which first writes out the dirty spill data that deleting
    /// its segment would otherwise have spared the disk: measured -8% on
    /// the backlog drain with one per removal). Until then a crash may
    /// bring a removed segment back, which is harmless: it holds only
    /// acknowledged messages, whose ack records are in it or in later
    /// segments, so it recovers nothing and is removed again.
    fn remove(&mut self, doomed: &[u32]) {
        for &seg in doomed {
            self.shared.readers.lock().remove(&seg);
            self.files.remove(&seg);
            self.dirty.retain(|s| *s != seg);
            let _ = std::fs::remove_file(segment_path(&self.shared.dir, seg));
            self.removed_up_to = self.removed_up_to.max(seg);
            self.removals_unsynced = true;
        }
        if !doomed.is_empty() {
            let floor = self.removed_up_to;
            let mut unsynced = self.shared.unsynced.lock();
            unsynced.retain(|c| c.segment > floor);
            self.unsynced_bytes = unsynced.iter().map(|c| c.data.len()).sum();
        }
    }

    /// Writes the chunks in line, oldest first, stopping at the first that
    /// fails. Returns whether all of them were written.
    fn write_inflight(&mut self, ticket: Ticket) -> bool {
        let mut wrote = false;
        let mut all = true;
        loop {
            let Some(c) = self.shared.inflight.lock().front().cloned() else {
                break;
            };
            if c.segment > self.removed_up_to {
                if let Err(e) = self.write(&c) {
                    self.fault(&format!("cannot write segment {}", c.segment), e, ticket);
                    all = false;
                    break;
                }
                if !self.dirty.contains(&c.segment) {
                    self.dirty.push(c.segment);
                }
            }
            let end = (u64::from(c.segment) << 32) | u64::from(c.offset + c.data.len() as u32);
            // Published before the chunk leaves the line (see MessageLog::read).
            self.shared.written.store(end, Ordering::Release);
            self.written_ticket = c.last;
            self.shared.inflight.lock().pop_front();
            self.shared
                .pending
                .fetch_sub(c.data.len() as u64, Ordering::Relaxed);
            if c.durable && c.segment > self.removed_up_to {
                self.keep_until_synced(c);
            }
            wrote = true;
        }
        if wrote {
            self.shared.written_notify.notify_waiters();
        }
        all
    }

    /// Keeps a written chunk until its sync succeeds. Rounds far outnumber
    /// syncs (a round per wake-up, often a few acks), and each chunk starts
    /// with room for 64 KiB: a chunk that continues the last kept one is
    /// copied onto its end, so what is kept costs about what it holds.
    fn keep_until_synced(&mut self, c: Arc<Chunk>) {
        self.unsynced_bytes += c.data.len();
        let mut kept = self.shared.unsynced.lock();
        if let Some(last) = kept.last_mut().and_then(Arc::get_mut) {
            if last.segment == c.segment && last.offset + last.data.len() as u32 == c.offset {
                last.data.extend_from_slice(&c.data);
                last.last = c.last;
                return;
            }
        }
        kept.push(c);
    }

    fn write(&mut self, c: &Chunk) -> std::io::Result<()> {
        let file = match self.files.entry(c.segment) {
            std::collections::hash_map::Entry::Occupied(f) => f.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let size = self.shared.segment_size.max(c.offset + c.data.len() as u32);
                let path = segment_path(&self.shared.dir, c.segment);
                let (file, dir_synced) = open_segment(&*self.shared.disk, &self.shared.dir, &path, size)?;
                self.removals_unsynced &= !dir_synced;
                v.insert(file)
            }
        };
        self.shared.disk.write_at(file, &c.data, u64::from(c.offset))
    }

    /// Syncs every dirty segment (writing the kept chunks again first if
    /// the last sync failed) and announces what is now durable.
    fn sync(&mut self, ticket: Ticket) {
        if self.rewrite {
            let kept = self.shared.unsynced.lock().clone();
            for c in kept {
                if let Err(e) = self.write(&c) {
                    self.fault(&format!("cannot write segment {} again", c.segment), e, ticket);
                    return;
                }
            }
            self.rewrite = false;
        }
        for i in 0..self.dirty.len() {
            let seg = self.dirty[i];
            let Some(f) = self.files.get(&seg) else { continue };
            if let Err(e) = self.shared.disk.sync(f) {
                self.rewrite = true;
                self.fault(&format!("fdatasync of segment {seg} failed"), e, ticket);
                return;
            }
        }
        self.dirty.clear();
        self.shared.unsynced.lock().clear();
        self.unsynced_bytes = 0;
        // The fault ends before the sync is announced: whoever sees the
        // new ticket also sees the disk working.
        if self.shared.faulted.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                "message store writes and syncs again (after {} more failed attempts); disk alarm cleared",
                self.quiet_faults
            );
            self.quiet_faults = 0;
            self.backoff = FIRST_BACKOFF;
            self.shared.announce_fault(false);
        }
        self.shared.synced.store(self.written_ticket, Ordering::Release);
        self.shared.synced_notify.notify_waiters();
    }

    /// A write, allocation or sync failed: nothing appended up to `ticket`
    /// is confirmed until a later sync succeeds; try again after a pause.
    fn fault(&mut self, what: &str, e: std::io::Error, ticket: Ticket) {
        self.shared.failed.fetch_max(ticket, Ordering::AcqRel);
        let first = !self.shared.faulted.swap(true, Ordering::AcqRel);
        if first {
            tracing::error!(
                "{what}: {e}; publishes waiting for the disk are refused (nacked) and the disk alarm raised until a write and sync succeed"
            );
            self.shared.announce_fault(true);
        } else {
            self.quiet_faults += 1;
        }
        // Wake whoever waits: channels nack, blocked readers re-check.
        self.shared.synced_notify.notify_waiters();
        self.shared.written_notify.notify_waiters();
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}
