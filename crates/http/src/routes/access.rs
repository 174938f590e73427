//! Vhosts, users and permissions. Changes need the `administrator` tag;
//! other users see the vhosts they have permissions in.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use warren_broker::access::{hash_password, Permissions, User, SHA256};
use warren_broker::VHost;
use warren_store::definitions::{PermissionDef, UserDef, VhostMeta};

use super::{visible_vhost, Result};
use crate::auth::Caller;
use crate::body::{Body, Required};
use crate::error::ApiError;
use crate::listing::ListParams;
use crate::ApiState;

pub fn vhost_json(v: &VHost) -> Value {
    let (mut ready, mut unacked) = (0u64, 0u64);
    for q in v.queues() {
        let held = q.gauges();
        ready += u64::from(held.ready);
        unacked += held.unacked as u64;
    }
    let meta = v.meta();
    let default_queue_type = meta.default_queue_type.as_deref().unwrap_or("classic");
    json!({
        "name": &*v.name,
        "description": meta.description,
        "tags": meta.tags,
        "metadata": {"description": meta.description, "tags": meta.tags, "default_queue_type": default_queue_type},
        "default_queue_type": default_queue_type,
        "tracing": false,
        "cluster_state": {super::overview::NODE: "running"},
        "messages": ready + unacked,
        "messages_ready": ready,
        "messages_unacknowledged": unacked,
    })
}

pub async fn vhosts(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    let mut all: Vec<_> = s.broker.vhosts();
    all.retain(|v| caller.is_monitor() || caller.sees(&s.broker, &v.name));
    all.sort_by(|a, b| a.name.cmp(&b.name));
    p.apply(all.iter().map(|v| vhost_json(v)).collect())
}

pub async fn vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    Ok(p.project_one(vhost_json(&*visible_vhost(&s, &caller, &name)?)))
}

/// A vhost's metadata from a request or a definitions file (`description`,
/// `tags` as a list or comma-separated, `default_queue_type`).
pub fn vhost_meta(body: &Value) -> VhostMeta {
    VhostMeta {
        description: body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        tags: body.get("tags").map(parse_tags).unwrap_or_default(),
        default_queue_type: body
            .get("default_queue_type")
            .and_then(Value::as_str)
            .map(String::from),
    }
}

/// Creates a vhost, or (as RabbitMQ) resets an existing one's metadata to
/// what the body says.
pub async fn put_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Body(body): Body<Value>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    // Tracing is not implemented, but a bad value is refused as RabbitMQ does.
    if let Some(t) = body.get("tracing") {
        crate::json::lenient::opt_boolean(t).map_err(crate::body::rejection)?;
    }
    let meta = vhost_meta(&body);
    if let Some(v) = s.broker.vhost(&name) {
        v.set_meta(meta);
        return Ok(StatusCode::NO_CONTENT);
    }
    s.broker.add_vhost(&name).set_meta(meta);
    // As in RabbitMQ, whoever creates a vhost gets every permission in it.
    let all = PermissionDef {
        user: caller.name().to_string(),
        vhost: name,
        configure: ".*".into(),
        write: ".*".into(),
        read: ".*".into(),
    };
    let _ = s.broker.access.put_permission(all);
    Ok(StatusCode::CREATED)
}

pub async fn delete_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if !s.broker.delete_vhost(&name) {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

pub fn user_json(access: &warren_broker::access::Access, u: &User) -> Value {
    json!({
        "name": u.name,
        "password_hash": u.password_hash,
        "hashing_algorithm": u.hashing_algorithm,
        "tags": u.tags,
        "limits": access.limits_of(&u.name),
    })
}

pub async fn users(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    p.apply(
        s.broker
            .access
            .users()
            .iter()
            .map(|u| user_json(&s.broker.access, u))
            .collect(),
    )
}

pub async fn users_without_permissions(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    let perms = s.broker.access.permissions();
    Ok(Json(Value::Array(
        s.broker
            .access
            .users()
            .iter()
            .filter(|u| !perms.iter().any(|p| p.user == u.name))
            .map(|u| user_json(&s.broker.access, u))
            .collect(),
    )))
}

pub async fn user(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    let u = s.broker.access.user(&name).ok_or(ApiError::NotFound)?;
    Ok(p.project_one(user_json(&s.broker.access, &u)))
}

/// `tags` as RabbitMQ accepts them: a comma-separated string or a list.
pub fn parse_tags(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        Value::Array(a) => a.iter().filter_map(|t| t.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UserBody {
    password: Option<String>,
    password_hash: Option<String>,
    hashing_algorithm: Option<String>,
    tags: Value,
}

pub async fn put_user(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Body(body): Body<UserBody>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if body.tags.is_null() {
        return Err(ApiError::BadRequest("tags_not_present".into()));
    }
    // Neither a password nor a hash leaves a user who cannot log in with a
    // password, as in RabbitMQ (also when updating an existing user).
    let (password_hash, hashing_algorithm) = match (body.password, body.password_hash) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "both_password_and_password_hash_are_provided".into(),
            ))
        }
        (Some(p), None) => (hash_password(&p), SHA256.to_string()),
        (None, Some(h)) => {
            check_hash(&h).map_err(ApiError::BadRequestTerm)?;
            (h, body.hashing_algorithm.unwrap_or_else(|| SHA256.to_string()))
        }
        (None, None) => (String::new(), SHA256.to_string()),
    };
    let created = s.broker.access.put_user(UserDef {
        name,
        password_hash,
        hashing_algorithm,
        tags: parse_tags(&body.tags),
    });
    Ok(super::created(created))
}

/// A password hash must be base64 (empty: no password login), or RabbitMQ
/// refuses it with `["not_base64","..."]`.
pub fn check_hash(hash: &str) -> std::result::Result<(), Value> {
    use base64::Engine;
    match base64::engine::general_purpose::STANDARD.decode(hash) {
        Ok(_) => Ok(()),
        Err(_) => Err(json!(["not_base64", hash])),
    }
}

pub async fn delete_user(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if !s.broker.delete_user(&name) {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct BulkDelete {
    users: Vec<String>,
}

pub async fn bulk_delete_users(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Body(body): Body<BulkDelete>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    for u in body.users {
        s.broker.delete_user(&u);
    }
    Ok(StatusCode::NO_CONTENT)
}

pub fn permission_json(p: &Permissions) -> Value {
    json!({
        "user": p.user,
        "vhost": p.vhost,
        "configure": p.configure.source,
        "write": p.write.source,
        "read": p.read.source,
    })
}

fn permissions_where(s: &ApiState, keep: impl Fn(&Permissions) -> bool) -> Vec<Value> {
    s.broker
        .access
        .permissions()
        .iter()
        .filter(|p| keep(p))
        .map(|p| permission_json(p))
        .collect()
}

pub async fn permissions(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    p.apply(permissions_where(&s, |_| true))
}

pub async fn vhost_permissions(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    s.broker.vhost(&vhost).ok_or(ApiError::NotFound)?;
    Ok(Json(Value::Array(permissions_where(&s, |p| p.vhost == vhost))))
}

pub async fn user_permissions(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    s.broker.access.user(&user).ok_or(ApiError::NotFound)?;
    Ok(Json(Value::Array(permissions_where(&s, |p| p.user == user))))
}

pub async fn permission(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, user)): Path<(String, String)>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    let p = s
        .broker
        .access
        .permission(&vhost, &user)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(permission_json(&p)))
}

impl Required for PermissionBody {
    const REQUIRED: &'static [&'static str] = &["configure", "write", "read"];
}

impl Required for UserBody {}

impl Required for BulkDelete {
    const REQUIRED: &'static [&'static str] = &["users"];
}

#[derive(Deserialize)]
pub struct PermissionBody {
    configure: String,
    write: String,
    read: String,
}

pub async fn put_permission(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, user)): Path<(String, String)>,
    Body(body): Body<PermissionBody>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if s.broker.vhost(&vhost).is_none() || s.broker.access.user(&user).is_none() {
        return Err(ApiError::BadRequest("vhost_or_user_not_found".into()));
    }
    let created = s
        .broker
        .access
        .put_permission(PermissionDef {
            user,
            vhost,
            configure: body.configure,
            write: body.write,
            read: body.read,
        })
        .map_err(|e| ApiError::BadRequest(format!("invalid regular expression: {e}")))?;
    Ok(super::created(created))
}

pub async fn delete_permission(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, user)): Path<(String, String)>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if !s.broker.access.delete_permission(&vhost, &user) {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
