//! Connections, channels and consumers. Users who see only their own vhosts
//! (`management`) see only their own connections, as in RabbitMQ.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use warren_broker::connections::{ConnectionInfo, CHANNEL_STATS};
use warren_broker::Queue;

use super::overview::NODE;
use super::{vhosts_of, Result};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::json;
use crate::listing::ListParams;
use crate::ApiState;

fn visible_connections(s: &ApiState, caller: &Caller) -> Vec<Arc<ConnectionInfo>> {
    s.broker
        .connections
        .list()
        .into_iter()
        .filter(|c| caller.is_monitor() || *c.user.lock() == caller.name())
        .collect()
}

fn find(s: &ApiState, caller: &Caller, name: &str) -> Result<Arc<ConnectionInfo>> {
    visible_connections(s, caller)
        .into_iter()
        .find(|c| c.name == name)
        .ok_or(ApiError::NotFound)
}

pub async fn list(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    let connections = visible_connections(&s, &caller);
    if p.is_plain() {
        return Ok(Json(Value::Array(
            connections.iter().map(|c| json::connection(c)).collect(),
        )));
    }
    // Only the page shown becomes whole JSON; sorting (and `columns`) by
    // name, user or vhost reads just that field, which keeps the UI's list
    // of 5,000 connections a fraction of the cost of all their JSON.
    p.apply_to(
        connections,
        |c| Some(c.name.to_string()),
        |c, fields| match fields {
            Some(["name"]) => json!({"name": c.name}),
            Some(["user"]) => json!({"user": *c.user.lock()}),
            Some(["vhost"]) => json!({"vhost": *c.vhost.lock()}),
            _ => json::connection(c),
        },
    )
}

pub async fn of_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    vhosts_of(&s, &caller, Some(&vhost))?;
    p.apply(
        visible_connections(&s, &caller)
            .iter()
            .filter(|c| *c.vhost.lock() == vhost)
            .map(|c| json::connection(c))
            .collect(),
    )
}

pub async fn one(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(json::connection(&*find(&s, &caller, &name)?)))
}

/// The `X-Reason` header's text, or RabbitMQ's default close reason.
fn close_reason(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Closed via management plugin")
}

/// Closes a connection with 320 CONNECTION_FORCED and the `X-Reason`
/// header's text, as RabbitMQ's management plugin does.
pub async fn close(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode> {
    let c = find(&s, &caller, &name)?;
    if !caller.is_admin() && *c.user.lock() != caller.name() {
        return Err(ApiError::NotAuthorised("Not administrator user"));
    }
    c.request_close(close_reason(&headers));
    Ok(StatusCode::NO_CONTENT)
}

/// `/api/connections/username/{user}` is for monitors (GET) or
/// administrators (DELETE), and for the user themself (RabbitMQ 3.13's
/// `is_authorized_user`; 3.10 answered 500 to the others).
fn require_user_or(caller: &Caller, user: &str, allowed: bool) -> Result<()> {
    if allowed || caller.name() == user {
        Ok(())
    } else {
        Err(ApiError::NotAuthorised("User not authorised to access object"))
    }
}

fn connections_of(s: &ApiState, user: &str) -> Vec<Arc<ConnectionInfo>> {
    s.broker
        .connections
        .list()
        .into_iter()
        .filter(|c| *c.user.lock() == user)
        .collect()
}

/// A user's connections as RabbitMQ tracks them: name, vhost, user, node.
pub async fn of_user(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    require_user_or(&caller, &user, caller.is_monitor())?;
    p.apply(
        connections_of(&s, &user)
            .iter()
            .map(|c| json!({"name": c.name, "vhost": *c.vhost.lock(), "user": user, "node": NODE}))
            .collect(),
    )
}

/// Closes every connection of a user (320 with the `X-Reason` text); 204
/// even when there is none, as RabbitMQ answers.
pub async fn close_of_user(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode> {
    require_user_or(&caller, &user, caller.is_admin())?;
    for c in connections_of(&s, &user) {
        c.request_close(close_reason(&headers));
    }
    Ok(StatusCode::NO_CONTENT)
}

fn channels_json(c: &ConnectionInfo) -> Vec<Value> {
    let (user, vhost) = (c.user.lock().clone(), c.vhost.lock().clone());
    let views: Vec<_> = c.channel_views.lock().values().cloned().collect();
    views
        .iter()
        .map(|v| {
            let i = v.info();
            json!({
                "name": format!("{} ({})", c.name, i.number),
                "number": i.number,
                "node": NODE,
                "user": user,
                "vhost": vhost,
                "state": "running",
                "consumer_count": i.consumers,
                "prefetch_count": i.prefetch,
                "global_prefetch_count": i.global_prefetch,
                "messages_unacknowledged": i.unacked,
                "messages_unconfirmed": 0,
                "messages_uncommitted": 0,
                "acks_uncommitted": 0,
                "confirm": i.confirm,
                "transactional": i.transactional,
                "message_stats": json::message_stats(&CHANNEL_STATS, &i.counts, &i.rates),
                "connection_details": {"name": c.name, "peer_host": c.peer.ip().to_string(), "peer_port": c.peer.port()},
            })
        })
        .collect()
}

fn all_channels(s: &ApiState, caller: &Caller) -> Vec<Value> {
    visible_connections(s, caller)
        .iter()
        .flat_map(|c| channels_json(c))
        .collect()
}

pub async fn channels(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    p.apply(all_channels(&s, &caller))
}

pub async fn channels_in(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    vhosts_of(&s, &caller, Some(&vhost))?;
    let mut items = all_channels(&s, &caller);
    items.retain(|c| c["vhost"] == vhost.as_str());
    p.apply(items)
}

pub async fn channels_of(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    p.apply(channels_json(&*find(&s, &caller, &name)?))
}

pub async fn channel(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    all_channels(&s, &caller)
        .into_iter()
        .find(|c| c["name"] == name.as_str())
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// A queue's consumers as RabbitMQ shows them.
pub(super) fn consumers_of(s: &ApiState, q: &Queue) -> Vec<Value> {
    q.consumers()
        .iter()
        .filter_map(|c| {
            let conn = s.broker.connections.by_id(c.connection)?;
            let (number, ack_required, prefetch) = c.sink.describe();
            Some(json!({
                "consumer_tag": &*c.tag,
                "exclusive": c.exclusive,
                "ack_required": ack_required,
                "prefetch_count": prefetch,
                "active": true,
                "activity_status": "up",
                "arguments": if c.priority != 0 { json!({"x-priority": c.priority}) } else { json!({}) },
                "queue": {"name": &*q.name, "vhost": &*q.vhost},
                "channel_details": {
                    "name": format!("{} ({number})", conn.name),
                    "number": number,
                    "connection_name": conn.name,
                    "node": NODE,
                    "peer_host": conn.peer.ip().to_string(),
                    "peer_port": conn.peer.port(),
                    "user": &*conn.user.lock(),
                },
            }))
        })
        .collect()
}

fn consumers_json(s: &ApiState, caller: &Caller, vhost: Option<&str>) -> Result<Vec<Value>> {
    Ok(vhosts_of(s, caller, vhost)?
        .iter()
        .filter(|v| caller.sees(&s.broker, &v.name))
        .flat_map(|v| v.queues())
        .flat_map(|q| consumers_of(s, &q))
        // As RabbitMQ: a user without monitoring sees only the consumers on
        // their own channels, as with connections and channels.
        .filter(|c| caller.is_monitor() || c["channel_details"]["user"] == caller.name())
        .collect())
}

pub async fn consumers(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    p.apply(consumers_json(&s, &caller, None)?)
}

pub async fn consumers_in(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    p.apply(consumers_json(&s, &caller, Some(&vhost))?)
}
