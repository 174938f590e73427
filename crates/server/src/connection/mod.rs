//! A client connection: the socket's task, the frame loop, heartbeats,
//! flow control and closing in both directions. The connection class's
//! methods are in `negotiation`, channels in `channels`, reading the
//! socket in `reading`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use warren_broker::access::{Permissions, LOGIN_REFUSAL_DELAY};
use warren_broker::connections::{ConnectionInfo, TlsInfo};
use warren_broker::error::{self, AmqpError};
use warren_broker::limits::{ConnectionSlot, Slot, UserState};
use warren_broker::memory::Share;
use warren_broker::stats::GlobalStats;
use warren_broker::{Queue, VHost};
use warren_codec::protocol::connection;
use warren_codec::shortstr::truncated;
use warren_codec::{encode, AMQPClass, Frame, Method, PROTOCOL_HEADER};
use warren_store::{MessageLog, Ticket};

use crate::channel::Channel;
use crate::delivery::ChannelFaults;
use crate::outbound::{self, Outbound};
use crate::tls::{self, Tls};
use crate::Shared;

mod channels;
mod negotiation;
mod reading;

use negotiation::start_method;
pub use reading::Streaming;
use reading::{ReadBuffer, Turn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitStartOk,
    AwaitTuneOk,
    AwaitOpen,
    Open,
    /// We sent `connection.close` and wait for `close-ok`.
    Closing,
    Done,
}

struct Connection {
    /// Errors raised for this connection's channels by other tasks.
    faults: Arc<ChannelFaults>,
    id: u64,
    shared: Arc<Shared>,
    out: Arc<Outbound>,
    heartbeat: Arc<AtomicU32>,
    state: State,
    vhost: Option<Arc<VHost>>,
    /// This connection's place under the vhost's and the user's
    /// `max-connections`: held, never read, and given back by dropping them.
    _vhost_slot: Option<ConnectionSlot>,
    _user_slot: Option<Slot>,
    /// The user's limits, and each open channel's place under their
    /// `max-channels`.
    user_state: Option<Arc<UserState>>,
    channel_slots: HashMap<u16, Slot>,
    /// Boxed: a map's smallest table has room for four entries, and a
    /// channel is 672 bytes; a client with one channel would carry room
    /// for three more.
    channels: HashMap<u16, Box<Channel>>,
    channel_max: u16,
    frame_max: u32,
    exclusive_queues: Vec<Arc<Queue>>,
    closing_deadline: Option<Instant>,
    /// The client announced the `connection.blocked` capability.
    blocked_capable: bool,
    /// The connection has published (alarms block only publishers).
    publisher: bool,
    /// What management sees of this connection.
    info: Arc<ConnectionInfo>,
    /// The authenticated user.
    user: String,
    /// The user's permissions in the vhost, refreshed when
    /// `perms_generation` falls behind the broker's.
    perms: Arc<Permissions>,
    perms_generation: u64,
    /// Until `connection.open-ok`: when the handshake must be done by.
    handshake_deadline: Option<Instant>,
    /// The client's certificate, verified by a TLS listener that asks for
    /// one: what SASL EXTERNAL logs in with.
    client_cert: Option<tls::Certificate>,
}

/// Serves one accepted socket until it closes; over TLS when `tls` is set
/// (the handshake counts against `handshake_timeout`).
///
/// Every connection's task is as large as the largest state of this
/// future, for the connection's whole life: the TLS path, whose stream
/// and handshake are far larger than a plain socket's, is boxed so that
/// plain connections do not pay for it.
pub async fn serve(
    stream: TcpStream,
    tls: Option<Arc<Tls>>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let local = stream.local_addr().ok();
    let handshake_deadline = Instant::now() + shared.config.handshake_timeout;
    match tls {
        None => {
            let (rd, wr) = stream.into_split();
            serve_stream(rd, wr, None, (peer, local), handshake_deadline, shared, shutdown).await
        }
        Some(tls) => {
            Box::pin(serve_tls(
                stream,
                tls,
                (peer, local),
                handshake_deadline,
                shared,
                shutdown,
            ))
            .await
        }
    }
}

async fn serve_tls(
    stream: TcpStream,
    tls: Arc<Tls>,
    (peer, local): (Option<SocketAddr>, Option<SocketAddr>),
    handshake_deadline: Instant,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let stream = match tokio::time::timeout_at(handshake_deadline, tls.acceptor().accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            // A refused or expired certificate ends here: rustls has sent
            // the alert, and no AMQP connection is made.
            tracing::info!(?peer, "TLS handshake failed: {e}");
            GlobalStats::count(&shared.broker.stats.tls_handshake_failures);
            return;
        }
        Err(_) => {
            tracing::info!(?peer, "TLS handshake timed out");
            return;
        }
    };
    let (info, peer_cert) = tls::session_info(stream.get_ref().1);
    let session = Session {
        info,
        external: tls.verifies_peers(),
        client_cert: tls.verifies_peers().then_some(peer_cert).flatten(),
    };
    let (rd, wr) = tokio::io::split(stream);
    serve_stream(
        rd,
        wr,
        Some(session),
        (peer, local),
        handshake_deadline,
        shared,
        shutdown,
    )
    .await
}

/// A TLS session as the connection sees it.
struct Session {
    /// What management shows.
    info: TlsInfo,
    /// The listener verifies client certificates: SASL EXTERNAL is offered.
    external: bool,
    /// The client's certificate, when the listener verified it.
    client_cert: Option<tls::Certificate>,
}

async fn serve_stream<R, W>(
    mut rd: R,
    mut wr: W,
    session: Option<Session>,
    (peer, local): (Option<SocketAddr>, Option<SocketAddr>),
    handshake_deadline: Instant,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tls_info, external, client_cert) = match session {
        Some(s) => (Some(s.info), s.external, s.client_cert),
        None => (None, false, None),
    };
    // The handshake, protocol header included, has `handshake_timeout`.
    let mut header = [0u8; 8];
    match tokio::time::timeout_at(handshake_deadline, rd.read_exact(&mut header)).await {
        Ok(Ok(_)) if &header == PROTOCOL_HEADER => {}
        Ok(Ok(_)) => {
            // Tell the client which protocol we speak, then hang up.
            let _ = wr.write_all(PROTOCOL_HEADER).await;
            let _ = wr.shutdown().await;
            return;
        }
        _ => return,
    }
    let id = shared.next_connection_id.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(id, ?peer, "connection accepted");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let unknown = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let info = ConnectionInfo::new(
        id,
        peer.unwrap_or(unknown),
        local.unwrap_or(unknown),
        now,
        tls_info,
    );
    shared.broker.connections.add(info.clone());
    GlobalStats::count(&shared.broker.stats.connections_opened);
    let out = Outbound::new(shared.config.frame_max);
    let heartbeat = Arc::new(AtomicU32::new(0));
    let mut writer = tokio::spawn(outbound::writer(
        out.clone(),
        wr,
        heartbeat.clone(),
        info.io.clone(),
        Share::new(&shared.broker.memory.writers),
    ));
    let mut conn = Connection {
        id,
        shared: shared.clone(),
        out: out.clone(),
        faults: Arc::default(),
        heartbeat,
        state: State::AwaitStartOk,
        vhost: None,
        _vhost_slot: None,
        _user_slot: None,
        user_state: None,
        channel_slots: HashMap::new(),
        channels: HashMap::new(),
        channel_max: shared.config.channel_max,
        frame_max: shared.config.frame_max,
        exclusive_queues: Vec::new(),
        closing_deadline: None,
        blocked_capable: false,
        publisher: false,
        info,
        user: String::new(),
        perms: Arc::new(Permissions::none("", "")),
        perms_generation: u64::MAX,
        handshake_deadline: Some(handshake_deadline),
        client_cert: None,
    };
    conn.client_cert = client_cert;
    conn.send(
        0,
        start_method(&shared.broker.parameters.cluster_name(), external),
    );
    conn.run(&mut rd, shutdown).await;
    conn.cleanup();
    shared.broker.connections.remove(id);
    GlobalStats::count(&shared.broker.stats.connections_closed);
    out.close();
    // A client that stopped reading would hold the writer, and with it the
    // socket, forever.
    if tokio::time::timeout(Duration::from_secs(5), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    // The client may still be writing frames it queued before our close-ok;
    // read them until it hangs up so they do not meet a TCP reset.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        // On the heap: an array here would live in every connection's
        // task for its whole life (the task is as large as its largest
        // state).
        let mut sink = vec![0u8; 4096];
        while let Ok(n) = rd.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    tracing::debug!(id, ?peer, "connection closed");
}

/// `connection.close` for `e`, naming the method that caused it.
fn close_method(e: &AmqpError, (class_id, method_id): (u16, u16)) -> AMQPClass {
    AMQPClass::Connection(connection::AMQPMethod::Close(connection::Close {
        reply_code: e.code,
        reply_text: truncated(&e.text),
        class_id,
        method_id,
    }))
}

/// Resolves at the next sync announcement (`synced`, registered before
/// the confirms were flushed) if a log ticket is `awaited`; never if not.
async fn sync_announced(awaited: Option<Ticket>, synced: Option<tokio::sync::futures::Notified<'_>>) {
    match (awaited, synced) {
        (Some(_), Some(n)) => n.await,
        _ => std::future::pending().await,
    }
}

/// `tx.commit`'s class and method ids.
const TX_COMMIT: (u16, u16) = (90, 20);

impl Connection {
    /// Sends what every channel can now confirm or must refuse, and closes
    /// the channels whose commit the store refused. Returns the highest log
    /// ticket still awaited.
    fn flush_confirms(&mut self, log: Option<&MessageLog>) -> Option<Ticket> {
        let mut awaited = None;
        let mut refused = Vec::new();
        for (id, ch) in self.channels.iter_mut() {
            match ch.flush_confirms(&self.out, log) {
                Ok(t) => awaited = awaited.max(t),
                Err(e) => refused.push((*id, e)),
            }
        }
        for (id, e) in refused {
            self.fail_channel(id, e, TX_COMMIT);
        }
        awaited
    }

    fn send(&self, channel: u16, m: AMQPClass) {
        self.out.write(|b| encode::method(b, channel, &m));
    }

    async fn run<R: AsyncRead + Unpin>(&mut self, rd: &mut R, shutdown: CancellationToken) {
        let mut buf = ReadBuffer::new(Share::new(&self.shared.broker.memory.readers));
        let mut last_read = Instant::now();
        let mut shutting_down = false;
        let shared = self.shared.clone();
        let mut turn = Turn::new(&shared.streaming);
        loop {
            self.contained(|conn| conn.frames(&mut buf.bytes));
            if self.state == State::Done {
                return;
            }
            let store = self.shared.broker.store.clone();
            let log = store.as_ref().map(|s| &s.log);
            // Registered before the check, so a sync announced in between is not missed.
            let synced = log.map(|l| l.synced_notified());
            for (id, e) in self.faults.take() {
                self.fail_channel(id, e, (0, 0));
            }
            let mut congested = None;
            let awaited = self.flush_confirms(log);
            for ch in self.channels.values_mut() {
                congested = congested.or(ch.congested.take());
                ch.flush_counts(&self.shared.broker.stats);
            }
            if let (Some(t), Some(l)) = (awaited, log) {
                l.request_sync(t);
            }
            // While Warren itself does not read a client (flow control,
            // the disk, an alarm), the client's silence is not the
            // client's: the heartbeat clock restarts after each such wait.
            if let Some(q) = congested {
                // Flow control: stop reading this publisher until the queue's
                // consumers catch up (see Queue::congested).
                q.wait_relieved(Duration::from_millis(100)).await;
                last_read = Instant::now();
            }
            if let (true, Some(l)) = (self.publisher, log) {
                if l.backlogged() {
                    // The disk is behind: stop reading publishers until the
                    // persister has written what is pending.
                    l.wait_written().await;
                    last_read = Instant::now();
                }
            }
            if self.out.is_closing() {
                return;
            }
            if self.publisher && self.shared.alarms.active() && self.state == State::Open {
                // A resource alarm: stop reading this publisher until it clears.
                self.blocked(&shutdown).await;
                last_read = Instant::now();
                if self.state == State::Done {
                    return;
                }
                continue;
            }
            if turn.over() {
                tokio::task::yield_now().await;
            }
            buf.prepare();
            let hb = self.heartbeat.load(Ordering::Relaxed);
            let throttled = self.out.over_read_limit();
            let mut deadline = if hb > 0 && !throttled {
                last_read + Duration::from_secs(u64::from(hb) * 2)
            } else {
                Instant::now() + Duration::from_secs(3600)
            };
            if buf.grown() {
                deadline = deadline.min(last_read + outbound::IDLE_RELEASE);
            }
            for d in [self.closing_deadline, self.handshake_deadline]
                .into_iter()
                .flatten()
            {
                deadline = deadline.min(d);
            }
            let sync_wait = sync_announced(awaited, synced);
            let info = self.info.clone();
            let out = self.out.clone();
            let faults = self.faults.clone();
            tokio::select! {
                _ = faults.raised() => {}
                reason = info.close_requested(), if !matches!(self.state, State::Closing | State::Done) => {
                    tracing::info!(id = self.id, "closing connection on request: {reason}");
                    self.close_with(AmqpError::new(error::CONNECTION_FORCED, reason), (0, 0));
                }
                _ = sync_wait => {}
                _ = out.drained(), if throttled => {
                    last_read = Instant::now();
                }
                r = rd.read_buf(&mut buf.bytes), if !throttled => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        turn.read(n, buf.filled(n));
                        last_read = Instant::now();
                        info.io.received(n);
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    if buf.grown() && last_read.elapsed() >= outbound::IDLE_RELEASE {
                        buf.release();
                    }
                    if self.closing_deadline.is_some_and(|d| Instant::now() >= d) {
                        return;
                    }
                    if self.handshake_deadline.is_some_and(|d| Instant::now() >= d) {
                        // As RabbitMQ: the socket is closed, no connection.close.
                        tracing::warn!(id = self.id, peer = %self.info.peer, "handshake timeout: closing");
                        return;
                    }
                    if hb > 0 && !throttled && last_read.elapsed() >= Duration::from_secs(u64::from(hb) * 2) {
                        tracing::warn!(id = self.id, "missed heartbeats from client, timeout: {hb}s");
                        return;
                    }
                }
                _ = shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    self.close_with(
                        AmqpError::new(error::CONNECTION_FORCED, "broker forced connection closure with reason 'shutdown'"),
                        (0, 0),
                    );
                    self.closing_deadline = Some(Instant::now() + Duration::from_secs(1));
                }
            }
        }
    }

    /// Waits out a resource alarm without reading the socket, telling a
    /// client that supports it with `connection.blocked`/`unblocked`.
    async fn blocked(&mut self, shutdown: &CancellationToken) {
        let alarms = self.shared.alarms.clone();
        if self.blocked_capable {
            let reason = truncated(alarms.reason());
            self.send(
                0,
                AMQPClass::Connection(connection::AMQPMethod::Blocked(connection::Blocked { reason })),
            );
        }
        tracing::info!(id = self.id, "publisher blocked: {}", alarms.reason());
        let info = self.info.clone();
        let store = self.shared.broker.store.clone();
        let log = store.as_ref().map(|s| &s.log);
        loop {
            // Confirms keep flowing while blocked: a failing disk is one
            // cause of the alarm, and its publishers wait for their nacks.
            let synced = log.map(|l| l.synced_notified());
            let awaited = self.flush_confirms(log);
            let sync_wait = sync_announced(awaited, synced);
            tokio::select! {
                _ = alarms.wait_clear() => break,
                _ = sync_wait => {}
                // Management or a user deletion may still close it.
                reason = info.close_requested() => {
                    tracing::info!(id = self.id, "closing blocked connection on request: {reason}");
                    self.close_with(AmqpError::new(error::CONNECTION_FORCED, reason), (0, 0));
                    return;
                }
                _ = shutdown.cancelled() => {
                    self.close_with(
                        AmqpError::new(error::CONNECTION_FORCED, "broker forced connection closure with reason 'shutdown'"),
                        (0, 0),
                    );
                    self.state = State::Done;
                    return;
                }
            }
        }
        if self.blocked_capable {
            self.send(
                0,
                AMQPClass::Connection(connection::AMQPMethod::Unblocked(connection::Unblocked {})),
            );
        }
    }

    /// Answers a refused login after [`LOGIN_REFUSAL_DELAY`], so that
    /// passwords cannot be tried at wire speed: with `close`, a
    /// `connection.close`; without, the socket just closes. Meanwhile the
    /// connection reads and ignores what the client sends.
    fn refuse_login(&mut self, close: Option<AmqpError>) {
        self.cleanup();
        self.state = State::Closing;
        let answer_at = Instant::now() + LOGIN_REFUSAL_DELAY;
        let Some(e) = close else {
            self.closing_deadline = Some(answer_at);
            return;
        };
        let out = self.out.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(answer_at).await;
            out.write(|b| encode::method(b, 0, &close_method(&e, (0, 0))));
        });
        self.closing_deadline = Some(answer_at + Duration::from_secs(3));
    }

    /// Sends `connection.close` and waits for `close-ok`.
    fn close_with(&mut self, e: AmqpError, (class, method): (u16, u16)) {
        if matches!(self.state, State::Closing | State::Done) {
            return;
        }
        self.send(0, close_method(&e, (class, method)));
        self.cleanup();
        self.state = State::Closing;
        self.closing_deadline = Some(Instant::now() + Duration::from_secs(3));
    }

    /// Handles the complete frames in `buf`, until the connection is done
    /// or its client must wait for the writer to drain.
    fn frames(&mut self, buf: &mut BytesMut) {
        while self.state != State::Done {
            if self.out.over_read_limit() {
                // The client asks faster than it reads the answers: the
                // rest of its frames wait until the writer drains.
                return;
            }
            let frame_max = if self.state == State::Open {
                self.frame_max
            } else {
                self.shared.config.frame_max
            };
            match warren_codec::decode_frame(buf, frame_max) {
                Ok(Some(frame)) => self.frame(frame),
                Ok(None) => return,
                Err(e) => {
                    // Named by peer: a malformed or hostile frame is worth
                    // an operator's look.
                    tracing::warn!(id = self.id, peer = %self.info.peer, "closing connection: {e}");
                    // The stream cannot be parsed past a framing error.
                    self.close_with(
                        AmqpError {
                            code: e.reply_code(),
                            text: e.reply_text(),
                        },
                        e.method_ids(),
                    );
                    self.state = State::Done;
                }
            }
        }
    }

    /// Runs `f` (frame handling); a panic in it (a bug, whatever the input)
    /// closes this connection with 541 INTERNAL_ERROR, detaching its
    /// consumers and requeueing its unacknowledged messages, and leaves
    /// every other connection serving. parking_lot locks are released as
    /// the panic unwinds and are not poisoned. Once per batch of frames
    /// read, not per frame: the frames after a panicking one are dropped
    /// with the connection anyway.
    fn contained(&mut self, f: impl FnOnce(&mut Connection)) {
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        if let Err(panic) = handled {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            tracing::error!(id = self.id, peer = %self.info.peer, "connection task panicked: {what}");
            if matches!(self.state, State::Closing | State::Done) {
                self.state = State::Done;
                return;
            }
            self.close_with(
                AmqpError::new(error::INTERNAL_ERROR, "internal error; the connection is closed"),
                (0, 0),
            );
        }
    }

    fn frame(&mut self, frame: Frame) {
        let ids = match &frame {
            Frame::Method { method, .. } => method.ids(),
            _ => (0, 0),
        };
        if self.state == State::Closing {
            // Only the handshake that ends the connection matters now.
            if let Frame::Method {
                channel: 0,
                method: Method::Other(m),
            } = &frame
            {
                match **m {
                    AMQPClass::Connection(connection::AMQPMethod::CloseOk(_)) => self.state = State::Done,
                    AMQPClass::Connection(connection::AMQPMethod::Close(_)) => {
                        self.send(
                            0,
                            AMQPClass::Connection(connection::AMQPMethod::CloseOk(connection::CloseOk {})),
                        );
                        self.state = State::Done;
                    }
                    _ => {}
                }
            }
            return;
        }
        if matches!(
            frame,
            Frame::Method {
                method: Method::Publish(_),
                ..
            }
        ) {
            self.publisher = true;
        }
        let result = if frame.channel() == 0 {
            self.connection_frame(frame)
        } else {
            self.channel_frame(frame)
        };
        if let Err(e) = result {
            tracing::debug!(id = self.id, "connection error: {}", e.text);
            self.close_with(e, ids);
        }
    }

    /// Releases everything the connection holds: consumers detach, unacked
    /// messages are requeued, exclusive queues are deleted.
    fn cleanup(&mut self) {
        let Some(vhost) = self.vhost.clone() else { return };
        for ch in self.channels.values_mut() {
            ch.teardown(&vhost, self.id);
        }
        let closed = self.channels.len() as u64;
        self.channels.clear();
        self.channel_slots.clear();
        self._user_slot = None;
        self.shared
            .broker
            .stats
            .channels_closed
            .fetch_add(closed, Ordering::Relaxed);
        self.info.channel_views.lock().clear();
        self.channels_changed();
        for q in self.exclusive_queues.drain(..) {
            vhost.remove_queue(&q);
        }
        // Given back before close-ok, so a client that reconnects at once
        // finds its place free.
        self._vhost_slot = None;
    }
}
