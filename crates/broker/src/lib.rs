//! Warren's model of a broker: vhosts, exchanges, bindings, queues and
//! consumers. No sockets: the server hands it messages and gives it a
//! [`queue::DeliverySink`] per consumer to deliver through.
//!
//! * [`vhost`] owns the exchanges and queues of one virtual host and applies
//!   RabbitMQ's rules for declaring, binding and deleting them.
//! * [`exchange`] routes: direct by hash, fanout by list, [`topic`] by trie
//!   with a result cache, [`headers`] by precompiled matchers.
//! * [`queue`] is a FIFO of shared messages with requeue to the original
//!   position, and dispatch to consumers as their credit allows.

pub mod access;
pub mod alarms;
pub mod args;
pub mod clock;
pub mod connections;
pub mod dead_letter;
pub mod delayed;
pub mod error;
pub mod exchange;
pub mod headers;
pub mod limits;
pub mod memory;
pub mod message;
pub mod parameters;
pub mod persist;
pub mod policy;
pub mod queue;
pub mod ready;
pub mod stats;
pub mod system;
pub mod topic;
pub mod topic_permissions;
pub mod vhost;

pub use clock::Clock;
pub use error::AmqpError;
pub use exchange::{Exchange, ExchangeKind};
pub use message::Message;
pub use queue::{Consumer, DeliverySink, Entry, Queue, Unreadable};
pub use vhost::VHost;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::RwLock;
use persist::Persistence;

/// Why the broker could not start from its data directory.
#[derive(Debug, thiserror::Error)]
pub enum BrokerOpenError {
    #[error(transparent)]
    Store(#[from] warren_store::StoreError),
    #[error("cannot restore {0}")]
    Definition(String),
}

/// Every virtual host of one broker, the clock they share, and where
/// durable state goes.
pub struct Broker {
    pub clock: Arc<Clock>,
    /// Client connections, for management.
    pub connections: connections::Connections,
    /// Users and permissions.
    pub access: access::Access,
    /// Message counters across all vhosts.
    pub stats: Arc<stats::GlobalStats>,
    /// Rates of the overview's message counters (publish, confirm, the
    /// queues' delivery counters, return_unroutable, drop_unroutable).
    pub rates: stats::RateMeter<12>,
    /// Rates of change of the queue totals (messages, ready, unacked).
    pub depth_rates: stats::RateMeter<3>,
    vhosts: RwLock<HashMap<String, Arc<VHost>>>,
    /// Runtime parameters of components Warren stores only, and global
    /// parameters (the cluster name).
    pub parameters: parameters::Parameters,
    pub store: Option<Arc<Persistence>>,
    /// Connection buffers, counted by the connections.
    pub memory: memory::ConnectionMemory,
}

impl Default for Broker {
    /// A broker that keeps nothing on disk.
    fn default() -> Self {
        let broker = Broker {
            clock: Arc::new(Clock::default()),
            connections: Default::default(),
            access: Default::default(),
            stats: Default::default(),
            rates: Default::default(),
            depth_rates: Default::default(),
            vhosts: RwLock::new(HashMap::new()),
            parameters: Default::default(),
            store: None,
            memory: Default::default(),
        };
        broker.add_default_vhost();
        broker
    }
}

impl Broker {
    pub fn vhost(&self, name: &str) -> Option<Arc<VHost>> {
        self.vhosts.read().get(name).cloned()
    }

    pub fn add_vhost(&self, name: &str) -> Arc<VHost> {
        self.vhosts
            .write()
            .entry(name.to_string())
            .or_insert_with(|| {
                if let Some(store) = &self.store {
                    store.defs.put_vhost(name);
                }
                Arc::new_cyclic(|me| {
                    let mut v = VHost::new(name, me.clone(), self.clock.clone(), self.store.clone());
                    v.stats = self.stats.clone();
                    v
                })
            })
            .clone()
    }

    /// The node's permanent identity: stored with the definitions, or new
    /// for a broker without a data directory.
    pub fn cluster_id(&self) -> String {
        let make = || format!("warren-cluster-id-{}", vhost::random_token());
        match &self.store {
            Some(store) => store.defs.cluster_id(make),
            None => make(),
        }
    }

    /// `/`, described as RabbitMQ describes it.
    fn add_default_vhost(&self) {
        self.add_vhost("/")
            .set_meta(warren_store::definitions::VhostMeta {
                description: "Default virtual host".into(),
                ..Default::default()
            });
    }

    /// The queue counters ([`queue::QueueStats::STATS`]) over all queues
    /// ever, for monotonic totals: the live queues' plus the deleted ones'.
    pub fn queue_totals(&self) -> [u64; 9] {
        use std::sync::atomic::Ordering::Relaxed;
        let mut totals = self.stats.retired.each_ref().map(|c| c.load(Relaxed));
        for v in self.vhosts() {
            for q in v.queues() {
                for (total, n) in totals.iter_mut().zip(q.stats.counts()) {
                    *total += n;
                }
            }
        }
        totals
    }

    /// Deletes a vhost with everything in it, and the permissions users had
    /// there. Its connections are closed; false if there was no such vhost.
    pub fn delete_vhost(&self, name: &str) -> bool {
        let Some(v) = self.vhosts.write().remove(name) else {
            return false;
        };
        v.mark_deleted();
        for c in self.connections.list() {
            if *c.vhost.lock() == name {
                c.request_close(&format!("vhost '{name}' is deleted"));
            }
        }
        v.clear();
        for p in self.access.permissions() {
            if p.vhost == name {
                self.access.delete_permission(name, &p.user);
            }
        }
        for t in self.access.topic_permissions() {
            if t.vhost == name {
                self.access.delete_topic_permissions(name, &t.user, None);
            }
        }
        self.parameters.delete_vhost(name);
        if let Some(store) = &self.store {
            store.defs.delete_vhost(name);
        }
        true
    }

    /// Deletes a user and their permissions; their connections are closed
    /// with 320, as RabbitMQ does. False if there was no such user.
    pub fn delete_user(&self, name: &str) -> bool {
        if !self.access.delete_user(name) {
            return false;
        }
        for c in self.connections.list() {
            if *c.user.lock() == name {
                c.request_close(&format!("user '{name}' is deleted"));
            }
        }
        true
    }

    /// A broker whose durable state lives in `dir`: definitions are loaded,
    /// then every persistent message of every durable queue, in order.
    pub fn open(dir: &Path, segment_size: u32, window: usize) -> Result<Broker, BrokerOpenError> {
        Self::open_on(Arc::new(warren_store::FileDisk), dir, segment_size, window)
    }

    /// [`Broker::open`] with the message log writing through `disk` (tests
    /// make it fail).
    pub fn open_on(
        disk: Arc<dyn warren_store::Disk>,
        dir: &Path,
        segment_size: u32,
        window: usize,
    ) -> Result<Broker, BrokerOpenError> {
        let started = std::time::Instant::now();
        // An unreadable queue definition stops the start: read as "no
        // queues", it would have had every message forgotten and its
        // segment deleted.
        // The log's "queues": durable queues, and delayed exchanges' sets.
        let (store, recovered) = Persistence::open(disk, dir, segment_size, window, |defs| {
            let queues = defs.queues()?.into_iter().map(|q| q.id);
            let delayed = defs.exchanges()?.into_iter().filter_map(|x| x.delayed_id);
            Ok(queues.chain(delayed).collect())
        })?;
        let broker = Broker {
            clock: Arc::new(Clock::default()),
            connections: Default::default(),
            access: access::Access::open(Some(store.clone()))?,
            stats: Default::default(),
            rates: Default::default(),
            depth_rates: Default::default(),
            vhosts: RwLock::new(HashMap::new()),
            parameters: parameters::Parameters::open(Some(store.clone()))?,
            store: Some(store.clone()),
            memory: Default::default(),
        };
        if !store.defs.seeded() {
            // The default vhost exists from the first start on; an operator
            // who deletes it later does not see it come back.
            broker.add_default_vhost();
        }
        for name in store.defs.vhosts()? {
            let v = broker.add_vhost(&name);
            if let Some(meta) = store.defs.vhost_meta(&name) {
                v.restore_meta(meta);
            }
            if let Some(limits) = store.defs.vhost_limits(&name) {
                v.restore_limits(limits);
            }
        }
        // Objects stored under a vhost that no longer exists (written while
        // it was being deleted) are dropped, not used to recreate it.
        let home = |kind: &str, vhost: &str, name: &str| {
            let v = broker.vhost(vhost);
            if v.is_none() {
                tracing::warn!("{kind} '{name}' of deleted vhost '{vhost}' dropped");
            }
            v
        };
        for flavor in [policy::Flavor::User, policy::Flavor::Operator] {
            let operator = flavor == policy::Flavor::Operator;
            for p in store.defs.policies(operator)? {
                let Some(v) = home("policy", &p.vhost, &p.name) else {
                    store.defs.delete_policy(operator, &p.vhost, &p.name);
                    continue;
                };
                let name = p.name.clone();
                if let Err(e) = v.restore_policy(flavor, p) {
                    tracing::warn!("policy '{name}' not restored: {e}");
                }
            }
        }
        let mut delayed_by_id = HashMap::new();
        for x in store.defs.exchanges()? {
            let Some(v) = home("exchange", &x.vhost, &x.name) else {
                store.defs.delete_exchange(&x.vhost, &x.name);
                continue;
            };
            let restored = v
                .restore_exchange(&x)
                .map_err(|e| BrokerOpenError::Definition(format!("exchange '{}': {}", x.name, e.text)))?;
            if let Some(id) = restored.delayed_store_id() {
                delayed_by_id.insert(id, restored);
            }
        }
        let mut by_id = HashMap::new();
        for q in store.defs.queues()? {
            let Some(v) = home("queue", &q.vhost, &q.name) else {
                store.defs.delete_queue(&q.vhost, &q.name);
                continue;
            };
            let queue = v
                .restore_queue(&q)
                .map_err(|e| BrokerOpenError::Definition(format!("queue '{}': {}", q.name, e.text)))?;
            by_id.insert(q.id, queue);
        }
        for b in store.defs.bindings()? {
            let Some(v) = home("binding", &b.vhost, &b.source) else {
                store.defs.delete_binding(&b);
                continue;
            };
            let r = if b.destination_kind == "queue" {
                v.bind_queue(&b.destination, &b.source, &b.routing_key, b.arguments.clone(), 0)
            } else {
                v.bind_exchange(&b.destination, &b.source, &b.routing_key, b.arguments.clone())
            };
            if let Err(e) = r {
                tracing::warn!(
                    "binding {} -> {} not restored: {}",
                    b.source,
                    b.destination,
                    e.text
                );
            }
        }
        for v in broker.vhosts() {
            v.apply_policies();
        }
        let mut messages = 0usize;
        let (now, unix) = (broker.clock.now_ms(), broker.clock.unix_ms());
        for (id, msgs) in recovered.queues {
            if let Some(q) = by_id.get(&id) {
                messages += msgs.len();
                q.restore(msgs);
            } else if let Some(delayed) = delayed_by_id.get(&id).and_then(|x| x.delayed.as_ref()) {
                // Due times were stored as Unix times: the wait left is
                // counted from now (none if it passed while stopped).
                messages += msgs.len();
                let mut set = delayed.lock();
                for m in &msgs {
                    let left = m.due.unwrap_or(0).saturating_sub(unix);
                    set.restore(m.id, now + left);
                }
            }
        }
        if let Some((seg, offset)) = recovered.torn {
            tracing::warn!("message log: torn record cut off at segment {seg} offset {offset}");
        }
        tracing::info!(
            queues = by_id.len(),
            messages,
            "recovered durable state from {} in {:?}",
            dir.display(),
            started.elapsed()
        );
        Ok(broker)
    }

    /// Writes out and syncs everything pending (clean shutdown).
    pub fn close(&self) {
        if let Some(store) = &self.store {
            store.log.close();
            store.defs.flush();
        }
    }

    /// The memory Warren counts itself, for the node's breakdown: one
    /// pass over the queues and exchanges, as a listing makes.
    pub fn memory_counted(&self) -> memory::Counted {
        let mut c = self.memory_counted_but_queues();
        for q in self.vhosts().iter().flat_map(|v| v.queues()) {
            c.add_queue(q.args.queue_type, &q.gauges());
        }
        c
    }

    /// The same without the queues, for a caller that walks them anyway
    /// (a metrics scrape) and adds each with [`memory::Counted::add_queue`].
    pub fn memory_counted_but_queues(&self) -> memory::Counted {
        let mut c = memory::Counted {
            connection_readers: self.memory.readers.get(),
            connection_writers: self.memory.writers.get(),
            store_pending: self.store.as_ref().map_or(0, |s| s.log.pending_bytes()),
            ..Default::default()
        };
        for v in self.vhosts() {
            for x in v.exchanges() {
                c.caches += x.cache_bytes();
            }
        }
        c
    }

    pub fn vhosts(&self) -> Vec<Arc<VHost>> {
        self.vhosts.read().values().cloned().collect()
    }

    /// Time-driven work in every vhost (TTL, `x-expires`, delayed messages).
    /// The server runs it periodically; tests call it after moving the clock.
    pub fn sweep(&self) {
        for v in self.vhosts() {
            v.sweep();
        }
    }
}
