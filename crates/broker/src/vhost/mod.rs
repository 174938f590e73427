//! A virtual host: its exchanges and queues, and RabbitMQ's rules for
//! declaring, binding and deleting them.
//!
//! The `VHost` struct, its constructor, lookups and lifecycle live here;
//! the rest is split by domain, each file adding an `impl VHost` block:
//!
//! * `policies`: policies, operator policies, limits and metadata.
//! * `exchanges`: declaring and deleting exchanges.
//! * `queues`: declaring, deleting and restoring queues; direct reply-to.
//! * `bindings`: binding and unbinding, the stored bindings, auto-delete
//!   of exchanges.
//! * `routing`: routing and publishing messages to queues.
//! * `names`: generated names and the checks on names.
//! * `transfer`: moving a queue's messages to another queue or back to
//!   where dead letters came from.

mod bindings;
mod exchanges;
mod names;
mod policies;
mod queues;
mod routing;
mod transfer;

pub use names::{check_client_queue_name, random_token, server_named};
pub use queues::Declared;
pub use routing::{sender_selected_keys, RouteScratch, Routed};
pub use transfer::{MoveTo, Moved};

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use amq_protocol::types::FieldTable;
use parking_lot::RwLock;

use crate::clock::Clock;
use crate::error::AmqpError;
use crate::exchange::{Exchange, ExchangeKind, ExchangeOptions};
use crate::persist::Persistence;
use crate::policy::Policy;
use crate::queue::{DeadLetters, Queue, QueueEnv};
use warren_store::definitions::VhostMeta;

pub struct VHost {
    pub name: Arc<str>,
    pub clock: Arc<Clock>,
    /// This vhost, for the queues' dead-letter hand-off.
    me: Weak<VHost>,
    exchanges: RwLock<HashMap<String, Arc<Exchange>>>,
    queues: RwLock<HashMap<String, Arc<Queue>>>,
    /// Direct reply-to pseudo-queues (`amq.rabbitmq.reply-to.*`), not listed.
    reply_queues: RwLock<HashMap<String, Arc<Queue>>>,
    /// Where durable definitions and persistent messages go.
    store: Option<Arc<Persistence>>,
    /// Sorted by name.
    policies: RwLock<Vec<Arc<Policy>>>,
    operator_policies: RwLock<Vec<Arc<Policy>>>,
    /// Description, tags, default queue type.
    meta: RwLock<VhostMeta>,
    /// `max-connections` and `max-queues`, with the connections counted.
    pub limits: crate::limits::Limits,
    /// The broker's counters (deleted queues leave their totals there).
    pub stats: Arc<crate::stats::GlobalStats>,
    /// Set when the vhost is deleted: connections and requests that still
    /// hold it may not create anything in it any more.
    deleted: std::sync::atomic::AtomicBool,
}

/// The prefix of direct reply-to.
pub const REPLY_TO: &str = "amq.rabbitmq.reply-to";

impl VHost {
    /// A vhost with the standard exchanges. Build it with `Arc::new_cyclic`
    /// so `me` points at it.
    pub fn new(name: &str, me: Weak<VHost>, clock: Arc<Clock>, store: Option<Arc<Persistence>>) -> VHost {
        let v = VHost {
            name: name.into(),
            clock,
            me,
            store,
            exchanges: RwLock::new(HashMap::new()),
            queues: RwLock::new(HashMap::new()),
            reply_queues: RwLock::new(HashMap::new()),
            policies: RwLock::new(Vec::new()),
            operator_policies: RwLock::new(Vec::new()),
            meta: RwLock::new(VhostMeta::default()),
            limits: Default::default(),
            stats: Default::default(),
            deleted: Default::default(),
        };
        let durable = ExchangeOptions {
            durable: true,
            auto_delete: false,
            internal: false,
            arguments: FieldTable::default(),
        };
        for (n, k) in [
            ("", ExchangeKind::Direct),
            ("amq.direct", ExchangeKind::Direct),
            ("amq.fanout", ExchangeKind::Fanout),
            ("amq.topic", ExchangeKind::Topic),
            ("amq.headers", ExchangeKind::Headers),
            ("amq.match", ExchangeKind::Headers),
        ] {
            v.exchanges
                .write()
                .insert(n.to_string(), Exchange::new(n, k, durable.clone()));
        }
        v
    }

    pub fn exchange(&self, name: &str) -> Option<Arc<Exchange>> {
        self.exchanges.read().get(name).cloned()
    }

    /// A queue by name, whoever owns it (management sees every queue).
    pub fn queue(&self, name: &str) -> Option<Arc<Queue>> {
        self.queues.read().get(name).cloned()
    }

    pub fn exchanges(&self) -> Vec<Arc<Exchange>> {
        self.exchanges.read().values().cloned().collect()
    }

    pub fn queues(&self) -> Vec<Arc<Queue>> {
        self.queues.read().values().cloned().collect()
    }

    fn not_found_exchange(&self, name: &str) -> AmqpError {
        AmqpError::not_found("exchange", name, &self.name)
    }

    fn not_found_queue(&self, name: &str) -> AmqpError {
        AmqpError::not_found("queue", name, &self.name)
    }

    /// An exchange clients may publish to: 404 when missing, 403 when internal.
    pub fn publishable_exchange(&self, name: &str) -> Result<Arc<Exchange>, AmqpError> {
        let x = self.find_exchange(name)?;
        if x.options.internal {
            return Err(AmqpError::access_refused(format_args!(
                "cannot publish to internal exchange '{name}' in vhost '{}'",
                self.name
            )));
        }
        Ok(x)
    }

    /// Looks up an exchange for use, 404 when it does not exist.
    pub fn find_exchange(&self, name: &str) -> Result<Arc<Exchange>, AmqpError> {
        self.exchange(name).ok_or_else(|| self.not_found_exchange(name))
    }

    /// Looks up a queue for use by `connection`: 404 when missing, 405 when
    /// another connection owns it exclusively.
    pub fn find_queue(&self, name: &str, connection: u64) -> Result<Arc<Queue>, AmqpError> {
        let q = self
            .queues
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found_queue(name))?;
        if !q.accessible_by(connection) {
            return Err(AmqpError::resource_locked(name, &self.name));
        }
        Ok(q)
    }

    pub fn mark_deleted(&self) {
        self.deleted.store(true, std::sync::atomic::Ordering::Release);
    }

    /// 320 once the vhost is deleted (it closes the connection, as
    /// RabbitMQ closes a deleted vhost's connections).
    fn check_live(&self) -> Result<(), AmqpError> {
        if self.deleted.load(std::sync::atomic::Ordering::Acquire) {
            return Err(AmqpError::new(
                crate::error::CONNECTION_FORCED,
                format_args!("vhost '{}' is deleted", self.name),
            ));
        }
        Ok(())
    }

    /// Deletes every queue (with its messages) and exchange, for the
    /// deletion of the vhost itself.
    pub fn clear(&self) {
        for p in self.policies() {
            self.delete_policy(&p.name);
        }
        for p in self.operator_policies() {
            self.delete_operator_policy(&p.name);
        }
        for q in self.queues() {
            self.remove_queue(&q);
        }
        for x in self.exchanges() {
            self.remove_exchange(&x);
        }
    }

    fn queue_env(&self, store_id: Option<u32>) -> QueueEnv {
        let dead_letters: Weak<dyn DeadLetters> = self.me.clone();
        QueueEnv {
            clock: self.clock.clone(),
            dead_letters,
            store: store_id.and_then(|id| Some((self.store.clone()?, id))),
            pager: self.store.clone().map(|store| crate::ready::Pager {
                window: store.window,
                store,
                durable: store_id.is_some(),
            }),
        }
    }

    /// Time-driven work: expired messages at queue heads, queues unused past
    /// `x-expires`, delayed messages whose time has come.
    pub fn sweep(&self) {
        for q in self.queues() {
            let timed = {
                let l = q.limits();
                l.message_ttl.is_some() || l.expires.is_some()
            };
            if (timed || q.message_count() > 0) && q.sweep() {
                tracing::debug!(queue = %q.name, "deleting queue unused for its x-expires");
                self.remove_queue(&q);
            }
        }
        let now = self.clock.now_ms();
        let mut scratch = RouteScratch::default();
        for x in self.exchanges() {
            for released in x.due(now) {
                self.publish_undelayed(&x, released.msg, &mut scratch);
                // After the routing appended the message for its queues:
                // a crash in between delivers it twice, never not at all.
                x.settle_delayed(released.log);
            }
        }
    }
}
