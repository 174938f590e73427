//! A real full disk: Warren's data directory is a 24 MB tmpfs, a publisher
//! in confirm mode sends 40 MB of numbered persistent messages. When the
//! disk fills, what waits for it is nacked and publishers are blocked;
//! the tmpfs is then grown (`mount -o remount`) and publishing resumes
//! without a restart. After a SIGKILL and a restart, every confirmed
//! message is there, none twice. Needs root (to mount), as CI has.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, Broker};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;

const MESSAGES: u64 = 20_000;
const SIZE: usize = 2048;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        mount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"], at);
        Tmpfs(at.to_path_buf())
    }

    fn grow(&self, size: &str) {
        mount(&["-o", &format!("remount,size={size}")], &self.0);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount(args: &[&str], at: &Path) {
    let st = Command::new("mount")
        .args(args)
        .arg(at)
        .status()
        .expect("mount runs");
    assert!(st.success(), "mount {args:?} {} failed", at.display());
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[derive(Default)]
struct Outcomes {
    acked: Vec<u64>,
    nacked: Vec<u64>,
}

fn body(n: u64) -> Vec<u8> {
    let mut b = format!("{n:08}").into_bytes();
    b.resize(SIZE, b'.');
    b
}

/// Publishes `MESSAGES` numbered messages, at most 64 unconfirmed. The
/// confirms are awaited by another task: while the connection is blocked,
/// lapin holds `basic_publish` back, and the nacks must still be seen.
async fn publish_all(ch: lapin::Channel, outcomes: Arc<Mutex<Outcomes>>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(u64, lapin::PublisherConfirm)>(64);
    let settler = tokio::spawn(async move {
        while let Some((n, c)) = rx.recv().await {
            let c = c.await.expect("confirm");
            let mut o = outcomes.lock().unwrap();
            if c.is_ack() {
                o.acked.push(n);
            } else {
                o.nacked.push(n);
            }
        }
    });
    for n in 0..MESSAGES {
        let c = ch
            .basic_publish(
                "".into(),
                "full".into(),
                BasicPublishOptions::default(),
                &body(n),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish");
        tx.send((n, c)).await.unwrap();
    }
    drop(tx);
    settler.await.unwrap();
}

/// Polls `cond` (a guard against hanging, not a speed bound).
async fn until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_nacks_blocks_resumes_and_loses_no_confirmed_message() {
    if !is_root() {
        eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let disk = Tmpfs::mount(&data, "24m");
    let port = free_port();
    // No free-disk limit: the store's own fault handling is under test.
    let args = ["--segment-size", "1048576", "--disk-free-limit", "0"];
    let b = Broker::start(&data, dir.path(), port, 0, &args);
    let conn = b.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare("full".into(), durable, FieldTable::default())
        .await
        .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let outcomes: Arc<Mutex<Outcomes>> = Arc::default();
    let publisher = tokio::spawn(publish_all(ch, outcomes.clone()));

    until("a nack from the full disk", Duration::from_secs(120), || {
        !outcomes.lock().unwrap().nacked.is_empty()
    })
    .await;
    let log = b.log_text();
    assert!(log.contains("No space left on device"), "{log}");
    assert!(log.contains("publisher blocked: low on disk"), "{log}");
    // Blocked: nothing more is confirmed while the disk stays full.
    let settled = |o: &Outcomes| o.acked.len() + o.nacked.len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = outcomes.lock().unwrap().acked.len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        outcomes.lock().unwrap().acked.len(),
        before,
        "acks on a full disk"
    );

    disk.grow("200m");
    tokio::time::timeout(Duration::from_secs(300), publisher)
        .await
        .expect("publishing resumes once the disk has room")
        .unwrap();
    let (acked, nacked) = {
        let o = outcomes.lock().unwrap();
        assert_eq!(settled(&o) as u64, MESSAGES);
        (o.acked.clone(), o.nacked.clone())
    };
    assert!(b.log_text().contains("disk alarm cleared"));
    assert!(
        acked.iter().any(|n| *n > *nacked.iter().max().unwrap()),
        "confirms resumed after the nacks, without a restart"
    );
    b.kill();

    let b = Broker::start(&data, dir.path(), port, 1, &args);
    let recovered = drain(&b).await;
    b.kill();
    let mut seen = HashSet::new();
    for n in &recovered {
        assert!(seen.insert(*n), "message {n} recovered twice");
    }
    let lost: Vec<u64> = acked.iter().filter(|n| !seen.contains(n)).copied().collect();
    assert!(
        lost.is_empty(),
        "{} confirmed messages lost: {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    let report = format!(
        "full disk (24 MB tmpfs, grown to 200 MB): {MESSAGES} offered, {} confirmed, {} nacked, {} recovered, 0 confirmed lost\n",
        acked.len(),
        nacked.len(),
        recovered.len()
    );
    print!("{report}");
    // tests/run-all.sh prints this after the test run.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("full-disk-report.txt"),
        report,
    );
    drop(disk);
}

/// Takes every message of the queue: their numbers.
async fn drain(b: &Broker) -> Vec<u64> {
    let conn = b.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get("full".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        out.push(String::from_utf8_lossy(&m.delivery.data[..8]).parse().unwrap());
    }
    let _ = conn.close(200, "drained".into()).await;
    out
}
