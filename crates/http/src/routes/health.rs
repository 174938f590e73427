//! Health checks: 200 `{"status":"ok"}` when healthy, 503 with
//! `{"status":"failed","reason":...}` when not, as RabbitMQ answers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::overview::NODE;
use super::{visible_vhost, Result};
use crate::auth::Caller;
use crate::ApiState;
use warren_broker::access::Perm;

fn failed(body: Value) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// Checks that cannot fail on a single node.
pub async fn ok() -> Json<Value> {
    Json(json!({"status": "ok", "reason": "single node cluster"}))
}

/// RabbitMQ's aliveness test: declares the queue `aliveness-test` in the
/// vhost, publishes a message to it through the default exchange and gets
/// it back.
pub async fn aliveness(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
) -> Result<Response> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    // Run as the caller, as RabbitMQ does.
    caller.check(&s.broker, &vhost, Perm::Configure, "queue", "aliveness-test")?;
    caller.check(&s.broker, &vhost, Perm::Write, "exchange", "")?;
    caller.check(&s.broker, &vhost, Perm::Read, "queue", "aliveness-test")?;
    let q = v
        .declare_queue("aliveness-test", false, Default::default(), 0)?
        .queue;
    let body = bytes::Bytes::from_static(b"test_message");
    let msg = warren_broker::persist::message_from_parts(
        bytes::Bytes::new(),
        bytes::Bytes::from_static(b"aliveness-test"),
        bytes::Bytes::from_static(&[0, 0]),
        body.clone(),
    );
    let exchange = v.find_exchange("")?;
    v.publish(&exchange, std::sync::Arc::new(msg), &mut Default::default());
    // Messages left by an earlier, interrupted test come first.
    let mut found = false;
    while let Ok(Some((e, _))) = q.get(false) {
        if e.msg.body == body {
            found = true;
            break;
        }
    }
    if found {
        Ok(Json(json!({"status": "ok"})).into_response())
    } else {
        Ok(failed(
            json!({"status": "failed", "reason": "the test message did not come back"}),
        ))
    }
}

/// Checks that pass whenever the broker answers.
pub async fn healthy() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Raised memory or disk alarms (Warren is a single node: local and
/// cluster-wide alarms are the same).
pub async fn alarms(State(s): State<ApiState>) -> Response {
    let raised = s.alarms.raised();
    if raised.is_empty() {
        return Json(json!({"status": "ok"})).into_response();
    }
    failed(json!({
        "status": "failed",
        "reason": "There are alarms in effect in the cluster",
        "alarms": raised.iter().map(|r| json!({"node": NODE, "resource": r})).collect::<Vec<_>>(),
    }))
}

/// RabbitMQ's names for AMQP 0-9-1 (`amqp091`, `amqp0-9-1`, ...) all
/// mean the `amqp` listener.
fn protocol_name(asked: &str) -> &str {
    let plain: String = asked
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    if plain == "amqp091" {
        "amqp"
    } else {
        asked
    }
}

pub async fn protocol_listener(State(s): State<ApiState>, Path(protocol): Path<String>) -> Response {
    let protocols: Vec<&str> = s.listeners.iter().map(|(p, _)| *p).collect();
    if protocols.contains(&protocol_name(&protocol)) {
        return Json(json!({"status": "ok", "protocol": protocol_name(&protocol)})).into_response();
    }
    failed(json!({
        "status": "failed",
        "reason": "No active listener",
        "missing": protocol,
        "protocols": protocols,
    }))
}

pub async fn port_listener(State(s): State<ApiState>, Path(port): Path<String>) -> Response {
    let Ok(port) = port.parse::<u16>() else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad_request", "reason": "Invalid port"})),
        )
            .into_response();
    };
    let ports: Vec<u16> = s.listeners.iter().map(|(_, p)| *p).collect();
    if ports.contains(&port) {
        return Json(json!({"status": "ok", "port": port})).into_response();
    }
    failed(json!({
        "status": "failed",
        "reason": "No active listener",
        "missing": port,
        "ports": ports,
    }))
}

/// Warren serves no TLS listener, so no certificate can expire; the
/// arguments are still checked as RabbitMQ checks them.
pub async fn certificate_expiration(Path((within, unit)): Path<(String, String)>) -> Response {
    let bad = |reason: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad_request", "reason": reason})),
        )
            .into_response()
    };
    if !matches!(unit.as_str(), "days" | "weeks" | "months" | "years") {
        return bad("Time unit not recognised. Supported units: days, weeks, months, years.");
    }
    if within.parse::<i64>().is_err() {
        return bad("Invalid expiration value.");
    }
    Json(json!({"status": "ok"})).into_response()
}

/// The pre-3.8 node health check (`/api/healthchecks/node[/{node}]`),
/// still used by container probes: this node answers, so it is healthy.
pub async fn node(node: Option<Path<String>>) -> Result<Json<Value>> {
    match node {
        Some(Path(name)) if name != NODE => Err(crate::error::ApiError::NotFound),
        _ => Ok(Json(json!({"status": "ok"}))),
    }
}
