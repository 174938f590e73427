//! AMQP values and broker objects in RabbitMQ's JSON shapes.

use serde::Serialize;
use serde_json::{json, Map, Value};
use warren_broker::exchange::{Binding, Dest};
use warren_broker::queue::QueueStats;
use warren_broker::{Exchange, Queue};
use warren_codec::{AMQPValue, FieldTable};

use crate::error::ApiError;

/// An AMQP field value as JSON (integers as numbers, strings as strings).
pub fn value(v: &AMQPValue) -> Value {
    match v {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Timestamp(n) => json!(n),
        AMQPValue::Float(f) => json!(f),
        AMQPValue::Double(f) => json!(f),
        AMQPValue::ShortString(s) => json!(s.as_str()),
        AMQPValue::LongString(s) => json!(String::from_utf8_lossy(s.as_bytes())),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(value).collect()),
        AMQPValue::FieldTable(t) => table(t),
        AMQPValue::ByteArray(b) => json!(b.as_slice()),
        AMQPValue::DecimalValue(_) | AMQPValue::Void => Value::Null,
    }
}

pub fn table(t: &FieldTable) -> Value {
    Value::Object(t.inner().iter().map(|(k, v)| (k.to_string(), value(v))).collect())
}

/// Arguments or headers from JSON that nest tables and arrays deeper than
/// an AMQP peer may send them ([`warren_codec::nesting::MAX_NESTING`]):
/// Warren would store them and hand them to clients that refuse them.
#[derive(Debug)]
pub struct TooDeep;

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "field table nested deeper than {} levels",
            warren_codec::nesting::MAX_NESTING
        )
    }
}

impl From<TooDeep> for ApiError {
    fn from(e: TooDeep) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}

/// JSON arguments (from `PUT`) as an AMQP table: integers become longs, as
/// RabbitMQ's management plugin converts them. serde_json stops at 128
/// levels, so the recursion here is bounded too.
pub fn to_table(v: &Map<String, Value>) -> Result<FieldTable, TooDeep> {
    table_at(v, 1)
}

fn table_at(v: &Map<String, Value>, depth: usize) -> Result<FieldTable, TooDeep> {
    if depth > warren_codec::nesting::MAX_NESTING {
        return Err(TooDeep);
    }
    let mut t = FieldTable::default();
    // AMQP table keys are short strings: longer ones cannot be sent.
    for (k, v) in v.iter().filter(|(k, _)| k.len() <= 255) {
        if let Some(a) = to_value(v, depth)? {
            t.insert(k.as_str().into(), a);
        }
    }
    Ok(t)
}

/// A value inside a table or array at `depth`.
fn to_value(v: &Value, depth: usize) -> Result<Option<AMQPValue>, TooDeep> {
    Ok(Some(match v {
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AMQPValue::LongLongInt(i),
            None => match n.as_f64() {
                Some(f) => AMQPValue::Double(f),
                None => return Ok(None),
            },
        },
        Value::String(s) => AMQPValue::LongString(s.as_str().into()),
        Value::Object(m) => AMQPValue::FieldTable(table_at(m, depth + 1)?),
        Value::Array(a) => {
            if depth + 1 > warren_codec::nesting::MAX_NESTING {
                return Err(TooDeep);
            }
            let mut items = Vec::with_capacity(a.len());
            for v in a {
                items.extend(to_value(v, depth + 1)?);
            }
            AMQPValue::FieldArray(items.into())
        }
        Value::Null => AMQPValue::Void,
    }))
}

/// A rate as RabbitMQ nests it (`publish_details: {"rate": 1.5}`).
#[derive(Serialize)]
pub struct Rate {
    rate: f64,
}

/// A queue's message counters with their rates (`publish`,
/// `publish_details`, ...; the names are [`QueueStats::STATS`]).
pub struct QueueMessageStats {
    counts: [u64; 9],
    rates: [f64; 9],
}

impl Serialize for QueueMessageStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2 * QueueStats::STATS.len()))?;
        for ((name, count), rate) in QueueStats::STATS.iter().zip(self.counts).zip(self.rates) {
            m.serialize_entry(name, &count)?;
            m.serialize_entry(&format_args!("{name}_details"), &Rate { rate })?;
        }
        m.end()
    }
}

/// A queue as the management API shows it. Serialized directly for plain
/// listings (building a `Value` per queue and dropping it again was most of
/// the time of listing 10,000 queues).
#[derive(Serialize)]
pub struct QueueView<'a> {
    name: &'a str,
    vhost: &'a str,
    durable: bool,
    auto_delete: bool,
    exclusive: bool,
    arguments: Value,
    #[serde(rename = "type")]
    kind: &'static str,
    state: &'static str,
    messages: u64,
    messages_details: Rate,
    messages_ready: u32,
    messages_ready_details: Rate,
    messages_unacknowledged: usize,
    messages_unacknowledged_details: Rate,
    consumers: u32,
    memory: u64,
    message_bytes: u64,
    message_bytes_ready: u64,
    message_bytes_unacknowledged: u64,
    /// Left out only when a listing's `columns` do not ask for it: its
    /// eighteen entries were most of the cost of `columns=name,messages`.
    #[serde(skip_serializing_if = "Option::is_none")]
    message_stats: Option<QueueMessageStats>,
    effective_policy_definition: Value,
    /// The fields below are `null` when unset in the detailed view and left
    /// out of the basic one (RabbitMQ 3.13's `/api/queues` drops nulls;
    /// `/api/queues/detailed`, one queue and `columns` keep them).
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator_policy: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exclusive_consumer_tag: Option<Option<String>>,
    /// With `x-single-active-consumer`: the consumer receiving.
    #[serde(skip_serializing_if = "Option::is_none")]
    single_active_consumer_tag: Option<Option<String>>,
    node: &'static str,
}

/// RabbitMQ 3.13's two queue views: the basic one of `/api/queues` (no
/// null fields) and the detailed one.
#[derive(Clone, Copy, PartialEq)]
pub enum Detail {
    Basic,
    Detailed,
}

impl Detail {
    /// A field that may be unset, as this view shows it.
    fn shown<T>(self, v: Option<T>) -> Option<Option<T>> {
        match self {
            Detail::Detailed => Some(v),
            Detail::Basic => v.map(Some),
        }
    }
}

impl<'a> QueueView<'a> {
    pub fn of(q: &'a Queue, detail: Detail) -> QueueView<'a> {
        Self::with(q, true, detail)
    }

    /// The view, with or without `message_stats`.
    pub fn with(q: &'a Queue, stats: bool, detail: Detail) -> QueueView<'a> {
        let held = q.gauges();
        let (ready, unacked) = (held.ready, held.unacked);
        let policy = q.policy();
        let message_stats = stats.then(|| {
            let (counts, rates) = q.stats.snapshot();
            QueueMessageStats { counts, rates }
        });
        let messages = u64::from(ready) + unacked as u64;
        // How fast the queue grows or drains (negative when it drains).
        let [messages_rate, ready_rate, unacked_rate] =
            q.stats
                .depth_rates
                .gauge_rates([messages, u64::from(ready), unacked as u64]);
        let (exclusive_tag, active_tag) = match detail {
            // Only the detailed view shows them unset, so only it (or a
            // queue with consumers) pays for a look at the consumers.
            Detail::Basic if held.consumers == 0 => (None, None),
            _ => {
                let consumers = q.consumers();
                let exclusive = consumers.iter().find(|c| c.exclusive).map(|c| c.tag.to_string());
                let active = q
                    .args
                    .single_active_consumer
                    .then(|| consumers.first().map(|c| c.tag.to_string()))
                    .flatten();
                (exclusive, active)
            }
        };
        QueueView {
            name: &q.name,
            vhost: &q.vhost,
            durable: q.options.durable,
            auto_delete: q.options.auto_delete,
            exclusive: q.is_exclusive(),
            arguments: table(&q.options.arguments),
            kind: q.args.queue_type.as_str(),
            state: "running",
            messages,
            messages_details: Rate { rate: messages_rate },
            messages_ready: ready,
            messages_ready_details: Rate { rate: ready_rate },
            messages_unacknowledged: unacked,
            messages_unacknowledged_details: Rate { rate: unacked_rate },
            consumers: held.consumers,
            memory: held.memory,
            message_bytes: held.ready_bytes + held.unacked_bytes,
            message_bytes_ready: held.ready_bytes,
            message_bytes_unacknowledged: held.unacked_bytes,
            message_stats,
            effective_policy_definition: Value::Object(policy.effective_definition()),
            operator_policy: detail.shown(policy.operator.as_ref().map(|p| p.name.clone())),
            policy: detail.shown(policy.policy.map(|p| p.name.clone())),
            exclusive_consumer_tag: detail.shown(exclusive_tag),
            single_active_consumer_tag: detail.shown(active_tag),
            node: crate::routes::overview::NODE,
        }
    }
}

pub fn queue(q: &Queue) -> Value {
    queue_fields(q, None)
}

/// A queue's detailed JSON with only `fields` (all with `None`).
pub fn queue_fields(q: &Queue, fields: Option<&[&str]>) -> Value {
    let stats = fields.is_none_or(|f| f.contains(&"message_stats"));
    crate::pick::pick(&QueueView::with(q, stats, Detail::Detailed), fields)
}

/// RabbitMQ's `message_stats`: each count and `<name>_details.rate`.
pub fn message_stats(names: &[&str], counts: &[u64], rates: &[f64]) -> Value {
    let mut m = Map::new();
    for ((name, count), rate) in names.iter().zip(counts).zip(rates) {
        m.insert(name.to_string(), Value::from(*count));
        m.insert(format!("{name}_details"), json!({"rate": rate}));
    }
    Value::Object(m)
}

pub fn exchange(vhost: &str, x: &Exchange) -> Value {
    let (counts, rates) = x.stats.snapshot();
    let mut v = json!({
        "name": &*x.name,
        "vhost": vhost,
        "type": x.type_name(),
        "durable": x.options.durable,
        "auto_delete": x.options.auto_delete,
        "internal": x.options.internal,
        "arguments": table(&x.options.arguments),
        "message_stats": message_stats(&["publish_in", "publish_out"], &counts, &rates),
    });
    if let Some(p) = x.policy() {
        v["policy"] = Value::from(p.name.as_str());
    }
    v
}

/// RabbitMQ's `properties_key`: the routing key, or `~` when empty; with
/// arguments, `~` and a hash of them follows.
pub fn properties_key(b: &Binding) -> String {
    properties_key_of(&b.routing_key, &b.arguments)
}

pub fn properties_key_of(routing_key: &str, arguments: &FieldTable) -> String {
    // RabbitMQ percent-encodes the routing key (`a.*` is `a.%2A`).
    let mut encoded = String::with_capacity(routing_key.len());
    for b in routing_key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let routing_key = encoded;
    if arguments.inner().is_empty() {
        if routing_key.is_empty() {
            "~".to_string()
        } else {
            routing_key
        }
    } else {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        table(arguments).to_string().hash(&mut h);
        format!("{routing_key}~{:x}", h.finish())
    }
}

pub fn binding(vhost: &str, source: &str, b: &Binding) -> Value {
    let kind = match b.dest {
        Dest::Queue(_) => "queue",
        Dest::Exchange(_) => "exchange",
    };
    json!({
        "source": source,
        "vhost": vhost,
        "destination": b.dest.name(),
        "destination_type": kind,
        "routing_key": &b.routing_key,
        "arguments": table(&b.arguments),
        "properties_key": properties_key(b),
    })
}

pub fn connection(c: &warren_broker::connections::ConnectionInfo) -> Value {
    let tuning = c.tuning.lock().clone();
    let client_properties = c.client_properties.lock().clone();
    let provided_name = client_properties
        .inner()
        .get("connection_name")
        .map(value)
        .unwrap_or(Value::Null);
    let io = c.io.snapshot();
    let user = c.user.lock().clone();
    let tls = c.tls.as_ref();
    json!({
        "node": crate::routes::overview::NODE,
        "recv_oct": io.recv_oct,
        "recv_oct_details": {"rate": io.recv_rate},
        "recv_cnt": io.recv_cnt,
        "send_oct": io.send_oct,
        "send_oct_details": {"rate": io.send_rate},
        "send_cnt": io.send_cnt,
        // RabbitMQ shows these as null on plain sockets.
        "ssl_protocol": tls.map(|t| &t.protocol),
        "ssl_key_exchange": tls.map(|t| &t.key_exchange),
        "ssl_cipher": tls.map(|t| &t.cipher),
        "ssl_hash": tls.map(|t| &t.hash),
        "peer_cert_subject": tls.and_then(|t| t.peer_cert_subject.as_ref()),
        "peer_cert_issuer": tls.and_then(|t| t.peer_cert_issuer.as_ref()),
        "peer_cert_validity": tls.and_then(|t| t.peer_cert_validity.as_ref()),
        "user_who_performed_action": &user,
        "auth_mechanism": tuning.auth_mechanism,
        "channel_max": tuning.channel_max,
        "frame_max": tuning.frame_max,
        "timeout": tuning.heartbeat,
        "ssl": tls.is_some(),
        "user_provided_name": provided_name,
        "name": &c.name,
        "vhost": &*c.vhost.lock(),
        "user": &user,
        "state": "running",
        "type": "network",
        "protocol": "AMQP 0-9-1",
        "channels": c.channel_count(),
        "peer_host": c.peer.ip().to_string(),
        "peer_port": c.peer.port(),
        "host": c.local.ip().to_string(),
        "port": c.local.port(),
        "connected_at": c.connected_at * 1000,
        "client_properties": table(&client_properties),
    })
}

/// Message properties as RabbitMQ's management API shows them.
pub fn properties(p: &warren_codec::protocol::basic::AMQPProperties) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    let s = |v: &Option<amq_protocol::types::ShortString>| v.as_ref().map(|s| Value::from(s.as_str()));
    put("content_type", s(p.content_type()));
    put("content_encoding", s(p.content_encoding()));
    put("headers", p.headers().as_ref().map(table));
    put("delivery_mode", p.delivery_mode().map(Value::from));
    put("priority", p.priority().map(Value::from));
    put("correlation_id", s(p.correlation_id()));
    put("reply_to", s(p.reply_to()));
    put("expiration", s(p.expiration()));
    put("message_id", s(p.message_id()));
    put("timestamp", p.timestamp().map(Value::from));
    put("type", s(p.kind()));
    put("user_id", s(p.user_id()));
    put("app_id", s(p.app_id()));
    put("cluster_id", s(p.cluster_id()));
    Value::Object(m)
}

/// The properties of a message published through the API. A text property
/// too long for AMQP (255 bytes) is refused, and an integer property that
/// is not one gets RabbitMQ's `["not_int","priority"]`.
pub fn to_properties(
    m: &Map<String, Value>,
) -> Result<warren_codec::protocol::basic::AMQPProperties, ApiError> {
    let mut p = warren_codec::protocol::basic::AMQPProperties::default();
    let text = |k: &str| -> Result<Option<amq_protocol::types::ShortString>, ApiError> {
        match m.get(k).and_then(Value::as_str) {
            Some(s) if s.len() > 255 => Err(ApiError::BadRequest(format!(
                "property '{k}' is longer than 255 bytes"
            ))),
            Some(s) => Ok(Some(s.to_string().into())),
            None => Ok(None),
        }
    };
    let int = |k: &str| -> Result<Option<u64>, ApiError> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_str()?.parse().ok())
                .map(Some)
                .ok_or_else(|| ApiError::BadRequestTerm(serde_json::json!(["not_int", k]))),
        }
    };
    if let Some(v) = text("content_type")? {
        p = p.with_content_type(v);
    }
    if let Some(v) = text("content_encoding")? {
        p = p.with_content_encoding(v);
    }
    if let Some(Value::Object(h)) = m.get("headers") {
        if let Some(k) = h.keys().find(|k| k.len() > 255) {
            return Err(ApiError::BadRequest(format!(
                "header name '{k}' is longer than 255 bytes"
            )));
        }
        p = p.with_headers(to_table(h)?);
    }
    if let Some(v) = int("delivery_mode")? {
        p = p.with_delivery_mode(v.min(255) as u8);
    }
    if let Some(v) = int("priority")? {
        p = p.with_priority(v.min(255) as u8);
    }
    if let Some(v) = text("correlation_id")? {
        p = p.with_correlation_id(v);
    }
    if let Some(v) = text("reply_to")? {
        p = p.with_reply_to(v);
    }
    if let Some(v) = text("expiration")? {
        p = p.with_expiration(v);
    }
    if let Some(v) = text("message_id")? {
        p = p.with_message_id(v);
    }
    if let Some(v) = int("timestamp")? {
        p = p.with_timestamp(v);
    }
    if let Some(v) = text("type")? {
        p = p.with_type(v);
    }
    if let Some(v) = text("user_id")? {
        p = p.with_user_id(v);
    }
    if let Some(v) = text("app_id")? {
        p = p.with_app_id(v);
    }
    Ok(p)
}

/// Lenient readers for request bodies: rabbitmqadmin sends booleans and
/// numbers as strings (`"durable": "true"`, `"count": "1"`), and RabbitMQ
/// accepts both forms. A value of neither form is refused with RabbitMQ's
/// term, `["not_boolean","x"]` or `["not_integer","x"]`: the error's message
/// is that term as JSON, which [`crate::body::Body`] answers as it is.
pub mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::{json, Value};

    fn refuse<E: serde::de::Error>(tag: &str, v: &Value) -> E {
        E::custom(json!([tag, v]))
    }

    fn to_bool(v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    fn to_number(v: &Value) -> Option<u64> {
        match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = Value::deserialize(d)?;
        to_bool(&v).ok_or_else(|| refuse("not_boolean", &v))
    }

    pub fn opt_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Value::deserialize(d)?;
        if v.is_null() {
            return Ok(None);
        }
        to_bool(&v).map(Some).ok_or_else(|| refuse("not_boolean", &v))
    }

    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let v = Value::deserialize(d)?;
        to_number(&v).ok_or_else(|| refuse("not_integer", &v))
    }

    pub fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v = Value::deserialize(d)?;
        if v.is_null() {
            return Ok(None);
        }
        to_number(&v).map(Some).ok_or_else(|| refuse("not_integer", &v))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn properties_keys_percent_encode_the_routing_key_like_rabbitmq() {
        let none = super::FieldTable::default();
        assert_eq!(super::properties_key_of("a.*", &none), "a.%2A");
        assert_eq!(super::properties_key_of("q-1.x_y", &none), "q-1.x_y");
        assert_eq!(super::properties_key_of("", &none), "~");
    }
}
