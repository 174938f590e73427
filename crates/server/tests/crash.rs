//! Crash tests against the real `warren` binary: SIGKILL while a publisher
//! with confirms is sending numbered persistent messages, restart, drain.
//! Every confirmed message must come back; a message may come back twice
//! only if marked redelivered. Also: a torn record at the log's tail is cut
//! off with a log message and everything before it survives.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{free_port, Broker};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;

/// Warren with its data in `dir/data` and 256 KiB segments.
fn start(dir: &Path, port: u16, run: usize) -> Broker {
    Broker::start(&dir.join("data"), dir, port, run, &["--segment-size", "262144"])
}

fn persistent() -> BasicProperties {
    BasicProperties::default().with_delivery_mode(2)
}

async fn declare(ch: &lapin::Channel) {
    ch.queue_declare(
        "crash".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
}

/// Drains the queue: (number, redelivered) in delivery order.
async fn drain(b: &Broker) -> Vec<(u64, bool)> {
    let conn = b.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch).await;
    let mut out = Vec::new();
    while let Some(m) = ch
        .basic_get("crash".into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap()
    {
        let n: u64 = String::from_utf8_lossy(&m.delivery.data).parse().unwrap();
        out.push((n, m.delivery.redelivered));
        m.delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    let _ = conn.close(200, "drained".into()).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmed_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut next = 0u64;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let (mut total_confirmed, mut total_recovered, mut total_redelivered) = (0usize, 0usize, 0usize);
    let cycles = 20;
    for cycle in 0..cycles {
        let b = start(dir.path(), port, cycle * 2);
        let conn = b.connect().await;
        let ch = conn.create_channel().await.unwrap();
        declare(&ch).await;
        ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
        // A consumer that takes some messages and never acks them: after the
        // crash they must come back marked redelivered.
        let cch = conn.create_channel().await.unwrap();
        cch.basic_qos(5, BasicQosOptions::default()).await.unwrap();
        let seen: Arc<Mutex<HashSet<u64>>> = Arc::default();
        let mut consumer = cch
            .basic_consume(
                "crash".into(),
                "holder".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let seen2 = seen.clone();
        let holder = tokio::spawn(async move {
            while let Some(Ok(d)) = futures_lite::StreamExt::next(&mut consumer).await {
                let n: u64 = String::from_utf8_lossy(&d.data).parse().unwrap();
                seen2.lock().unwrap().insert(n);
            }
        });
        let confirmed: Arc<Mutex<Vec<u64>>> = Arc::default();
        let confirmed2 = confirmed.clone();
        let start_n = next;
        let publisher = tokio::spawn(async move {
            let mut n = start_n;
            let mut window = Vec::new();
            loop {
                let Ok(p) = ch
                    .basic_publish(
                        "".into(),
                        "crash".into(),
                        Default::default(),
                        n.to_string().as_bytes(),
                        persistent(),
                    )
                    .await
                else {
                    break;
                };
                window.push((n, p));
                n += 1;
                if window.len() >= 50 {
                    for (m, p) in window.drain(..) {
                        match p.await {
                            Ok(c) if c.is_ack() => confirmed2.lock().unwrap().push(m),
                            _ => return n,
                        }
                    }
                }
            }
            n
        });
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        tokio::time::sleep(Duration::from_millis(100 + rng % 400)).await;
        b.kill();
        next = publisher.await.unwrap_or(next) + 1;
        holder.abort();
        let confirmed: Vec<u64> = confirmed.lock().unwrap().clone();
        let seen: HashSet<u64> = seen.lock().unwrap().clone();

        let b = start(dir.path(), port, cycle * 2 + 1);
        let drained = drain(&b).await;
        b.kill();
        let mut count: HashMap<u64, usize> = HashMap::new();
        for (n, redelivered) in &drained {
            *count.entry(*n).or_default() += 1;
            if seen.contains(n) {
                assert!(
                    *redelivered,
                    "cycle {cycle}: {n} was delivered before the crash but not marked redelivered"
                );
            }
        }
        for n in &confirmed {
            assert!(count.contains_key(n), "cycle {cycle}: confirmed message {n} lost");
        }
        for (n, c) in &count {
            assert_eq!(*c, 1, "cycle {cycle}: message {n} came back {c} times");
        }
        total_confirmed += confirmed.len();
        total_recovered += drained.len();
        total_redelivered += drained.iter().filter(|(_, r)| *r).count();
    }
    let report = format!(
        "{cycles} SIGKILL cycles: {total_confirmed} confirmed, {total_recovered} recovered \
         ({total_redelivered} marked redelivered), 0 lost\n"
    );
    print!("{report}");
    // tests/run-all.sh prints this after the test run.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("crash-report.txt"),
        report,
    );
    assert!(total_confirmed > 0);
}

/// The end of the valid records in a segment file.
fn end_of_records(seg: &[u8]) -> usize {
    let mut at = 0;
    while at + 8 <= seg.len() {
        let len = u32::from_be_bytes(seg[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        at += 8 + len;
    }
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_cut_and_reported_and_earlier_messages_survive() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = start(dir.path(), port, 0);
    let conn = b.connect().await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch).await;
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    for n in 0..100u64 {
        let c = ch
            .basic_publish(
                "".into(),
                "crash".into(),
                Default::default(),
                n.to_string().as_bytes(),
                persistent(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(c.is_ack());
    }
    b.kill();
    // A record cut short at the tail, as a crash in the middle of a write leaves it.
    let msgs = dir.path().join("data").join("messages");
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&msgs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    let data = std::fs::read(last).unwrap();
    let end = end_of_records(&data);
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    f.write_all_at(
        &[0, 0, 4, 0, 0xde, 0xad, 0xbe, 0xef, 1, 0, 1, 0, 0, 0, 7],
        end as u64,
    )
    .unwrap();
    drop(f);

    let b = start(dir.path(), port, 1);
    let drained = drain(&b).await;
    let log = b.log_text();
    b.kill();
    assert!(
        log.contains("torn record"),
        "no torn-record report in the log:\n{log}"
    );
    let numbers: Vec<u64> = drained.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, (0..100).collect::<Vec<_>>());
}
