//! One handler per path and verb, on RabbitMQ's management paths. Every
//! listing takes RabbitMQ's list parameters ([`crate::listing`]) and shows
//! only what the caller's tags and permissions let them see ([`crate::auth`]).

pub(crate) mod access;
mod bindings;
mod cluster;
pub(crate) mod connections;
mod exchanges;
mod features;
mod health;
pub(crate) mod limits;
mod login;
pub(crate) mod overview;
pub(crate) mod parameters;
pub(crate) mod policies;
mod queues;
pub(crate) mod topic_permissions;

use std::sync::Arc;

use axum::routing::{delete, get, post, put};
use axum::{middleware, Router};
use serde_json::Value;
use warren_broker::{Exchange, Queue, VHost};

use crate::auth::{require_user, Caller};
use crate::error::ApiError;
use crate::ApiState;

type Result<T> = std::result::Result<T, ApiError>;

/// The largest request body accepted (a definitions import).
const MAX_BODY: usize = 256 << 20;

pub fn router(state: ApiState) -> Router {
    // RabbitMQ's web server takes `/api/queues/` for `/api/queues`. The
    // path is fixed before routing, so the API's router sits behind an
    // outer one whose middleware runs first.
    Router::new()
        // Asked by the login page before there are credentials.
        .route("/api/auth", get(login::settings))
        .merge(crate::ui::routes())
        .fallback_service(api(state))
        .layer(middleware::map_request(without_trailing_slash))
        .layer(middleware::from_fn(no_challenge_for_scripts))
}

/// A refused request from a script (the web UI marks its requests with
/// `X-Requested-With: XMLHttpRequest`) gets its 401 without the
/// `WWW-Authenticate` challenge: with one, browsers open their own password
/// dialog over the page instead of letting the login form answer.
async fn no_challenge_for_scripts(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let script = req
        .headers()
        .get("x-requested-with")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"XMLHttpRequest"));
    let mut res = next.run(req).await;
    if script {
        res.headers_mut().remove(axum::http::header::WWW_AUTHENTICATE);
    }
    res
}

async fn without_trailing_slash(mut req: axum::extract::Request) -> axum::extract::Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let fixed = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = fixed.parse() {
            *req.uri_mut() = uri;
        }
    }
    req
}

fn api(state: ApiState) -> Router {
    Router::new()
        .route("/api/overview", get(overview::overview))
        .route("/api/nodes", get(overview::nodes))
        .route("/api/nodes/{node}", get(overview::node))
        .route("/api/nodes/{node}/memory", get(overview::node_memory))
        .route(
            "/api/nodes/{node}/memory/relative",
            get(overview::node_memory_relative),
        )
        .route("/api/whoami", get(overview::whoami))
        .route("/api/extensions", get(overview::extensions))
        .route("/api/connections", get(connections::list))
        .route(
            "/api/connections/{name}",
            get(connections::one).delete(connections::close),
        )
        .route(
            "/api/connections/username/{user}",
            get(connections::of_user).delete(connections::close_of_user),
        )
        .route("/api/connections/{name}/channels", get(connections::channels_of))
        .route("/api/vhosts/{vhost}/connections", get(connections::of_vhost))
        .route("/api/channels", get(connections::channels))
        .route("/api/vhosts/{vhost}/channels", get(connections::channels_in))
        .route("/api/channels/{name}", get(connections::channel))
        .route("/api/consumers", get(connections::consumers))
        .route("/api/consumers/{vhost}", get(connections::consumers_in))
        .route("/api/vhosts", get(access::vhosts))
        .route(
            "/api/vhosts/{vhost}",
            get(access::vhost)
                .put(access::put_vhost)
                .delete(access::delete_vhost),
        )
        .route("/api/vhosts/{vhost}/permissions", get(access::vhost_permissions))
        .route("/api/users", get(access::users))
        .route(
            "/api/users/without-permissions",
            get(access::users_without_permissions),
        )
        .route("/api/users/bulk-delete", post(access::bulk_delete_users))
        .route(
            "/api/users/{user}",
            get(access::user)
                .put(access::put_user)
                .delete(access::delete_user),
        )
        .route("/api/users/{user}/permissions", get(access::user_permissions))
        .route("/api/permissions", get(access::permissions))
        .route(
            "/api/permissions/{vhost}/{user}",
            get(access::permission)
                .put(access::put_permission)
                .delete(access::delete_permission),
        )
        .route("/api/queues", get(queues::all))
        // Before `/api/queues/{vhost}`, as in RabbitMQ 3.13: a vhost named
        // `detailed` is listed with `/api/queues/detailed`'s answer.
        .route("/api/queues/detailed", get(queues::all_detailed))
        .route("/api/queues/{vhost}", get(queues::in_vhost))
        .route(
            "/api/queues/{vhost}/{name}",
            get(queues::one).put(queues::put).delete(queues::remove),
        )
        .route("/api/queues/{vhost}/{name}/contents", delete(queues::purge))
        .route("/api/queues/{vhost}/{name}/get", post(queues::get_messages))
        .route("/api/queues/{vhost}/{name}/messages", get(queues::peek))
        .route("/api/queues/{vhost}/{name}/move", post(queues::move_messages))
        .route("/api/queues/{vhost}/{name}/actions", post(queues::action))
        .route("/api/queues/{vhost}/{name}/bindings", get(bindings::of_queue))
        .route("/api/exchanges", get(exchanges::all))
        .route("/api/exchanges/{vhost}", get(exchanges::in_vhost))
        .route(
            "/api/exchanges/{vhost}/{name}",
            get(exchanges::one).put(exchanges::put).delete(exchanges::remove),
        )
        .route("/api/exchanges/{vhost}/{name}/publish", post(exchanges::publish))
        .route(
            "/api/exchanges/{vhost}/{name}/bindings/source",
            get(bindings::from_exchange),
        )
        .route(
            "/api/exchanges/{vhost}/{name}/bindings/destination",
            get(bindings::to_exchange),
        )
        .route("/api/bindings", get(bindings::all))
        .route("/api/bindings/{vhost}", get(bindings::in_vhost))
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{dest}",
            get(bindings::between).post(bindings::add),
        )
        .route(
            "/api/bindings/{vhost}/e/{source}/{kind}/{dest}/{props}",
            get(bindings::one).delete(bindings::remove),
        )
        .route("/api/policies", get(policies::all))
        .route("/api/policies/{vhost}", get(policies::in_vhost))
        .route(
            "/api/policies/{vhost}/{name}",
            get(policies::one).put(policies::put).delete(policies::remove),
        )
        .route(
            "/api/definitions",
            get(crate::definitions::export_all).post(crate::definitions::import_all),
        )
        // RabbitMQ's deprecated alias of `/api/definitions`.
        .route(
            "/api/all-configuration",
            get(crate::definitions::export_all).post(crate::definitions::import_all),
        )
        .route(
            "/api/definitions/{vhost}",
            get(crate::definitions::export_vhost).post(crate::definitions::import_vhost),
        )
        .route("/api/topic-permissions", get(topic_permissions::all))
        .route(
            "/api/topic-permissions/{vhost}/{user}",
            get(topic_permissions::of_pair)
                .put(topic_permissions::put)
                .delete(topic_permissions::remove_all),
        )
        .route(
            "/api/topic-permissions/{vhost}/{user}/{exchange}",
            delete(topic_permissions::remove_one),
        )
        .route(
            "/api/users/{user}/topic-permissions",
            get(topic_permissions::of_user),
        )
        .route(
            "/api/vhosts/{vhost}/topic-permissions",
            get(topic_permissions::of_vhost),
        )
        .route("/api/vhost-limits", get(limits::all))
        .route("/api/vhost-limits/{vhost}", get(limits::of_vhost))
        .route(
            "/api/vhost-limits/{vhost}/{name}",
            put(limits::put).delete(limits::remove),
        )
        .route("/api/parameters", get(parameters::all))
        .route("/api/parameters/{component}", get(parameters::of_component))
        .route(
            "/api/parameters/{component}/{vhost}",
            get(parameters::of_component_in),
        )
        .route(
            "/api/parameters/{component}/{vhost}/{name}",
            get(parameters::one)
                .put(parameters::put)
                .delete(parameters::remove),
        )
        .route("/api/global-parameters", get(parameters::global_all))
        .route(
            "/api/global-parameters/{name}",
            get(parameters::global_one)
                .put(parameters::global_put)
                .delete(parameters::global_remove),
        )
        .route(
            "/api/cluster-name",
            get(parameters::cluster_name).put(parameters::set_cluster_name),
        )
        .route("/api/feature-flags", get(features::flags))
        .route("/api/feature-flags/{name}/enable", put(features::enable))
        .route("/api/deprecated-features", get(features::deprecated))
        .route("/api/deprecated-features/used", get(features::deprecated_used))
        .route("/api/rebalance/queues", post(cluster::rebalance))
        .route("/api/tls/reload", post(cluster::reload_tls))
        .route("/api/vhosts/{vhost}/start/{node}", post(cluster::start_vhost))
        .route("/api/reset", delete(cluster::reset_stats))
        .route("/api/reset/{node}", delete(cluster::reset_node_stats))
        .route(
            "/api/auth/attempts/{node}",
            get(login::attempts).delete(login::reset_attempts),
        )
        .route(
            "/api/auth/attempts/{node}/source",
            get(login::attempts_by_source).delete(login::reset_attempts),
        )
        .route("/api/auth/hash_password/{password}", get(login::hash_password))
        .route("/api/operator-policies", get(policies::operator::all))
        .route(
            "/api/operator-policies/{vhost}",
            get(policies::operator::in_vhost),
        )
        .route(
            "/api/operator-policies/{vhost}/{name}",
            get(policies::operator::one)
                .put(policies::operator::put)
                .delete(policies::operator::remove),
        )
        .route("/api/user-limits", get(limits::users_all))
        .route("/api/user-limits/{user}", get(limits::of_user))
        .route(
            "/api/user-limits/{user}/{name}",
            put(limits::put_user_limit).delete(limits::remove_user_limit),
        )
        .route("/api/aliveness-test/{vhost}", get(health::aliveness))
        .route("/api/health/checks/alarms", get(health::alarms))
        .route("/api/health/checks/local-alarms", get(health::alarms))
        .route("/api/health/checks/virtual-hosts", get(health::healthy))
        .route(
            "/api/health/checks/port-listener/{port}",
            get(health::port_listener),
        )
        .route(
            "/api/health/checks/protocol-listener/{protocol}",
            get(health::protocol_listener),
        )
        .route(
            "/api/health/checks/certificate-expiration/{within}/{unit}",
            get(health::certificate_expiration),
        )
        .route("/api/healthchecks/node", get(health::node))
        .route("/api/healthchecks/node/{node}", get(health::node))
        .route("/api/health/checks/node-is-quorum-critical", get(health::ok))
        .route("/api/health/checks/node-is-mirror-sync-critical", get(health::ok))
        .fallback(|| async { ApiError::NotFound })
        // Definitions exported from a large broker run to many megabytes;
        // bodies are only read after authentication.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), require_user))
        .with_state(state)
}

/// 201 for something new, 204 for a change, as RabbitMQ answers PUTs.
fn created(new: bool) -> axum::http::StatusCode {
    if new {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::NO_CONTENT
    }
}

fn find_vhost(state: &ApiState, name: &str) -> Result<Arc<VHost>> {
    state.broker.vhost(name).ok_or(ApiError::NotFound)
}

/// A vhost the caller may see, 404 when it does not exist.
fn visible_vhost(state: &ApiState, caller: &Caller, name: &str) -> Result<Arc<VHost>> {
    let v = find_vhost(state, name)?;
    caller.require_sees(&state.broker, name)?;
    Ok(v)
}

/// The vhost something is created in: RabbitMQ answers
/// `{"error":"not_found","reason":"vhost_not_found"}` when it is missing.
fn target_vhost(state: &ApiState, caller: &Caller, name: &str) -> Result<Arc<VHost>> {
    let v = state.broker.vhost(name).ok_or_else(ApiError::vhost_not_found)?;
    caller.require_sees(&state.broker, name)?;
    Ok(v)
}

fn find_queue(v: &VHost, name: &str) -> Result<Arc<Queue>> {
    v.queue(name).ok_or(ApiError::NotFound)
}

/// RabbitMQ names the default exchange `amq.default` in paths.
fn exchange_name(name: &str) -> &str {
    if name == "amq.default" {
        ""
    } else {
        name
    }
}

fn find_exchange(v: &VHost, name: &str) -> Result<Arc<Exchange>> {
    v.exchange(exchange_name(name)).ok_or(ApiError::NotFound)
}

/// Items of the vhosts the caller may see, in RabbitMQ's default order
/// (vhost, then name).
fn visible(state: &ApiState, caller: &Caller, vhost: Option<&str>, items: Vec<Value>) -> Vec<Value> {
    // Which vhosts the caller sees is decided once per vhost, and the sort
    // key is read once per item: looking fields up in every comparison was
    // most of the time of listing 10,000 queues.
    let mut seen: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut keyed: Vec<((String, String), Value)> = items
        .into_iter()
        .filter_map(|i| {
            let v = i["vhost"].as_str().unwrap_or("").to_string();
            let shown = vhost.is_none_or(|want| want == v)
                && *seen
                    .entry(v.clone())
                    .or_insert_with(|| caller.sees(&state.broker, &v));
            let name = i["name"].as_str().unwrap_or("").to_string();
            shown.then_some(((v, name), i))
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// A listing over one vhost or all: `items` gives a vhost's objects as
/// JSON; the caller sees those of the vhosts it may see, filtered, sorted
/// and paged by the list parameters.
fn listing(
    s: &ApiState,
    caller: &Caller,
    vhost: Option<&str>,
    p: &crate::listing::ListParams,
    items: impl Fn(&VHost) -> Vec<Value>,
) -> Result<axum::Json<Value>> {
    let all = vhosts_of(s, caller, vhost)?
        .iter()
        .flat_map(|v| items(v))
        .collect();
    p.apply(visible(s, caller, vhost, all))
}

/// The vhosts a listing covers: one (checked) or all.
fn vhosts_of(state: &ApiState, caller: &Caller, vhost: Option<&str>) -> Result<Vec<Arc<VHost>>> {
    match vhost {
        Some(name) => Ok(vec![visible_vhost(state, caller, name)?]),
        None => Ok(state.broker.vhosts()),
    }
}
