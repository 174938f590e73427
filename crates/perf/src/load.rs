//! Publishers and consumers on queues: throughput, confirms, acks and
//! publish-to-deliver latency.
//!
//! Each body carries its send time (nanoseconds since the run started,
//! bytes 0..8) and its producer and sequence (bytes 8..16); the consumer
//! reads them from the first body frame. Producers write batches of
//! frames in one call; consumers answer with acknowledgements gathered
//! until their read buffer is empty.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bytes::{BufMut, BytesMut};
use serde_json::{json, Value};
use tokio::sync::Notify;
use warren_codec::protocol::basic;
use warren_codec::{encode, AMQPClass, AMQPValue};

use crate::client::{self, Conn, Incoming, Uri};
use crate::{rss, table, Flow};

/// Messages a producer writes in one call when it is not rate-limited.
const BATCH: u64 = 64;

/// The clock every body's send time is read against.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    confirmed: AtomicU64,
    nacked: AtomicU64,
    consumed: AtomicU64,
    /// Set while the window is measured: latencies are kept then.
    measuring: AtomicBool,
    stop: AtomicBool,
}

/// Publisher confirms still awaited, oldest first.
#[derive(Default)]
struct Window {
    /// The delivery tag of the front entry.
    base: u64,
    done: VecDeque<bool>,
}

impl Window {
    /// Marks `tag` (and with `multiple`, every tag before it) confirmed;
    /// returns how many left the front.
    fn confirm(&mut self, tag: u64, multiple: bool) -> u64 {
        let Some(at) = tag.checked_sub(self.base) else {
            return 0;
        };
        let at = at as usize;
        if at >= self.done.len() {
            return 0;
        }
        if multiple {
            self.done.iter_mut().take(at + 1).for_each(|d| *d = true);
        } else {
            self.done[at] = true;
        }
        let mut gone = 0;
        while self.done.front() == Some(&true) {
            self.done.pop_front();
            self.base += 1;
            gone += 1;
        }
        gone
    }
}

pub async fn flow(
    uri: &Uri,
    f: &Flow,
    timeout: Duration,
    broker_pid: Option<u32>,
    latency_run: bool,
) -> Result<Value> {
    if f.size < 16 {
        bail!("--size must be at least 16 (the send time and sequence)");
    }
    epoch();
    let args = table(&f.queue_args);
    // Quorum queues and streams must be durable.
    let durable = f.persistent
        || f.queue_args.iter().any(|(k, v)| {
            k == "x-queue-type" && !matches!(v, AMQPValue::LongString(s) if s.as_bytes() == b"classic")
        });
    let names: Vec<String> = (0..f.queues.max(1))
        .map(|i| format!("{}-{i}", f.prefix))
        .collect();
    let mut setup = Conn::open(uri, timeout).await?;
    for n in &names {
        setup.declare(n, durable, &args).await?;
    }
    let server = setup.server.clone();
    let counters = Arc::new(Counters::default());
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let mut consumers = Vec::new();
    for i in 0..f.consumers {
        let mut c = Conn::open(uri, timeout).await?;
        if f.ack {
            c.call(1, client::qos(f.prefetch)).await?;
        }
        c.call(1, client::consume(&names[i % names.len()], !f.ack))
            .await?;
        consumers.push(tokio::spawn(consume(
            c,
            f.clone(),
            counters.clone(),
            done_rx.clone(),
        )));
    }
    // Every producer connects before any publishes: a connection opened
    // while the others publish flat out waits its turn at a busy broker.
    let mut opened = Vec::new();
    for _ in 0..f.producers {
        opened.push(Conn::open(uri, timeout).await?);
    }
    let mut producers = Vec::new();
    for (i, c) in opened.into_iter().enumerate() {
        let queue = names[i % names.len()].clone();
        producers.push(tokio::spawn(produce(
            c,
            queue,
            i as u64,
            f.clone(),
            counters.clone(),
        )));
    }
    // A second to reach a steady state, then the measured window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let snapshot =
        |c: &Counters| [&c.published, &c.confirmed, &c.consumed].map(|a| a.load(Ordering::Relaxed));
    let rss_before = rss::sample(broker_pid);
    counters.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let before = snapshot(&counters);
    let window = Duration::from_secs_f64(f.duration);
    let mut rss_peak = rss_before;
    while started.elapsed() < window {
        let left = window.saturating_sub(started.elapsed());
        tokio::time::sleep(left.min(Duration::from_millis(250))).await;
        rss_peak = rss_peak.max(rss::sample(broker_pid));
    }
    let after = snapshot(&counters);
    let elapsed = started.elapsed().as_secs_f64();
    counters.measuring.store(false, Ordering::Relaxed);
    counters.stop.store(true, Ordering::Relaxed);
    for p in producers {
        p.await??;
    }
    // Let the consumers take what is still queued, briefly.
    let mut last = counters.consumed.load(Ordering::Relaxed);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counters.consumed.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let mut latencies = Vec::new();
    let _ = done_tx.send(true);
    // What each consumer took in the window, and so each queue (consumer
    // i reads queue i % queues): a fair broker starves none of them.
    let mut per_consumer = Vec::new();
    let mut per_queue = vec![0u64; names.len()];
    for (i, c) in consumers.into_iter().enumerate() {
        let (mut l, taken) = c.await??;
        latencies.append(&mut l);
        per_consumer.push(taken);
        per_queue[i % names.len()] += taken;
    }
    for n in &names {
        setup.call(1, client::delete(n)).await?;
    }
    setup.close().await;
    let rate = |i: usize| (after[i] - before[i]) as f64 / elapsed;
    let mut out = json!({
        "broker": server,
        "params": {
            "producers": f.producers, "consumers": f.consumers, "queues": names.len(),
            "size": f.size, "rate": f.rate.unwrap_or(0.0), "confirm": f.confirm,
            "ack": f.ack, "multi_ack": f.multi_ack, "prefetch": f.prefetch,
            "persistent": f.persistent, "duration_s": f.duration,
            "queue_args": f.queue_args.iter().map(|(k, v)| match v {
                AMQPValue::LongString(s) => format!("{k}={}", String::from_utf8_lossy(s.as_bytes())),
                AMQPValue::LongLongInt(n) => format!("{k}={n}"),
                other => format!("{k}={other:?}"),
            }).collect::<Vec<_>>(),
        },
        "pub_rate": rate(0),
        "cons_rate": rate(2),
        "nacked": counters.nacked.load(Ordering::Relaxed),
    });
    if f.confirm > 0 {
        out["confirm_rate"] = json!(rate(1));
    }
    if latency_run || !latencies.is_empty() {
        out["latency_us"] = percentiles(&mut latencies);
    }
    if per_consumer.len() > 1 {
        out["fairness"] = json!({
            "queues": spread(&per_queue, elapsed),
            "consumers": spread(&per_consumer, elapsed),
        });
    }
    rss::report(&mut out, broker_pid, rss_before, rss_peak, 1, "rss_growth").await;
    Ok(out)
}

/// The lowest and highest of `counts` (messages in `elapsed` seconds) as
/// rates, their ratio, and how many got nothing.
fn spread(counts: &[u64], elapsed: f64) -> Value {
    let min = counts.iter().copied().min().unwrap_or(0);
    let max = counts.iter().copied().max().unwrap_or(0);
    json!({
        "min_rate": min as f64 / elapsed,
        "max_rate": max as f64 / elapsed,
        "min_over_max": if max == 0 { 0.0 } else { min as f64 / max as f64 },
        "starved": counts.iter().filter(|&&c| c == 0).count(),
    })
}

fn percentiles(samples: &mut [u32]) -> Value {
    if samples.is_empty() {
        return json!({"samples": 0});
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    json!({
        "p50": at(0.5), "p99": at(0.99), "p999": at(0.999),
        "max": samples[samples.len() - 1], "samples": samples.len(),
    })
}

async fn produce(c: Conn, queue: String, index: u64, f: Flow, counters: Arc<Counters>) -> Result<()> {
    let Conn {
        mut reader,
        mut writer,
        ..
    } = c;
    let window = Arc::new(Mutex::new(Window {
        base: 1,
        done: VecDeque::new(),
    }));
    let confirmed = Arc::new(Notify::new());
    let mut confirms = None;
    if f.confirm > 0 {
        writer.send(1, client::confirm_select()).await?;
        reader.method().await?;
        let (window, confirmed, counters) = (window.clone(), confirmed.clone(), counters.clone());
        confirms = Some(tokio::spawn(async move {
            while let Ok(frame) = reader.next().await {
                if let Incoming::Confirm { tag, multiple, nack } = frame {
                    let gone = window.lock().unwrap().confirm(tag, multiple);
                    let target = if nack {
                        &counters.nacked
                    } else {
                        &counters.confirmed
                    };
                    target.fetch_add(gone, Ordering::Relaxed);
                    confirmed.notify_one();
                }
            }
        }));
    }
    let mut publish = BytesMut::new();
    encode::method(
        &mut publish,
        1,
        &AMQPClass::Basic(basic::AMQPMethod::Publish(basic::Publish {
            exchange: "".into(),
            routing_key: queue.as_str().into(),
            mandatory: false,
            immediate: false,
        })),
    );
    let props = {
        let mut p = warren_codec::protocol::BasicProperties::default();
        if f.persistent {
            p = p.with_delivery_mode(2);
        }
        warren_codec::properties::encode(&p)
    };
    let mut body = vec![0u8; f.size];
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let per_producer = f.rate.filter(|r| *r > 0.0).map(|r| r / f.producers as f64);
    let started = Instant::now();
    let mut seq = 0u64;
    while !counters.stop.load(Ordering::Relaxed) {
        let mut n = match per_producer {
            None => BATCH,
            Some(r) => {
                let due = (started.elapsed().as_secs_f64() * r) as u64;
                if due <= seq {
                    let next = started + Duration::from_secs_f64((seq + 1) as f64 / r);
                    tokio::time::sleep_until(next.into()).await;
                    continue;
                }
                (due - seq).min(BATCH * 16)
            }
        };
        if f.confirm > 0 {
            loop {
                let wait = confirmed.notified();
                let room = f.confirm.saturating_sub(window.lock().unwrap().done.len()) as u64;
                if room > 0 {
                    n = n.min(room);
                    break;
                }
                if counters.stop.load(Ordering::Relaxed) {
                    n = 0;
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), wait).await;
            }
        }
        buf.clear();
        for _ in 0..n {
            seq += 1;
            body[0..8].copy_from_slice(&now_ns().to_be_bytes());
            body[8..16].copy_from_slice(&((index << 48) | seq).to_be_bytes());
            buf.put_slice(&publish);
            encode::content(&mut buf, 1, &props, &body, writer.frame_max);
        }
        if f.confirm > 0 {
            window
                .lock()
                .unwrap()
                .done
                .extend(std::iter::repeat_n(false, n as usize));
        }
        writer.write(&buf).await?;
        counters.published.fetch_add(n, Ordering::Relaxed);
    }
    if let Some(t) = confirms {
        // Wait briefly for the last confirms, then stop reading.
        for _ in 0..20 {
            if window.lock().unwrap().done.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        t.abort();
    }
    Ok(())
}

/// Counts deliveries until `done`; returns the latencies seen while the
/// window was measured, in microseconds.
async fn consume(
    c: Conn,
    f: Flow,
    counters: Arc<Counters>,
    mut done: tokio::sync::watch::Receiver<bool>,
) -> Result<(Vec<u32>, u64)> {
    let Conn {
        mut reader,
        mut writer,
        ..
    } = c;
    let mut latencies = Vec::new();
    let mut taken = 0u64;
    let mut acks = BytesMut::new();
    let (mut tag, mut unacked, mut remaining, mut first_body) = (0u64, 0u64, 0u64, false);
    loop {
        if !acks.is_empty() && !reader.has_frame() {
            writer.write(&acks).await?;
            acks.clear();
        }
        let frame = tokio::select! {
            f = reader.next() => f?,
            _ = done.changed() => return Ok((latencies, taken)),
        };
        match frame {
            Incoming::Deliver(t) => tag = t,
            Incoming::Header(size) => {
                remaining = size;
                first_body = true;
            }
            Incoming::Body(b) => {
                if first_body && b.len() >= 8 {
                    first_body = false;
                    if counters.measuring.load(Ordering::Relaxed) && latencies.len() < 4_000_000 {
                        let sent = u64::from_be_bytes(b[0..8].try_into()?);
                        latencies
                            .push((now_ns().saturating_sub(sent) / 1000).min(u64::from(u32::MAX)) as u32);
                    }
                }
                remaining = remaining.saturating_sub(b.len() as u64);
                if remaining > 0 {
                    continue;
                }
                counters.consumed.fetch_add(1, Ordering::Relaxed);
                if counters.measuring.load(Ordering::Relaxed) {
                    taken += 1;
                }
                if f.ack {
                    unacked += 1;
                    if unacked >= f.multi_ack.max(1) {
                        encode::ack(&mut acks, 1, tag, unacked > 1);
                        unacked = 0;
                    }
                }
            }
            Incoming::Method(m) => bail!("consumer: unexpected {m:?}"),
            Incoming::Confirm { .. } | Incoming::Heartbeat => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirms_leave_the_window_in_order() {
        let mut w = Window {
            base: 1,
            done: VecDeque::from(vec![false; 5]),
        };
        assert_eq!(w.confirm(2, false), 0, "tag 1 still awaited");
        assert_eq!(w.confirm(1, false), 2);
        assert_eq!(w.confirm(4, true), 2);
        assert_eq!(w.confirm(9, false), 0, "unknown tag");
        assert_eq!(w.confirm(5, false), 1);
        assert!(w.done.is_empty());
        assert_eq!(w.base, 6);
    }

    #[test]
    fn percentiles_of_samples() {
        let mut s: Vec<u32> = (1..=1000).rev().collect();
        let p = percentiles(&mut s);
        assert_eq!((p["p50"].as_u64(), p["max"].as_u64()), (Some(501), Some(1000)));
    }
}
