//! Cluster operations as a single node answers them: rebalancing queue
//! leaders, (re)starting a vhost on a node, and resetting statistics.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;

use super::overview::NODE;
use super::Result;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ApiState;

/// `POST /api/rebalance/queues`: RabbitMQ starts moving queue leaders in
/// the background and answers 204 at once; on one node there is nothing
/// to move.
pub async fn rebalance(Extension(caller): Extension<Caller>) -> Result<StatusCode> {
    caller.require_admin()?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/vhosts/{vhost}/start/{node}`: a vhost runs as long as it
/// exists, so starting one is 204; another node is RabbitMQ's 400.
pub async fn start_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, node)): Path<(String, String)>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    super::find_vhost(&s, &vhost)?;
    if node != NODE {
        return Err(ApiError::BadRequest(format!(
            "Request to node {node} failed with unknown node"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/tls/reload` (a Warren extension; SIGHUP does the same):
/// re-reads every TLS certificate and key. New sessions use them, open
/// ones keep theirs. 204, or 400 naming the file that could not be used
/// (the certificates in use stay).
pub async fn reload_tls(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    (s.reload_tls)().map_err(ApiError::BadRequest)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/reset[/{node}]` empties RabbitMQ's statistics database.
/// Warren has none: every answer is computed from the live objects, and
/// its counters are the Prometheus counters, which never go back. So
/// there is nothing to reset; the call succeeds as on RabbitMQ.
pub async fn reset_stats(Extension(caller): Extension<Caller>) -> Result<StatusCode> {
    caller.require_admin()?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn reset_node_stats(
    Extension(caller): Extension<Caller>,
    Path(node): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if node != NODE {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
