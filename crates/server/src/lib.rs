//! Warren's AMQP server: the listener, connections and channels, wired to
//! the broker model. [`start`] runs a broker inside the caller's runtime
//! (tests use port 0); the `warren` binary wraps it with configuration,
//! logging and signal handling.

pub mod alarms;
pub mod allocator;
pub mod auth;
pub mod channel;
pub mod config;
pub mod connection;
pub mod delivery;
pub mod https;
pub mod outbound;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use warren_broker::Broker;

pub use config::Config;

/// State every connection shares.
pub struct Shared {
    pub broker: Arc<Broker>,
    pub config: Config,
    pub next_connection_id: AtomicU64,
    pub alarms: Arc<alarms::Alarms>,
    pub auth: Arc<dyn auth::AuthBackend>,
    /// Connections whose clients stream (see `connection::Streaming`).
    pub streaming: connection::Streaming,
}

impl Shared {
    /// Checks a login: the backend's answer, and RabbitMQ's loopback_users rule.
    pub fn authenticate(&self, user: &str, proof: auth::Proof<'_>, peer: std::net::IpAddr) -> bool {
        warren_http::auth::login_allowed(&self.config.loopback_users, user, peer)
            && self.auth.login(user, proof)
    }
}

/// A running broker.
pub struct Server {
    addr: Option<SocketAddr>,
    amqps: Option<SocketAddr>,
    management: Option<SocketAddr>,
    management_tls: Option<SocketAddr>,
    prometheus: Option<SocketAddr>,
    prometheus_tls: Option<SocketAddr>,
    /// The AMQPS and HTTPS certificates, re-read by [`Server::reload_tls`].
    tls: TlsSet,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    /// The management and Prometheus servers (they hold the broker).
    http: Vec<JoinHandle<()>>,
    pub broker: Arc<Broker>,
    /// Memory and disk alarms (raised by the monitor, or by hand).
    pub alarms: Arc<alarms::Alarms>,
}

impl Server {
    /// The plain AMQP listener's address (the AMQPS one's when plain AMQP
    /// is off).
    pub fn addr(&self) -> SocketAddr {
        self.addr.or(self.amqps).expect("an AMQP listener")
    }

    /// Where AMQPS listens, if it is on.
    pub fn amqps_addr(&self) -> Option<SocketAddr> {
        self.amqps
    }

    /// Where the management API listens over HTTPS, if it does.
    pub fn management_tls_addr(&self) -> Option<SocketAddr> {
        self.management_tls
    }

    /// Where Prometheus metrics are served over HTTPS, if they are.
    pub fn prometheus_tls_addr(&self) -> Option<SocketAddr> {
        self.prometheus_tls
    }

    /// Re-reads every certificate and key (SIGHUP does this). New sessions
    /// use them; open ones keep what they negotiated. On an error nothing
    /// changes.
    pub fn reload_tls(&self) -> Result<(), String> {
        self.tls.reload()
    }

    /// Where the Prometheus endpoint listens, if it is on.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.prometheus
    }

    /// Where the management API listens, if it is on.
    pub fn management_addr(&self) -> Option<SocketAddr> {
        self.management
    }

    /// `amqp://guest:guest@127.0.0.1:PORT/%2f` for the default user.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.addr().port())
    }

    /// Closes every connection with 320 CONNECTION_FORCED, waits for them,
    /// then writes out and syncs what the store holds.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
        let _ = self.sweeper.await;
        for task in self.http {
            // Graceful: in-flight requests finish; bounded in case a client
            // keeps a connection open.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        let broker = self.broker.clone();
        let _ = tokio::task::spawn_blocking(move || broker.close()).await;
    }
}

/// Binds the listener and starts accepting connections.
pub async fn start(config: Config) -> std::io::Result<Server> {
    start_on(config, Arc::new(warren_store::FileDisk)).await
}

/// [`start`], with the message log writing through `disk` (fault-injection
/// tests use [`warren_store::FailingDisk`]).
pub async fn start_on(config: Config, disk: Arc<dyn warren_store::Disk>) -> std::io::Result<Server> {
    let dir = config.data_dir.clone();
    let (segment_size, window) = (config.segment_size, config.queue_window);
    let broker = tokio::task::spawn_blocking(move || Broker::open_on(disk, &dir, segment_size, window))
        .await
        .map_err(std::io::Error::other)?
        .map_err(|e| {
            std::io::Error::other(format!(
                "cannot open data directory {}: {e}",
                config.data_dir.display()
            ))
        })?;
    let broker = Arc::new(broker);
    match allocator::built_options() {
        Some(o) if o.trim_end_matches('\0').ends_with(allocator::OPTIONS) => {}
        o => tracing::warn!(
            "jemalloc was built with options {o:?}, not Warren's ({}): freed memory goes back to the system more slowly",
            allocator::OPTIONS
        ),
    }
    let tls = TlsSet::load(&config)?;
    let alarms = Arc::new(alarms::Alarms::default());
    if let Some(store) = &broker.store {
        // A store that cannot write or sync raises the disk alarm at once:
        // publishers stop until the disk takes writes again.
        let alarms = alarms.clone();
        store.log.on_fault(Box::new(move |on| alarms.set_store_fault(on)));
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(alarms::monitor(
        alarms.clone(),
        config.memory_high_watermark.bytes(alarms::total_memory()),
        config.disk_free_limit,
        config.data_dir.clone(),
        shutdown.clone(),
    ));
    if config.definitions_file.is_some() {
        // As RabbitMQ: definitions imported at boot replace the default
        // user; guest/guest is not created next to them.
        broker.access.mark_seeded();
    }
    broker.access.seed(&config.default_user, &config.default_pass);
    if let Some(path) = &config.definitions_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            std::io::Error::other(format!("cannot read definitions file {}: {e}", path.display()))
        })?;
        warren_http::definitions::import_text(&broker, None, &text)
            .map_err(|e| std::io::Error::other(format!("cannot import {}: {e}", path.display())))?;
        tracing::info!("imported definitions from {}", path.display());
    }
    let bind_optional = |port: Option<u16>| {
        let bind = config.bind.clone();
        async move {
            match port {
                None => Ok::<_, std::io::Error>(None),
                Some(p) => Ok(Some(TcpListener::bind((bind.as_str(), p)).await?)),
            }
        }
    };
    let address = |l: &Option<TcpListener>| l.as_ref().map(|l| l.local_addr()).transpose();
    let plain_listener = bind_optional(config.port).await?;
    let amqps_listener = bind_optional(config.amqps_port).await?;
    let management_listener = bind_optional(config.management_port).await?;
    let management_tls_listener = bind_optional(config.management_tls_port).await?;
    let prometheus_listener = bind_optional(config.prometheus_port).await?;
    let prometheus_tls_listener = bind_optional(config.prometheus_tls_port).await?;
    let addr = address(&plain_listener)?;
    let amqps = address(&amqps_listener)?;
    let management = address(&management_listener)?;
    let management_tls = address(&management_tls_listener)?;
    let prometheus = address(&prometheus_listener)?;
    let prometheus_tls = address(&prometheus_tls_listener)?;
    if addr.is_none() && amqps.is_none() {
        return Err(std::io::Error::other(
            "no AMQP listener: plain AMQP is off and no TLS certificate is configured",
        ));
    }
    // RabbitMQ's protocol names, as /api/overview lists them.
    let listeners: Vec<(&'static str, u16)> = [
        ("amqp", addr),
        ("amqp/ssl", amqps),
        ("http", management),
        ("https", management_tls),
        ("http/prometheus", prometheus),
        ("https/prometheus", prometheus_tls),
    ]
    .into_iter()
    .filter_map(|(name, a)| Some((name, a?.port())))
    .collect();
    let api = warren_http::ApiState {
        broker: broker.clone(),
        loopback_users: Arc::new(config.loopback_users.clone()),
        product_version: env!("CARGO_PKG_VERSION"),
        data_dir: config.data_dir.clone(),
        alarms: alarms.clone(),
        listeners: Arc::new(listeners),
        started: std::time::Instant::now(),
        mem_limit: config.memory_high_watermark.bytes(alarms::total_memory()),
        disk_free_limit: config.disk_free_limit,
        cluster_id: broker.cluster_id().into(),
        reload_tls: {
            let tls = tls.clone();
            Arc::new(move || tls.reload())
        },
        allocator: allocator::stats,
    };
    let mut http = Vec::new();
    if let Some(l) = management_listener {
        http.push(tokio::spawn(warren_http::serve(l, api.clone(), shutdown.clone())));
    }
    if let Some(l) = prometheus_listener {
        http.push(tokio::spawn(warren_http::metrics::serve(
            l,
            api.clone(),
            shutdown.clone(),
        )));
    }
    let https = |l: TcpListener| {
        let tls = tls.http.clone().expect("an HTTPS port comes with a certificate");
        https::TlsListener::new(l, tls, broker.clone(), shutdown.clone())
    };
    if let Some(l) = management_tls_listener {
        http.push(tokio::spawn(warren_http::serve(
            https(l)?,
            api.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(l) = prometheus_tls_listener {
        http.push(tokio::spawn(warren_http::metrics::serve(
            https(l)?,
            api,
            shutdown.clone(),
        )));
    }
    for (what, a) in [
        ("management API on http", management),
        ("management API on https", management_tls),
        ("Prometheus metrics on http", prometheus),
        ("Prometheus metrics on https", prometheus_tls),
    ] {
        if let Some(a) = a {
            tracing::info!("{what}://{a}");
        }
    }
    let shared = Arc::new(Shared {
        broker: broker.clone(),
        config,
        next_connection_id: AtomicU64::new(1),
        alarms: alarms.clone(),
        auth: Arc::new(auth::Internal(broker.clone())),
        streaming: Default::default(),
    });
    let sweeper = tokio::spawn(sweeper(broker.clone(), shutdown.clone()));
    // One limit over both listeners: max_connections counts every client.
    let limit = Arc::new(Semaphore::new(shared.config.max_connections));
    let tracker = TaskTracker::new();
    let mut loops = Vec::new();
    if let Some(l) = plain_listener {
        tracing::info!("listening for AMQP on {}", addr.unwrap_or(l.local_addr()?));
        loops.push(tokio::spawn(accept_loop(
            l,
            None,
            shared.clone(),
            limit.clone(),
            tracker.clone(),
            shutdown.clone(),
        )));
    }
    if let Some(l) = amqps_listener {
        tracing::info!("listening for AMQPS on {}", l.local_addr()?);
        loops.push(tokio::spawn(accept_loop(
            l,
            tls.amqp.clone(),
            shared.clone(),
            limit.clone(),
            tracker.clone(),
            shutdown.clone(),
        )));
    }
    let task = tokio::spawn(async move {
        for l in loops {
            let _ = l.await;
        }
        tracker.close();
        tracker.wait().await;
    });
    Ok(Server {
        addr,
        amqps,
        management,
        management_tls,
        prometheus,
        prometheus_tls,
        tls,
        shutdown,
        task,
        sweeper,
        http,
        broker,
        alarms,
    })
}

/// How often time-driven work runs: message TTL at queue heads, queue
/// `x-expires`, delayed messages. One pass over the queues, no timer per message.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Consumer timeouts are checked every this many sweeps (twice a second):
/// a look at the oldest unacknowledged delivery of each channel, nothing
/// on the delivery or ack path but a deadline stored per delivery.
const CONSUMER_TIMEOUT_SWEEPS: u32 = 10;

async fn sweeper(broker: Arc<Broker>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweeps = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => broker.sweep(),
            _ = shutdown.cancelled() => return,
        }
        sweeps += 1;
        if sweeps.is_multiple_of(CONSUMER_TIMEOUT_SWEEPS) {
            let now = broker.clock.now_ms();
            for c in broker.connections.list() {
                let views: Vec<_> = c.channel_views.lock().values().cloned().collect();
                for v in views {
                    v.check_consumer_timeout(now);
                }
            }
        }
    }
}

/// Accepts AMQP clients (over TLS with `tls`) until shutdown; their
/// tasks join `tracker`, which the server waits on.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<tls::Tls>>,
    shared: Arc<Shared>,
    limit: Arc<Semaphore>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    while let Some((permit, stream, _)) = accept(&listener, &limit, &shutdown).await {
        let (shared, shutdown, tls) = (shared.clone(), shutdown.clone(), tls.clone());
        tracker.spawn(async move {
            connection::serve(stream, tls, shared, shutdown).await;
            drop(permit);
        });
    }
}

/// The next client, once `limit` has room for it; `None` at shutdown. An
/// accept error (out of file descriptors) is logged and retried after a
/// pause instead of spinning.
pub(crate) async fn accept(
    listener: &TcpListener,
    limit: &Arc<Semaphore>,
    shutdown: &CancellationToken,
) -> Option<(
    tokio::sync::OwnedSemaphorePermit,
    tokio::net::TcpStream,
    SocketAddr,
)> {
    let permit = tokio::select! {
        p = limit.clone().acquire_owned() => p.ok()?,
        _ = shutdown.cancelled() => return None,
    };
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => return Some((permit, stream, peer)),
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.cancelled() => return None,
        }
    }
}

/// The certificates in use: the AMQPS listener's and the HTTPS listeners'.
#[derive(Clone, Default)]
struct TlsSet {
    amqp: Option<Arc<tls::Tls>>,
    http: Option<Arc<tls::Tls>>,
}

impl TlsSet {
    fn load(config: &Config) -> std::io::Result<TlsSet> {
        let load = |s: &Option<tls::TlsSettings>| {
            s.clone()
                .map(tls::Tls::load)
                .transpose()
                .map_err(|e| std::io::Error::other(format!("TLS: {e:#}")))
        };
        Ok(TlsSet {
            amqp: load(&config.tls)?,
            http: load(&config.management_tls)?,
        })
    }

    /// Both re-read, or neither changed.
    fn reload(&self) -> Result<(), String> {
        for t in self.amqp.iter().chain(self.http.iter()) {
            tls::Tls::check(t.settings()).map_err(|e| format!("{e:#}"))?;
        }
        for t in self.amqp.iter().chain(self.http.iter()) {
            t.reload().map_err(|e| format!("{e:#}"))?;
        }
        tracing::info!("TLS certificates re-read");
        Ok(())
    }
}
