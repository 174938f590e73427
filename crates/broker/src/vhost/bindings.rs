//! Binding and unbinding queues and exchanges, the bindings listing, the
//! stored copies of durable bindings, and the deletion of an auto-delete
//! exchange that lost its last binding.

use std::sync::Arc;

use amq_protocol::types::FieldTable;

use super::VHost;
use crate::error::AmqpError;
use crate::exchange::{Binding, Dest, Exchange};
use crate::persist::Persistence;

impl VHost {
    fn check_bindable(&self, exchange: &str) -> Result<Arc<Exchange>, AmqpError> {
        if exchange.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        self.find_exchange(exchange)
    }

    /// Binds a queue, checking in RabbitMQ's order: the default exchange is
    /// refused (403), then the source must exist, then the queue (404), then
    /// the queue must not be another connection's exclusive queue (405).
    pub fn bind_queue(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
        arguments: FieldTable,
        connection: u64,
    ) -> Result<(), AmqpError> {
        self.check_live()?;
        let x = self.check_bindable(exchange)?;
        let q = self.find_queue(queue, connection)?;
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
        let new = x
            .bind(b.dest.clone(), routing_key, b.arguments.clone())
            .map_err(AmqpError::precondition)?;
        if !new {
            return Ok(());
        }
        if let Err(e) = self.remember_binding(x, &b) {
            // Not stored, so not made: it would be gone after a restart.
            x.unbind(&b.dest, routing_key, &b.arguments);
            return Err(e);
        }
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

    /// Removes a queue's binding. As in RabbitMQ, unbinding is idempotent:
    /// a missing exchange, queue or binding answers ok (cleanup code unbinds
    /// after a queue is gone: aio-pika's RPC does on close). Only the
    /// default exchange (403) and an existing binding of another
    /// connection's exclusive queue (405) are refused.
    pub fn unbind_queue(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
        arguments: &FieldTable,
        connection: u64,
    ) -> Result<(), AmqpError> {
        if exchange.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        let (Some(x), Some(q)) = (self.exchange(exchange), self.queue(queue)) else {
            return Ok(());
        };
        let dest = Dest::Queue(q.clone());
        if !x.has_binding(&dest, routing_key, arguments) {
            return Ok(());
        }
        if !q.accessible_by(connection) {
            return Err(AmqpError::resource_locked(queue, &self.name));
        }
        self.unbind(&x, dest, routing_key, arguments);
        Ok(())
    }

    /// Binds exchange to exchange: the default exchange is refused at
    /// either end before anything else, then the source must exist, then
    /// the destination (RabbitMQ's order).
    pub fn bind_exchange(
        &self,
        destination: &str,
        source: &str,
        routing_key: &str,
        arguments: FieldTable,
    ) -> Result<(), AmqpError> {
        self.check_live()?;
        Self::check_not_default(source, destination)?;
        let s = self.find_exchange(source)?;
        let d = self.find_exchange(destination)?;
        self.bind(&s, Dest::Exchange(d), routing_key, arguments)
    }

    /// Removes an exchange-to-exchange binding; ok when either exchange or
    /// the binding is missing, as in RabbitMQ.
    pub fn unbind_exchange(
        &self,
        destination: &str,
        source: &str,
        routing_key: &str,
        arguments: &FieldTable,
    ) -> Result<(), AmqpError> {
        Self::check_not_default(source, destination)?;
        if let (Some(s), Some(d)) = (self.exchange(source), self.exchange(destination)) {
            self.unbind(&s, Dest::Exchange(d), routing_key, arguments);
        }
        Ok(())
    }

    fn check_not_default(source: &str, destination: &str) -> Result<(), AmqpError> {
        if source.is_empty() || destination.is_empty() {
            return Err(AmqpError::default_exchange());
        }
        Ok(())
    }

    /// Every binding in the vhost, by source exchange.
    pub fn bindings(&self) -> Vec<(Arc<str>, Binding)> {
        self.exchanges()
            .into_iter()
            .flat_map(|x| x.bindings().into_iter().map(move |b| (x.name.clone(), b)))
            .collect()
    }

    fn remember_binding(&self, source: &Exchange, b: &Binding) -> Result<(), AmqpError> {
        if let Some(store) = &self.store {
            if let Some(def) = Persistence::binding_def(&self.name, source, b) {
                let what = format!("{} -> {}", source.name, b.dest.name());
                store
                    .defs
                    .put_binding(&def)
                    .map_err(|e| AmqpError::unstored("binding", &what, &self.name, &e))?;
            }
        }
        Ok(())
    }

    pub(super) fn forget_binding(&self, source: &Exchange, b: &Binding) {
        if let Some(store) = &self.store {
            if let Some(def) = Persistence::binding_def(&self.name, source, b) {
                store.defs.delete_binding(&def);
            }
        }
    }

    /// Deletes an auto-delete exchange that just lost its last binding.
    pub(super) fn auto_delete_exchange(&self, x: &Arc<Exchange>) {
        if x.options.auto_delete && !x.has_bindings() {
            self.remove_exchange(x);
        }
    }
}
