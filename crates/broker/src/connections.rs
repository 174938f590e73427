//! The registry of client connections, for management: who is connected,
//! and a way to close a connection from outside (320 CONNECTION_FORCED).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use amq_protocol::types::FieldTable;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

/// A connection's negotiated limits, for management.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    pub channel_max: u16,
    pub frame_max: u32,
    /// Seconds (0: none).
    pub heartbeat: u16,
    pub auth_mechanism: String,
}

/// RabbitMQ's names of a channel's message counters, in the order of
/// [`ChannelInfo::counts`].
pub const CHANNEL_STATS: [&str; 12] = [
    "publish",
    "confirm",
    "return_unroutable",
    "drop_unroutable",
    "deliver_get",
    "deliver",
    "deliver_no_ack",
    "get",
    "get_no_ack",
    "get_empty",
    "redeliver",
    "ack",
];

/// What management shows of a channel.
#[derive(Debug, Clone, Default)]
pub struct ChannelInfo {
    pub number: u16,
    pub consumers: u32,
    pub prefetch: u32,
    pub global_prefetch: u32,
    pub unacked: u32,
    pub confirm: bool,
    pub transactional: bool,
    /// The counters named by [`CHANNEL_STATS`], with their rates per
    /// second.
    pub counts: [u64; 12],
    pub rates: [f64; 12],
}

/// A live channel, read by management.
pub trait ChannelView: Send + Sync {
    fn info(&self) -> ChannelInfo;
    /// Closes the channel if its oldest unacknowledged delivery is past its
    /// consumer timeout at clock time `now` (checked by a sweeper).
    fn check_consumer_timeout(&self, _now: u64) {}
}

/// What management shows of a connection.
pub struct ConnectionInfo {
    pub id: u64,
    /// RabbitMQ's name: `peer:port -> local:port`.
    pub name: String,
    pub peer: std::net::SocketAddr,
    pub local: std::net::SocketAddr,
    pub user: Mutex<String>,
    pub vhost: Mutex<String>,
    pub client_properties: Mutex<FieldTable>,
    /// Negotiated in tune-ok, and the mechanism the client logged in with.
    pub tuning: Mutex<Tuning>,
    pub channels: AtomicU32,
    /// The open channels, by number.
    pub channel_views: Mutex<BTreeMap<u16, Arc<dyn ChannelView>>>,
    /// Seconds since the epoch.
    pub connected_at: u64,
    /// A close asked for by management, with its reason.
    close: Mutex<Option<String>>,
    close_notify: Notify,
    /// Bytes and socket reads and writes, for management.
    pub io: Arc<IoCounters>,
    /// What was negotiated, for a connection over TLS.
    pub tls: Option<TlsInfo>,
}

/// A TLS session as management shows it, in RabbitMQ's (Erlang ssl's)
/// names: `tlsv1.3`, `aes_256_gcm`, `ecdhe_rsa`, `aead`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    pub protocol: String,
    pub cipher: String,
    pub key_exchange: String,
    pub hash: String,
    /// The client's certificate, when it presented one: subject and issuer
    /// as RFC 4514 distinguished names, validity as `from - until`.
    pub peer_cert_subject: Option<String>,
    pub peer_cert_issuer: Option<String>,
    pub peer_cert_validity: Option<String>,
}

/// A connection's socket traffic: added once per read or write (each
/// carries many frames), read by management with their rates.
#[derive(Debug, Default)]
pub struct IoCounters {
    recv_oct: AtomicU64,
    recv_cnt: AtomicU64,
    send_oct: AtomicU64,
    send_cnt: AtomicU64,
    rates: crate::stats::RateMeter<2>,
}

/// What [`IoCounters::snapshot`] reads.
#[derive(Debug, Clone, Copy)]
pub struct Io {
    pub recv_oct: u64,
    pub recv_cnt: u64,
    pub send_oct: u64,
    pub send_cnt: u64,
    /// Bytes per second received and sent.
    pub recv_rate: f64,
    pub send_rate: f64,
}

impl IoCounters {
    pub fn received(&self, bytes: usize) {
        self.recv_oct.fetch_add(bytes as u64, Ordering::Relaxed);
        self.recv_cnt.fetch_add(1, Ordering::Relaxed);
    }

    pub fn sent(&self, bytes: usize) {
        self.send_oct.fetch_add(bytes as u64, Ordering::Relaxed);
        self.send_cnt.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Io {
        let recv_oct = self.recv_oct.load(Ordering::Relaxed);
        let send_oct = self.send_oct.load(Ordering::Relaxed);
        let [recv_rate, send_rate] = self.rates.rates([recv_oct, send_oct]);
        Io {
            recv_oct,
            recv_cnt: self.recv_cnt.load(Ordering::Relaxed),
            send_oct,
            send_cnt: self.send_cnt.load(Ordering::Relaxed),
            recv_rate,
            send_rate,
        }
    }
}

impl ConnectionInfo {
    pub fn new(
        id: u64,
        peer: std::net::SocketAddr,
        local: std::net::SocketAddr,
        connected_at: u64,
        tls: Option<TlsInfo>,
    ) -> Arc<ConnectionInfo> {
        Arc::new(ConnectionInfo {
            id,
            name: format!("{peer} -> {local}"),
            peer,
            local,
            user: Mutex::new(String::new()),
            vhost: Mutex::new(String::new()),
            client_properties: Mutex::new(FieldTable::default()),
            tuning: Mutex::new(Tuning::default()),
            channels: AtomicU32::new(0),
            channel_views: Mutex::new(BTreeMap::new()),
            connected_at,
            close: Mutex::new(None),
            io: Default::default(),
            close_notify: Notify::new(),
            tls,
        })
    }

    pub fn channel_count(&self) -> u32 {
        self.channels.load(Ordering::Relaxed)
    }

    /// Asks the connection to close with `reason`.
    pub fn request_close(&self, reason: &str) {
        *self.close.lock() = Some(reason.to_string());
        self.close_notify.notify_one();
    }

    /// Resolves with the reason once a close is requested.
    pub async fn close_requested(&self) -> String {
        loop {
            if let Some(r) = self.close.lock().clone() {
                return r;
            }
            self.close_notify.notified().await;
        }
    }
}

#[derive(Default)]
pub struct Connections {
    all: RwLock<BTreeMap<u64, Arc<ConnectionInfo>>>,
}

impl Connections {
    pub fn add(&self, info: Arc<ConnectionInfo>) {
        self.all.write().insert(info.id, info);
    }

    pub fn remove(&self, id: u64) {
        self.all.write().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.all.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.read().is_empty()
    }

    pub fn list(&self) -> Vec<Arc<ConnectionInfo>> {
        self.all.read().values().cloned().collect()
    }

    pub fn by_id(&self, id: u64) -> Option<Arc<ConnectionInfo>> {
        self.all.read().get(&id).cloned()
    }

    pub fn find(&self, name: &str) -> Option<Arc<ConnectionInfo>> {
        self.all.read().values().find(|c| c.name == name).cloned()
    }
}
