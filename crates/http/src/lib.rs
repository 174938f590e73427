//! Warren's management HTTP API: RabbitMQ's `/api/...` paths and JSON field
//! names, so dashboards and tools written for RabbitMQ keep working.
//!
//! * [`auth`]: HTTP basic authentication against the broker's users.
//! * [`json`]: AMQP values and broker objects as RabbitMQ's JSON.
//! * [`routes`]: one handler per path and verb.
//! * [`metrics`]: Prometheus metrics with rabbitmq_prometheus's names.
//! * [`error`]: RabbitMQ's error bodies (`{"error":"Object Not Found","reason":"Not Found"}`).

pub mod auth;
pub mod error;
pub mod json;
pub mod metrics;
pub mod routes;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warren_broker::Broker;

/// Checks a user name and password; returns the user's tags if they match.
pub type Authenticate = dyn Fn(&str, &str) -> Option<Vec<String>> + Send + Sync;

/// What the handlers read.
#[derive(Clone)]
pub struct ApiState {
    pub broker: Arc<Broker>,
    pub authenticate: Arc<Authenticate>,
    pub product_version: &'static str,
    /// The data directory (free disk space is reported for it).
    pub data_dir: std::path::PathBuf,
}

/// Serves the management API on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, state: ApiState, shutdown: CancellationToken) {
    let app = routes::router(state);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        tracing::error!("management API stopped: {e}");
    }
}
