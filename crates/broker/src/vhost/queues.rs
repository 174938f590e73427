//! Declaring, deleting and restoring queues (with RabbitMQ's equivalence
//! checks and texts), the vhost's default queue type, and the direct
//! reply-to pseudo-queues.

use std::sync::Arc;

use amq_protocol::types::AMQPValue;

use super::names::{check_name_length, random_token, server_named};
use super::{VHost, REPLY_TO};
use crate::args::QueueArgs;
use crate::error::AmqpError;
use crate::exchange::Dest;
use crate::persist::Persistence;
use crate::queue::{Queue, QueueOptions};
use crate::stats::GlobalStats;
use warren_store::definitions::QueueDef;

/// What `queue.declare` found or made.
pub struct Declared {
    pub queue: Arc<Queue>,
    pub created: bool,
}

impl VHost {
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

    /// Declares a queue. A name a client chose must have passed
    /// [`check_client_queue_name`] first; server-generated names are `amq.gen-`.
    ///
    /// [`check_client_queue_name`]: super::check_client_queue_name
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
        // A durable queue whose definition cannot be stored would not exist
        // after a restart: the declare fails instead (541).
        let unstored = |e: warren_store::StoreError| AmqpError::unstored("queue", &name, &self.name, &e);
        let store_id = match &self.store {
            Some(store) if options.durable && options.exclusive_owner.is_none() => {
                Some(store.defs.next_queue_id().map_err(unstored)?)
            }
            _ => None,
        };
        let q = Queue::new(&name, &self.name, options, args, self.queue_env(store_id));
        self.apply_policy_to_queue(&q);
        if let (Some(store), Some(id)) = (&self.store, store_id) {
            store
                .defs
                .put_queue(&Persistence::queue_def(&q, id))
                .map_err(unstored)?;
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
}
