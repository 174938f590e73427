//! Vhost limits (RabbitMQ's `max-connections` and `max-queues`): how many
//! client connections and queues a vhost may hold. A negative limit is no
//! limit and zero refuses every new one, as in RabbitMQ.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use warren_store::definitions::VhostLimits;

use crate::error::{self, AmqpError};

#[derive(Default)]
pub struct Limits {
    set: RwLock<VhostLimits>,
    connections: Arc<AtomicUsize>,
}

/// A client connection counted against its vhost's limit until dropped.
pub struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The limit, if `count` objects already reach it.
fn reached(limit: Option<i64>, count: usize) -> Option<i64> {
    limit.filter(|&l| l >= 0 && count as u64 >= l as u64)
}

impl Limits {
    pub fn get(&self) -> VhostLimits {
        *self.set.read()
    }

    pub(crate) fn set(&self, limits: VhostLimits) {
        *self.set.write() = limits;
    }

    /// Counts a connection in, or refuses it with RabbitMQ's 530 when the
    /// vhost already holds its limit.
    pub fn admit_connection(&self, vhost: &str, user: &str) -> Result<ConnectionSlot, AmqpError> {
        let limit = self.set.read().max_connections;
        // Counted before the check, so that two connections racing for the
        // last place cannot both take it.
        let before = self.connections.fetch_add(1, Ordering::AcqRel);
        let slot = ConnectionSlot(self.connections.clone());
        match reached(limit, before) {
            None => Ok(slot),
            Some(l) => Err(AmqpError::new(
                error::NOT_ALLOWED,
                format_args!(
                    "access to vhost '{vhost}' refused for user '{user}': connection limit ({l}) is reached"
                ),
            )),
        }
    }

    /// Refuses a new queue when the vhost already holds `count` queues and
    /// that reaches its limit. The caller holds the queue map's write lock.
    pub fn check_new_queue(&self, vhost: &str, queue: &str, count: usize) -> Result<(), AmqpError> {
        match reached(self.set.read().max_queues, count) {
            None => Ok(()),
            Some(l) => Err(AmqpError::precondition(format_args!(
                "cannot declare queue '{queue}': queue limit in vhost '{vhost}' ({l}) is reached"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_slots_are_given_back_when_dropped() {
        let limits = Limits::default();
        limits.set(VhostLimits {
            max_connections: Some(1),
            max_queues: None,
        });
        let first = limits.admit_connection("/", "u").unwrap();
        let err = limits.admit_connection("/", "u").err().unwrap();
        assert_eq!(err.code, 530);
        drop(first);
        let _again = limits.admit_connection("/", "u").unwrap();
    }

    #[test]
    fn negative_limits_are_no_limits_and_zero_refuses_all() {
        let limits = Limits::default();
        limits.set(VhostLimits {
            max_connections: Some(-1),
            max_queues: Some(0),
        });
        let _slots: Vec<_> = (0..3)
            .map(|_| limits.admit_connection("/", "u").unwrap())
            .collect();
        assert!(limits.check_new_queue("/", "q", 0).is_err());
    }
}
