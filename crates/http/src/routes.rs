//! One handler per path and verb, on RabbitMQ's management paths.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{middleware, Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use warren_broker::exchange::{Binding, Dest};
use warren_broker::queue::QueueOptions;
use warren_broker::{Exchange, Queue, VHost};

use crate::auth::{require_user, User};
use crate::error::ApiError;
use crate::json;
use crate::ApiState;

type Result<T> = std::result::Result<T, ApiError>;

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/overview", get(overview))
        .route("/api/whoami", get(whoami))
        .route("/api/extensions", get(|| async { Json(json!([])) }))
        .route("/api/connections", get(connections))
        .route(
            "/api/connections/{name}",
            get(connection).delete(close_connection),
        )
        .route("/api/vhosts", get(vhosts))
        .route("/api/vhosts/{vhost}", get(vhost))
        .route("/api/queues", get(all_queues))
        .route("/api/queues/{vhost}", get(vhost_queues))
        .route(
            "/api/queues/{vhost}/{name}",
            get(queue).put(put_queue).delete(delete_queue),
        )
        .route(
            "/api/queues/{vhost}/{name}/contents",
            axum::routing::delete(purge_queue),
        )
        .route("/api/exchanges", get(all_exchanges))
        .route("/api/exchanges/{vhost}", get(vhost_exchanges))
        .route(
            "/api/exchanges/{vhost}/{name}",
            get(exchange).put(put_exchange).delete(delete_exchange),
        )
        .route(
            "/api/exchanges/{vhost}/{name}/publish",
            axum::routing::post(publish),
        )
        .route("/api/bindings", get(all_bindings))
        .route("/api/bindings/{vhost}", get(vhost_bindings))
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{dest}",
            get(bindings_between).post(add_binding),
        )
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{dest}/{props}",
            get(binding).delete(delete_binding),
        )
        .route("/api/aliveness-test/{vhost}", get(aliveness))
        .route(
            "/api/health/checks/virtual-hosts",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn_with_state(state.clone(), require_user))
        .with_state(state)
}

fn find_vhost(state: &ApiState, name: &str) -> Result<Arc<VHost>> {
    state.broker.vhost(name).ok_or(ApiError::NotFound)
}

fn find_queue(v: &VHost, name: &str) -> Result<Arc<Queue>> {
    v.queue(name).ok_or(ApiError::NotFound)
}

/// RabbitMQ names the default exchange `amq.default` in paths.
fn find_exchange(v: &VHost, name: &str) -> Result<Arc<Exchange>> {
    let name = if name == "amq.default" { "" } else { name };
    v.exchange(name).ok_or(ApiError::NotFound)
}

async fn overview(State(s): State<ApiState>) -> Json<Value> {
    let (mut queues, mut exchanges, mut consumers) = (0u64, 0u64, 0u64);
    let (mut ready, mut unacked) = (0u64, 0u64);
    let (mut published, mut delivered, mut acked) = (0u64, 0u64, 0u64);
    for v in s.broker.vhosts() {
        exchanges += v.exchanges().len() as u64;
        for q in v.queues() {
            queues += 1;
            consumers += u64::from(q.consumer_count());
            ready += u64::from(q.message_count());
            unacked += q.unacked_count() as u64;
            published += q.stats.published.load(std::sync::atomic::Ordering::Relaxed);
            delivered += q.stats.delivered.load(std::sync::atomic::Ordering::Relaxed);
            acked += q.stats.acked.load(std::sync::atomic::Ordering::Relaxed);
        }
    }
    Json(json!({
        "management_version": s.product_version,
        "rabbitmq_version": s.product_version,
        "product_name": "Warren",
        "product_version": s.product_version,
        "cluster_name": "warren",
        "node": "warren@localhost",
        "object_totals": {"queues": queues, "exchanges": exchanges, "consumers": consumers},
        "queue_totals": {"messages": ready + unacked, "messages_ready": ready, "messages_unacknowledged": unacked},
        "message_stats": {"publish": published, "deliver_get": delivered, "ack": acked},
    }))
}

async fn whoami(Extension(user): Extension<User>) -> Json<Value> {
    Json(json!({"name": user.name, "tags": user.tags}))
}

fn vhost_json(v: &VHost) -> Value {
    json!({"name": &*v.name, "tracing": false, "description": "", "tags": []})
}

async fn vhosts(State(s): State<ApiState>) -> Json<Value> {
    let mut all: Vec<Value> = s.broker.vhosts().iter().map(|v| vhost_json(v)).collect();
    all.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Json(Value::Array(all))
}

async fn vhost(State(s): State<ApiState>, Path(name): Path<String>) -> Result<Json<Value>> {
    let v = find_vhost(&s, &name)?;
    Ok(Json(vhost_json(&v)))
}

fn sorted(mut items: Vec<Value>) -> Json<Value> {
    items.sort_by(|a, b| {
        (a["vhost"].as_str(), a["name"].as_str()).cmp(&(b["vhost"].as_str(), b["name"].as_str()))
    });
    Json(Value::Array(items))
}

async fn all_queues(State(s): State<ApiState>) -> Json<Value> {
    sorted(
        s.broker
            .vhosts()
            .iter()
            .flat_map(|v| v.queues())
            .map(|q| json::queue(&q))
            .collect(),
    )
}

async fn vhost_queues(State(s): State<ApiState>, Path(vhost): Path<String>) -> Result<Json<Value>> {
    let v = find_vhost(&s, &vhost)?;
    Ok(sorted(v.queues().iter().map(|q| json::queue(q)).collect()))
}

async fn queue(
    State(s): State<ApiState>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let v = find_vhost(&s, &vhost)?;
    let q = find_queue(&v, &name)?;
    Ok(Json(json::queue(&q)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct QueueBody {
    durable: Option<bool>,
    auto_delete: bool,
    arguments: Map<String, Value>,
}

async fn put_queue(
    State(s): State<ApiState>,
    Path((vhost, name)): Path<(String, String)>,
    body: Option<Json<QueueBody>>,
) -> Result<StatusCode> {
    let v = find_vhost(&s, &vhost)?;
    let body = body.map(|b| b.0).unwrap_or_default();
    let options = QueueOptions {
        durable: body.durable.unwrap_or(true),
        auto_delete: body.auto_delete,
        exclusive_owner: None,
        arguments: json::to_table(&body.arguments),
    };
    let declared = v.declare_queue(&name, false, options, 0)?;
    Ok(if declared.created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    })
}

async fn delete_queue(
    State(s): State<ApiState>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    let v = find_vhost(&s, &vhost)?;
    let q = find_queue(&v, &name)?;
    v.remove_queue(&q);
    Ok(StatusCode::NO_CONTENT)
}

async fn purge_queue(
    State(s): State<ApiState>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    let v = find_vhost(&s, &vhost)?;
    let q = find_queue(&v, &name)?;
    q.purge();
    Ok(StatusCode::NO_CONTENT)
}

async fn all_exchanges(State(s): State<ApiState>) -> Json<Value> {
    sorted(
        s.broker
            .vhosts()
            .iter()
            .flat_map(|v| {
                v.exchanges()
                    .into_iter()
                    .map(|x| json::exchange(&v.name, &x))
                    .collect::<Vec<_>>()
            })
            .collect(),
    )
}

async fn vhost_exchanges(State(s): State<ApiState>, Path(vhost): Path<String>) -> Result<Json<Value>> {
    let v = find_vhost(&s, &vhost)?;
    Ok(sorted(
        v.exchanges().iter().map(|x| json::exchange(&v.name, x)).collect(),
    ))
}

async fn exchange(
    State(s): State<ApiState>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let v = find_vhost(&s, &vhost)?;
    let x = find_exchange(&v, &name)?;
    Ok(Json(json::exchange(&v.name, &x)))
}

fn bindings_of(v: &VHost) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    // The default exchange's implicit bindings, as RabbitMQ lists them.
    for q in v.queues() {
        out.push(json!({
            "source": "", "vhost": &*v.name, "destination": &*q.name, "destination_type": "queue",
            "routing_key": &*q.name, "arguments": {}, "properties_key": &*q.name,
        }));
    }
    for (source, b) in v.bindings() {
        out.push(json::binding(&v.name, &source, &b));
    }
    out
}

async fn all_bindings(State(s): State<ApiState>) -> Json<Value> {
    Json(Value::Array(
        s.broker.vhosts().iter().flat_map(|v| bindings_of(v)).collect(),
    ))
}

async fn vhost_bindings(State(s): State<ApiState>, Path(vhost): Path<String>) -> Result<Json<Value>> {
    let v = find_vhost(&s, &vhost)?;
    Ok(Json(Value::Array(bindings_of(&v))))
}

async fn aliveness(State(s): State<ApiState>, Path(vhost): Path<String>) -> Result<impl IntoResponse> {
    find_vhost(&s, &vhost)?;
    Ok(Json(json!({"status": "ok"})))
}

async fn connections(State(s): State<ApiState>) -> Json<Value> {
    Json(Value::Array(
        s.broker
            .connections
            .list()
            .iter()
            .map(|c| json::connection(c))
            .collect(),
    ))
}

async fn connection(State(s): State<ApiState>, Path(name): Path<String>) -> Result<Json<Value>> {
    let c = s.broker.connections.find(&name).ok_or(ApiError::NotFound)?;
    Ok(Json(json::connection(&c)))
}

/// Closes a connection with 320 CONNECTION_FORCED and the `X-Reason`
/// header's text, as RabbitMQ's management plugin does.
async fn close_connection(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode> {
    let c = s.broker.connections.find(&name).ok_or(ApiError::NotFound)?;
    let reason = headers
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Closed via management plugin");
    c.request_close(reason);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ExchangeBody {
    #[serde(rename = "type")]
    kind: String,
    durable: Option<bool>,
    auto_delete: bool,
    internal: bool,
    arguments: Map<String, Value>,
}

async fn put_exchange(
    State(s): State<ApiState>,
    Path((vhost, name)): Path<(String, String)>,
    Json(body): Json<ExchangeBody>,
) -> Result<StatusCode> {
    let v = find_vhost(&s, &vhost)?;
    let existed = v.exchange(&name).is_some();
    let options = warren_broker::exchange::ExchangeOptions {
        durable: body.durable.unwrap_or(true),
        auto_delete: body.auto_delete,
        internal: body.internal,
        arguments: json::to_table(&body.arguments),
    };
    v.declare_exchange(&name, &body.kind, false, options)?;
    Ok(if existed {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeleteParams {
    #[serde(rename = "if-unused")]
    if_unused: bool,
}

async fn delete_exchange(
    State(s): State<ApiState>,
    Path((vhost, name)): Path<(String, String)>,
    axum::extract::Query(params): axum::extract::Query<DeleteParams>,
) -> Result<StatusCode> {
    let v = find_vhost(&s, &vhost)?;
    v.exchange(&name).ok_or(ApiError::NotFound)?;
    v.delete_exchange(&name, params.if_unused)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PublishBody {
    routing_key: String,
    payload: String,
    payload_encoding: String,
    properties: Map<String, Value>,
}

/// `POST /api/exchanges/{vhost}/{name}/publish`: `{"routed": true|false}`.
async fn publish(
    State(s): State<ApiState>,
    Path((vhost, name)): Path<(String, String)>,
    Json(body): Json<PublishBody>,
) -> Result<Json<Value>> {
    use base64::Engine;
    let v = find_vhost(&s, &vhost)?;
    let x = find_exchange(&v, &name)?;
    let payload = match body.payload_encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.payload.as_bytes())
            .map_err(|e| ApiError::BadRequest(format!("payload is not base64: {e}")))?,
        _ => body.payload.into_bytes(),
    };
    let delivery_mode = body
        .properties
        .get("delivery_mode")
        .and_then(Value::as_u64)
        .unwrap_or(1) as u8;
    let props = warren_codec::protocol::basic::AMQPProperties::default().with_delivery_mode(delivery_mode);
    let msg = warren_broker::Message {
        exchange: bytes_of(&name),
        routing_key: bytes_of(&body.routing_key),
        properties: warren_codec::properties::encode(&props),
        body: payload.into(),
        persistent: delivery_mode == 2,
        priority: 0,
        expiration_ms: None,
        has_headers: false,
        store_id: 0,
    };
    let mut scratch = warren_broker::vhost::RouteScratch::default();
    let routed = v.publish(&x, Arc::new(msg), &mut scratch);
    Ok(Json(json!({"routed": routed.queues > 0})))
}

fn bytes_of(s: &str) -> warren_broker::message::Bytes {
    warren_broker::message::Bytes::from(s.to_string())
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

fn between(v: &VHost, source: &str, kind: &str, dest: &str) -> Result<Vec<Value>> {
    let kind = dest_kind(kind)?;
    let x = v.exchange(source).ok_or(ApiError::NotFound)?;
    Ok(x.bindings()
        .iter()
        .filter(|b| leads_to(b, kind, dest))
        .map(|b| json::binding(&v.name, source, b))
        .collect())
}

async fn bindings_between(
    State(s): State<ApiState>,
    Path((vhost, source, kind, dest)): Path<(String, String, String, String)>,
) -> Result<Json<Value>> {
    let v = find_vhost(&s, &vhost)?;
    Ok(Json(Value::Array(between(&v, &source, &kind, &dest)?)))
}

async fn binding(
    State(s): State<ApiState>,
    Path((vhost, source, kind, dest, props)): Path<(String, String, String, String, String)>,
) -> Result<Json<Value>> {
    let v = find_vhost(&s, &vhost)?;
    between(&v, &source, &kind, &dest)?
        .into_iter()
        .find(|b| b["properties_key"] == props.as_str())
        .map(Json)
        .ok_or(ApiError::NotFound)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BindingBody {
    routing_key: String,
    arguments: Map<String, Value>,
}

/// Creates a binding; `201 Created` with its `Location`, as RabbitMQ answers.
async fn add_binding(
    State(s): State<ApiState>,
    Path((vhost, source, kind, dest)): Path<(String, String, String, String)>,
    body: Option<Json<BindingBody>>,
) -> Result<impl IntoResponse> {
    let v = find_vhost(&s, &vhost)?;
    let body = body.map(|b| b.0).unwrap_or_default();
    let args = json::to_table(&body.arguments);
    match dest_kind(&kind)? {
        "queue" => v.bind_queue(&dest, &source, &body.routing_key, args.clone(), 0)?,
        _ => v.bind_exchange(&dest, &source, &body.routing_key, args.clone())?,
    }
    let key = json::properties_key_of(&body.routing_key, &args);
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, key)]))
}

async fn delete_binding(
    State(s): State<ApiState>,
    Path((vhost, source, kind, dest, props)): Path<(String, String, String, String, String)>,
) -> Result<StatusCode> {
    let v = find_vhost(&s, &vhost)?;
    let x = v.exchange(&source).ok_or(ApiError::NotFound)?;
    let kind = dest_kind(&kind)?;
    let b = x
        .bindings()
        .into_iter()
        .find(|b| leads_to(b, kind, &dest) && json::properties_key(b) == props)
        .ok_or(ApiError::NotFound)?;
    match kind {
        "queue" => v.unbind_queue(&dest, &source, &b.routing_key, &b.arguments, 0)?,
        _ => v.unbind_exchange(&dest, &source, &b.routing_key, &b.arguments)?,
    }
    Ok(StatusCode::NO_CONTENT)
}
