//! Storage faults seen by clients: the message log's disk fails (injected
//! at its file seam) or a stored message is damaged. No confirm is given
//! for what is not on disk, a transaction that cannot be stored closes its
//! channel, publishers are blocked until the disk works again, and a
//! message that cannot be read back is never delivered as something else.

use std::sync::Arc;
use std::time::Duration;

use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use warren_store::{DiskOp, FailingDisk};
use warren_tests::*;

const EIO: i32 = 5;

async fn start_failing(window: usize) -> (Server, Arc<FailingDisk>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::ephemeral();
    config.data_dir = dir.path().to_path_buf();
    config.queue_window = window;
    config.management_port = Some(0);
    let disk = Arc::new(FailingDisk::default());
    let server = warren_server::start_on(config, disk.clone())
        .await
        .expect("broker starts");
    (server, disk, dir)
}

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

async fn publish_confirmed(ch: &lapin::Channel, queue: &str, body: &[u8]) -> lapin::Confirmation {
    let confirm = ch
        .basic_publish("".into(), queue.into(), Default::default(), body, persistent())
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, confirm)
        .await
        .expect("a confirm")
        .unwrap()
}

async fn until(what: &str, cond: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn what_the_disk_cannot_take_is_nacked_and_publishers_wait_until_it_can() {
    let (s, disk, _dir) = start_failing(8192).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare_durable(&ch, "q").await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    assert!(publish_confirmed(&ch, "q", b"before").await.is_ack());

    disk.fail(DiskOp::Write, EIO);
    assert!(
        publish_confirmed(&ch, "q", b"during").await.is_nack(),
        "a write that failed was confirmed"
    );
    assert_eq!(s.alarms.raised(), vec!["disk"], "the disk alarm is raised");

    disk.heal();
    until("the alarm to clear", || !s.alarms.active()).await;
    assert!(
        publish_confirmed(&ch, "q", b"after").await.is_ack(),
        "confirms resume without a restart"
    );
    // Everything reached the queue, the refused one included (a nack says
    // only that no promise was made).
    let other = conn.create_channel().await.unwrap();
    assert_eq!(count(&other, "q").await, 3);
}

#[tokio::test]
async fn a_transaction_the_disk_cannot_sync_closes_its_channel_with_541() {
    let (s, disk, _dir) = start_failing(8192).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare_durable(&ch, "q").await.unwrap();
    ch.tx_select().await.unwrap();
    disk.fail(DiskOp::Sync, EIO);
    ch.basic_publish("".into(), "q".into(), Default::default(), b"m", persistent())
        .await
        .unwrap();
    let err = tokio::time::timeout(PATIENCE, ch.tx_commit())
        .await
        .expect("an answer to the commit")
        .expect_err("a commit the disk could not sync succeeded");
    assert_eq!(reply_code(&err), Some(541), "{err}");
    assert!(reply_text(&err).contains("could not write"), "{err}");
    disk.heal();
    until("the alarm to clear", || !s.alarms.active()).await;
    // The connection carries on.
    let ch = conn.create_channel().await.unwrap();
    ch.tx_select().await.unwrap();
    ch.basic_publish("".into(), "q".into(), Default::default(), b"n", persistent())
        .await
        .unwrap();
    ch.tx_commit().await.unwrap();
}

/// Flips a byte inside the stored body `needle` (its record then fails its
/// CRC, as after a bad block).
fn damage_stored_body(data: &std::path::Path, needle: &[u8]) {
    use std::os::unix::fs::FileExt;
    for entry in std::fs::read_dir(data.join("messages")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all_at(&[bytes[at] ^ 0xFF], at as u64).unwrap();
            return;
        }
    }
    panic!("{needle:?} is not in the log");
}

#[tokio::test]
async fn a_message_that_cannot_be_read_back_closes_the_taking_channel_and_stays_queued() {
    // Four messages per queue in memory, the rest only in the log.
    let (s, _disk, dir) = start_failing(4).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare_durable(&ch, "q").await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    for i in 0..10 {
        let body = format!("message number {i:02}");
        assert!(publish_confirmed(&ch, "q", body.as_bytes()).await.is_ack());
    }
    damage_stored_body(dir.path(), b"message number 06");

    // A consumer gets the six before it, then its channel is closed.
    let cch = conn.create_channel().await.unwrap();
    let mut consumer = cch
        .basic_consume(
            "q".into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    for i in 0..6 {
        assert_eq!(
            next(&mut consumer).await.data,
            format!("message number {i:02}").as_bytes()
        );
    }
    let end = tokio::time::timeout(PATIENCE, consumer.next())
        .await
        .expect("the consumer's channel closes");
    assert!(
        !matches!(end, Some(Ok(_))),
        "something was delivered in its place: {end:?}"
    );
    until("the channel to close", || !cch.status().connected()).await;

    // All ten are still queued: the six went back unacknowledged, the
    // damaged one and those after it never left.
    let ch2 = conn.create_channel().await.unwrap();
    assert_eq!(count(&ch2, "q").await, 10);
    // basic.get stops at it the same way.
    for i in 0..6 {
        let m = get(&ch2, "q").await.expect("a message");
        assert_eq!(m.delivery.data, format!("message number {i:02}").as_bytes());
    }
    let err = ch2
        .basic_get("q".into(), BasicGetOptions { no_ack: true })
        .await
        .expect_err("a get of the damaged message succeeded");
    assert_eq!(reply_code(&err), Some(541), "{err}");
    assert!(reply_text(&err).contains("cannot be read back"), "{err}");
    still_serving(&s).await;
}

/// A move whose destination cannot be synced stops with the API's 500 and
/// leaves the messages in the source (the batch in flight may also be in
/// the destination: at least once, never lost); after the disk heals the
/// same move completes.
#[tokio::test]
async fn a_move_the_disk_cannot_sync_leaves_the_messages_in_the_source() {
    use serde_json::json;
    use warren_tests::http::{call, GUEST};
    let (s, disk, _dir) = start_failing(8192).await;
    let conn = connect(&s).await;
    let ch = conn.create_channel().await.unwrap();
    declare_durable(&ch, "src").await.unwrap();
    declare_durable(&ch, "dst").await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    for i in 0..10 {
        assert!(publish_confirmed(&ch, "src", format!("m{i}").as_bytes())
            .await
            .is_ack());
    }
    disk.fail(DiskOp::Sync, EIO);
    let (status, reply) = call(
        &s,
        "POST",
        "/api/queues/%2F/src/move",
        GUEST,
        Some(json!({"destination": "dst"})),
    )
    .await;
    assert_eq!(status, 500, "{reply}");
    assert!(
        reply["reason"]
            .as_str()
            .unwrap()
            .contains("could not write the moved messages"),
        "{reply}"
    );
    disk.heal();
    // (The publishing connection is blocked while the disk alarm lasts.)
    until("the alarm to clear", || !s.alarms.active()).await;
    let other = conn.create_channel().await.unwrap();
    assert_eq!(count(&other, "src").await, 10, "the source keeps every message");
    let before = count(&other, "dst").await;
    let (status, reply) = call(
        &s,
        "POST",
        "/api/queues/%2F/src/move",
        GUEST,
        Some(json!({"destination": "dst"})),
    )
    .await;
    assert_eq!((status, reply["moved"].clone()), (200, json!(10)), "{reply}");
    assert_eq!(count(&other, "src").await, 0);
    assert_eq!(count(&other, "dst").await, before + 10);
}
