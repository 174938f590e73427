//! A virtual host: its exchanges and queues, and RabbitMQ's rules for
//! declaring, binding and deleting them.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use amq_protocol::types::{AMQPValue, FieldTable};
use parking_lot::RwLock;
use rand::Rng;

use crate::args::QueueArgs;
use crate::clock::Clock;
use crate::error::AmqpError;
use crate::exchange::{Binding, Dest, Exchange, ExchangeKind, ExchangeOptions};
use crate::message::Message;
use crate::persist::Persistence;
use crate::policy::{self, Flavor, Policy};
use crate::queue::{DeadLetters, Enqueued, Queue, QueueEnv, QueueOptions};
use warren_store::definitions::QueueDef;
use warren_store::definitions::{PolicyDef, VhostLimits, VhostMeta};

use crate::stats::GlobalStats;
use warren_store::record::MessageParts;
use warren_store::Ticket;

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

/// Buffers reused across publishes so routing allocates nothing.
#[derive(Default)]
pub struct RouteScratch {
    dests: Vec<Dest>,
    queues: Vec<Arc<Queue>>,
}

/// What became of a published message.
#[derive(Default)]
pub struct Routed {
    /// Queues it reached (a delayed message counts as routed).
    pub queues: usize,
    /// Some queue refused it (`x-overflow: reject-publish`).
    pub rejected: bool,
    /// It was written to the message log; confirm once this ticket is synced.
    pub ticket: Option<Ticket>,
    /// A queue it reached asks publishers to pause (see `Queue::congested`).
    pub congested: Option<Arc<Queue>>,
}

/// The prefix of direct reply-to.
pub const REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// What `queue.declare` found or made.
pub struct Declared {
    pub queue: Arc<Queue>,
    pub created: bool,
}

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

    pub fn meta(&self) -> VhostMeta {
        self.meta.read().clone()
    }

    /// Sets the description, tags and default queue type (stored).
    pub fn set_meta(&self, meta: VhostMeta) {
        if let Some(store) = &self.store {
            store.defs.put_vhost_meta(&self.name, &meta);
        }
        *self.meta.write() = meta;
    }

    /// The vhost's default queue type (RabbitMQ 3.13) for a new durable,
    /// non-exclusive, non-auto-delete queue declared without `x-queue-type`;
    /// redeclaring an existing queue without a type stays equivalent.
    fn apply_default_queue_type(&self, name: &str, options: &mut QueueOptions) {
        if options.arguments.inner().contains_key("x-queue-type") {
            return;
        }
        let Some(kind) = self.meta.read().default_queue_type.clone() else {
            return;
        };
        if let Some(existing) = self.queue(name) {
            // A queue that exists keeps its type, whatever the default
            // became since: declaring it without a type is equivalent.
            if let Some(t) = existing.options.arguments.inner().get("x-queue-type") {
                options.arguments.insert("x-queue-type".into(), t.clone());
            }
            return;
        }
        if !options.durable || options.auto_delete || options.exclusive_owner.is_some() {
            return;
        }
        if kind == "quorum" {
            options
                .arguments
                .insert("x-queue-type".into(), AMQPValue::LongString(kind.as_str().into()));
        }
    }

    /// Puts back metadata read from the store at start.
    pub fn restore_meta(&self, meta: VhostMeta) {
        *self.meta.write() = meta;
    }

    /// Changes the vhost's limits with `change` (stored). Connections and
    /// queues over a new, lower limit stay, as in RabbitMQ; only new ones
    /// are refused. Two changes at once both apply, and a deleted vhost's
    /// limits cannot come back.
    pub fn update_limits<E: From<AmqpError>>(
        &self,
        change: impl FnOnce(&mut VhostLimits) -> Result<(), E>,
    ) -> Result<(), E> {
        self.limits.update(|limits| {
            self.check_live()?;
            change(limits)?;
            if let Some(store) = &self.store {
                store.defs.put_vhost_limits(&self.name, limits);
            }
            Ok(())
        })
    }

    /// Puts back limits read from the store at start.
    pub fn restore_limits(&self, limits: VhostLimits) {
        self.limits
            .update(|l| {
                *l = limits;
                Ok::<_, AmqpError>(())
            })
            .ok();
    }

    fn policy_set(&self, flavor: Flavor) -> &RwLock<Vec<Arc<Policy>>> {
        match flavor {
            Flavor::User => &self.policies,
            Flavor::Operator => &self.operator_policies,
        }
    }

    pub fn policies(&self) -> Vec<Arc<Policy>> {
        self.policies.read().clone()
    }

    pub fn operator_policies(&self) -> Vec<Arc<Policy>> {
        self.operator_policies.read().clone()
    }

    pub fn policy(&self, name: &str) -> Option<Arc<Policy>> {
        self.policies.read().iter().find(|p| p.name == name).cloned()
    }

    pub fn operator_policy(&self, name: &str) -> Option<Arc<Policy>> {
        self.operator_policies
            .read()
            .iter()
            .find(|p| p.name == name)
            .cloned()
    }

    /// Adds or replaces a policy (validated with RabbitMQ's texts) and
    /// applies it; true if it is new.
    pub fn put_policy(&self, def: PolicyDef) -> Result<bool, String> {
        self.put_policy_of(Flavor::User, def)
    }

    pub fn put_operator_policy(&self, def: PolicyDef) -> Result<bool, String> {
        self.put_policy_of(Flavor::Operator, def)
    }

    fn put_policy_of(&self, flavor: Flavor, def: PolicyDef) -> Result<bool, String> {
        self.check_live().map_err(|e| e.text)?;
        let p = Arc::new(Policy::of(flavor, def)?);
        if let Some(store) = &self.store {
            store.defs.put_policy(flavor == Flavor::Operator, &p.def());
        }
        let created = {
            let mut all = self.policy_set(flavor).write();
            let created = match all.iter().position(|x| x.name == p.name) {
                Some(i) => {
                    all[i] = p;
                    false
                }
                None => {
                    all.push(p);
                    true
                }
            };
            all.sort_by(|a, b| a.name.cmp(&b.name));
            created
        };
        self.apply_policies();
        Ok(created)
    }

    pub fn delete_policy(&self, name: &str) -> bool {
        self.delete_policy_of(Flavor::User, name)
    }

    pub fn delete_operator_policy(&self, name: &str) -> bool {
        self.delete_policy_of(Flavor::Operator, name)
    }

    fn delete_policy_of(&self, flavor: Flavor, name: &str) -> bool {
        let gone = {
            let mut all = self.policy_set(flavor).write();
            let before = all.len();
            all.retain(|p| p.name != name);
            all.len() != before
        };
        if gone {
            if let Some(store) = &self.store {
                store
                    .defs
                    .delete_policy(flavor == Flavor::Operator, &self.name, name);
            }
            self.apply_policies();
        }
        gone
    }

    /// Puts back a policy read from the store at start.
    pub fn restore_policy(&self, flavor: Flavor, def: PolicyDef) -> Result<(), String> {
        let p = Arc::new(Policy::of(flavor, def)?);
        let mut all = self.policy_set(flavor).write();
        all.push(p);
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    fn policy_for(&self, kind: policy::Kind, name: &str) -> Option<Arc<Policy>> {
        policy::select(&self.policies.read(), kind, name)
    }

    /// A queue's policy and operator policy.
    fn policies_for_queue(&self, name: &str) -> policy::Applied {
        policy::Applied {
            policy: self.policy_for(policy::Kind::Queue, name),
            operator: policy::select(&self.operator_policies.read(), policy::Kind::Queue, name),
        }
    }

    /// Gives every queue and exchange the policy that now applies to it.
    pub fn apply_policies(&self) {
        for q in self.queues() {
            q.apply_policy(|| self.policies_for_queue(&q.name));
        }
        for x in self.exchanges() {
            x.apply_policy(|| self.policy_for(policy::Kind::Exchange, &x.name));
        }
    }

    fn apply_policy_to_queue(&self, q: &Arc<Queue>) {
        if !self.policies.read().is_empty() || !self.operator_policies.read().is_empty() {
            q.apply_policy(|| self.policies_for_queue(&q.name));
        }
    }

    fn apply_policy_to_exchange(&self, x: &Exchange) {
        if !self.policies.read().is_empty() {
            x.apply_policy(|| self.policy_for(policy::Kind::Exchange, &x.name));
        }
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

    pub fn declare_exchange(
        &self,
        name: &str,
        kind: &str,
        passive: bool,
        options: ExchangeOptions,
    ) -> Result<Arc<Exchange>, AmqpError> {
        check_name_length("exchange", name)?;
        self.check_live()?;
        if passive {
            return self.find_exchange(name);
        }
        let invalid = || AmqpError::command_invalid(format_args!("unknown exchange type '{kind}'"));
        let (routing_kind, delayed) = if kind == "x-delayed-message" {
            let inner = options
                .arguments
                .inner()
                .get("x-delayed-type")
                .and_then(crate::args::string)
                .ok_or_else(|| {
                    AmqpError::precondition(
                        "Invalid argument, 'x-delayed-type' must be an existing exchange type",
                    )
                })?;
            let k = ExchangeKind::parse(&inner).ok_or_else(|| {
                AmqpError::precondition(
                    "Invalid argument, 'x-delayed-type' must be an existing exchange type",
                )
            })?;
            (k, true)
        } else {
            (ExchangeKind::parse(kind).ok_or_else(invalid)?, false)
        };
        if name.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        let mut map = self.exchanges.write();
        if let Some(x) = map.get(name) {
            let ineq = |arg: &str, got: &dyn std::fmt::Display, cur: &dyn std::fmt::Display| {
                AmqpError::precondition(format_args!(
                    "inequivalent arg '{arg}' for exchange '{name}' in vhost '{}': received '{got}' but current is '{cur}'",
                    self.name
                ))
            };
            if x.type_name() != kind {
                return Err(ineq("type", &kind, &x.type_name()));
            }
            if x.options.durable != options.durable {
                return Err(ineq("durable", &options.durable, &x.options.durable));
            }
            if x.options.auto_delete != options.auto_delete {
                return Err(ineq("auto_delete", &options.auto_delete, &x.options.auto_delete));
            }
            if x.options.internal != options.internal {
                return Err(ineq("internal", &options.internal, &x.options.internal));
            }
            if let Some((key, detail)) =
                crate::args::inequivalent(&x.options.arguments, &options.arguments, &["alternate-exchange"])
            {
                return Err(AmqpError::precondition(format_args!(
                    "inequivalent arg '{key}' for exchange '{name}' in vhost '{}': {detail}",
                    self.name
                )));
            }
            return Ok(x.clone());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format_args!(
                "exchange name '{name}' contains reserved prefix 'amq.*'"
            )));
        }
        let x = if delayed {
            Exchange::new_delayed(name, routing_kind, options)
        } else {
            Exchange::new(name, routing_kind, options)
        };
        self.apply_policy_to_exchange(&x);
        map.insert(name.to_string(), x.clone());
        if let (Some(store), true) = (&self.store, x.options.durable) {
            store
                .defs
                .put_exchange(&Persistence::exchange_def(&self.name, &x));
        }
        Ok(x)
    }

    pub fn delete_exchange(&self, name: &str, if_unused: bool) -> Result<(), AmqpError> {
        if name.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format_args!(
                "deletion of system exchange '{name}' in vhost '{}' not allowed",
                self.name
            )));
        }
        let Some(x) = self.exchange(name) else {
            return Ok(());
        };
        if if_unused && (x.has_bindings() || self.exchange_is_destination(&x)) {
            return Err(AmqpError::precondition(format_args!(
                "exchange '{name}' in vhost '{}' in use",
                self.name
            )));
        }
        self.remove_exchange(&x);
        Ok(())
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

    fn exchange_is_destination(&self, x: &Arc<Exchange>) -> bool {
        let me = Dest::Exchange(x.clone());
        self.exchanges()
            .iter()
            .any(|s| s.bindings().iter().any(|b| b.dest.same(&me)))
    }

    fn remove_exchange(&self, x: &Arc<Exchange>) {
        self.exchanges.write().remove(&*x.name);
        let me = Dest::Exchange(x.clone());
        for other in self.exchanges() {
            for b in other.unbind_all(&me) {
                self.forget_binding(&other, &b);
            }
        }
        // Drop its own bindings so exchange-to-exchange cycles cannot leak.
        for b in x.bindings() {
            x.unbind(&b.dest, &b.routing_key, &b.arguments);
            self.forget_binding(x, &b);
        }
        if let (Some(store), true) = (&self.store, x.options.durable) {
            store.defs.delete_exchange(&self.name, &x.name);
        }
    }

    fn remember_binding(&self, source: &Exchange, b: &Binding) {
        if let Some(store) = &self.store {
            if let Some(def) = Persistence::binding_def(&self.name, source, b) {
                store.defs.put_binding(&def);
            }
        }
    }

    fn forget_binding(&self, source: &Exchange, b: &Binding) {
        if let Some(store) = &self.store {
            if let Some(def) = Persistence::binding_def(&self.name, source, b) {
                store.defs.delete_binding(&def);
            }
        }
    }

    /// Deletes an auto-delete exchange that just lost its last binding.
    fn auto_delete_exchange(&self, x: &Arc<Exchange>) {
        if x.options.auto_delete && !x.has_bindings() {
            self.remove_exchange(x);
        }
    }

    /// Declares a queue. A name a client chose must have passed
    /// [`check_client_queue_name`] first; server-generated names are `amq.gen-`.
    pub fn declare_queue(
        &self,
        name: &str,
        passive: bool,
        options: QueueOptions,
        connection: u64,
    ) -> Result<Declared, AmqpError> {
        if passive {
            if name.is_empty() {
                return Err(self.not_found_queue(name));
            }
            let queue = self.find_queue(name, connection)?;
            return Ok(Declared {
                queue,
                created: false,
            });
        }
        let name = if name.is_empty() {
            server_named()
        } else {
            name.to_string()
        };
        check_name_length("queue", &name)?;
        self.check_live()?;
        let mut options = options;
        self.apply_default_queue_type(&name, &mut options);
        let args = QueueArgs::parse(
            &options.arguments,
            &name,
            &self.name,
            options.durable,
            options.exclusive_owner.is_some(),
            options.auto_delete,
        )?;
        let mut map = self.queues.write();
        if let Some(q) = map.get(&name) {
            if !q.accessible_by(connection) || q.is_exclusive() != options.exclusive_owner.is_some() {
                return Err(AmqpError::resource_locked(&name, &self.name));
            }
            let ineq = |arg: &str, got: bool, cur: bool| {
                AmqpError::precondition(format_args!(
                    "inequivalent arg '{arg}' for queue '{name}' in vhost '{}': received '{got}' but current is '{cur}'",
                    self.name
                ))
            };
            if q.options.durable != options.durable {
                return Err(ineq("durable", options.durable, q.options.durable));
            }
            if q.options.auto_delete != options.auto_delete {
                return Err(ineq("auto_delete", options.auto_delete, q.options.auto_delete));
            }
            if let Some((key, detail)) = crate::args::inequivalent(
                &q.options.arguments,
                &options.arguments,
                crate::args::EQUIVALENCE_KEYS,
            ) {
                return Err(AmqpError::precondition(format_args!(
                    "inequivalent arg '{key}' for queue '{name}' in vhost '{}': {detail}",
                    self.name
                )));
            }
            q.touch();
            GlobalStats::count(&self.stats.queues_declared);
            return Ok(Declared {
                queue: q.clone(),
                created: false,
            });
        }
        self.limits.check_new_queue(&self.name, &name, map.len())?;
        let store_id = match &self.store {
            Some(store) if options.durable && options.exclusive_owner.is_none() => {
                Some(store.defs.next_queue_id())
            }
            _ => None,
        };
        let q = Queue::new(&name, &self.name, options, args, self.queue_env(store_id));
        self.apply_policy_to_queue(&q);
        if let (Some(store), Some(id)) = (&self.store, store_id) {
            store.defs.put_queue(&Persistence::queue_def(&q, id));
        }
        map.insert(name, q.clone());
        GlobalStats::count(&self.stats.queues_declared);
        GlobalStats::count(&self.stats.queues_created);
        Ok(Declared {
            queue: q,
            created: true,
        })
    }

    pub fn delete_queue(
        &self,
        name: &str,
        if_unused: bool,
        if_empty: bool,
        connection: u64,
    ) -> Result<u32, AmqpError> {
        let q = match self.find_queue(name, connection) {
            Ok(q) => q,
            Err(e) if e.code == crate::error::NOT_FOUND => return Ok(0),
            Err(e) => return Err(e),
        };
        if if_unused && q.consumer_count() > 0 {
            return Err(AmqpError::precondition(format_args!(
                "queue '{name}' in vhost '{}' in use",
                self.name
            )));
        }
        if if_empty && q.message_count() > 0 {
            return Err(AmqpError::precondition(format_args!(
                "queue '{name}' in vhost '{}' not empty",
                self.name
            )));
        }
        Ok(self.remove_queue(&q))
    }

    /// Removes a queue and its bindings; returns its ready message count.
    pub fn remove_queue(&self, q: &Arc<Queue>) -> u32 {
        {
            let mut map = self.queues.write();
            match map.get(&*q.name) {
                Some(cur) if Arc::ptr_eq(cur, q) => {
                    map.remove(&*q.name);
                }
                _ => return 0,
            }
        }
        let me = Dest::Queue(q.clone());
        for x in self.exchanges() {
            let gone = x.unbind_all(&me);
            for b in &gone {
                self.forget_binding(&x, b);
            }
            if !gone.is_empty() {
                self.auto_delete_exchange(&x);
            }
        }
        if let (Some(store), true) = (&self.store, q.store_id().is_some()) {
            store.defs.delete_queue(&self.name, &q.name);
        }
        let ready = q.delete();
        self.stats.retire(q.stats.counts());
        GlobalStats::count(&self.stats.queues_deleted);
        ready
    }

    fn check_bindable(&self, exchange: &str) -> Result<Arc<Exchange>, AmqpError> {
        if exchange.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        self.find_exchange(exchange)
    }

    pub fn bind_queue(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
        arguments: FieldTable,
        connection: u64,
    ) -> Result<(), AmqpError> {
        self.check_live()?;
        let q = self.find_queue(queue, connection)?;
        let x = self.check_bindable(exchange)?;
        self.bind(&x, Dest::Queue(q), routing_key, arguments)
    }

    fn bind(
        &self,
        x: &Arc<Exchange>,
        dest: Dest,
        routing_key: &str,
        arguments: FieldTable,
    ) -> Result<(), AmqpError> {
        let b = Binding {
            dest,
            routing_key: routing_key.to_string(),
            arguments,
        };
        x.bind(b.dest.clone(), routing_key, b.arguments.clone())
            .map_err(AmqpError::precondition)?;
        self.remember_binding(x, &b);
        Ok(())
    }

    fn unbind(&self, x: &Arc<Exchange>, dest: Dest, routing_key: &str, arguments: &FieldTable) {
        if x.unbind(&dest, routing_key, arguments) {
            let b = Binding {
                dest,
                routing_key: routing_key.to_string(),
                arguments: arguments.clone(),
            };
            self.forget_binding(x, &b);
            self.auto_delete_exchange(x);
        }
    }

    pub fn unbind_queue(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
        arguments: &FieldTable,
        connection: u64,
    ) -> Result<(), AmqpError> {
        let q = self.find_queue(queue, connection)?;
        let x = self.check_bindable(exchange)?;
        self.unbind(&x, Dest::Queue(q), routing_key, arguments);
        Ok(())
    }

    pub fn bind_exchange(
        &self,
        destination: &str,
        source: &str,
        routing_key: &str,
        arguments: FieldTable,
    ) -> Result<(), AmqpError> {
        self.check_live()?;
        let d = self.check_bindable(destination)?;
        let s = self.check_bindable(source)?;
        self.bind(&s, Dest::Exchange(d), routing_key, arguments)
    }

    pub fn unbind_exchange(
        &self,
        destination: &str,
        source: &str,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> Result<(), AmqpError> {
        let d = self.check_bindable(destination)?;
        let s = self.check_bindable(source)?;
        self.unbind(&s, Dest::Exchange(d), routing_key, arguments);
        Ok(())
    }

    /// Every binding in the vhost, by source exchange.
    pub fn bindings(&self) -> Vec<(Arc<str>, Binding)> {
        self.exchanges()
            .into_iter()
            .flat_map(|x| x.bindings().into_iter().map(move |b| (x.name.clone(), b)))
            .collect()
    }

    /// Finds the queues a message reaches from `exchange`, following
    /// exchange-to-exchange bindings once each, then the alternate exchange
    /// if nothing matched. `out` holds each queue once.
    pub fn route(
        &self,
        exchange: &Arc<Exchange>,
        routing_key: &[u8],
        headers: &dyn Fn() -> Option<FieldTable>,
        scratch: &mut Vec<Dest>,
        out: &mut Vec<Arc<Queue>>,
    ) {
        out.clear();
        let mut from = exchange.clone();
        let mut tried: Vec<*const Exchange> = Vec::new();
        loop {
            self.route_once(&from, routing_key, headers, scratch, out);
            if !out.is_empty() {
                return;
            }
            tried.push(Arc::as_ptr(&from));
            let Some(ae) = from.alternate_exchange().and_then(|n| self.exchange(&n)) else {
                return;
            };
            if tried.contains(&Arc::as_ptr(&ae)) {
                return;
            }
            from = ae;
        }
    }

    fn route_once(
        &self,
        exchange: &Arc<Exchange>,
        routing_key: &[u8],
        headers: &dyn Fn() -> Option<FieldTable>,
        scratch: &mut Vec<Dest>,
        out: &mut Vec<Arc<Queue>>,
    ) {
        if exchange.name.is_empty() {
            if let Ok(key) = std::str::from_utf8(routing_key) {
                let found = if key.starts_with(REPLY_TO) {
                    self.reply_queues.read().get(key).cloned()
                } else {
                    self.queues.read().get(key).cloned()
                };
                out.extend(found);
            }
            return;
        }
        scratch.clear();
        exchange.route(routing_key, headers, scratch);
        let mut visited: Vec<*const Exchange> = Vec::new();
        while let Some(d) = scratch.pop() {
            match d {
                Dest::Queue(q) => out.push(q),
                Dest::Exchange(x) => {
                    let p = Arc::as_ptr(&x);
                    if p != Arc::as_ptr(exchange) && !visited.contains(&p) {
                        visited.push(p);
                        x.route(routing_key, headers, scratch);
                    }
                }
            }
        }
        if out.len() > 1 {
            out.sort_unstable_by_key(|q| Arc::as_ptr(q) as usize);
            out.dedup_by(|a, b| Arc::ptr_eq(a, b));
        }
    }

    /// Routes a message and appends it to every queue it reaches. Handles
    /// the delayed-message exchange (`x-delay`), sender-selected
    /// distribution (`CC` and `BCC` headers; `BCC` is removed) and the
    /// alternate exchange.
    pub fn publish(&self, exchange: &Arc<Exchange>, msg: Arc<Message>, scratch: &mut RouteScratch) -> Routed {
        let headers = if msg.has_headers { msg.headers() } else { None };
        if exchange.delayed.is_some() {
            let delay = headers
                .as_ref()
                .and_then(|h| h.inner().get("x-delay"))
                .and_then(crate::args::int)
                .unwrap_or(0);
            if delay > 0 {
                exchange.delay(msg, self.clock.now_ms().saturating_add(delay as u64));
                return Routed {
                    queues: 1,
                    ..Routed::default()
                };
            }
        }
        let mut extra: Vec<String> = Vec::new();
        let mut msg = msg;
        if let Some(h) = &headers {
            for key in ["CC", "BCC"] {
                if let Some(AMQPValue::FieldArray(a)) = h.inner().get(key) {
                    extra.extend(a.as_slice().iter().filter_map(crate::args::string));
                }
            }
            if h.inner().contains_key("BCC") {
                let stripped: FieldTable = h
                    .inner()
                    .iter()
                    .filter(|(k, _)| k.as_str() != "BCC")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into();
                msg = Arc::new(msg.with_properties(|p| *p = p.clone().with_headers(stripped)));
            }
        }
        let hdrs = || headers.clone();
        let RouteScratch { dests, queues } = scratch;
        self.route(exchange, &msg.routing_key, &hdrs, dests, queues);
        if !extra.is_empty() {
            let mut more = Vec::new();
            for key in &extra {
                self.route(exchange, key.as_bytes(), &hdrs, dests, &mut more);
                for q in more.drain(..) {
                    if !queues.iter().any(|x| Arc::ptr_eq(x, &q)) {
                        queues.push(q);
                    }
                }
            }
        }
        self.deliver_to(queues, msg)
    }

    /// Appends a routed message to its queues, writing it to the message
    /// log first when it is persistent and some of them are durable.
    pub fn deliver_to(&self, queues: &mut Vec<Arc<Queue>>, mut msg: Arc<Message>) -> Routed {
        let mut routed = Routed {
            queues: queues.len(),
            ..Routed::default()
        };
        if let (Some(store), true) = (&self.store, msg.persistent) {
            let durable: Vec<u32> = queues.iter().filter_map(|q| q.store_id()).collect();
            if !durable.is_empty() {
                let (id, ticket) = store.log.append_message(&MessageParts {
                    queues: &durable,
                    exchange: &msg.exchange,
                    routing_key: &msg.routing_key,
                    properties: &msg.properties,
                    body: &msg.body,
                });
                Arc::make_mut(&mut msg).store_id = id;
                routed.ticket = Some(ticket);
            }
        }
        for q in queues.drain(..) {
            if q.publish(msg.clone()) == Enqueued::Rejected {
                routed.rejected = true;
            }
            if routed.congested.is_none() && q.congested() {
                routed.congested = Some(q);
            }
        }
        routed
    }

    /// Registers a direct reply-to pseudo-queue for one consumer.
    pub fn add_reply_queue(&self, connection: u64) -> Arc<Queue> {
        let name = format!("{REPLY_TO}.{}", random_token());
        let q = Queue::new(
            &name,
            &self.name,
            QueueOptions {
                exclusive_owner: Some(connection),
                auto_delete: true,
                ..Default::default()
            },
            QueueArgs::default(),
            self.queue_env(None),
        );
        self.reply_queues.write().insert(name, q.clone());
        q
    }

    pub fn remove_reply_queue(&self, q: &Arc<Queue>) {
        self.reply_queues.write().remove(&*q.name);
        q.delete();
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

    /// Recreates a durable queue from its definition (at start).
    pub fn restore_queue(&self, def: &QueueDef) -> Result<Arc<Queue>, AmqpError> {
        let options = QueueOptions {
            durable: true,
            auto_delete: def.auto_delete,
            exclusive_owner: None,
            arguments: def.arguments.clone(),
        };
        let args = QueueArgs::parse(
            &options.arguments,
            &def.name,
            &self.name,
            true,
            false,
            def.auto_delete,
        )?;
        let q = Queue::new(&def.name, &self.name, options, args, self.queue_env(Some(def.id)));
        self.apply_policy_to_queue(&q);
        self.queues.write().insert(def.name.clone(), q.clone());
        Ok(q)
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
            for msg in x.due(now) {
                self.publish_undelayed(&x, msg, &mut scratch);
            }
        }
    }

    /// Routes a message released by a delayed exchange (never delayed again).
    fn publish_undelayed(&self, x: &Arc<Exchange>, msg: Arc<Message>, scratch: &mut RouteScratch) {
        let headers = msg.headers();
        let hdrs = || headers.clone();
        let RouteScratch { dests, queues } = scratch;
        self.route(x, &msg.routing_key, &hdrs, dests, queues);
        self.deliver_to(queues, msg);
    }
}

/// 22 random URL-safe characters, as RabbitMQ's generated names have.
pub fn random_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `amq.gen-` and a random token, as RabbitMQ names queues.
/// Names travel as AMQP short strings; the management API and definitions
/// files could otherwise make longer ones.
fn check_name_length(kind: &str, name: &str) -> Result<(), AmqpError> {
    if name.len() > 255 {
        return Err(AmqpError::precondition(format_args!(
            "{kind} name is longer than 255 bytes"
        )));
    }
    Ok(())
}

/// A server-generated queue name, as RabbitMQ makes them.
pub fn server_named() -> String {
    format!("amq.gen-{}", random_token())
}

/// `amq.` queue names belong to the broker: RabbitMQ refuses a client's
/// non-passive declare of one even when the queue exists (a server-named
/// queue is found again with a passive declare).
pub fn check_client_queue_name(name: &str) -> Result<(), AmqpError> {
    if name.starts_with("amq.") {
        return Err(AmqpError::access_refused(format_args!(
            "queue name '{name}' contains reserved prefix 'amq.*'"
        )));
    }
    Ok(())
}
