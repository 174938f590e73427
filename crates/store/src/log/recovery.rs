//! Recovery: every segment is read in order at start and its records
//! replayed, so that each durable queue gets back its messages (as index
//! entries; contents stay in the log). Damage is stepped over where the
//! record lengths allow, reported, and the damaged segment kept aside.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::Bytes;

use super::{segment_of, segment_path};
use crate::error::StoreError;
use crate::record::{self, Read, Record, HEADER};

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
    /// Held by a delayed-message exchange until this time (Unix ms).
    pub due: Option<u64>,
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
pub(super) fn claimed_len(data: &[u8], offset: usize) -> Option<usize> {
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

pub(super) type Recovery = (Recovered, BTreeMap<u32, u64>, Option<(u32, u32)>);

/// Reads every segment in order and replays its records. Returns the
/// recovered queues, the live references per segment, and where appends
/// continue (the end of the last segment's valid records).
pub(super) fn recover(
    dir: &Path,
    segments: &[u32],
    live: &dyn Fn(u32) -> bool,
) -> Result<Recovery, StoreError> {
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
                            due,
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
                                        due,
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
