//! Runtime parameters (`/api/parameters`), global parameters
//! (`/api/global-parameters`) and the cluster name (`/api/cluster-name`),
//! with RabbitMQ 3.13's shapes, codes and texts.
//!
//! RabbitMQ keeps vhost limits, policies and operator policies as runtime
//! parameters; Warren keeps them with their vhost and shows them here under
//! their component names (`vhost-limits` named `limits`, `policy`,
//! `operator_policy`). The `shovel`, `federation-upstream` and
//! `federation-upstream-set` components are accepted and stored as given, so
//! that definitions exported from RabbitMQ round-trip, but nothing runs them
//! yet (Warren has no shovels or federation). Any other component is refused
//! as RabbitMQ refuses a component whose plugin is not enabled.
//!
//! Where RabbitMQ crashes with an empty 500 (a `vhost-limits` parameter not
//! named `limits`, `DELETE` of a `policy` parameter, a cluster name that is
//! not a string), Warren answers 400 with a reason instead.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use warren_broker::parameters::{CLUSTER_NAME, STORED_COMPONENTS};
use warren_broker::policy::{erlang_term, escaped, failed, Policy};
use warren_broker::{Broker, VHost};
use warren_store::definitions::{ParameterDef, VhostLimits};

use super::{created, target_vhost, visible_vhost, Result};
use crate::auth::Caller;
use crate::body::Body;
use crate::error::ApiError;
use crate::ApiState;

/// The global parameter that holds the broker's permanent identity. It is
/// made at the first start and shown, never changed: Prometheus'
/// `rabbitmq_identity_info` and exports name the broker by it.
pub const INTERNAL_CLUSTER_ID: &str = "internal_cluster_id";

fn entry(component: &str, vhost: &str, name: &str, value: Value) -> Value {
    json!({"name": name, "vhost": vhost, "component": component, "value": value})
}

/// A policy's value as a runtime parameter holds it.
fn policy_value(p: &Policy) -> Value {
    json!({"pattern": p.pattern, "definition": p.definition, "priority": p.priority, "apply-to": p.apply_to})
}

/// Every runtime parameter of `v`, as RabbitMQ lists them: `vhost-limits`
/// (when a limit is set), `operator_policy`, the stored components, and
/// `policy` only when `policies` is true (RabbitMQ leaves policies out of
/// `/api/parameters` and of definitions' `parameters`, but shows them when
/// the component is asked for by name).
pub fn of_vhost(broker: &Broker, v: &VHost, policies: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let limits = v.limits.get();
    if !limits.is_empty() {
        out.push(entry(
            "vhost-limits",
            &v.name,
            "limits",
            super::limits::limits_json(&limits),
        ));
    }
    for p in v.operator_policies() {
        out.push(entry("operator_policy", &v.name, &p.name, policy_value(&p)));
    }
    if policies {
        for p in v.policies() {
            out.push(entry("policy", &v.name, &p.name, policy_value(&p)));
        }
    }
    for p in broker.parameters.list() {
        if p.vhost == *v.name {
            out.push(entry(&p.component, &p.vhost, &p.name, p.value));
        }
    }
    out
}

/// `/api/parameters...` is for administrators, and for policymakers in the
/// vhosts they may use (RabbitMQ's `is_authorized_policies`).
fn require_policies(s: &ApiState, caller: &Caller, vhost: Option<&str>) -> Result<()> {
    if caller.is_admin() {
        return Ok(());
    }
    caller.require_policymaker()?;
    match vhost {
        Some(v) if !caller.sees(&s.broker, v) => {
            Err(ApiError::NotAuthorised("User not authorised to access object"))
        }
        _ => Ok(()),
    }
}

/// The parameters the caller may see, of one component or all, in one
/// vhost or all.
fn listed(
    s: &ApiState,
    caller: &Caller,
    component: Option<&str>,
    vhost: Option<&str>,
) -> Result<Json<Value>> {
    require_policies(s, caller, vhost)?;
    let vhosts = match vhost {
        Some(name) => vec![visible_vhost(s, caller, name)?],
        None => {
            let mut all = s.broker.vhosts();
            all.retain(|v| caller.sees(&s.broker, &v.name));
            all.sort_by(|a, b| a.name.cmp(&b.name));
            all
        }
    };
    let asked_for_policies = component == Some("policy");
    let items = vhosts
        .iter()
        .flat_map(|v| of_vhost(&s.broker, v, asked_for_policies))
        .filter(|p| component.is_none_or(|c| p["component"] == c))
        .collect();
    Ok(Json(Value::Array(items)))
}

pub async fn all(State(s): State<ApiState>, Extension(caller): Extension<Caller>) -> Result<Json<Value>> {
    listed(&s, &caller, None, None)
}

pub async fn of_component(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(component): Path<String>,
) -> Result<Json<Value>> {
    listed(&s, &caller, Some(&component), None)
}

pub async fn of_component_in(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((component, vhost)): Path<(String, String)>,
) -> Result<Json<Value>> {
    listed(&s, &caller, Some(&component), Some(&vhost))
}

pub async fn one(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((component, vhost, name)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    require_policies(&s, &caller, Some(&vhost))?;
    let v = visible_vhost(&s, &caller, &vhost)?;
    of_vhost(&s.broker, &v, component == "policy")
        .into_iter()
        .find(|p| p["component"] == component.as_str() && p["name"] == name.as_str())
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// A vhost's limits from a `vhost-limits` value, with RabbitMQ's texts
/// (HTML-escaped on this path, as RabbitMQ's parameter validation is).
fn limits_of(value: &Value) -> std::result::Result<VhostLimits, String> {
    let Some(terms) = value.as_object() else {
        return Err(failed(format_args!(
            "limits not a list {}",
            escaped(&erlang_term(value))
        )));
    };
    let mut limits = VhostLimits::default();
    for (name, n) in terms {
        super::limits::set_limit(&mut limits, name, n).map_err(|e| escaped(&e))?;
    }
    Ok(limits)
}

/// Sets a vhost's limits (the whole `limits` parameter); whether any
/// limit was set before (the parameter existed).
fn replace_limits(v: &VHost, limits: VhostLimits) -> Result<bool> {
    let mut was_set = false;
    v.update_limits(|current| {
        was_set = !current.is_empty();
        *current = limits;
        Ok::<_, ApiError>(())
    })?;
    Ok(was_set)
}

pub async fn put(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((component, vhost, name)): Path<(String, String, String)>,
    Body(body): Body<Value>,
) -> Result<StatusCode> {
    require_policies(&s, &caller, Some(&vhost))?;
    crate::body::missing(&body, &["value"]).map_err(ApiError::BadRequest)?;
    let v = target_vhost(&s, &caller, &vhost)?;
    let value = body["value"].clone();
    match component.as_str() {
        "vhost-limits" => {
            if name != "limits" {
                return Err(ApiError::BadRequest(failed(
                    "a vhost-limits parameter must be named limits",
                )));
            }
            caller.require_admin()?;
            let limits = limits_of(&value).map_err(ApiError::BadRequest)?;
            Ok(created(!replace_limits(&v, limits)?))
        }
        "operator_policy" => {
            // Administrators only, as `/api/operator-policies`.
            caller.require_admin()?;
            let def = super::policies::policy_def(&vhost, &name, &value).map_err(ApiError::BadRequest)?;
            Ok(created(v.put_operator_policy(def).map_err(ApiError::BadRequest)?))
        }
        "policy" => Err(ApiError::BadRequest(
            "policies may not be set using this method".into(),
        )),
        c if STORED_COMPONENTS.contains(&c) => {
            if !value.is_object() {
                return Err(ApiError::BadRequest(failed(format_args!(
                    "{c} parameter value must be a JSON object, actually was {}",
                    escaped(&erlang_term(&value))
                ))));
            }
            Ok(created(s.broker.parameters.put(ParameterDef {
                component,
                vhost,
                name,
                value,
            })))
        }
        other => Err(ApiError::BadRequest(failed(format_args!(
            "component {other} not found"
        )))),
    }
}

pub async fn remove(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((component, vhost, name)): Path<(String, String, String)>,
) -> Result<StatusCode> {
    require_policies(&s, &caller, Some(&vhost))?;
    let v = visible_vhost(&s, &caller, &vhost)?;
    let removed = match component.as_str() {
        "vhost-limits" if name == "limits" => {
            caller.require_admin()?;
            replace_limits(&v, VhostLimits::default())?
        }
        "operator_policy" => {
            caller.require_admin()?;
            v.delete_operator_policy(&name)
        }
        "policy" if v.policy(&name).is_some() => {
            return Err(ApiError::BadRequest(
                "policies may not be cleared using this method".into(),
            ))
        }
        _ => s.broker.parameters.delete(&component, &vhost, &name),
    };
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Global parameters by name: the stored ones and `internal_cluster_id`
/// (also definitions' `global_parameters`).
pub fn globals(broker: &Broker, cluster_id: &str) -> Vec<Value> {
    let mut out: Vec<(String, Value)> = broker
        .parameters
        .globals()
        .into_iter()
        .map(|g| (g.name, g.value))
        .collect();
    out.push((INTERNAL_CLUSTER_ID.into(), Value::from(cluster_id)));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

pub async fn global_all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>> {
    caller.require_policymaker()?;
    Ok(Json(Value::Array(globals(&s.broker, &s.cluster_id))))
}

pub async fn global_one(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    caller.require_policymaker()?;
    globals(&s.broker, &s.cluster_id)
        .into_iter()
        .find(|g| g["name"] == name.as_str())
        .map(Json)
        .ok_or(ApiError::NotFound)
}

fn refuse_identity_change(name: &str) -> Result<()> {
    if name == INTERNAL_CLUSTER_ID {
        return Err(ApiError::BadRequest(format!(
            "{INTERNAL_CLUSTER_ID} is the broker's permanent identity and cannot be changed"
        )));
    }
    Ok(())
}

pub async fn global_put(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Body(body): Body<Value>,
) -> Result<StatusCode> {
    caller.require_policymaker()?;
    crate::body::missing(&body, &["value"]).map_err(ApiError::BadRequest)?;
    refuse_identity_change(&name)?;
    Ok(created(
        s.broker.parameters.put_global(&name, body["value"].clone()),
    ))
}

pub async fn global_remove(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    caller.require_policymaker()?;
    refuse_identity_change(&name)?;
    if s.broker.parameters.delete_global(&name) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /api/cluster-name`: any management user.
pub async fn cluster_name(State(s): State<ApiState>) -> Json<Value> {
    Json(json!({"name": s.broker.parameters.cluster_name()}))
}

/// `PUT /api/cluster-name`: administrators; always 204, as RabbitMQ.
pub async fn set_cluster_name(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Body(body): Body<Value>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    crate::body::missing(&body, &["name"]).map_err(ApiError::BadRequest)?;
    let Some(name) = body["name"].as_str() else {
        return Err(ApiError::BadRequest(format!(
            "cluster name must be a string, actually was {}",
            erlang_term(&body["name"])
        )));
    };
    s.broker.parameters.put_global(CLUSTER_NAME, Value::from(name));
    Ok(StatusCode::NO_CONTENT)
}
