//! Policies: named definitions applied to the queues and exchanges whose
//! names match a pattern, as in RabbitMQ.
//!
//! Of the policies that match an object (pattern unanchored and
//! case-sensitive, `apply-to` queues / exchanges / all) the one with the
//! highest priority applies; a tie goes to the greater name. Only one
//! policy applies at a time. Combined with a queue's own x-arguments the
//! way RabbitMQ combines them (observed on RabbitMQ 3.10): for the limits
//! (`message-ttl`, `expires`, `max-length`, `max-length-bytes`,
//! `delivery-limit`) the lower value wins; for `overflow`,
//! `dead-letter-exchange`, `dead-letter-routing-key` and
//! `alternate-exchange` the object's own argument wins, key by key.
//! Operator policies ([`Flavor::Operator`]) may set only limits and bound
//! a queue's limits whatever its arguments and policy say.

use std::sync::Arc;

use regex::Regex;
use serde_json::{Map, Value};
use warren_store::definitions::PolicyDef;

use crate::args::{Overflow, QueueArgs};

/// Settings RabbitMQ accepts in a policy that Warren has no use for
/// (mirroring, federation, streams): accepted so that definitions exported
/// from RabbitMQ import, and otherwise ignored.
const ACCEPTED_UNUSED: &[&str] = &[
    "ha-mode",
    "ha-params",
    "ha-sync-mode",
    "ha-sync-batch-size",
    "ha-promote-on-shutdown",
    "ha-promote-on-failure",
    "queue-mode",
    "queue-version",
    "queue-master-locator",
    "queue-leader-locator",
    "max-age",
    "stream-max-segment-size-bytes",
    "initial-cluster-size",
    "federation-upstream",
    "federation-upstream-set",
    "consumer-timeout",
    "max-in-memory-length",
    "max-in-memory-bytes",
];

/// Operator policies may set only these: limits an operator imposes on
/// every matching queue, whatever its own arguments and policy say.
const OPERATOR_KEYS: &[&str] = &[
    "expires",
    "message-ttl",
    "max-length",
    "max-length-bytes",
    "delivery-limit",
    "max-in-memory-length",
    "max-in-memory-bytes",
];

/// A policy set by users (`/api/policies`) or by operators
/// (`/api/operator-policies`, limits that override users').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    User,
    Operator,
}

pub struct Policy {
    pub vhost: String,
    pub name: String,
    pub pattern: String,
    regex: Regex,
    /// `queues`, `exchanges` or `all`.
    pub apply_to: String,
    pub priority: i64,
    pub definition: Map<String, Value>,
}

/// How RabbitMQ prints a JSON value as an Erlang term in its validation
/// messages: strings are binaries, `<<"x">>`.
pub fn erlang_term(v: &Value) -> String {
    match v {
        Value::String(s) => format!("<<\"{s}\">>"),
        other => other.to_string(),
    }
}

/// [`erlang_term`] as the management API shows it in policy messages,
/// with the binary brackets HTML-escaped.
pub fn term(v: &Value) -> String {
    escaped(&erlang_term(v))
}

/// As the management API HTML-escapes policy validation messages.
pub fn escaped(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;")
}

/// RabbitMQ's text for a runtime parameter or policy that fails validation.
pub fn failed(detail: impl std::fmt::Display) -> String {
    format!("Validation failed\n\n{detail}\n")
}

fn non_negative(v: &Value) -> bool {
    v.as_u64().is_some()
}

fn positive(v: &Value) -> bool {
    v.as_u64().is_some_and(|n| n > 0)
}

/// Checks one setting's value; the text RabbitMQ gives when it is wrong.
fn check_setting(key: &str, v: &Value) -> Result<(), String> {
    let (ok, what) = match key {
        "message-ttl" => (non_negative(v), "a valid message TTL"),
        "expires" => (positive(v), "a valid queue expiry"),
        "max-length" => (non_negative(v), "a valid maximum length"),
        "max-length-bytes" => (non_negative(v), "a valid maximum length in bytes"),
        "delivery-limit" => (non_negative(v), "a valid delivery limit"),
        "overflow" => (
            matches!(
                v.as_str(),
                Some("drop-head" | "reject-publish" | "reject-publish-dlx")
            ),
            "a valid overflow value",
        ),
        "dead-letter-exchange" => (v.is_string(), "a valid dead letter exchange name"),
        "dead-letter-routing-key" => (v.is_string(), "a valid dead letter routing key"),
        "alternate-exchange" => (v.is_string(), "a valid alternate exchange name"),
        "consumer-timeout" => (non_negative(v), "a valid consumer timeout"),
        _ => return Ok(()),
    };
    if ok {
        Ok(())
    } else {
        Err(failed(format_args!("{} is not {what}", term(v))))
    }
}

impl Policy {
    /// Validates a policy with RabbitMQ's rules and texts.
    pub fn new(def: PolicyDef) -> Result<Policy, String> {
        Self::of(Flavor::User, def)
    }

    /// Validates a policy of either flavor. RabbitMQ escapes the terms of
    /// unknown keys for user policies and not for operator policies.
    pub fn of(flavor: Flavor, def: PolicyDef) -> Result<Policy, String> {
        if def.definition.is_empty() {
            return Err(failed("no policy provided"));
        }
        let known = |k: &str| match flavor {
            Flavor::User => APPLIED.contains(&k) || ACCEPTED_UNUSED.contains(&k),
            Flavor::Operator => OPERATOR_KEYS.contains(&k),
        };
        let unknown: Vec<String> = def
            .definition
            .iter()
            .filter(|(k, _)| !known(k))
            .map(|(k, v)| {
                let entry = format!("{{<<\"{k}\">>,{}}}", erlang_term(v));
                match flavor {
                    Flavor::User => escaped(&entry),
                    Flavor::Operator => entry,
                }
            })
            .collect();
        if !unknown.is_empty() {
            return Err(failed(format_args!(
                "[{}] are not recognised policy settings",
                unknown.join(",")
            )));
        }
        for (k, v) in &def.definition {
            check_setting(k, v)?;
        }
        if !matches!(def.apply_to.as_str(), "queues" | "exchanges" | "all") {
            return Err(failed(format_args!(
                "apply-to '{}' unrecognised; should be 'queues', 'exchanges' or 'all'",
                def.apply_to
            )));
        }
        let regex = Regex::new(&def.pattern).map_err(|e| {
            failed(format_args!(
                "pattern should be regular expression but is invalid: {e}"
            ))
        })?;
        Ok(Policy {
            vhost: def.vhost,
            name: def.name,
            pattern: def.pattern,
            regex,
            apply_to: def.apply_to,
            priority: def.priority,
            definition: def.definition,
        })
    }

    pub fn def(&self) -> PolicyDef {
        PolicyDef {
            vhost: self.vhost.clone(),
            name: self.name.clone(),
            pattern: self.pattern.clone(),
            apply_to: self.apply_to.clone(),
            priority: self.priority,
            definition: self.definition.clone(),
        }
    }

    fn applies(&self, kind: Kind, name: &str) -> bool {
        let kind_ok = match kind {
            Kind::Queue => self.apply_to != "exchanges",
            Kind::Exchange => self.apply_to != "queues",
        };
        kind_ok && self.regex.is_match(name)
    }

    fn int(&self, key: &str) -> Option<u64> {
        self.definition.get(key).and_then(Value::as_u64)
    }

    fn text(&self, key: &str) -> Option<String> {
        self.definition.get(key).and_then(Value::as_str).map(String::from)
    }

    /// The alternate exchange this policy names, for exchanges.
    pub fn alternate_exchange(&self) -> Option<String> {
        self.text("alternate-exchange")
    }
}

/// The settings Warren applies.
const APPLIED: &[&str] = &[
    "message-ttl",
    "expires",
    "max-length",
    "max-length-bytes",
    "overflow",
    "dead-letter-exchange",
    "dead-letter-routing-key",
    "alternate-exchange",
    "delivery-limit",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Queue,
    Exchange,
}

/// The policy that applies to an object, if any.
pub fn select(policies: &[Arc<Policy>], kind: Kind, name: &str) -> Option<Arc<Policy>> {
    policies
        .iter()
        .filter(|p| p.applies(kind, name))
        .max_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)))
        .cloned()
}

/// The policies in force on a queue: the users' and the operators'.
#[derive(Clone, Default)]
pub struct Applied {
    pub policy: Option<Arc<Policy>>,
    pub operator: Option<Arc<Policy>>,
}

fn same(a: &Option<Arc<Policy>>, b: &Option<Arc<Policy>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

impl Applied {
    pub fn same_as(&self, other: &Applied) -> bool {
        same(&self.policy, &other.policy) && same(&self.operator, &other.operator)
    }

    /// What management shows as `effective_policy_definition`: the
    /// policy's keys, with the operator policy's lower where both set one
    /// (as RabbitMQ 3.10 showed them).
    pub fn effective_definition(&self) -> Map<String, Value> {
        let mut out = self
            .policy
            .as_ref()
            .map(|p| p.definition.clone())
            .unwrap_or_default();
        for (k, v) in self.operator.iter().flat_map(|o| o.definition.iter()) {
            let keep_own = match (out.get(k).and_then(Value::as_u64), v.as_u64()) {
                (Some(own), Some(theirs)) => own <= theirs,
                _ => false,
            };
            if !keep_own {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
}

fn lower(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// A queue's arguments in force: its own combined with its policy's, then
/// bounded by its operator policy's.
pub fn queue_limits(own: &QueueArgs, applied: &Applied) -> QueueArgs {
    let mut out = own.clone();
    if let Some(p) = applied.policy.as_deref() {
        bound_limits(&mut out, p);
        with_policy_settings(&mut out, own, p);
    }
    if let Some(o) = applied.operator.as_deref() {
        bound_limits(&mut out, o);
    }
    out
}

/// The lower of each limit in force and the policy's.
fn bound_limits(out: &mut QueueArgs, p: &Policy) {
    out.message_ttl = lower(out.message_ttl, p.int("message-ttl"));
    out.expires = lower(out.expires, p.int("expires"));
    out.max_length = lower(out.max_length, p.int("max-length"));
    out.max_length_bytes = lower(out.max_length_bytes, p.int("max-length-bytes"));
    if out.queue_type == crate::args::QueueType::Quorum {
        out.delivery_limit = lower(out.delivery_limit, p.int("delivery-limit"));
    }
}

/// The policy's other settings, where the queue's own arguments leave
/// them unset.
fn with_policy_settings(out: &mut QueueArgs, own: &QueueArgs, p: &Policy) {
    if !own.overflow_declared {
        if let Some(o) = p.text("overflow").and_then(|o| Overflow::parse(&o)) {
            out.overflow = o;
        }
    }
    if own.dead_letter_exchange.is_none() {
        out.dead_letter_exchange = p.text("dead-letter-exchange");
    }
    if own.consumer_timeout.is_none() {
        out.consumer_timeout = p.int("consumer-timeout");
    }
    if own.dead_letter_routing_key.is_none() {
        out.dead_letter_routing_key = p.text("dead-letter-routing-key");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(pattern: &str, priority: i64, definition: Value) -> PolicyDef {
        PolicyDef {
            vhost: "/".into(),
            name: format!("p{priority}-{pattern}"),
            pattern: pattern.into(),
            apply_to: "all".into(),
            priority,
            definition: definition.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn validation_uses_rabbitmq_texts() {
        let e = Policy::new(def("q", 0, json!({"max-priority": 5})))
            .err()
            .unwrap();
        assert_eq!(
            e,
            "Validation failed\n\n[{&lt;&lt;\"max-priority\"&gt;&gt;,5}] are not recognised policy settings\n"
        );
        let e = Policy::new(def("q", 0, json!({"message-ttl": "abc"})))
            .err()
            .unwrap();
        assert_eq!(
            e,
            "Validation failed\n\n&lt;&lt;\"abc\"&gt;&gt; is not a valid message TTL\n"
        );
        let e = Policy::new(def("q", 0, json!({"expires": 0}))).err().unwrap();
        assert_eq!(e, "Validation failed\n\n0 is not a valid queue expiry\n");
        assert!(Policy::new(def("q", 0, json!({}))).is_err());
    }

    #[test]
    fn highest_priority_wins_and_limits_combine_by_minimum() {
        let ps: Vec<Arc<Policy>> = vec![
            Arc::new(Policy::new(def("^q", 1, json!({"max-length": 1}))).unwrap()),
            Arc::new(
                Policy::new(def(
                    "q",
                    5,
                    json!({"max-length": 20, "dead-letter-exchange": "p"}),
                ))
                .unwrap(),
            ),
        ];
        let p = select(&ps, Kind::Queue, "aqa").unwrap();
        assert_eq!(p.priority, 5);
        let own = QueueArgs {
            max_length: Some(10),
            dead_letter_exchange: Some("own".into()),
            ..Default::default()
        };
        let mut applied = Applied {
            policy: Some(p),
            operator: None,
        };
        let l = queue_limits(&own, &applied);
        assert_eq!(l.max_length, Some(10));
        assert_eq!(l.dead_letter_exchange.as_deref(), Some("own"));
        // An operator policy bounds what the queue and its policy allow.
        let cap = def("q", 0, json!({"max-length": 4, "message-ttl": 100}));
        applied.operator = Some(Arc::new(Policy::of(Flavor::Operator, cap).unwrap()));
        let l = queue_limits(&own, &applied);
        assert_eq!((l.max_length, l.message_ttl), (Some(4), Some(100)));
        let merged = applied.effective_definition();
        assert_eq!(merged.get("max-length"), Some(&json!(4)));
        assert_eq!(merged.get("dead-letter-exchange"), Some(&json!("p")));
        assert!(
            select(&ps, Kind::Queue, "Q").is_none(),
            "patterns are case-sensitive"
        );
    }
}
