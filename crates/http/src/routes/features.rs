//! `/api/feature-flags` and `/api/deprecated-features`: RabbitMQ 3.13.7's
//! lists, with Warren's answer for each.
//!
//! Clients and upgrade tools read feature flags to decide what a broker can
//! do, so a flag is `enabled` only where Warren behaves as RabbitMQ does
//! with it on; flags for features Warren lacks (streams, classic queue
//! mirroring, maintenance mode, quorum queue membership, Khepri) are
//! `disabled` and cannot be enabled.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::Result;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::ApiState;

/// One feature flag of RabbitMQ 3.13.7 (with only the management plugin,
/// as Warren's API is): name, desc, doc_url, stability, provided_by, and
/// whether what the flag stands for is what Warren does.
type Flag = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
);

/// Sorted by name, as RabbitMQ lists them.
#[rustfmt::skip]
const FLAGS: &[Flag] = &[
    // No classic queue mirroring in Warren.
    ("classic_mirrored_queue_version", "Support setting version for classic mirrored queues", "", "required", "rabbit", false),
    ("classic_queue_type_delivery_support", "Bug fix for classic queue deliveries using mixed versions", "https://github.com/rabbitmq/rabbitmq-server/issues/5931", "required", "rabbit", true),
    // `/api/queues/detailed`, and the reduced `/api/queues`.
    ("detailed_queues_endpoint", "Add a detailed queues HTTP API endpoint. Reduce number of metrics in the default endpoint.", "", "stable", "rabbitmq_management", true),
    ("direct_exchange_routing_v2", "v2 direct exchange routing implementation", "", "required", "rabbit", true),
    ("drop_unroutable_metric", "Count unroutable publishes to be dropped in stats", "", "required", "rabbitmq_management_agent", true),
    ("empty_basic_get_metric", "Count AMQP `basic.get` on empty queues in stats", "", "required", "rabbitmq_management_agent", true),
    ("feature_flags_v2", "Feature flags subsystem V2", "", "required", "rabbit", true),
    // The default exchange's bindings are implicit (listed, never stored).
    ("implicit_default_bindings", "Default bindings are now implicit, instead of being stored in the database", "", "required", "rabbit", true),
    ("khepri_db", "Use the new Khepri Raft-based metadata store", "", "experimental", "rabbit", false),
    ("listener_records_in_ets", "Store listener records in ETS instead of Mnesia", "", "required", "rabbit", true),
    // No maintenance mode (drain) yet.
    ("maintenance_mode_status", "Maintenance mode status", "", "required", "rabbit", false),
    ("message_containers", "Message containers.", "", "stable", "rabbit", true),
    // Dead-letter cycles are detected from x-death as RabbitMQ 3.13 does.
    ("message_containers_deaths_v2", "Bug fix for dead letter cycle detection", "https://github.com/rabbitmq/rabbitmq-server/issues/11159", "stable", "rabbit", true),
    ("quorum_queue", "Support queues of type `quorum`", "https://www.rabbitmq.com/quorum-queues.html", "required", "rabbit", true),
    // A single node: quorum queues have no other members yet.
    ("quorum_queue_non_voters", "Allows new quorum queue members to be added as non voters initially.", "", "stable", "rabbit", false),
    ("restart_streams", "Support for restarting streams with optional preferred next leader argument.Used to implement stream leader rebalancing", "", "stable", "rabbit", false),
    ("stream_filtering", "Support for stream filtering.", "", "stable", "rabbit", false),
    ("stream_queue", "Support queues of type `stream`", "https://www.rabbitmq.com/stream.html", "required", "rabbit", false),
    ("stream_sac_coordinator_unblock_group", "Bug fix to unblock a group of consumers in a super stream partition", "https://github.com/rabbitmq/rabbitmq-server/issues/7743", "stable", "rabbit", false),
    ("stream_single_active_consumer", "Single active consumer for streams", "https://www.rabbitmq.com/stream.html", "required", "rabbit", false),
    ("stream_update_config_command", "A new internal command that is used to update streams as part of a policy.", "", "stable", "rabbit", false),
    ("tracking_records_in_ets", "Store tracking records in ETS instead of Mnesia", "", "required", "rabbit", true),
    ("user_limits", "Configure connection and channel limits for a user", "", "required", "rabbit", true),
    ("virtual_host_metadata", "Virtual host metadata (description, tags, etc)", "", "required", "rabbit", true),
];

/// Any management user may list them (3.13; 3.10 asked for administrator).
pub async fn flags() -> Json<Value> {
    Json(
        FLAGS
            .iter()
            .map(|&(name, desc, doc_url, stability, provided_by, warren_has_it)| {
                let state = if warren_has_it { "enabled" } else { "disabled" };
                json!({
                    "name": name, "desc": desc, "doc_url": doc_url,
                    "state": state, "stability": stability, "provided_by": provided_by,
                })
            })
            .collect(),
    )
}

/// `PUT /api/feature-flags/{name}/enable`: 204 for a flag that is on (all
/// of Warren's are, from the start); an unknown flag is RabbitMQ's
/// `unsupported`; a flag for a feature Warren lacks cannot be turned on.
pub async fn enable(
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin()?;
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !json_body {
        // RabbitMQ's handler accepts only JSON: 415 with an empty body.
        return Ok(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    match FLAGS.iter().find(|f| f.0 == name) {
        None => Err(ApiError::BadRequest("unsupported".into())),
        Some(&(.., true)) => Ok(StatusCode::NO_CONTENT),
        Some(_) => Err(ApiError::BadRequest(format!(
            "feature flag {name} cannot be enabled: Warren does not implement it yet"
        ))),
    }
}

/// RabbitMQ 3.13.7's deprecated features; all still permitted by default.
#[rustfmt::skip]
const DEPRECATED: &[(&str, &str, &str)] = &[
    ("classic_queue_mirroring", "https://blog.rabbitmq.com/posts/2021/08/4.0-deprecation-announcements/#removal-of-classic-queue-mirroring", "rabbit"),
    ("global_qos", "https://blog.rabbitmq.com/posts/2021/08/4.0-deprecation-announcements/#removal-of-global-qos", "rabbit"),
    ("management_metrics_collection", "https://blog.rabbitmq.com/posts/2021/08/4.0-deprecation-announcements/#disable-metrics-delivery-via-the-management-api--ui", "rabbitmq_management_agent"),
    ("ram_node_type", "https://blog.rabbitmq.com/posts/2021/08/4.0-deprecation-announcements/#removal-of-ram-nodes", "rabbit"),
    ("transient_nonexcl_queues", "https://blog.rabbitmq.com/posts/2021/08/4.0-deprecation-announcements/#removal-of-transient-non-exclusive-queues", "rabbit"),
];

fn deprecated_json(only: impl Fn(&str) -> bool) -> Json<Value> {
    Json(
        DEPRECATED
            .iter()
            .filter(|(name, ..)| only(name))
            .map(|(name, doc_url, provided_by)| {
                json!({
                    "name": name, "desc": "", "deprecation_phase": "permitted_by_default",
                    "doc_url": doc_url, "provided_by": provided_by,
                })
            })
            .collect(),
    )
}

pub async fn deprecated() -> Json<Value> {
    deprecated_json(|_| true)
}

/// As in RabbitMQ 3.13, only classic queue mirroring knows whether it is
/// used: a policy or operator policy sets `ha-mode` (Warren accepts and
/// ignores it, so it is worth an operator's notice).
pub async fn deprecated_used(State(s): State<ApiState>) -> Json<Value> {
    let mirroring = s.broker.vhosts().iter().any(|v| {
        v.policies()
            .iter()
            .chain(v.operator_policies().iter())
            .any(|p| p.definition.contains_key("ha-mode"))
    });
    deprecated_json(|name| mirroring && name == "classic_queue_mirroring")
}
