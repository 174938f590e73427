//! Warren's AMQP server: the listener, connections and channels, wired to
//! the broker model. [`start`] runs a broker inside the caller's runtime
//! (tests use port 0); the `warren` binary wraps it with configuration,
//! logging and signal handling.

pub mod alarms;
pub mod channel;
pub mod config;
pub mod connection;
pub mod delivery;
pub mod outbound;

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
}

impl Shared {
    /// Checks a login: the password, and RabbitMQ's loopback_users rule.
    pub fn authenticate(&self, user: &str, pass: &str, peer: std::net::IpAddr) -> bool {
        warren_http::auth::login_allowed(&self.config.loopback_users, user, peer)
            && self.broker.access.authenticate(user, pass).is_some()
    }
}

/// A running broker.
pub struct Server {
    addr: SocketAddr,
    management: Option<SocketAddr>,
    prometheus: Option<SocketAddr>,
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
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.addr.port())
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
    let listener = TcpListener::bind((config.bind.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
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
    let management_listener = bind_optional(config.management_port).await?;
    let prometheus_listener = bind_optional(config.prometheus_port).await?;
    let management = management_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let prometheus = prometheus_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let mut listeners = vec![("amqp", addr.port())];
    listeners.extend(management.map(|a| ("http", a.port())));
    listeners.extend(prometheus.map(|a| ("http/prometheus", a.port())));
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
    };
    let mut http = Vec::new();
    if let Some(l) = management_listener {
        http.push(tokio::spawn(warren_http::serve(l, api.clone(), shutdown.clone())));
        tracing::info!("management API on http://{}", management.unwrap_or(addr));
    }
    if let Some(l) = prometheus_listener {
        http.push(tokio::spawn(warren_http::metrics::serve(
            l,
            api,
            shutdown.clone(),
        )));
        tracing::info!(
            "Prometheus metrics on http://{}/metrics",
            prometheus.unwrap_or(addr)
        );
    }
    let shared = Arc::new(Shared {
        broker: broker.clone(),
        config,
        next_connection_id: AtomicU64::new(1),
        alarms: alarms.clone(),
    });
    let sweeper = tokio::spawn(sweeper(broker.clone(), shutdown.clone()));
    let task = tokio::spawn(accept_loop(listener, shared, shutdown.clone()));
    tracing::info!("listening for AMQP on {addr}");
    Ok(Server {
        addr,
        management,
        prometheus,
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

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let limit = Arc::new(Semaphore::new(shared.config.max_connections));
    let tracker = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            connection::serve(stream, shared, shutdown).await;
            drop(permit);
        });
    }
    tracker.close();
    tracker.wait().await;
}
