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
use tokio_util::sync::CancellationToken;
use warren_broker::stats::{GlobalStats, Protocol};
use warren_broker::system::{free_disk, max_open_files, open_files, resident_bytes};

use crate::routes::overview::{NODE, RABBITMQ_VERSION};

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
    let (mut ready_bytes, mut unacked_bytes) = (0i64, 0i64);
    let totals = state.broker.queue_totals();
    // Deleted queues' counts stay in these totals, so the counters never
    // go down.
    let [published, delivered, acked, deliver, deliver_no_ack, get, get_no_ack, get_empty, redeliver] =
        totals;
    let fam = || Family::<Labels, Gauge>::default();
    let (q_msgs, q_ready, q_unacked, q_consumers) = (fam(), fam(), fam(), fam());
    // The memory breakdown's queues are counted in the same pass.
    let mut counted = state.broker.memory_counted_but_queues();
    for q in &queues {
        let held = q.gauges();
        counted.add_queue(q.args.queue_type, &held);
        let (r, u, c) = (
            i64::from(held.ready),
            held.unacked as i64,
            i64::from(held.consumers),
        );
        ready += r;
        unacked += u;
        consumers += c;
        ready_bytes += held.ready_bytes as i64;
        unacked_bytes += held.unacked_bytes as i64;
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
        "warren_tls_connections",
        "Connections currently open over TLS (AMQPS)",
        connections.iter().filter(|c| c.tls.is_some()).count() as i64,
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
    for (name, help, v) in [
        (
            "rabbitmq_queue_messages_bytes",
            "Size in bytes of ready and unacknowledged messages",
            ready_bytes + unacked_bytes,
        ),
        (
            "rabbitmq_queue_messages_ready_bytes",
            "Size in bytes of ready messages",
            ready_bytes,
        ),
        (
            "rabbitmq_queue_messages_unacked_bytes",
            "Size in bytes of all unacknowledged messages",
            unacked_bytes,
        ),
    ] {
        gauge(&mut reg, name, help, v);
    }
    counter(
        &mut reg,
        "rabbitmq_queue_messages_published",
        "Total number of messages published to queues",
        published,
    );
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    for (name, help, v) in [
        ("rabbitmq_global_messages_received_confirm", "Total number of messages received from publishers expecting confirmations", load(&g.received_confirm)),
        ("rabbitmq_global_messages_delivered_consume_manual_ack", "Total number of messages delivered to consumers using basic.consume with manual acknowledgment", deliver),
        ("rabbitmq_global_messages_delivered_consume_auto_ack", "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment", deliver_no_ack),
        ("rabbitmq_global_messages_delivered_get_manual_ack", "Total number of messages delivered to consumers using basic.get with manual acknowledgment", get),
        ("rabbitmq_global_messages_delivered_get_auto_ack", "Total number of messages delivered to consumers using basic.get with automatic acknowledgment", get_no_ack),
        ("rabbitmq_global_messages_get_empty", "Total number of times basic.get operations fetched no message", get_empty),
        ("rabbitmq_global_messages_redelivered", "Total number of messages redelivered to consumers", redeliver),
        ("rabbitmq_connections_opened", "Total number of connections opened", load(&g.connections_opened)),
        ("rabbitmq_connections_closed", "Total number of connections closed or terminated", load(&g.connections_closed)),
        ("warren_tls_handshake_failures", "TLS handshakes that failed or timed out", load(&g.tls_handshake_failures)),
        ("rabbitmq_channels_opened", "Total number of channels opened", load(&g.channels_opened)),
        ("rabbitmq_channels_closed", "Total number of channels closed", load(&g.channels_closed)),
        ("rabbitmq_queues_declared", "Total number of queues declared", load(&g.queues_declared)),
        ("rabbitmq_queues_created", "Total number of queues created", load(&g.queues_created)),
        ("rabbitmq_queues_deleted", "Total number of queues deleted", load(&g.queues_deleted)),
    ] {
        counter(&mut reg, name, help, v);
    }
    dead_letter_metrics(&mut reg, g);
    auth_metrics(&mut reg, g);
    let publishers = connections
        .iter()
        .flat_map(|c| {
            c.channel_views
                .lock()
                .values()
                .map(|v| v.info())
                .collect::<Vec<_>>()
        })
        .filter(|i| i.counts[0] > 0)
        .count();
    gauge(
        &mut reg,
        "rabbitmq_global_publishers",
        "Current number of publishers",
        publishers as i64,
    );
    gauge(
        &mut reg,
        "rabbitmq_global_consumers",
        "Current number of consumers",
        consumers,
    );
    let raised = state.alarms.raised();
    for (name, help, on) in [
        (
            "rabbitmq_alarms_memory_used_watermark",
            "is 1 if VM memory watermark alarm is in effect",
            raised.contains(&"memory"),
        ),
        (
            "rabbitmq_alarms_free_disk_space_watermark",
            "is 1 if free disk space watermark alarm is in effect",
            raised.contains(&"disk"),
        ),
        (
            "rabbitmq_alarms_file_descriptor_limit",
            "is 1 if file descriptor limit alarm is in effect",
            false,
        ),
    ] {
        gauge(&mut reg, name, help, i64::from(on));
    }
    let fds = max_open_files() as i64;
    for (name, help, v) in [
        (
            "rabbitmq_process_open_fds",
            "Open file descriptors",
            open_files() as i64,
        ),
        ("rabbitmq_process_max_fds", "Open file descriptors limit", fds),
        (
            "rabbitmq_process_open_tcp_sockets",
            "Open TCP sockets",
            connections.len() as i64,
        ),
        ("rabbitmq_process_max_tcp_sockets", "Open TCP sockets limit", fds),
        (
            "rabbitmq_resident_memory_limit_bytes",
            "Memory high watermark in bytes",
            state.mem_limit as i64,
        ),
        (
            "rabbitmq_disk_space_available_limit_bytes",
            "Free disk space low watermark in bytes",
            state.disk_free_limit as i64,
        ),
    ] {
        gauge(&mut reg, name, help, v);
    }
    let uptime: prometheus_client::metrics::gauge::Gauge<f64, std::sync::atomic::AtomicU64> =
        Default::default();
    uptime.set(state.started.elapsed().as_secs_f64());
    reg.register("rabbitmq_erlang_uptime_seconds", "Node uptime", uptime);
    let cluster_name = state.broker.parameters.cluster_name();
    info(
        &mut reg,
        "rabbitmq_identity_info",
        "RabbitMQ node & cluster identity info",
        &[
            ("rabbitmq_node", NODE),
            ("rabbitmq_cluster", &cluster_name),
            ("rabbitmq_cluster_permanent_id", &state.cluster_id),
        ],
    );
    info(
        &mut reg,
        "rabbitmq_build_info",
        "RabbitMQ & Erlang/OTP version info",
        &[
            ("rabbitmq_version", RABBITMQ_VERSION),
            ("prometheus_plugin_version", RABBITMQ_VERSION),
            ("prometheus_client_version", "n/a"),
            ("erlang_version", "n/a"),
            ("product_version", state.product_version),
        ],
    );
    gauge(
        &mut reg,
        "rabbitmq_process_resident_memory_bytes",
        "Memory used in bytes",
        resident_bytes() as i64,
    );
    let memory = crate::routes::overview::breakdown_of(state, counted);
    memory_metrics(&mut reg, &memory);
    gauge(
        &mut reg,
        "warren_allocator_allocated_bytes",
        "Bytes in live allocations",
        memory.allocated as i64,
    );
    gauge(
        &mut reg,
        "warren_allocator_resident_bytes",
        "Bytes the allocator holds resident, freed memory not yet returned included",
        memory.allocator_resident as i64,
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

/// Warren's memory breakdown (as `/api/nodes/{node}/memory`), one gauge
/// per category.
fn memory_metrics(reg: &mut Registry, b: &warren_broker::memory::Breakdown) {
    let fam = Family::<Labels, Gauge>::default();
    for (category, bytes) in &b.categories {
        fam.get_or_create(&vec![("category".to_string(), category.to_string())])
            .set(*bytes as i64);
    }
    reg.register(
        "warren_memory_bytes",
        "Resident memory by category, as /api/nodes/{node}/memory",
        fam,
    );
}

/// A constant 1 labelled with facts, as rabbitmq_prometheus's `*_info`
/// metrics: dashboards join every query on `rabbitmq_identity_info`. A
/// gauge, because the 0.0.4 text format has no info type.
fn info(reg: &mut Registry, name: &str, help: &str, labels: &[(&str, &str)]) {
    let fam = Family::<Labels, Gauge>::default();
    let labels: Labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), escape_label(v)))
        .collect();
    fam.get_or_create(&labels).set(1);
    reg.register(name, help, fam);
}

/// rabbitmq_global_messages_dead_lettered_*_total by queue type and
/// dead-letter strategy (`at_most_once` to an exchange, `disabled`: dropped).
fn dead_letter_metrics(reg: &mut Registry, g: &GlobalStats) {
    use warren_broker::queue::DeathReason;
    for (reason, metric, help) in [
        (DeathReason::Rejected, "rejected", "rejected by consumers"),
        (
            DeathReason::Expired,
            "expired",
            "dead-lettered because of message TTL",
        ),
        (
            DeathReason::Maxlen,
            "maxlen",
            "dead-lettered because of queue length limits",
        ),
        (
            DeathReason::DeliveryLimit,
            "delivery_limit",
            "dead-lettered because of the delivery limit",
        ),
    ] {
        let fam = Family::<Labels, Counter>::default();
        for (quorum, queue_type) in [(false, "rabbit_classic_queue"), (true, "rabbit_quorum_queue")] {
            for (to_exchange, strategy) in [(true, "at_most_once"), (false, "disabled")] {
                let n = g.dead_lettered[GlobalStats::dead_letter_index(quorum, reason, to_exchange)]
                    .load(Ordering::Relaxed);
                let labels = vec![
                    ("queue_type".to_string(), queue_type.to_string()),
                    ("dead_letter_strategy".to_string(), strategy.to_string()),
                ];
                fam.get_or_create(&labels).inc_by(n);
            }
        }
        reg.register(
            format!("rabbitmq_global_messages_dead_lettered_{metric}"),
            format!("Total number of messages {help}"),
            fam,
        );
    }
}

/// rabbitmq_auth_attempts_*_total by protocol.
fn auth_metrics(reg: &mut Registry, g: &GlobalStats) {
    let (total, ok, failed) = (
        Family::<Labels, Counter>::default(),
        Family::<Labels, Counter>::default(),
        Family::<Labels, Counter>::default(),
    );
    for (protocol, name) in [(Protocol::Amqp, "amqp091"), (Protocol::Http, "http")] {
        let labels = vec![("protocol".to_string(), name.to_string())];
        let succeeded = g.logins[GlobalStats::login_index(protocol, true)].load(Ordering::Relaxed);
        let refused = g.logins[GlobalStats::login_index(protocol, false)].load(Ordering::Relaxed);
        total.get_or_create(&labels).inc_by(succeeded + refused);
        ok.get_or_create(&labels).inc_by(succeeded);
        failed.get_or_create(&labels).inc_by(refused);
    }
    reg.register(
        "rabbitmq_auth_attempts",
        "Total number of authentication attempts",
        total,
    );
    reg.register(
        "rabbitmq_auth_attempts_succeeded",
        "Total number of successful authentication attempts",
        ok,
    );
    reg.register(
        "rabbitmq_auth_attempts_failed",
        "Total number of failed authentication attempts",
        failed,
    );
}

/// Serves `/metrics` and `/metrics/per-object` (no authentication, as
/// rabbitmq_prometheus) until `shutdown`.
/// Serves on a plain TCP listener or an HTTPS one (any axum listener with
/// socket addresses).
pub async fn serve<L>(listener: L, state: ApiState, shutdown: CancellationToken)
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    // tap_io: axum gives ConnectInfo<SocketAddr> for a tapped listener of
    // any kind, and the loopback rule needs the peer's address.
    let listener = axum::serve::ListenerExt::tap_io(listener, |_| ());
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
