//! `/api/policies`: list, set and clear policies. Changing them needs the
//! `administrator` or `policymaker` tag and access to the vhost.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use warren_broker::policy::Policy;
use warren_store::definitions::PolicyDef;

use super::{listing, Result};
use crate::auth::Caller;
use crate::body::Body;
use crate::error::ApiError;
use crate::listing::ListParams;
use crate::ApiState;

pub fn policy_json(p: &Policy) -> Value {
    json!({
        "vhost": p.vhost,
        "name": p.name,
        "pattern": p.pattern,
        "apply-to": p.apply_to,
        "definition": p.definition,
        "priority": p.priority,
    })
}

pub async fn all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    listing(&s, &caller, None, &p, |v| {
        v.policies().iter().map(|x| policy_json(x)).collect()
    })
}

pub async fn in_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    listing(&s, &caller, Some(&vhost), &p, |v| {
        v.policies().iter().map(|x| policy_json(x)).collect()
    })
}

pub async fn one(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>> {
    let v = super::visible_vhost(&s, &caller, &vhost)?;
    let p = v.policy(&name).ok_or(ApiError::NotFound)?;
    Ok(params.project_one(policy_json(&p)))
}

fn vhost_for_change(
    s: &ApiState,
    caller: &Caller,
    vhost: &str,
) -> Result<std::sync::Arc<warren_broker::VHost>> {
    caller.require_policymaker()?;
    super::target_vhost(s, caller, vhost)
}

/// Reads a policy from RabbitMQ's JSON body (`pattern`, `definition`,
/// optional `priority` and `apply-to`), with RabbitMQ's error texts.
pub fn policy_def(vhost: &str, name: &str, body: &Value) -> std::result::Result<PolicyDef, String> {
    crate::body::missing(body, &["pattern", "definition"])?;
    let priority = match body.get("priority") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64().unwrap_or(0),
        Some(other) => {
            return Err(format!(
                "Validation failed\n\npriority should be a number, actually was {}\n",
                warren_broker::policy::term(other)
            ));
        }
    };
    Ok(PolicyDef {
        vhost: vhost.to_string(),
        name: name.to_string(),
        pattern: body["pattern"].as_str().unwrap_or("").to_string(),
        apply_to: body
            .get("apply-to")
            .and_then(Value::as_str)
            .unwrap_or("all")
            .to_string(),
        priority,
        definition: body["definition"].as_object().cloned().unwrap_or_default(),
    })
}

pub async fn put(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
    Body(body): Body<Value>,
) -> Result<StatusCode> {
    let v = vhost_for_change(&s, &caller, &vhost)?;
    let def = policy_def(&vhost, &name, &body).map_err(ApiError::BadRequest)?;
    let created = v.put_policy(def).map_err(ApiError::BadRequest)?;
    Ok(super::created(created))
}

pub async fn remove(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((vhost, name)): Path<(String, String)>,
) -> Result<StatusCode> {
    let v = vhost_for_change(&s, &caller, &vhost)?;
    if !v.delete_policy(&name) {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `/api/operator-policies`: limits operators impose on queues over users'
/// arguments and policies. Administrators only, as in RabbitMQ.
pub mod operator {
    use super::*;

    fn listed(v: &warren_broker::VHost) -> Vec<Value> {
        v.operator_policies().iter().map(|x| policy_json(x)).collect()
    }

    pub async fn all(
        State(s): State<ApiState>,
        Extension(caller): Extension<Caller>,
        Query(p): Query<ListParams>,
    ) -> Result<Json<Value>> {
        caller.require_admin()?;
        listing(&s, &caller, None, &p, listed)
    }

    pub async fn in_vhost(
        State(s): State<ApiState>,
        Extension(caller): Extension<Caller>,
        Path(vhost): Path<String>,
        Query(p): Query<ListParams>,
    ) -> Result<Json<Value>> {
        caller.require_admin()?;
        listing(&s, &caller, Some(&vhost), &p, listed)
    }

    pub async fn one(
        State(s): State<ApiState>,
        Extension(caller): Extension<Caller>,
        Path((vhost, name)): Path<(String, String)>,
        Query(params): Query<ListParams>,
    ) -> Result<Json<Value>> {
        caller.require_admin()?;
        let v = super::super::visible_vhost(&s, &caller, &vhost)?;
        let p = v.operator_policy(&name).ok_or(ApiError::NotFound)?;
        Ok(params.project_one(policy_json(&p)))
    }

    pub async fn put(
        State(s): State<ApiState>,
        Extension(caller): Extension<Caller>,
        Path((vhost, name)): Path<(String, String)>,
        Body(body): Body<Value>,
    ) -> Result<StatusCode> {
        caller.require_admin()?;
        let v = super::super::target_vhost(&s, &caller, &vhost)?;
        let def = policy_def(&vhost, &name, &body).map_err(ApiError::BadRequest)?;
        let created = v.put_operator_policy(def).map_err(ApiError::BadRequest)?;
        Ok(super::super::created(created))
    }

    pub async fn remove(
        State(s): State<ApiState>,
        Extension(caller): Extension<Caller>,
        Path((vhost, name)): Path<(String, String)>,
    ) -> Result<StatusCode> {
        caller.require_admin()?;
        let v = super::super::target_vhost(&s, &caller, &vhost)?;
        if !v.delete_operator_policy(&name) {
            return Err(ApiError::NotFound);
        }
        Ok(StatusCode::NO_CONTENT)
    }
}
