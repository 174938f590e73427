//! `/api/exchanges`: list, declare, delete, and `POST .../publish`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use warren_broker::access::Perm;

use super::{exchange_name, find_exchange, listing, target_vhost, visible_vhost, Result};
use crate::auth::Caller;
use crate::body::{Body, Required};
use crate::error::ApiError;
use crate::json;
use crate::listing::ListParams;
use crate::ApiState;

pub async fn all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    listing(&s, &caller, None, &p, |v| {
        v.exchanges().iter().map(|x| json::exchange(&v.name, x)).collect()
    })
}

pub async fn in_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    listing(&s, &caller, Some(&vhost), &p, |v| {
        v.exchanges().iter().map(|x| json::exchange(&v.name, x)).collect()
    })
}

pub async fn one(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    Ok(p.project_one(json::exchange(&v.name, &*find_exchange(&v, &name)?)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ExchangeBody {
    #[serde(rename = "type")]
    kind: String,
    #[serde(deserialize_with = "json::lenient::opt_boolean")]
    durable: Option<bool>,
    #[serde(deserialize_with = "json::lenient::boolean")]
    auto_delete: bool,
    #[serde(deserialize_with = "json::lenient::boolean")]
    internal: bool,
    arguments: Map<String, Value>,
}

pub async fn put(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Body(body): Body<ExchangeBody>,
) -> Result<StatusCode> {
    let v = target_vhost(&s, &caller, &vhost)?;
    let arguments = json::to_table(&body.arguments)?;
    caller
        .permissions(&s.broker, &vhost)?
        .check_exchange_declare(&name, &arguments)?;
    let existed = v.exchange(&name).is_some();
    let options = warren_broker::exchange::ExchangeOptions {
        durable: body.durable.unwrap_or(true),
        auto_delete: body.auto_delete,
        internal: body.internal,
        arguments,
    };
    // RabbitMQ makes a direct exchange when the body names no type.
    let kind = if body.kind.is_empty() {
        "direct"
    } else {
        &body.kind
    };
    v.declare_exchange(&name, kind, false, options)?;
    Ok(super::created(!existed))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteParams {
    #[serde(rename = "if-unused")]
    if_unused: bool,
}

pub async fn remove(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Query(params): Query<DeleteParams>,
) -> Result<StatusCode> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    if name == "amq.default" {
        // The default exchange cannot be deleted (AMQP's 403).
        return Err(ApiError::NotAuthorised("Access refused."));
    }
    v.exchange(&name).ok_or(ApiError::NotFound)?;
    caller.check(&s.broker, &vhost, Perm::Configure, "exchange", &name)?;
    v.delete_exchange(&name, params.if_unused)?;
    Ok(StatusCode::NO_CONTENT)
}

impl Required for ExchangeBody {}
impl Required for PublishBody {
    const REQUIRED: &'static [&'static str] = &["routing_key", "properties", "payload", "payload_encoding"];
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PublishBody {
    routing_key: String,
    payload: String,
    payload_encoding: String,
    properties: Map<String, Value>,
}

/// `POST /api/exchanges/{vhost}/{name}/publish`: `{"routed": true|false}`.
pub async fn publish(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Body(body): Body<PublishBody>,
) -> Result<Json<Value>> {
    use base64::Engine;
    let v = visible_vhost(&s, &caller, &vhost)?;
    if let Err(missing) = v.find_exchange(exchange_name(&name)) {
        // RabbitMQ publishes through an AMQP channel and reports its error.
        return Err(ApiError::BadRequest(format!("{} {}", missing.code, missing.text)));
    }
    caller.check(&s.broker, &vhost, Perm::Write, "exchange", exchange_name(&name))?;
    let x = v.publishable_exchange(exchange_name(&name))?;
    caller
        .permissions(&s.broker, &vhost)?
        .check_topic(Perm::Write, &x, &body.routing_key)?;
    let payload = match body.payload_encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.payload.as_bytes())
            .map_err(|_| ApiError::BadRequestTerm(json!(["not_base64", body.payload])))?,
        "string" => body.payload.into_bytes(),
        other => return Err(ApiError::BadRequestTerm(json!(["unsupported_encoding", other]))),
    };
    let props = json::to_properties(&body.properties)?;
    let raw = warren_codec::properties::encode(&props);
    // The same rule as for AMQP publishers.
    let view = warren_codec::Properties::parse(&raw).unwrap_or_default();
    warren_broker::access::check_user_id(view.user_id(&raw), caller.name())?;
    let msg = warren_broker::persist::message_from_parts(
        bytes_of(exchange_name(&name)),
        bytes_of(&body.routing_key),
        raw,
        payload.into(),
    );
    let mut scratch = warren_broker::vhost::RouteScratch::default();
    let routed = v.publish(&x, Arc::new(msg), &mut scratch);
    x.stats.add(1, u64::from(routed.queues > 0));
    Ok(Json(json!({"routed": routed.queues > 0})))
}

fn bytes_of(s: &str) -> warren_broker::message::Bytes {
    warren_broker::message::Bytes::from(s.to_string())
}
