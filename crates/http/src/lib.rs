//! Warren's management HTTP API: RabbitMQ's `/api/...` paths and JSON field
//! names, so dashboards and tools written for RabbitMQ keep working.
//!
//! * [`auth`]: HTTP basic authentication against the broker's users.
//! * [`json`]: AMQP values and broker objects as RabbitMQ's JSON.
//! * [`routes`]: one handler per path and verb.
//! * [`metrics`]: Prometheus metrics with rabbitmq_prometheus's names.
//! * [`error`]: RabbitMQ's error bodies (`{"error":"Object Not Found","reason":"Not Found"}`).

pub mod auth;
pub mod body;
pub mod definitions;
pub mod error;
pub mod json;
pub mod listing;
pub mod metrics;
mod pick;
pub mod routes;
pub mod ui;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use warren_broker::Broker;

/// What the handlers read.
#[derive(Clone)]
pub struct ApiState {
    pub broker: Arc<Broker>,
    /// Users who may log in only from loopback addresses.
    pub loopback_users: Arc<Vec<String>>,
    pub product_version: &'static str,
    /// The data directory (free disk space is reported for it).
    pub data_dir: std::path::PathBuf,
    pub alarms: Arc<warren_broker::alarms::Alarms>,
    /// (protocol, port) of every listener, for overview and health checks.
    pub listeners: Arc<Vec<(&'static str, u16)>>,
    pub started: std::time::Instant,
    /// The memory high watermark and the free disk limit, in bytes.
    pub mem_limit: u64,
    pub disk_free_limit: u64,
    /// The node's permanent identity (for rabbitmq_identity_info).
    pub cluster_id: Arc<str>,
    /// Re-reads the TLS certificates (`POST /api/tls/reload`); the error
    /// says which file is wrong.
    pub reload_tls: Arc<dyn Fn() -> Result<(), String> + Send + Sync>,
    /// The allocator's statistics, for the node's memory breakdown.
    pub allocator: warren_broker::memory::AllocatorProbe,
}

/// Serves the management API on `listener` until `shutdown`, on a plain TCP listener or an HTTPS one (any axum listener with
/// socket addresses).
pub async fn serve<L>(listener: L, state: ApiState, shutdown: CancellationToken)
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    // tap_io: axum gives ConnectInfo<SocketAddr> for a tapped listener of
    // any kind, and the loopback rule needs the peer's address.
    let listener = axum::serve::ListenerExt::tap_io(listener, |_| ());
    let app = routes::router(state);
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        tracing::error!("management API stopped: {e}");
    }
}
