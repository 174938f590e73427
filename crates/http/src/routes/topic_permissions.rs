//! `/api/topic-permissions`: which routing keys a user may publish and bind
//! with on a vhost's topic exchanges. Administrators only, with RabbitMQ's
//! shapes and answers.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use warren_store::definitions::TopicPermissionDef;

use super::Result;
use crate::auth::Caller;
use crate::body::{Body, Required};
use crate::error::ApiError;
use crate::listing::ListParams;
use crate::ApiState;

pub fn topic_permission_json(t: &TopicPermissionDef) -> Value {
    json!({"user": t.user, "vhost": t.vhost, "exchange": t.exchange, "write": t.write, "read": t.read})
}

fn listed(s: &ApiState, keep: impl Fn(&TopicPermissionDef) -> bool) -> Vec<Value> {
    s.broker
        .access
        .topic_permissions()
        .iter()
        .filter(|t| keep(t))
        .map(topic_permission_json)
        .collect()
}

pub async fn all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    p.apply(listed(&s, |_| true))
}

pub async fn of_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    s.broker.vhost(&vhost).ok_or(ApiError::NotFound)?;
    Ok(Json(Value::Array(listed(&s, |t| t.vhost == vhost))))
}

pub async fn of_user(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    s.broker.access.user(&user).ok_or(ApiError::NotFound)?;
    Ok(Json(Value::Array(listed(&s, |t| t.user == user))))
}

/// A user's topic permissions in a vhost; 404 when there are none.
pub async fn of_pair(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, user)): Path<(String, String)>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    let found = listed(&s, |t| t.vhost == vhost && t.user == user);
    if found.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(Value::Array(found)))
}

#[derive(Deserialize)]
pub struct TopicPermissionBody {
    exchange: String,
    write: String,
    read: String,
}

impl Required for TopicPermissionBody {
    const REQUIRED: &'static [&'static str] = &["exchange", "write", "read"];
}

pub async fn put(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, user)): Path<(String, String)>,
    Body(body): Body<TopicPermissionBody>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if s.broker.vhost(&vhost).is_none() || s.broker.access.user(&user).is_none() {
        return Err(ApiError::BadRequest("vhost_or_user_not_found".into()));
    }
    let created = s
        .broker
        .access
        .put_topic_permission(TopicPermissionDef {
            user,
            vhost,
            exchange: body.exchange,
            write: body.write,
            read: body.read,
        })
        .map_err(|e| ApiError::BadRequest(format!("invalid regular expression: {e}")))?;
    Ok(super::created(created))
}

/// Deletes all of a user's topic permissions in a vhost (404 when there
/// are none).
pub async fn remove_all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, user)): Path<(String, String)>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if !s.broker.access.delete_topic_permissions(&vhost, &user, None) {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the permission on one exchange; as in RabbitMQ, one that does
/// not exist is not an error.
pub async fn remove_one(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, user, exchange)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    s.broker
        .access
        .delete_topic_permissions(&vhost, &user, Some(&exchange));
    Ok(StatusCode::NO_CONTENT)
}
