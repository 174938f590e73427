//! `/api/queues`: list, declare, delete, purge, and `POST .../get`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use warren_broker::access::Perm;
use warren_broker::queue::QueueOptions;

use super::{find_queue, target_vhost, vhosts_of, visible_vhost, Result};
use crate::auth::Caller;
use crate::body::{Body, Required};
use crate::error::ApiError;
use crate::json;
use crate::listing::ListParams;
use crate::ApiState;

/// Queues of one vhost or all, sorted by vhost and name. The default
/// listing serializes each queue straight from [`json::QueueView`]; with
/// list parameters only the queues shown become JSON. `detail` is
/// RabbitMQ 3.13's choice between `/api/queues` (no null fields) and
/// `/api/queues/detailed`; with `columns` both show the detailed fields.
fn list(
    s: &ApiState,
    caller: &Caller,
    vhost: Option<&str>,
    p: &ListParams,
    detail: json::Detail,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let mut queues: Vec<_> = vhosts_of(s, caller, vhost)?
        .into_iter()
        .filter(|v| caller.sees(&s.broker, &v.name))
        .flat_map(|v| v.queues())
        .collect();
    queues.sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
    if p.is_plain() {
        let views: Vec<json::QueueView> = queues.iter().map(|q| json::QueueView::of(q, detail)).collect();
        return Ok(Json(views).into_response());
    }
    if p.columns().is_empty() {
        // Whole queues, filtered, sorted or paged: the ones shown are
        // written straight from typed views, as in the plain listing.
        let selection = p.select(
            queues,
            |q| Some(q.name.to_string()),
            |q, sort| json::queue_fields(q, Some(sort)),
        )?;
        let views: Vec<json::QueueView> = selection
            .items
            .iter()
            .map(|q| json::QueueView::of(q, detail))
            .collect();
        return Ok(Json(crate::listing::Listing::of(views, selection.page)).into_response());
    }
    Ok(p.apply_to(
        queues,
        |q| Some(q.name.to_string()),
        |q, fields| json::queue_fields(q, fields),
    )?
    .into_response())
}

pub async fn all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<axum::response::Response> {
    list(&s, &caller, None, &p, json::Detail::Basic)
}

/// `/api/queues/detailed` (RabbitMQ 3.13): every queue with the null
/// fields too.
pub async fn all_detailed(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<axum::response::Response> {
    list(&s, &caller, None, &p, json::Detail::Detailed)
}

pub async fn in_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<axum::response::Response> {
    list(&s, &caller, Some(&vhost), &p, json::Detail::Basic)
}

pub async fn one(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    let q = find_queue(&v, &name)?;
    let mut item = json::queue(&q);
    item["consumer_details"] = Value::Array(super::connections::consumers_of(&s, &q));
    Ok(p.project_one(item))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QueueBody {
    #[serde(deserialize_with = "json::lenient::opt_boolean")]
    durable: Option<bool>,
    #[serde(deserialize_with = "json::lenient::boolean")]
    auto_delete: bool,
    arguments: Map<String, Value>,
}

pub async fn put(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Body(body): Body<QueueBody>,
) -> Result<StatusCode> {
    let v = target_vhost(&s, &caller, &vhost)?;
    warren_broker::vhost::check_client_queue_name(&name)?;
    let arguments = json::to_table(&body.arguments)?;
    caller
        .permissions(&s.broker, &vhost)?
        .check_queue_declare(&name, &arguments)?;
    let options = QueueOptions {
        durable: body.durable.unwrap_or(true),
        auto_delete: body.auto_delete,
        exclusive_owner: None,
        arguments,
    };
    let declared = v.declare_queue(&name, false, options, 0)?;
    Ok(super::created(declared.created))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteParams {
    #[serde(rename = "if-empty")]
    if_empty: bool,
    #[serde(rename = "if-unused")]
    if_unused: bool,
}

pub async fn remove(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Query(p): Query<DeleteParams>,
) -> Result<StatusCode> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    find_queue(&v, &name)?;
    caller.check(&s.broker, &vhost, Perm::Configure, "queue", &name)?;
    v.delete_queue(&name, p.if_unused, p.if_empty, 0)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn purge(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    find_queue(&v, &name)?;
    caller.check(&s.broker, &vhost, Perm::Read, "queue", &name)?;
    // Another connection's exclusive queue is locked: AMQP's 405, which the
    // API answers 400 with the text, as RabbitMQ does.
    v.find_queue(&name, 0)?.purge();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/queues/{vhost}/{name}/actions` (administrators): `sync` and
/// `cancel_sync` act on classic mirrored queues; Warren has no mirrors, so
/// there is nothing to sync, and RabbitMQ answers 204 for an unmirrored
/// queue too. Other actions are RabbitMQ's `{unknown,<<"x">>}`.
pub async fn action(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Body(body): Body<Value>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    let v = s.broker.vhost(&vhost).ok_or_else(ApiError::vhost_not_found)?;
    if v.queue(&name).is_none() {
        return Err(ApiError::Status(404, "not_found", "queue_not_found".into()));
    }
    crate::body::missing(&body, &["action"]).map_err(ApiError::BadRequest)?;
    match body["action"].as_str() {
        Some("sync" | "cancel_sync") => Ok(StatusCode::NO_CONTENT),
        _ => Err(ApiError::BadRequest(format!(
            "{{unknown,{}}}",
            warren_broker::policy::erlang_term(&body["action"])
        ))),
    }
}

impl Required for QueueBody {}

impl Required for GetBody {
    const REQUIRED: &'static [&'static str] = &["count", "ackmode", "encoding"];
}

#[derive(Deserialize)]
pub struct GetBody {
    #[serde(deserialize_with = "json::lenient::number")]
    count: u64,
    ackmode: String,
    #[serde(default = "auto")]
    encoding: String,
    #[serde(default, deserialize_with = "json::lenient::opt_number")]
    truncate: Option<u64>,
}

fn auto() -> String {
    "auto".into()
}

/// `POST /api/queues/{vhost}/{name}/get`: takes up to `count` messages
/// and, by `ackmode`, puts them back (`*_requeue_true`, marked
/// redelivered), acknowledges them (`ack_requeue_false`) or rejects them to
/// the dead-letter exchange (`reject_requeue_false`).
pub async fn get_messages(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Body(body): Body<GetBody>,
) -> Result<Json<Value>> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    if v.queue(&name).is_none() {
        let missing = warren_broker::AmqpError::not_found("queue", &name, &vhost);
        return Err(ApiError::Status(404, "not_found", missing.text));
    }
    caller.check(&s.broker, &vhost, Perm::Read, "queue", &name)?;
    // RabbitMQ's get, unlike its other routes, keeps the code in the reason:
    // `405 RESOURCE_LOCKED - cannot obtain exclusive access ...`.
    let q = v
        .find_queue(&name, 0)
        .map_err(|e| ApiError::BadRequest(format!("{} {}", e.code, e.text)))?;
    let requeue = match body.ackmode.as_str() {
        "ack_requeue_true" | "reject_requeue_true" => true,
        "ack_requeue_false" | "reject_requeue_false" => false,
        other => return Err(ApiError::BadRequest(format!("Unknown ackmode: {other}"))),
    };
    check_encoding(&body.encoding)?;
    let mut taken = Vec::new();
    let mut out = Vec::new();
    // A message that cannot be read back stops the get; it stays queued.
    let mut stuck = false;
    for _ in 0..body.count {
        let Ok(got) = q.get(true) else {
            stuck = true;
            break;
        };
        let Some((entry, remaining)) = got else {
            break;
        };
        let mut item = message_json(&entry, body.encoding == "auto", body.truncate);
        item["message_count"] = json!(remaining);
        out.push(item);
        taken.push(entry);
    }
    match (requeue, body.ackmode.starts_with("ack")) {
        (true, _) => q.requeue(taken),
        (false, true) => q.acked(taken.iter()),
        (false, false) => q.discard(taken),
    }
    q.dispatch();
    if stuck && out.is_empty() {
        let e = warren_broker::Unreadable::error(&q);
        return Err(ApiError::Status(500, "internal_error", e.detail().to_string()));
    }
    Ok(Json(Value::Array(out)))
}

fn check_encoding(encoding: &str) -> Result<()> {
    if matches!(encoding, "auto" | "base64") {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!("Unsupported encoding: {encoding}")))
    }
}

/// A message as RabbitMQ's get shows it: text when `auto` and the payload
/// (cut to `truncate` bytes) is UTF-8, base64 otherwise.
fn message_json(entry: &warren_broker::queue::Entry, auto: bool, truncate: Option<u64>) -> Value {
    let m = &entry.msg;
    let mut payload: &[u8] = &m.body;
    if let Some(t) = truncate {
        payload = &payload[..payload.len().min(t as usize)];
    }
    let (payload, encoding) = match std::str::from_utf8(payload) {
        Ok(text) if auto => (text.to_string(), "string"),
        _ => (
            base64::engine::general_purpose::STANDARD.encode(payload),
            "base64",
        ),
    };
    let props = warren_codec::properties::decode(&m.properties)
        .map(|p| json::properties(&p))
        .filter(|p| p.as_object().is_some_and(|o| !o.is_empty()))
        // RabbitMQ shows a message without properties as `[]`.
        .unwrap_or_else(|| json!([]));
    json!({
        "payload_bytes": m.body.len(),
        "redelivered": entry.redelivered,
        "exchange": String::from_utf8_lossy(&m.exchange),
        "routing_key": String::from_utf8_lossy(&m.routing_key),
        "properties": props,
        "payload": payload,
        "payload_encoding": encoding,
    })
}

/// At most this many messages per peek.
const PEEK_MAX: usize = 1000;

#[derive(Deserialize)]
#[serde(default)]
pub struct PeekParams {
    offset: usize,
    count: usize,
    encoding: String,
    truncate: Option<u64>,
}

impl Default for PeekParams {
    fn default() -> Self {
        PeekParams {
            offset: 0,
            count: 10,
            encoding: auto(),
            truncate: None,
        }
    }
}

/// `GET /api/queues/{vhost}/{name}/messages?offset=&count=&encoding=&truncate=`
/// (a Warren extension): up to `count` (at most 1,000) ready messages from
/// position `offset` in delivery order, left in the queue untouched: not
/// redelivered, not counted as gets, consumers unaffected. Unacknowledged
/// messages are not shown (they are with their consumers).
pub async fn peek(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Query(p): Query<PeekParams>,
) -> Result<Json<Value>> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    find_queue(&v, &name)?;
    caller.check(&s.broker, &vhost, Perm::Read, "queue", &name)?;
    let q = v.find_queue(&name, 0)?;
    check_encoding(&p.encoding)?;
    let (entries, ready) = q.peek(p.offset, p.count.min(PEEK_MAX));
    let messages: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut item = message_json(e, p.encoding == "auto", p.truncate);
            item["position"] = json!(p.offset + i);
            item
        })
        .collect();
    Ok(Json(json!({
        "offset": p.offset,
        "message_count": ready,
        "messages": messages,
    })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MoveBody {
    /// A queue of the same vhost.
    destination: Option<String>,
    /// Back to the exchange and routing key of each message's `x-death`.
    #[serde(deserialize_with = "json::lenient::boolean")]
    dead_letters: bool,
    #[serde(deserialize_with = "json::lenient::opt_number")]
    count: Option<u64>,
}

impl Required for MoveBody {}

/// `POST /api/queues/{vhost}/{name}/move` (a Warren extension): moves the
/// queue's messages to `destination` (through the default exchange), or
/// with `"dead_letters": true` each back to the exchange and routing key
/// of its latest `x-death` entry; `count` caps how many. Answers what
/// moved and what stayed, and why. Needs read on the queue and write on
/// each exchange published to.
pub async fn move_messages(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Body(body): Body<MoveBody>,
) -> Result<Json<Value>> {
    use warren_broker::vhost::MoveTo;
    let v = visible_vhost(&s, &caller, &vhost)?;
    find_queue(&v, &name)?;
    caller.check(&s.broker, &vhost, Perm::Read, "queue", &name)?;
    let from = v.find_queue(&name, 0)?;
    let to = match (&body.destination, body.dead_letters) {
        (Some(dest), false) => {
            if *dest == name {
                return Err(ApiError::BadRequest(
                    "the destination is the queue the messages are in".into(),
                ));
            }
            MoveTo::Queue(v.find_queue(dest, 0)?)
        }
        (None, true) => MoveTo::DeathOrigin,
        _ => {
            return Err(ApiError::BadRequest(
                "give either a destination queue or \"dead_letters\": true".into(),
            ))
        }
    };
    let perms = caller.permissions(&s.broker, &vhost)?;
    let may_publish = |x: &warren_broker::exchange::Exchange, key: &str| {
        let shown = if x.name.is_empty() {
            "amq.default"
        } else {
            &*x.name
        };
        caller
            .check(&s.broker, &vhost, Perm::Write, "exchange", shown)
            .is_ok()
            && perms.check_topic(Perm::Write, x, key).is_ok()
    };
    let moved = v
        .move_messages(&from, &to, body.count.unwrap_or(u64::MAX), may_publish)
        .await
        .map_err(|e| ApiError::Status(500, "internal_error", e.detail().to_string()))?;
    Ok(Json(json!({
        "moved": moved.moved,
        "skipped": moved.skipped,
        "unroutable": moved.unroutable,
        "refused": moved.refused,
    })))
}
