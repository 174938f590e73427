//! Prometheus metrics with rabbitmq_prometheus's names, so existing
//! dashboards work: `/metrics` (aggregated) and `/metrics/per-object`
//! (per queue, labelled `vhost` and `queue`). Built fresh on each scrape
//! from the broker's counters; no queue lock is held longer than a read.

use std::sync::atomic::Ordering;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warren_broker::system::{free_disk, resident_bytes};

use crate::ApiState;

type Labels = Vec<(String, String)>;

/// A label value in the text format's escaping (`\\`, `\"`, `\n`):
/// prometheus-client writes label values as they are, and queue names are
/// chosen by clients.
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The metrics text for one scrape.
pub fn render(state: &ApiState, per_object: bool) -> String {
    let mut reg = Registry::default();
    let gauge = |reg: &mut Registry, name: &str, help: &str, v: i64| {
        let g: Gauge = Gauge::default();
        g.set(v);
        reg.register(name, help, g);
    };
    let counter = |reg: &mut Registry, name: &str, help: &str, v: u64| {
        let c: Counter = Counter::default();
        c.inc_by(v);
        reg.register(name, help, c);
    };
    let queues: Vec<_> = state.broker.vhosts().iter().flat_map(|v| v.queues()).collect();
    let (mut ready, mut unacked, mut consumers) = (0i64, 0i64, 0i64);
    let [_, delivered, acked, ..] = state.broker.queue_totals();
    let fam = || Family::<Labels, Gauge>::default();
    let (q_msgs, q_ready, q_unacked, q_consumers) = (fam(), fam(), fam(), fam());
    for q in &queues {
        let (r, u, c) = (
            i64::from(q.message_count()),
            q.unacked_count() as i64,
            i64::from(q.consumer_count()),
        );
        ready += r;
        unacked += u;
        consumers += c;
        if per_object {
            let labels = vec![
                ("vhost".to_string(), escape_label(&q.vhost)),
                ("queue".to_string(), escape_label(&q.name)),
            ];
            q_msgs.get_or_create(&labels).set(r + u);
            q_ready.get_or_create(&labels).set(r);
            q_unacked.get_or_create(&labels).set(u);
            q_consumers.get_or_create(&labels).set(c);
        }
    }
    if per_object {
        reg.register(
            "rabbitmq_queue_messages",
            "Ready and unacknowledged messages",
            q_msgs,
        );
        reg.register(
            "rabbitmq_queue_messages_ready",
            "Messages ready to be delivered",
            q_ready,
        );
        reg.register(
            "rabbitmq_queue_messages_unacked",
            "Messages delivered but not acknowledged",
            q_unacked,
        );
        reg.register("rabbitmq_queue_consumers", "Consumers on a queue", q_consumers);
    } else {
        gauge(
            &mut reg,
            "rabbitmq_queue_messages",
            "Ready and unacknowledged messages",
            ready + unacked,
        );
        gauge(
            &mut reg,
            "rabbitmq_queue_messages_ready",
            "Messages ready to be delivered",
            ready,
        );
        gauge(
            &mut reg,
            "rabbitmq_queue_messages_unacked",
            "Messages delivered but not acknowledged",
            unacked,
        );
        gauge(
            &mut reg,
            "rabbitmq_queue_consumers",
            "Consumers on queues",
            consumers,
        );
    }
    gauge(
        &mut reg,
        "rabbitmq_queues",
        "Queues available",
        queues.len() as i64,
    );
    counter(
        &mut reg,
        "rabbitmq_global_messages_delivered",
        "Messages delivered to consumers (all queues)",
        delivered,
    );
    counter(
        &mut reg,
        "rabbitmq_global_messages_acknowledged",
        "Messages acknowledged by consumers (all queues)",
        acked,
    );
    let connections = state.broker.connections.list();
    gauge(
        &mut reg,
        "rabbitmq_connections",
        "Connections currently open",
        connections.len() as i64,
    );
    gauge(
        &mut reg,
        "rabbitmq_channels",
        "Channels currently open",
        connections.iter().map(|c| i64::from(c.channel_count())).sum(),
    );
    gauge(
        &mut reg,
        "rabbitmq_consumers",
        "Consumers currently connected",
        consumers,
    );
    let g = &state.broker.stats;
    for (name, help, v) in [
        ("rabbitmq_global_messages_received", "Total number of messages received from publishers", &g.received),
        ("rabbitmq_global_messages_confirmed", "Total number of messages confirmed to publishers", &g.confirmed),
        ("rabbitmq_global_messages_routed", "Total number of messages routed to queues or streams", &g.routed),
        (
            "rabbitmq_global_messages_unroutable_dropped",
            "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
            &g.unroutable_dropped,
        ),
        (
            "rabbitmq_global_messages_unroutable_returned",
            "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable",
            &g.unroutable_returned,
        ),
    ] {
        counter(&mut reg, name, help, v.load(Ordering::Relaxed));
    }
    gauge(
        &mut reg,
        "rabbitmq_process_resident_memory_bytes",
        "Memory used in bytes",
        resident_bytes() as i64,
    );
    if let Some(free) = free_disk(&state.data_dir) {
        gauge(
            &mut reg,
            "rabbitmq_disk_space_available_bytes",
            "Disk space available in bytes",
            free as i64,
        );
    }
    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        tracing::error!("cannot encode metrics");
    }
    out
}

/// Serves `/metrics` and `/metrics/per-object` (no authentication, as
/// rabbitmq_prometheus) until `shutdown`.
pub async fn serve(listener: TcpListener, state: ApiState, shutdown: CancellationToken) {
    let text =
        |body: String| ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response();
    let s1 = state.clone();
    let app = Router::new()
        .route("/metrics", get(move || async move { text(render(&s1, false)) }))
        .route(
            "/metrics/per-object",
            get(move || async move { text(render(&state, true)) }),
        );
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    {
        tracing::error!("metrics endpoint stopped: {e}");
    }
}
