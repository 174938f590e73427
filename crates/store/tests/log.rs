//! The message log: what is appended comes back after reopening, acks remove,
//! deliveries mark, a torn tail is cut, empty segments are deleted.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use warren_store::record::{MessageParts, Record};
use warren_store::MessageLog;

fn parts<'a>(queues: &'a [u32], body: &'a [u8]) -> MessageParts<'a> {
    MessageParts {
        queues,
        exchange: b"",
        routing_key: b"q",
        properties: &[0x10, 0, 2],
        body,
    }
}

/// The bodies recovered for queue `q`, read back from the log.
fn bodies(log: &MessageLog, r: &warren_store::Recovered, q: u32) -> Vec<Vec<u8>> {
    r.queues
        .get(&q)
        .map(|v| {
            v.iter()
                .map(|m| match log.read(m.id) {
                    Some(Record::Message { body, .. }) => body.to_vec(),
                    other => panic!("{other:?}"),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn appended_messages_come_back_in_order_minus_acks() {
    let dir = tempfile::tempdir().unwrap();
    let ids = {
        let (log, rec) = MessageLog::open(dir.path(), 1 << 20, &|_| true).unwrap();
        assert!(rec.queues.is_empty());
        let mut ids = Vec::new();
        let mut last = 0;
        for i in 0..10u8 {
            let (id, t) = log.append_message(&parts(&[1, 2], &[i]));
            ids.push(id);
            last = t;
        }
        log.ack(ids[0], 1);
        log.ack(ids[1], 2);
        log.delivered(ids[2], 1);
        log.wait_synced(last).await;
        assert!(log.synced() >= last);
        ids
    };
    let (log, rec) = MessageLog::open(dir.path(), 1 << 20, &|q| q != 3).unwrap();
    assert_eq!(
        bodies(&log, &rec, 1),
        (1..10u8).map(|i| vec![i]).collect::<Vec<_>>()
    );
    assert_eq!(
        bodies(&log, &rec, 2),
        [0u8, 2, 3, 4, 5, 6, 7, 8, 9]
            .iter()
            .map(|i| vec![*i])
            .collect::<Vec<_>>()
    );
    let q1 = &rec.queues[&1];
    assert_eq!(q1[0].id, ids[1]);
    assert!(q1[1].delivered && !q1[0].delivered);
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_earlier_records_survive() {
    let dir = tempfile::tempdir().unwrap();
    let last_id = {
        let (log, _) = MessageLog::open(dir.path(), 1 << 20, &|_| true).unwrap();
        let mut last = (0, 0);
        for i in 0..5u8 {
            last = log.append_message(&parts(&[1], &[i; 100]));
        }
        log.wait_synced(last.1).await;
        last.0
    };
    // Cut the last record in half, as a crash mid-write would.
    let seg = dir.path().join(format!("{:010}.seg", last_id >> 32));
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    let offset = last_id & 0xffff_ffff;
    f.write_all_at(&[0xAB; 40], offset + 60).unwrap();
    let (log, rec) = MessageLog::open(dir.path(), 1 << 20, &|_| true).unwrap();
    assert_eq!(rec.torn, Some(((last_id >> 32) as u32, offset as u32)));
    assert_eq!(bodies(&log, &rec, 1).len(), 4);
    // Appends continue where the valid records end.
    let (id, t) = log.append_message(&parts(&[1], b"after"));
    assert_eq!(id, last_id);
    log.wait_synced(t).await;
    drop(log);
    let (log, rec) = MessageLog::open(dir.path(), 1 << 20, &|_| true).unwrap();
    assert_eq!(rec.torn, None);
    assert_eq!(bodies(&log, &rec, 1).last().unwrap(), b"after");
}

#[tokio::test]
async fn segments_go_once_every_message_in_them_is_acked() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = MessageLog::open(dir.path(), 4096, &|_| true).unwrap();
    let mut ids = Vec::new();
    let mut last = 0;
    for _ in 0..40 {
        let (id, t) = log.append_message(&parts(&[1], &[7; 500]));
        ids.push(id);
        last = t;
    }
    log.wait_synced(last).await;
    let before = log.segment_count();
    assert!(before >= 5, "{before} segments");
    for id in &ids[..30] {
        log.ack(*id, 1);
    }
    // Let the persister remove them.
    let (_, t) = log.append_message(&parts(&[1], b"x"));
    log.wait_synced(t).await;
    let after = log.segment_count();
    assert!(after < before, "{before} -> {after}");
    drop(log);
    let (log, rec) = MessageLog::open(dir.path(), 4096, &|_| true).unwrap();
    assert_eq!(bodies(&log, &rec, 1).len(), 11);
}

/// Ten 100-byte messages in queue 1, synced; their ids.
async fn ten_messages(dir: &std::path::Path, segment_size: u32) -> Vec<u64> {
    let (log, _) = MessageLog::open(dir, segment_size, &|_| true).unwrap();
    let mut ids = Vec::new();
    let mut last = 0;
    for i in 0..10u8 {
        let (id, t) = log.append_message(&parts(&[1], &[i; 100]));
        ids.push(id);
        last = t;
    }
    log.wait_synced(last).await;
    ids
}

/// Overwrites bytes of the record `id` at `at` (from the record's start).
fn damage(dir: &std::path::Path, id: u64, at: u64, bytes: &[u8]) {
    let seg = dir.join(format!("{:010}.seg", id >> 32));
    let f = OpenOptions::new().write(true).open(seg).unwrap();
    f.write_all_at(bytes, (id & 0xffff_ffff) + at).unwrap();
}

#[tokio::test]
async fn a_damaged_record_mid_segment_is_skipped_and_the_records_after_it_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let ids = ten_messages(dir.path(), 1 << 20).await;
    // A flipped body byte in the fourth record: its CRC fails, its length
    // is intact.
    damage(dir.path(), ids[3], 60, &[0xFF]);
    let (log, rec) = MessageLog::open(dir.path(), 1 << 20, &|_| true).unwrap();
    let want: Vec<Vec<u8>> = (0..10u8).filter(|i| *i != 3).map(|i| vec![i; 100]).collect();
    assert_eq!(bodies(&log, &rec, 1), want);
    assert_eq!(
        rec.damaged,
        vec![warren_store::Damage {
            segment: (ids[3] >> 32) as u32,
            offset: ids[3] as u32,
            records_lost: Some(1),
        }]
    );
    assert_eq!(rec.torn, None, "nothing cut off");
    let kept = dir
        .path()
        .join("damaged")
        .join(format!("{:010}.seg", ids[3] >> 32));
    assert!(kept.exists(), "the damaged segment is kept aside");
    // Appends go after the last record, and everything survives a reopen.
    let (_, t) = log.append_message(&parts(&[1], b"after"));
    log.wait_synced(t).await;
    drop(log);
    let (log, rec) = MessageLog::open(dir.path(), 1 << 20, &|_| true).unwrap();
    assert_eq!(bodies(&log, &rec, 1).len(), 10);
    assert_eq!(bodies(&log, &rec, 1).last().unwrap(), b"after");
}

#[tokio::test]
async fn a_damaged_length_loses_the_rest_of_its_segment_only() {
    let dir = tempfile::tempdir().unwrap();
    // 1 KiB segments: seven 100-byte records each, so twenty span three.
    let mut ids = ten_messages(dir.path(), 1024).await;
    ids.extend(ten_messages(dir.path(), 1024).await);
    let first = (ids[0] >> 32) as u32;
    let in_first: Vec<usize> = (0..ids.len())
        .filter(|i| (ids[*i] >> 32) as u32 == first)
        .collect();
    assert!(in_first.len() >= 3 && in_first.len() < ids.len(), "{in_first:?}");
    // The second record's length is garbage: nothing after it in that
    // segment can be found, later segments are intact.
    damage(dir.path(), ids[1], 0, &[0x7F, 0xFF, 0xFF, 0xFF]);
    let (log, rec) = MessageLog::open(dir.path(), 1024, &|_| true).unwrap();
    let got = bodies(&log, &rec, 1);
    assert_eq!(
        got.len(),
        ids.len() - (in_first.len() - 1),
        "lost: the rest of the first segment"
    );
    assert_eq!(got[0], vec![0u8; 100]);
    assert_eq!(
        rec.damaged,
        vec![warren_store::Damage {
            segment: first,
            offset: ids[1] as u32,
            records_lost: None,
        }]
    );
    assert!(dir
        .path()
        .join("damaged")
        .join(format!("{first:010}.seg"))
        .exists());
}

#[tokio::test]
async fn reading_an_id_past_the_end_answers_none_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = MessageLog::open(dir.path(), 1 << 20, &|_| true).unwrap();
    let (id, t) = log.append_message(&parts(&[1], b"only"));
    log.wait_synced(t).await;
    assert!(log.read(id).is_some());
    // Beyond everything appended: no record, and no waiting for one.
    assert_eq!(log.read(id + (1 << 20)), None);
    assert_eq!(log.read(((id >> 32) + 5) << 32), None);
}
