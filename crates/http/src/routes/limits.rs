//! `/api/vhost-limits`: a vhost's `max-connections` and `max-queues`, read by
//! whoever sees the vhost and set by administrators, with RabbitMQ's shapes
//! (`{"vhost":"v","value":{"max-queues":1}}`) and validation texts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use warren_broker::VHost;
use warren_store::definitions::{UserLimits, VhostLimits};

use super::{visible_vhost, Result};
use crate::auth::Caller;
use crate::body::Body;
use crate::error::ApiError;
use crate::ApiState;

/// RabbitMQ's `vhost-limits` value: only the limits that are set.
pub fn limits_json(limits: &VhostLimits) -> Value {
    serde_json::to_value(limits).unwrap_or_else(|_| json!({}))
}

fn entry(v: &VHost) -> Option<Value> {
    let limits = v.limits.get();
    (!limits.is_empty()).then(|| json!({"vhost": &*v.name, "value": limits_json(&limits)}))
}

pub async fn all(State(s): State<ApiState>, Extension(caller): Extension<Caller>) -> Json<Value> {
    let items = s
        .broker
        .vhosts()
        .iter()
        .filter(|v| caller.sees(&s.broker, &v.name))
        .filter_map(|v| entry(v))
        .collect();
    Json(Value::Array(items))
}

pub async fn of_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
) -> Result<Json<Value>> {
    let v = visible_vhost(&s, &caller, &vhost)?;
    Ok(Json(Value::Array(entry(&v).into_iter().collect())))
}

/// Sets one limit to what the body says (a number; negative is no limit).
pub fn set_limit(limits: &mut VhostLimits, name: &str, value: &Value) -> std::result::Result<(), String> {
    let slot = match name {
        "max-connections" => &mut limits.max_connections,
        "max-queues" => &mut limits.max_queues,
        _ => {
            return Err(format!(
                "Validation failed\n\nUnrecognised terms [{{<<\"{name}\">>,{}}}] in limits\n",
                warren_broker::policy::erlang_term(value)
            ))
        }
    };
    // An integer: RabbitMQ refuses 1.5 as "not a number" too.
    let n = value.as_i64().ok_or_else(|| {
        format!(
            "Validation failed\n\n{name} should be a number, actually was {}\n",
            warren_broker::policy::erlang_term(value)
        )
    })?;
    *slot = Some(n);
    Ok(())
}

fn vhost_for_change(s: &ApiState, caller: &Caller, vhost: &str) -> Result<std::sync::Arc<VHost>> {
    caller.require_admin()?;
    super::target_vhost(s, caller, vhost)
}

pub async fn put(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Body(body): Body<Value>,
) -> Result<StatusCode> {
    let v = vhost_for_change(&s, &caller, &vhost)?;
    crate::body::missing(&body, &["value"]).map_err(ApiError::BadRequest)?;
    v.update_limits(|limits| set_limit(limits, &name, &body["value"]).map_err(ApiError::BadRequest))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Clears one limit; clearing one that is not set is not an error.
pub async fn remove(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    let v = vhost_for_change(&s, &caller, &vhost)?;
    v.update_limits(|limits| {
        match name.as_str() {
            "max-connections" => limits.max_connections = None,
            "max-queues" => limits.max_queues = None,
            _ => return Err(ApiError::NotFound),
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `/api/user-limits`: a user's `max-connections` and `max-channels`.
/// RabbitMQ's texts here have no "Validation failed" header.
pub fn set_user_limit(limits: &mut UserLimits, name: &str, value: &Value) -> std::result::Result<(), String> {
    let slot = match name {
        "max-connections" => &mut limits.max_connections,
        "max-channels" => &mut limits.max_channels,
        _ => {
            return Err(format!(
                "Unrecognised terms [{{<<\"{name}\">>,{}}}] in user-limits",
                warren_broker::policy::erlang_term(value)
            ))
        }
    };
    let n = value.as_i64().ok_or_else(|| {
        format!(
            "{name} should be a number, actually was {}",
            warren_broker::policy::erlang_term(value)
        )
    })?;
    *slot = Some(n);
    Ok(())
}

fn user_entry(user: &str, limits: &UserLimits) -> Value {
    json!({"user": user, "value": limits})
}

pub async fn users_all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    let items = s
        .broker
        .access
        .user_limits()
        .iter()
        .map(|(u, l)| user_entry(u, l))
        .collect();
    Ok(Json(Value::Array(items)))
}

pub async fn of_user(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
) -> Result<Json<Value>> {
    caller.require_admin()?;
    s.broker.access.user(&user).ok_or(ApiError::NotFound)?;
    let limits = s.broker.access.limits_of(&user);
    let items = (!limits.is_empty()).then(|| user_entry(&user, &limits));
    Ok(Json(Value::Array(items.into_iter().collect())))
}

pub async fn put_user_limit(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((user, name)): Path<(String, String)>,
    Body(body): Body<Value>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    if s.broker.access.user(&user).is_none() {
        return Err(ApiError::BadRequestTerm(json!(["no_such_user", user])));
    }
    crate::body::missing(&body, &["value"]).map_err(ApiError::BadRequest)?;
    s.broker.access.update_user_limits(&user, |limits| {
        set_user_limit(limits, &name, &body["value"]).map_err(ApiError::BadRequest)
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Clears one of a user's limits; clearing one that is not set is not an
/// error, as in RabbitMQ.
pub async fn remove_user_limit(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((user, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    s.broker.access.user(&user).ok_or(ApiError::NotFound)?;
    s.broker.access.update_user_limits(&user, |limits| {
        match name.as_str() {
            "max-connections" => limits.max_connections = None,
            "max-channels" => limits.max_channels = None,
            _ => return Err(ApiError::NotFound),
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
