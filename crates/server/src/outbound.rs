//! The outgoing side of a connection: one buffer that every producer of
//! frames for this connection (its own task, and publishers on other
//! connections delivering to its consumers) appends to, and a writer task
//! that swaps it out and writes it in one call.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;
use warren_broker::Queue;

/// Past this many pending bytes, consumers stop taking messages until the
/// writer has drained the buffer; this bounds memory for slow readers.
pub const HIGH_WATER: usize = 1 << 20;

/// Past this many bytes pending or being written, the connection stops
/// reading its client until the writer has caught up. Consumers stop at
/// [`HIGH_WATER`] already; this bounds what a client's own requests make
/// Warren write (`basic.get-ok`, mandatory returns, method replies) when
/// it sends requests faster than it reads the answers, or stops reading.
/// Above `HIGH_WATER` so that a consumer's deliveries alone never stop
/// its acknowledgements from being read.
pub const READ_LIMIT: usize = 4 * HIGH_WATER;

/// Buffers this small are kept by a quiet connection.
const SMALL_BUFFERS: usize = 4 * 1024;

/// After this long without writing, a connection's grown buffers are let go.
pub const IDLE_RELEASE: Duration = Duration::from_secs(2);

pub struct Outbound {
    buf: Mutex<BytesMut>,
    notify: Notify,
    /// Bytes the writer took from `buf` and has not finished writing.
    in_flight: AtomicUsize,
    /// Signalled after each write.
    drained: Notify,
    /// Set by [`Outbound::write`] when it leaves more than [`READ_LIMIT`]
    /// bytes pending: a flag the reader can test per frame for nothing.
    over: AtomicBool,
    pub frame_max: AtomicU32,
    closing: AtomicBool,
    /// Queues whose consumers stopped at [`HIGH_WATER`]; kicked after a write.
    starved: Mutex<Vec<Arc<Queue>>>,
}

impl Outbound {
    pub fn new(frame_max: u32) -> Arc<Outbound> {
        Arc::new(Outbound {
            // Grows with the first frames; an idle connection keeps little.
            buf: Mutex::new(BytesMut::new()),
            notify: Notify::new(),
            in_flight: AtomicUsize::new(0),
            drained: Notify::new(),
            over: AtomicBool::new(false),
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
        let mut buf = self.buf.lock();
        let r = f(&mut buf);
        if buf.len() > READ_LIMIT {
            self.over.store(true, Ordering::Relaxed);
        }
        drop(buf);
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

    /// Whether the connection should stop reading its client: a write left
    /// more than [`READ_LIMIT`] bytes pending and they are not written yet.
    pub fn over_read_limit(&self) -> bool {
        if !self.over.load(Ordering::Relaxed) {
            return false;
        }
        // Under the lock, so that a write setting the flag is not undone.
        let buf = self.buf.lock();
        let over = buf.len() + self.in_flight.load(Ordering::Acquire) > READ_LIMIT;
        if !over {
            self.over.store(false, Ordering::Relaxed);
        }
        over
    }

    /// Returns after the writer's next write, or when it has stopped. The
    /// single reader waits here; `notify_one` keeps a wake-up that comes
    /// before the wait.
    pub async fn drained(&self) {
        self.drained.notified().await;
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
/// Generic over the socket so that plain TCP and TLS each get their own
/// monomorphised copy.
pub async fn writer<W: AsyncWrite + Unpin>(
    out: Arc<Outbound>,
    mut sock: W,
    heartbeat: Arc<AtomicU32>,
    io: Arc<warren_broker::connections::IoCounters>,
    mut counted: warren_broker::memory::Share,
) {
    let mut spare = BytesMut::new();
    let mut pending_room = 0;
    let mut last_write = Instant::now();
    loop {
        let hb = heartbeat.load(Ordering::Relaxed);
        let beat = if hb == 0 {
            Duration::from_secs(3600)
        } else {
            Duration::from_millis(u64::from(hb) * 500)
        };
        // Buffers grown by a burst are let go once the connection has been
        // quiet for a while; an idle connection with small buffers only
        // wakes for its heartbeats.
        let holding = pending_room + spare.capacity() > SMALL_BUFFERS;
        let tick = if holding { beat.min(IDLE_RELEASE) } else { beat };
        let woke = tokio::time::timeout(tick, out.notify.notified()).await.is_ok();
        {
            let mut buf = out.buf.lock();
            if buf.is_empty() && !woke {
                if hb != 0 && last_write.elapsed() >= beat {
                    warren_codec::encode::heartbeat(&mut buf);
                } else if holding && last_write.elapsed() >= IDLE_RELEASE {
                    *buf = BytesMut::new();
                    spare = BytesMut::new();
                }
            }
            std::mem::swap(&mut *buf, &mut spare);
            // Under the lock, so that pending bytes never read as fewer.
            out.in_flight.store(spare.len(), Ordering::Release);
            pending_room = buf.capacity();
            counted.set(pending_room + spare.capacity());
        }
        if !spare.is_empty() {
            // The flush pushes out what TLS holds back as records; on TCP it
            // does nothing.
            let written = match sock.write_all(&spare).await {
                Ok(()) => sock.flush().await,
                Err(e) => Err(e),
            };
            out.in_flight.store(0, Ordering::Release);
            out.drained.notify_one();
            if written.is_err() {
                out.closing.store(true, Ordering::Release);
                return;
            }
            io.sent(spare.len());
            last_write = Instant::now();
            spare.clear();
            // Kept for the next batch while the connection is busy (growing
            // a new one frame by frame costs copies); a burst's outsized
            // one is not, and a quiet connection lets both go (above).
            if spare.capacity() > 256 * 1024 {
                spare = BytesMut::new();
            }
            // The pending buffer as of the swap: no second lock per write.
            counted.set(pending_room + spare.capacity());
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
