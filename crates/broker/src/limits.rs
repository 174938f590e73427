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

    /// Changes the limits under their lock (the caller stores them there
    /// too, so the stored and the live limits cannot differ).
    pub(crate) fn update<E>(&self, change: impl FnOnce(&mut VhostLimits) -> Result<(), E>) -> Result<(), E> {
        let mut limits = self.set.write();
        let mut changed = *limits;
        change(&mut changed)?;
        *limits = changed;
        Ok(())
    }

    /// Counts a connection in, or refuses it with RabbitMQ's 530 when the
    /// vhost already holds its limit.
    pub fn admit_connection(&self, vhost: &str, user: &str) -> Result<ConnectionSlot, AmqpError> {
        let limit = self.set.read().max_connections;
        // Counted only while under the limit (compare-and-swap), so that two
        // connections racing for the last place cannot both take it and
        // refused ones do not hold a place even for a moment.
        let admitted = self
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                reached(limit, n).is_none().then_some(n + 1)
            });
        match admitted {
            Ok(_) => Ok(ConnectionSlot(self.connections.clone())),
            Err(n) => Err(AmqpError::new(
                error::NOT_ALLOWED,
                format_args!(
                    "access to vhost '{vhost}' refused for user '{user}': connection limit ({}) is reached",
                    reached(limit, n).unwrap_or_default()
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

    fn set(limits: &Limits, max_connections: Option<i64>, max_queues: Option<i64>) {
        limits
            .update(|l| {
                *l = VhostLimits {
                    max_connections,
                    max_queues,
                };
                Ok::<_, ()>(())
            })
            .unwrap();
    }

    #[test]
    fn refused_connections_take_no_place() {
        let limits = Limits::default();
        set(&limits, Some(2), None);
        let _one = limits.admit_connection("/", "u").unwrap();
        let _two = limits.admit_connection("/", "u").unwrap();
        for _ in 0..3 {
            assert!(limits.admit_connection("/", "u").is_err());
        }
        drop(_two);
        let _three = limits.admit_connection("/", "u").unwrap();
        assert!(limits.admit_connection("/", "u").is_err());
    }

    #[test]
    fn connection_slots_are_given_back_when_dropped() {
        let limits = Limits::default();
        set(&limits, Some(1), None);
        let first = limits.admit_connection("/", "u").unwrap();
        let err = limits.admit_connection("/", "u").err().unwrap();
        assert_eq!(err.code, 530);
        drop(first);
        let _again = limits.admit_connection("/", "u").unwrap();
    }

    #[test]
    fn negative_limits_are_no_limits_and_zero_refuses_all() {
        let limits = Limits::default();
        set(&limits, Some(-1), Some(0));
        let _slots: Vec<_> = (0..3)
            .map(|_| limits.admit_connection("/", "u").unwrap())
            .collect();
        assert!(limits.check_new_queue("/", "q", 0).is_err());
    }
}
