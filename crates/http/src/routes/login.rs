//! Authentication as the management API reports it: `/api/auth` (the UI's
//! login settings, asked before logging in), `/api/auth/attempts/{node}`
//! (login counters by protocol) and `/api/auth/hash_password/{password}`.

use std::sync::atomic::Ordering::Relaxed;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use warren_broker::stats::{GlobalStats, Protocol};

use super::overview::NODE;
use super::Result;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ApiState;

/// `GET /api/auth`, without credentials: RabbitMQ 3.13's answer when
/// OAuth 2 is not configured (Warren has basic authentication only).
pub async fn settings() -> Json<Value> {
    Json(json!({"oauth_enabled": false}))
}

/// Auth attempts are kept for this node only; any other name is 404.
fn this_node(caller: &Caller, node: &str) -> Result<()> {
    caller.require_monitor()?;
    if node == NODE {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Login counters by protocol, for the protocols that had attempts.
pub async fn attempts(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(node): Path<String>,
) -> Result<Json<Value>> {
    this_node(&caller, &node)?;
    let logins = &s.broker.stats.logins;
    let items = [(Protocol::Http, "http"), (Protocol::Amqp, "amqp091")]
        .into_iter()
        .filter_map(|(protocol, name)| {
            let failed = logins[GlobalStats::login_index(protocol, false)].load(Relaxed);
            let succeeded = logins[GlobalStats::login_index(protocol, true)].load(Relaxed);
            (failed + succeeded > 0).then(|| {
                json!({
                    "protocol": name, "auth_attempts": failed + succeeded,
                    "auth_attempts_failed": failed, "auth_attempts_succeeded": succeeded,
                })
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

/// Attempts by remote address and user: RabbitMQ keeps them only with
/// `track_auth_attempt_source`, off by default, and so answers `[]`;
/// Warren does not track them.
pub async fn attempts_by_source(
    Extension(caller): Extension<Caller>,
    Path(node): Path<String>,
) -> Result<Json<Value>> {
    this_node(&caller, &node)?;
    Ok(Json(json!([])))
}

/// Resets the counters (both paths reset everything, as in RabbitMQ; the
/// Prometheus `rabbitmq_auth_attempts_*` counters start again from zero).
pub async fn reset_attempts(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(node): Path<String>,
) -> Result<StatusCode> {
    this_node(&caller, &node)?;
    for c in &s.broker.stats.logins {
        c.store(0, Relaxed);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/auth/hash_password/{password}` (3.13, administrators): the
/// hash a `password_hash` field takes.
pub async fn hash_password(
    Extension(caller): Extension<Caller>,
    Path(password): Path<String>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    Ok(Json(
        json!({"ok": warren_broker::access::hash_password(&password)}),
    ))
}
