//! The outgoing side of a connection: one buffer that every producer of
//! frames for this connection (its own task, and publishers on other
//! connections delivering to its consumers) appends to, and a writer task
//! that swaps it out and writes it in one call.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio::time::Instant;
use warren_broker::Queue;

/// Past this many pending bytes, consumers stop taking messages until the
/// writer has drained the buffer; this bounds memory for slow readers.
pub const HIGH_WATER: usize = 1 << 20;

pub struct Outbound {
    buf: Mutex<BytesMut>,
    notify: Notify,
    pub frame_max: AtomicU32,
    closing: AtomicBool,
    /// Queues whose consumers stopped at [`HIGH_WATER`]; kicked after a write.
    starved: Mutex<Vec<Arc<Queue>>>,
}

impl Outbound {
    pub fn new(frame_max: u32) -> Arc<Outbound> {
        Arc::new(Outbound {
            buf: Mutex::new(BytesMut::with_capacity(64 * 1024)),
            notify: Notify::new(),
            frame_max: AtomicU32::new(frame_max),
            closing: AtomicBool::new(false),
            starved: Mutex::new(Vec::new()),
        })
    }

    pub fn frame_max(&self) -> u32 {
        self.frame_max.load(Ordering::Relaxed)
    }

    /// Appends frames and wakes the writer.
    pub fn write<R>(&self, f: impl FnOnce(&mut BytesMut) -> R) -> R {
        let r = f(&mut self.buf.lock());
        self.notify.notify_one();
        r
    }

    /// Appends frames under a lock the caller already holds for other state.
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, BytesMut> {
        self.buf.lock()
    }

    pub fn wake(&self) {
        self.notify.notify_one();
    }

    pub fn starve(&self, queue: &Arc<Queue>) {
        let mut s = self.starved.lock();
        if !s.iter().any(|q| Arc::ptr_eq(q, queue)) {
            s.push(queue.clone());
        }
    }

    /// Asks the writer to flush what is pending and stop.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }
}

/// Writes whatever is pending, and a heartbeat when nothing else went out
/// for half the negotiated interval. Ends on `close()` or a write error.
pub async fn writer(
    out: Arc<Outbound>,
    mut sock: OwnedWriteHalf,
    heartbeat: Arc<AtomicU32>,
    io: Arc<warren_broker::connections::IoCounters>,
) {
    let mut spare = BytesMut::with_capacity(64 * 1024);
    let mut last_write = Instant::now();
    loop {
        let hb = heartbeat.load(Ordering::Relaxed);
        let tick = if hb == 0 {
            Duration::from_secs(3600)
        } else {
            Duration::from_millis(u64::from(hb) * 500)
        };
        let woke = tokio::time::timeout(tick, out.notify.notified()).await.is_ok();
        {
            let mut buf = out.buf.lock();
            if buf.is_empty() && !woke && hb != 0 && last_write.elapsed() >= tick {
                warren_codec::encode::heartbeat(&mut buf);
            }
            std::mem::swap(&mut *buf, &mut spare);
        }
        if !spare.is_empty() {
            if sock.write_all(&spare).await.is_err() {
                out.closing.store(true, Ordering::Release);
                return;
            }
            io.sent(spare.len());
            last_write = Instant::now();
            spare.clear();
            // A burst may have grown the buffer; do not keep it for an idle
            // connection (memory per connection stays small).
            if spare.capacity() > 256 * 1024 {
                spare = BytesMut::with_capacity(64 * 1024);
            }
        }
        let starved: Vec<Arc<Queue>> = std::mem::take(&mut *out.starved.lock());
        for q in starved {
            q.dispatch();
        }
        if out.is_closing() && out.buf.lock().is_empty() {
            let _ = sock.shutdown().await;
            return;
        }
    }
}
