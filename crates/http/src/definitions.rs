//! Definitions in RabbitMQ's export format: users (with their password
//! hashes), vhosts, permissions, policies, queues, exchanges, bindings,
//! runtime parameters and global parameters.
//! A file exported from RabbitMQ imports into Warren and the other way
//! round; the same import runs for `POST /api/definitions` and for the
//! definitions file named in the configuration.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use warren_broker::exchange::{Dest, ExchangeOptions};
use warren_broker::parameters::STORED_COMPONENTS;
use warren_broker::queue::QueueOptions;
use warren_broker::{Broker, VHost};
use warren_store::definitions::{ParameterDef, PermissionDef, TopicPermissionDef, UserDef, VhostLimits};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::access::{check_hash, parse_tags, permission_json, user_json, vhost_meta};
use crate::routes::limits::{set_limit, set_user_limit};
use crate::routes::overview::RABBITMQ_VERSION;
use crate::routes::parameters::{self, INTERNAL_CLUSTER_ID};
use crate::routes::policies::{policy_def, policy_json};
use crate::routes::topic_permissions::topic_permission_json;
use crate::{json, ApiState};

/// Why an import stopped.
#[derive(Debug)]
pub enum ImportError {
    /// An object names a vhost that does not exist.
    NoSuchVhost(String),
    /// Anything else, with RabbitMQ's text where there is one.
    Invalid(String),
    /// A value RabbitMQ refuses with an Erlang term (`["not_base64","x"]`).
    Term(Value),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::NoSuchVhost(v) => write!(f, "no such vhost '{v}'"),
            ImportError::Invalid(e) => f.write_str(e),
            ImportError::Term(t) => write!(f, "{t}"),
        }
    }
}

impl From<warren_broker::AmqpError> for ImportError {
    fn from(e: warren_broker::AmqpError) -> Self {
        ImportError::Invalid(e.text)
    }
}

impl From<String> for ImportError {
    fn from(e: String) -> Self {
        ImportError::Invalid(e)
    }
}

impl From<ImportError> for ApiError {
    /// RabbitMQ answers `["no_such_vhost","v"]` (an Erlang term) here.
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::NoSuchVhost(v) => ApiError::BadRequestTerm(json!(["no_such_vhost", v])),
            ImportError::Invalid(e) => ApiError::BadRequest(e),
            ImportError::Term(t) => ApiError::BadRequestTerm(t),
        }
    }
}

fn queues_of(v: &VHost, with_vhost: bool) -> Vec<Value> {
    let mut qs = v.queues();
    qs.retain(|q| !q.is_exclusive());
    qs.sort_by(|a, b| a.name.cmp(&b.name));
    qs.iter()
        .map(|q| {
            let mut o = json!({
                "name": &*q.name,
                "durable": q.options.durable,
                "auto_delete": q.options.auto_delete,
                "arguments": json::table(&q.options.arguments),
            });
            if with_vhost {
                o["vhost"] = Value::from(&*v.name);
            }
            o
        })
        .collect()
}

fn exchanges_of(v: &VHost, with_vhost: bool) -> Vec<Value> {
    let mut xs = v.exchanges();
    xs.retain(|x| !x.name.is_empty() && !x.name.starts_with("amq."));
    xs.sort_by(|a, b| a.name.cmp(&b.name));
    xs.iter()
        .map(|x| {
            let mut o = json!({
                "name": &*x.name,
                "type": x.type_name(),
                "durable": x.options.durable,
                "auto_delete": x.options.auto_delete,
                "internal": x.options.internal,
                "arguments": json::table(&x.options.arguments),
            });
            if with_vhost {
                o["vhost"] = Value::from(&*v.name);
            }
            o
        })
        .collect()
}

fn bindings_of(v: &VHost, with_vhost: bool) -> Vec<Value> {
    v.bindings()
        .iter()
        .filter(|(_, b)| !matches!(&b.dest, Dest::Queue(q) if q.is_exclusive()))
        .map(|(source, b)| {
            let mut o = json::binding(&v.name, source, b);
            if let Some(m) = o.as_object_mut() {
                m.remove("properties_key");
                if !with_vhost {
                    m.remove("vhost");
                }
            }
            o
        })
        .collect()
}

/// A vhost in an export: its name and, as RabbitMQ 3.13 writes them, its
/// description, tags and default queue type.
fn vhost_def(v: &VHost) -> Value {
    let meta = v.meta();
    let mut o = json!({"name": &*v.name, "description": meta.description, "tags": meta.tags});
    if let Some(t) = meta.default_queue_type {
        o["default_queue_type"] = Value::from(t);
    }
    o
}

/// Everything, as `GET /api/definitions` returns it. `cluster_id` is the
/// broker's identity, exported as RabbitMQ's `internal_cluster_id`.
pub fn export(broker: &Broker, version: &str, cluster_id: &str) -> Value {
    let mut vhosts = broker.vhosts();
    vhosts.sort_by(|a, b| a.name.cmp(&b.name));
    let all = |f: &dyn Fn(&VHost) -> Vec<Value>| -> Vec<Value> { vhosts.iter().flat_map(|v| f(v)).collect() };
    json!({
        "rabbit_version": RABBITMQ_VERSION,
        "rabbitmq_version": RABBITMQ_VERSION,
        "product_name": "Warren",
        "product_version": version,
        "users": broker.access.users().iter().map(|u| user_json(&broker.access, u)).collect::<Vec<_>>(),
        "vhosts": vhosts.iter().map(|v| vhost_def(v)).collect::<Vec<_>>(),
        "permissions": broker.access.permissions().iter().map(|p| permission_json(p)).collect::<Vec<_>>(),
        "topic_permissions": broker.access.topic_permissions().iter().map(topic_permission_json).collect::<Vec<_>>(),
        "parameters": all(&|v| parameters::of_vhost(broker, v, false)),
        "global_parameters": parameters::globals(broker, cluster_id),
        "policies": all(&|v| v.policies().iter().map(|p| policy_json(p)).collect()),
        "queues": all(&|v| queues_of(v, true)),
        "exchanges": all(&|v| exchanges_of(v, true)),
        "bindings": all(&|v| bindings_of(v, true)),
    })
}

/// One vhost's objects, without vhost fields (except in policies), as
/// `GET /api/definitions/{vhost}` returns them.
pub fn export_one(broker: &Broker, v: &VHost, version: &str) -> Value {
    json!({
        "rabbit_version": RABBITMQ_VERSION,
        "rabbitmq_version": RABBITMQ_VERSION,
        "product_name": "Warren",
        "product_version": version,
        "parameters": parameters::of_vhost(broker, v, false),
        "policies": v.policies().iter().map(|p| policy_json(p)).collect::<Vec<_>>(),
        "queues": queues_of(v, false),
        "exchanges": exchanges_of(v, false),
        "bindings": bindings_of(v, false),
    })
}

fn items<'a>(defs: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    defs.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn text<'a>(o: &'a Value, key: &str) -> &'a str {
    o.get(key).and_then(Value::as_str).unwrap_or("")
}

fn flag(o: &Value, key: &str, default: bool) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or(default)
}

fn args(o: &Value) -> Map<String, Value> {
    o.get("arguments")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Imports definitions; with `only_vhost`, every object goes to that vhost
/// whatever its own `vhost` field says. Objects are created in RabbitMQ's
/// order (users, vhosts, permissions, policies, exchanges, queues,
/// bindings); an error stops the import at the failing object.
pub fn import(broker: &Broker, only_vhost: Option<&str>, defs: &Value) -> Result<(), ImportError> {
    if !defs.is_object() {
        return Err(ImportError::Invalid("failed_to_parse_json".into()));
    }
    let vhost_of = |o: &Value| -> Result<std::sync::Arc<VHost>, ImportError> {
        let name = only_vhost.unwrap_or_else(|| text(o, "vhost"));
        broker
            .vhost(name)
            .ok_or_else(|| ImportError::NoSuchVhost(name.to_string()))
    };
    if only_vhost.is_none() {
        for u in items(defs, "users") {
            check_hash(text(u, "password_hash")).map_err(ImportError::Term)?;
            broker.access.put_user(UserDef {
                name: text(u, "name").to_string(),
                password_hash: text(u, "password_hash").to_string(),
                hashing_algorithm: u
                    .get("hashing_algorithm")
                    .and_then(Value::as_str)
                    .unwrap_or(warren_broker::access::SHA256)
                    .to_string(),
                tags: u.get("tags").map(parse_tags).unwrap_or_default(),
            });
            if let Some(limits) = u
                .get("limits")
                .and_then(Value::as_object)
                .filter(|l| !l.is_empty())
            {
                broker.access.update_user_limits(text(u, "name"), |l| {
                    *l = Default::default();
                    limits.iter().try_for_each(|(k, v)| set_user_limit(l, k, v))
                })?;
            }
        }
        for v in items(defs, "vhosts") {
            let meta = vhost_meta(v.get("metadata").filter(|m| m.is_object()).unwrap_or(v));
            broker.add_vhost(text(v, "name")).set_meta(meta);
        }
        for p in items(defs, "permissions") {
            // As RabbitMQ: permissions only for users and vhosts that exist.
            if broker.vhost(text(p, "vhost")).is_none() {
                return Err(ImportError::NoSuchVhost(text(p, "vhost").to_string()));
            }
            if broker.access.user(text(p, "user")).is_none() {
                return Err(ImportError::Invalid(format!("no_such_user {}", text(p, "user"))));
            }
            broker
                .access
                .put_permission(PermissionDef {
                    user: text(p, "user").to_string(),
                    vhost: text(p, "vhost").to_string(),
                    configure: text(p, "configure").to_string(),
                    write: text(p, "write").to_string(),
                    read: text(p, "read").to_string(),
                })
                .map_err(|e| format!("invalid permission of user '{}': {e}", text(p, "user")))?;
        }
        for t in items(defs, "topic_permissions") {
            if broker.vhost(text(t, "vhost")).is_none() {
                return Err(ImportError::NoSuchVhost(text(t, "vhost").to_string()));
            }
            if broker.access.user(text(t, "user")).is_none() {
                return Err(ImportError::Invalid(format!("no_such_user {}", text(t, "user"))));
            }
            broker
                .access
                .put_topic_permission(TopicPermissionDef {
                    user: text(t, "user").to_string(),
                    vhost: text(t, "vhost").to_string(),
                    exchange: text(t, "exchange").to_string(),
                    write: text(t, "write").to_string(),
                    read: text(t, "read").to_string(),
                })
                .map_err(|e| format!("invalid topic permission of user '{}': {e}", text(t, "user")))?;
        }
    }
    check_queue_limits(broker, only_vhost, defs)?;
    for p in items(defs, "policies") {
        let v = vhost_of(p)?;
        let def = policy_def(&v.name, text(p, "name"), p)?;
        v.put_policy(def)?;
    }
    for x in items(defs, "exchanges") {
        let v = vhost_of(x)?;
        let options = ExchangeOptions {
            durable: flag(x, "durable", true),
            auto_delete: flag(x, "auto_delete", false),
            internal: flag(x, "internal", false),
            arguments: json::to_table(&args(x)).map_err(|e| e.to_string())?,
        };
        v.declare_exchange(text(x, "name"), text(x, "type"), false, options)
            .map_err(|e| e.text)?;
    }
    for q in items(defs, "queues") {
        let v = vhost_of(q)?;
        if text(q, "name").starts_with("amq.") {
            // RabbitMQ skips them too: the names are the broker's.
            tracing::warn!(
                "queue '{}' not imported: amq.* names are reserved",
                text(q, "name")
            );
            continue;
        }
        let options = QueueOptions {
            durable: flag(q, "durable", true),
            auto_delete: flag(q, "auto_delete", false),
            exclusive_owner: None,
            arguments: json::to_table(&args(q)).map_err(|e| e.to_string())?,
        };
        v.declare_queue(text(q, "name"), false, options, 0)
            .map_err(|e| e.text)?;
    }
    for b in items(defs, "bindings") {
        let v = vhost_of(b)?;
        let (source, dest, key) = (text(b, "source"), text(b, "destination"), text(b, "routing_key"));
        let arguments = json::to_table(&args(b)).map_err(|e| e.to_string())?;
        let r = if text(b, "destination_type") == "exchange" {
            v.bind_exchange(dest, source, key, arguments)
        } else {
            v.bind_queue(dest, source, key, arguments, 0)
        };
        r.map_err(|e| e.text)?;
    }
    for p in items(defs, "parameters").filter(|p| text(p, "component") == "operator_policy") {
        let v = vhost_of(p)?;
        let value = p.get("value").cloned().unwrap_or_default();
        let def = policy_def(&v.name, text(p, "name"), &value)?;
        v.put_operator_policy(def)?;
    }
    // Shovels and federation upstreams are stored as given (nothing runs
    // them yet), so that the definitions export again unchanged; other
    // components are skipped.
    for p in items(defs, "parameters").filter(|p| STORED_COMPONENTS.contains(&text(p, "component"))) {
        let v = vhost_of(p)?;
        broker.parameters.put(ParameterDef {
            component: text(p, "component").to_string(),
            vhost: v.name.to_string(),
            name: text(p, "name").to_string(),
            value: p.get("value").cloned().unwrap_or_default(),
        });
    }
    if only_vhost.is_none() {
        for g in items(defs, "global_parameters") {
            // The broker keeps its own identity: an export from another
            // broker carries that one's.
            if text(g, "name") != INTERNAL_CLUSTER_ID {
                let value = g.get("value").cloned().unwrap_or_default();
                broker.parameters.put_global(text(g, "name"), value);
            }
        }
    }
    // Runtime parameters: vhost limits (set last) and operator policies
    // (above) are Warren's. Limits are set last, as the queues above were
    // checked against the limits in force before the import, as RabbitMQ
    // checks.
    for p in items(defs, "parameters").filter(|p| text(p, "component") == "vhost-limits") {
        let v = vhost_of(p)?;
        let value = p.get("value").and_then(Value::as_object);
        v.update_limits(|limits| -> Result<(), ImportError> {
            *limits = VhostLimits::default();
            for (name, value) in value.into_iter().flatten() {
                set_limit(limits, name, value).map_err(ImportError::Invalid)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Refuses, before anything is imported, queues that would take a vhost
/// over its `max-queues` limit (RabbitMQ's `vhost_limit_exceeded`).
fn check_queue_limits(broker: &Broker, only_vhost: Option<&str>, defs: &Value) -> Result<(), ImportError> {
    let mut new: std::collections::BTreeMap<String, std::collections::BTreeSet<&str>> = Default::default();
    for q in items(defs, "queues") {
        let vhost = only_vhost.unwrap_or_else(|| text(q, "vhost"));
        let Some(v) = broker.vhost(vhost) else { continue };
        if v.queue(text(q, "name")).is_none() {
            new.entry(vhost.to_string()).or_default().insert(text(q, "name"));
        }
    }
    for (vhost, names) in new {
        let Some(v) = broker.vhost(&vhost) else { continue };
        let limit = v.limits.get().max_queues.filter(|l| *l >= 0);
        let have = v.queues().len();
        if let Some(limit) = limit.filter(|l| (have + names.len()) as u64 > *l as u64) {
            return Err(ImportError::Term(json!([
                "vhost_limit_exceeded",
                format!(
                    "Adding {} queue(s) to virtual host \"{vhost}\" would exceed the limit of {limit} queue(s).\n\n\
                     This virtual host currently has {have} queue(s) defined.\n\nImport aborted!",
                    names.len()
                )
            ])));
        }
    }
    Ok(())
}

/// Imports a definitions file's text (the boot-time import).
pub fn import_text(broker: &Broker, only_vhost: Option<&str>, text: &str) -> Result<(), String> {
    let defs: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    import(broker, only_vhost, &defs).map_err(|e| e.to_string())
}

type Body = std::result::Result<Json<Value>, axum::extract::rejection::JsonRejection>;

pub async fn export_all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    Ok(Json(export(&s.broker, s.product_version, &s.cluster_id)))
}

pub async fn export_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let v = s
        .broker
        .vhost(&vhost)
        .ok_or_else(|| ApiError::BadRequest("vhost_not_found".into()))?;
    Ok(Json(export_one(&s.broker, &v, s.product_version)))
}

fn run_import(
    s: &ApiState,
    caller: &Caller,
    vhost: Option<&str>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let Json(defs) = body.map_err(|_| ApiError::BadRequest("failed_to_parse_json".into()))?;
    import(&s.broker, vhost, &defs)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn import_all(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    run_import(&s, &caller, None, body)
}

pub async fn import_vhost(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(vhost): Path<String>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    s.broker.vhost(&vhost).ok_or(ApiError::NotFound)?;
    run_import(&s, &caller, Some(&vhost), body)
}
