//! `/api/bindings` and the bindings of one exchange or queue.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use warren_broker::exchange::{Binding, Dest};
use warren_broker::VHost;

use super::{find_exchange, find_queue, listing, visible_vhost, Result};
use crate::auth::Caller;
use crate::body::{Body, Required};
use crate::error::ApiError;
use crate::json;
use crate::listing::ListParams;
use crate::ApiState;

/// Every binding of a vhost, the default exchange's implicit ones first,
/// as RabbitMQ lists them.
fn bindings_of(v: &VHost) -> Vec<Value> {
    let mut queues = v.queues();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out: Vec<Value> = queues
        .iter()
        .map(|q| {
            json!({
                "source": "", "vhost": &*v.name, "destination": &*q.name, "destination_type": "queue",
                "routing_key": &*q.name, "arguments": {}, "properties_key": &*q.name,
            })
        })
        .collect();
    let mut explicit: Vec<Value> = v
        .bindings()
        .iter()
        .map(|(source, b)| json::binding(&v.name, source, b))
        .collect();
    explicit.sort_by(|a, b| {
        let key = |x: &Value| {
            (
                x["source"].as_str().unwrap_or("").to_string(),
                x["destination"].as_str().unwrap_or("").to_string(),
                x["properties_key"].as_str().unwrap_or("").to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    out.extend(explicit);
    out
}

pub async fn all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    listing(&s, &caller, None, &p, bindings_of)
}

pub async fn in_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    listing(&s, &caller, Some(&vhost), &p, bindings_of)
}

/// Bindings of a vhost matching `keep`, for the per-object listings.
fn filtered(s: &ApiState, caller: &Caller, vhost: &str, keep: impl Fn(&Value) -> bool) -> Result<Vec<Value>> {
    let v = visible_vhost(s, caller, vhost)?;
    Ok(bindings_of(&v).into_iter().filter(|b| keep(b)).collect())
}

pub async fn of_queue(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<Json<Value>> {
    find_queue(&*visible_vhost(&s, &caller, &vhost)?, &name)?;
    let items = filtered(&s, &caller, &vhost, |b| {
        b["destination_type"] == "queue" && b["destination"] == name.as_str()
    })?;
    Ok(Json(Value::Array(items)))
}

pub async fn from_exchange(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let x = find_exchange(&*visible_vhost(&s, &caller, &vhost)?, &name)?;
    // The default exchange's are the implicit binding of every queue.
    let items = filtered(&s, &caller, &vhost, |b| b["source"] == *x.name)?;
    Ok(Json(Value::Array(items)))
}

pub async fn to_exchange(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<Json<Value>> {
    find_exchange(&*visible_vhost(&s, &caller, &vhost)?, &name)?;
    let items = filtered(&s, &caller, &vhost, |b| {
        b["destination_type"] == "exchange" && b["destination"] == name.as_str()
    })?;
    Ok(Json(Value::Array(items)))
}

/// `q` or `e` in binding paths.
fn dest_kind(kind: &str) -> Result<&'static str> {
    match kind {
        "q" => Ok("queue"),
        "e" => Ok("exchange"),
        _ => Err(ApiError::NotFound),
    }
}

/// Whether a binding leads to the `kind` ("queue" or "exchange") named `dest`.
fn leads_to(b: &Binding, kind: &str, dest: &str) -> bool {
    let kind_matches = match b.dest {
        Dest::Queue(_) => kind == "queue",
        Dest::Exchange(_) => kind == "exchange",
    };
    kind_matches && b.dest.name() == dest
}

fn bindings_between(v: &VHost, source: &str, kind: &str, dest: &str) -> Result<Vec<Value>> {
    let kind = dest_kind(kind)?;
    let x = v.exchange(source).ok_or(ApiError::NotFound)?;
    Ok(x.bindings()
        .iter()
        .filter(|b| leads_to(b, kind, dest))
        .map(|b| json::binding(&v.name, source, b))
        .collect())
}

pub async fn between(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, source, kind, dest)): Path<(String, String, String, String)>,
) -> Result<Json<Value>> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    Ok(Json(Value::Array(bindings_between(&v, &source, &kind, &dest)?)))
}

pub async fn one(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, source, kind, dest, props)): Path<(String, String, String, String, String)>,
) -> Result<Json<Value>> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    bindings_between(&v, &source, &kind, &dest)?
        .into_iter()
        .find(|b| b["properties_key"] == props.as_str())
        .map(Json)
        .ok_or(ApiError::NotFound)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BindingBody {
    routing_key: String,
    arguments: Map<String, Value>,
}

impl Required for BindingBody {}

/// The caller's permissions for a binding of `key` from `source`: write on
/// the destination, read on the source, and the topic read permission.
fn check_bind(
    s: &ApiState,
    caller: &Caller,
    v: &VHost,
    kind: &str,
    dest: &str,
    source: &str,
    key: &str,
) -> Result<()> {
    let perms = caller.permissions(&s.broker, &v.name)?;
    perms.check_bind(kind, dest, source)?;
    if let Some(x) = v.exchange(source) {
        perms.check_topic(warren_broker::access::Perm::Read, &x, key)?;
    }
    Ok(())
}

/// Creates a binding; `201 Created` with its `Location`, as RabbitMQ answers.
pub async fn add(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, source, kind, dest)): Path<(String, String, String, String)>,
    Body(body): Body<BindingBody>,
) -> Result<impl IntoResponse> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    // Binding to the default exchange is refused (AMQP's 403, here 401).
    let source = super::exchange_name(&source).to_string();
    let args = json::to_table(&body.arguments)?;
    let kind = dest_kind(&kind)?;
    check_bind(&s, &caller, &v, kind, &dest, &source, &body.routing_key)?;
    match kind {
        "queue" => v.bind_queue(&dest, &source, &body.routing_key, args.clone(), 0)?,
        _ => v.bind_exchange(&dest, &source, &body.routing_key, args.clone())?,
    }
    let key = json::properties_key_of(&body.routing_key, &args);
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, key)]))
}

pub async fn remove(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, source, kind, dest, props)): Path<(String, String, String, String, String)>,
) -> Result<StatusCode> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    let x = v.exchange(&source).ok_or(ApiError::NotFound)?;
    let kind = dest_kind(&kind)?;
    let b = x
        .bindings()
        .into_iter()
        .find(|b| leads_to(b, kind, &dest) && json::properties_key(b) == props)
        .ok_or(ApiError::NotFound)?;
    check_bind(&s, &caller, &v, kind, &dest, &source, &b.routing_key)?;
    match kind {
        "queue" => v.unbind_queue(&dest, &source, &b.routing_key, &b.arguments, 0)?,
        _ => v.unbind_exchange(&dest, &source, &b.routing_key, &b.arguments)?,
    }
    Ok(StatusCode::NO_CONTENT)
}
