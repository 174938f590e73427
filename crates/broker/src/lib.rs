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

pub mod args;
pub mod clock;
pub mod dead_letter;
pub mod error;
pub mod exchange;
pub mod headers;
pub mod message;
pub mod queue;
pub mod ready;
pub mod topic;
pub mod vhost;

pub use clock::Clock;
pub use error::AmqpError;
pub use exchange::{Exchange, ExchangeKind};
pub use message::Message;
pub use queue::{Consumer, DeliverySink, Entry, Queue};
pub use vhost::VHost;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

/// Every virtual host of one broker, and the clock they share.
pub struct Broker {
    pub clock: Arc<Clock>,
    vhosts: RwLock<HashMap<String, Arc<VHost>>>,
}

impl Default for Broker {
    fn default() -> Self {
        let broker = Broker {
            clock: Arc::new(Clock::default()),
            vhosts: RwLock::new(HashMap::new()),
        };
        broker.add_vhost("/");
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
            .or_insert_with(|| Arc::new_cyclic(|me| VHost::new(name, me.clone(), self.clock.clone())))
            .clone()
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
