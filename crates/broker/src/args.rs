//! Queue `x-` arguments: validated the way RabbitMQ validates them (every
//! integer width a client may send is accepted) and collected into
//! [`QueueArgs`]. Error texts follow RabbitMQ's:
//! `invalid arg 'x-max-priority' for queue 'q' in vhost '/': {max_value_exceeded,256}`.

use amq_protocol::types::{AMQPValue, FieldTable};

use crate::error::AmqpError;

/// What a queue does when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    #[default]
    DropHead,
    RejectPublish,
    RejectPublishDlx,
}

impl Overflow {
    pub fn parse(s: &str) -> Option<Overflow> {
        match s {
            "drop-head" => Some(Overflow::DropHead),
            "reject-publish" => Some(Overflow::RejectPublish),
            "reject-publish-dlx" => Some(Overflow::RejectPublishDlx),
            _ => None,
        }
    }
}

/// The queue type asked for with `x-queue-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    #[default]
    Classic,
    Quorum,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
        }
    }
}

/// The validated arguments of a queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueArgs {
    pub message_ttl: Option<u64>,
    pub expires: Option<u64>,
    pub dead_letter_exchange: Option<String>,
    pub dead_letter_routing_key: Option<String>,
    pub max_length: Option<u64>,
    pub max_length_bytes: Option<u64>,
    pub overflow: Overflow,
    /// `x-overflow` was given (a policy's `overflow` then does not apply).
    pub overflow_declared: bool,
    pub max_priority: Option<u8>,
    pub single_active_consumer: bool,
    pub queue_type: QueueType,
    pub delivery_limit: Option<u64>,
    /// `x-consumer-timeout` (or the policy's `consumer-timeout`), in ms: a
    /// delivery unacknowledged for longer closes its channel.
    pub consumer_timeout: Option<u64>,
}

/// The AMQP type name RabbitMQ reports for a value.
pub fn type_name(v: &AMQPValue) -> &'static str {
    match v {
        AMQPValue::Boolean(_) => "bool",
        AMQPValue::ShortShortInt(_) => "byte",
        AMQPValue::ShortShortUInt(_) => "unsignedbyte",
        AMQPValue::ShortInt(_) => "short",
        AMQPValue::ShortUInt(_) => "unsignedshort",
        AMQPValue::LongInt(_) => "signedint",
        AMQPValue::LongUInt(_) => "unsignedint",
        AMQPValue::LongLongInt(_) => "long",
        AMQPValue::Float(_) => "float",
        AMQPValue::Double(_) => "double",
        AMQPValue::DecimalValue(_) => "decimal",
        AMQPValue::ShortString(_) | AMQPValue::LongString(_) => "longstr",
        AMQPValue::FieldArray(_) => "array",
        AMQPValue::Timestamp(_) => "timestamp",
        AMQPValue::FieldTable(_) => "table",
        AMQPValue::ByteArray(_) => "binary",
        AMQPValue::Void => "void",
    }
}

/// An integer of any width.
pub fn int(v: &AMQPValue) -> Option<i128> {
    Some(match v {
        AMQPValue::ShortShortInt(n) => i128::from(*n),
        AMQPValue::ShortShortUInt(n) => i128::from(*n),
        AMQPValue::ShortInt(n) => i128::from(*n),
        AMQPValue::ShortUInt(n) => i128::from(*n),
        AMQPValue::LongInt(n) => i128::from(*n),
        AMQPValue::LongUInt(n) => i128::from(*n),
        AMQPValue::LongLongInt(n) => i128::from(*n),
        AMQPValue::Timestamp(n) => i128::from(*n),
        _ => return None,
    })
}

pub fn string(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

/// A value as RabbitMQ prints it in error texts.
pub fn display(v: &AMQPValue) -> String {
    match v {
        AMQPValue::Boolean(b) => b.to_string(),
        other => int(other)
            .map(|n| n.to_string())
            .or_else(|| string(other))
            .unwrap_or_else(|| format!("{other:?}")),
    }
}

type Check = fn(&AMQPValue, &FieldTable) -> Result<(), String>;

fn unacceptable(v: &AMQPValue) -> String {
    format!("{{unacceptable_type,{}}}", type_name(v))
}

fn non_neg(v: &AMQPValue, _: &FieldTable) -> Result<(), String> {
    match int(v) {
        None => Err(unacceptable(v)),
        Some(n) if n < 0 => Err(format!("{{value_negative,{n}}}")),
        Some(_) => Ok(()),
    }
}

fn positive(v: &AMQPValue, t: &FieldTable) -> Result<(), String> {
    non_neg(v, t)?;
    match int(v) {
        Some(0) => Err("{value_zero,0}".into()),
        _ => Ok(()),
    }
}

fn message_ttl(v: &AMQPValue, t: &FieldTable) -> Result<(), String> {
    non_neg(v, t)?;
    match int(v) {
        Some(n) if n > i128::from(u32::MAX) => Err(format!("{{value_too_large,{n}}}")),
        _ => Ok(()),
    }
}

fn max_priority(v: &AMQPValue, t: &FieldTable) -> Result<(), String> {
    non_neg(v, t)?;
    match int(v) {
        Some(n) if n > 255 => Err(format!("{{max_value_exceeded,{n}}}")),
        _ => Ok(()),
    }
}

fn longstr(v: &AMQPValue, _: &FieldTable) -> Result<(), String> {
    string(v).map(|_| ()).ok_or_else(|| unacceptable(v))
}

fn dlx_routing_key(v: &AMQPValue, t: &FieldTable) -> Result<(), String> {
    longstr(v, t)?;
    if t.inner().contains_key("x-dead-letter-exchange") {
        Ok(())
    } else {
        Err("routing_key_but_no_dlx_defined".into())
    }
}

fn one_of(v: &AMQPValue, allowed: &[&str], what: &str) -> Result<(), String> {
    let s = string(v).ok_or_else(|| unacceptable(v))?;
    if allowed.contains(&s.as_str()) {
        Ok(())
    } else {
        Err(format!("{{{what},<<\"{s}\">>}}"))
    }
}

fn overflow(v: &AMQPValue, _: &FieldTable) -> Result<(), String> {
    one_of(
        v,
        &["drop-head", "reject-publish", "reject-publish-dlx"],
        "unsupported_overflow",
    )
}

fn queue_mode(v: &AMQPValue, _: &FieldTable) -> Result<(), String> {
    one_of(v, &["default", "lazy"], "unsupported_queue_mode")
}

/// RabbitMQ (3.10 and 3.13) words an unknown type as a quoted sentence,
/// not as the `{unsupported_..., <<"x">>}` term of other arguments.
fn queue_type(v: &AMQPValue, _: &FieldTable) -> Result<(), String> {
    let s = string(v).ok_or_else(|| unacceptable(v))?;
    if ["classic", "quorum", "stream"].contains(&s.as_str()) {
        Ok(())
    } else {
        Err(format!("\"unsupported queue type '{s}'\""))
    }
}

fn boolean(v: &AMQPValue, _: &FieldTable) -> Result<(), String> {
    match v {
        AMQPValue::Boolean(_) => Ok(()),
        other => Err(unacceptable(other)),
    }
}

/// Every argument RabbitMQ checks at declare time, with its check.
const CHECKS: &[(&str, Check)] = &[
    ("x-expires", positive),
    ("x-message-ttl", message_ttl),
    ("x-dead-letter-exchange", longstr),
    ("x-dead-letter-routing-key", dlx_routing_key),
    ("x-max-length", non_neg),
    ("x-max-length-bytes", non_neg),
    ("x-max-in-memory-length", non_neg),
    ("x-max-in-memory-bytes", non_neg),
    ("x-max-priority", max_priority),
    ("x-overflow", overflow),
    ("x-queue-mode", queue_mode),
    ("x-single-active-consumer", boolean),
    ("x-queue-type", queue_type),
    ("x-delivery-limit", non_neg),
    ("x-quorum-initial-group-size", positive),
    ("x-consumer-timeout", non_neg),
];

/// The arguments that must match when a queue is declared again.
pub const EQUIVALENCE_KEYS: &[&str] = &[
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-single-active-consumer",
    "x-queue-type",
    "x-delivery-limit",
];

/// Arguments a quorum queue refuses, as RabbitMQ does.
const QUORUM_REFUSED: &[&str] = &["x-max-priority", "x-queue-mode", "x-max-in-memory-length"];

impl QueueArgs {
    /// Validates `table` for the queue `queue` in `vhost` and extracts the
    /// arguments Warren acts on. Unknown arguments are kept but ignored.
    pub fn parse(
        table: &FieldTable,
        queue: &str,
        vhost: &str,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
    ) -> Result<QueueArgs, AmqpError> {
        let map = table.inner();
        for (key, check) in CHECKS {
            if let Some(v) = map.get(*key) {
                check(v, table).map_err(|reason| {
                    AmqpError::precondition(format_args!(
                        "invalid arg '{key}' for queue '{queue}' in vhost '{vhost}': {reason}"
                    ))
                })?;
            }
        }
        let num = |k: &str| map.get(k).and_then(int).map(|n| n as u64);
        let text = |k: &str| map.get(k).and_then(string);
        let queue_type = match text("x-queue-type").as_deref() {
            Some("quorum") => QueueType::Quorum,
            Some("stream") => {
                return Err(AmqpError::precondition(format_args!(
                    "invalid arg 'x-queue-type' for queue '{queue}' in vhost '{vhost}': \
                     stream queues are not supported by Warren yet"
                )))
            }
            _ => QueueType::Classic,
        };
        if queue_type == QueueType::Quorum {
            if !durable {
                return Err(AmqpError::precondition(format_args!(
                    "invalid property 'non-durable' for queue '{queue}' in vhost '{vhost}'"
                )));
            }
            if exclusive {
                return Err(AmqpError::precondition(format_args!(
                    "invalid property 'exclusive-owner' for queue '{queue}' in vhost '{vhost}'"
                )));
            }
            if auto_delete {
                return Err(AmqpError::precondition(format_args!(
                    "invalid property 'auto-delete' for queue '{queue}' in vhost '{vhost}'"
                )));
            }
            if text("x-overflow").as_deref() == Some("reject-publish-dlx") {
                return Err(AmqpError::precondition(format_args!(
                    "invalid arg 'x-overflow' for queue '{queue}' in vhost '{vhost}' of queue type \
                     rabbit_quorum_queue: {{unsupported_value,<<\"reject-publish-dlx\">>}}"
                )));
            }
            for key in QUORUM_REFUSED {
                if map.contains_key(*key) {
                    return Err(AmqpError::precondition(format_args!(
                        "invalid arg '{key}' for queue '{queue}' in vhost '{vhost}' of queue type rabbit_quorum_queue"
                    )));
                }
            }
        }
        let declared_overflow = text("x-overflow").and_then(|o| Overflow::parse(&o));
        Ok(QueueArgs {
            message_ttl: num("x-message-ttl"),
            expires: num("x-expires"),
            dead_letter_exchange: text("x-dead-letter-exchange"),
            dead_letter_routing_key: text("x-dead-letter-routing-key"),
            max_length: num("x-max-length"),
            max_length_bytes: num("x-max-length-bytes"),
            overflow: declared_overflow.unwrap_or_default(),
            overflow_declared: declared_overflow.is_some(),
            max_priority: num("x-max-priority").filter(|p| *p > 0).map(|p| p as u8),
            single_active_consumer: matches!(
                map.get("x-single-active-consumer"),
                Some(AMQPValue::Boolean(true))
            ),
            queue_type,
            delivery_limit: if queue_type == QueueType::Quorum {
                num("x-delivery-limit")
            } else {
                None
            },
            consumer_timeout: num("x-consumer-timeout"),
        })
    }
}

/// Two argument values are the same if they are equal, or both integers of
/// equal value whatever their widths (clients pick widths freely).
pub fn same_value(a: &AMQPValue, b: &AMQPValue) -> bool {
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x == y,
        _ => match (string(a), string(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

/// The first of `keys` whose value differs between two declarations, as
/// RabbitMQ words it: `received the value '2000' of type 'signedint' but current is none`.
pub fn inequivalent(current: &FieldTable, received: &FieldTable, keys: &[&str]) -> Option<(String, String)> {
    for key in keys {
        let (c, r) = (current.inner().get(*key), received.inner().get(*key));
        let differs = match (c, r) {
            (None, None) => false,
            (Some(a), Some(b)) => !same_value(a, b),
            _ => true,
        };
        if differs {
            let describe = |v: Option<&AMQPValue>| match v {
                None => "none".to_string(),
                Some(v) => format!("the value '{}' of type '{}'", display(v), type_name(v)),
            };
            return Some((
                key.to_string(),
                format!("received {} but current is {}", describe(r), describe(c)),
            ));
        }
    }
    None
}
