//! Limits on how much a vhost or a user may hold, as RabbitMQ's vhost
//! limits (`max-connections`, `max-queues`) and user limits
//! (`max-connections`, `max-channels`). A negative limit is no limit and
//! zero refuses every new one, as in RabbitMQ.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use warren_store::definitions::{UserLimits, VhostLimits};

use crate::error::{self, AmqpError};

/// Live objects (connections, channels) counted against a limit.
#[derive(Default)]
pub struct Counted(Arc<AtomicUsize>);

/// One object counted in a [`Counted`] until dropped.
pub struct Slot(Arc<AtomicUsize>);

/// The name connections keep: a place under their vhost's limit.
pub type ConnectionSlot = Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Counted {
    /// Counts one more in, or gives the limit that is reached. Counted only
    /// while under the limit (compare-and-swap), so that two racing for the
    /// last place cannot both take it and refused ones do not hold a place
    /// even for a moment.
    pub fn admit(&self, limit: Option<i64>) -> Result<Slot, i64> {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                reached(limit, n).is_none().then_some(n + 1)
            })
            .map(|_| Slot(self.0.clone()))
            .map_err(|n| reached(limit, n).unwrap_or_default())
    }
}

/// The limit, if `count` objects already reach it.
fn reached(limit: Option<i64>, count: usize) -> Option<i64> {
    limit.filter(|&l| l >= 0 && count as u64 >= l as u64)
}

/// Limits that change as a whole: a change that fails leaves them as
/// they were.
#[derive(Default)]
pub struct Setting<T: Copy>(RwLock<T>);

impl<T: Copy> Setting<T> {
    pub fn get(&self) -> T {
        *self.0.read()
    }

    /// Changes the limits under their lock (the caller stores them there
    /// too, so the stored and the live limits cannot differ).
    pub(crate) fn update<E>(&self, change: impl FnOnce(&mut T) -> Result<(), E>) -> Result<(), E> {
        let mut limits = self.0.write();
        let mut changed = *limits;
        change(&mut changed)?;
        *limits = changed;
        Ok(())
    }
}

/// A vhost's limits and what counts against them.
#[derive(Default)]
pub struct Limits {
    set: Setting<VhostLimits>,
    connections: Counted,
}

impl Limits {
    pub fn get(&self) -> VhostLimits {
        self.set.get()
    }

    pub(crate) fn update<E>(&self, change: impl FnOnce(&mut VhostLimits) -> Result<(), E>) -> Result<(), E> {
        self.set.update(change)
    }

    /// Counts a connection in, or refuses it with RabbitMQ's 530 when the
    /// vhost already holds its limit.
    pub fn admit_connection(&self, vhost: &str, user: &str) -> Result<ConnectionSlot, AmqpError> {
        let limit = self.set.get().max_connections;
        self.connections.admit(limit).map_err(|l| {
            AmqpError::new(
                error::NOT_ALLOWED,
                format_args!(
                    "access to vhost '{vhost}' refused for user '{user}': connection limit ({l}) is reached"
                ),
            )
        })
    }

    /// Refuses a new queue when the vhost already holds `count` queues and
    /// that reaches its limit. The caller holds the queue map's write lock.
    pub fn check_new_queue(&self, vhost: &str, queue: &str, count: usize) -> Result<(), AmqpError> {
        match reached(self.set.get().max_queues, count) {
            None => Ok(()),
            Some(l) => Err(AmqpError::precondition(format_args!(
                "cannot declare queue '{queue}': queue limit in vhost '{vhost}' ({l}) is reached"
            ))),
        }
    }
}

/// A user's limits and what counts against them, over all their
/// connections.
#[derive(Default)]
pub struct UserState {
    set: Setting<UserLimits>,
    connections: Counted,
    channels: Counted,
}

impl UserState {
    pub fn get(&self) -> UserLimits {
        self.set.get()
    }

    pub(crate) fn update<E>(&self, change: impl FnOnce(&mut UserLimits) -> Result<(), E>) -> Result<(), E> {
        self.set.update(change)
    }

    pub fn admit_connection(&self, user: &str) -> Result<Slot, AmqpError> {
        let limit = self.set.get().max_connections;
        self.connections.admit(limit).map_err(|l| {
            AmqpError::new(
                error::NOT_ALLOWED,
                format_args!("connection refused for user '{user}': user connection limit ({l}) is reached"),
            )
        })
    }

    pub fn admit_channel(&self, user: &str) -> Result<Slot, AmqpError> {
        let limit = self.set.get().max_channels;
        self.channels.admit(limit).map_err(|l| {
            AmqpError::new(
                error::NOT_ALLOWED,
                format_args!(
                    "number of channels opened for user '{user}' has reached the maximum allowed user limit of ({l})"
                ),
            )
        })
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
