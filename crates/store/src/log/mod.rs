//! The message log: pre-allocated segment files written by one persister
//! thread. Publishers append records to a pending buffer under a short lock
//! (the record's position, and so the message id, is known at once); the
//! persister ([`persister`]) writes the pending bytes, runs `fdatasync` once
//! for all dirty segments when somebody waits for durability, and then
//! announces the highest ticket that is on disk. Records not yet in their
//! file are read back from memory. Recovery ([`recovery`]) replays the
//! segments at start.
//!
//! Segments are deleted oldest first, once no queue holds a message in them.
//! Deleting only the oldest keeps recovery correct: an ack record always
//! follows its message, so a deleted segment's acks only name messages in
//! segments deleted before it.

mod disk;
mod persister;
mod recovery;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

pub use disk::{Disk, DiskOp, FailingDisk, FileDisk};
pub use recovery::{Damage, Recovered, RecoveredMessage};

use crate::error::StoreError;
use crate::record::{
    self, MessageParts, Read, Record, HEADER, KIND_ACK, KIND_DELIVERED, KIND_RETURNED, MARK_LEN,
};

/// Appends are numbered; a confirm waits until its ticket is synced.
pub type Ticket = u64;

/// A message id: its segment in the high 32 bits, its offset in the low.
pub fn segment_of(id: u64) -> u32 {
    (id >> 32) as u32
}

/// The size of the blocks appended records are gathered in: a segment's
/// records pending for the persister are a list of these.
const CHUNK: usize = 64 * 1024;

/// Records appended one after another in one segment.
struct Chunk {
    segment: u32,
    offset: u32,
    data: Vec<u8>,
    /// The ticket of its last record.
    last: Ticket,
    /// It holds records recovery reads (not only spilled messages), so it
    /// must survive a failed sync.
    durable: bool,
}

impl Chunk {
    /// The record `id` (its header and payload), if this chunk holds it.
    fn record(&self, id: u64) -> Option<Bytes> {
        let offset = (id & 0xffff_ffff) as u32;
        if segment_of(id) != self.segment || offset < self.offset {
            return None;
        }
        let at = (offset - self.offset) as usize;
        let len = recovery::claimed_len(&self.data, at)?;
        self.data.get(at..at + HEADER + len).map(Bytes::copy_from_slice)
    }
}

struct Appender {
    segment: u32,
    offset: u32,
    chunks: Vec<Chunk>,
    ticket: Ticket,
    /// The highest ticket somebody waits to see synced.
    sync_wanted: Ticket,
    /// Segments to remove (no live messages left).
    doomed: Vec<u32>,
    stop: bool,
}

/// A function told when the store faults (`true`) and recovers (`false`).
pub type FaultHook = Box<dyn Fn(bool) + Send + Sync>;

struct Shared {
    dir: PathBuf,
    segment_size: u32,
    disk: Arc<dyn Disk>,
    appender: Mutex<Appender>,
    wake: Condvar,
    synced: AtomicU64,
    /// The highest ticket appended when a write or sync last failed:
    /// tickets above `synced` and up to this one are not on disk and will
    /// not be confirmed (see [`persister`]).
    failed: AtomicU64,
    /// A write or sync failed and none has succeeded since.
    faulted: AtomicBool,
    fault_hook: Mutex<Option<FaultHook>>,
    synced_notify: tokio::sync::Notify,
    /// Live (message, queue) references per segment.
    refs: Mutex<BTreeMap<u32, u64>>,
    /// Everything before this position (`segment << 32 | offset`) is in the
    /// files; later records are in `inflight` or the appender's chunks.
    written: AtomicU64,
    /// Chunks the persister has taken and not yet written, oldest first.
    inflight: Mutex<VecDeque<Arc<Chunk>>>,
    /// Chunks with durable records written since the last good sync: after
    /// a failed sync their pages may be gone from the file, so they are
    /// written again, and read from here meanwhile.
    unsynced: Mutex<Vec<Arc<Chunk>>>,
    /// Read handles of segment files, for paging messages back in.
    readers: Mutex<HashMap<u32, Arc<File>>>,
    /// Bytes appended but not yet written by the persister.
    pending: AtomicU64,
    /// Announced after each write, for publishers held back by `pending`.
    written_notify: tokio::sync::Notify,
}

impl Shared {
    fn announce_fault(&self, on: bool) {
        if let Some(hook) = &*self.fault_hook.lock() {
            hook(on);
        }
    }
}

/// Past this many pending bytes, publishers are held back until the
/// persister catches up (memory stays bounded when the disk is slower
/// than the network).
const PENDING_LIMIT: u64 = 32 << 20;

pub struct MessageLog {
    shared: Arc<Shared>,
    persister: Mutex<Option<JoinHandle<()>>>,
}

/// One whole record, decoded if it is valid.
fn decoded(bytes: &Bytes) -> Option<Record> {
    match record::read(bytes) {
        Read::Record(r, _) => Some(r),
        _ => None,
    }
}

fn segment_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:010}.seg"))
}

impl MessageLog {
    /// Opens the log in `dir`, recovering what it holds for the queues
    /// `live` names (messages of other queues are forgotten), and starts
    /// the persister.
    pub fn open(
        dir: &Path,
        segment_size: u32,
        live: &dyn Fn(u32) -> bool,
    ) -> Result<(MessageLog, Recovered), StoreError> {
        Self::open_on(Arc::new(FileDisk), dir, segment_size, live)
    }

    /// [`MessageLog::open`], writing through `disk` (tests make it fail).
    pub fn open_on(
        disk: Arc<dyn Disk>,
        dir: &Path,
        segment_size: u32,
        live: &dyn Fn(u32) -> bool,
    ) -> Result<(MessageLog, Recovered), StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut segments: Vec<u32> = std::fs::read_dir(dir)
            .map_err(|e| StoreError::io(dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        segments.sort_unstable();
        let (recovered, refs, tail) = recovery::recover(dir, &segments, live)?;
        // Segments are numbered from 1, so no message id is 0 (which the
        // broker uses for "not stored").
        let (segment, offset) = tail.unwrap_or((segments.last().map_or(1, |s| s + 1), 0));
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            segment_size,
            disk,
            appender: Mutex::new(Appender {
                segment,
                offset,
                chunks: Vec::new(),
                ticket: 0,
                sync_wanted: 0,
                doomed: Vec::new(),
                stop: false,
            }),
            wake: Condvar::new(),
            synced: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            faulted: AtomicBool::new(false),
            fault_hook: Mutex::new(None),
            synced_notify: tokio::sync::Notify::new(),
            refs: Mutex::new(refs),
            written: AtomicU64::new((u64::from(segment) << 32) | u64::from(offset)),
            inflight: Mutex::new(VecDeque::new()),
            unsynced: Mutex::new(Vec::new()),
            readers: Mutex::new(HashMap::new()),
            pending: AtomicU64::new(0),
            written_notify: tokio::sync::Notify::new(),
        });
        let log = MessageLog {
            persister: Mutex::new(None),
            shared: shared.clone(),
        };
        // Segments recovery found empty go now (the tail segment stays).
        log.collect();
        let handle = std::thread::Builder::new()
            .name("warren-persister".into())
            .spawn(move || persister::Persister::new(shared).run())
            .map_err(|e| StoreError::io(dir, e))?;
        *log.persister.lock() = Some(handle);
        Ok((log, recovered))
    }

    /// Appends a record of `len` payload bytes that `write` produces;
    /// `durable` unless it is a spill (which recovery ignores).
    fn append(&self, len: usize, durable: bool, write: impl FnOnce(&mut Vec<u8>)) -> (u64, Ticket) {
        let total = (HEADER + len) as u32;
        let mut a = self.shared.appender.lock();
        let mut rolled = false;
        if a.offset > 0 && a.offset.saturating_add(total) > self.shared.segment_size {
            a.segment += 1;
            a.offset = 0;
            rolled = true;
        }
        let (segment, offset) = (a.segment, a.offset);
        a.ticket += 1;
        let ticket = a.ticket;
        // A full chunk is followed by a new one rather than grown: growing
        // copied the whole batch at each doubling, and gave the allocator
        // ever larger blocks to find under load.
        let start_new_chunk = a
            .chunks
            .last()
            .is_none_or(|c| c.segment != segment || c.data.len() + total as usize > c.data.capacity());
        if start_new_chunk {
            a.chunks.push(Chunk {
                segment,
                offset,
                data: Vec::with_capacity(CHUNK.max(total as usize)),
                last: ticket,
                durable,
            });
        }
        if let Some(chunk) = a.chunks.last_mut() {
            let start = chunk.data.len();
            chunk.data.resize(start + HEADER, 0);
            write(&mut chunk.data);
            debug_assert_eq!(chunk.data.len() - start, total as usize);
            record::seal(&mut chunk.data, start);
            chunk.last = ticket;
            chunk.durable |= durable;
        }
        a.offset += total;
        self.shared.pending.fetch_add(u64::from(total), Ordering::Relaxed);
        drop(a);
        if rolled {
            // Known from now on, so that a segment of only acks and marks
            // is deleted too once the segments before it are.
            self.shared.refs.lock().entry(segment).or_insert(0);
        }
        self.shared.wake.notify_one();
        ((u64::from(segment) << 32) | u64::from(offset), ticket)
    }

    /// Appends a message for the durable queues `parts.queues`; returns its
    /// id and the ticket that says when it is on disk.
    pub fn append_message(&self, parts: &MessageParts) -> (u64, Ticket) {
        self.append_held(parts, parts.payload_len(), |out| parts.encode(out))
    }

    /// Appends a record that `parts.queues` each hold until acked.
    fn append_held(
        &self,
        parts: &MessageParts,
        len: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> (u64, Ticket) {
        let (id, ticket) = self.append(len, true, write);
        self.hold(id, parts.queues.len() as u64);
        (id, ticket)
    }

    /// Counts `n` live references to the record `id`'s segment.
    fn hold(&self, id: u64, n: u64) {
        *self.shared.refs.lock().entry(segment_of(id)).or_insert(0) += n;
    }

    /// Appends a persistent message held by the delayed-message exchange
    /// the log knows as `parts.queues[0]`, due at `due` (Unix
    /// milliseconds). [`MessageLog::ack`] with that id ends its wait.
    pub fn append_delayed(&self, parts: &MessageParts, due: u64) -> (u64, Ticket) {
        self.append_held(parts, parts.payload_len() + 8, |out| {
            parts.encode_delayed(due, out)
        })
    }

    /// Records that `message` left `queue` (acked, dropped, dead-lettered).
    pub fn ack(&self, message: u64, queue: u32) {
        self.append(MARK_LEN, true, |out| {
            record::encode_mark(KIND_ACK, message, queue, out)
        });
        self.unref(message);
    }

    /// Writes a message only to take it out of memory; returns its id.
    /// Release it with [`MessageLog::release`] when it leaves its queue.
    pub fn spill(&self, parts: &MessageParts) -> u64 {
        let (id, _) = self.append(parts.payload_len(), false, |out| {
            parts.encode_as(record::KIND_SPILLED, out)
        });
        self.hold(id, 1);
        id
    }

    /// A spilled message left its queue (no record: spills are not recovered).
    pub fn release(&self, message: u64) {
        self.unref(message);
    }

    /// Drops one live reference to `message`'s segment; an emptied segment
    /// may now be deleted.
    fn unref(&self, message: u64) {
        let seg = segment_of(message);
        let empty = {
            let mut refs = self.shared.refs.lock();
            match refs.get_mut(&seg) {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n == 0
                }
                None => false,
            }
        };
        if empty {
            self.collect();
        }
    }

    /// Reads back the message record `id` (paging a message in): from its
    /// file, or from memory while the persister has not written it (which
    /// may be a while on a failing disk). `None` if it cannot be read or
    /// fails its CRC.
    pub fn read(&self, id: u64) -> Option<Record> {
        loop {
            let written = self.shared.written.load(Ordering::Acquire);
            if id < written {
                return self.read_file(id).or_else(|| {
                    // Lost from the file by a failed sync, not yet written again.
                    let kept = self.shared.unsynced.lock();
                    decoded(&kept.iter().rev().find_map(|c| c.record(id))?)
                });
            }
            if let Some(bytes) = self.unwritten(id) {
                return decoded(&bytes);
            }
            // A chunk leaves the line only after `written` covers it: if
            // `written` has not moved, no record starts at `id`.
            if self.shared.written.load(Ordering::Acquire) == written {
                return None;
            }
            // Written between the two looks: the file has it now.
        }
    }

    /// The record `id` from the chunks not yet written. Both places are
    /// searched under the appender's lock, under which the persister moves
    /// chunks from one to the other; it drops them from `inflight` only
    /// after `written` covers them.
    fn unwritten(&self, id: u64) -> Option<Bytes> {
        let a = self.shared.appender.lock();
        if let Some(r) = a.chunks.iter().rev().find_map(|c| c.record(id)) {
            return Some(r);
        }
        let inflight = self.shared.inflight.lock();
        inflight.iter().rev().find_map(|c| c.record(id))
    }

    fn read_file(&self, id: u64) -> Option<Record> {
        let seg = segment_of(id);
        let file = {
            let mut readers = self.shared.readers.lock();
            match readers.get(&seg) {
                Some(f) => f.clone(),
                None => {
                    let f = Arc::new(File::open(segment_path(&self.shared.dir, seg)).ok()?);
                    readers.insert(seg, f.clone());
                    f
                }
            }
        };
        let offset = id & 0xffff_ffff;
        let mut header = [0u8; HEADER];
        file.read_exact_at(&mut header, offset).ok()?;
        let len = u64::from(u32::from_be_bytes([header[0], header[1], header[2], header[3]]));
        // A damaged length must not size the buffer: it can claim 4 GiB.
        let end = offset + HEADER as u64 + len;
        if end > u64::from(self.shared.segment_size) && end > file.metadata().ok()?.len() {
            return None;
        }
        let mut buf = vec![0u8; HEADER + len as usize];
        file.read_exact_at(&mut buf, offset).ok()?;
        decoded(&Bytes::from(buf))
    }

    /// Records the first delivery of `message` from `queue`.
    pub fn delivered(&self, message: u64, queue: u32) {
        self.append(MARK_LEN, true, |out| {
            record::encode_mark(KIND_DELIVERED, message, queue, out)
        });
    }

    /// Records that `message` went back to `queue` unacknowledged.
    pub fn returned(&self, message: u64, queue: u32) {
        self.append(MARK_LEN, true, |out| {
            record::encode_mark(KIND_RETURNED, message, queue, out)
        });
    }

    /// Deletes the oldest segments while they hold no live message and are
    /// not the one being written.
    fn collect(&self) {
        let current = self.shared.appender.lock().segment;
        let mut doomed = Vec::new();
        {
            let mut refs = self.shared.refs.lock();
            while let Some((&seg, &n)) = refs.iter().next() {
                if n > 0 || seg >= current {
                    break;
                }
                refs.remove(&seg);
                doomed.push(seg);
            }
        }
        if !doomed.is_empty() {
            self.shared.appender.lock().doomed.extend(doomed);
            self.shared.wake.notify_one();
        }
    }

    /// The highest ticket known to be on disk.
    pub fn synced(&self) -> Ticket {
        self.shared.synced.load(Ordering::Acquire)
    }

    /// The highest ticket appended when a write or sync last failed: a
    /// ticket above [`MessageLog::synced`] and up to this one will not be
    /// confirmed (refuse it: `basic.nack`).
    pub fn failed(&self) -> Ticket {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// A write or sync failed and none has succeeded since.
    pub fn faulted(&self) -> bool {
        self.shared.faulted.load(Ordering::Acquire)
    }

    /// Sets the function told when the store faults and recovers (the
    /// broker raises its disk alarm with it).
    pub fn on_fault(&self, hook: FaultHook) {
        *self.shared.fault_hook.lock() = Some(hook);
    }

    /// Asks the persister to make everything up to `ticket` durable.
    pub fn request_sync(&self, ticket: Ticket) {
        if self.synced() >= ticket {
            return;
        }
        let mut a = self.shared.appender.lock();
        if a.sync_wanted < ticket {
            a.sync_wanted = ticket;
            drop(a);
            self.shared.wake.notify_one();
        }
    }

    /// Waits until `ticket` is durable.
    pub async fn wait_synced(&self, ticket: Ticket) {
        loop {
            let notified = self.shared.synced_notify.notified();
            if self.synced() >= ticket {
                return;
            }
            self.request_sync(ticket);
            notified.await;
        }
    }

    /// Waits until `ticket` is durable (`true`) or a write or sync failed
    /// with it pending (`false`: it is not promised, as a nacked publish).
    pub async fn settled(&self, ticket: Ticket) -> bool {
        loop {
            let notified = self.shared.synced_notify.notified();
            if self.synced() >= ticket {
                return true;
            }
            if self.failed() >= ticket {
                return false;
            }
            self.request_sync(ticket);
            notified.await;
        }
    }

    /// Resolves after the next sync announcement (for loops that wait on
    /// several tickets).
    pub fn synced_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.shared.synced_notify.notified()
    }

    /// Writes and syncs everything pending, then stops the persister.
    pub fn close(&self) {
        {
            let mut a = self.shared.appender.lock();
            a.sync_wanted = a.ticket;
            a.stop = true;
        }
        self.shared.wake.notify_one();
        if let Some(h) = self.persister.lock().take() {
            let _ = h.join();
        }
    }

    /// Bytes appended and not yet written (bounded by the pending limit),
    /// held in memory meanwhile.
    pub fn pending_bytes(&self) -> u64 {
        self.shared.pending.load(Ordering::Relaxed)
    }

    /// Whether appends have run so far ahead of the disk that publishers
    /// should pause.
    pub fn backlogged(&self) -> bool {
        self.pending_bytes() > PENDING_LIMIT
    }

    /// Waits until the persister has written most of what is pending, or
    /// has faulted (publishers are then held back by the disk alarm, and
    /// their waiting confirms must be answered).
    pub async fn wait_written(&self) {
        loop {
            let notified = self.shared.written_notify.notified();
            if self.shared.pending.load(Ordering::Relaxed) <= PENDING_LIMIT / 2 || self.faulted() {
                return;
            }
            notified.await;
        }
    }

    /// Bytes of segment files on disk (for tests and metrics).
    pub fn segment_count(&self) -> usize {
        std::fs::read_dir(&self.shared.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for MessageLog {
    fn drop(&mut self) {
        self.close();
    }
}
