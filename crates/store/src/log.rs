//! The message log: pre-allocated segment files written by one persister
//! thread. Publishers append records to a pending buffer under a short lock
//! (the record's position, and so the message id, is known at once); the
//! persister writes the pending bytes, runs `fdatasync` once for all dirty
//! segments when somebody waits for durability, and then announces the
//! highest ticket that is on disk.
//!
//! Segments are deleted oldest first, once no queue holds a message in them.
//! Deleting only the oldest keeps recovery correct: an ack record always
//! follows its message, so a deleted segment's acks only name messages in
//! segments deleted before it.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

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

struct Chunk {
    segment: u32,
    offset: u32,
    data: Vec<u8>,
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

struct Shared {
    dir: PathBuf,
    segment_size: u32,
    appender: Mutex<Appender>,
    wake: Condvar,
    synced: AtomicU64,
    synced_notify: tokio::sync::Notify,
    /// Live (message, queue) references per segment.
    refs: Mutex<BTreeMap<u32, u64>>,
    /// Everything before this position (`segment << 32 | offset`) is in the
    /// files; reads of later records wait for the persister.
    written: Mutex<u64>,
    written_cv: Condvar,
    /// Read handles of segment files, for paging messages back in.
    readers: Mutex<HashMap<u32, Arc<File>>>,
    /// Bytes appended but not yet written by the persister.
    pending: AtomicU64,
    /// Announced after each write, for publishers held back by `pending`.
    written_notify: tokio::sync::Notify,
}

/// Past this many pending bytes, publishers are held back until the
/// persister catches up (memory stays bounded when the disk is slower
/// than the network).
const PENDING_LIMIT: u64 = 32 << 20;

pub struct MessageLog {
    shared: Arc<Shared>,
    persister: Mutex<Option<JoinHandle<()>>>,
}

/// One message as recovered for one queue: an index entry only. Its
/// content stays in the log and is read back when it is about to be
/// delivered, so recovering a large backlog costs little memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredMessage {
    pub id: u64,
    /// It was delivered before the restart: redeliver it marked so.
    pub delivered: bool,
    /// Times it went back to the queue unacknowledged (quorum queues).
    pub returned: u32,
    pub priority: u8,
    /// The `expiration` property, in milliseconds.
    pub expiration_ms: Option<u64>,
    /// Body bytes (for `x-max-length-bytes`).
    pub size: u32,
}

/// Every queue's messages, in log order.
#[derive(Debug, Default)]
pub struct Recovered {
    pub queues: HashMap<u32, Vec<RecoveredMessage>>,
    /// Bytes cut off a torn record at the tail, if any.
    pub torn: Option<(u32, u32)>,
    /// Damage found anywhere but in a write cut short at the tail.
    pub damaged: Vec<Damage>,
}

/// A damaged place in a segment, found by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub segment: u32,
    pub offset: u32,
    /// `Some(1)`: one record skipped by its length, the rest recovered.
    /// `None`: the rest of the segment could not be read.
    pub records_lost: Option<u32>,
}

/// The length a record header at `offset` claims, if the header is there.
fn claimed_len(data: &Bytes, offset: usize) -> Option<usize> {
    let h = data.get(offset..offset + 4)?;
    Some(u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize)
}

/// Where the record after the damaged one at `offset` starts, when the
/// damaged record can be stepped over: its length fits in the segment and
/// leads to a valid record.
fn skip_damaged(data: &Bytes, offset: usize) -> Option<usize> {
    let len = claimed_len(data, offset).filter(|len| *len > 0 && offset + HEADER <= data.len())?;
    let next = offset + HEADER + len;
    (next < data.len() && matches!(record::read(&data.slice(next..)), Read::Record(..))).then_some(next)
}

/// Whether nothing but zeros follows the record at `offset` once its
/// length is stepped over (or past the end): the last write, cut short.
fn tail_only(data: &Bytes, offset: usize) -> bool {
    let len = claimed_len(data, offset).unwrap_or(0);
    let next = (offset + HEADER + len).min(data.len());
    data[next..].iter().all(|b| *b == 0)
}

/// Copies a damaged segment into `damaged/` beside the log (once), for an
/// operator to inspect; says where, for the log line.
fn keep_aside(dir: &Path, segment: &Path) -> String {
    let aside = dir.join("damaged");
    let target = aside.join(segment.file_name().unwrap_or_default());
    if target.exists() {
        return format!("a copy is in {}", target.display());
    }
    match std::fs::create_dir_all(&aside).and_then(|_| std::fs::copy(segment, &target)) {
        Ok(_) => format!("a copy is kept in {}", target.display()),
        Err(e) => format!("no copy kept ({e})"),
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
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut segments: Vec<u32> = std::fs::read_dir(dir)
            .map_err(|e| StoreError::io(dir, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        segments.sort_unstable();
        let (recovered, refs, tail) = recover(dir, &segments, live)?;
        // Segments are numbered from 1, so no message id is 0 (which the
        // broker uses for "not stored").
        let (segment, offset) = tail.unwrap_or((segments.last().map_or(1, |s| s + 1), 0));
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            segment_size,
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
            synced_notify: tokio::sync::Notify::new(),
            refs: Mutex::new(refs),
            written: Mutex::new((u64::from(segment) << 32) | u64::from(offset)),
            written_cv: Condvar::new(),
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
            .spawn(move || persister(shared))
            .map_err(|e| StoreError::io(dir, e))?;
        *log.persister.lock() = Some(handle);
        Ok((log, recovered))
    }

    /// Appends a record of `len` payload bytes that `write` produces.
    fn append(&self, len: usize, write: impl FnOnce(&mut Vec<u8>)) -> (u64, Ticket) {
        let total = (HEADER + len) as u32;
        let mut a = self.shared.appender.lock();
        if a.offset > 0 && a.offset.saturating_add(total) > self.shared.segment_size {
            a.segment += 1;
            a.offset = 0;
        }
        let (segment, offset) = (a.segment, a.offset);
        let start_new_chunk = a.chunks.last().is_none_or(|c| c.segment != segment);
        if start_new_chunk {
            a.chunks.push(Chunk {
                segment,
                offset,
                data: Vec::with_capacity(64 * 1024),
            });
        }
        if let Some(chunk) = a.chunks.last_mut() {
            let start = chunk.data.len();
            chunk.data.resize(start + HEADER, 0);
            write(&mut chunk.data);
            debug_assert_eq!(chunk.data.len() - start, total as usize);
            record::seal(&mut chunk.data, start);
        }
        a.offset += total;
        a.ticket += 1;
        self.shared.pending.fetch_add(u64::from(total), Ordering::Relaxed);
        let ticket = a.ticket;
        drop(a);
        self.shared.wake.notify_one();
        ((u64::from(segment) << 32) | u64::from(offset), ticket)
    }

    /// Appends a message for the durable queues `parts.queues`; returns its
    /// id and the ticket that says when it is on disk.
    pub fn append_message(&self, parts: &MessageParts) -> (u64, Ticket) {
        let (id, ticket) = self.append(parts.payload_len(), |out| parts.encode(out));
        *self.shared.refs.lock().entry(segment_of(id)).or_insert(0) += parts.queues.len() as u64;
        (id, ticket)
    }

    /// Records that `message` left `queue` (acked, dropped, dead-lettered).
    pub fn ack(&self, message: u64, queue: u32) {
        self.append(MARK_LEN, |out| record::encode_mark(KIND_ACK, message, queue, out));
        self.unref(message);
    }

    /// Writes a message only to take it out of memory; returns its id.
    /// Release it with [`MessageLog::release`] when it leaves its queue.
    pub fn spill(&self, parts: &MessageParts) -> u64 {
        let (id, _) = self.append(parts.payload_len(), |out| {
            parts.encode_as(record::KIND_SPILLED, out)
        });
        *self.shared.refs.lock().entry(segment_of(id)).or_insert(0) += 1;
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

    /// Reads back the message record `id` (paging a message in). Waits for
    /// the persister if the record is not in its file yet.
    pub fn read(&self, id: u64) -> Option<Record> {
        {
            let mut w = self.shared.written.lock();
            while *w <= id {
                self.shared.wake.notify_one();
                self.shared
                    .written_cv
                    .wait_for(&mut w, std::time::Duration::from_millis(5));
            }
        }
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
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let mut buf = vec![0u8; HEADER + len];
        file.read_exact_at(&mut buf, offset).ok()?;
        match record::read(&Bytes::from(buf)) {
            Read::Record(r, _) => Some(r),
            _ => None,
        }
    }

    /// Records the first delivery of `message` from `queue`.
    pub fn delivered(&self, message: u64, queue: u32) {
        self.append(MARK_LEN, |out| {
            record::encode_mark(KIND_DELIVERED, message, queue, out)
        });
    }

    /// Records that `message` went back to `queue` unacknowledged.
    pub fn returned(&self, message: u64, queue: u32) {
        self.append(MARK_LEN, |out| {
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

    /// Whether appends have run so far ahead of the disk that publishers
    /// should pause.
    pub fn backlogged(&self) -> bool {
        self.shared.pending.load(Ordering::Relaxed) > PENDING_LIMIT
    }

    /// Waits until the persister has written most of what is pending.
    pub async fn wait_written(&self) {
        loop {
            let notified = self.shared.written_notify.notified();
            if self.shared.pending.load(Ordering::Relaxed) <= PENDING_LIMIT / 2 {
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

fn open_segment(dir: &Path, segment: u32, size: u32) -> std::io::Result<File> {
    let path = segment_path(dir, segment);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    if file.metadata()?.len() < u64::from(size) {
        // Allocate the blocks now, so that appends never change the file's
        // size and fdatasync has no metadata to flush.
        rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, u64::from(size))?;
        // The new file's name must be durable too, or a crash after the
        // first confirm could leave a synced segment no directory entry.
        sync_dir(dir)?;
    }
    Ok(file)
}

/// Makes the directory's entries (created or removed files) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn persister(shared: Arc<Shared>) {
    let mut files: HashMap<u32, File> = HashMap::new();
    let mut dirty: Vec<u32> = Vec::new();
    loop {
        let (chunks, ticket, want, doomed, stop) = {
            let mut a = shared.appender.lock();
            loop {
                let sync_due = a.sync_wanted > shared.synced.load(Ordering::Acquire);
                if !a.chunks.is_empty() || sync_due || !a.doomed.is_empty() || a.stop {
                    break;
                }
                shared.wake.wait(&mut a);
            }
            (
                std::mem::take(&mut a.chunks),
                a.ticket,
                a.sync_wanted,
                std::mem::take(&mut a.doomed),
                a.stop,
            )
        };
        for c in &chunks {
            let size = shared.segment_size.max(c.offset + c.data.len() as u32);
            let file = match files.entry(c.segment) {
                std::collections::hash_map::Entry::Occupied(f) => f.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    match open_segment(&shared.dir, c.segment, size) {
                        Ok(f) => v.insert(f),
                        Err(e) => {
                            tracing::error!("cannot open segment {}: {e}", c.segment);
                            continue;
                        }
                    }
                }
            };
            if let Err(e) = file.write_all_at(&c.data, u64::from(c.offset)) {
                tracing::error!("cannot write segment {}: {e}", c.segment);
                continue;
            }
            if !dirty.contains(&c.segment) {
                dirty.push(c.segment);
            }
        }
        if let Some(last) = chunks.last() {
            let end = (u64::from(last.segment) << 32) | u64::from(last.offset + last.data.len() as u32);
            *shared.written.lock() = end;
            shared.written_cv.notify_all();
            let bytes: u64 = chunks.iter().map(|c| c.data.len() as u64).sum();
            shared.pending.fetch_sub(bytes, Ordering::Relaxed);
            shared.written_notify.notify_waiters();
        }
        // Removals need no directory fsync of their own: a removed segment
        // holds only acknowledged messages, whose ack records are in it or
        // in later segments, so one that comes back after a crash recovers
        // nothing; the next segment's creation makes them durable anyway.
        for seg in doomed {
            shared.readers.lock().remove(&seg);
            files.remove(&seg);
            dirty.retain(|s| *s != seg);
            let _ = std::fs::remove_file(segment_path(&shared.dir, seg));
        }
        if want > shared.synced.load(Ordering::Acquire) || stop {
            for seg in dirty.drain(..) {
                if let Some(f) = files.get(&seg) {
                    if let Err(e) = f.sync_data() {
                        tracing::error!("fdatasync of segment {seg} failed: {e}");
                    }
                }
            }
            shared.synced.store(ticket, Ordering::Release);
            shared.synced_notify.notify_waiters();
        }
        if stop && chunks.is_empty() {
            return;
        }
    }
}

type Recovery = (Recovered, BTreeMap<u32, u64>, Option<(u32, u32)>);

/// Reads every segment in order and replays its records. Returns the
/// recovered queues, the live references per segment, and where appends
/// continue (the end of the last segment's valid records).
fn recover(dir: &Path, segments: &[u32], live: &dyn Fn(u32) -> bool) -> Result<Recovery, StoreError> {
    let mut queues: HashMap<u32, BTreeMap<u64, RecoveredMessage>> = HashMap::new();
    let mut damaged = Vec::new();
    let mut torn = None;
    let mut tail = None;
    for (i, &seg) in segments.iter().enumerate() {
        let path = segment_path(dir, seg);
        let mut data = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| StoreError::io(&path, e))?;
        let data = Bytes::from(data);
        let mut offset = 0usize;
        loop {
            match record::read(&data.slice(offset..)) {
                Read::Record(r, used) => {
                    let id = (u64::from(seg) << 32) | offset as u64;
                    match r {
                        Record::Message { spilled: true, .. } => {}
                        Record::Message {
                            queues: qs,
                            properties,
                            body,
                            ..
                        } => {
                            let view = warren_codec::Properties::parse(&properties).unwrap_or_default();
                            let expiration_ms = view
                                .expiration(&properties)
                                .and_then(|e| std::str::from_utf8(e).ok()?.parse::<u64>().ok());
                            for q in qs.into_iter().filter(|q| live(*q)) {
                                queues.entry(q).or_default().insert(
                                    id,
                                    RecoveredMessage {
                                        id,
                                        delivered: false,
                                        returned: 0,
                                        priority: view.priority.unwrap_or(0),
                                        expiration_ms,
                                        size: body.len() as u32,
                                    },
                                );
                            }
                        }
                        Record::Ack { message, queue } => {
                            if let Some(q) = queues.get_mut(&queue) {
                                q.remove(&message);
                            }
                        }
                        Record::Delivered { message, queue } => {
                            if let Some(m) = queues.get_mut(&queue).and_then(|q| q.get_mut(&message)) {
                                m.delivered = true;
                            }
                        }
                        Record::Returned { message, queue } => {
                            if let Some(m) = queues.get_mut(&queue).and_then(|q| q.get_mut(&message)) {
                                m.delivered = true;
                                m.returned += 1;
                            }
                        }
                    }
                    offset += used;
                }
                Read::End => break,
                Read::Torn => {
                    if let Some(next) = skip_damaged(&data, offset) {
                        // Damage in the middle (a bad block, a bit flip):
                        // the record's length still leads to a valid
                        // record, so only this one is lost and the rest is
                        // recovered.
                        let kept = keep_aside(dir, &path);
                        tracing::error!(
                            "segment {}: damaged record at offset {offset} skipped, 1 record lost, the records after it recovered; {kept}",
                            path.display()
                        );
                        damaged.push(Damage {
                            segment: seg,
                            offset: offset as u32,
                            records_lost: Some(1),
                        });
                        offset = next;
                        continue;
                    }
                    let last = i + 1 == segments.len();
                    let crashed = tail_only(&data, offset);
                    if !last || !crashed {
                        // Not a write cut short by a crash: what follows
                        // cannot be found without a valid length.
                        let kept = keep_aside(dir, &path);
                        tracing::error!(
                            "segment {}: damaged data at offset {offset}, the {} bytes after it cannot be read; {kept}",
                            path.display(),
                            data.len() - offset
                        );
                        damaged.push(Damage {
                            segment: seg,
                            offset: offset as u32,
                            records_lost: None,
                        });
                        if !last {
                            break;
                        }
                    }
                    let cut = data.len() - offset;
                    // Only the last segment gets here (appends continue in
                    // it): a write a crash cut short, or damage reported
                    // above.
                    tracing::warn!(
                        "segment {} has a torn record at offset {offset}{}; cutting it off",
                        path.display(),
                        if crashed { " (crash during a write)" } else { "" }
                    );
                    torn = Some((seg, offset as u32));
                    // Zero the rest so the next recovery does not trip on it.
                    if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                        let _ = f.write_all_at(&vec![0u8; cut], offset as u64);
                        let _ = f.sync_data();
                    }
                    break;
                }
            }
        }
        if i + 1 == segments.len() {
            tail = Some((seg, offset as u32));
        }
    }
    let mut refs: BTreeMap<u32, u64> = segments.iter().map(|s| (*s, 0)).collect();
    let mut out = Recovered {
        queues: HashMap::new(),
        torn,
        damaged,
    };
    for (q, msgs) in queues {
        for id in msgs.keys() {
            *refs.entry(segment_of(*id)).or_insert(0) += 1;
        }
        out.queues.insert(q, msgs.into_values().collect());
    }
    Ok((out, refs, tail))
}
