//! Storage faults injected at the log's file seam: `fallocate`, `write` and
//! `fdatasync` failing with `ENOSPC` or `EIO`. Whatever fails, nothing
//! appended since the last good sync is announced synced (no confirm), the
//! fault is reported (the broker's disk alarm), records stay readable, and
//! once the disk works again everything is written and comes back after a
//! reopen, in order.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use warren_store::record::{MessageParts, Record};
use warren_store::{DiskOp as Op, FailingDisk, MessageLog};

const ENOSPC: i32 = 28;
const EIO: i32 = 5;

fn parts(body: &[u8]) -> MessageParts<'_> {
    MessageParts {
        queues: &[1],
        exchange: b"",
        routing_key: b"q",
        properties: &[0x10, 0, 2],
        body,
    }
}

fn body(i: u8) -> Vec<u8> {
    vec![i; 700]
}

/// Polls `cond` for up to 20 s (generous: this is a bound against hanging,
/// not a speed check).
async fn until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The bodies of queue 1 after reopening `dir` on the real disk.
fn recovered(dir: &Path) -> Vec<Vec<u8>> {
    let (log, rec) = MessageLog::open(dir, 4096, &|_| true).unwrap();
    rec.queues[&1]
        .iter()
        .map(|m| match log.read(m.id) {
            Some(Record::Message { body, .. }) => body.to_vec(),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// Ten messages synced, then five while `op` fails with `errno`.
async fn fault_round(op: Op, errno: i32) {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FailingDisk::default());
    // 4 KiB segments hold five 700-byte messages: the faulty five need new
    // segments, so `fallocate` is on their path too.
    let (log, _) = MessageLog::open_on(disk.clone(), dir.path(), 4096, &|_| true).unwrap();
    let alarms = Arc::new(Mutex::new(Vec::new()));
    let seen = alarms.clone();
    log.on_fault(Box::new(move |on| seen.lock().push(on)));
    let mut last = 0;
    for i in 0..10 {
        last = log.append_message(&parts(&body(i))).1;
    }
    log.wait_synced(last).await;
    let good = log.synced();
    disk.fail(op, errno);
    let mut ids = Vec::new();
    for i in 10..15 {
        let (id, t) = log.append_message(&parts(&body(i)));
        ids.push(id);
        last = t;
    }
    log.request_sync(last);
    until("the fault", || log.faulted() && log.failed() >= last).await;
    assert_eq!(*alarms.lock(), vec![true], "{op:?}: the fault is announced once");
    // Retries keep failing: still nothing past the last good sync.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(log.faulted(), "{op:?}");
    assert_eq!(log.synced(), good, "{op:?}: synced moved on a failing disk");
    // What waits for the disk can still be read (from memory or the file).
    for (i, id) in ids.iter().enumerate() {
        match log.read(*id) {
            Some(Record::Message { body: b, .. }) => assert_eq!(b.to_vec(), body(10 + i as u8)),
            other => panic!("{op:?}: {other:?}"),
        }
    }
    disk.heal();
    log.wait_synced(last).await;
    assert!(!log.faulted());
    assert_eq!(*alarms.lock(), vec![true, false], "{op:?}: and its end");
    drop(log);
    assert_eq!(
        recovered(dir.path()),
        (0..15).map(body).collect::<Vec<_>>(),
        "{op:?} {errno}: everything, in order, after the disk came back"
    );
}

#[tokio::test]
async fn a_failing_fallocate_confirms_nothing_and_loses_nothing() {
    fault_round(Op::Allocate, ENOSPC).await;
    fault_round(Op::Allocate, EIO).await;
}

#[tokio::test]
async fn a_failing_write_confirms_nothing_and_loses_nothing() {
    fault_round(Op::Write, ENOSPC).await;
    fault_round(Op::Write, EIO).await;
}

/// The failing sync zeroes what it failed to write, as a kernel dropping the
/// pages would: the five come back only because they are written again.
#[tokio::test]
async fn a_failing_fdatasync_confirms_nothing_and_loses_nothing() {
    fault_round(Op::Sync, ENOSPC).await;
    fault_round(Op::Sync, EIO).await;
}

#[tokio::test]
async fn closing_on_a_failing_disk_does_not_hang_and_keeps_what_was_synced() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FailingDisk::default());
    let (log, _) = MessageLog::open_on(disk.clone(), dir.path(), 4096, &|_| true).unwrap();
    let mut last = 0;
    for i in 0..3 {
        last = log.append_message(&parts(&body(i))).1;
    }
    log.wait_synced(last).await;
    disk.fail(Op::Write, EIO);
    let t = log.append_message(&parts(&body(3))).1;
    log.request_sync(t);
    until("the fault", || log.faulted()).await;
    drop(log);
    assert_eq!(recovered(dir.path()), (0..3).map(body).collect::<Vec<_>>());
}

/// Creating a segment syncs the directory at once; removing one does it at
/// the next round no confirm waits for.
#[tokio::test]
async fn the_directory_is_synced_after_segments_are_created_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(FailingDisk::default());
    let (log, _) = MessageLog::open_on(disk.clone(), dir.path(), 4096, &|_| true).unwrap();
    let mut ids = Vec::new();
    let mut last = 0;
    for i in 0..12 {
        let (id, t) = log.append_message(&parts(&body(i)));
        ids.push(id);
        last = t;
    }
    log.wait_synced(last).await;
    let segments = log.segment_count() as u32;
    assert!(segments >= 3);
    assert_eq!(disk.dir_syncs(), segments, "one per segment created");
    let before = disk.dir_syncs();
    for id in &ids[..6] {
        log.ack(*id, 1);
    }
    until("the removals and their directory sync", || {
        log.segment_count() < segments as usize && disk.dir_syncs() > before
    })
    .await;
}
