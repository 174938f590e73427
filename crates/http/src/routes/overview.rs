//! `/api/overview`, `/api/nodes`, `/api/whoami`, `/api/extensions`.

use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde_json::{json, Value};
use warren_broker::memory::{Breakdown, Counted};
use warren_broker::queue::QueueStats;
use warren_broker::system::{free_disk, max_open_files, open_files, resident_bytes};

use super::Result;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::listing::ListParams;
use crate::ApiState;

pub const NODE: &str = "warren@localhost";

/// The RabbitMQ release whose management API Warren answers as
/// (`rabbitmq_version`, `management_version`, definitions'
/// `rabbit_version`): tools gate features on it. `product_name` and
/// `product_version` say what the broker really is.
pub const RABBITMQ_VERSION: &str = "3.13.7";

pub async fn overview(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Json<Value> {
    let (mut queues, mut exchanges, mut consumers) = (0u64, 0u64, 0u64);
    let (mut ready, mut unacked) = (0u64, 0u64);
    // The broker's depth too, whoever asks: the depth rates are measured on
    // it (one meter fed with each caller's visible totals would jump).
    let (mut all_ready, mut all_unacked) = (0u64, 0u64);
    for v in s.broker.vhosts() {
        let visible = caller.sees(&s.broker, &v.name);
        if visible {
            exchanges += v.exchanges().len() as u64;
        }
        for q in v.queues() {
            let held = q.gauges();
            let (r, u) = (u64::from(held.ready), held.unacked as u64);
            all_ready += r;
            all_unacked += u;
            if visible {
                queues += 1;
                consumers += u64::from(held.consumers);
                ready += r;
                unacked += u;
            }
        }
    }
    let connections = s.broker.connections.list();
    let channels: u64 = connections.iter().map(|c| u64::from(c.channel_count())).sum();
    let listeners: Vec<Value> = s
        .listeners
        .iter()
        .map(|(protocol, port)| json!({"node": NODE, "protocol": protocol, "ip_address": "::", "port": port}))
        .collect();
    // Message counts and rates are the broker's (Warren keeps no per-vhost
    // history); object and queue totals are the caller's vhosts'.
    let g = &s.broker.stats;
    // The queues' counters but their `publish` (messages routed into
    // queues): the broker's publish counts messages received.
    let [_, deliveries @ ..] = s.broker.queue_totals();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let mut counts = [0u64; 12];
    counts[0] = load(&g.received);
    counts[1] = load(&g.confirmed);
    counts[2..10].copy_from_slice(&deliveries);
    counts[10] = load(&g.unroutable_returned);
    counts[11] = load(&g.unroutable_dropped);
    let mut names = vec!["publish", "confirm"];
    names.extend(&QueueStats::STATS[1..]);
    names.extend(["return_unroutable", "drop_unroutable"]);
    let rates = s.broker.rates.rates(counts);
    let [messages_rate, ready_rate, unacked_rate] =
        s.broker
            .depth_rates
            .gauge_rates([all_ready + all_unacked, all_ready, all_unacked]);
    let queue_totals = json!({
        "messages": ready + unacked, "messages_details": {"rate": messages_rate},
        "messages_ready": ready, "messages_ready_details": {"rate": ready_rate},
        "messages_unacknowledged": unacked, "messages_unacknowledged_details": {"rate": unacked_rate},
    });
    let stats = crate::json::message_stats(&names, &counts, &rates);
    p.project_one(json!({
        "management_version": RABBITMQ_VERSION,
        "rabbitmq_version": RABBITMQ_VERSION,
        "product_name": "Warren",
        "product_version": s.product_version,
        "rates_mode": "basic",
        // RabbitMQ 3.13's switches: statistics are on, operator policies
        // may change, queue totals are not asked to be computed apart.
        "disable_stats": false,
        "enable_queue_totals": false,
        "is_op_policy_updating_enabled": true,
        "cluster_name": s.broker.parameters.cluster_name(),
        "node": NODE,
        "erlang_version": "n/a",
        "exchange_types": exchange_types(),
        "listeners": listeners,
        "object_totals": {
            "queues": queues, "exchanges": exchanges, "consumers": consumers,
            "connections": connections.len(), "channels": channels,
        },
        "queue_totals": queue_totals,
        "message_stats": stats,
    }))
}

fn exchange_types() -> Vec<Value> {
    [
        ("direct", "AMQP direct exchange, as per the AMQP specification"),
        ("fanout", "AMQP fanout exchange, as per the AMQP specification"),
        ("topic", "AMQP topic exchange, as per the AMQP specification"),
        ("headers", "AMQP headers exchange, as per the AMQP specification"),
        ("x-delayed-message", "Delayed message exchange"),
    ]
    .iter()
    .map(|(name, description)| json!({"name": name, "description": description, "enabled": true}))
    .collect()
}

fn node_json(s: &ApiState) -> Value {
    let disk_free = free_disk(&s.data_dir).unwrap_or(0);
    let fd_total = max_open_files();
    // What Warren has in place of RabbitMQ's management and Prometheus
    // plugins, for tools that look for them.
    let mut plugins = vec!["rabbitmq_management"];
    if s.listeners.iter().any(|(p, _)| *p == "http/prometheus") {
        plugins.push("rabbitmq_prometheus");
    }
    json!({
        "name": NODE,
        "type": "disc",
        "running": true,
        "being_drained": false,
        "partitions": [],
        "mem_used": resident_bytes(),
        "mem_limit": s.mem_limit,
        "mem_alarm": s.alarms.raised().contains(&"memory"),
        "mem_calculation_strategy": "rss",
        "disk_free": disk_free,
        "disk_free_limit": s.disk_free_limit,
        "disk_free_alarm": s.alarms.raised().contains(&"disk"),
        "fd_used": open_files(),
        "fd_total": fd_total,
        "sockets_used": s.broker.connections.len(),
        "sockets_total": fd_total,
        "uptime": s.started.elapsed().as_millis() as u64,
        "processors": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "os_pid": std::process::id().to_string(),
        "rates_mode": "basic",
        // RabbitMQ 3.13's switches: statistics are on, operator policies
        // may change, queue totals are not asked to be computed apart.
        "disable_stats": false,
        "enable_queue_totals": false,
        "is_op_policy_updating_enabled": true,
        "db_dir": s.data_dir.display().to_string(),
        "exchange_types": exchange_types(),
        "auth_mechanisms": [
            {"name": "PLAIN", "description": "SASL PLAIN authentication mechanism", "enabled": true},
            {"name": "AMQPLAIN", "description": "QPid AMQPLAIN mechanism", "enabled": true},
        ],
        "enabled_plugins": plugins,
        "applications": [{"name": "warren", "description": "Warren", "version": s.product_version}],
    })
}

pub async fn nodes(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>> {
    caller.require_monitor()?;
    p.apply(vec![node_json(&s)])
}

/// A monitoring user asking about this node (there is only this one).
fn this_node(caller: &Caller, name: &str) -> Result<()> {
    caller.require_monitor()?;
    if name != NODE {
        return Err(ApiError::NotFound);
    }
    Ok(())
}

#[derive(serde::Deserialize)]
pub struct NodeParams {
    #[serde(default)]
    memory: bool,
}

pub async fn node(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(p): Query<ListParams>,
    Query(extra): Query<NodeParams>,
) -> Result<Json<Value>> {
    this_node(&caller, &name)?;
    let mut node = node_json(&s);
    if extra.memory {
        // As RabbitMQ's `?memory=true`: the breakdown inside the node.
        node["memory"] = memory_json(&memory_breakdown(&s));
    }
    Ok(p.project_one(node))
}

/// Where the node's memory is, by category (see `warren_broker::memory`).
pub fn memory_breakdown(s: &ApiState) -> Breakdown {
    breakdown_of(s, s.broker.memory_counted())
}

/// The breakdown, with what Warren counted itself.
pub fn breakdown_of(s: &ApiState, counted: Counted) -> Breakdown {
    Breakdown::new(resident_bytes(), counted, (s.allocator)())
}

fn memory_json(b: &Breakdown) -> Value {
    let mut m: serde_json::Map<String, Value> = b
        .categories
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    m.insert("strategy".into(), json!("rss"));
    // RabbitMQ's `erlang` is what its runtime has allocated; Warren's
    // allocator answers the same question.
    m.insert(
        "total".into(),
        json!({"erlang": b.allocated, "rss": b.rss, "allocated": b.allocator_resident}),
    );
    Value::Object(m)
}

/// `/api/nodes/{node}/memory`: bytes per category.
pub async fn node_memory(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    this_node(&caller, &name)?;
    Ok(Json(json!({"memory": memory_json(&memory_breakdown(&s))})))
}

/// `/api/nodes/{node}/memory/relative`: whole percentages of the total,
/// as RabbitMQ rounds them (a category that holds anything shows at
/// least 1).
pub async fn node_memory_relative(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    this_node(&caller, &name)?;
    let b = memory_breakdown(&s);
    let total = b.rss.max(1);
    let mut m = serde_json::Map::new();
    m.insert("total".into(), json!(100));
    for (k, v) in &b.categories {
        let pct = match v * 100 / total {
            0 if *v > 0 => 1,
            p => p,
        };
        m.insert(k.to_string(), json!(pct));
    }
    Ok(Json(json!({"memory": m})))
}

pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({"name": caller.name(), "tags": caller.0.tags}))
}

pub async fn extensions() -> Json<Value> {
    Json(json!([]))
}
