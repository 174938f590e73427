//! `/api/overview`, `/api/nodes`, `/api/whoami`, `/api/extensions`.

use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{json, Value};
use warren_broker::system::{free_disk, resident_bytes, total_memory};

use super::Result;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ApiState;

pub const NODE: &str = "warren@localhost";

pub async fn overview(State(s): State<ApiState>, Extension(caller): Extension<Caller>) -> Json<Value> {
    let (mut queues, mut exchanges, mut consumers) = (0u64, 0u64, 0u64);
    let (mut ready, mut unacked) = (0u64, 0u64);
    let mut published = 0u64;
    for v in s.broker.vhosts() {
        if !caller.sees(&s.broker, &v.name) {
            continue;
        }
        exchanges += v.exchanges().len() as u64;
        for q in v.queues() {
            queues += 1;
            consumers += u64::from(q.consumer_count());
            ready += u64::from(q.message_count());
            unacked += q.unacked_count() as u64;
            published += q.stats.published.load(Ordering::Relaxed);
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
    let (delivered, acked) = s.broker.queue_totals();
    let counts = [
        g.received.load(Ordering::Relaxed),
        g.confirmed.load(Ordering::Relaxed),
        delivered,
        acked,
    ];
    let rates = s.broker.rates.rates(counts);
    let mut stats =
        crate::json::message_stats(&["publish", "confirm", "deliver_get", "ack"], &counts, &rates);
    stats["return_unroutable"] = Value::from(g.unroutable_returned.load(Ordering::Relaxed));
    stats["drop_unroutable"] = Value::from(g.unroutable_dropped.load(Ordering::Relaxed));
    stats["publish_in"] = Value::from(published);
    let exchange_types: Vec<Value> = ["direct", "fanout", "topic", "headers", "x-delayed-message"]
        .iter()
        .map(|t| json!({"name": t, "description": "", "enabled": true}))
        .collect();
    Json(json!({
        "management_version": s.product_version,
        "rabbitmq_version": s.product_version,
        "product_name": "Warren",
        "product_version": s.product_version,
        "rates_mode": "basic",
        "cluster_name": "warren",
        "node": NODE,
        "erlang_version": "n/a",
        "exchange_types": exchange_types,
        "listeners": listeners,
        "object_totals": {
            "queues": queues, "exchanges": exchanges, "consumers": consumers,
            "connections": connections.len(), "channels": channels,
        },
        "queue_totals": {"messages": ready + unacked, "messages_ready": ready, "messages_unacknowledged": unacked},
        "message_stats": stats,
    }))
}

fn node_json(s: &ApiState) -> Value {
    let disk_free = free_disk(&s.data_dir).unwrap_or(0);
    json!({
        "name": NODE,
        "type": "disc",
        "running": true,
        "being_drained": false,
        "mem_used": resident_bytes(),
        "mem_limit": total_memory(),
        "mem_alarm": s.alarms.raised().contains(&"memory"),
        "disk_free": disk_free,
        "disk_free_alarm": s.alarms.raised().contains(&"disk"),
        "uptime": s.started.elapsed().as_millis() as u64,
        "processors": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "os_pid": std::process::id().to_string(),
        "applications": [{"name": "warren", "description": "Warren", "version": s.product_version}],
    })
}

pub async fn nodes(State(s): State<ApiState>, Extension(caller): Extension<Caller>) -> Result<Json<Value>> {
    caller.require_monitor()?;
    Ok(Json(json!([node_json(&s)])))
}

pub async fn node(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    caller.require_monitor()?;
    if name != NODE {
        return Err(ApiError::NotFound);
    }
    Ok(Json(node_json(&s)))
}

pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(json!({"name": caller.name(), "tags": caller.0.tags}))
}

pub async fn extensions() -> Json<Value> {
    Json(json!([]))
}
